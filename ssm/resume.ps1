# Document ResumeNode: brings a paused (drained) cluster node back, with the run's FailbackMode,
# as CAU does after it updates a node. Payload: ResumePayload { failbackMode,
# storageRepairTimeoutMinutes }. Idempotent: a node already Up is success. Standalone server:
# nothing to resume. With storageRepairTimeoutMinutes (CAU's WaitForStorageRepairTimeoutMinutes),
# once the node is Up it waits for the Storage Spaces Direct repair jobs to finish; past the limit
# the result carries storageRepairTimedOut (the jobs still running) and the run stops there.
# After the node is Up, with failbackMode Immediate, it waits up to failbackTimeoutMinutes for
# the roles its drain moved off (failbackGroups, the drain's movedGroups) to be owned by it
# again (Get-ClusterGroup); past the limit the result carries rolesNotFailedBack and the node
# fails. Policy: the roles go back by each group's own failback policy, so they are reported,
# not waited for. A node that does not come back Up in the cluster (Down or Joining after the
# 10-minute join wait) fails with clusterNodeNotUp in its result.
# Result line: { clustered, resumed, alreadyUp, node, cluster, nodeState, failback, detail,
# failbackCheck?, rolesNotFailedBack?, clusterNodeNotUp?, storageRepair?, storageRepairTimedOut? }.

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
# 0: no storage repair wait (the policy has none, or this resume follows a failure).
$storageRepairMinutes = Get-PayloadInteger $payload 'storageRepairTimeoutMinutes' 'payload' 0 1440
# Optional (issue 13 item 6): the roles to see back, and how long to wait for them; 0: no wait.
$failbackMinutes = Get-PayloadInteger $payload 'failbackTimeoutMinutes' 'payload' 0 1440 -Optional
if ($null -eq $failbackMinutes) { $failbackMinutes = 0 }
$failbackGroups = @()
if ($null -ne (Get-PayloadProperty $payload 'failbackGroups' 'payload' -Optional)) {
    $list = Get-PayloadArray $payload 'failbackGroups' 'payload'
    foreach ($group in $list) {
        if ($group -isnot [string] -or $group.Length -eq 0) {
            throw ('payload.failbackGroups (' + (Format-PayloadValue $group) + '): expected role names')
        }
    }
    $failbackGroups = [string[]]@($list)
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
    param($Node, [bool] $Resumed, [bool] $AlreadyUp, [string] $Detail, $Storage = $null, $FailbackCheck = $null)
    $result = [ordered]@{
        clustered = $true
        resumed = $Resumed
        alreadyUp = $AlreadyUp
        node = $name
        cluster = $clusterName
        nodeState = [string]$Node.State
        failback = $failback
        detail = $Detail
    }
    if ($null -ne $FailbackCheck) {
        $result.failbackCheck = $FailbackCheck
        # Present only when the roles did not come back in time: the node fails.
        if ($FailbackCheck.timedOut) { $result.rolesNotFailedBack = $FailbackCheck.notBack }
    }
    # Not Up in the cluster after the join wait (after its restart): the node fails.
    if ([string]$Node.State -ne 'Up' -and [string]$Node.State -ne 'Paused') {
        $result.clusterNodeNotUp = [string]$Node.State
    }
    if ($null -ne $Storage) {
        $result.storageRepair = $Storage
        # Present only past the limit: the workflow stops the run on it.
        if ($Storage.timedOut) { $result.storageRepairTimedOut = $Storage.pending }
    }
    Write-RolloutResult $result
}

