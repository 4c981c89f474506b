# Document ScanUpdates: CAU's Invoke-CauScan for Microsoft.WindowsUpdatePlugin. Payload:
# ScanUpdatesPayload { queryString, includeRecommendedUpdates, selection }.
#
# Searches the Windows Update Agent (WUA) with queryString and keeps what InstallWindowsUpdates
# would consider: important updates, and recommended ones too when includeRecommendedUpdates is
# true (optional, BrowseOnly updates never). Downloads nothing and installs nothing: no
# downloader or installer is ever created. Prints one ScanUpdatesResultLine per update (kind
# update: KB, title, classification, MSRC severity, restart expected, installed, and the
# updateSelection rule that excludes it, or the licence / user-input reason it would be skipped),
# then one line of kind node: pending restart (the registry markers Inventory reads) and counts.
# Exit 0 once the search answered; a failed search (result code 4 or 5), or a deadline passed
# before it started, fails the command.

$payload = Read-RolloutPayload
$queryString = Get-PayloadString $payload 'queryString' 'payload'
$includeRecommended = Get-PayloadBoolean $payload 'includeRecommendedUpdates' 'payload'
$selection = Get-PayloadProperty $payload 'selection' 'payload'
if ($null -ne $selection -and $selection -isnot [System.Management.Automation.PSCustomObject]) {
    throw ('payload.selection ({0}): expected a JSON object or null' -f (Format-PayloadValue $selection))
}
$deadline = Get-RolloutDeadline $payload

# WUA OperationResultCode values.
$resultSucceeded = 2
$resultFailed = 4

# The classification of an update: the first of its category GUIDs node-contract.json names,
# else its first category GUID, else $null.
function Get-UpdateClassification {
    param($Facts)
    $known = $script:RolloutContract.updateSelection.classifications
    foreach ($id in $Facts.classificationIds) {
        $lower = ([string]$id).ToLowerInvariant()
        $name = $known.PSObject.Properties | Where-Object { $_.Value -eq $lower } | Select-Object -First 1
        if ($null -ne $name) { return $name.Name }
    }
    if ($Facts.classificationIds.Count -gt 0) { return ([string]$Facts.classificationIds[0]).ToLowerInvariant() }
    return $null
}

# A search is one WUA call that cannot be stopped midway: it starts only before the deadline.
if (Test-DeadlinePassed $deadline) {
    throw 'the deadline passed before the Windows Update search could start'
}

$session = New-WindowsUpdateSession
$session.ClientApplicationID = 'WindowsRollout'
$searcher = $session.CreateUpdateSearcher()
Write-RolloutLog ('scanning (searching only, nothing is installed): ' + $queryString)
$search = $searcher.Search($queryString)
if ($search.ResultCode -ge $resultFailed) {
    throw ('Windows Update search ended with result code ' + $search.ResultCode + ' for the query ' + $queryString)
}
if ($search.ResultCode -ne $resultSucceeded) {
    Write-RolloutLog ('Windows Update search ended with result code ' + $search.ResultCode + '; listing what it found')
}

$now = Get-RolloutUtcNow
$applicable = 0
for ($i = 0; $i -lt $search.Updates.Count; $i++) {
    $update = $search.Updates.Item($i)
    $title = [string]$update.Title
    if (-not $update.AutoSelectOnWebSites) {
        if (-not $includeRecommended) {
            Write-RolloutLog ('left out, recommended but not important (IncludeRecommendedUpdates is false): ' + $title)
            continue
        }
        if ($update.BrowseOnly) {
            Write-RolloutLog ('left out, optional: ' + $title)
            continue
        }
    }
    $facts = Get-UpdateFacts $update
    $exclusion = Get-UpdateExclusion $facts $selection $now
    $skipReason = $null
    if (-not $update.EulaAccepted) { $skipReason = 'eula' }
    elseif ($null -ne $update.InstallationBehavior -and $update.InstallationBehavior.CanRequestUserInput) { $skipReason = 'userInput' }
    if ($null -eq $exclusion -and $null -eq $skipReason) { $applicable++ }
    $severity = [string]$update.MsrcSeverity
    Write-RolloutResult ([ordered]@{
            kind = 'update'
            updateId = [string]$update.Identity.UpdateID
            kb = $facts.kb
            title = $title
            classification = Get-UpdateClassification $facts
            msrcSeverity = if ([string]::IsNullOrEmpty($severity)) { $null } else { $severity }
            restartExpected = ([int]$facts.rebootBehavior -ne 0)
            isInstalled = [bool]$update.IsInstalled
            excludedBy = if ($null -eq $exclusion) { $null } else { $exclusion['rule'] }
            excludedReason = if ($null -eq $exclusion) { $null } else { $exclusion['reason'] }
            skipReason = $skipReason
        })
}

# Pending restart: the markers Inventory reads.
$pendingRestart = $false
if (Test-RegistryKey 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $pendingRestart = $true }
if (Test-RegistryKey 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $pendingRestart = $true }
$renames = Get-RegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' 'PendingFileRenameOperations'
if (@($renames | Where-Object { -not [string]::IsNullOrEmpty($_) }).Count -gt 0) { $pendingRestart = $true }

Write-RolloutLog ([string]$applicable + ' of ' + $search.Updates.Count + ' updates would install; pending restart ' + $pendingRestart)
Write-RolloutResult ([ordered]@{
        kind = 'node'
        pendingRestart = $pendingRestart
        found = [int]$search.Updates.Count
        applicable = $applicable
    })
Exit-RolloutSuccess
