# The prelude's payload contract, for every document: the fields node-contract.json lists.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions) { . ([scriptblock]::Create($definition)) }
}

BeforeDiscovery {
    $contract = Get-Content -LiteralPath (Join-Path $env:ROLLOUT_RENDERED 'node-contract.json') -Raw | ConvertFrom-Json
    $missingCases = foreach ($document in $contract.payloadFields.PSObject.Properties) {
        foreach ($field in $document.Value) { @{ Key = $document.Name; Field = $field } }
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
            binaries = @(); timeoutMinutes = 5; failbackMode = 'Policy'; bucket = 'b'; updates = @()
            queryString = 'IsInstalled=0'; includeRecommendedUpdates = $false; phase = 'pre'
            script = 'C:\s.ps1'; runId = 'r'; reason = ''; deadline = (Get-IsoInstant $global:Fake.Now.AddHours(1))
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
        $run.Lines | ForEach-Object { $_ | Should -Match '^(ROLLOUT-RESULT \{|\[rollout\] )' }
    }
}
