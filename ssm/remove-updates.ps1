# Document RemoveUpdates: removes installed updates, as KB823836 and KB897341 describe.
# Payload: RemoveUpdatesPayload { timeoutMinutes, updates[] { index, updateId } }.
#
# The control plane computes the order (the reverse of installation for updates that replaced
# the same files) and refuses an unsafe one before this runs. For each update, in that order:
#   1. check the KB id is KB followed by 4 to 8 digits (the API checks it too);
#   2. run %windir%\System32\wusa.exe /uninstall /kb:<digits> /quiet /norestart with
#      Process.Start (no shell, no Invoke-Expression; only the digits reach the command line);
#      wait up to timeoutMinutes, then stop it (timedOut true);
#   3. print one RemovalResultLine, and go on with the next update whatever happened.
# wusa never restarts the node here (/norestart): the workflow restarts it afterwards. The exit
# codes (0, 3010, 0x240007 not installed, ...) are judged by the interpret-results Lambda, so
# this script exits 0 once every update is reported; the command's deadline
# (executionTimeoutSeconds) ends it with exit 1, leaving the rest unreported.

$payload = Read-RolloutPayload
$timeoutMinutes = Get-PayloadInteger $payload 'timeoutMinutes' 'payload' 1 1440
$updates = Get-PayloadArray $payload 'updates' 'payload'
$deadline = Get-RolloutDeadline $payload
$wusa = Join-Path ([Environment]::GetFolderPath('Windows')) 'System32\wusa.exe'

function Stop-ProcessTree {
    param([int] $ProcessId)
    $children = @(Get-CimInstance -ClassName Win32_Process -Filter ('ParentProcessId = ' + $ProcessId))
    Stop-Process -Id $ProcessId -Force -ErrorAction SilentlyContinue
    foreach ($child in $children) { Stop-ProcessTree -ProcessId ([int]$child.ProcessId) }
}

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
        exitCode = $null
        timedOut = $false
        durationSeconds = 0
        logTail = ''
    }
    $stopwatch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $line['index'] = [int](Get-PayloadInteger $Item 'index' $at 0 1000000)
        $updateId = Get-PayloadString $Item 'updateId' $at
        if ($updateId -cnotmatch '^KB[1-9][0-9]{3,7}$') {
            throw ($at + '.updateId (' + (Format-PayloadValue $updateId) + '): expected KB followed by 4 to 8 digits')
        }
        $line['updateId'] = $updateId
        $digits = $updateId.Substring(2)

        # Process.Start rather than Start-Process: Start-Process resolves wildcards in the
        # path and, with -PassThru, may leave ExitCode empty in Windows PowerShell.
        $startInfo = New-Object System.Diagnostics.ProcessStartInfo
        $startInfo.FileName = $wusa
        $startInfo.Arguments = '/uninstall /kb:' + $digits + ' /quiet /norestart'
        $startInfo.UseShellExecute = $false
        $startInfo.CreateNoWindow = $true
        Write-RolloutLog ('removing ' + $updateId + ': ' + $wusa + ' ' + $startInfo.Arguments)
        $process = [System.Diagnostics.Process]::Start($startInfo)

        $limit = [TimeSpan]::FromMinutes($timeoutMinutes)
        $untilDeadline = $deadline - (Get-Date)
        $stoppedAtDeadline = $untilDeadline -lt $limit
        if ($stoppedAtDeadline) { $limit = $untilDeadline }
        $milliseconds = [int][Math]::Max(0, [Math]::Min($limit.TotalMilliseconds, [int]::MaxValue))
        if ($process.WaitForExit($milliseconds)) {
            $line['exitCode'] = [int]$process.ExitCode
            $line['logTail'] = 'wusa.exe exited with ' + $line['exitCode']
        }
        else {
            Stop-ProcessTree -ProcessId $process.Id
            $line['timedOut'] = $true
            if ($stoppedAtDeadline) {
                $line['error'] = 'stopped at the command deadline (executionTimeoutSeconds)'
            }
            else {
                $line['error'] = 'wusa.exe ran longer than ' + $timeoutMinutes + ' minutes and was stopped'
            }
        }
        $process.Dispose()
    }
    catch {
        $line['error'] = Limit-Text (ConvertTo-SingleLine $_.Exception.Message)
        Write-RolloutLog ('removal ' + $Position + ' failed: ' + $line['error'])
    }
    finally {
        $line['durationSeconds'] = [Math]::Round($stopwatch.Elapsed.TotalSeconds, 1)
    }
    return $line
}

if ($updates.Count -eq 0) {
    Write-RolloutLog 'no updates in the payload: nothing to remove'
    exit 0
}
for ($position = 0; $position -lt $updates.Count; $position++) {
    if ((Get-Date) -ge $deadline) {
        Exit-RolloutFailure ('the command deadline (executionTimeoutSeconds) passed before removal ' +
            $position + ' of ' + $updates.Count + '; the rest were not started')
    }
    $line = Remove-Update $updates[$position] $position
    Write-RolloutResult $line
}
exit 0
