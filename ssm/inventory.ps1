# Document Inventory: the facts the planner and the hotpatch rules need about this node.
# Payload: InventoryPayload { binaries, rescan? }. Prints one InventoryResult line. Changes nothing.
# As Verify after the final restart, `rescan` (RescanPayload) asks what is still applicable
# (issue 13 item 6, ConfigMgr's post-reboot scan): the run's Windows Update search, made as
# InstallWindowsUpdates makes it, and the planned hotfix KBs against the installed updates.

$payload = Read-RolloutPayload
$binaries = Get-PayloadArray $payload 'binaries' 'payload'
$rescanRequest = Get-PayloadProperty $payload 'rescan' 'payload' -Optional
if ($null -ne $rescanRequest -and $rescanRequest -isnot [System.Management.Automation.PSCustomObject]) {
    throw ('payload.rescan ({0}): expected a JSON object or null' -f (Format-PayloadValue $rescanRequest))
}
$null = Get-RolloutDeadline $payload

# --- operating system ------------------------------------------------------------------------
$os = Get-OperatingSystem
$currentVersionKey = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$editionId = Get-RegistryValue $currentVersionKey 'EditionID'
# Build and revision (UBR) as the hotpatch rules compare them, e.g. 26100.1742.
$revision = Get-RegistryValue $currentVersionKey 'UBR'
$build = [string]$os.BuildNumber
if ($null -ne $revision) { $build = $build + '.' + [string]$revision }

# The OS architecture, not this process's: PROCESSOR_ARCHITEW6432 is set in a 32-bit process.
$processorArchitecture = $env:PROCESSOR_ARCHITEW6432
if ([string]::IsNullOrEmpty($processorArchitecture)) { $processorArchitecture = $env:PROCESSOR_ARCHITECTURE }
$architecture = switch ($processorArchitecture) {
    'AMD64' { 'x64' }
    'x86' { 'x86' }
    'IA64' { 'ia64' }
    'ARM64' { 'arm64' }
    default { ([string]$processorArchitecture).ToLowerInvariant() }
}

# --- file versions of the binaries the updates replace -------------------------------------------
$binaryFacts = @(
    foreach ($entry in $binaries) {
        if ($entry -isnot [string] -or $entry.Length -eq 0) {
            throw ('payload.binaries (' + (Format-PayloadValue $entry) + '): expected file paths')
        }
        $expanded = [Environment]::ExpandEnvironmentVariables($entry)
        $fileVersion = $null
        try {
            $fileVersion = Get-FileVersion $expanded
        }
        catch {
            Write-RolloutLog ('cannot read the version of ' + $expanded + ': ' + $_.Exception.Message)
        }
        [ordered]@{ path = $entry; fileVersion = $fileVersion }
    }
)

# --- pending restart --------------------------------------------------------------------------
$pendingReboot = $false
if (Test-RegistryKey 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
    $pendingReboot = $true
}
if (Test-RegistryKey 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
    $pendingReboot = $true
}
$renames = Get-RegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' 'PendingFileRenameOperations'
if (@($renames | Where-Object { -not [string]::IsNullOrEmpty($_) }).Count -gt 0) {
    $pendingReboot = $true
}

# --- failover cluster membership --------------------------------------------------------------
# Clustered roles per owner node (Get-ClusterGroup lists every group of the cluster), for the
# computed node order: CAU updates the node hosting the fewest roles first. The cluster's core
# group and its storage groups are not roles. $null when the groups cannot be read: the run
# then keeps the given order and says why.
function Get-ClusterRoleCounts {
    try {
        $counts = @{}
        foreach ($group in @(Get-ClusterGroup)) {
            if ([string]$group.GroupType -in @('Cluster', 'AvailableStorage', 'ClusterStoragePool')) { continue }
            $owner = [string]$group.OwnerNode.Name
            if ([string]::IsNullOrEmpty($owner)) { continue }
            $counts[$owner] = 1 + [int]$counts[$owner]
        }
        $sorted = [ordered]@{}
        foreach ($owner in @($counts.Keys | Sort-Object)) { $sorted[$owner] = $counts[$owner] }
        return $sorted
    }
    catch {
        Write-RolloutLog ('cluster roles: ' + $_.Exception.Message)
        return $null
    }
}

$cluster = $null
try {
    $clusterNode = Get-LocalClusterNode -WaitSeconds 0
    if ($null -ne $clusterNode) {
        # Every member's state: a member not Up (paused by an operator, down) stops the run
        # before anything on the cluster is drained or installed (CAU refuses to run then too).
        $members = @(Get-ClusterNode | ForEach-Object { [ordered]@{ name = [string]$_.Name; state = [string]$_.State } })
        $notUp = @($members | Where-Object { $_.state -ne 'Up' } | ForEach-Object { $_.name + ' is ' + $_.state })
        $cluster = [ordered]@{
            name = [string](Get-Cluster).Name
            nodeState = [string]$clusterNode.State
            nodes = $members
            notUp = ($notUp -join ', ')
        }
        $roleCounts = Get-ClusterRoleCounts
        if ($null -ne $roleCounts) { $cluster['roleCounts'] = $roleCounts }
    }
}
catch {
    # Membership is likely (the cluster service starts automatically) but not readable. Report
    # it rather than a standalone server, which would skip the drain; the drain then fails with
    # the same message. The cluster's name cannot be read without the service.
    Write-RolloutLog ('cluster membership: ' + $_.Exception.Message)
    $cluster = [ordered]@{ name = ''; nodeState = 'Unknown' }
}