# Polls the repair and regeneration jobs every 30 s until none is left or the limit (or the
# command's deadline) passes. Returns { minutes, waitedSeconds, timedOut, pending, detail }.
function Wait-StorageRepair {
    param([long] $Minutes)
    $started = Get-RolloutUtcNow
    $until = Get-EarlierDeadline $deadline $Minutes
    $jobs = @(Get-StorageRepairJobs)
    while ($jobs.Count -gt 0 -and -not (Test-DeadlinePassed $until)) {
        Write-RolloutLog ('waiting for storage repair: ' + (($jobs | ForEach-Object { $_.name + ' ' + $_.state + ' ' + $_.percentComplete + '%' }) -join ', '))
        Wait-RolloutSeconds 30
        $jobs = @(Get-StorageRepairJobs)
    }
    $waited = [int]((Get-RolloutUtcNow) - $started).TotalSeconds
    $pending = @($jobs | ForEach-Object { [string]$_.name + ' (' + [string]$_.state + ', ' + [string]$_.percentComplete + '%)' })
    $detail = if ($pending.Count -gt 0) {
        'storage repair jobs still running after ' + $Minutes + ' minutes (WaitForStorageRepairTimeoutMinutes): ' + ($pending -join ', ')
    }
    else { 'storage repair jobs finished after ' + $waited + ' s' }
    return [ordered]@{
        minutes = $Minutes
        waitedSeconds = $waited
        timedOut = ($pending.Count -gt 0)
        pending = $pending
        detail = $detail
    }
}

# The roles of failbackGroups not owned by this node now (a role no longer in the cluster is
# not waited for).
function Get-RolesNotBack {
    $owners = @{}
    foreach ($group in @(Get-ClusterGroup)) { $owners[[string]$group.Name] = [string]$group.OwnerNode.Name }
    return @($failbackGroups | Where-Object { $owners.ContainsKey($_) -and $owners[$_] -ne $name })
}

# Failback after the resume: Immediate waits (every 15 s, up to failbackTimeoutMinutes or the
# command's deadline) for the drained roles to be back on the node; Policy reads them once.
# Returns { mode, roles, back, notBack, waitedSeconds, timedOut, detail }, or $null (no check).
function Test-Failback {
    if ($failback -eq 'NoFailback' -or $failbackGroups.Count -eq 0) { return $null }
    $started = Get-RolloutUtcNow
    $notBack = @(Get-RolesNotBack)
    if ($failback -eq 'Immediate' -and $failbackMinutes -gt 0) {
        $until = Get-EarlierDeadline $deadline $failbackMinutes
        while ($notBack.Count -gt 0 -and -not (Test-DeadlinePassed $until)) {
            Write-RolloutLog ('waiting for failback: ' + ($notBack -join ', '))
            Wait-RolloutSeconds 15
            $notBack = @(Get-RolesNotBack)
        }
    }
    $waited = [int]((Get-RolloutUtcNow) - $started).TotalSeconds
    $timedOut = ($failback -eq 'Immediate' -and $failbackMinutes -gt 0 -and $notBack.Count -gt 0)
    $detail = if ($notBack.Count -eq 0) { 'all ' + $failbackGroups.Count + ' roles back on the node' }
    elseif ($timedOut) { 'roles not back on the node after ' + $failbackMinutes + ' minutes (failback ' + $failback + '): ' + ($notBack -join ', ') }
    else { 'roles not back yet (failback ' + $failback + ': by each role''s own policy): ' + ($notBack -join ', ') }
    return [ordered]@{
        mode = $failback
        roles = $failbackGroups.Count
        back = @($failbackGroups | Where-Object { $notBack -notcontains $_ })
        notBack = $notBack
        waitedSeconds = $waited
        timedOut = $timedOut
        detail = $detail
    }
}

# After a restart the node is Down, then Joining, for a while before it is Paused again.
$joinDeadline = Get-EarlierDeadline $deadline 10
while (([string]$node.State -eq 'Down' -or [string]$node.State -eq 'Joining') -and -not (Test-DeadlinePassed $joinDeadline)) {
    Wait-RolloutSeconds 5
    $node = Get-ClusterNode -Name $name
}

$state = [string]$node.State
if ($state -eq 'Up') {
    $failbackCheck = Test-Failback
    $storage = if ($storageRepairMinutes -gt 0) { Wait-StorageRepair $storageRepairMinutes } else { $null }
    Write-ResumeResult $node $false $true 'already Up: nothing to resume' $storage $failbackCheck
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
$failbackCheck = Test-Failback
$storage = if ($storageRepairMinutes -gt 0) { Wait-StorageRepair $storageRepairMinutes } else { $null }
Write-ResumeResult $node $true $false 'resumed' $storage $failbackCheck
Exit-RolloutSuccess
