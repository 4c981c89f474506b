# Shared prelude of the WindowsRollout Command documents. lib/windows-documents.ts inlines it
# ahead of each document's own script at synth time: the node never loads a second file.
#
# Input: the document's one parameter, Payload, which SSM Agent (3.3.2746.0 or later) hands over
# as environment variable SSM_Payload because the parameter says interpolationType ENV_VAR. It is
# base64 of UTF-8 JSON. No value from a request is ever part of the script text.
#
# Output: each result is ONE line, 'ROLLOUT-RESULT ' and compact JSON (lambdas/core/contracts.ts).
# The last line is 'ROLLOUT-END {"results":N}', N the result lines written (Write-RolloutEnd):
# Exit-RolloutSuccess, Exit-RolloutFailure and the trap write it, so the control plane can tell
# whole output from a cut or partly uploaded one. Exit 3010 (RestartNode's first run) does not.
# Every other line starts with '[rollout] ' and has its control characters replaced, so no log
# text (a file name, an error message) can pose as a result line.
#
# Exit codes: 0 done, 1 failed. Never 3010 except in RestartNode: SSM Agent restarts the node
# when a script exits 3010.
#
# Limits and patterns shared with the TypeScript side (lambdas/core/node-contract.json) arrive as
# $script:RolloutContractJson, a line lib/windows-documents.ts writes ahead of this prelude.
#
# Every Windows-only thing the documents touch (cluster cmdlets, installer processes, the
# Windows Update Agent, registry markers, S3, inventory queries, the clock) goes through the
# functions under "the Windows seam" below, so Pester can mock them on any OS.
#
# Windows PowerShell 5.1 compatible.

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ProgressPreference = 'SilentlyContinue'

$script:RolloutContract = ConvertFrom-Json -InputObject $script:RolloutContractJson
$script:RolloutResultPrefix = [string]$script:RolloutContract.resultLinePrefix
$script:RolloutEndPrefix = [string]$script:RolloutContract.endLinePrefix
$script:RolloutResultCount = 0
$script:RolloutLogPrefix = '[rollout]'
# Log lines stop once this many characters were written, so the result lines of a long run
# still fit GetCommandInvocation's inline output (the full output also goes to CloudWatch).
$script:RolloutLogBudget = [int]$script:RolloutContract.logBudgetCharacters
$script:RolloutLogWritten = 0

if ($PSVersionTable.PSVersion.Major -lt 6) {
    # Windows PowerShell 5.1's type data for System.Array makes ConvertTo-Json write some arrays
    # as {"value":[...],"Count":n}. Without it, arrays stay arrays.
    Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue
}

# A terminating error anywhere ends the script with exit code 1 and one clear message. A trap
# covers its whole scope wherever it stands; it calls no function, so it works even before the
# functions below are defined.
trap {
    $message = (([string]$_.Exception.Message) -replace '[\x00-\x1F\x7F]+', ' ') -replace '[^\x00-\x7F]', '?'
    $line = $_.InvocationInfo.ScriptLineNumber
    [Console]::Out.WriteLine('[rollout] ERROR: ' + $message)
    if ($null -ne (Get-Variable -Name 'RolloutResultCount' -Scope Script -ErrorAction SilentlyContinue)) {
        [Console]::Out.WriteLine($script:RolloutEndPrefix + ' {"results":' + $script:RolloutResultCount + '}')
    }
    [Console]::Error.WriteLine('ROLLOUT-ERROR ' + $message + ' (script line ' + $line + ')')
    exit 1
}

# One line of printable ASCII: control characters become a space, anything outside ASCII
# becomes \uXXXX (the agent's code page need not be UTF-8, and a right-to-left override must not
# reorder a log line).
function ConvertTo-SingleLine {
    param([AllowNull()] [AllowEmptyString()] [string] $Text)
    if ($null -eq $Text) { return '' }
    $evaluator = [System.Text.RegularExpressions.MatchEvaluator] {
        param($match)
        '\u' + ([int][char]$match.Value).ToString('x4')
    }
    return [regex]::Replace(($Text -replace '[\x00-\x1F\x7F]+', ' '), '[^\x00-\x7F]', $evaluator)
}