# --- hotpatch enrolment -------------------------------------------------------------------------
$vbsEnabled = $false
try {
    $deviceGuard = @(Get-DeviceGuardStatus)
    # VirtualizationBasedSecurityStatus: 0 off, 1 enabled but not running, 2 running.
    $vbsEnabled = ($deviceGuard.Count -gt 0) -and ([int]$deviceGuard[0].VirtualizationBasedSecurityStatus -eq 2)
}
catch {
    Write-RolloutLog ('Win32_DeviceGuard is not readable; VBS counts as off: ' + $_.Exception.Message)
}

$secureBoot = $false
try {
    $secureBoot = Test-SecureBoot
}
catch {
    # BIOS firmware, or no access to the UEFI variable: Secure Boot counts as off.
    Write-RolloutLog ('Confirm-SecureBootUEFI: ' + $_.Exception.Message)
}

# The Azure Connected Machine agent's service (himds) running is taken as "connected to Arc";
# azcmagent show would say more, but is not on every node.
$azureArcConnected = (Get-ServiceStatus 'himds') -eq 'Running'

# HEURISTIC: Windows offers no documented "hotpatch enrolled" flag. A node that takes hotpatches
# has HotPatchTableSize set (non-zero) under Memory Management, so that is what is reported; the
# installer's exit code still decides whether an update needed a restart.
$hotPatchTableSize = Get-RegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management' 'HotPatchTableSize'
$hotpatchEnrolled = ($null -ne $hotPatchTableSize) -and ([long]$hotPatchTableSize -gt 0)

# --- installed updates --------------------------------------------------------------------------
$installedUpdates = @()
try {
    $installedUpdates = @(
        Get-InstalledHotFixIds |
            Where-Object { -not [string]::IsNullOrEmpty($_) } |
            Sort-Object -Unique
    )
}
catch {
    Write-RolloutLog ('Get-HotFix failed; installed updates not listed: ' + $_.Exception.Message)
}

# --- rescan after the final restart (Verify) -----------------------------------------------------
# Reports each update still applicable, with restartPending when it waits for another restart.
# It never fails the command: a failed search is reported (searchError) beside the hotfixes.
function Get-StillApplicable {
    param($Request, [string[]] $Installed, [bool] $PendingRestart)
    $found = New-Object System.Collections.Generic.List[object]
    $hotfixes = Get-PayloadArray $Request 'hotfixes' 'payload.rescan'
    foreach ($hotfix in $hotfixes) {
        $kb = Get-PayloadString $hotfix 'kb' 'payload.rescan.hotfixes[]'
        $file = Get-PayloadString $hotfix 'file' 'payload.rescan.hotfixes[]'
        if ($Installed -contains $kb) { continue }
        $found.Add([ordered]@{ kb = $kb; title = $file; source = 'Hotfix'; restartPending = $PendingRestart })
    }
    $searchError = $null
    $windowsUpdate = Get-PayloadProperty $Request 'windowsUpdate' 'payload.rescan'
    if ($null -ne $windowsUpdate) {
        $queryString = Get-PayloadString $windowsUpdate 'queryString' 'payload.rescan.windowsUpdate'
        $includeRecommended = Get-PayloadBoolean $windowsUpdate 'includeRecommendedUpdates' 'payload.rescan.windowsUpdate'
        $selection = Get-PayloadProperty $windowsUpdate 'selection' 'payload.rescan.windowsUpdate'
        try {
            $session = New-WindowsUpdateSession
            $session.ClientApplicationID = 'WindowsRollout'
            $search = $session.CreateUpdateSearcher().Search($queryString)
            if ($search.ResultCode -ge 4) { throw ('result code ' + $search.ResultCode + ' for the query ' + $queryString) }
            $now = Get-RolloutUtcNow
            for ($i = 0; $i -lt $search.Updates.Count; $i++) {
                $update = $search.Updates.Item($i)
                if ($update.IsInstalled -and -not $update.RebootRequired) { continue }
                # What InstallWindowsUpdates would take: important, recommended when asked, never
                # optional; an update the selection excludes is not "still applicable".
                if (-not $update.AutoSelectOnWebSites -and (-not $includeRecommended -or $update.BrowseOnly)) { continue }
                $facts = Get-UpdateFacts $update
                if ($null -ne (Get-UpdateExclusion $facts $selection $now)) { continue }
                $found.Add([ordered]@{
                        kb = $facts.kb
                        title = [string]$update.Title
                        source = 'WindowsUpdate'
                        restartPending = [bool]$update.RebootRequired
                    })
            }
        }
        catch {
            $searchError = 'Windows Update search failed: ' + $_.Exception.Message
            Write-RolloutLog ('rescan: ' + $searchError)
        }
    }
    Write-RolloutLog ('rescan after the restart: ' + $found.Count + ' still applicable')
    return [ordered]@{ stillApplicable = $found.ToArray(); searchError = $searchError }
}

$rescan = $null
if ($null -ne $rescanRequest) { $rescan = Get-StillApplicable $rescanRequest $installedUpdates $pendingReboot }

Write-RolloutResult ([ordered]@{
        computerName = [string]$env:COMPUTERNAME
        os = [ordered]@{
            caption = ([string]$os.Caption).Trim()
            version = [string]$os.Version
            build = $build
            servicePack = [int]$os.ServicePackMajorVersion
            architecture = $architecture
            editionId = [string]$editionId
        }
        binaries = $binaryFacts
        pendingReboot = $pendingReboot
        lastBootTime = $os.LastBootUpTime.ToUniversalTime().ToString('o')
        cluster = $cluster
        hotpatch = [ordered]@{
            enrolled = $hotpatchEnrolled
            vbsEnabled = $vbsEnabled
            secureBoot = $secureBoot
            azureArcConnected = $azureArcConnected
        }
        installedUpdates = $installedUpdates
        rescan = $rescan
    })
Exit-RolloutSuccess
