BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

Describe 'RunUpdateScript' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc) }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Get-WindowsDirectory { 'C:\Windows' }
        Mock Test-FileExists { $true }
        Mock Invoke-Installer { @{ exited = $true; exitCode = 0; output = @('pre-check done') } }
    }

    Context 'a script that exits 0' {
        It 'runs it in a child Windows PowerShell, the path one quoted argument, and succeeds' {
            $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\Scripts\Pre Update.ps1' } -Fixture 'run-script-ok'
            $run.ExitCode | Should -Be 0
            $run.Results[0].exitCode | Should -Be 0
            $run.Output | Should -Match '\[rollout\] \[pre-update script\] pre-check done'
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter {
                $FilePath -eq 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe' -and
                $Arguments -eq '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\Scripts\Pre Update.ps1"'
            }
        }

        It 'times the script on the clock seam, so its duration is virtual in the sandbox' {
            Mock Invoke-Installer {
                $global:Fake.Now = $global:Fake.Now.AddSeconds(90)
                @{ exited = $true; exitCode = 0; output = @() }
            }
            $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\s.ps1' }
            $run.Results[0].durationSeconds | Should -Be 90
        }

        It 'gives the child only the time left before the command deadline' {
            $null = Invoke-Document runScript @{ phase = 'post'; script = 'C:\s.ps1'; deadline = (Get-IsoInstant $global:Fake.Now.AddMinutes(30)) }
            $expected = (30 * 60 - $script:Contract.deadlineMarginSeconds) * 1000
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $TimeoutMilliseconds -eq $expected }
        }
    }

    Context 'a script that fails or hangs' {
        It 'fails the command when the script exits <Code>' -ForEach @(@{ Code = 1 }, @{ Code = 3010 }, @{ Code = -1 }) {
            Mock Invoke-Installer { @{ exited = $true; exitCode = $Code; output = @() } }
            $run = Invoke-Document runScript @{ phase = 'post'; script = 'C:\s.ps1' }
            $run.ExitCode | Should -Be 1
            $run.Results[0].exitCode | Should -Be $Code
        }

        It 'stops it at the deadline and fails, saying so' {
            Mock Invoke-Installer { @{ exited = $false; exitCode = $null; output = @() } }
            $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\s.ps1' } -Fixture 'run-script-timeout'
            $run.ExitCode | Should -Be 1
            $run.Results[0].timedOut | Should -BeTrue
            $run.Errors | Should -Match 'command deadline'
        }

        It 'fails when the script does not exist' {
            Mock Test-FileExists { $false }
            $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\missing.ps1' }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'does not exist'
            Should -Invoke Invoke-Installer -Times 0
        }
    }

    Context 'a bad or hostile payload' {
        It 'refuses script <Script>' -ForEach @(
            @{ Script = 'relative\s.ps1'; Why = 'full path' },
            @{ Script = 'C:\s.bat'; Why = '\.ps1' },
            @{ Script = 'C:\a" -Command "Stop-Computer.ps1'; Why = 'double quote' },
            @{ Script = ''; Why = 'non-empty' }
        ) {
            $run = Invoke-Document runScript @{ phase = 'pre'; script = $Script }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.script'
            $run.Errors | Should -Match $Why
            Should -Invoke Invoke-Installer -Times 0
        }

        It 'passes $() and backticks in a path as text, never as code' {
            $run = Invoke-Document runScript @{ phase = 'pre'; script = 'C:\$(Stop-Computer)\`n.ps1' }
            $run.ExitCode | Should -Be 0
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $Arguments.EndsWith('-File "C:\$(Stop-Computer)\`n.ps1"') }
        }

        It 'refuses phase <Phase>' -ForEach @(@{ Phase = 'PRE' }, @{ Phase = 'during' }) {
            $run = Invoke-Document runScript @{ phase = $Phase; script = 'C:\s.ps1' }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.phase'
        }
    }
}