function Write-RolloutLog {
    param([AllowNull()] [AllowEmptyString()] [string] $Message)
    $text = $script:RolloutLogPrefix + ' ' + (ConvertTo-SingleLine $Message)
    if ($text.Length -gt 500) { $text = $text.Substring(0, 497) + '...' }
    if ($script:RolloutLogWritten -ge $script:RolloutLogBudget) { return }
    $script:RolloutLogWritten += $text.Length + 1
    if ($script:RolloutLogWritten -ge $script:RolloutLogBudget) {
        $text = $script:RolloutLogPrefix + ' log budget spent: later log lines are left out, result lines are not'
    }
    [Console]::Out.WriteLine($text)
}

function ConvertTo-RolloutJson {
    param([AllowNull()] $InputObject)
    $json = ConvertTo-Json -InputObject $InputObject -Compress -Depth 6
    # The agent's output encoding need not be UTF-8: keep result lines ASCII. Outside strings
    # JSON is ASCII already, so escaping every other character keeps the JSON valid.
    $evaluator = [System.Text.RegularExpressions.MatchEvaluator] {
        param($match)
        '\u' + ([int][char]$match.Value).ToString('x4')
    }
    return [regex]::Replace($json, '[^\x00-\x7F]', $evaluator)
}

function Write-RolloutResult {
    param([Parameter(Mandatory = $true)] $Result)
    [Console]::Out.WriteLine($script:RolloutResultPrefix + ' ' + (ConvertTo-RolloutJson $Result))
    $script:RolloutResultCount++
    [Console]::Out.Flush()
}

# The end marker: the last line of the output, with the count of result lines written.
function Write-RolloutEnd {
    [Console]::Out.WriteLine($script:RolloutEndPrefix + ' {"results":' + $script:RolloutResultCount + '}')
    [Console]::Out.Flush()
}

function Exit-RolloutSuccess {
    Write-RolloutEnd
    exit 0
}

function Exit-RolloutFailure {
    param([Parameter(Mandatory = $true)] [string] $Message)
    Write-RolloutLog ('ERROR: ' + $Message)
    Write-RolloutEnd
    [Console]::Error.WriteLine('ROLLOUT-ERROR ' + (ConvertTo-SingleLine $Message))
    exit 1
}

# --- the payload ---------------------------------------------------------------------------

function Read-RolloutPayload {
    $encoded = $env:SSM_Payload
    if ([string]::IsNullOrEmpty($encoded)) {
        throw ('environment variable SSM_Payload is missing or empty: the document parameter ' +
            'Payload reaches the script only through interpolationType ENV_VAR, which needs ' +
            'SSM Agent 3.3.2746.0 or later; update the agent on this node')
    }
    $maximum = [int]$script:RolloutContract.maxPayloadBase64Characters
    if ($encoded.Length -gt $maximum) {
        throw ('Payload (' + $encoded.Length + ' characters of base64): over the ' + $maximum +
            ' an environment variable can hold on Windows; send fewer updates per command')
    }
    try {
        $bytes = [Convert]::FromBase64String($encoded)
    }
    catch {
        throw ('Payload (' + $encoded.Length + ' characters): expected base64 of UTF-8 JSON')
    }
    # A payload too long for the variable comes gzipped (lambdas/core/payload-encoding.ts): gzip
    # starts 1F 8B, which no JSON text does.
    if ($bytes.Length -ge 2 -and $bytes[0] -eq 0x1F -and $bytes[1] -eq 0x8B) {
        $bytes = Expand-RolloutGzip $bytes
    }
    try {
        $strictUtf8 = New-Object System.Text.UTF8Encoding -ArgumentList $false, $true
        $text = $strictUtf8.GetString($bytes)
    }
    catch {
        throw 'Payload: the decoded bytes are not UTF-8; expected base64 of UTF-8 JSON'
    }
    try {
        # PowerShell 7.5+ turns ISO 8601 strings into local DateTime values unless told not to;
        # Windows PowerShell 5.1 keeps them as strings. Keep strings everywhere.
        if ((Get-Command -Name 'ConvertFrom-Json').Parameters.ContainsKey('DateKind')) {
            $payload = ConvertFrom-Json -InputObject $text -DateKind String
        }
        else {
            $payload = ConvertFrom-Json -InputObject $text
        }
    }
    catch {
        throw ('Payload: expected one JSON object; ' + $_.Exception.Message)
    }
    if ($payload -isnot [System.Management.Automation.PSCustomObject]) {
        throw ('Payload: expected one JSON object, got ' + (Format-PayloadValue $payload))
    }
    return $payload
}

