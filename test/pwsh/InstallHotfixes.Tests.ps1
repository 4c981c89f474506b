BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }

    function Get-TextSha256 {
        param([string] $Text)
        $sha = [System.Security.Cryptography.SHA256]::Create()
        return (($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Text)) | ForEach-Object { $_.ToString('x2') }) -join '')
    }

    # One planned update as plan-node sends it (InstallItem).
    function New-Item-Plan {
        param([int] $Index, [string] $Name = ('KB10000' + $Index + '.msu'), [string] $Parameters = '/quiet /norestart')
        $global:Fake.S3['root/' + $Name] = 'content of ' + $Name
        return [ordered]@{
            index = $Index
            file = 'CAUHotfix_All/' + $Name
            key = 'root/' + $Name
            sha256 = Get-TextSha256 ('content of ' + $Name)
            localPath = 'C:\Windows\Temp\Rollout\' + $Name
            path = 'C:\Windows\System32\wusa.exe'
            parameters = ('C:\Windows\Temp\Rollout\' + $Name + ' ' + $Parameters)
        }
    }
}

Describe 'InstallHotfixes' {
    BeforeEach {
        $folder = Join-Path $TestDrive ([guid]::NewGuid().ToString())
        $null = New-Item -ItemType Directory -Path $folder
        $global:Fake = @{
            Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc)
            Dir = $folder
            S3 = @{}
            Markers = @{}
            Packages = @('Package_for_ServicingStack~31bf3856ad364e35~amd64~~20348.2200.1.0')
            Codes = @{}
            Busy = 0
        }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Initialize-UpdateFolder {}
        Mock Test-FileExists { Test-Path -LiteralPath (Join-Path $global:Fake.Dir ($Path.Split('\')[-1])) }
        Mock Open-LockedFile { [System.IO.File]::Open((Join-Path $global:Fake.Dir ($Path.Split('\')[-1])), 'Open', 'Read', 'Read') }
        Mock Receive-S3File { [System.IO.File]::WriteAllText((Join-Path $global:Fake.Dir ($Destination.Split('\')[-1])), $global:Fake.S3[$Key]) }
        Mock Get-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] }
        Mock Set-RolloutMarker { $global:Fake.Markers[$Key + '\' + $Name] = $Value }
        Mock Get-InstalledPackageNames { $global:Fake.Packages }
        # Each installer exits with the code the test sets for its file (0 by default) and, for
        # an .msu, adds its DISM package.
        Mock Invoke-Installer {
            $name = ($Arguments -split ' ')[0].Split('\')[-1]
            $code = 0
            if ($global:Fake.Codes.ContainsKey($name)) { $code = $global:Fake.Codes[$name] }
            if ($code -eq 'hang') { return @{ exited = $false; exitCode = $null; output = @() } }
            $global:Fake.Packages += ('Package_for_RollupFix~31bf3856ad364e35~amd64~~' + $name)
            @{ exited = $true; exitCode = [int]$code; output = @() }
        }
        Mock Test-ServicingBusy { $global:Fake.Busy -gt 0 -and $global:Fake.Busy-- -gt 0 }
        # The staging cache (StageUpdates): empty unless a test stages a file.
        $global:Fake.Cache = Join-Path $folder 'staging'
        Mock Get-StagingCacheRoot { $global:Fake.Cache }
        Mock Copy-UpdateFile { Copy-Item -LiteralPath $Source -Destination (Join-Path $global:Fake.Dir ($Destination.Split('\')[-1])) -Force }
    }

    Context 'updates that install' {
        It 'downloads, verifies and runs each, reporting one line per update with the DISM package it added' {
            $updates = @((New-Item-Plan 0), (New-Item-Plan 1))
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates } -Fixture 'install-hotfixes-ok'
            $run.ExitCode | Should -Be 0
            $run.Results.Count | Should -Be 2
            $run.Results[0].exitCode | Should -Be 0
            $run.Results[0].checksumOk | Should -BeTrue
            $run.Results[0].packageNames | Should -Be @('Package_for_RollupFix~31bf3856ad364e35~amd64~~KB100000.msu')
            Should -Invoke Receive-S3File -Times 2
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $FilePath -eq 'C:\Windows\System32\wusa.exe' -and $Arguments -eq 'C:\Windows\Temp\Rollout\KB100001.msu /quiet /norestart' }
        }

        It 'reports <Code> as the exit code and goes on with the next update' -ForEach @(
            @{ Code = 3010 }, @{ Code = 1618 }, @{ Code = 12345 }, @{ Code = -2145124329 }
        ) {
            $global:Fake.Codes['KB100000.msu'] = $Code
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @((New-Item-Plan 0), (New-Item-Plan 1)) } -Fixture ('install-hotfixes-exit-' + $Code)
            $run.ExitCode | Should -Be 0
            $run.Results[0].exitCode | Should -Be $Code
            $run.Results[1].exitCode | Should -Be 0
        }

        It 'lists the DISM packages once per .msu (and once before the first), each reporting its own' {
            $updates = @((New-Item-Plan 0), (New-Item-Plan 1), (New-Item-Plan 2))
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates }
            $run.ExitCode | Should -Be 0
            Should -Invoke Get-InstalledPackageNames -Times 4 -Exactly
            foreach ($i in 0..2) {
                @($run.Results[$i].packageNames) | Should -Be @('Package_for_RollupFix~31bf3856ad364e35~amd64~~KB10000' + $i + '.msu')
            }
        }

        It 'lists the packages again before an .msu when another kind of installer ran since' {
            # The .msi adds a package too: a list kept from before it would credit it to the next .msu.
            $updates = @((New-Item-Plan 0), (New-Item-Plan 1 -Name 'KB100001.msi'), (New-Item-Plan 2))
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates }
            $run.ExitCode | Should -Be 0
            Should -Invoke Get-InstalledPackageNames -Times 4 -Exactly
            @($run.Results[2].packageNames) | Should -Be @('Package_for_RollupFix~31bf3856ad364e35~amd64~~KB100002.msu')
            $run.Results[1].PSObject.Properties['packageNames'] | Should -BeNullOrEmpty
        }

        It 'times each update on the clock seam, so durations are virtual in the sandbox' {
            Mock Invoke-Installer {
                $global:Fake.Now = $global:Fake.Now.AddMinutes(25)
                @{ exited = $true; exitCode = 0; output = @() }
            }
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @((New-Item-Plan 0), (New-Item-Plan 1)) }
            $run.ExitCode | Should -Be 0
            $run.Results[0].durationSeconds | Should -Be 1500
            $run.Results[1].durationSeconds | Should -Be 1500
        }

        It 'passes hostile parameters to the installer as one string, exactly as the rule wrote them' {
            $parameters = '/quiet "a b" $(Stop-Computer) `n ''x'' ; & calc'
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @((New-Item-Plan 0 -Parameters $parameters)) }
            $run.ExitCode | Should -Be 0
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $Arguments -ceq ('C:\Windows\Temp\Rollout\KB100000.msu ' + $parameters) }
        }
    }

    Context 'an installer that restarts the node itself (1641)' {
        It 'stops at once and reports the rest as not started, not failed' {
            $global:Fake.Codes['KB100001.msu'] = 1641
            $updates = @((New-Item-Plan 0), (New-Item-Plan 1), (New-Item-Plan 2), (New-Item-Plan 3))
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates } -Fixture 'install-hotfixes-1641'
            $run.ExitCode | Should -Be 0
            $run.Results.Count | Should -Be 4
            $run.Results[1].exitCode | Should -Be 1641
            $run.Results[2].notStarted | Should -BeTrue
            $run.Results[2].exitCode | Should -BeNullOrEmpty
            $run.Results[3].file | Should -Be 'CAUHotfix_All/KB100003.msu'
            Should -Invoke Invoke-Installer -Times 2
        }

        It 'installs nothing twice when run again after the restart' {
            $global:Fake.Codes['KB100001.msu'] = 1641
            $updates = @((New-Item-Plan 0), (New-Item-Plan 1), (New-Item-Plan 2))
            $null = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates }
            $global:Fake.Now = $global:Fake.Now.AddMinutes(10)
            $again = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates } -Fixture 'install-hotfixes-after-1641'
            $again.ExitCode | Should -Be 0
            $again.Results[0].alreadyInstalled | Should -BeTrue
            $again.Results[1].alreadyInstalled | Should -BeTrue
            $again.Results[1].exitCode | Should -Be 0
            $again.Results[2].exitCode | Should -Be 0
            $again.Results[2].PSObject.Properties['alreadyInstalled'] | Should -BeNullOrEmpty
            # Two in the first run, one (the update not started) in the second.
            Should -Invoke Invoke-Installer -Times 3 -Exactly
        }

        It 'installs again what failed before (only successes are remembered)' {
            $global:Fake.Codes['KB100000.msu'] = 1603
            $updates = @((New-Item-Plan 0))
            $null = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates }
            $null = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates }
            Should -Invoke Invoke-Installer -Times 2 -Exactly
        }
    }

    Context 'an installer that hangs past HotfixInstallerTimeoutMinutes' {
        It 'stops it, waits for servicing to go quiet and reports servicingBusy false' {
            $global:Fake.Codes['KB100000.msu'] = 'hang'
            $global:Fake.Busy = 3
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 20; updates = @((New-Item-Plan 0)) } -Fixture 'install-hotfixes-hang-quiet'
            $run.Results[0].timedOut | Should -BeTrue
            $run.Results[0].servicingBusy | Should -BeFalse
            $run.Results[0].exitCode | Should -BeNullOrEmpty
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $TimeoutMilliseconds -eq 20 * 60 * 1000 }
        }

        It 'reports servicingBusy true when servicing is still busy at the deadline' {
            $global:Fake.Codes['KB100000.msu'] = 'hang'
            $global:Fake.Busy = [int]::MaxValue
            $start = $global:Fake.Now
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 20; updates = @((New-Item-Plan 0)); deadline = (Get-IsoInstant $start.AddHours(2)) } -Fixture 'install-hotfixes-hang-busy'
            $run.Results[0].timedOut | Should -BeTrue
            $run.Results[0].servicingBusy | Should -BeTrue
            $run.Results[0].error | Should -Match 'still busy'
            # The wait is bounded by the deadline (less the margin), not endless.
            ($global:Fake.Now - $start).TotalSeconds | Should -BeLessOrEqual (7200 - $script:Contract.deadlineMarginSeconds + 10)
        }
    }

    Context 'a file whose SHA-256 does not match the plan' {
        It 'runs nothing and reports both hashes' {
            $item = New-Item-Plan 0
            $global:Fake.S3['root/KB100000.msu'] = 'tampered'
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @($item) } -Fixture 'install-hotfixes-checksum'
            $run.ExitCode | Should -Be 0
            $run.Results[0].checksumOk | Should -BeFalse
            $run.Results[0].expectedSha256 | Should -Be $item.sha256
            $run.Results[0].actualSha256 | Should -Be (Get-TextSha256 'tampered')
            Should -Invoke Invoke-Installer -Times 0
        }

        It 'keeps a matching file left by an earlier try instead of downloading it again' {
            $item = New-Item-Plan 0
            [System.IO.File]::WriteAllText((Join-Path $global:Fake.Dir 'KB100000.msu'), 'content of KB100000.msu')
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @($item) }
            $run.Results[0].checksumOk | Should -BeTrue
            Should -Invoke Receive-S3File -Times 0
        }
    }

    Context 'the command deadline' {
        It 'gives an installer only the time left before the deadline' {
            $null = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 600; updates = @((New-Item-Plan 0)); deadline = (Get-IsoInstant $global:Fake.Now.AddMinutes(30)) }
            Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $TimeoutMilliseconds -eq (30 * 60 - $script:Contract.deadlineMarginSeconds) * 1000 }
        }

        It 'starts nothing once the deadline passed, reports every update not started and fails' {
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @((New-Item-Plan 0), (New-Item-Plan 1)); deadline = (Get-IsoInstant $global:Fake.Now.AddSeconds(30)) } -Fixture 'install-hotfixes-deadline'
            $run.ExitCode | Should -Be 1
            @($run.Results | Where-Object { $_.notStarted }).Count | Should -Be 2
            Should -Invoke Invoke-Installer -Times 0
        }
    }

    Context 'a bad update in the plan' {
        It 'reports <Field> in that update line and goes on with the next' -ForEach @(
            @{ Field = 'sha256'; Value = 'abc' }, @{ Field = 'localPath'; Value = 'relative\KB1.msu' }, @{ Field = 'key'; Value = $null }
        ) {
            $bad = New-Item-Plan 0
            if ($null -eq $Value) { $bad.Remove($Field) } else { $bad[$Field] = $Value }
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @($bad, (New-Item-Plan 1)) }
            $run.ExitCode | Should -Be 0
            $run.Results[0].error | Should -Match ('payload\.updates\[0\]\.' + $Field)
            $run.Results[1].exitCode | Should -Be 0
        }
    }

    Context 'output near the 24,000 characters GetCommandInvocation returns inline' {
        It 'keeps every result line, first in size, and caps the log' {
            Mock Get-Content { 'x' * 3000 }
            Mock Test-FileExists { $true } -ParameterFilter { $Path.EndsWith('.log') }
            $updates = @(0..39 | ForEach-Object { New-Item-Plan $_ })
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = $updates } -Fixture 'install-hotfixes-many'
            $run.Results.Count | Should -Be 40
            $run.Output.Length | Should -BeLessThan $script:Contract.inlineOutputCharacters
            $logCharacters = (@($run.Lines | Where-Object { $_.StartsWith('[rollout]') }) -join "`n").Length
            $logCharacters | Should -BeLessOrEqual ($script:Contract.logBudgetCharacters + 600)
        }
    }

    Context 'a staging cache filled before the window (StageUpdates)' {
        BeforeEach {
            # Stages a file as StageUpdates leaves it: <cache>\<sha256>\<leaf>.
            function Add-StagedFile {
                param($Item, [string] $Text)
                $digestFolder = Join-Path $global:Fake.Cache $Item.sha256
                $null = New-Item -ItemType Directory -Path $digestFolder -Force
                [System.IO.File]::WriteAllText((Join-Path $digestFolder $Item.file.Split('/')[-1]), $Text)
            }
        }

        It 'installs the staged copy when its SHA-256 matches the plan, says so, and downloads nothing' {
            $item = New-Item-Plan 0
            Add-StagedFile $item 'content of KB100000.msu'
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @($item) } -Fixture 'install-hotfixes-from-cache'
            $run.ExitCode | Should -Be 0
            $run.Results[0].fromCache | Should -BeTrue
            $run.Results[0].exitCode | Should -Be 0
            Should -Invoke Receive-S3File -Times 0 -Exactly
            Should -Invoke Copy-UpdateFile -Times 1 -Exactly
        }

        It 'does not use a staged copy whose SHA-256 differs: downloads from the hotfix root and says why' {
            $item = New-Item-Plan 0
            Add-StagedFile $item 'corrupted on disk'
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @($item) } -Fixture 'install-hotfixes-cache-mismatch'
            $run.ExitCode | Should -Be 0
            $run.Results[0].PSObject.Properties['fromCache'] | Should -BeNullOrEmpty
            $run.Results[0].cacheNote | Should -Match ('SHA-256 ' + (Get-TextSha256 'corrupted on disk') + '.*not used')
            $run.Results[0].checksumOk | Should -BeTrue
            Should -Invoke Copy-UpdateFile -Times 0 -Exactly
            Should -Invoke Receive-S3File -Times 1 -Exactly
        }

        It 'downloads from the hotfix root when nothing is staged, with no cache note' {
            $run = Invoke-Document installHotfixes @{ bucket = 'hotfixes'; timeoutMinutes = 30; updates = @((New-Item-Plan 0)) }
            $run.Results[0].PSObject.Properties['fromCache'] | Should -BeNullOrEmpty
            $run.Results[0].PSObject.Properties['cacheNote'] | Should -BeNullOrEmpty
            Should -Invoke Receive-S3File -Times 1 -Exactly
        }
    }
}
