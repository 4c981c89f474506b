# The Windows seam of ssm/_common.ps1, backed by a simulated node of the sandbox's pwsh fleet
# (sandbox/pwsh-fleet.ts). sandbox/pwsh-worker.ps1 loads this once into every runspace it opens;
# each runspace then runs one job (one command's script) at a time, many runspaces at once.
#
# Every seam function is an alias (aliases win over the script's own functions, as Pester's
# mocks do) whose body asks the sandbox over the worker's pipes, tagged with this runspace's job
# id ($global:SandboxJobId), and waits for its own answer. The sandbox answers from the node's
# state in virtual time, so a script's sleeps never take wall time.

# Asks the simulated node; returns its answer. A command that ended meanwhile throws, which the
# script's own trap turns into exit 1 (its output is discarded: the command has ended already).
function global:Invoke-SandboxSeam {
    param([string] $Name, [hashtable] $Arguments = @{})
    return [RolloutSandbox.Hub]::Call($global:SandboxJobId, $global:SandboxSlot, $Name, $Arguments)
}

function global:ConvertFrom-SandboxInstant {
    param([string] $Text)
    return [datetime]::Parse($Text, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
}

# --- the seam, backed by the simulated node --------------------------------------------------
function global:SandboxSeam-GetWindowsDirectory { return 'C:\Windows' }
function global:SandboxSeam-GetRolloutUtcNow { return (ConvertFrom-SandboxInstant (Invoke-SandboxSeam 'Get-RolloutUtcNow')) }
function global:SandboxSeam-WaitRolloutSeconds { param([double] $Seconds) $null = Invoke-SandboxSeam 'Wait-RolloutSeconds' @{ seconds = $Seconds } }
function global:SandboxSeam-TestFileExists { param([string] $Path) return [bool](Invoke-SandboxSeam 'Test-FileExists' @{ path = $Path }) }
# The sandbox has no file bytes: the "stream" carries the SHA-256 of what the node holds.
function global:SandboxSeam-OpenLockedFile {
    param([string] $Path)
    $sha = [string](Invoke-SandboxSeam 'Open-LockedFile' @{ path = $Path })
    $file = [pscustomobject]@{ Sha256 = $sha }
    $file | Add-Member -MemberType ScriptMethod -Name Dispose -Value { }
    return $file
}
function global:SandboxSeam-GetStreamSha256 { param($Stream) return [string]$Stream.Sha256 }
function global:SandboxSeam-GetRegistryValue { param([string] $Path, [string] $Name) return (Invoke-SandboxSeam 'Get-RegistryValue' @{ path = $Path; name = $Name }) }
function global:SandboxSeam-TestRegistryKey { param([string] $Path) return [bool](Invoke-SandboxSeam 'Test-RegistryKey' @{ path = $Path }) }
function global:SandboxSeam-GetRolloutMarker { param([string] $Key, [string] $Name) return (Invoke-SandboxSeam 'Get-RolloutMarker' @{ key = $Key; name = $Name }) }
function global:SandboxSeam-SetRolloutMarker { param([string] $Key, [string] $Name, [string] $Value) $null = Invoke-SandboxSeam 'Set-RolloutMarker' @{ key = $Key; name = $Name; value = $Value } }
function global:SandboxSeam-RemoveRolloutMarker { param([string] $Key, [string] $Name) $null = Invoke-SandboxSeam 'Remove-RolloutMarker' @{ key = $Key; name = $Name } }
function global:SandboxSeam-ClearRolloutMarkers { param([string] $Key) $null = Invoke-SandboxSeam 'Clear-RolloutMarkers' @{ key = $Key } }
function global:SandboxSeam-GetBootSessionId { return [string](Invoke-SandboxSeam 'Get-BootSessionId') }
function global:SandboxSeam-GetOperatingSystem {
    $os = Invoke-SandboxSeam 'Get-OperatingSystem'
    return [pscustomobject]@{
        Caption = [string]$os.caption
        Version = [string]$os.version
        BuildNumber = [string]$os.buildNumber
        ServicePackMajorVersion = [int]$os.servicePack
        LastBootUpTime = (ConvertFrom-SandboxInstant $os.lastBootTime)
    }
}
function global:SandboxSeam-GetLastBootTime { return (ConvertFrom-SandboxInstant (Invoke-SandboxSeam 'Get-LastBootTime')) }
function global:SandboxSeam-GetServiceStatus { param([string] $Name) return (Invoke-SandboxSeam 'Get-ServiceStatus' @{ name = $Name }) }
function global:SandboxSeam-GetServiceStartMode { param([string] $Name) return [string](Invoke-SandboxSeam 'Get-ServiceStartMode' @{ name = $Name }) }
function global:SandboxSeam-ImportFailoverClusterModule { }
function global:SandboxSeam-GetDeviceGuardStatus {
    $vbs = [int](Invoke-SandboxSeam 'Get-DeviceGuardStatus')
    return @([pscustomobject]@{ VirtualizationBasedSecurityStatus = $vbs })
}
function global:SandboxSeam-TestSecureBoot { return [bool](Invoke-SandboxSeam 'Test-SecureBoot') }
function global:SandboxSeam-GetInstalledHotFixIds { return @(Invoke-SandboxSeam 'Get-InstalledHotFixIds') }
function global:SandboxSeam-GetFileVersion { param([string] $Path) return (Invoke-SandboxSeam 'Get-FileVersion' @{ path = $Path }) }
function global:SandboxSeam-GetInstalledPackageNames { return @(Invoke-SandboxSeam 'Get-InstalledPackageNames') }
function global:SandboxSeam-ReceiveS3File {
    param([string] $Bucket, [string] $Key, [string] $Destination)
    $failure = Invoke-SandboxSeam 'Receive-S3File' @{ bucket = $Bucket; key = $Key; destination = $Destination }
    if ($null -ne $failure) { throw ([string]$failure) }
}
function global:SandboxSeam-InitializeUpdateFolder { param([string] $Path) }
function global:SandboxSeam-GetStagingCacheRoot { return 'C:\ProgramData\RolloutControlPlane\Staging' }
function global:SandboxSeam-GetStagedFile { param([string] $Path) return (Invoke-SandboxSeam 'Get-StagedFile' @{ path = $Path }) }
function global:SandboxSeam-RemoveStagedFile { param([string] $Path) $null = Invoke-SandboxSeam 'Remove-StagedFile' @{ path = $Path } }
function global:SandboxSeam-CopyUpdateFile { param([string] $Source, [string] $Destination) $null = Invoke-SandboxSeam 'Copy-UpdateFile' @{ source = $Source; destination = $Destination } }
function global:SandboxSeam-InvokeInstaller {
    param([string] $FilePath, [string] $Arguments, [string] $WorkingDirectory, [long] $TimeoutMilliseconds, [switch] $CaptureOutput)
    $run = Invoke-SandboxSeam 'Invoke-Installer' @{ filePath = $FilePath; arguments = $Arguments; timeoutMilliseconds = $TimeoutMilliseconds }
    $exitCode = $null
    if ($run.exited) { $exitCode = [int]$run.exitCode }
    $output = @()
    if ($CaptureOutput -and $run.exited) { $output = @($run.output) }
    return @{ exited = [bool]$run.exited; exitCode = $exitCode; output = $output }
}
function global:SandboxSeam-TestServicingBusy { return [bool](Invoke-SandboxSeam 'Test-ServicingBusy') }
function global:SandboxSeam-GetStorageRepairJobs { return @(Invoke-SandboxSeam 'Get-StorageRepairJobs') }

# The Windows Update Agent's COM objects, as far as windows-update.ps1 uses them: search,
# download and install ask the node (WU-Search, WU-Download, WU-Install).
function global:New-SandboxWuaCollection {
    $collection = [pscustomobject]@{ List = (New-Object System.Collections.Generic.List[object]) }
    $collection | Add-Member -MemberType ScriptProperty -Name Count -Value { $this.List.Count }
    $collection | Add-Member -MemberType ScriptMethod -Name Item -Value { param($Index) $this.List[$Index] }
    $collection | Add-Member -MemberType ScriptMethod -Name Add -Value { param($Update) $this.List.Add($Update); $this.List.Count - 1 }
    return $collection
}
function global:New-SandboxWuaResult {
    param($Answer)
    $result = [pscustomobject]@{
        ResultCode = [int]$Answer.resultCode
        HResult = [int]$Answer.hResult
        RebootRequired = [bool]($null -ne $Answer.PSObject.Properties['rebootRequired'] -and $Answer.rebootRequired)
    }
    $operation = [pscustomobject]@{ ResultCode = [int]$Answer.resultCode; Only = $result }
    $operation | Add-Member -MemberType ScriptMethod -Name GetUpdateResult -Value { param($Index) $this.Only }
    return $operation
}
function global:SandboxSeam-NewWindowsUpdateCollection { return (New-SandboxWuaCollection) }
function global:SandboxSeam-NewWindowsUpdateSession {
    $session = [pscustomobject]@{ ClientApplicationID = '' }
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateSearcher -Value {
        $searcher = [pscustomobject]@{}
        $searcher | Add-Member -MemberType ScriptMethod -Name Search -Value {
            param([string] $Criteria)
            $answer = Invoke-SandboxSeam 'WU-Search' @{ query = $Criteria }
            $updates = New-SandboxWuaCollection
            foreach ($found in @($answer.updates)) {
                $kb = New-SandboxWuaCollection
                $null = $kb.Add([string]$found.kbDigits)
                $categories = New-SandboxWuaCollection
                foreach ($id in @($found.categoryIds)) { $null = $categories.Add([pscustomobject]@{ CategoryID = [string]$id }) }
                $null = $updates.Add([pscustomobject]@{
                        Title = [string]$found.title
                        KBArticleIDs = $kb
                        AutoSelectOnWebSites = [bool]$found.autoSelect
                        BrowseOnly = [bool]$found.browseOnly
                        EulaAccepted = [bool]$found.eulaAccepted
                        InstallationBehavior = [pscustomobject]@{ CanRequestUserInput = [bool]$found.canRequestUserInput; RebootBehavior = [int]$found.rebootBehavior }
                        Identity = [pscustomobject]@{ UpdateID = [string]$found.updateId }
                        IsDownloaded = [bool]$found.isDownloaded
                        IsInstalled = $false
                        # WUA: true only for an update installed and waiting for a restart; the
                        # search lists what is not installed.
                        RebootRequired = $false
                        Categories = $categories
                        MsrcSeverity = [string]$found.msrcSeverity
                        LastDeploymentChangeTime = $(if ($null -eq $found.published) { $null } else { [string]$found.published })
                    })
            }
            return [pscustomobject]@{ ResultCode = [int]$answer.resultCode; Updates = $updates }
        }
        return $searcher
    }
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateDownloader -Value {
        $downloader = [pscustomobject]@{ Updates = $null }
        $downloader | Add-Member -MemberType ScriptMethod -Name Download -Value {
            New-SandboxWuaResult (Invoke-SandboxSeam 'WU-Download' @{ updateId = [string]$this.Updates.Item(0).Identity.UpdateID })
        }
        return $downloader
    }
    $session | Add-Member -MemberType ScriptMethod -Name CreateUpdateInstaller -Value {
        $installer = [pscustomobject]@{ Updates = $null; AllowSourcePrompts = $true }
        $installer | Add-Member -MemberType ScriptMethod -Name Install -Value {
            New-SandboxWuaResult (Invoke-SandboxSeam 'WU-Install' @{ updateId = [string]$this.Updates.Item(0).Identity.UpdateID })
        }
        return $installer
    }
    return $session
}

foreach ($seam in @(
        'Get-WindowsDirectory', 'Get-RolloutUtcNow', 'Wait-RolloutSeconds', 'Test-FileExists', 'Open-LockedFile',
        'Get-StreamSha256', 'Get-RegistryValue', 'Test-RegistryKey', 'Get-RolloutMarker', 'Set-RolloutMarker',
        'Remove-RolloutMarker', 'Clear-RolloutMarkers', 'Get-BootSessionId', 'Get-OperatingSystem', 'Get-LastBootTime',
        'Get-ServiceStatus', 'Get-ServiceStartMode', 'Import-FailoverClusterModule', 'Get-DeviceGuardStatus',
        'Test-SecureBoot', 'Get-InstalledHotFixIds', 'Get-FileVersion', 'Get-InstalledPackageNames', 'Receive-S3File',
        'Initialize-UpdateFolder', 'Invoke-Installer', 'Test-ServicingBusy', 'New-WindowsUpdateSession',
        'New-WindowsUpdateCollection', 'Get-StorageRepairJobs', 'Get-StagingCacheRoot', 'Get-StagedFile',
        'Remove-StagedFile', 'Copy-UpdateFile')) {
    Set-Alias -Name $seam -Value ('SandboxSeam-' + ($seam -replace '-', '')) -Scope Global
}

# The FailoverClusters cmdlets the documents call, with their real names and parameters.
$null = New-Module -Name FailoverClusters -ScriptBlock {
    function ConvertTo-ClusterNode {
        param($Node)
        return [pscustomobject]@{ Name = [string]$Node.name; State = [string]$Node.state; DrainStatus = [string]$Node.drainStatus }
    }
    function Get-Cluster { param([string] $Name) return [pscustomobject]@{ Name = [string](Invoke-SandboxSeam 'Get-Cluster') } }
    # Without -Name: every member of the cluster, as the real cmdlet lists them.
    function Get-ClusterNode { param([string] $Name, [string] $Cluster) return (@(Invoke-SandboxSeam 'Get-ClusterNode' @{ name = $Name }) | ForEach-Object { ConvertTo-ClusterNode $_ }) }
    function Get-ClusterGroup {
        param([string] $Name, [string] $Cluster)
        return @(Invoke-SandboxSeam 'Get-ClusterGroup' | ForEach-Object { [pscustomobject]@{ Name = [string]$_.name; OwnerNode = [pscustomobject]@{ Name = [string]$_.owner }; GroupType = [string]$_.groupType } })
    }
    function Suspend-ClusterNode {
        [CmdletBinding(SupportsShouldProcess = $true)]
        param([string] $Name, [switch] $Drain, [switch] $Wait, [switch] $ForceDrain, [string] $Cluster)
        return (ConvertTo-ClusterNode (Invoke-SandboxSeam 'Suspend-ClusterNode' @{ name = $Name; drain = [bool]$Drain }))
    }
    function Resume-ClusterNode {
        [CmdletBinding(SupportsShouldProcess = $true)]
        param([string] $Name, [ValidateSet('NoFailback', 'Immediate', 'Policy')] [string] $Failback, [string] $Cluster)
        return (ConvertTo-ClusterNode (Invoke-SandboxSeam 'Resume-ClusterNode' @{ name = $Name; failback = $Failback }))
    }
    Export-ModuleMember -Function Get-Cluster, Get-ClusterNode, Get-ClusterGroup, Suspend-ClusterNode, Resume-ClusterNode
} | Import-Module -Global -PassThru
