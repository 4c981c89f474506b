# Document RunUpdateScript: runs the run's PreUpdateScript or PostUpdateScript on the node, as
# CAU does (a failing pre-update script means the node is not updated).
# Payload: ScriptPayload { phase, script }.
#
# The script must be a full path to an existing .ps1 file. It runs in a child Windows
# PowerShell (-NoProfile -ExecutionPolicy Bypass -File <path>), its path passed as one argument,
# never as code. Its output is logged line by line with the '[rollout]' prefix, so it cannot
# print result lines of its own. ROLLOUT_PHASE tells it 'pre' or 'post'.
# Result line: { phase, script, exitCode, durationSeconds }. Exit 1 when the script's exit code
# is not 0, so the invocation fails (never its own code: 3010 would restart the node).

$payload = Read-RolloutPayload
$phase = Get-PayloadString $payload 'phase' 'payload'
if ($phase -cne 'pre' -and $phase -cne 'post') {
    throw ('payload.phase (' + (Format-PayloadValue $phase) + '): expected pre or post')
}
$scriptPath = Get-PayloadString $payload 'script' 'payload'
$deadline = Get-RolloutDeadline $payload
$path = [Environment]::ExpandEnvironmentVariables($scriptPath)
if (-not $path.EndsWith('.ps1', [StringComparison]::OrdinalIgnoreCase)) {
    throw ('payload.script (' + (Format-PayloadValue $scriptPath) + '): expected a PowerShell script ending in .ps1')
}
if ($path.IndexOf([char]34) -ge 0) {
    throw ('payload.script (' + (Format-PayloadValue $scriptPath) + '): a Windows path cannot hold a double quote')
}
if (-not (Test-WindowsFullPath $path)) {
    throw ('payload.script (' + (Format-PayloadValue $scriptPath) + '): expected a full path, e.g. C:\Scripts\PreUpdate.ps1')
}
if (-not (Test-FileExists $path)) {
    Write-RolloutResult ([ordered]@{ phase = $phase; script = $scriptPath; exitCode = $null; durationSeconds = 0 })
    Exit-RolloutFailure ('the ' + $phase + '-update script ' + $path + ' does not exist on this node')
}

$powershell = (Get-WindowsDirectory) + '\System32\WindowsPowerShell\v1.0\powershell.exe'

$env:ROLLOUT_PHASE = $phase
Write-RolloutLog ('running the ' + $phase + '-update script ' + $path)
$started = Get-RolloutUtcNow
# The path is one quoted argument; a Windows path cannot hold a double quote, checked above.
$arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "' + $path + '"'
$untilDeadline = ($deadline - (Get-RolloutUtcNow)).TotalMilliseconds
$run = Invoke-Installer -FilePath $powershell -Arguments $arguments -WorkingDirectory ([System.IO.Path]::GetDirectoryName($path)) -TimeoutMilliseconds ([long][Math]::Max(0, $untilDeadline)) -CaptureOutput
foreach ($outputLine in $run.output) { Write-RolloutLog ('[' + $phase + '-update script] ' + [string]$outputLine) }
$duration = Get-RolloutElapsedSeconds $started
$exitCode = $run.exitCode
$result = [ordered]@{ phase = $phase; script = $scriptPath; exitCode = $exitCode; durationSeconds = $duration }
if (-not $run.exited) { $result['timedOut'] = $true }
Write-RolloutResult $result
if (-not $run.exited) {
    Exit-RolloutFailure ('the ' + $phase + '-update script ' + $path + ' was still running at the command deadline and was stopped')
}
if ($exitCode -ne 0) {
    Exit-RolloutFailure ('the ' + $phase + '-update script ' + $path + ' exited with code ' + $exitCode)
}
Exit-RolloutSuccess
