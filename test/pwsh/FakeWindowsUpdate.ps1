# A fake of the Windows Update Agent COM API (Microsoft.Update.Session) as our documents use it,
# shared by the Pester files of the documents that search, download or install Windows updates
# (windowsUpdate, scan, stageUpdates, inventory's rescan). Dot-source it in BeforeAll, then
# `Mock New-WindowsUpdateSession { New-FakeWuaSession ... }`. Calls are recorded in $global:Fake
# (Queries, Installed, Downloaded), which each test file resets in BeforeEach.

$global:WuaSecurityUpdatesId = '0fa1201d-4330-4fa8-8ae9-b877473b6441'

# An IUpdateCollection / IStringCollection: Count and Item(i).
function New-FakeWuaCollection {
    param([object[]] $Items)
    $collection = [pscustomobject]@{ Count = @($Items).Count; Items = @($Items) }
    $collection | Add-Member -MemberType ScriptMethod -Name Item -Value { param($i) $this.Items[$i] }
    return $collection
}

# An IUpdate as the COM API shows it. Category ids come upper-case, as WUA may give them, so the
# documents' comparisons must ignore case. FakeResult (an OperationResultCode) and FakeReboot are
# what the fake installer or downloader answers for this update.
function New-FakeWuaUpdate {
    param(
        [string] $Title,
        [string] $Kb,
        [bool] $Important = $true,
        [bool] $BrowseOnly = $false,
        [bool] $Eula = $true,
        [bool] $UserInput = $false,
        [string[]] $CategoryIds = @($global:WuaSecurityUpdatesId),
        [string] $Severity = 'Important',
        [datetime] $Published = [datetime]::new(2026, 3, 10, 17, 0, 0, [DateTimeKind]::Utc),
        [int] $RebootBehavior = 1,
        [bool] $Downloaded = $false,
        [bool] $Installed = $false,
        [bool] $RebootRequired = $false,
        [string] $UpdateId = [guid]::NewGuid().ToString(),
        [int] $Result = 2,
        [bool] $Reboot = $false
    )
    $categories = @($CategoryIds | ForEach-Object { [pscustomobject]@{ CategoryID = $_.ToUpperInvariant(); Type = 'UpdateClassification' } })
    [pscustomobject]@{
        Categories = New-FakeWuaCollection $categories
        MsrcSeverity = $Severity
        LastDeploymentChangeTime = $Published
        Title = $Title
        KBArticleIDs = New-FakeWuaCollection @($Kb)
        Identity = [pscustomobject]@{ UpdateID = $UpdateId }
        EulaAccepted = $Eula
        InstallationBehavior = [pscustomobject]@{ CanRequestUserInput = $UserInput; RebootBehavior = $RebootBehavior }
        AutoSelectOnWebSites = $Important
        BrowseOnly = $BrowseOnly
        IsDownloaded = $Downloaded
        IsInstalled = $Installed
        RebootRequired = $RebootRequired
        FakeResult = $Result
        FakeReboot = $Reboot
    }
}

# An IUpdateDownloadResult / IInstallationResult for the first update of a one-update collection
# (the documents download and install one update at a time).
function New-FakeWuaOperationResult {
    param($Update)
    $outcome = [pscustomobject]@{ ResultCode = $Update.FakeResult; HResult = 0; RebootRequired = $Update.FakeReboot }
    $result = [pscustomobject]@{ Outcome = $outcome }
    $result | Add-Member -MemberType ScriptMethod -Name GetUpdateResult -Value { param($i) $this.Outcome }
    return $result
}

# An IUpdateInstaller that records the title it installs in $global:Fake.Installed.
function New-FakeWuaInstaller {
    $installer = [pscustomobject]@{ AllowSourcePrompts = $true; Updates = $null }
    $installer | Add-Member -MemberType ScriptMethod -Name Install -Value {
        $update = $this.Updates.Items[0]
        $global:Fake.Installed += $update.Title
        New-FakeWuaOperationResult $update
    }
    return $installer
}

# An IUpdateDownloader that records the title it downloads in $global:Fake.Downloaded.
function New-FakeWuaDownloader {
    $downloader = [pscustomobject]@{ Updates = $null }
    $downloader | Add-Member -MemberType ScriptMethod -Name Download -Value {
        $update = $this.Updates.Items[0]
        $global:Fake.Downloaded += $update.Title
        New-FakeWuaOperationResult $update
    }
    return $downloader
}

# An IUpdateSession whose searcher records each query in $global:Fake.Queries and finds Updates
# with SearchResult (2: succeeded). Downloader and Installer are the bodies of
# CreateUpdateDownloader and CreateUpdateInstaller: by default each throws, so a document that
# asks for one it must not use fails its test.
function New-FakeWuaSession {
    param(
        [object[]] $Updates = @(),
        [int] $SearchResult = 2,
        [scriptblock] $Downloader = { throw 'no downloader was expected in this test' },
        [scriptblock] $Installer = { throw 'no installer was expected in this test' }
    )
    $searcher = [pscustomobject]@{ Found = New-FakeWuaCollection $Updates; SearchResult = $SearchResult }
    $searcher | Add-Member -MemberType ScriptMethod -Name Search -Value {
        param($query)
        $global:Fake.Queries += $query
        [pscustomobject]@{ ResultCode = $this.SearchResult; Updates = $this.Found }
    }
    $session = [pscustomobject]@{ ClientApplicationID = ''; Searcher = $searcher }
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateSearcher -Value { $this.Searcher }
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateDownloader -Value $Downloader
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateInstaller -Value $Installer
    return $session
}
