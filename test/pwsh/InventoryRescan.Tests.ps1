BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'inventory') { . ([scriptblock]::Create($definition)) }

    $global:SecurityId = '0fa1201d-4330-4fa8-8ae9-b877473b6441'
    $global:DriverId = 'ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0'

    . (Join-Path $PSScriptRoot 'FakeWindowsUpdate.ps1')

    # A session whose searcher returns Updates; a downloader or an installer fails the test
    # (New-FakeWuaSession's defaults).
    function New-FakeSession {
        param([object[]] $Updates, [int] $SearchResult = 2)
        New-FakeWuaSession $Updates -SearchResult $SearchResult
    }

    $global:Hotfixes = @(
        @{ kb = 'KB5034439'; file = 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' },
        @{ kb = 'KB5034441'; file = 'CAUHotfix_All/windows10.0-kb5034441-x64.msu' }
    )
    $global:Query = "IsInstalled=0 and Type='Software' and IsHidden=0"
}

Describe 'Inventory: the rescan after the final restart (Verify)' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Queries = @() }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Get-OperatingSystem {
            [pscustomobject]@{ Caption = 'Microsoft Windows Server 2022 Datacenter'; Version = '10.0.20348'; BuildNumber = '20348'; ServicePackMajorVersion = 0; LastBootUpTime = [datetime]::new(2026, 3, 28, 22, 0, 0, [DateTimeKind]::Utc) }
        }
        Mock Get-RegistryValue { $null }
        Mock Test-RegistryKey { $false }
        Mock Get-FileVersion { $null }
        Mock Get-ServiceStatus { $null }
        Mock Get-DeviceGuardStatus { @() }
        Mock Test-SecureBoot { $false }
        Mock Get-InstalledHotFixIds { @('KB5034439', 'KB5035001') }
        Mock New-WindowsUpdateSession {
            New-FakeSession @(
                (New-FakeWuaUpdate 'Cumulative Update (KB5035002)' '5035002'),
                (New-FakeWuaUpdate 'Installed, waiting for a restart (KB5035003)' '5035003' -Installed $true -RebootRequired $true),
                (New-FakeWuaUpdate 'Installed (KB5035001)' '5035001' -Installed $true),
                (New-FakeWuaUpdate 'Recommended driver (KB5030001)' '5030001' -Important $false -CategoryIds @($global:DriverId)),
                (New-FakeWuaUpdate 'Optional preview (KB5030002)' '5030002' -Important $false -BrowseOnly $true),
                (New-FakeWuaUpdate 'Held back (KB5030003)' '5030003')
            )
        }
    }

    Context 'not asked (the Inventory before the install)' {
        It 'reports rescan null and searches nothing' {
            $run = Invoke-Document inventory @{ binaries = @() }
            $run.ExitCode | Should -Be 0
            $run.Results[0].PSObject.Properties.Name | Should -Contain 'rescan'
            $run.Results[0].rescan | Should -BeNullOrEmpty
            Should -Invoke New-WindowsUpdateSession -Times 0 -Exactly
        }
    }

    Context 'the hotfix plug-in only' {
        It 'reports each planned KB the node does not have, and searches nothing' {
            $run = Invoke-Document inventory @{ binaries = @(); rescan = @{ windowsUpdate = $null; hotfixes = $global:Hotfixes } }
            $run.ExitCode | Should -Be 0
            $rescan = $run.Results[0].rescan
            @($rescan.stillApplicable).Count | Should -Be 1
            $rescan.stillApplicable[0].kb | Should -Be 'KB5034441'
            $rescan.stillApplicable[0].title | Should -Be 'CAUHotfix_All/windows10.0-kb5034441-x64.msu'
            $rescan.stillApplicable[0].source | Should -Be 'Hotfix'
            $rescan.stillApplicable[0].restartPending | Should -BeFalse
            $rescan.searchError | Should -BeNullOrEmpty
            Should -Invoke New-WindowsUpdateSession -Times 0 -Exactly
        }

        It 'says a missing KB waits for a restart when the node still has one pending' {
            Mock Test-RegistryKey { $true } -ParameterFilter { $Path -like '*RebootPending' }
            $run = Invoke-Document inventory @{ binaries = @(); rescan = @{ windowsUpdate = $null; hotfixes = $global:Hotfixes } }
            $run.Results[0].rescan.stillApplicable[0].restartPending | Should -BeTrue
        }
    }

    Context 'the Windows Update plug-in' {
        It 'searches with the run''s QueryString and keeps what InstallWindowsUpdates would take' {
            $request = @{
                windowsUpdate = @{ queryString = $global:Query; includeRecommendedUpdates = $false; selection = @{ excludeKbs = @('KB5030003') } }
                hotfixes = @()
            }
            $run = Invoke-Document inventory @{ binaries = @(); rescan = $request } -Fixture 'inventory-verify-rescan'
            $run.ExitCode | Should -Be 0
            $global:Fake.Queries | Should -Be @($global:Query)
            $found = @($run.Results[0].rescan.stillApplicable)
            # Not the installed one, the recommended driver (IncludeRecommendedUpdates false), the
            # optional preview, nor the one the selection holds back.
            $found.kb | Should -Be @('KB5035002', 'KB5035003')
            $found[0].source | Should -Be 'WindowsUpdate'
            $found[0].title | Should -Be 'Cumulative Update (KB5035002)'
            $found[0].restartPending | Should -BeFalse
            $found[1].restartPending | Should -BeTrue
        }

        It 'takes the recommended driver too with IncludeRecommendedUpdates, never the optional one' {
            $request = @{ windowsUpdate = @{ queryString = $global:Query; includeRecommendedUpdates = $true; selection = $null }; hotfixes = @() }
            $found = @((Invoke-Document inventory @{ binaries = @(); rescan = $request }).Results[0].rescan.stillApplicable)
            $found.kb | Should -Be @('KB5035002', 'KB5035003', 'KB5030001', 'KB5030003')
        }

        It 'reports a failed search without failing the command, beside the hotfixes' {
            Mock New-WindowsUpdateSession { New-FakeSession @() -SearchResult 4 }
            $request = @{ windowsUpdate = @{ queryString = $global:Query; includeRecommendedUpdates = $false; selection = $null }; hotfixes = $global:Hotfixes }
            $run = Invoke-Document inventory @{ binaries = @(); rescan = $request }
            $run.ExitCode | Should -Be 0
            $run.Results[0].rescan.searchError | Should -Match 'Windows Update search failed: result code 4'
            @($run.Results[0].rescan.stillApplicable).kb | Should -Be @('KB5034441')
        }
    }

    Context 'a bad request' {
        It 'refuses rescan <Value> naming the field' -ForEach @(
            @{ Value = 'all'; Field = 'payload\.rescan \(' },
            @{ Value = @{ windowsUpdate = $null }; Field = 'payload\.rescan\.hotfixes: missing' },
            @{ Value = @{ windowsUpdate = $null; hotfixes = @(@{ kb = 'KB1' }) }; Field = 'payload\.rescan\.hotfixes\[\]\.file: missing' }
        ) {
            $run = Invoke-Document inventory @{ binaries = @(); rescan = $Value }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match $Field
        }
    }
}
