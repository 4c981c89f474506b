# Runs the Pester suite against the rendered documents (scripts/pwsh.ts writes them first).
param(
    [Parameter(Mandatory = $true)] [string] $PesterModule,
    [Parameter(Mandatory = $true)] [string] $Rendered,
    [string] $Summary,
    [string] $Fixtures
)
$ErrorActionPreference = 'Stop'
Import-Module -Name $PesterModule -Force
$env:ROLLOUT_RENDERED = $Rendered
$env:ROLLOUT_FIXTURES = $Fixtures
$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
# PESTER_FILES=Payload.Tests.ps1,InstallHotfixes.Tests.ps1 runs only those files.
if ($env:PESTER_FILES) {
    $configuration.Run.Path = @($env:PESTER_FILES -split ',' | ForEach-Object { Join-Path $PSScriptRoot $_.Trim() })
}
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$stopwatch = [System.Diagnostics.Stopwatch]::StartNew()
$result = Invoke-Pester -Configuration $configuration
if ($Summary) {
    [ordered]@{
        passed = $result.PassedCount
        failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        skipped = $result.SkippedCount + $result.NotRunCount
        seconds = [Math]::Round($stopwatch.Elapsed.TotalSeconds, 1)
    } | ConvertTo-Json | Set-Content -LiteralPath $Summary -Encoding utf8
}
if ($result.Result -ne 'Passed') { exit 1 }
exit 0
