# Shared by the Pester files: runs a document's script exactly as the synthesized document
# carries it (rendered by scripts/pwsh.ts from lib/windows-documents.ts), with the payload in
# $env:SSM_Payload as SSM Agent hands it over, and captures what it prints.
#
# The Windows seam of ssm/_common.ps1 (cluster cmdlets, installers, WUA, registry markers, S3,
# inventory, the clock) is defined here from the rendered prelude itself, so each test can Mock
# those functions; the script's own definitions do not hide a mock (Pester mocks are aliases).

$script:RenderedFolder = $env:ROLLOUT_RENDERED
if ([string]::IsNullOrEmpty($script:RenderedFolder)) {
    throw 'ROLLOUT_RENDERED is not set: run the suite with npm run test:pwsh'
}
$script:Contract = Get-Content -LiteralPath (Join-Path $script:RenderedFolder 'node-contract.json') -Raw | ConvertFrom-Json
$env:COMPUTERNAME = 'NODE1'

# Every function of a rendered document (the prelude's and its own), for the caller to define
# so Mock finds them.
function Get-PreludeFunctions {
    param([string] $Key = 'drain')
    $path = Join-Path $script:RenderedFolder ($Key + '.ps1')
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$null, [ref]$null)
    $prelude = $ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false) |
        Where-Object { $_.Parent.Parent -eq $ast.EndBlock -or $_.Parent -eq $ast.EndBlock }
    return @($prelude | ForEach-Object { $_.Extent.Text })
}

# The stub of the FailoverClusters module, as FailoverClusterDsc's tests load it: the same
# command names and parameters, no behaviour; each test mocks what it needs.
$null = New-Module -Name FailoverClusters -ScriptBlock {
    function Get-Cluster { param([string] $Name) }
    function Get-ClusterNode { param([string] $Name, [string] $Cluster) }
    function Get-ClusterGroup { param([string] $Name, [string] $Cluster) }
    function Suspend-ClusterNode { param([string] $Name, [switch] $Drain, [switch] $Wait, [switch] $ForceDrain, [string] $Cluster) }
    function Resume-ClusterNode { param([string] $Name, [ValidateSet('NoFailback', 'Immediate', 'Policy')] [string] $Failback, [string] $Cluster) }
    Export-ModuleMember -Function *
} | Import-Module -Global -PassThru

# What Windows has and Linux lacks, for Mock to find.
if ($null -eq (Get-Command -Name 'Get-WindowsPackage' -ErrorAction SilentlyContinue)) {
    function global:Get-WindowsPackage { param([switch] $Online) }
}

function ConvertTo-Payload {
    param([Parameter(Mandatory = $true)] $Object)
    $json = ConvertTo-Json -InputObject $Object -Depth 8 -Compress
    return [Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($json))
}

# An ISO 8601 UTC instant, as send-command writes it.
function Get-IsoInstant {
    param([datetime] $Instant)
    return $Instant.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [Globalization.CultureInfo]::InvariantCulture)
}

# Runs one document. Payload: a hashtable (encoded here, with a deadline an hour from the
# mocked clock unless it has one) or a string (sent as is). Returns ExitCode, Output (stdout
# text), Lines, Results (the ROLLOUT-RESULT objects, parsed), End (the ROLLOUT-END object) and
# Errors (stderr text). Throws when the end marker is missing, misplaced or miscounted.
function Invoke-Document {
    param([Parameter(Mandatory = $true)] [string] $Key, $Payload, [switch] $NoDeadline, [string] $Fixture)
    if ($null -eq $Payload) {
        Remove-Item Env:SSM_Payload -ErrorAction SilentlyContinue
    }
    elseif ($Payload -is [string]) {
        $env:SSM_Payload = $Payload
    }
    else {
        if (-not $NoDeadline -and -not $Payload.Contains('deadline')) { $Payload['deadline'] = Get-IsoInstant ((Get-RolloutUtcNow).AddHours(1)) }
        $env:SSM_Payload = ConvertTo-Payload $Payload
    }
    $out = New-Object System.IO.StringWriter
    $err = New-Object System.IO.StringWriter
    $oldOut = [Console]::Out
    $oldErr = [Console]::Error
    [Console]::SetOut($out)
    [Console]::SetError($err)
    $global:LASTEXITCODE = 0
    try {
        $null = & (Join-Path $script:RenderedFolder ($Key + '.ps1'))
        $exitCode = $global:LASTEXITCODE
    }
    finally {
        [Console]::SetOut($oldOut)
        [Console]::SetError($oldErr)
        Remove-Item Env:SSM_Payload -ErrorAction SilentlyContinue
    }
    $text = $out.ToString()
    $lines = @($text -split "`r?`n" | Where-Object { $_.Length -gt 0 })
    $prefix = [string]$script:Contract.resultLinePrefix + ' '
    $results = @($lines | Where-Object { $_.StartsWith($prefix) } | ForEach-Object { ConvertFrom-Json -InputObject $_.Substring($prefix.Length) -DateKind String })
    # The end marker (Write-RolloutEnd): the last line, counting the result lines, on every exit
    # but 3010 (the agent restarts the node and runs the script again). Checked on every run.
    $endPrefix = [string]$script:Contract.endLinePrefix + ' '
    $end = $null
    if ($lines.Count -gt 0 -and $lines[-1].StartsWith($endPrefix)) { $end = ConvertFrom-Json -InputObject $lines[-1].Substring($endPrefix.Length) }
    $endLines = @($lines | Where-Object { $_.StartsWith([string]$script:Contract.endLinePrefix) })
    if ($exitCode -eq 3010) {
        if ($endLines.Count -gt 0) { throw ($Key + ' exited 3010 but wrote an end marker: ' + $endLines[0]) }
    }
    elseif ($null -eq $end -or $endLines.Count -ne 1 -or $end.results -ne $results.Count) {
        throw ($Key + ' exited ' + $exitCode + ' without one end marker last counting its ' + $results.Count + ' result lines; last line: ' + [string]($lines | Select-Object -Last 1))
    }
    if (-not [string]::IsNullOrEmpty($Fixture) -and -not [string]::IsNullOrEmpty($env:ROLLOUT_FIXTURES)) {
        # Wall-clock durations are the only thing that differs between captures: zero them.
        $stable = $text -replace '"durationSeconds":[0-9.]+', '"durationSeconds":0' -replace 'drained in [0-9]+ s', 'drained in 0 s'
        $fixtureText = '# ' + $Key + ' exit ' + $exitCode + "`n" + $stable
        [System.IO.File]::WriteAllText((Join-Path $env:ROLLOUT_FIXTURES ($Fixture + '.txt')), $fixtureText)
    }
    return [pscustomobject]@{
        ExitCode = $exitCode
        Output = $text
        Lines = $lines
        Results = $results
        End = $end
        Errors = $err.ToString()
    }
}

# A clock that moves only when the script sleeps: Get-RolloutUtcNow and Wait-RolloutSeconds.
function Use-FakeClock {
    param([datetime] $Start = [datetime]::new(2026, 3, 29, 0, 30, 0, [DateTimeKind]::Utc))
    $script:FakeNow = $Start
}
