BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'stageUpdates') { . ([scriptblock]::Create($definition)) }

    function Get-TextSha256 {
        param([string] $Text)
        $sha = [System.Security.Cryptography.SHA256]::Create()
        return (($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Text)) | ForEach-Object { $_.ToString('x2') }) -join '')
    }

    # One planned file as the staging workflow sends it.
    function New-StageItem {
        param([int] $Index, [string] $Name = ('KB20000' + $Index + '.msu'))
        $global:Fake.S3['root/' + $Name] = 'content of ' + $Name
        return [ordered]@{ index = $Index; file = 'CAUHotfix_All/' + $Name; key = 'root/' + $Name; sha256 = Get-TextSha256 ('content of ' + $Name) }
    }

    . (Join-Path $PSScriptRoot 'FakeWindowsUpdate.ps1')

    # Staging downloads; it must never install: an installer asked for is a failed test.
    function New-FakeSession {
        param([object[]] $Updates)
        New-FakeWuaSession $Updates -Downloader { New-FakeWuaDownloader } `
            -Installer { $global:Fake.InstallerAsked++; throw 'staging asked for an installer' }
    }
}

Describe 'StageUpdates' {
    BeforeEach {
        $cache = Join-Path $TestDrive ([guid]::NewGuid().ToString())
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Cache = $cache; S3 = @{}; Protected = @(); Downloaded = @(); InstallerAsked = 0; Queries = @() }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Get-StagingCacheRoot { $global:Fake.Cache }
        # The ACL seam: records each folder it protects, and creates it as the real one does.
        Mock Initialize-UpdateFolder { $global:Fake.Protected += $Path; $null = [System.IO.Directory]::CreateDirectory($Path) }
        Mock Receive-S3File { [System.IO.File]::WriteAllText($Destination, $global:Fake.S3[$Key]) }
        Mock Invoke-Installer { throw 'staging ran an installer' }
        Mock Suspend-ClusterNode { throw 'staging drained the node' }
        Mock New-WindowsUpdateCollection {
            $collection = [pscustomobject]@{ Items = @() }
            $collection | Add-Member -MemberType ScriptMethod -Name Add -Value { param($u) $this.Items += $u; 0 }
            $collection
        }
    }

    Context 'hotfix files' {
        It 'copies each file into a folder named by its SHA-256, verified, reporting name, size, digest and outcome' {
            $items = @((New-StageItem 0), (New-StageItem 1))
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null } -Fixture 'stage-updates-ok'
            $run.ExitCode | Should -Be 0
            $run.Results.Count | Should -Be 2
            $run.Results[0].kind | Should -Be 'file'
            $run.Results[0].outcome | Should -Be 'staged'
            $run.Results[0].sha256 | Should -Be $items[0].sha256
            $run.Results[0].bytes | Should -Be ('content of KB200000.msu').Length
            $staged = Join-Path (Join-Path $global:Fake.Cache $items[1].sha256) 'KB200001.msu'
            Get-Content -LiteralPath $staged -Raw | Should -Be 'content of KB200001.msu'
            Should -Invoke Invoke-Installer -Times 0 -Exactly
            Should -Invoke Suspend-ClusterNode -Times 0 -Exactly
        }

        It 'sets the SYSTEM and Administrators ACL on the cache and on every digest folder before writing into it' {
            $items = @((New-StageItem 0))
            $null = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null }
            $global:Fake.Protected | Should -Be @($global:Fake.Cache, (Join-Path $global:Fake.Cache $items[0].sha256))
        }

        It 'keeps a staged copy whose SHA-256 matches (a cache hit) and downloads nothing' {
            $items = @((New-StageItem 0))
            $null = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null }
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null } -Fixture 'stage-updates-cache-hit'
            $run.Results[0].outcome | Should -Be 'alreadyStaged'
            Should -Invoke Receive-S3File -Times 1 -Exactly
        }

        It 'downloads again over a staged copy that was changed, and stages the right file' {
            $items = @((New-StageItem 0))
            $null = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null }
            $staged = Join-Path (Join-Path $global:Fake.Cache $items[0].sha256) 'KB200000.msu'
            [System.IO.File]::WriteAllText($staged, 'tampered')
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null }
            $run.Results[0].outcome | Should -Be 'staged'
            Get-Content -LiteralPath $staged -Raw | Should -Be 'content of KB200000.msu'
        }

        It 'removes a download whose SHA-256 is not the plan''s and reports digestMismatch' {
            $items = @((New-StageItem 0))
            $global:Fake.S3['root/KB200000.msu'] = 'a different file'
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null } -Fixture 'stage-updates-digest-mismatch'
            $run.ExitCode | Should -Be 0
            $run.Results[0].outcome | Should -Be 'digestMismatch'
            $run.Results[0].actualSha256 | Should -Be (Get-TextSha256 'a different file')
            Test-Path -LiteralPath (Join-Path (Join-Path $global:Fake.Cache $items[0].sha256) 'KB200000.msu') | Should -BeFalse
        }

        It 'refuses a file name that would leave the digest folder, naming the field' {
            $item = New-StageItem 0
            $item['file'] = 'CAUHotfix_All/..'
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = @($item); windowsUpdate = $null }
            $run.Results[0].outcome | Should -Be 'failed'
            $run.Results[0].error | Should -Match 'payload.updates\[0\].file'
            Should -Invoke Receive-S3File -Times 0 -Exactly
        }

        It 'reports the files left when the deadline passed as notStarted and exits 1' {
            $items = @((New-StageItem 0), (New-StageItem 1))
            $run = Invoke-Document stageUpdates @{ bucket = 'hotfixes'; updates = $items; windowsUpdate = $null; deadline = (Get-IsoInstant $global:Fake.Now.AddSeconds(-1)) }
            $run.ExitCode | Should -Be 1
            @($run.Results | ForEach-Object { $_.outcome }) | Should -Be @('notStarted', 'notStarted')
        }
    }

    Context 'Windows updates' {
        It 'downloads each selected update not yet downloaded and never installs' {
            Mock New-WindowsUpdateSession { New-FakeSession @((New-FakeWuaUpdate 'Cumulative' '5034439' -UpdateId 'id-5034439'), (New-FakeWuaUpdate 'Stack' '5034440' -UpdateId 'id-5034440' -Downloaded $true)) }
            $run = Invoke-Document stageUpdates @{ bucket = ''; updates = @(); windowsUpdate = @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null } } -Fixture 'stage-updates-windows-update'
            $run.ExitCode | Should -Be 0
            @($run.Results | ForEach-Object { $_.outcome }) | Should -Be @('staged', 'alreadyStaged')
            $global:Fake.Downloaded | Should -Be @('Cumulative')
            $global:Fake.InstallerAsked | Should -Be 0
        }

        It 'reports a failed download with its result code' {
            Mock New-WindowsUpdateSession { New-FakeSession @((New-FakeWuaUpdate 'Cumulative' '5034439' -UpdateId 'id-5034439' -Result 4)) }
            $run = Invoke-Document stageUpdates @{ bucket = ''; updates = @(); windowsUpdate = @{ queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null } }
            $run.Results[0].outcome | Should -Be 'failed'
            $run.Results[0].resultCode | Should -Be 4
        }
    }

    Context 'bad payload' {
        It 'refuses windowsUpdate that is not an object, naming the field' {
            $run = Invoke-Document stageUpdates @{ bucket = ''; updates = @(); windowsUpdate = 'yes' }
            $run.ExitCode | Should -Be 1
            $run.Errors + $run.Output | Should -Match 'payload.windowsUpdate'
        }
    }
}
