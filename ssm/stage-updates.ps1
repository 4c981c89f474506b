# Document StageUpdates: ConfigMgr's pre-download, ahead of the maintenance window. Payload:
# StageUpdatesPayload { bucket, updates[], windowsUpdate }.
#
# Drains nothing, installs nothing, restarts nothing: it only fills a local cache.
#
# Hotfix plug-in (updates: the node's plan, each { index, file, key, sha256, bytes? }): each file
# goes to <ProgramData>\RolloutControlPlane\Staging\<sha256>\<leaf>, a folder only SYSTEM and
# Administrators may write (Initialize-UpdateFolder). A copy already there whose SHA-256
# (Get-FileHash) matches is kept (alreadyStaged); otherwise the file is downloaded from the
# hotfix root and its SHA-256 checked: a mismatch removes it (digestMismatch), so a later install
# never meets it. One result line per file: { kind: 'file', index, file, sha256, bytes, outcome }.
# InstallHotfixes uses a staged copy only when its SHA-256 still matches the plan.
#
# Windows Update plug-in (windowsUpdate: { queryString, includeRecommendedUpdates, selection }, or
# null): the same search and selection as InstallWindowsUpdates, then IUpdateDownloader for each
# selected update not yet downloaded; never IUpdateInstaller. One result line per update:
# { kind: 'windowsUpdate', updateId, kb, title, outcome, resultCode, hResult }.
#
# Exit 0 once every item is reported (the staging Lambda judges the outcomes); exit 1 when the
# command deadline passed, the rest reported notStarted.

$payload = Read-RolloutPayload
$updates = Get-PayloadArray $payload 'updates' 'payload'
# Empty without the hotfix plug-in.
$bucket = Get-PayloadString $payload 'bucket' 'payload' -AllowEmpty
if ($updates.Count -gt 0 -and $bucket.Length -eq 0) { throw 'payload.bucket (""): expected the hotfix root bucket when updates are given' }
$windowsUpdate = Get-PayloadProperty $payload 'windowsUpdate' 'payload'
if ($null -ne $windowsUpdate -and $windowsUpdate -isnot [System.Management.Automation.PSCustomObject]) {
    throw ('payload.windowsUpdate ({0}): expected a JSON object or null' -f (Format-PayloadValue $windowsUpdate))
}
$deadline = Get-RolloutDeadline $payload

# WUA OperationResultCode values.
$resultNotStarted = 0
$resultSucceeded = 2
$resultFailed = 4

function Save-StagedFile {
    param($Item, [int] $Position, [string] $CacheRoot)
    $at = 'payload.updates[' + $Position + ']'
    $line = [ordered]@{
        kind = 'file'
        index = $Position
        file = ''
        sha256 = ''
        bytes = 0
        outcome = 'failed'
    }
    try {
        $line['index'] = [int](Get-PayloadInteger $Item 'index' $at 0 1000000)
        $line['file'] = Get-PayloadString $Item 'file' $at
        $key = Get-PayloadString $Item 'key' $at
        $sha256 = Get-PayloadString $Item 'sha256' $at
        if ($sha256 -notmatch '^[0-9A-Fa-f]{64}$') {
            throw ($at + '.sha256 (' + (Format-PayloadValue $sha256) + '): expected 64 hexadecimal digits')
        }
        $sha256 = $sha256.ToLowerInvariant()
        $line['sha256'] = $sha256
        $leaf = ($line['file'] -split '[\\/]')[-1]
        if ($leaf -notmatch '^[A-Za-z0-9._-]+$' -or $leaf -match '^\.+$') {
            throw ($at + '.file (' + (Format-PayloadValue $line['file']) + '): expected a file name of letters, digits, . _ -')
        }
        # Path.Combine, not Join-Path: Join-Path insists the drive exists where the path is built.
        $folder = [System.IO.Path]::Combine($CacheRoot, $sha256)
        $path = [System.IO.Path]::Combine($folder, $leaf)
        Initialize-UpdateFolder $folder
        $found = Get-StagedFile $path
        if ($null -ne $found) {
            if ($found.sha256 -eq $sha256) {
                $line['bytes'] = [long]$found.bytes
                $line['outcome'] = 'alreadyStaged'
                Write-RolloutLog ($line['file'] + ': already staged, SHA-256 verified')
                return $line
            }
            Write-RolloutLog ($line['file'] + ': the staged copy has SHA-256 ' + $found.sha256 + ', not ' + $sha256 + '; downloading again')
            Remove-StagedFile $path
        }
        Write-RolloutLog ('staging ' + $line['file'] + ' under its SHA-256')
        Receive-S3File $bucket $key $path
        $found = Get-StagedFile $path
        $actual = ''
        if ($null -ne $found) { $actual = [string]$found.sha256 }
        if ($actual -ne $sha256) {
            Remove-StagedFile $path
            $line['outcome'] = 'digestMismatch'
            $line['actualSha256'] = $actual
            $line['error'] = 'SHA-256 of the download is ' + $actual + ', the plan says ' + $sha256 + ': not staged'
            Write-RolloutLog ($line['file'] + ': ' + $line['error'])
            return $line
        }
        $line['bytes'] = [long]$found.bytes
        $line['outcome'] = 'staged'
    }
    catch {
        $line['outcome'] = 'failed'
        $line['error'] = ConvertTo-SingleLine $_.Exception.Message
        if ($line['error'].Length -gt 1000) { $line['error'] = $line['error'].Substring(0, 1000) }
        Write-RolloutLog ('update ' + $Position + ' not staged: ' + $line['error'])
    }
    return $line
}

