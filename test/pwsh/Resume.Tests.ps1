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
            $run = Invoke-Document resume @{ failbackMode = $Mode; storageRepairTimeoutMinutes = 0 } -Fixture ('resume-' + $Mode)
            $run.ExitCode | Should -Be 0
            $run.Results[0].resumed | Should -BeTrue
            $run.Results[0].failback | Should -Be $Mode
            Should -Invoke Resume-ClusterNode -Times 1 -ParameterFilter { $Name -eq 'NODE1' -and $Failback -eq $Mode }
        }
    }

    Context 'a node already Up (a retry)' {
        It 'succeeds without resuming it' {
            $global:Fake.State = 'Up'
            $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = 0 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].alreadyUp | Should -BeTrue
            Should -Invoke Resume-ClusterNode -Times 0
        }
    }

    Context 'a node still joining after its restart' {
        It 'waits for it to be Paused, then resumes it' {
            $global:Fake.State = 'Joining'
            Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds); $global:Fake.State = 'Paused' }
            $run = Invoke-Document resume @{ failbackMode = 'NoFailback'; storageRepairTimeoutMinutes = 0 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].resumed | Should -BeTrue
        }

        It 'fails when it is still Down at the command deadline' {
            $global:Fake.State = 'Down'
            $start = $global:Fake.Now
            $run = Invoke-Document resume @{ failbackMode = 'NoFailback'; storageRepairTimeoutMinutes = 0; deadline = (Get-IsoInstant $start.AddMinutes(5)) }
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
            $run = Invoke-Document resume @{ failbackMode = $Mode; storageRepairTimeoutMinutes = 0 }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.failbackMode'
            Should -Invoke Get-ClusterNode -Times 0
        }
    }

    Context 'a standalone server' {
        It 'resumes nothing and succeeds' {
            Mock Get-ServiceStatus { $null } -ParameterFilter { $Name -eq 'ClusSvc' }
            $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = 0 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].clustered | Should -BeFalse
        }
    }
    Context 'storageRepairTimeoutMinutes (WaitForStorageRepairTimeoutMinutes)' {
        BeforeEach {
            # Jobs that finish at given instants of the fake clock, as Get-StorageJob would show them.
            $global:Fake.Jobs = @(
                @{ Name = 'CLUSTER1-Pool Repair'; Until = $global:Fake.Now.AddMinutes(12) },
                @{ Name = 'CLUSTER1-Pool Regeneration'; Until = $global:Fake.Now.AddMinutes(4) }
            )
            Mock Get-StorageRepairJobs {
                @($global:Fake.Jobs | Where-Object { $global:Fake.Now -lt $_.Until } | ForEach-Object {
                        [pscustomobject]@{ name = $_.Name; state = 'Running'; percentComplete = 50 }
                    })
            }
        }

        It 'waits, after the resume, until every repair job has finished' {
            $start = $global:Fake.Now
            $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 20 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].resumed | Should -BeTrue
            $run.Results[0].storageRepair.timedOut | Should -BeFalse
            $run.Results[0].PSObject.Properties['storageRepairTimedOut'] | Should -BeNullOrEmpty
            ($global:Fake.Now - $start).TotalMinutes | Should -BeGreaterOrEqual 12
            ($global:Fake.Now - $start).TotalMinutes | Should -BeLessThan 13
            Should -Invoke Resume-ClusterNode -Times 1
        }

        It 'stops waiting at the limit and names the jobs still running' {
            $start = $global:Fake.Now
            $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 10 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].storageRepair.timedOut | Should -BeTrue
            @($run.Results[0].storageRepairTimedOut) | Should -Be @('CLUSTER1-Pool Repair (Running, 50%)')
            $run.Results[0].storageRepair.detail | Should -Match 'after 10 minutes.*CLUSTER1-Pool Repair'
            ($global:Fake.Now - $start).TotalMinutes | Should -BeLessThan 11
        }

        It 'waits also when the node was already Up' {
            $global:Fake.State = 'Up'
            $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = 20 }
            $run.Results[0].alreadyUp | Should -BeTrue
            $run.Results[0].storageRepair.timedOut | Should -BeFalse
            Should -Invoke Get-StorageRepairJobs -Scope It -Times 2 -Because 'one look, then polls every 30 s until 12 minutes'
        }

        It 'does not look at storage jobs with 0 (no wait)' {
            $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = 0 }
            $run.ExitCode | Should -Be 0
            $run.Results[0].PSObject.Properties['storageRepair'] | Should -BeNullOrEmpty
            Should -Invoke Get-StorageRepairJobs -Times 0
        }

        It 'refuses a limit that is not a whole number from 0 to 1440 (<Value>)' -ForEach @(
            @{ Value = -1 }, @{ Value = 1441 }, @{ Value = '10' }, @{ Value = $null }
        ) {
            $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = $Value }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.storageRepairTimeoutMinutes'
            Should -Invoke Resume-ClusterNode -Times 0
        }
    }
}


