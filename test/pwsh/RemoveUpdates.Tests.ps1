BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    foreach ($definition in Get-PreludeFunctions 'removeUpdates') { . ([scriptblock]::Create($definition)) }
}

Describe 'RemoveUpdates' {
    BeforeEach {
        $global:Fake = @{ Now = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc); Busy = 0 }
        Mock Get-RolloutUtcNow { $global:Fake.Now }
        Mock Wait-RolloutSeconds { $global:Fake.Now = $global:Fake.Now.AddSeconds($Seconds) }
        Mock Get-WindowsDirectory { 'C:\Windows' }
        Mock Clear-RolloutMarkers {}
        Mock Invoke-Installer { @{ exited = $true; exitCode = 3010; output = @() } }
        Mock Test-ServicingBusy { $global:Fake.Busy -gt 0 -and $global:Fake.Busy-- -gt 0 }
    }

    It 'removes a plain update with wusa /uninstall by default' {
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @(@{ index = 0; updateId = 'KB5034439' }) } -Fixture 'remove-updates-wusa'
        $run.ExitCode | Should -Be 0
        $run.Results[0].method | Should -Be 'wusa'
        $run.Results[0].exitCode | Should -Be 3010
        Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $FilePath -eq 'C:\Windows\System32\wusa.exe' -and $Arguments -eq '/uninstall /kb:5034439 /quiet /norestart' }
        Should -Invoke Clear-RolloutMarkers -Times 1 -ParameterFilter { $Key -eq 'Installed' }
    }

    It 'removes a combined SSU + LCU package with DISM /Remove-Package by its package name' {
        $package = 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2340.1.7'
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @(@{ index = 0; updateId = 'KB5034439'; method = 'dism'; packageName = $package }) } -Fixture 'remove-updates-dism'
        $run.Results[0].method | Should -Be 'dism'
        $run.Results[0].packageName | Should -Be $package
        Should -Invoke Invoke-Installer -Times 1 -ParameterFilter { $FilePath -eq 'C:\Windows\System32\Dism.exe' -and $Arguments -eq ('/Online /Remove-Package /PackageName:' + $package + ' /Quiet /NoRestart') }
    }

    It 'refuses <Name> in that update line and goes on with the next' -ForEach @(
        @{ Name = 'an unknown method'; Item = @{ index = 0; updateId = 'KB5000001'; method = 'msiexec' }; Field = 'method' }
        @{ Name = 'dism without a package name'; Item = @{ index = 0; updateId = 'KB5000001'; method = 'dism' }; Field = 'packageName' }
        @{ Name = 'a hostile package name'; Item = @{ index = 0; updateId = 'KB5000001'; method = 'dism'; packageName = 'x /Image:C:\ & calc' }; Field = 'packageName' }
        @{ Name = 'a hostile KB'; Item = @{ index = 0; updateId = 'KB5000001 /extract:C:\' }; Field = 'updateId' }
        @{ Name = 'a KB with a trailing newline'; Item = @{ index = 0; updateId = "KB5000001`n" }; Field = 'updateId' }
    ) {
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @($Item, @{ index = 1; updateId = 'KB5000002' }) }
        $run.ExitCode | Should -Be 0
        $run.Results[0].error | Should -Match ('payload\.updates\[0\]\.' + $Field)
        $run.Results[1].exitCode | Should -Be 3010
        Should -Invoke Invoke-Installer -Times 1
    }

    It 'reports a removal that hangs as timed out, with servicingBusy' {
        Mock Invoke-Installer { @{ exited = $false; exitCode = $null; output = @() } }
        $global:Fake.Busy = [int]::MaxValue
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @(@{ index = 0; updateId = 'KB5000001' }) } -Fixture 'remove-updates-hang'
        $run.Results[0].timedOut | Should -BeTrue
        $run.Results[0].servicingBusy | Should -BeTrue
    }

    It 'starts nothing after the deadline and fails' {
        $run = Invoke-Document removeUpdates @{ timeoutMinutes = 30; updates = @(@{ index = 0; updateId = 'KB5000001' }); deadline = (Get-IsoInstant $global:Fake.Now.AddSeconds(5)) }
        $run.ExitCode | Should -Be 1
        Should -Invoke Invoke-Installer -Times 0
    }
}
