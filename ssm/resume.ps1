# Document ResumeNode: brings a paused (drained) cluster node back, with the run's FailbackMode,
# as CAU does after it updates a node. Payload: ResumePayload { failbackMode }.
# Idempotent: a node already Up is success. Standalone server: nothing to resume.
# Result line: { clustered, resumed, alreadyUp, node, cluster, nodeState, failback, detail }.

$payload = Read-RolloutPayload
$failbackMode = Get-PayloadString $payload 'failbackMode' 'payload'
$deadline = Get-RolloutDeadline $payload
# FailbackMode (lambdas/core/run-policy.ts) to Resume-ClusterNode -Failback, whose accepted
# values have the same names. Only these three literals ever reach the cmdlet.
$failback = switch -CaseSensitive ($failbackMode) {
    'NoFailback' { 'NoFailback' }
    'Immediate' { 'Immediate' }
    'Policy' { 'Policy' }
    default {
        throw ('payload.failbackMode (' + (Format-PayloadValue $failbackMode) + '): expected NoFailback, Immediate or Policy')
    }
}

$name = [string]$env:COMPUTERNAME
# Right after a restart the cluster service may still be starting.
$node = Get-LocalClusterNode -WaitSeconds 300
if ($null -eq $node) {
    Write-RolloutResult ([ordered]@{
            clustered = $false
            resumed = $false
            alreadyUp = $false
            node = $name
            failback = $failback
            detail = 'standalone server: not a failover cluster node, nothing to resume'
        })
    Exit-RolloutSuccess
}
$clusterName = [string](Get-Cluster).Name

function Write-ResumeResult {
    param($Node, [bool] $Resumed, [bool] $AlreadyUp, [string] $Detail)
    Write-RolloutResult ([ordered]@{
            clustered = $true
            resumed = $Resumed
            alreadyUp = $AlreadyUp
            node = $name
            cluster = $clusterName
            nodeState = [string]$Node.State
            failback = $failback
            detail = $Detail
        })
}

# After a restart the node is Down, then Joining, for a while before it is Paused again.
$joinDeadline = Get-EarlierDeadline $deadline 10
while (([string]$node.State -eq 'Down' -or [string]$node.State -eq 'Joining') -and -not (Test-DeadlinePassed $joinDeadline)) {
    Wait-RolloutSeconds 5
    $node = Get-ClusterNode -Name $name
}

$state = [string]$node.State
if ($state -eq 'Up') {
    Write-ResumeResult $node $false $true 'already Up: nothing to resume'
    Exit-RolloutSuccess
}
if ($state -ne 'Paused') {
    Write-ResumeResult $node $false $false ('the node is ' + $state + ' after waiting 10 minutes to join')
    Exit-RolloutFailure ('cannot resume ' + $name + ': the node is ' + $state + '; expected Paused or Up')
}

Write-RolloutLog ('resuming ' + $name + ' of cluster ' + $clusterName + ' with failback ' + $failback)
$null = Resume-ClusterNode -Name $name -Failback $failback
$node = Get-ClusterNode -Name $name
if ([string]$node.State -ne 'Up') {
    Write-ResumeResult $node $false $false ('Resume-ClusterNode returned but the node is ' + [string]$node.State)
    Exit-RolloutFailure ('resumed ' + $name + ' but the node is ' + [string]$node.State + ', not Up')
}
Write-ResumeResult $node $true $false 'resumed'
Exit-RolloutSuccess
