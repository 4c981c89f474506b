BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

Describe 'DrainNode' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc) }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterGroup { @([pscustomobject]@{ Name = 'SQL Server (MSSQLSERVER)'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }) }
        Mock Suspend-ClusterNode {}
    }

    Context 'a standalone server' {
        It 'drains nothing and succeeds' {
            Mock Get-ServiceStatus { $null } -ParameterFilter { $Name -eq 'ClusSvc' }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 } -Fixture 'drain-standalone'
            $run.ExitCode | Should -Be 0
            $run.Results[0].clustered | Should -BeFalse
            Should -Invoke Suspend-ClusterNode -Times 0
        }
    }

    Context 'an Up node whose roles move off' {
        It 'suspends it with -Drain and reports it paused and drained' {
            $global:Fake.Polls = 0
            Mock Get-ClusterNode {
                $global:Fake.Polls++
                if ($global:Fake.Polls -eq 1) { return [pscustomobject]@{ State = 'Up'; DrainStatus = 'NotInitiated' } }
                if ($global:Fake.Polls -lt 4) { return [pscustomobject]@{ State = 'Paused'; DrainStatus = 'InProgress' } }
                [pscustomobject]@{ State = 'Paused'; DrainStatus = 'Completed' }
            }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 } -Fixture 'drain-drained'
            $run.ExitCode | Should -Be 0
            $run.Results[0].drained | Should -BeTrue
            $run.Results[0].cluster | Should -Be 'CLUSTER1'
            # Timed on the clock seam: the polls' waits, in (fake) virtual seconds.
            $waited = ($global:Fake.Now - [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc)).TotalSeconds
            $waited | Should -BeGreaterThan 0
            $run.Results[0].durationSeconds | Should -Be $waited
            Should -Invoke Suspend-ClusterNode -Times 1 -ParameterFilter { $Name -eq 'NODE1' -and $Drain }
            # The roles it owned before the drain: what the resume's failback check expects back.
            $run.Results[0].movedGroups | Should -Be @('SQL Server (MSSQLSERVER)')
        }
    }

    Context 'a drain that does not finish' {
        It 'fails after timeoutMinutes, naming the roles left on the node' {
            Mock Get-ClusterNode { [pscustomobject]@{ State = 'Paused'; DrainStatus = 'InProgress' } }
            $start = $global:Fake.Now
            $run = Invoke-Document drain @{ timeoutMinutes = 5 } -Fixture 'drain-timeout'
            $run.ExitCode | Should -Be 1
            $run.Results[0].drained | Should -BeFalse
            $run.Results[0].remainingGroups | Should -Be @('SQL Server (MSSQLSERVER)')
            ($global:Fake.Now - $start).TotalMinutes | Should -BeGreaterOrEqual 5
            ($global:Fake.Now - $start).TotalMinutes | Should -BeLessThan 5.2
        }

        It 'stops waiting at the command deadline when that comes first' {
            Mock Get-ClusterNode { [pscustomobject]@{ State = 'Paused'; DrainStatus = 'InProgress' } }
            $start = $global:Fake.Now
            $run = Invoke-Document drain @{ timeoutMinutes = 600; deadline = (Get-IsoInstant $start.AddMinutes(10)) }
            $run.ExitCode | Should -Be 1
            # The deadline less the contract's margin.
            ($global:Fake.Now - $start).TotalSeconds | Should -BeLessOrEqual (600 - $script:Contract.deadlineMarginSeconds + 5)
        }
    }

    Context 'a node already paused and drained (a retry)' {
        It 'succeeds without suspending it again' {
            Mock Get-ClusterNode { [pscustomobject]@{ State = 'Paused'; DrainStatus = 'Completed' } }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].detail | Should -Be 'already paused and drained'
            Should -Invoke Suspend-ClusterNode -Times 0
        }
    }

    Context 'a node that is Down' {
        It 'fails without suspending it' {
            Mock Get-ClusterNode { [pscustomobject]@{ State = 'Down'; DrainStatus = 'NotInitiated' } }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'the node is Down'
            Should -Invoke Suspend-ClusterNode -Times 0
        }
    }

    Context 'a cluster service that does not start after a restart' {
        It 'fails naming the service rather than treating the node as standalone' {
            Mock Get-ServiceStatus { 'Stopped' } -ParameterFilter { $Name -eq 'ClusSvc' }
            Mock Get-ServiceStartMode { 'Auto' }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'ClusSvc'
        }
    }

    Context 'the roles a failback brings back (issue 13 item 6)' {
        It 'lists the roles the node owned before the drain, not the cluster''s own groups' {
            $global:Fake.Polls = 0
            Mock Get-ClusterNode {
                $global:Fake.Polls++
                if ($global:Fake.Polls -eq 1) { return [pscustomobject]@{ State = 'Up'; DrainStatus = 'NotInitiated' } }
                [pscustomobject]@{ State = 'Paused'; DrainStatus = 'Completed' }
            }
            Mock Get-ClusterGroup {
                @(
                    [pscustomobject]@{ Name = 'SQL1'; GroupType = 'GenericService'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } },
                    [pscustomobject]@{ Name = 'Cluster Group'; GroupType = 'Cluster'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } },
                    [pscustomobject]@{ Name = 'Available Storage'; GroupType = 'AvailableStorage'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } },
                    [pscustomobject]@{ Name = 'FS2'; GroupType = 'FileServer'; OwnerNode = [pscustomobject]@{ Name = 'NODE2' } }
                )
            }
            $run = Invoke-Document drain @{ timeoutMinutes = 30 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].movedGroups | Should -Be @('SQL1')
        }
    }
}
