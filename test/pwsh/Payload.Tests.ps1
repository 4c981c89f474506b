# The prelude's payload contract, for every document: the fields node-contract.json lists.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

BeforeDiscovery {
    $contract = Get-Content -LiteralPath (Join-Path $env:ROLLOUT_RENDERED 'node-contract.json') -Raw | ConvertFrom-Json
    # A field the script reads with -Optional (e.g. resume's failback fields, which
    # ResumeAfterFailure does not send) may be left out; every other listed field is required.
    $missingCases = foreach ($document in $contract.payloadFields.PSObject.Properties) {
        $script = Get-Content -LiteralPath (Join-Path $env:ROLLOUT_RENDERED ($document.Name + '.ps1')) -Raw
        foreach ($field in $document.Value) {
            if ($script -match ("'" + [regex]::Escape($field) + "'[^\r\n]*-Optional")) { continue }
            @{ Key = $document.Name; Field = $field }
        }
    }
    $documents = @($contract.payloadFields.PSObject.Properties.Name | ForEach-Object { @{ Key = $_ } })
}

Describe 'Every document: the payload' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc) }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        # Nothing Windows may run if a test's payload were accepted by mistake.
        Mock Invoke-Installer { throw 'no installer may run' }
        Mock Get-ServiceStatus { throw 'no cluster query may run' }
        Mock New-WindowsUpdateSession { throw 'no Windows Update search may run' }
        Mock Get-BootSessionId { throw 'no restart marker may be read' }
        Mock Get-OperatingSystem { throw 'no inventory may run' }
    }

    It '<Key> refuses a payload without <Field>, naming it' -ForEach $missingCases {
        $payload = @{
            binaries = @(); timeoutMinutes = 5; failbackMode = 'Policy'; storageRepairTimeoutMinutes = 0; bucket = 'b'; updates = @()
            queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; selection = $null; phase = 'pre'
            script = 'C:\s.ps1'; runId = 'r'; reason = ''; windowsUpdate = $null; deadline = (Get-IsoInstant $global:Fake.Now.AddHours(1))
        }
        $payload.Remove($Field)
        $run = Invoke-Document $Key $payload -NoDeadline
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match ('payload\.' + $Field + ': missing')
        $run.Results.Count | Should -Be 0
    }

    It '<Key> fails clearly without SSM_Payload (an agent older than ENV_VAR interpolation)' -ForEach $documents {
        $run = Invoke-Document $Key $null
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'SSM_Payload is missing'
    }

    It '<Key> refuses a payload over the environment-variable cap, naming the limit' -ForEach $documents {
        $run = Invoke-Document $Key ('A' * ($script:Contract.maxPayloadBase64Characters + 4))
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match ('over the ' + $script:Contract.maxPayloadBase64Characters)
    }

    It 'refuses <Name>' -ForEach @(
        @{ Name = 'text that is not base64'; Encoded = 'not base64!'; Message = 'expected base64' }
        @{ Name = 'base64 of bytes that are not UTF-8'; Encoded = [Convert]::ToBase64String([byte[]](0xC3, 0x28)); Message = 'not UTF-8' }
        @{ Name = 'a JSON array'; Encoded = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('[1,2]')); Message = 'expected one JSON object' }
        @{ Name = 'broken JSON'; Encoded = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('{"timeoutMinutes":')); Message = 'expected one JSON object' }
    ) {
        $run = Invoke-Document drain $Encoded
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match $Message
    }

    Context 'a gzipped payload (lambdas/core/payload-encoding.ts sends one when plain base64 is over the cap)' {
        BeforeAll {
            function ConvertTo-GzipPayload {
                param([byte[]] $Bytes)
                $packed = New-Object System.IO.MemoryStream
                $gzip = New-Object System.IO.Compression.GZipStream -ArgumentList $packed, ([System.IO.Compression.CompressionMode]::Compress)
                $gzip.Write($Bytes, 0, $Bytes.Length)
                $gzip.Dispose()
                return [Convert]::ToBase64String($packed.ToArray())
            }
        }

        It 'is unpacked and read like a plain one' {
            $json = ConvertTo-Json -Compress -InputObject @{ bucket = 'b'; timeoutMinutes = 5; updates = @(); deadline = (Get-IsoInstant $global:Fake.Now.AddHours(1)) }
            $run = Invoke-Document installHotfixes (ConvertTo-GzipPayload ([Text.Encoding]::UTF8.GetBytes($json)))
            $run.ExitCode | Should -Be 0
            $run.Output | Should -Match 'no updates in the payload'
        }

        It 'is refused when it unpacks to more than maxPayloadJsonBytes, naming the limit' {
            $json = '{"pad":"' + ('x' * ($script:Contract.maxPayloadJsonBytes + 10)) + '"}'
            $run = Invoke-Document drain (ConvertTo-GzipPayload ([Text.Encoding]::UTF8.GetBytes($json)))
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match ('unpacks to more than ' + $script:Contract.maxPayloadJsonBytes + ' bytes')
        }

        It 'is refused when the gzip is damaged' {
            $run = Invoke-Document drain ([Convert]::ToBase64String([byte[]](0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02)))
            $run.ExitCode | Should -Be 1
            $run.Errors | Should -Match 'Payload: expected gzip of UTF-8 JSON'
        }
    }

    It 'refuses a deadline <Deadline> that is not an ISO 8601 UTC instant' -ForEach @(
        @{ Deadline = '2026-03-29T02:30:00+02:00' }, @{ Deadline = '2026-03-29 02:30:00' }, @{ Deadline = 'tomorrow' }, @{ Deadline = "2026-03-29T02:30:00Z`n" }
    ) {
        $run = Invoke-Document drain @{ timeoutMinutes = 5; deadline = $Deadline }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'payload\.deadline'
    }

    It 'refuses timeoutMinutes <Value> naming the field and the range' -ForEach @(
        @{ Value = 0 }, @{ Value = 1441 }, @{ Value = '5' }, @{ Value = 2.5 }
    ) {
        $run = Invoke-Document drain @{ timeoutMinutes = $Value }
        $run.ExitCode | Should -Be 1
        $run.Errors | Should -Match 'payload\.timeoutMinutes .*expected a whole number from 1 to 1440'
    }

    It 'keeps log lines from posing as result lines' {
        Mock Get-ServiceStatus { $null }
        $run = Invoke-Document drain @{ timeoutMinutes = 5 }
        $run.Lines | ForEach-Object { $_ | Should -Match '^(ROLLOUT-RESULT \{|\[rollout\] |ROLLOUT-END \{"results":\d+\}$)' }
    }
}

