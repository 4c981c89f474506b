# Document InstallHotfixes: what CAU's Microsoft.HotfixPlugin does on a node, with the hotfix root
# in S3. Payload: InstallHotfixesPayload { bucket, timeoutMinutes, updates[] }.
#
# For each update, in the plan's order:
#   0. skip it when this node installed the same file (SHA-256) within a day and the installer
#      succeeded (a marker in the registry): SSM or the workflow may run the step again after a
#      restart, and nothing is installed twice;
#   1. take the staged copy (StageUpdates) when its SHA-256 is the plan's (fromCache true; a copy
#      that does not match is left, said in cacheNote), else download s3://<bucket>/<key> to localPath (environment variables expanded), into a folder
#      only SYSTEM and Administrators may write;
#   2. open the file so nobody can change it, and check its SHA-256 against the plan; on a
#      mismatch nothing runs (checksumOk false);
#   3. run the installer: path and parameters from the plan, environment variables expanded,
#      the parameters passed as ONE command-line string for the installer to parse, exactly as
#      the rule wrote them (no shell, no Invoke-Expression); wait up to timeoutMinutes
#      (HotfixInstallerTimeoutMinutes), then stop the installer and its children (timedOut true)
#      and wait, up to the command deadline, for Windows servicing (TrustedInstaller, TiWorker,
#      the Windows Installer service), which goes on without its client: servicingBusy says
#      whether it was still busy when the script gave up waiting;
#   4. for an .msu, report the DISM packages it added (packageNames), so a removal knows whether
#      wusa can remove it or DISM /Remove-Package must (combined SSU + LCU packages);
#   5. print one InstallResultLine, and go on with the next update whatever happened.
# The exit codes are judged by the interpret-results Lambda against the rule's ExitConditions,
# so this script exits 0 once every update is reported. Two exceptions: an installer that
# started a restart itself (1641) stops the loop at once, since the node is going down, and the
# rest are reported notStarted; and the command's deadline ends it with exit 1, the rest
# reported notStarted too.

$payload = Read-RolloutPayload
$bucket = Get-PayloadString $payload 'bucket' 'payload'
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 1440
$updates = Get-PayloadArray $payload 'updates' 'payload'
$deadline = Get-RolloutDeadline $payload
$installedMarkerKey = 'Installed'
# Exit codes after which an update counts as installed for a re-run: done, done but restart
# needed, done and restart started.
$installedCodes = @(0, 3010, 1641)
# The DISM packages installed, as last listed, or $null when something may have changed them
# since: Get-WindowsPackage -Online takes seconds to minutes, so the list after one .msu is the
# list before the next, and it runs once per .msu (and once before the first).
$script:knownPackages = $null

function Get-LogTail {
    param([string] $Path)
    if (-not (Test-FileExists $Path)) { return '' }
    try {
        $text = @(Get-Content -LiteralPath $Path -Tail 40) -join "`n"
    }
    catch {
        return ''
    }
    # Tails stay short: the result lines of many updates must fit the command's inline output,
    # so the updates share logTailBudgetCharacters (at most 1000 each).
    $room = [Math]::Min(1000, [Math]::Floor([int]$script:RolloutContract.logTailBudgetCharacters / [Math]::Max(1, $updates.Count)))
    if ($text.Length -gt $room) { $text = $text.Substring($text.Length - $room) }
    return $text
}

function Limit-Text {
    param([string] $Text)
    if ($Text.Length -gt 1000) { return $Text.Substring(0, 1000) }
    return $Text
}

function Get-StreamSha256 {
    param([System.IO.Stream] $Stream)
    $null = $Stream.Seek(0, [System.IO.SeekOrigin]::Begin)
    return (Get-FileHash -InputStream $Stream -Algorithm SHA256).Hash
}

# The earlier successful install of this file (by SHA-256) on this node, less than a day ago.
function Get-EarlierInstall {
    param([string] $Sha256)
    $text = Get-RolloutMarker $installedMarkerKey $Sha256.ToLowerInvariant()
    if ($null -eq $text) { return $null }
    try {
        $marker = ConvertFrom-Json -InputObject ([string]$text)
        $at = [datetime]::Parse([string]$marker.installedAt, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::AdjustToUniversal)
    }
    catch {
        return $null
    }
    if (((Get-RolloutUtcNow) - $at).TotalHours -gt 24) { return $null }
    if ($installedCodes -notcontains [int]$marker.exitCode) { return $null }
    return $marker
}