# The bytes gzip holds, at most maxPayloadJsonBytes of them.
function Expand-RolloutGzip {
    param([byte[]] $Bytes)
    $maximum = [int]$script:RolloutContract.maxPayloadJsonBytes
    $output = New-Object System.IO.MemoryStream
    try {
        $gzip = New-Object System.IO.Compression.GZipStream -ArgumentList (New-Object System.IO.MemoryStream -ArgumentList (, $Bytes)), ([System.IO.Compression.CompressionMode]::Decompress)
        try {
            $buffer = New-Object byte[] 65536
            while (($read = $gzip.Read($buffer, 0, $buffer.Length)) -gt 0) {
                if ($output.Length + $read -gt $maximum) {
                    throw ('Payload: the gzipped JSON unpacks to more than ' + $maximum + ' bytes')
                }
                $output.Write($buffer, 0, $read)
            }
        }
        finally {
            $gzip.Dispose()
        }
        if ($output.Length -eq 0) { throw 'it unpacks to nothing' }
    }
    catch {
        if ($_.Exception.Message -like 'Payload:*') { throw }
        throw ('Payload: expected gzip of UTF-8 JSON; ' + $_.Exception.Message)
    }
    return , $output.ToArray()
}

function Format-PayloadValue {
    param([AllowNull()] $Value)
    if ($null -eq $Value) { return 'null' }
    $text = ConvertTo-Json -InputObject $Value -Compress -Depth 2
    if ($text.Length -gt 120) { $text = $text.Substring(0, 117) + '...' }
    return (ConvertTo-SingleLine $text)
}

function Get-PayloadProperty {
    param([AllowNull()] $Object, [string] $Name, [string] $Path, [switch] $Optional)
    if ($Object -isnot [System.Management.Automation.PSCustomObject]) {
        throw ('{0}: expected a JSON object, got {1}' -f $Path, (Format-PayloadValue $Object))
    }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property) {
        if ($Optional) { return $null }
        throw ('{0}.{1}: missing' -f $Path, $Name)
    }
    # The comma keeps an array whole through the pipeline.
    return , $property.Value
}

function Get-PayloadString {
    param([AllowNull()] $Object, [string] $Name, [string] $Path, [switch] $AllowEmpty)
    $value = Get-PayloadProperty $Object $Name $Path
    if ($value -isnot [string] -or (-not $AllowEmpty -and $value.Length -eq 0)) {
        throw ('{0}.{1} ({2}): expected a non-empty string' -f $Path, $Name, (Format-PayloadValue $value))
    }
    return $value
}

function Get-PayloadInteger {
    param([AllowNull()] $Object, [string] $Name, [string] $Path, [long] $Minimum, [long] $Maximum, [switch] $Optional)
    $value = Get-PayloadProperty $Object $Name $Path -Optional:$Optional
    if ($Optional -and $null -eq $value) { return $null }
    $whole = ($value -is [int]) -or ($value -is [long])
    if (-not $whole -or $value -lt $Minimum -or $value -gt $Maximum) {
        throw ('{0}.{1} ({2}): expected a whole number from {3} to {4}' -f $Path, $Name, (Format-PayloadValue $value), $Minimum, $Maximum)
    }
    return [long]$value
}

function Get-PayloadBoolean {
    param([AllowNull()] $Object, [string] $Name, [string] $Path)
    $value = Get-PayloadProperty $Object $Name $Path
    if ($value -isnot [bool]) {
        throw ('{0}.{1} ({2}): expected true or false' -f $Path, $Name, (Format-PayloadValue $value))
    }
    return $value
}

