# Document InstallHotfixes: what CAU's Microsoft.HotfixPlugin does on a node, with the hotfix root
# in S3. Payload: InstallHotfixesPayload { bucket, timeoutMinutes, updates[] }.
#
# For each update, in the plan's order:
#   1. download s3://<bucket>/<key> to localPath (environment variables expanded), into a folder
#      only SYSTEM and Administrators may write;
#   2. open the file so nobody can change it, and check its SHA-256 against the plan; on a
#      mismatch nothing runs (checksumOk false);
#   3. run the installer: path and parameters from the plan, environment variables expanded,
#      the parameters passed as ONE command-line string for the installer to parse, exactly as
#      the rule wrote them (no shell, no Invoke-Expression); wait up to timeoutMinutes
#      (HotfixInstallerTimeoutMinutes), then stop the installer and its children (timedOut true);
#   4. print one InstallResultLine, and go on with the next update whatever happened.
# The exit codes are judged by the interpret-results Lambda against the rule's ExitConditions,
# so this script exits 0 once every update is reported. Two exceptions: an installer that
# started a restart itself (1641) ends the loop, since the node is going down; and the command's
# deadline (executionTimeoutSeconds) ends it with exit 1, leaving the rest unreported.

$payload = Read-RolloutPayload
$bucket = Get-PayloadString $payload 'bucket' 'payload'
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 1440
$updates = Get-PayloadArray $payload 'updates' 'payload'
$deadline = Get-RolloutDeadline $payload

function Import-S3Cmdlet {
    if ($null -ne (Get-Command -Name 'Read-S3Object' -ErrorAction SilentlyContinue)) { return }
    foreach ($module in @('AWS.Tools.S3', 'AWSPowerShell')) {
        if ($null -ne (Get-Module -ListAvailable -Name $module)) {
            Import-Module -Name $module -Verbose:$false
            return
        }
    }
    throw ('Read-S3Object was not found: install AWS Tools for PowerShell (module AWS.Tools.S3 ' +
        'or AWSPowerShell), which AWS Windows AMIs include')
}

