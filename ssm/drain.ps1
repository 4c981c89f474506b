# Document DrainNode: moves the clustered roles off this node and pauses it, as CAU does before
# it updates a node. Payload: DrainPayload { timeoutMinutes }.
# Result line: { clustered, drained, node, cluster, nodeState, drainStatus, durationSeconds,
# remainingGroups, movedGroups, detail }. movedGroups: the roles the node owned when the drain
# started, which the resume's failback check expects back (issue 13 item 6). Exit 0 when the node is paused and drained, or is a standalone
# server (nothing to drain); exit 1 otherwise.

$payload = Read-RolloutPayload
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 1440
$deadline = Get-EarlierDeadline (Get-RolloutDeadline $payload) $timeoutMinutes

$name = [string]$env:COMPUTERNAME
$node = Get-LocalClusterNode -WaitSeconds 120
if ($null -eq $node) {
    Write-RolloutResult ([ordered]@{
            clustered = $false
            drained = $false
            node = $name
            movedGroups = @()
            detail = 'standalone server: not a failover cluster node, nothing to drain'
        })
    Exit-RolloutSuccess
}
$clusterName = [string](Get-Cluster).Name
$started = Get-RolloutUtcNow

function Write-DrainResult {
    param($Node, [bool] $Drained, [string] $Detail, [string[]] $RemainingGroups = @())
    $moved = [string[]]@($script:ownedBeforeDrain)
    Write-RolloutResult ([ordered]@{
            clustered = $true
            drained = $Drained
            node = $name
            cluster = $clusterName
            nodeState = [string]$Node.State
            drainStatus = [string]$Node.DrainStatus
            durationSeconds = Get-RolloutElapsedSeconds $started
            remainingGroups = $RemainingGroups
            movedGroups = $moved
            detail = $Detail
        })
}

# The roles on the node before the drain: the ones a failback brings back. The cluster's own
# groups (the core Cluster Group, Available Storage, a storage pool) are not roles.
function Test-ClusterRole {
    param($Group)
    $type = $Group.PSObject.Properties['GroupType']
    return ($null -eq $type) -or (@('Cluster', 'AvailableStorage', 'ClusterStoragePool') -notcontains [string]$type.Value)
}
$script:ownedBeforeDrain = @()
$state = [string]$node.State
if ($state -eq 'Up') {
    $script:ownedBeforeDrain = @(
        Get-ClusterGroup |
            Where-Object { [string]$_.OwnerNode.Name -eq $name -and (Test-ClusterRole $_) } |
            ForEach-Object { [string]$_.Name }
    )
}
if ($state -eq 'Paused' -and [string]$node.DrainStatus -eq 'Completed') {
    Write-DrainResult $node $true 'already paused and drained'
    Exit-RolloutSuccess
}
if ($state -ne 'Up' -and $state -ne 'Paused') {
    Write-DrainResult $node $false ('the node is ' + $state + '; only an Up node can be drained')
    Exit-RolloutFailure ('cannot drain ' + $name + ': the node is ' + $state + '; only an Up node can be drained')
}

Write-RolloutLog ('draining ' + $name + ' of cluster ' + $clusterName + ' for up to ' + $timeoutMinutes + ' minutes')
# Suspend-ClusterNode -Wait has no time limit of its own: start the drain without it and poll
# DrainStatus, so the payload's timeout holds.
$null = Suspend-ClusterNode -Name $name -Drain -Confirm:$false
do {
    Wait-RolloutSeconds 5
    $node = Get-ClusterNode -Name $name
    $drainStatus = [string]$node.DrainStatus
    $waiting = ($drainStatus -eq 'InProgress') -or ($drainStatus -eq 'NotInitiated')
} while ($waiting -and -not (Test-DeadlinePassed $deadline))

$state = [string]$node.State
if ($state -eq 'Paused' -and $drainStatus -eq 'Completed') {
    Write-DrainResult $node $true ('drained in ' + [Math]::Round((Get-RolloutElapsedSeconds $started)) + ' s')
    Exit-RolloutSuccess
}

$remaining = @()
try {
    $remaining = @(
        Get-ClusterGroup |
            Where-Object { [string]$_.OwnerNode.Name -eq $name } |
            ForEach-Object { [string]$_.Name }
    )
}
catch {
    Write-RolloutLog ('cannot list the roles left on the node: ' + $_.Exception.Message)
}
if ($waiting) {
    $detail = 'the drain did not finish within ' + $timeoutMinutes + ' minutes (or before the command deadline)'
}
else {
    $detail = 'the drain ended ' + $drainStatus + ' with the node ' + $state
}
Write-DrainResult $node $false $detail $remaining
$message = $detail + '; roles still on the node: ' + ($remaining -join ', ') +
    '. The node may be left paused: resume it (ResumeNode) before retrying'
Exit-RolloutFailure $message