Describe 'ResumeNode after the restart: Up in the cluster, and the failback check (issue 13 item 6)' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); State = 'Paused'; BackAt = $null }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ State = $global:Fake.State } }
        Mock Resume-ClusterNode { $global:Fake.State = 'Up' }
        # SQL1 is back on NODE1 from BackAt on (never when $null); FS1 never left another node.
        Mock Get-ClusterGroup {
            $back = $null -ne $global:Fake.BackAt -and $global:Fake.Now -ge $global:Fake.BackAt
            @(
                [pscustomobject]@{ Name = 'SQL1'; OwnerNode = [pscustomobject]@{ Name = $(if ($back) { 'NODE1' } else { 'NODE2' }) } },
                [pscustomobject]@{ Name = 'FS1'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }
            )
        }
    }

    It 'waits with Immediate until the drained roles are owned by the node again' {
        $global:Fake.BackAt = $global:Fake.Now.AddMinutes(3)
        $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 0; failbackGroups = @('SQL1', 'FS1'); failbackTimeoutMinutes = 10 } -Fixture 'resume-failback-waited'
        $run.ExitCode | Should -Be 0
        $run.Results[0].failbackCheck.notBack.Count | Should -Be 0
        $run.Results[0].failbackCheck.back | Should -Be @('SQL1', 'FS1')
        $run.Results[0].failbackCheck.waitedSeconds | Should -BeGreaterOrEqual 180
        $run.Results[0].failbackCheck.waitedSeconds | Should -BeLessThan 200
        $run.Results[0].PSObject.Properties.Name | Should -Not -Contain 'rolesNotFailedBack'
    }

    It 'stops waiting at the limit and names the roles not back (rolesNotFailedBack)' {
        $start = $global:Fake.Now
        $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 0; failbackGroups = @('SQL1', 'FS1'); failbackTimeoutMinutes = 5 } -Fixture 'resume-failback-timed-out'
        $run.ExitCode | Should -Be 0
        $run.Results[0].rolesNotFailedBack | Should -Be @('SQL1')
        $run.Results[0].failbackCheck.timedOut | Should -BeTrue
        $run.Results[0].failbackCheck.detail | Should -Match 'after 5 minutes \(failback Immediate\): SQL1$'
        ($global:Fake.Now - $start).TotalMinutes | Should -BeGreaterOrEqual 5
        ($global:Fake.Now - $start).TotalMinutes | Should -BeLessThan 5.5
    }

    It 'reports, without waiting or failing, with Policy (each role fails back by its own policy)' {
        $start = $global:Fake.Now
        $run = Invoke-Document resume @{ failbackMode = 'Policy'; storageRepairTimeoutMinutes = 0; failbackGroups = @('SQL1'); failbackTimeoutMinutes = 0 }
        $run.ExitCode | Should -Be 0
        $run.Results[0].failbackCheck.notBack | Should -Be @('SQL1')
        $run.Results[0].failbackCheck.timedOut | Should -BeFalse
        $run.Results[0].PSObject.Properties.Name | Should -Not -Contain 'rolesNotFailedBack'
        $global:Fake.Now | Should -Be $start
    }

    It 'checks nothing with NoFailback, or without the optional fields (an older payload)' {
        $run = Invoke-Document resume @{ failbackMode = 'NoFailback'; storageRepairTimeoutMinutes = 0; failbackGroups = @('SQL1'); failbackTimeoutMinutes = 5 }
        $run.Results[0].PSObject.Properties.Name | Should -Not -Contain 'failbackCheck'
        $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 0 }
        $run.ExitCode | Should -Be 0
        $run.Results[0].PSObject.Properties.Name | Should -Not -Contain 'failbackCheck'
        Should -Invoke Get-ClusterGroup -Times 0
    }

    It 'refuses failbackGroups that are not role names (<Value>)' -ForEach @(
        @{ Value = 'SQL1' }, @{ Value = @('') }, @{ Value = @(7) }
    ) {
        $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 0; failbackGroups = $Value; failbackTimeoutMinutes = 5 }
        $run.ExitCode | Should -Be 1
        $run.Output | Should -Match 'payload\.failbackGroups'
        Should -Invoke Resume-ClusterNode -Times 0
    }

    It 'fails a node still Down after the join wait, with clusterNodeNotUp in its result' {
        $global:Fake.State = 'Down'
        $run = Invoke-Document resume @{ failbackMode = 'Immediate'; storageRepairTimeoutMinutes = 0; failbackGroups = @('SQL1'); failbackTimeoutMinutes = 5 } -Fixture 'resume-not-up'
        $run.ExitCode | Should -Be 1
        $run.Results[0].clusterNodeNotUp | Should -Be 'Down'
        $run.Results[0].detail | Should -Match 'Down after waiting 10 minutes to join'
        Should -Invoke Resume-ClusterNode -Times 0
    }
}

Describe 'Get-StorageRepairJobs (the seam over Get-StorageJob)' {
    BeforeAll {
        # The Storage module is Windows-only: a stub for Mock to find.
        if ($null -eq (Get-Command -Name 'Get-StorageJob' -ErrorAction SilentlyContinue)) {
            function global:Get-StorageJob { param() }
        }
    }

    It 'keeps repair and regeneration jobs not Completed, as { name, state, percentComplete }' {
        Mock Get-StorageJob {
            @(
                [pscustomobject]@{ Name = 'Pool-Repair'; JobState = 'Running'; PercentComplete = 40 },
                [pscustomobject]@{ Name = 'Pool-Regeneration'; JobState = 'Suspended'; PercentComplete = 0 },
                [pscustomobject]@{ Name = 'Pool-Repair 2'; JobState = 'Completed'; PercentComplete = 100 },
                [pscustomobject]@{ Name = 'Optimize'; JobState = 'Running'; PercentComplete = 10 }
            )
        }
        $jobs = @(Get-StorageRepairJobs)
        $jobs.Count | Should -Be 2
        $jobs[0].name | Should -Be 'Pool-Repair'
        $jobs[0].state | Should -Be 'Running'
        $jobs[0].percentComplete | Should -Be 40
        $jobs[1].name | Should -Be 'Pool-Regeneration'
    }

    It 'returns nothing when no job runs' {
        Mock Get-StorageJob { }
        @(Get-StorageRepairJobs).Count | Should -Be 0
    }
}