function Receive-S3File {
    param([string] $Bucket, [string] $Key, [string] $Destination)
    Import-S3Cmdlet
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
            Start-Sleep -Seconds (5 * $attempt)
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

# Opened for reading with FileShare.Read: nobody can write, rename or delete the file while the
# handle is open, so what was hashed is what runs.
function Open-LockedFile {
    param([string] $Path)
    return [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)
}

function Get-StreamSha256 {
    param([System.IO.Stream] $Stream)
    $null = $Stream.Seek(0, [System.IO.SeekOrigin]::Begin)
    return (Get-FileHash -InputStream $Stream -Algorithm SHA256).Hash
}

function Stop-ProcessTree {
    param([int] $ProcessId)
    $children = @(Get-CimInstance -ClassName Win32_Process -Filter ('ParentProcessId = ' + $ProcessId))
    Stop-Process -Id $ProcessId -Force -ErrorAction SilentlyContinue
    foreach ($child in $children) { Stop-ProcessTree -ProcessId ([int]$child.ProcessId) }
}

function Get-LogTail {
    param([string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return '' }
    try {
        $text = @(Get-Content -LiteralPath $Path -Tail 40) -join "`n"
    }
    catch {
        return ''
    }
    if ($text.Length -gt 4000) { $text = $text.Substring($text.Length - 4000) }
    return $text
}

function Limit-Text {
    param([string] $Text)
    if ($Text.Length -gt 1000) { return $Text.Substring(0, 1000) }
    return $Text
}

function Install-Update {
    param($Item, [int] $Position)
    $at = 'payload.updates[' + $Position + ']'
    $line = [ordered]@{
        index = $Position
        file = ''
        exitCode = $null
        checksumOk = $false
        timedOut = $false
        durationSeconds = 0
        logTail = ''
    }
    $stopwatch = [System.Diagnostics.Stopwatch]::StartNew()
    $stream = $null
    try {
        $line['index'] = [int](Get-PayloadInteger $Item 'index' $at 0 1000000)
        $line['file'] = Get-PayloadString $Item 'file' $at
        $key = Get-PayloadString $Item 'key' $at
        $sha256 = Get-PayloadString $Item 'sha256' $at
        if ($sha256 -notmatch '^[0-9A-Fa-f]{64}$') {
            throw ($at + '.sha256 (' + (Format-PayloadValue $sha256) + '): expected 64 hexadecimal digits')
        }
        $localPath = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'localPath' $at))
        if (-not [System.IO.Path]::IsPathRooted($localPath)) {
            throw ($at + '.localPath (' + (Format-PayloadValue $localPath) + '): expected a full path')
        }
        $installer = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'path' $at))
        $arguments = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'parameters' $at -AllowEmpty))

        Initialize-UpdateFolder ([System.IO.Path]::GetDirectoryName($localPath))
        $actual = $null
        if (Test-Path -LiteralPath $localPath -PathType Leaf) {
            # Left by an earlier try (a retry, or before a restart): keep it if it still matches.
            $stream = Open-LockedFile $localPath
            $actual = Get-StreamSha256 $stream
            if (-not [string]::Equals($actual, $sha256, [StringComparison]::OrdinalIgnoreCase)) {
                $stream.Dispose()
                $stream = $null
            }
        }
        if ($null -eq $stream) {
            Write-RolloutLog ('downloading ' + $line['file'] + ' to ' + $localPath)
            Receive-S3File $bucket $key $localPath
            $stream = Open-LockedFile $localPath
            $actual = Get-StreamSha256 $stream
        }
        if (-not [string]::Equals($actual, $sha256, [StringComparison]::OrdinalIgnoreCase)) {
            $line['error'] = 'SHA-256 of the downloaded file is ' + $actual + ', the plan says ' + $sha256 + ': not run'
            Write-RolloutLog ($line['file'] + ': ' + $line['error'])
        }
        else {
            $line['checksumOk'] = $true
            $logPath = $localPath + '.log'
            Remove-Item -LiteralPath $logPath -Force -ErrorAction SilentlyContinue

            # Process.Start rather than Start-Process: Start-Process resolves wildcards in the
            # path and, with -PassThru, may leave ExitCode empty in Windows PowerShell.
            $startInfo = New-Object System.Diagnostics.ProcessStartInfo
            $startInfo.FileName = $installer
            $startInfo.Arguments = $arguments
            $startInfo.UseShellExecute = $false
            $startInfo.CreateNoWindow = $true
            $startInfo.WorkingDirectory = [System.IO.Path]::GetDirectoryName($localPath)
            Write-RolloutLog ('installing ' + $line['file'] + ': ' + $installer + ' ' + $arguments)
            $process = [System.Diagnostics.Process]::Start($startInfo)

            $limit = [TimeSpan]::FromMinutes($timeoutMinutes)
            $untilDeadline = $deadline - (Get-Date)
            $stoppedAtDeadline = $untilDeadline -lt $limit
            if ($stoppedAtDeadline) { $limit = $untilDeadline }
            $milliseconds = [int][Math]::Max(0, [Math]::Min($limit.TotalMilliseconds, [int]::MaxValue))
            if ($process.WaitForExit($milliseconds)) {
                $line['exitCode'] = [int]$process.ExitCode
            }
            else {
                Stop-ProcessTree -ProcessId $process.Id
                $line['timedOut'] = $true
                if ($stoppedAtDeadline) {
                    $line['error'] = 'stopped at the command deadline (executionTimeoutSeconds)'
                }
                else {
                    $line['error'] = 'the installer ran longer than ' + $timeoutMinutes + ' minutes (HotfixInstallerTimeoutMinutes) and was stopped'
                }
            }
            $process.Dispose()
            $line['logTail'] = Get-LogTail $logPath
        }
    }
    catch {
        $line['error'] = Limit-Text (ConvertTo-SingleLine $_.Exception.Message)
        Write-RolloutLog ('update ' + $Position + ' failed: ' + $line['error'])
    }
    finally {
        if ($null -ne $stream) { $stream.Dispose() }
        $line['durationSeconds'] = [Math]::Round($stopwatch.Elapsed.TotalSeconds, 1)
    }
    return $line
}

if ($updates.Count -eq 0) {
    Write-RolloutLog 'no updates in the payload: nothing to install'
    exit 0
}
for ($position = 0; $position -lt $updates.Count; $position++) {
    if ((Get-Date) -ge $deadline) {
        Exit-RolloutFailure ('the command deadline (executionTimeoutSeconds) passed before update ' +
            $position + ' of ' + $updates.Count + '; the rest were not started')
    }
    $line = Install-Update $updates[$position] $position
    Write-RolloutResult $line
    if ($line['exitCode'] -eq 1641) {
        Write-RolloutLog ('the installer started a restart (1641): the remaining ' +
            ($updates.Count - $position - 1) + ' updates were not started')
        break
    }
}
exit 0