function Get-PayloadArray {
    param([AllowNull()] $Object, [string] $Name, [string] $Path)
    $value = Get-PayloadProperty $Object $Name $Path
    if ($value -is [string] -or $value -isnot [System.Collections.IList]) {
        throw ('{0}.{1} ({2}): expected a JSON array' -f $Path, $Name, (Format-PayloadValue $value))
    }
    return , @($value)
}

# The send-command Lambda adds deadline to every payload: the UTC instant the workflow stops
# waiting for this command (task start + the command's timeout). Scripts stop starting new work
# deadlineMarginSeconds before it, so their results still reach the workflow. UTC only: a local
# clock moves with DST.
function Get-RolloutDeadline {
    param([Parameter(Mandatory = $true)] $Payload)
    $text = Get-PayloadString $Payload 'deadline' 'payload'
    $instant = [DateTime]::MinValue
    $styles = [Globalization.DateTimeStyles]::AdjustToUniversal -bor [Globalization.DateTimeStyles]::AssumeUniversal
    $parsed = $text -cmatch '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z\z' -and
        [DateTime]::TryParse($text, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$instant)
    if (-not $parsed) {
        throw ('payload.deadline (' + (Format-PayloadValue $text) + '): expected an ISO 8601 UTC instant such as 2026-01-31T23:59:00.000Z')
    }
    return $instant.AddSeconds(-[int]$script:RolloutContract.deadlineMarginSeconds)
}

# The earlier of the command's deadline and now + Minutes (a payload's own time limit).
function Get-EarlierDeadline {
    param([datetime] $Deadline, [long] $Minutes)
    $own = (Get-RolloutUtcNow).AddMinutes($Minutes)
    if ($own -lt $Deadline) { return $own }
    return $Deadline
}

# Seconds since Since (a Get-RolloutUtcNow instant), to a tenth: durations come from the clock
# seam, so the sandbox's virtual time and Pester's fake clock are what they measure.
function Get-RolloutElapsedSeconds {
    param([datetime] $Since)
    return [Math]::Round(((Get-RolloutUtcNow) - $Since).TotalSeconds, 1)
}

function Test-DeadlinePassed {
    param([datetime] $Deadline)
    return ((Get-RolloutUtcNow) -ge $Deadline)
}

# A full Windows path: a drive letter and a backslash (C:\...) or a UNC share (\\server\...).
# Checked as text, so the check is the same on every OS.
function Test-WindowsFullPath {
    param([string] $Path)
    return ($Path -match '^[A-Za-z]:\\' -or $Path -match '^\\\\[^\\]')
}

# --- the Windows seam ----------------------------------------------------------------------
# The only functions that touch Windows itself. Tests mock these (test/pwsh/); the rest of each
# script is plain PowerShell that runs anywhere.

function Get-WindowsDirectory {
    return [Environment]::GetFolderPath('Windows')
}

function Get-RolloutUtcNow {
    return [DateTime]::UtcNow
}

function Wait-RolloutSeconds {
    param([double] $Seconds)
    Start-Sleep -Milliseconds ([int][Math]::Max(0, $Seconds * 1000))
}

function Test-FileExists {
    param([string] $Path)
    return [bool](Test-Path -LiteralPath $Path -PathType Leaf)
}

# Opened for reading with FileShare.Read: nobody can write, rename or delete the file while the
# handle is open, so what was hashed is what runs.
function Open-LockedFile {
    param([string] $Path)
    return [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)
}

function Get-RegistryValue {
    param([string] $Path, [string] $Name)
    try {
        $item = Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction Stop
    }
    catch {
        return $null
    }
    return $item.$Name
}

function Test-RegistryKey {
    param([string] $Path)
    return [bool](Test-Path -LiteralPath $Path)
}

# A rollout marker: one string value under HKLM\SOFTWARE\WindowsRollout\<Key>.
function Get-RolloutMarker {
    param([string] $Key, [string] $Name)
    $handle = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SOFTWARE\WindowsRollout\' + $Key)
    if ($null -eq $handle) { return $null }
    try { return $handle.GetValue($Name) } finally { $handle.Dispose() }
}

