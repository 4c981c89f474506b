BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'inventory') { . ([scriptblock]::Create($definition)) }
}

Describe 'Inventory' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc) }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Get-OperatingSystem {
            [pscustomobject]@{ Caption = 'Microsoft Windows Server 2022 Datacenter '; Version = '10.0.20348'; BuildNumber = '20348'; ServicePackMajorVersion = 0; LastBootUpTime = [datetime]::new(2026, 3, 28, 22, 0, 0, [DateTimeKind]::Utc) }
        }
        Mock Get-RegistryValue { $null }
        Mock Get-RegistryValue { 'ServerDatacenter' } -ParameterFilter { $Name -eq 'EditionID' }
        Mock Get-RegistryValue { 2340 } -ParameterFilter { $Name -eq 'UBR' }
        Mock Test-RegistryKey { $false }
        Mock Get-FileVersion { '10.0.20348.2340' } -ParameterFilter { $Path -like '*authz.dll' }
        Mock Get-FileVersion { $null }
        Mock Get-ServiceStatus { $null }
        Mock Get-DeviceGuardStatus { @([pscustomobject]@{ VirtualizationBasedSecurityStatus = 2 }) }
        Mock Test-SecureBoot { $true }
        Mock Get-InstalledHotFixIds { @('KB5034439', 'KB5034439', 'KB5030001', '') }
        $env:PROCESSOR_ARCHITECTURE = 'AMD64'
    }

    It 'reports the facts of a standalone server' {
        $run = Invoke-Document inventory @{ binaries = @('%windir%\system32\authz.dll', 'C:\missing.dll') } -Fixture 'inventory-standalone'
        $run.ExitCode | Should -Be 0
        $facts = $run.Results[0]
        $facts.computerName | Should -Be 'NODE1'
        $facts.os.build | Should -Be '20348.2340'
        $facts.os.caption | Should -Be 'Microsoft Windows Server 2022 Datacenter'
        $facts.os.architecture | Should -Be 'x64'
        $facts.binaries[0].fileVersion | Should -Be '10.0.20348.2340'
        $facts.binaries[1].fileVersion | Should -BeNullOrEmpty
        $facts.cluster | Should -BeNullOrEmpty
        $facts.pendingReboot | Should -BeFalse
        $facts.hotpatch.vbsEnabled | Should -BeTrue
        $facts.installedUpdates | Should -Be @('KB5030001', 'KB5034439')
    }

    It 'reports a pending restart from Component Based Servicing' {
        Mock Test-RegistryKey { $true } -ParameterFilter { $Path -like '*RebootPending' }
        (Invoke-Document inventory @{ binaries = @() }).Results[0].pendingReboot | Should -BeTrue
    }

    It 'reports cluster membership' {
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ Name = 'NODE1'; State = 'Up' } } -ParameterFilter { $Name }
        Mock Get-ClusterNode { @([pscustomobject]@{ Name = 'NODE1'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE2'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE3'; State = 'Up' }) } -ParameterFilter { -not $Name }
        Mock Get-ClusterGroup {
            @(
                [pscustomobject]@{ Name = 'Cluster Group'; GroupType = 'Cluster'; OwnerNode = [pscustomobject]@{ Name = 'NODE2' } }
                [pscustomobject]@{ Name = 'Available Storage'; GroupType = 'AvailableStorage'; OwnerNode = [pscustomobject]@{ Name = 'NODE2' } }
                [pscustomobject]@{ Name = 'SQL Server (MSSQLSERVER)'; GroupType = 'GenericService'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }
                [pscustomobject]@{ Name = 'FS01'; GroupType = 'FileServer'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }
                [pscustomobject]@{ Name = 'VM01'; GroupType = 'VirtualMachine'; OwnerNode = [pscustomobject]@{ Name = 'NODE3' } }
            )
        }
        $run = Invoke-Document inventory @{ binaries = @() } -Fixture 'inventory-cluster'
        $run.Results[0].cluster.name | Should -Be 'CLUSTER1'
        $run.Results[0].cluster.nodeState | Should -Be 'Up'
        @($run.Results[0].cluster.nodes).Count | Should -Be 3
        $run.Results[0].cluster.nodes[1].name | Should -Be 'NODE2'
        $run.Results[0].cluster.nodes[1].state | Should -Be 'Up'
        $run.Results[0].cluster.notUp | Should -Be ''
    }

    It 'names every member that is not Up (paused by an operator, down)' {
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ Name = 'NODE1'; State = 'Up' } } -ParameterFilter { $Name }
        Mock Get-ClusterNode {
            @(
                [pscustomobject]@{ Name = 'NODE1'; State = 'Up' },
                [pscustomobject]@{ Name = 'NODE2'; State = 'Paused' },
                [pscustomobject]@{ Name = 'NODE3'; State = 'Down' }
            )
        } -ParameterFilter { -not $Name }
        $run = Invoke-Document inventory @{ binaries = @() } -Fixture 'inventory-cluster-paused'
        $run.ExitCode | Should -Be 0
        $run.Results[0].cluster.nodeState | Should -Be 'Up'
        $run.Results[0].cluster.notUp | Should -Be 'NODE2 is Paused, NODE3 is Down'
        ($run.Results[0].cluster.nodes | ForEach-Object { $_.state }) | Should -Be @('Up', 'Paused', 'Down')
    }

    It 'counts clustered roles per owner node, leaving out the core cluster group and storage' {
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ Name = 'NODE1'; State = 'Up' } } -ParameterFilter { $Name }
        Mock Get-ClusterNode { @([pscustomobject]@{ Name = 'NODE1'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE2'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE3'; State = 'Up' }) } -ParameterFilter { -not $Name }
        Mock Get-ClusterGroup {
            @(
                [pscustomobject]@{ Name = 'Cluster Group'; GroupType = 'Cluster'; OwnerNode = [pscustomobject]@{ Name = 'NODE2' } }
                [pscustomobject]@{ Name = 'Available Storage'; GroupType = 'AvailableStorage'; OwnerNode = [pscustomobject]@{ Name = 'NODE2' } }
                [pscustomobject]@{ Name = 'SQL Server (MSSQLSERVER)'; GroupType = 'GenericService'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }
                [pscustomobject]@{ Name = 'FS01'; GroupType = 'FileServer'; OwnerNode = [pscustomobject]@{ Name = 'NODE1' } }
                [pscustomobject]@{ Name = 'VM01'; GroupType = 'VirtualMachine'; OwnerNode = [pscustomobject]@{ Name = 'NODE3' } }
            )
        }
        $counts = (Invoke-Document inventory @{ binaries = @() }).Results[0].cluster.roleCounts
        @($counts.PSObject.Properties.Name) | Should -Be @('NODE1', 'NODE3')
        $counts.NODE1 | Should -Be 2
        $counts.NODE3 | Should -Be 1
    }

    It 'leaves the role counts out when the cluster groups cannot be read' {
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Import-FailoverClusterModule {}
        Mock Get-Cluster { [pscustomobject]@{ Name = 'CLUSTER1' } }
        Mock Get-ClusterNode { [pscustomobject]@{ Name = 'NODE1'; State = 'Up' } } -ParameterFilter { $Name }
        Mock Get-ClusterNode { @([pscustomobject]@{ Name = 'NODE1'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE2'; State = 'Up' }, [pscustomobject]@{ Name = 'NODE3'; State = 'Up' }) } -ParameterFilter { -not $Name }
        Mock Get-ClusterGroup { throw 'The cluster service is not running' }
        $run = Invoke-Document inventory @{ binaries = @() }
        $run.ExitCode | Should -Be 0
        $run.Results[0].cluster.nodeState | Should -Be 'Up'
        $run.Results[0].cluster.PSObject.Properties.Name | Should -Not -Contain 'roleCounts'
    }

    It 'reports an unreadable membership as Unknown, not as a standalone server' {
        Mock Get-ServiceStatus { 'Stopped' } -ParameterFilter { $Name -eq 'ClusSvc' }
        Mock Get-ServiceStartMode { 'Auto' }
        $run = Invoke-Document inventory @{ binaries = @() }
        $run.Results[0].cluster.nodeState | Should -Be 'Unknown'
    }

    It 'refuses binaries <Value>' -ForEach @(@{ Value = 'C:\a.dll' }, @{ Value = @(1) }) {
        $run = Invoke-Document inventory @{ binaries = $Value }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'payload\.binaries'
    }
}