# The staged copy of this file (StageUpdates, issue 13 item 5), copied to LocalPath when its
# SHA-256 (Get-FileHash) is the plan's; $false otherwise, with cacheNote saying why when a copy
# was there but did not match.
function Copy-StagedFile {
    param([string] $File, [string] $Sha256, [string] $LocalPath, $Line)
    $expected = $Sha256.ToLowerInvariant()
    $staged = [System.IO.Path]::Combine((Get-StagingCacheRoot), $expected, ($File -split '[\\/]')[-1])
    $found = Get-StagedFile $staged
    if ($null -eq $found) { return $false }
    $actual = [string]$found.sha256
    if ($actual -ne $expected) {
        $Line['cacheNote'] = 'the staged copy has SHA-256 ' + $actual + ', the plan says ' + $expected + ': not used; downloaded from the hotfix root'
        Write-RolloutLog ($File + ': ' + $Line['cacheNote'])
        return $false
    }
    Write-RolloutLog ($File + ': installing the staged copy (SHA-256 verified)')
    Copy-UpdateFile $staged $LocalPath
    return $true
}

function Install-Update {
    param($Item, [int] $Position)
    $at = 'payload.updates[' + $Position + ']'
    $line = [ordered]@{
        index = $Position
        file = ''
        exitCode = $null
        checksumOk = $false
        timedOut = $false
        durationSeconds = 0
        logTail = ''
    }
    $started = Get-RolloutUtcNow
    $stream = $null
    try {
        $line['index'] = [int](Get-PayloadInteger $Item 'index' $at 0 1000000)
        $line['file'] = Get-PayloadString $Item 'file' $at
        $key = Get-PayloadString $Item 'key' $at
        $sha256 = Get-PayloadString $Item 'sha256' $at
        if ($sha256 -notmatch '^[0-9A-Fa-f]{64}$') {
            throw ($at + '.sha256 (' + (Format-PayloadValue $sha256) + '): expected 64 hexadecimal digits')
        }
        $localPath = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'localPath' $at))
        if (-not (Test-WindowsFullPath $localPath)) {
            throw ($at + '.localPath (' + (Format-PayloadValue $localPath) + '): expected a full path')
        }
        $installer = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'path' $at))
        $arguments = [Environment]::ExpandEnvironmentVariables((Get-PayloadString $Item 'parameters' $at -AllowEmpty))

        $earlier = Get-EarlierInstall $sha256
        if ($null -ne $earlier) {
            # Verified by SHA-256 when it was installed. A 1641 then was the restart this re-run
            # follows: the update is in, with nothing left to restart for.
            $line['checksumOk'] = $true
            $line['exitCode'] = [int]$earlier.exitCode
            if ($line['exitCode'] -eq 1641) { $line['exitCode'] = 0 }
            $line['earlierExitCode'] = [int]$earlier.exitCode
            $line['alreadyInstalled'] = $true
            if ($null -ne $earlier.PSObject.Properties['packageNames']) { $line['packageNames'] = @($earlier.packageNames) }
            Write-RolloutLog ($line['file'] + ': installed on this node at ' + [string]$earlier.installedAt + ' (exit code ' + $earlier.exitCode + '); not run again')
            return $line
        }

        $folder = $localPath.Substring(0, $localPath.LastIndexOf('\'))
        Initialize-UpdateFolder $folder
        $actual = $null
        if (Test-FileExists $localPath) {
            # Left by an earlier try (a retry, or before a restart): keep it if it still matches.
            $stream = Open-LockedFile $localPath
            $actual = Get-StreamSha256 $stream
            if (-not [string]::Equals($actual, $sha256, [StringComparison]::OrdinalIgnoreCase)) {
                $stream.Dispose()
                $stream = $null
            }
        }
        if ($null -eq $stream -and (Copy-StagedFile $line['file'] $sha256 $localPath $line)) {
            $stream = Open-LockedFile $localPath
            $actual = Get-StreamSha256 $stream
            if ([string]::Equals($actual, $sha256, [StringComparison]::OrdinalIgnoreCase)) {
                $line['fromCache'] = $true
            }
            else {
                $line['cacheNote'] = 'the copy taken from the staging cache changed before it was verified; downloaded from the hotfix root'
                $stream.Dispose()
                $stream = $null
            }
        }
        if ($null -eq $stream) {
            Write-RolloutLog ('downloading ' + $line['file'] + ' to ' + $localPath)
            Receive-S3File $bucket $key $localPath
            $stream = Open-LockedFile $localPath
            $actual = Get-StreamSha256 $stream
        }
        if (-not [string]::Equals($actual, $sha256, [StringComparison]::OrdinalIgnoreCase)) {
            $line['expectedSha256'] = $sha256.ToLowerInvariant()
            $line['actualSha256'] = ([string]$actual).ToLowerInvariant()
            $line['error'] = 'SHA-256 of the downloaded file is ' + $line['actualSha256'] + ', the plan says ' + $line['expectedSha256'] + ': not run'
            Write-RolloutLog ($line['file'] + ': ' + $line['error'])
            return $line
        }
        $line['checksumOk'] = $true
        $logPath = $localPath + '.log'
        Remove-Item -LiteralPath $logPath -Force -ErrorAction SilentlyContinue
        $isMsu = $localPath.EndsWith('.msu', [StringComparison]::OrdinalIgnoreCase)
        $packagesBefore = @()
        if ($isMsu) {
            if ($null -eq $script:knownPackages) { $script:knownPackages = @(Get-InstalledPackageNames) }
            $packagesBefore = $script:knownPackages
        }
        # Whatever runs now may change the packages: known again only once listed after it.
        $script:knownPackages = $null

        $limit = [TimeSpan]::FromMinutes($timeoutMinutes)
        $untilDeadline = $deadline - (Get-RolloutUtcNow)
        $stoppedAtDeadline = $untilDeadline -lt $limit
        if ($stoppedAtDeadline) { $limit = $untilDeadline }
        Write-RolloutLog ('installing ' + $line['file'] + ': ' + $installer + ' ' + $arguments)
        $run = Invoke-Installer -FilePath $installer -Arguments $arguments -WorkingDirectory $folder -TimeoutMilliseconds ([long][Math]::Max(0, $limit.TotalMilliseconds))
        if ($run.exited) {
            $line['exitCode'] = [int]$run.exitCode
        }
        else {
            $line['timedOut'] = $true
            if ($stoppedAtDeadline) {
                $line['error'] = 'stopped at the command deadline'
            }
            else {
                $line['error'] = 'the installer ran longer than ' + $timeoutMinutes + ' minutes (HotfixInstallerTimeoutMinutes) and was stopped'
            }
            # Stopping wusa.exe or msiexec.exe does not stop servicing: wait for it, up to the
            # deadline, so the node is not resumed while it still installs.
            $line['servicingBusy'] = [bool](Wait-ServicingQuiet $deadline)
            if ($line['servicingBusy']) {
                $line['error'] = $line['error'] + '; Windows servicing was still busy at the command deadline'
            }
        }
        if ($isMsu -and $run.exited) {
            $script:knownPackages = @(Get-InstalledPackageNames)
            $added = @($script:knownPackages | Where-Object { $packagesBefore -notcontains $_ })
            $line['packageNames'] = $added
        }
        $line['logTail'] = Get-LogTail $logPath
        if ($run.exited -and $installedCodes -contains $line['exitCode']) {
            $marker = [ordered]@{ file = $line['file']; exitCode = $line['exitCode']; installedAt = (Get-RolloutUtcNow).ToString('o') }
            if ($line.Contains('packageNames')) { $marker['packageNames'] = $line['packageNames'] }
            Set-RolloutMarker $installedMarkerKey $sha256.ToLowerInvariant() (ConvertTo-RolloutJson $marker)
        }
    }
    catch {
        $line['error'] = Limit-Text (ConvertTo-SingleLine $_.Exception.Message)
        Write-RolloutLog ('update ' + $Position + ' failed: ' + $line['error'])
    }
    finally {
        if ($null -ne $stream) { $stream.Dispose() }
        $line['durationSeconds'] = Get-RolloutElapsedSeconds $started
    }
    return $line
}

