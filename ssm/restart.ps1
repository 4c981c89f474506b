# Document RestartNode: restarts the node through SSM Agent and reports once it is back.
# Payload: RestartPayload { runId, reason }.
#
# SSM Agent's documented reboot pattern: when a script exits 3010, the agent restarts the node
# and, once it is back, runs the same script again with the same payload. This script therefore
# runs twice, and a marker in the registry tells the two runs apart:
#
#   first run   No marker for this runId. Write one under HKLM\SOFTWARE\WindowsRollout\Restart
#               (value <runId>) holding the current boot, then exit 3010: the agent restarts
#               the node.
#   second run  The marker holds an earlier boot than the current one: the restart happened.
#               Delete the marker, print { restarted: true, lastBootTime, ... } and exit 0.
#
# "Which boot" is a random id kept in a VOLATILE registry key, which Windows discards at every
# restart, so telling boots apart needs no clock. The boot time is kept too, for the report.
# If the marker names the current boot (the agent ran the script again without restarting), it
# asks again with exit 3010. A marker more than a day old is stale (left by a run that never
# finished) and is replaced.

$payload = Read-RolloutPayload
$runId = Get-PayloadString $payload 'runId' 'payload'
if ($runId -notmatch '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$') {
    throw ('payload.runId (' + (Format-PayloadValue $runId) + '): expected 1 to 200 of A-Z a-z 0-9 . _ : - starting with a letter or digit')
}
$reason = Get-PayloadString $payload 'reason' 'payload' -AllowEmpty

$markerKey = 'SOFTWARE\WindowsRollout\Restart'
$bootKey = 'SOFTWARE\WindowsRollout\BootSession'

# The id of the current boot, created on first use after each restart. The parent is made
# first, and stable: a volatile parent could hold no stable marker key.
function Get-BootSessionId {
    [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey('SOFTWARE\WindowsRollout').Dispose()
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($bootKey, [Microsoft.Win32.RegistryKeyPermissionCheck]::ReadWriteSubTree, [Microsoft.Win32.RegistryOptions]::Volatile)
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

function Read-RestartMarker {
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($markerKey)
    if ($null -eq $key) { return $null }
    try {
        $text = $key.GetValue($runId)
    }
    finally {
        $key.Dispose()
    }
    if ($null -eq $text) { return $null }
    try {
        $parsed = ConvertFrom-Json -InputObject ([string]$text)
        foreach ($field in @('bootSession', 'lastBootTime', 'requestedAt')) {
            if ($null -eq $parsed.PSObject.Properties[$field]) { throw ('no ' + $field) }
        }
        $requestedAt = $parsed.requestedAt
        if ($requestedAt -isnot [datetime]) {
            $requestedAt = [datetime]::Parse([string]$requestedAt, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind)
        }
    }
    catch {
        Write-RolloutLog ('unreadable restart marker for ' + $runId + ', replaced: ' + $_.Exception.Message)
        return $null
    }
    if (((Get-Date).ToUniversalTime() - $requestedAt.ToUniversalTime()).TotalHours -gt 24) {
        Write-RolloutLog ('restart marker for ' + $runId + ' is from ' + [string]$parsed.requestedAt + ': stale, replaced')
        return $null
    }
    return $parsed
}

function Write-RestartMarker {
    param([string] $BootSession, [datetime] $BootTime)
    $marker = ConvertTo-RolloutJson ([ordered]@{
            bootSession = $BootSession
            lastBootTime = $BootTime.ToString('o')
            requestedAt = (Get-Date).ToUniversalTime().ToString('o')
            reason = $reason
        })
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($markerKey)
    try {
        $key.SetValue($runId, $marker, [Microsoft.Win32.RegistryValueKind]::String)
    }
    finally {
        $key.Dispose()
    }
}

function Remove-RestartMarker {
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($markerKey, $true)
    if ($null -eq $key) { return }
    try {
        $key.DeleteValue($runId, $false)
    }
    finally {
        $key.Dispose()
    }
}

$bootSession = Get-BootSessionId
$bootTime = Get-LastBootTime
$marker = Read-RestartMarker

if ($null -ne $marker -and [string]$marker.bootSession -ne $bootSession) {
    # Second run: the node restarted since the marker was written.
    Remove-RestartMarker
    Write-RolloutResult ([ordered]@{
            restarted = $true
            runId = $runId
            lastBootTime = $bootTime.ToString('o')
            previousBootTime = [string]$marker.lastBootTime
            requestedAt = [string]$marker.requestedAt
            reason = $reason
        })
    exit 0
}

# First run (or the agent ran it again before restarting): record this boot and ask for a restart.
Write-RestartMarker $bootSession $bootTime
Write-RolloutLog ('restarting ' + $env:COMPUTERNAME + ' for run ' + $runId + ': ' + $reason)
exit 3010
