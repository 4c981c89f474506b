BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

Describe 'ResumeNode' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); State = 'Paused' }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ State = $global:Fake.State } }
        Mock Resume-ClusterNode { $global:Fake.State = 'Up' }
    }

    Context 'a paused node, with each FailbackMode' {
        It 'resumes it with -Failback <mode>' -ForEach @(
            @{ Mode = 'NoFailback' }, @{ Mode = 'Immediate' }, @{ Mode = 'Policy' }
        ) {
            $run = Invoke-Document resume @{ failbackMode = $Mode } -Fixture ('resume-' + $Mode)
            $run.ExitCode | Should -Be 0
            $run.Results[0].resumed | Should -BeTrue
            $run.Results[0].failback | Should -Be $Mode
            Should -Invoke Resume-ClusterNode -Times 1 -ParameterFilter { $Name -eq 'NODE1' -and $Failback -eq $Mode }
        }
    }

    Context 'a node already Up (a retry)' {
        It 'succeeds without resuming it' {
            $global:Fake.State = 'Up'
            $run = Invoke-Document resume @{ failbackMode = 'Policy' }
            $run.ExitCode | Should -Be 0
            $run.Results[0].alreadyUp | Should -BeTrue
            Should -Invoke Resume-ClusterNode -Times 0
        }
    }

    Context 'a node still joining after its restart' {
        It 'waits for it to be Paused, then resumes it' {
            $global:Fake.State = 'Joining'
            Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds); $global:Fake.State = 'Paused' }
            $run = Invoke-Document resume @{ failbackMode = 'NoFailback' }
            $run.ExitCode | Should -Be 0
            $run.Results[0].resumed | Should -BeTrue
        }

        It 'fails when it is still Down at the command deadline' {
            $global:Fake.State = 'Down'
            $start = $global:Fake.Now
            $run = Invoke-Document resume @{ failbackMode = 'NoFailback'; deadline = (Get-IsoInstant $start.AddMinutes(5)) }
            $run.ExitCode | Should -Be 1
            $run.Results[0].nodeState | Should -Be 'Down'
            ($global:Fake.Now - $start).TotalMinutes | Should -BeLessThan 5
            Should -Invoke Resume-ClusterNode -Times 0
        }
    }

    Context 'a hostile or unknown FailbackMode' {
        It 'refuses <Mode> before touching the cluster' -ForEach @(
            @{ Mode = 'immediate' }, @{ Mode = 'Immediate; Stop-Computer' }, @{ Mode = '$(Stop-Computer)' }, @{ Mode = "Policy`n" }
        ) {
            $run = Invoke-Document resume @{ failbackMode = $Mode }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.failbackMode'
            Should -Invoke Get-ClusterNode -Times 0
        }
    }

    Context 'a standalone server' {
        It 'resumes nothing and succeeds' {
            Mock Get-ServiceStatus { $null } -ParameterFilter { $Name -eq 'ClusSvc' }
            $run = Invoke-Document resume @{ failbackMode = 'Policy' }
            $run.ExitCode | Should -Be 0
            $run.Results[0].clustered | Should -BeFalse
        }
    }
}