function Set-RolloutMarker {
    param([string] $Key, [string] $Name, [string] $Value)
    $handle = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey('SOFTWARE\WindowsRollout\' + $Key)
    try { $handle.SetValue($Name, $Value, [Microsoft.Win32.RegistryValueKind]::String) } finally { $handle.Dispose() }
}

function Remove-RolloutMarker {
    param([string] $Key, [string] $Name)
    $handle = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SOFTWARE\WindowsRollout\' + $Key, $true)
    if ($null -eq $handle) { return }
    try { $handle.DeleteValue($Name, $false) } finally { $handle.Dispose() }
}

# Removes every marker under HKLM\SOFTWARE\WindowsRollout\<Key>.
function Clear-RolloutMarkers {
    param([string] $Key)
    [Microsoft.Win32.Registry]::LocalMachine.DeleteSubKeyTree('SOFTWARE\WindowsRollout\' + $Key, $false)
}

# The id of the current boot: a random id in a VOLATILE registry key, which Windows discards at
# every restart, created on first use after each restart. The parent is stable: a volatile
# parent could hold no stable marker key.
function Get-BootSessionId {
    [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey('SOFTWARE\WindowsRollout').Dispose()
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey('SOFTWARE\WindowsRollout\BootSession', [Microsoft.Win32.RegistryKeyPermissionCheck]::ReadWriteSubTree, [Microsoft.Win32.RegistryOptions]::Volatile)
    try {
        $id = $key.GetValue('Id')
        if ($null -eq $id) {
            $id = [guid]::NewGuid().ToString()
            $key.SetValue('Id', $id, [Microsoft.Win32.RegistryValueKind]::String)
        }
        return [string]$id
    }
    finally {
        $key.Dispose()
    }
}

function Get-OperatingSystem {
    return (Get-CimInstance -ClassName Win32_OperatingSystem)
}

function Get-LastBootTime {
    return (Get-OperatingSystem).LastBootUpTime.ToUniversalTime()
}

# 'Running', 'Stopped' (or another status), or $null when the service does not exist.
function Get-ServiceStatus {
    param([string] $Name)
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $service) { return $null }
    return [string]$service.Status
}

function Get-ServiceStartMode {
    param([string] $Name)
    return [string](Get-CimInstance -ClassName Win32_Service -Filter ("Name = '" + $Name + "'")).StartMode
}

function Import-FailoverClusterModule {
    if ($null -eq (Get-Module -ListAvailable -Name 'FailoverClusters')) {
        throw ('the Cluster service runs but the FailoverClusters PowerShell module is missing; ' +
            'install it with Install-WindowsFeature RSAT-Clustering-PowerShell')
    }
    Import-Module -Name 'FailoverClusters' -Verbose:$false
}

function Get-DeviceGuardStatus {
    return @(Get-CimInstance -Namespace 'root\Microsoft\Windows\DeviceGuard' -ClassName Win32_DeviceGuard)
}

function Test-SecureBoot {
    return [bool](Confirm-SecureBootUEFI)
}

function Get-InstalledHotFixIds {
    return @(Get-HotFix | ForEach-Object { [string]$_.HotFixID })
}

function Get-FileVersion {
    param([string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    return [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path).FileVersion
}

# The DISM package names installed on this node (Get-WindowsPackage -Online).
function Get-InstalledPackageNames {
    return @(Get-WindowsPackage -Online | ForEach-Object { [string]$_.PackageName })
}

# A Windows Update Agent session (COM: Microsoft.Update.Session).
function New-WindowsUpdateSession {
    return (New-Object -ComObject 'Microsoft.Update.Session')
}

function New-WindowsUpdateCollection {
    return (New-Object -ComObject 'Microsoft.Update.UpdateColl')
}

function Receive-S3File {
    param([string] $Bucket, [string] $Key, [string] $Destination)
    if ($null -eq (Get-Command -Name 'Read-S3Object' -ErrorAction SilentlyContinue)) {
        $module = @('AWS.Tools.S3', 'AWSPowerShell') | Where-Object { $null -ne (Get-Module -ListAvailable -Name $_) } | Select-Object -First 1
        if ($null -eq $module) {
            throw ('Read-S3Object was not found: install AWS Tools for PowerShell (module AWS.Tools.S3 ' +
                'or AWSPowerShell), which AWS Windows AMIs include')
        }
        Import-Module -Name $module -Verbose:$false
    }
    $parameters = @{ BucketName = $Bucket; Key = $Key; File = $Destination }
    # SSM Agent tells scripts its region; the hotfix root lives in the control plane's region.
    if (-not [string]::IsNullOrEmpty($env:AWS_SSM_REGION_NAME)) { $parameters['Region'] = $env:AWS_SSM_REGION_NAME }
    for ($attempt = 1; ; $attempt++) {
        try {
            $null = Read-S3Object @parameters
            return
        }
        catch {
            if ($attempt -ge 3) {
                throw ('download of s3://' + $Bucket + '/' + $Key + ' failed after ' + $attempt + ' tries: ' + $_.Exception.Message)
            }
            Write-RolloutLog ('download try ' + $attempt + ' failed, retrying: ' + $_.Exception.Message)
            Wait-RolloutSeconds (5 * $attempt)
        }
    }
}

# Only SYSTEM and Administrators may write where installers are verified and run: otherwise a
# user could plant a DLL beside an installer. SIDs, not names, which are localised.
function Initialize-UpdateFolder {
    param([string] $Path)
    $null = [System.IO.Directory]::CreateDirectory($Path)
    $system = New-Object System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-18'
    $administrators = New-Object System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    $acl.SetOwner($system)
    $inheritance = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($identity in @($system, $administrators)) {
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule -ArgumentList $identity, 'FullControl', $inheritance, 'None', 'Allow'
        $acl.AddAccessRule($rule)
    }
    [System.IO.Directory]::SetAccessControl($Path, $acl)
}

# The staging cache (StageUpdates, issue 13 item 5): one folder per SHA-256 under it, only SYSTEM
# and Administrators may write (Initialize-UpdateFolder).
function Get-StagingCacheRoot {
    return [System.IO.Path]::Combine([Environment]::GetFolderPath('CommonApplicationData'), 'RolloutControlPlane', 'Staging')
}

# A file of the staging cache: @{ sha256 (lower case); bytes }, or $null when it is not there.
function Get-StagedFile {
    param([string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    return @{
        sha256 = ([string](Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash).ToLowerInvariant()
        bytes = [long](Get-Item -LiteralPath $Path).Length
    }
}

function Remove-StagedFile {
    param([string] $Path)
    Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
}

# Copies a staged update into the folder it is installed from (InstallHotfixes).
function Copy-UpdateFile {
    param([string] $Source, [string] $Destination)
    Copy-Item -LiteralPath $Source -Destination $Destination -Force
}

function Stop-ProcessTree {
    param([int] $ProcessId)
    $children = @(Get-CimInstance -ClassName Win32_Process -Filter ('ParentProcessId = ' + $ProcessId))
    Stop-Process -Id $ProcessId -Force -ErrorAction SilentlyContinue
    foreach ($child in $children) { Stop-ProcessTree -ProcessId ([int]$child.ProcessId) }
}

# Runs an installer (wusa.exe, msiexec.exe, DISM, a hotfix .exe) with ONE command-line string,
# no shell, and waits up to TimeoutMilliseconds; past it, stops the process and its children.
# Returns @{ exited; exitCode; output } (exitCode $null when it was stopped; output the lines of
# standard output and error with -CaptureOutput, else empty).
function Invoke-Installer {
    param([string] $FilePath, [string] $Arguments, [string] $WorkingDirectory, [long] $TimeoutMilliseconds, [switch] $CaptureOutput)
    # Process.Start rather than Start-Process: Start-Process resolves wildcards in the path and,
    # with -PassThru, may leave ExitCode empty in Windows PowerShell.
    $startInfo = New-Object System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $FilePath
    $startInfo.Arguments = $Arguments
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    if (-not [string]::IsNullOrEmpty($WorkingDirectory)) { $startInfo.WorkingDirectory = $WorkingDirectory }
    $startInfo.RedirectStandardOutput = [bool]$CaptureOutput
    $startInfo.RedirectStandardError = [bool]$CaptureOutput
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        $stdout = $null
        $stderr = $null
        if ($CaptureOutput) {
            # Read both streams while waiting, or a chatty child blocks on a full pipe.
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
        }
        $milliseconds = [int][Math]::Max(0, [Math]::Min($TimeoutMilliseconds, [int]::MaxValue))
        $exited = $process.WaitForExit($milliseconds)
        $exitCode = $null
        if ($exited) { $exitCode = [int]$process.ExitCode } else { Stop-ProcessTree -ProcessId $process.Id }
        $output = @()
        if ($CaptureOutput -and $exited) {
            $output = @(($stdout.Result + "`n" + $stderr.Result) -split "`r?`n" | Where-Object { $_.Length -gt 0 })
        }
        return @{ exited = $exited; exitCode = $exitCode; output = $output }
    }
    finally {
        $process.Dispose()
    }
}

# True while Windows servicing still works after an installer client was stopped: the
# TrustedInstaller service runs, TiWorker.exe (the servicing worker) exists, or the Windows
# Installer service (msiserver) runs with an msiexec.exe process.
function Test-ServicingBusy {
    if ((Get-ServiceStatus 'TrustedInstaller') -eq 'Running') { return $true }
    if ($null -ne (Get-Process -Name 'TiWorker' -ErrorAction SilentlyContinue)) { return $true }
    $msiexec = Get-Process -Name 'msiexec' -ErrorAction SilentlyContinue
    return ((Get-ServiceStatus 'msiserver') -eq 'Running') -and ($null -ne $msiexec)
}

# --- facts about the node ------------------------------------------------------------------

# After a stopped installer: waits until servicing is quiet, at most until Deadline. True when
# it is still busy.
function Wait-ServicingQuiet {
    param([datetime] $Deadline)
    while (Test-ServicingBusy) {
        if (Test-DeadlinePassed $Deadline) { return $true }
        Wait-RolloutSeconds 10
    }
    return $false
}

# The failover cluster node object of this computer, or $null on a standalone server.
# Storage Spaces Direct repair and regeneration jobs not Completed (Get-StorageJob, the Storage
# module), as { name, state, percentComplete }. After a node is back its storage resyncs; CAU's
# WaitForStorageRepairTimeoutMinutes waits for these before the next node.
function Get-StorageRepairJobs {
    return @(Get-StorageJob -ErrorAction Stop |
            Where-Object { ([string]$_.Name -match 'Repair|Regenerat') -and [string]$_.JobState -ne 'Completed' } |
            ForEach-Object {
                [pscustomobject]@{ name = [string]$_.Name; state = [string]$_.JobState; percentComplete = [int]$_.PercentComplete }
            })
}

# A cluster member's Cluster service (ClusSvc) starts automatically; a server with the feature
# installed but in no cluster has it stopped and set to Manual or Disabled. After a restart the
# service may still be starting: wait up to WaitSeconds for it.
function Get-LocalClusterNode {
    param([int] $WaitSeconds = 0)
    $status = Get-ServiceStatus 'ClusSvc'
    if ($null -eq $status) { return $null }
    if ($status -ne 'Running') {
        if ((Get-ServiceStartMode 'ClusSvc') -ne 'Auto') { return $null }
        $until = (Get-RolloutUtcNow).AddSeconds($WaitSeconds)
        while ($status -ne 'Running' -and (Get-RolloutUtcNow) -lt $until) {
            Wait-RolloutSeconds 5
            $status = Get-ServiceStatus 'ClusSvc'
        }
        if ($status -ne 'Running') {
            throw ('the Cluster service (ClusSvc) starts automatically on this node, so it is a ' +
                'cluster member, but the service is ' + $status + ' after ' + $WaitSeconds +
                ' s; start it or evict the node')
        }
    }
    Import-FailoverClusterModule
    return (Get-ClusterNode -Name $env:COMPUTERNAME)
}

# --- end of the shared prelude -------------------------------------------------------------
