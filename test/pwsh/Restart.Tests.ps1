BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

Describe 'RestartNode' {
    BeforeEach {
        $global:Fake = @{
            Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc)
            Boot = 'boot-1'
            BootTime = [datetime]::new(2026, 3, 28, 22, 0, 0, [DateTimeKind]::Utc)
            Markers = @{}
        }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Get-BootSessionId { $global:Fake.Boot }
        Mock Get-LastBootTime { $global:Fake.BootTime }
        Mock Get-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] }
        Mock Set-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] = $Value }
        Mock Remove-RolloutMarker { $global:Fake.Markers.Remove($Key + '\' + $Name) }
    }

    Context 'SSM Agent runs the step, restarts on 3010, and runs it again' {
        It 'asks for a restart first, then reports the new boot and exits 0' {
            $payload = @{ runId = 'run-1'; reason = 'updates installed' }
            $first = Invoke-Document restart $payload -Fixture 'restart-first-run'
            $first.ExitCode | Should -Be 3010
            $first.Results.Count | Should -Be 0
            $global:Fake.Markers.Keys | Should -Be @('Restart\run-1')

            $global:Fake.Boot = 'boot-2'
            $global:Fake.BootTime = $global:Fake.Now.AddMinutes(3)
            $global:Fake.Now = $global:Fake.Now.AddMinutes(5)
            $second = Invoke-Document restart $payload -Fixture 'restart-second-run'
            $second.ExitCode | Should -Be 0
            $second.Results[0].restarted | Should -BeTrue
            $second.Results[0].lastBootTime | Should -Be $global:Fake.BootTime.ToString('o')
            $global:Fake.Markers.Count | Should -Be 0
        }

        It 'asks again when run twice in the same boot (no restart happened)' {
            $payload = @{ runId = 'run-1'; reason = '' }
            (Invoke-Document restart $payload).ExitCode | Should -Be 3010
            (Invoke-Document restart $payload).ExitCode | Should -Be 3010
        }

        It 'replaces a marker more than a day old instead of reporting a restart' {
            $global:Fake.Markers['Restart\run-1'] = '{"bootSession":"boot-0","lastBootTime":"2026-03-20T00:00:00.0000000Z","requestedAt":"2026-03-20T00:00:00.0000000Z","reason":""}'
            $run = Invoke-Document restart @{ runId = 'run-1'; reason = '' }
            $run.ExitCode | Should -Be 3010
            $global:Fake.Markers['Restart\run-1'] | Should -Match 'boot-1'
        }
    }

    Context 'run ids' {
        It 'accepts <RunId>, as the rollout input does' -ForEach @(
            @{ RunId = '_leading-underscore' }, @{ RunId = '-leading-dash' }, @{ RunId = 'a' }, @{ RunId = ('x' * 64) }
        ) {
            $run = Invoke-Document restart @{ runId = $RunId; reason = '' }
            $run.ExitCode | Should -Be 3010
            $run.Errors | Should -BeNullOrEmpty
        }

        It 'refuses <RunId> naming payload.runId' -ForEach @(
            @{ RunId = ('x' * 65) }, @{ RunId = "run`n" }, @{ RunId = 'run.1' }, @{ RunId = 'run:1' }, @{ RunId = '$(Restart-Computer)' }, @{ RunId = '' }
        ) {
            $run = Invoke-Document restart @{ runId = $RunId; reason = '' }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.runId'
            Should -Invoke Set-RolloutMarker -Times 0
        }
    }

    Context 'a hostile reason' {
        It 'keeps it as data: quotes, $(), backticks, a newline and unicode reach the result intact' {
            $reason = "it's `"quoted`" `$(Stop-Computer) ``n`nline two \u00e9 $([char]0x00e9)$([char]0x4e2d)"
            (Invoke-Document restart @{ runId = 'run-1'; reason = $reason }).ExitCode | Should -Be 3010
            $global:Fake.Boot = 'boot-2'
            $run = Invoke-Document restart @{ runId = 'run-1'; reason = $reason }
            $run.ExitCode | Should -Be 0
            $run.Results[0].reason | Should -BeExactly $reason
            # Result lines stay ASCII whatever the agent's code page.
            ($run.Lines | Where-Object { $_ -match '[^\x00-\x7F]' }) | Should -BeNullOrEmpty
        }
    }
}
