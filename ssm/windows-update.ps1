# Document InstallWindowsUpdates: what CAU's Microsoft.WindowsUpdatePlugin does on a node, through
# the Windows Update Agent (WUA) COM API. Payload: WindowsUpdatePayload { queryString,
# includeRecommendedUpdates, timeoutMinutes, selection }.
#
# Search with queryString (the plug-in's QueryString, or its default query); keep the important
# updates, and the recommended ones too when includeRecommendedUpdates is true; leave out those
# that need a licence accepted or may ask for user input, as CAU does. Then download and install
# each update on its own, so one failure does not stop the others, and print one
# WindowsUpdateResultLine per update. An update the query and options select but that needs a
# licence accepted or user input is reported too, with skipped true, skipReason (eula or
# userInput) and resultCode 0 (WUA's NotStarted): the interpreter counts it against the run.
# Updates the options leave out (recommended, optional) are only logged.
# selection (the rollout's updateSelection, or null) filters what the search found by the rules
# of node-contract.json, in its order (Get-UpdateExclusion; lambdas/core/update-selection.ts
# holds the same rules, and test/fixtures/update-selection/cases.json runs through both). An
# update it leaves out is reported with excludedBy (the rule) and excludedReason, resultCode 0,
# and is neither downloaded nor installed.
# Exit 0 once every selected update is reported: the interpret-results Lambda judges WUA's result
# codes. An update not started before timeoutMinutes (or the command deadline) passes is
# reported with result code 5 (aborted), so it counts as failed and can be retried.

$payload = Read-RolloutPayload
$queryString = Get-PayloadString $payload 'queryString' 'payload'
$includeRecommended = Get-PayloadBoolean $payload 'includeRecommendedUpdates' 'payload'
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 2880
$selection = Get-PayloadProperty $payload 'selection' 'payload'
if ($null -ne $selection -and $selection -isnot [System.Management.Automation.PSCustomObject]) {
    throw ('payload.selection ({0}): expected a JSON object or null' -f (Format-PayloadValue $selection))
}
$deadline = Get-EarlierDeadline (Get-RolloutDeadline $payload) $timeoutMinutes

# WUA OperationResultCode values.
$resultNotStarted = 0
$resultSucceeded = 2
$resultFailed = 4
$resultAborted = 5

function Get-ErrorHResult {
    param([System.Exception] $Exception)
    $innermost = $Exception
    while ($null -ne $innermost.InnerException) { $innermost = $innermost.InnerException }
    return [int]$innermost.HResult
}

$session = New-WindowsUpdateSession
$session.ClientApplicationID = 'WindowsRollout'
$searcher = $session.CreateUpdateSearcher()
Write-RolloutLog ('searching for updates: ' + $queryString)
$search = $searcher.Search($queryString)
if ($search.ResultCode -ne $resultSucceeded) {
    if ($search.ResultCode -ge $resultFailed) {
        throw ('Windows Update search ended with result code ' + $search.ResultCode + ' for the query ' + $queryString)
    }
    Write-RolloutLog ('Windows Update search ended with result code ' + $search.ResultCode + '; installing what it found')
}

$selected = New-Object System.Collections.Generic.List[object]
for ($i = 0; $i -lt $search.Updates.Count; $i++) {
    $update = $search.Updates.Item($i)
    $title = [string]$update.Title
    # WUA marks important updates AutoSelectOnWebSites. Recommended updates are the others,
    # except optional (BrowseOnly) ones, which neither setting installs.
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
    $exclusion = Get-UpdateExclusion (Get-UpdateFacts $update) $selection (Get-RolloutUtcNow)
    if ($null -ne $exclusion) {
        Write-RolloutLog ('excluded by updateSelection.' + $exclusion['rule'] + ' (' + $exclusion['reason'] + '): ' + $title)
        Write-RolloutResult ([ordered]@{
                updateId = [string]$update.Identity.UpdateID
                title = $title
                kb = Get-UpdateKb $update
                resultCode = $resultNotStarted
                hResult = 0
                rebootRequired = $false
                excludedBy = $exclusion['rule']
                excludedReason = $exclusion['reason']
            })
        continue
    }
    $skipReason = $null
    if (-not $update.EulaAccepted) { $skipReason = 'eula' }
    elseif ($update.InstallationBehavior.CanRequestUserInput) { $skipReason = 'userInput' }
    if ($null -ne $skipReason) {
        Write-RolloutLog ('skipped (' + $skipReason + '), it needs a licence accepted or may ask for user input: ' + $title)
        Write-RolloutResult ([ordered]@{
                updateId = [string]$update.Identity.UpdateID
                title = $title
                kb = Get-UpdateKb $update
                resultCode = $resultNotStarted
                hResult = 0
                rebootRequired = $false
                skipped = $true
                skipReason = $skipReason
            })
        continue
    }
    $selected.Add($update)
}
Write-RolloutLog ([string]$selected.Count + ' of ' + $search.Updates.Count + ' updates selected')

foreach ($update in $selected) {
    $line = [ordered]@{
        updateId = [string]$update.Identity.UpdateID
        title = [string]$update.Title
        kb = Get-UpdateKb $update
        resultCode = $resultAborted
        hResult = 0
        rebootRequired = $false
    }
    if (Test-DeadlinePassed $deadline) {
        Write-RolloutLog ('not started, the time limit passed: ' + $line['title'])
        Write-RolloutResult $line
        continue
    }
    try {
        $collection = New-WindowsUpdateCollection
        $null = $collection.Add($update)
        $downloadOk = $true
        if (-not $update.IsDownloaded) {
            Write-RolloutLog ('downloading ' + $line['title'])
            $downloader = $session.CreateUpdateDownloader()
            $downloader.Updates = $collection
            $downloaded = $downloader.Download().GetUpdateResult(0)
            if ($downloaded.ResultCode -ne $resultSucceeded) {
                $downloadOk = $false
                $line['resultCode'] = [int]$downloaded.ResultCode
                $line['hResult'] = [int]$downloaded.HResult
                Write-RolloutLog ('download failed with result code ' + $downloaded.ResultCode + ': ' + $line['title'])
            }
        }
        if ($downloadOk) {
            Write-RolloutLog ('installing ' + $line['title'])
            $installer = $session.CreateUpdateInstaller()
            $installer.AllowSourcePrompts = $false
            $installer.Updates = $collection
            $installed = $installer.Install().GetUpdateResult(0)
            $line['resultCode'] = [int]$installed.ResultCode
            $line['hResult'] = [int]$installed.HResult
            $line['rebootRequired'] = [bool]$installed.RebootRequired
        }
    }
    catch {
        $line['resultCode'] = $resultFailed
        $line['hResult'] = Get-ErrorHResult $_.Exception
        Write-RolloutLog ('failed: ' + $line['title'] + ': ' + $_.Exception.Message)
    }
    Write-RolloutResult $line
}
Exit-RolloutSuccess
