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
$path = [Environment]::ExpandEnvironmentVariables($scriptPath)
if (-not $path.EndsWith('.ps1', [StringComparison]::OrdinalIgnoreCase)) {
    throw ('payload.script (' + (Format-PayloadValue $scriptPath) + '): expected a PowerShell script ending in .ps1')
}
if (-not [System.IO.Path]::IsPathRooted($path)) {
    throw ('payload.script (' + (Format-PayloadValue $scriptPath) + '): expected a full path, e.g. C:\Scripts\PreUpdate.ps1')
}
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
    Write-RolloutResult ([ordered]@{ phase = $phase; script = $scriptPath; exitCode = $null; durationSeconds = 0 })
    Exit-RolloutFailure ('the ' + $phase + '-update script ' + $path + ' does not exist on this node')
}

$powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'

function Invoke-ChildScript {
    param([string] $Executable, [string] $Path)
    # Here the child's exit code decides, not its error output: with 'Stop', Windows PowerShell
    # would turn the first line it writes to stderr into a terminating error.
    $ErrorActionPreference = 'Continue'
    & $Executable -NoProfile -NonInteractive -ExecutionPolicy Bypass -File $Path 2>&1 |
        ForEach-Object { Write-RolloutLog ('[' + $phase + '-update script] ' + [string]$_) }
    return $LASTEXITCODE
}

$env:ROLLOUT_PHASE = $phase
Write-RolloutLog ('running the ' + $phase + '-update script ' + $path)
$stopwatch = [System.Diagnostics.Stopwatch]::StartNew()
$exitCode = Invoke-ChildScript $powershell $path
$duration = [Math]::Round($stopwatch.Elapsed.TotalSeconds, 1)
Write-RolloutResult ([ordered]@{ phase = $phase; script = $scriptPath; exitCode = $exitCode; durationSeconds = $duration })
if ($null -eq $exitCode -or $exitCode -ne 0) {
    Exit-RolloutFailure ('the ' + $phase + '-update script ' + $path + ' exited with code ' + $exitCode)
}
exit 0