function Save-StagedWindowsUpdates {
    param($Options)
    $queryString = Get-PayloadString $Options 'queryString' 'payload.windowsUpdate'
    $includeRecommended = Get-PayloadBoolean $Options 'includeRecommendedUpdates' 'payload.windowsUpdate'
    $selection = Get-PayloadProperty $Options 'selection' 'payload.windowsUpdate'
    $session = New-WindowsUpdateSession
    $session.ClientApplicationID = 'WindowsRollout'
    $searcher = $session.CreateUpdateSearcher()
    Write-RolloutLog ('searching for updates to stage: ' + $queryString)
    $search = $searcher.Search($queryString)
    if ($search.ResultCode -ge $resultFailed) {
        throw ('Windows Update search ended with result code ' + $search.ResultCode + ' for the query ' + $queryString)
    }
    for ($i = 0; $i -lt $search.Updates.Count; $i++) {
        $update = $search.Updates.Item($i)
        if (-not $update.AutoSelectOnWebSites -and (-not $includeRecommended -or $update.BrowseOnly)) { continue }
        if ($null -ne (Get-UpdateExclusion (Get-UpdateFacts $update) $selection (Get-RolloutUtcNow))) { continue }
        if (-not $update.EulaAccepted -or $update.InstallationBehavior.CanRequestUserInput) { continue }
        $line = [ordered]@{
            kind = 'windowsUpdate'
            updateId = [string]$update.Identity.UpdateID
            kb = Get-UpdateKb $update
            title = [string]$update.Title
            outcome = 'failed'
            resultCode = $resultNotStarted
            hResult = 0
        }
        if (Test-DeadlinePassed $deadline) {
            $line['outcome'] = 'notStarted'
            Write-RolloutResult $line
            continue
        }
        try {
            if ($update.IsDownloaded) {
                $line['outcome'] = 'alreadyStaged'
                $line['resultCode'] = $resultSucceeded
            }
            else {
                $collection = New-WindowsUpdateCollection
                $null = $collection.Add($update)
                $downloader = $session.CreateUpdateDownloader()
                $downloader.Updates = $collection
                $downloaded = $downloader.Download().GetUpdateResult(0)
                $line['resultCode'] = [int]$downloaded.ResultCode
                $line['hResult'] = [int]$downloaded.HResult
                if ($downloaded.ResultCode -eq $resultSucceeded) { $line['outcome'] = 'staged' }
            }
        }
        catch {
            $line['resultCode'] = $resultFailed
            $line['hResult'] = [int]$_.Exception.HResult
            Write-RolloutLog ('download failed: ' + $line['title'] + ': ' + $_.Exception.Message)
        }
        Write-RolloutLog ($line['outcome'] + ': ' + $line['title'])
        Write-RolloutResult $line
    }
}

if ($updates.Count -gt 0) {
    $cacheRoot = Get-StagingCacheRoot
    Initialize-UpdateFolder $cacheRoot
    for ($position = 0; $position -lt $updates.Count; $position++) {
        if (Test-DeadlinePassed $deadline) {
            for ($rest = $position; $rest -lt $updates.Count; $rest++) {
                Write-RolloutResult ([ordered]@{ kind = 'file'; index = $rest; file = [string]$updates[$rest].file; sha256 = ''; bytes = 0; outcome = 'notStarted' })
            }
            Exit-RolloutFailure ('the command deadline passed before file ' + $position + ' of ' + $updates.Count)
        }
        Write-RolloutResult (Save-StagedFile $updates[$position] $position $cacheRoot)
    }
}
if ($null -ne $windowsUpdate) { Save-StagedWindowsUpdates $windowsUpdate }
if ($updates.Count -eq 0 -and $null -eq $windowsUpdate) { Write-RolloutLog 'nothing to stage' }
Exit-RolloutSuccess