Describe 'Every document: hostile strings in the payload stay data' {
    BeforeDiscovery {
        # Quotes, a subexpression and a backtick escape that would set $global:RolloutPwned if any
        # script ever evaluated them, a newline, non-ASCII text, and a long tail.
        $hostile = "a'b`"c `$(`$global:RolloutPwned = 1) ```$global:RolloutPwned `n; & { `$global:RolloutPwned = 2 } $([char]0x00e9)$([char]0x4e2d)$([char]0x202e) " + ('x' * 2000)
        $cases = @(
            @{ Key = 'inventory'; Field = 'binaries[0]'; Payload = @{ binaries = @($hostile) } }
            @{ Key = 'resume'; Field = 'failbackMode'; Payload = @{ failbackMode = $hostile } }
            @{ Key = 'drain'; Field = 'deadline'; Payload = @{ timeoutMinutes = 5; deadline = $hostile } }
            @{ Key = 'windowsUpdate'; Field = 'queryString'; Payload = @{ queryString = $hostile; includeRecommendedUpdates = $false; timeoutMinutes = 5; selection = $null } }
            @{ Key = 'runScript'; Field = 'script'; Payload = @{ phase = 'pre'; script = 'C:\' + $hostile + '.ps1' } }
            @{ Key = 'restart'; Field = 'runId'; Payload = @{ runId = $hostile; reason = '' } }
            @{ Key = 'restart'; Field = 'reason'; Payload = @{ runId = 'run-1'; reason = $hostile } }
            @{ Key = 'removeUpdates'; Field = 'updates[0].updateId'; Payload = @{ timeoutMinutes = 5; updates = @(@{ index = 0; updateId = $hostile }) } }
            @{ Key = 'removeUpdates'; Field = 'updates[0].packageName'; Payload = @{ timeoutMinutes = 5; updates = @(@{ index = 0; updateId = 'KB5000001'; method = 'dism'; packageName = $hostile }) } }
            @{ Key = 'installHotfixes'; Field = 'bucket'; Payload = @{ bucket = $hostile; timeoutMinutes = 5; updates = @() } }
            @{ Key = 'installHotfixes'; Field = 'updates[0].localPath'; Payload = @{ bucket = 'b'; timeoutMinutes = 5; updates = @(@{ index = 0; file = 'f.msu'; key = 'k'; sha256 = ('a' * 64); localPath = $hostile; path = 'C:\x.exe'; parameters = '' }) } }
            @{ Key = 'installHotfixes'; Field = 'updates[0].file'; Payload = @{ bucket = 'b'; timeoutMinutes = 5; updates = @(@{ index = 0; file = $hostile; key = $hostile; sha256 = ('a' * 64); localPath = 'C:\R\f.msu'; path = $hostile; parameters = $hostile }) } }
        )
    }

    BeforeEach {
        Remove-Variable -Name RolloutPwned -Scope Global -ErrorAction SilentlyContinue
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc) }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-WindowsDirectory { 'C:\Windows' }
        Mock Invoke-Installer { @{ exited = $true; exitCode = 0; output = @() } }
        Mock Test-FileExists { $false }
        Mock Get-ServiceStatus { $null }
        Mock Get-ServiceStartMode { 'Disabled' }
        Mock Get-BootSessionId { 'boot-1' }
        Mock Get-LastBootTime { $global:Fake.Now.AddHours(-1) }
        Mock Get-RolloutMarker { $null }
        Mock Set-RolloutMarker {}
        Mock Clear-RolloutMarkers {}
        Mock Initialize-UpdateFolder {}
        Mock Receive-S3File { throw 'no such key' }
        Mock Get-OperatingSystem { [pscustomobject]@{ Caption = 'Windows Server'; Version = '10.0.20348'; BuildNumber = '20348'; ServicePackMajorVersion = 0; LastBootUpTime = $global:Fake.Now } }
        Mock Get-RegistryValue { $null }
        Mock Test-RegistryKey { $false }
        Mock Get-FileVersion { $null }
        Mock Get-DeviceGuardStatus { @() }
        Mock Test-SecureBoot { $false }
        Mock Get-InstalledHotFixIds { @() }
        Mock New-WindowsUpdateSession {
            $searcher = [pscustomobject]@{}
            $searcher | Add-Member -MemberType ScriptMethod -Name Search -Value { param($query) [pscustomobject]@{ ResultCode = 2; Updates = [pscustomobject]@{ Count = 0 } } }
            $session = [pscustomobject]@{ ClientApplicationID = ''; Searcher = $searcher }
            $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateSearcher -Value { $this.Searcher }
            $session
        }
    }

    It '<Key> keeps a hostile <Field> as data: nothing evaluated, every line prefixed, ASCII only' -ForEach $cases {
        $run = Invoke-Document $Key $Payload
        $run.ExitCode | Should -BeIn @(0, 1, 3010)
        Get-Variable -Name RolloutPwned -Scope Global -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        foreach ($line in $run.Lines) {
            $line | Should -Match '^(ROLLOUT-RESULT \{|\[rollout\] |ROLLOUT-END \{"results":\d+\}$)'
            $line | Should -Not -Match '[^\x20-\x7E]'
        }
        foreach ($line in @($run.Errors -split "`r?`n" | Where-Object { $_ })) { $line | Should -Match '^ROLLOUT-ERROR ' }
    }
}
