# Shared prelude of the WindowsRollout Command documents. lib/windows-documents.ts inlines it
# ahead of each document's own script at synth time: the node never loads a second file.
#
# Input: the document's one parameter, Payload, which SSM Agent (3.3.2746.0 or later) hands over
# as environment variable SSM_Payload because the parameter says interpolationType ENV_VAR. It is
# base64 of UTF-8 JSON. No value from a request is ever part of the script text.
#
# Output: each result is ONE line, 'ROLLOUT-RESULT ' and compact JSON (lambdas/core/contracts.ts).
# Every other line starts with '[rollout] ' and has its control characters replaced, so no log
# text (a file name, an error message) can pose as a result line.
#
# Exit codes: 0 done, 1 failed. Never 3010 except in RestartNode: SSM Agent restarts the node
# when a script exits 3010.
#
# Windows PowerShell 5.1 compatible.

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ProgressPreference = 'SilentlyContinue'

$script:RolloutResultPrefix = 'ROLLOUT-RESULT'
$script:RolloutLogPrefix = '[rollout]'

if ($PSVersionTable.PSVersion.Major -lt 6) {
    # Windows PowerShell 5.1's type data for System.Array makes ConvertTo-Json write some arrays
    # as {"value":[...],"Count":n}. Without it, arrays stay arrays.
    Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue
}

# A terminating error anywhere ends the script with exit code 1 and one clear message. A trap
# covers its whole scope wherever it stands; it calls no function, so it works even before the
# functions below are defined.
trap {
    $message = ([string]$_.Exception.Message) -replace '[\x00-\x1F\x7F]+', ' '
    $line = $_.InvocationInfo.ScriptLineNumber
    [Console]::Out.WriteLine('[rollout] ERROR: ' + $message)
    [Console]::Error.WriteLine('ROLLOUT-ERROR ' + $message + ' (script line ' + $line + ')')
    exit 1
}

function ConvertTo-SingleLine {
    param([AllowNull()] [AllowEmptyString()] [string] $Text)
    if ($null -eq $Text) { return '' }
    return ($Text -replace '[\x00-\x1F\x7F]+', ' ')
}

function Write-RolloutLog {
    param([AllowNull()] [AllowEmptyString()] [string] $Message)
    [Console]::Out.WriteLine($script:RolloutLogPrefix + ' ' + (ConvertTo-SingleLine $Message))
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
    [Console]::Out.Flush()
}

function Exit-RolloutFailure {
    param([Parameter(Mandatory = $true)] [string] $Message)
    Write-RolloutLog ('ERROR: ' + $Message)
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
    try {
        $bytes = [Convert]::FromBase64String($encoded)
    }
    catch {
        throw ('Payload (' + $encoded.Length + ' characters): expected base64 of UTF-8 JSON')
    }
    try {
        $strictUtf8 = New-Object System.Text.UTF8Encoding -ArgumentList $false, $true
        $text = $strictUtf8.GetString($bytes)
    }
    catch {
        throw 'Payload: the decoded bytes are not UTF-8; expected base64 of UTF-8 JSON'
    }
    try {
        $payload = ConvertFrom-Json -InputObject $text
    }
    catch {
        throw ('Payload: expected one JSON object; ' + $_.Exception.Message)
    }
    if ($payload -isnot [System.Management.Automation.PSCustomObject]) {
        throw ('Payload: expected one JSON object, got ' + (Format-PayloadValue $payload))
    }
    return $payload
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

# The send-command Lambda adds executionTimeoutSeconds to every payload: the time the workflow
# waits for this command. Long scripts stop starting new work a minute before it passes, so
# their results still reach the workflow. Without it, there is no deadline but the step's own.
function Get-RolloutDeadline {
    param([Parameter(Mandatory = $true)] $Payload)
    $seconds = Get-PayloadInteger $Payload 'executionTimeoutSeconds' 'payload' 30 172800 -Optional
    if ($null -eq $seconds) { return [DateTime]::MaxValue }
    return (Get-Date).AddSeconds([Math]::Max(15, $seconds - 60))
}

# --- facts about the node ------------------------------------------------------------------

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

function Get-LastBootTime {
    return (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime()
}

# The failover cluster node object of this computer, or $null on a standalone server.
# A cluster member's Cluster service (ClusSvc) starts automatically; a server with the feature
# installed but in no cluster has it stopped and set to Manual or Disabled. After a restart the
# service may still be starting: wait up to WaitSeconds for it.
function Get-LocalClusterNode {
    param([int] $WaitSeconds = 0)
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    if ($null -eq $service) { return $null }
    if ($service.Status -ne 'Running') {
        $startMode = [string](Get-CimInstance -ClassName Win32_Service -Filter "Name = 'ClusSvc'").StartMode
        if ($startMode -ne 'Auto') { return $null }
        $until = (Get-Date).AddSeconds($WaitSeconds)
        while ($service.Status -ne 'Running' -and (Get-Date) -lt $until) {
            Start-Sleep -Seconds 5
            $service.Refresh()
        }
        if ($service.Status -ne 'Running') {
            throw ('the Cluster service (ClusSvc) starts automatically on this node, so it is a ' +
                'cluster member, but the service is ' + $service.Status + ' after ' + $WaitSeconds +
                ' s; start it or evict the node')
        }
    }
    if ($null -eq (Get-Module -ListAvailable -Name 'FailoverClusters')) {
        throw ('the Cluster service runs but the FailoverClusters PowerShell module is missing; ' +
            'install it with Install-WindowsFeature RSAT-Clustering-PowerShell')
    }
    Import-Module -Name 'FailoverClusters' -Verbose:$false
    return (Get-ClusterNode -Name $env:COMPUTERNAME)
}

# --- end of the shared prelude -------------------------------------------------------------