# The line of an update this run did not start: not failed, to be installed by a later run.
function Write-NotStartedLines {
    param([int] $From, [string] $Why)
    for ($rest = $From; $rest -lt $updates.Count; $rest++) {
        $item = $updates[$rest]
        $file = ''
        $index = $rest
        if ($item -is [System.Management.Automation.PSCustomObject]) {
            if ($null -ne $item.PSObject.Properties['file'] -and $item.file -is [string]) { $file = $item.file }
            if ($null -ne $item.PSObject.Properties['index'] -and ($item.index -is [int] -or $item.index -is [long])) { $index = [int]$item.index }
        }
        Write-RolloutResult ([ordered]@{
                index = $index
                file = $file
                exitCode = $null
                checksumOk = $false
                timedOut = $false
                durationSeconds = 0
                logTail = ''
                notStarted = $true
                error = $Why
            })
    }
}

if ($updates.Count -eq 0) {
    Write-RolloutLog 'no updates in the payload: nothing to install'
    Exit-RolloutSuccess
}
for ($position = 0; $position -lt $updates.Count; $position++) {
    if (Test-DeadlinePassed $deadline) {
        Write-NotStartedLines $position 'not started: the command deadline passed'
        Exit-RolloutFailure ('the command deadline passed before update ' + $position + ' of ' +
            $updates.Count + '; the rest were not started')
    }
    $line = Install-Update $updates[$position] $position
    Write-RolloutResult $line
    if ($line['exitCode'] -eq 1641) {
        Write-RolloutLog ('the installer started a restart (1641): the remaining ' +
            ($updates.Count - $position - 1) + ' updates were not started')
        Write-NotStartedLines ($position + 1) 'not started: an installer restarted the node (1641); run again after the restart'
        Exit-RolloutSuccess
    }
}
Exit-RolloutSuccess
