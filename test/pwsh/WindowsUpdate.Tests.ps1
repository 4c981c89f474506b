BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'windowsUpdate') { . ([scriptblock]::Create($definition)) }

    . (Join-Path $PSScriptRoot 'FakeWindowsUpdate.ps1')

    # Updates found already downloaded, as the install step sees them after the search.
    function New-FakeUpdate { New-FakeWuaUpdate @args -Downloaded $true }

    # A session whose searcher returns Updates and whose installer installs one update at a time.
    function New-FakeSession {
        param([object[]] $Updates, [int] $SearchResult = 2)
        New-FakeWuaSession $Updates -SearchResult $SearchResult -Installer { New-FakeWuaInstaller }
    }
}

Describe 'InstallWindowsUpdates' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Queries = @(); Installed = @() }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock New-WindowsUpdateCollection {
            $collection = [pscustomobject]@{ Items = @() }
            $collection | Add-Member -MemberType ScriptMethod -Name Add -Value { param($u) $this.Items += $u; 0 }
            $collection
        }
    }

    Context 'the search' {
        It 'searches with the QueryString exactly as given' {
            Mock New-WindowsUpdateSession { New-FakeSession @() }
            $query = "IsInstalled=0 and Type='Software' and IsHidden=0"
            $run = Invoke-Document windowsUpdate @{ queryString = $query; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null }
            $run.ExitCode | Should -Be 0
            $global:Fake.Queries | Should -Be @($query)
        }

        It 'fails when the search fails' {
            Mock New-WindowsUpdateSession { New-FakeSession @() -SearchResult 4 }
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'result code 4'
        }
    }

    Context 'IncludeRecommendedUpdates' {
        BeforeEach {
            Mock New-WindowsUpdateSession {
                New-FakeSession @(
                    (New-FakeUpdate 'Cumulative Update' '5034439' -Reboot $true),
                    (New-FakeUpdate 'Recommended driver' '5030001' -Important $false),
                    (New-FakeUpdate 'Optional preview' '5030002' -Important $false -BrowseOnly $true)
                )
            }
        }

        It 'installs only the important updates when it is false' {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null } -Fixture 'windows-update-important'
            $run.ExitCode | Should -Be 0
            $global:Fake.Installed | Should -Be @('Cumulative Update')
            $run.Results[0].kb | Should -Be 'KB5034439'
            $run.Results[0].rebootRequired | Should -BeTrue
        }

        It 'adds the recommended ones, never the optional ones, when it is true' {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $true; timeoutMinutes = 60; selection = $null }
            $global:Fake.Installed | Should -Be @('Cumulative Update', 'Recommended driver')
            $run.Results.Count | Should -Be 2
        }
    }

    Context 'updates that need a licence or user input' {
        It 'reports each as skipped with its reason, never only logs it' {
            Mock New-WindowsUpdateSession {
                New-FakeSession @(
                    (New-FakeUpdate 'Needs EULA' '5000001' -Eula $false),
                    (New-FakeUpdate 'Asks the user' '5000002' -UserInput $true),
                    (New-FakeUpdate 'Fine' '5000003')
                )
            }
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null } -Fixture 'windows-update-skipped'
            $run.ExitCode | Should -Be 0
            $global:Fake.Installed | Should -Be @('Fine')
            $skipped = @($run.Results | Where-Object { $_.PSObject.Properties['skipped'] })
            $skipped.Count | Should -Be 2
            $skipped[0].skipReason | Should -Be 'eula'
            $skipped[1].skipReason | Should -Be 'userInput'
            $skipped[0].resultCode | Should -Be 0
        }
    }

    Context 'updateSelection: the shared rule table' {
        BeforeAll {
            $script:SelectionCases = Get-Content -LiteralPath (Join-Path $PSScriptRoot '../fixtures/update-selection/cases.json') -Raw | ConvertFrom-Json
        }

        It 'excludes by the same rule as lambdas/core/update-selection.ts in every row of cases.json' {
            # The rendered document sets this from node-contract.json; here the helper's copy of it.
            $script:RolloutContract = $script:Contract
            $now = [datetime]::Parse([string]$script:SelectionCases.now, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::AdjustToUniversal)
            $script:SelectionCases.cases.Count | Should -BeGreaterThan 20
            foreach ($case in $script:SelectionCases.cases) {
                $exclusion = Get-UpdateExclusion $case.update $case.selection $now
                $got = if ($null -eq $exclusion) { $null } else { $exclusion['rule'] }
                $got | Should -Be $case.excludedBy -Because $case.name
            }
        }
    }

    Context 'updateSelection: the document' {
        BeforeEach {
            Mock New-WindowsUpdateSession {
                New-FakeSession @(
                    (New-FakeUpdate 'Security cumulative update' '5034441' -Reboot $true),
                    (New-FakeUpdate 'Printer driver' '5030009' -CategoryIds @('ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0') -Severity ''),
                    (New-FakeUpdate 'Security update held back' '5034439')
                )
            }
        }

        It 'installs only what the selection keeps and reports each excluded update with its rule' {
            $selection = @{ classifications = @('Security Updates', 'Critical Updates'); excludeKbs = @('KB5034439') }
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $selection } -Fixture 'windows-update-excluded'
            $run.ExitCode | Should -Be 0
            $global:Fake.Installed | Should -Be @('Security cumulative update')
            $excluded = @($run.Results | Where-Object { $_.PSObject.Properties['excludedBy'] })
            $excluded.Count | Should -Be 2
            $excluded[0].title | Should -Be 'Printer driver'
            $excluded[0].excludedBy | Should -Be 'classifications'
            $excluded[0].excludedReason | Should -Match 'Drivers'
            $excluded[1].kb | Should -Be 'KB5034439'
            $excluded[1].excludedBy | Should -Be 'excludeKbs'
            $excluded[1].resultCode | Should -Be 0
            $run.Output | Should -Match 'excluded by updateSelection\.classifications'
        }

        It 'leaves out every update that may restart with excludeRebootRequired' {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = @{ excludeRebootRequired = $true } }
            $global:Fake.Installed.Count | Should -Be 0
            @($run.Results | Where-Object { $_.excludedBy -eq 'excludeRebootRequired' }).Count | Should -Be 3
        }

        It 'installs everything the options select when selection is null' {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null }
            $global:Fake.Installed.Count | Should -Be 3
            @($run.Results | Where-Object { $_.PSObject.Properties['excludedBy'] }).Count | Should -Be 0
        }

        It 'refuses a selection that is not an object' {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = 'Security' }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.selection'
        }
    }

    Context 'results' {
        It 'reports a failed install and goes on with the next' {
            Mock New-WindowsUpdateSession { New-FakeSession @((New-FakeUpdate 'Bad' '5000001' -Result 4), (New-FakeUpdate 'Good' '5000002')) }
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null } -Fixture 'windows-update-failed'
            $run.Results[0].resultCode | Should -Be 4
            $run.Results[1].resultCode | Should -Be 2
        }

        It 'reports updates not started after the deadline as aborted (5)' {
            Mock New-WindowsUpdateSession { New-FakeSession @((New-FakeUpdate 'Late' '5000001')) }
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null; deadline = (Get-IsoInstant $global:Fake.Now.AddSeconds(10)) }
            $run.Results[0].resultCode | Should -Be 5
            $global:Fake.Installed.Count | Should -Be 0
        }
    }

    Context 'an update not downloaded yet' {
        BeforeEach {
            $global:Fake.Downloaded = @()
            $payload = @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; timeoutMinutes = 60; selection = $null }
        }

        It 'is downloaded first, then installed' {
            Mock New-WindowsUpdateSession { New-FakeWuaSession @((New-FakeWuaUpdate 'Cumulative' '5034439')) -Downloader { New-FakeWuaDownloader } -Installer { New-FakeWuaInstaller } }
            $run = Invoke-Document windowsUpdate $payload
            $run.ExitCode | Should -Be 0
            $global:Fake.Downloaded | Should -Be @('Cumulative')
            $global:Fake.Installed | Should -Be @('Cumulative')
            $run.Results[0].resultCode | Should -Be 2
        }

        It 'is not installed when its download fails, and the download result code is reported' {
            Mock New-WindowsUpdateSession { New-FakeWuaSession @((New-FakeWuaUpdate 'Cumulative' '5034439' -Result 4), (New-FakeWuaUpdate 'Next' '5034440')) -Downloader { New-FakeWuaDownloader } -Installer { New-FakeWuaInstaller } }
            $run = Invoke-Document windowsUpdate $payload
            $global:Fake.Downloaded | Should -Be @('Cumulative', 'Next')
            $global:Fake.Installed | Should -Be @('Next')
            $run.Results[0].resultCode | Should -Be 4
            $run.Results[1].resultCode | Should -Be 2
            $run.Lines | Should -Contain '[rollout] download failed with result code 4: Cumulative'
        }
    }

    Context 'a bad payload' {
        It 'refuses includeRecommendedUpdates <Value>' -ForEach @(@{ Value = 'true' }, @{ Value = 1 }) {
            $run = Invoke-Document windowsUpdate @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $Value; timeoutMinutes = 60; selection = $null }
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'payload\.includeRecommendedUpdates'
        }
    }
}
