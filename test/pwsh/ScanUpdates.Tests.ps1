BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'scan') { . ([scriptblock]::Create($definition)) }

    $global:SecurityId = '0fa1201d-4330-4fa8-8ae9-b877473b6441'
    $global:CriticalId = 'e6cf1350-c01b-414d-a61f-263d14d133b4'

    . (Join-Path $PSScriptRoot 'FakeWindowsUpdate.ps1')

    # A session whose searcher returns Updates; creating a downloader or an installer is recorded
    # and fails, so a scan that tried either would show.
    function New-FakeSession {
        param([object[]] $Updates, [int] $SearchResult = 2)
        New-FakeWuaSession $Updates -SearchResult $SearchResult `
            -Downloader { $global:Fake.Changes += 'downloader'; throw 'a scan must not download' } `
            -Installer { $global:Fake.Changes += 'installer'; throw 'a scan must not install' }
    }

    function Get-UpdateLines { param($Run) @($Run.Results | Where-Object { $_.kind -eq 'update' }) }
    function Get-NodeLine { param($Run) @($Run.Results | Where-Object { $_.kind -eq 'node' }) }
}

Describe 'ScanUpdates' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Queries = @(); Changes = @() }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Test-RegistryKey { $false }
        Mock Get-RegistryValue { $null }
        Mock New-WindowsUpdateCollection { $global:Fake.Changes += 'collection'; throw 'a scan needs no update collection' }
        Mock New-WindowsUpdateSession {
            New-FakeSession @(
                (New-FakeWuaUpdate 'Cumulative Update' '5034439'),
                (New-FakeWuaUpdate 'Servicing stack update' '5034440' -CategoryIds @($global:CriticalId) -Severity '' -RebootBehavior 0),
                (New-FakeWuaUpdate 'Recommended driver' '5030001' -Important $false -CategoryIds @('ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0')),
                (New-FakeWuaUpdate 'Optional preview' '5030002' -Important $false -BrowseOnly $true),
                (New-FakeWuaUpdate 'Needs a licence' '5030003' -Eula $false)
            )
        }
    }

    It 'searches with the QueryString exactly as given and downloads, installs and changes nothing' {
        $query = "IsInstalled=0 and Type='Software' and IsHidden=0"
        $run = Invoke-Document scan @{ queryString = $query; includeRecommendedUpdates = $true; selection = $null } -Fixture 'scan-updates'
        $run.ExitCode | Should -Be 0
        $global:Fake.Queries | Should -Be @($query)
        $global:Fake.Changes | Should -Be @()
        Should -Invoke New-WindowsUpdateCollection -Times 0 -Exactly
    }

    It 'prints per update the KB, title, classification, MSRC severity and restart expected' {
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        $lines = Get-UpdateLines $run
        @($lines | ForEach-Object { $_.kb }) | Should -Be @('KB5034439', 'KB5034440', 'KB5030003')
        $lines[0].title | Should -Be 'Cumulative Update'
        $lines[0].classification | Should -Be 'Security Updates'
        $lines[0].msrcSeverity | Should -Be 'Important'
        $lines[0].restartExpected | Should -BeTrue
        $lines[0].isInstalled | Should -BeFalse
        $lines[0].excludedBy | Should -BeNullOrEmpty
        $lines[1].classification | Should -Be 'Critical Updates'
        $lines[1].msrcSeverity | Should -BeNullOrEmpty
        $lines[1].restartExpected | Should -BeFalse
    }

    It 'leaves out recommended updates unless IncludeRecommendedUpdates, and optional ones always' {
        $without = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        @(Get-UpdateLines $without | ForEach-Object { $_.kb }) | Should -Not -Contain 'KB5030001'
        $with = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $true; selection = $null }
        $kbs = @(Get-UpdateLines $with | ForEach-Object { $_.kb })
        $kbs | Should -Contain 'KB5030001'
        $kbs | Should -Not -Contain 'KB5030002'
        $with.Output | Should -Match 'left out, optional: Optional preview'
    }

    It 'names the licence reason an install would skip' {
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        $line = Get-UpdateLines $run | Where-Object { $_.kb -eq 'KB5030003' }
        $line.skipReason | Should -Be 'eula'
        (Get-NodeLine $run)[0].applicable | Should -Be 2
    }

    It 'reports the updateSelection rule that excludes an update (Get-UpdateExclusion)' {
        $selection = @{ excludeKbs = @('KB5034439'); classifications = @('Security Updates') }
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $selection }
        $lines = Get-UpdateLines $run
        ($lines | Where-Object { $_.kb -eq 'KB5034439' }).excludedBy | Should -Be 'excludeKbs'
        ($lines | Where-Object { $_.kb -eq 'KB5034439' }).excludedReason | Should -Be 'KB5034439 is in excludeKbs'
        ($lines | Where-Object { $_.kb -eq 'KB5034440' }).excludedBy | Should -Be 'classifications'
        (Get-NodeLine $run)[0].applicable | Should -Be 0
        $global:Fake.Changes | Should -Be @()
    }

    It 'ends with the node line: pending restart from the servicing markers and the counts' {
        $clean = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        $node = (Get-NodeLine $clean)[0]
        $clean.Results[-1].kind | Should -Be 'node'
        $node.pendingRestart | Should -BeFalse
        $node.found | Should -Be 5
        Mock Test-RegistryKey { $Path -like '*Component Based Servicing\RebootPending' }
        $pending = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        (Get-NodeLine $pending)[0].pendingRestart | Should -BeTrue
        Mock Test-RegistryKey { $false }
        Mock Get-RegistryValue { @('\??\C:\Windows\old.dll', '') }
        $renames = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        (Get-NodeLine $renames)[0].pendingRestart | Should -BeTrue
    }

    It 'fails when the search fails' {
        Mock New-WindowsUpdateSession { New-FakeSession @() -SearchResult 4 }
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'result code 4'
    }

    It 'does not start the search once the deadline (less the margin) has passed' {
        $deadline = Get-IsoInstant ($global:Fake.Now.AddSeconds(30))
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null; deadline = $deadline }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'the deadline passed before the Windows Update search could start'
        $global:Fake.Queries | Should -Be @()
    }

    It 'refuses a selection that is not an object, naming the field and the value' {
        $run = Invoke-Document scan @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = 'all' }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'payload\.selection \("all"\)'
    }
}
