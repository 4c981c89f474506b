# Document RemoveUpdates: removes installed updates, as KB823836 and KB897341 describe.
# Payload: RemoveUpdatesPayload { timeoutMinutes, updates[] { index, updateId, method?, packageName? } }.
#
# The control plane computes the order (the reverse of installation for updates that replaced
# the same files) and refuses an unsafe one before this runs. For each update, in that order:
#   1. check the KB id is KB followed by 4 to 8 digits (the API checks it too);
#   2. method wusa (the default): run %windir%\System32\wusa.exe /uninstall /kb:<digits> /quiet
#      /norestart; method dism (combined SSU + LCU packages, which wusa cannot remove): run
#      %windir%\System32\Dism.exe /Online /Remove-Package /PackageName:<packageName> /Quiet
#      /NoRestart. Process.Start, no shell, no Invoke-Expression; only checked characters reach
#      the command line. Wait up to timeoutMinutes, then stop it (timedOut true) and wait for
#      servicing to go quiet, up to the deadline (servicingBusy);
#   3. print one RemovalResultLine, and go on with the next update whatever happened.
# wusa never restarts the node here (/norestart): the workflow restarts it afterwards. The exit
# codes (0, 3010, 0x240007 not installed, ...) are judged by the interpret-results Lambda, so
# this script exits 0 once every update is reported; the command's deadline
# (deadline) ends it with exit 1, leaving the rest unreported.

$payload = Read-RolloutPayload
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 1440
$updates = Get-PayloadArray $payload 'updates' 'payload'
$deadline = Get-RolloutDeadline $payload
$system32 = (Get-WindowsDirectory) + '\System32'

function Limit-Text {
    param([string] $Text)
    if ($Text.Length -gt 1000) { return $Text.Substring(0, 1000) }
    return $Text
}

function Remove-Update {
    param($Item, [int] $Position)
    $at = 'payload.updates[' + $Position + ']'
    $line = [ordered]@{
        index = $Position
        updateId = ''
        method = 'wusa'
        exitCode = $null
        timedOut = $false
        durationSeconds = 0
        logTail = ''
    }
    $started = Get-RolloutUtcNow
    try {
        $line['index'] = [int](Get-PayloadInteger $Item 'index' $at 0 1000000)
        $updateId = Get-PayloadString $Item 'updateId' $at
        if ($updateId -cnotmatch '^KB[1-9][0-9]{3,7}\z') {
            throw ($at + '.updateId (' + (Format-PayloadValue $updateId) + '): expected KB followed by 4 to 8 digits')
        }
        $line['updateId'] = $updateId
        $method = Get-PayloadProperty $Item 'method' $at -Optional
        if ($null -eq $method) { $method = 'wusa' }
        if ($method -cne 'wusa' -and $method -cne 'dism') {
            throw ($at + '.method (' + (Format-PayloadValue $method) + '): expected wusa or dism')
        }
        $line['method'] = $method
        if ($method -ceq 'dism') {
            # A combined SSU + LCU package (Windows Server 2019 since 2021, 2022, 2025): wusa
            # cannot remove it, DISM can, by its package name.
            $packageName = Get-PayloadString $Item 'packageName' $at
            if ($packageName -cnotmatch '^[A-Za-z0-9_.~-]{1,200}\z') {
                throw ($at + '.packageName (' + (Format-PayloadValue $packageName) + '): expected a DISM package name such as Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2340.1.7')
            }
            $line['packageName'] = $packageName
            $executable = $system32 + '\Dism.exe'
            $arguments = '/Online /Remove-Package /PackageName:' + $packageName + ' /Quiet /NoRestart'
        }
        else {
            $executable = $system32 + '\wusa.exe'
            $arguments = '/uninstall /kb:' + $updateId.Substring(2) + ' /quiet /norestart'
        }

        $limit = [TimeSpan]::FromMinutes($timeoutMinutes)
        $untilDeadline = $deadline - (Get-RolloutUtcNow)
        $stoppedAtDeadline = $untilDeadline -lt $limit
        if ($stoppedAtDeadline) { $limit = $untilDeadline }
        Write-RolloutLog ('removing ' + $updateId + ': ' + $executable + ' ' + $arguments)
        $run = Invoke-Installer -FilePath $executable -Arguments $arguments -WorkingDirectory $system32 -TimeoutMilliseconds ([long][Math]::Max(0, $limit.TotalMilliseconds))
        if ($run.exited) {
            $line['exitCode'] = [int]$run.exitCode
            $line['logTail'] = $method + ' exited with ' + $line['exitCode']
        }
        else {
            $line['timedOut'] = $true
            if ($stoppedAtDeadline) {
                $line['error'] = 'stopped at the command deadline'
            }
            else {
                $line['error'] = $method + ' ran longer than ' + $timeoutMinutes + ' minutes and was stopped'
            }
            $line['servicingBusy'] = [bool](Wait-ServicingQuiet $deadline)
            if ($line['servicingBusy']) {
                $line['error'] = $line['error'] + '; Windows servicing was still busy at the command deadline'
            }
        }
    }
    catch {
        $line['error'] = Limit-Text (ConvertTo-SingleLine $_.Exception.Message)
        Write-RolloutLog ('removal ' + $Position + ' failed: ' + $line['error'])
    }
    finally {
        $line['durationSeconds'] = Get-RolloutElapsedSeconds $started
    }
    return $line
}

if ($updates.Count -eq 0) {
    Write-RolloutLog 'no updates in the payload: nothing to remove'
    Exit-RolloutSuccess
}
# A removal makes InstallHotfixes' records of what this node installed stale.
Clear-RolloutMarkers 'Installed'
for ($position = 0; $position -lt $updates.Count; $position++) {
    if (Test-DeadlinePassed $deadline) {
        Exit-RolloutFailure ('the command deadline passed before removal ' +
            $position + ' of ' + $updates.Count + '; the rest were not started')
    }
    $line = Remove-Update $updates[$position] $position
    Write-RolloutResult $line
}
Exit-RolloutSuccess
