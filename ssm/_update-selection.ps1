# Update selection, shared by InstallWindowsUpdates (windows-update.ps1) and ScanUpdates
# (scan-updates.ps1): inlined after the prelude into those two documents only
# (DocumentSpec.includes in lib/windows-documents.ts).
#
# Get-UpdateFacts reads what the rules need from a WUA IUpdate; Get-UpdateExclusion applies the
# rollout's updateSelection by the rules of node-contract.json, in its order
# (lambdas/core/update-selection.ts holds the same rules, and
# test/fixtures/update-selection/cases.json runs through both).

function Get-UpdateKb {
    param($Update)
    $ids = $Update.KBArticleIDs
    if ($null -eq $ids -or $ids.Count -eq 0) { return $null }
    return ('KB' + [string]$ids.Item(0))
}

# What the selection rules read of a WUA IUpdate: its KB, category GUIDs (the classification is
# one of them), MSRC severity, publish date and InstallationBehavior.RebootBehavior.
function Get-UpdateFacts {
    param($Update)
    $ids = New-Object System.Collections.Generic.List[string]
    $categories = $Update.Categories
    if ($null -ne $categories) {
        for ($c = 0; $c -lt $categories.Count; $c++) { $ids.Add([string]$categories.Item($c).CategoryID) }
    }
    $reboot = 0
    if ($null -ne $Update.InstallationBehavior -and $null -ne $Update.InstallationBehavior.RebootBehavior) {
        $reboot = [int]$Update.InstallationBehavior.RebootBehavior
    }
    return [pscustomobject]@{
        kb = Get-UpdateKb $Update
        classificationIds = $ids.ToArray()
        msrcSeverity = [string]$Update.MsrcSeverity
        published = $Update.LastDeploymentChangeTime
        rebootBehavior = $reboot
    }
}

function ConvertTo-UtcInstant {
    param([AllowNull()] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and $Value.Length -eq 0)) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $styles = [Globalization.DateTimeStyles]::AdjustToUniversal -bor [Globalization.DateTimeStyles]::AssumeUniversal
    return [datetime]::Parse([string]$Value, [Globalization.CultureInfo]::InvariantCulture, $styles)
}

function Get-SelectionList {
    param($Selection, [string] $Name)
    $property = $Selection.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return $null }
    return , @($property.Value | ForEach-Object { [string]$_ })
}

# The first rule of the selection the update fails, as [ordered]@{ rule; reason }, or $null: it
# installs. The rules and their order are node-contract.json's (updateSelection.rules).
function Get-UpdateExclusion {
    param($Facts, $Selection, [datetime] $Now)
    if ($null -eq $Selection) { return $null }
    $contract = $script:RolloutContract.updateSelection
    $kb = $null
    if (-not [string]::IsNullOrEmpty($Facts.kb)) { $kb = ([string]$Facts.kb).ToUpperInvariant() }
    $published = ConvertTo-UtcInstant $Facts.published
    foreach ($rule in $contract.rules) {
        switch ($rule) {
            'includeKbs' {
                $list = Get-SelectionList $Selection 'includeKbs'
                if ($null -ne $list -and ($null -eq $kb -or $list -notcontains $kb)) {
                    $shown = if ($null -eq $kb) { 'no KB' } else { $kb }
                    return [ordered]@{ rule = $rule; reason = ($shown + ' is not in includeKbs') }
                }
            }
            'excludeKbs' {
                $list = Get-SelectionList $Selection 'excludeKbs'
                if ($null -ne $list -and $null -ne $kb -and $list -contains $kb) {
                    return [ordered]@{ rule = $rule; reason = ($kb + ' is in excludeKbs') }
                }
            }
            'classifications' {
                $list = Get-SelectionList $Selection 'classifications'
                if ($null -ne $list) {
                    $wanted = @($list | ForEach-Object { [string]$contract.classifications.$_ })
                    $have = @($Facts.classificationIds | ForEach-Object { ([string]$_).ToLowerInvariant() })
                    if (@($have | Where-Object { $wanted -contains $_ }).Count -eq 0) {
                        $names = @($have | ForEach-Object {
                                $id = $_
                                $name = $contract.classifications.PSObject.Properties | Where-Object { $_.Value -eq $id } | Select-Object -First 1
                                if ($null -eq $name) { $id } else { $name.Name }
                            })
                        $shown = if ($names.Count -eq 0) { 'none' } else { $names -join ', ' }
                        return [ordered]@{ rule = $rule; reason = ('classification ' + $shown + ' is not one of ' + ($list -join ', ')) }
                    }
                }
            }
            'msrcSeverities' {
                $list = Get-SelectionList $Selection 'msrcSeverities'
                if ($null -ne $list) {
                    $severity = if ([string]::IsNullOrEmpty([string]$Facts.msrcSeverity)) { 'Unspecified' } else { [string]$Facts.msrcSeverity }
                    if ($list -notcontains $severity) {
                        return [ordered]@{ rule = $rule; reason = ('MSRC severity ' + $severity + ' is not one of ' + ($list -join ', ')) }
                    }
                }
            }
            'maxPublishDate' {
                $property = $Selection.PSObject.Properties['maxPublishDate']
                if ($null -ne $property -and $null -ne $property.Value) {
                    if ($null -eq $published) { return [ordered]@{ rule = $rule; reason = 'publish date unknown' } }
                    $limitText = if ($property.Value -is [datetime]) { $property.Value.ToString('yyyy-MM-dd', [Globalization.CultureInfo]::InvariantCulture) } else { [string]$property.Value }
                    $limit = (ConvertTo-UtcInstant ($limitText + 'T00:00:00Z')).AddDays(1)
                    if ($published -ge $limit) {
                        return [ordered]@{ rule = $rule; reason = ('published ' + $published.ToString('yyyy-MM-dd', [Globalization.CultureInfo]::InvariantCulture) + ', after ' + $limitText) }
                    }
                }
            }
            'approveAfterDays' {
                $property = $Selection.PSObject.Properties['approveAfterDays']
                if ($null -ne $property -and $null -ne $property.Value) {
                    if ($null -eq $published) { return [ordered]@{ rule = $rule; reason = 'publish date unknown' } }
                    $age = [math]::Floor(($Now.ToUniversalTime() - $published).TotalDays)
                    if ($age -lt [int]$property.Value) {
                        return [ordered]@{ rule = $rule; reason = ('published ' + $age + ' days ago, fewer than ' + $property.Value) }
                    }
                }
            }
            'excludeRebootRequired' {
                $property = $Selection.PSObject.Properties['excludeRebootRequired']
                if ($null -ne $property -and $property.Value -eq $true -and [int]$Facts.rebootBehavior -ne 0) {
                    $how = if ([int]$Facts.rebootBehavior -eq 1) { 'always requires' } else { 'can request' }
                    return [ordered]@{ rule = $rule; reason = ('it ' + $how + ' a restart') }
                }
            }
        }
    }
    return $null
}
