# The end marker, 'ROLLOUT-END {"results":N}' (Write-RolloutEnd in ssm/_common.ps1): the last
# line of every document's output on each way out (Exit-RolloutSuccess, Exit-RolloutFailure, the
# trap), N the result lines written; none on RestartNode's exit 3010. Invoke-Document checks it
# on every run of every Pester file; these name the exit paths one by one and read the line.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'removeUpdates') { . ([scriptblock]::Create($definition)) }
    $script:EndPrefix = [string]$script:Contract.endLinePrefix

    function Get-LastLine {
        param($Run)
        return [string]($Run.Lines | Select-Object -Last 1)
    }
}

Describe 'The end marker' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Checks = 0 }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-WindowsDirectory { 'C:\Windows' }
        Mock Clear-RolloutMarkers {}
        Mock Test-ServicingBusy { $false }
        Mock Invoke-Installer { @{ exited = $true; exitCode = 0; output = @() } }
        $script:TwoRemovals = @{ timeoutMinutes = 30; updates = @(@{ index = 0; updateId = 'KB5000001' }, @{ index = 1; updateId = 'KB5000002' }) }
    }

    It 'the contract names the prefix the scripts write' {
        $script:EndPrefix | Should -Be 'ROLLOUT-END'
    }

    It 'success (Exit-RolloutSuccess): last, counting every result line' {
        $run = Invoke-Document removeUpdates $script:TwoRemovals
        $run.ExitCode | Should -Be 0
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":2}')
    }

    It 'success with nothing to report: counts 0' {
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @() }
        $run.ExitCode | Should -Be 0
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":0}')
    }

    It 'a handled failure (Exit-RolloutFailure at the deadline): last, after the error log line, counting what was written' {
        Mock Test-DeadlinePassed { $global:Fake.Checks++ -ge 1 }
        $run = Invoke-Document removeUpdates $script:TwoRemovals
        $run.ExitCode | Should -Be 1
        $run.Results.Count | Should -Be 1
        $run.Lines[-2] | Should -Match '^\[rollout\] ERROR: the command deadline passed'
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":1}')
        $run.Errors | Should -Match '^ROLLOUT-ERROR '
    }

    It 'an unhandled error (the trap) after a result line: last, counting it' {
        Mock Test-DeadlinePassed { if ($global:Fake.Checks++ -ge 1) { throw 'the clock broke' } else { $false } }
        $run = Invoke-Document removeUpdates $script:TwoRemovals
        $run.ExitCode | Should -Be 1
        $run.Lines[-2] | Should -BeExactly '[rollout] ERROR: the clock broke'
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":1}')
    }

    It 'a payload refused before anything ran (the trap): counts 0' {
        $run = Invoke-Document removeUpdates 'not base64!'
        $run.ExitCode | Should -Be 1
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":0}')
    }

    It 'a result line, then Exit-RolloutFailure (RunUpdateScript, the script is missing): counts 1' {
        Mock Test-FileExists { $false }
        $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\Scripts\missing.ps1' }
        $run.ExitCode | Should -Be 1
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":1}')
    }

    It 'an early exit (DrainNode on a standalone server): counts its one result' {
        Mock Get-ServiceStatus { $null }
        $run = Invoke-Document drain @{ timeoutMinutes = 5 }
        $run.ExitCode | Should -Be 0
        Get-LastLine $run | Should -BeExactly ($script:EndPrefix + ' {"results":1}')
    }

    It 'RestartNode: none on the exit 3010 that restarts the node, one on the run after it' {
        $global:Fake.Markers = @{}
        $global:Fake.Boot = 'boot-1'
        Mock Get-BootSessionId { $global:Fake.Boot }
        Mock Get-LastBootTime { $global:Fake.Now.AddHours(-1) }
        Mock Get-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] }
        Mock Set-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] = $Value }
        Mock Remove-RolloutMarker { $global:Fake.Markers.Remove($Key + '\' + $Name) }
        $first = Invoke-Document restart @{ runId = 'run-1'; reason = 'r' }
        $first.ExitCode | Should -Be 3010
        $first.Output | Should -Not -Match $script:EndPrefix
        $global:Fake.Boot = 'boot-2'
        $second = Invoke-Document restart @{ runId = 'run-1'; reason = 'r' }
        $second.ExitCode | Should -Be 0
        Get-LastLine $second | Should -BeExactly ($script:EndPrefix + ' {"results":1}')
    }
}
