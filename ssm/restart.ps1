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
# The run id pattern of the rollout input (node-contract.json). .NET's $ also matches before a
# final newline: \z does not.
$runIdPattern = ([string]$script:RolloutContract.runIdPattern) -replace '\$$', '\z'
if ($runId -cnotmatch $runIdPattern) {
    throw ('payload.runId (' + (Format-PayloadValue $runId) + '): expected a run id matching ' + [string]$script:RolloutContract.runIdPattern)
}
$reason = Get-PayloadString $payload 'reason' 'payload' -AllowEmpty
$null = Get-RolloutDeadline $payload

$markerKey = 'Restart'

function Read-RestartMarker {
    $text = Get-RolloutMarker $markerKey $runId
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
    if (((Get-RolloutUtcNow) - $requestedAt.ToUniversalTime()).TotalHours -gt 24) {
        Write-RolloutLog ('restart marker for ' + $runId + ' is from ' + [string]$parsed.requestedAt + ': stale, replaced')
        return $null
    }
    return $parsed
}

$bootSession = Get-BootSessionId
$bootTime = Get-LastBootTime
$marker = Read-RestartMarker

if ($null -ne $marker -and [string]$marker.bootSession -ne $bootSession) {
    # Second run: the node restarted since the marker was written.
    Remove-RolloutMarker $markerKey $runId
    Write-RolloutResult ([ordered]@{
            restarted = $true
            runId = $runId
            lastBootTime = $bootTime.ToString('o')
            previousBootTime = [string]$marker.lastBootTime
            requestedAt = [string]$marker.requestedAt
            reason = $reason
        })
    Exit-RolloutSuccess
}

# First run (or the agent ran it again before restarting): record this boot and ask for a restart.
Set-RolloutMarker $markerKey $runId (ConvertTo-RolloutJson ([ordered]@{
            bootSession = $bootSession
            lastBootTime = $bootTime.ToString('o')
            requestedAt = (Get-RolloutUtcNow).ToString('o')
            reason = $reason
        }))
Write-RolloutLog ('restarting ' + $env:COMPUTERNAME + ' for run ' + $runId + ': ' + $reason)
exit 3010
