# asr-s2d:cluster-health v2
<#
.SYNOPSIS
    Reports the health of a Storage Spaces Direct failover cluster, read-only, as one JSON line.
.DESCRIPTION
    Run by Azure VM Run Command, as SYSTEM, on one node. Takes no parameters and changes nothing.
    Run Command keeps only the last 4,096 bytes of output, so names are shortened, problems sort
    first in every list and lists are cut (with "truncated": true) until the JSON fits; roles are cut last.
    Each section is read on its own: a failing cmdlet adds a line to "errors" instead of hiding the
    rest of the report. README.md beside this file describes every field.
#>
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$maxBytes = 4000
$problems = [System.Collections.Generic.List[string]]::new()
$report = [ordered]@{
    cluster = $null; cluster_service = $null; nodes = @(); quorum = $null; pool = $null
    virtual_disks = @(); csv = @(); ip_resources = @(); roles = @(); truncated = $false; errors = @()
}

function Get-ShortText($Value, [int]$Length = 48) {
    $text = [string]$Value
    if ($text.Length -gt $Length) { return $text.Substring(0, $Length) }
    return $text
}

function Get-HealthName($Value) {
    # Storage cmdlets may hand back the raw HealthStatus code instead of its name.
    $names = @{ '0' = 'Healthy'; '1' = 'Warning'; '2' = 'Unhealthy'; '5' = 'Unknown' }
    $text = [string]$Value
    if ($names.ContainsKey($text)) { return $names[$text] }
    return $text
}

function Add-Problem([string]$Section, $ErrorRecord) {
    if ($problems.Count -lt 5) { $problems.Add((Get-ShortText ($Section + ': ' + $ErrorRecord.Exception.Message) 160)) }
}

try { $report.cluster_service = [string](Get-Service -Name ClusSvc).Status } catch { Add-Problem 'service' $_ }

try {
    Import-Module FailoverClusters
    $report.cluster = Get-ShortText (Get-Cluster).Name
    $nodes = @(Get-ClusterNode)
    $report.nodes = @($nodes | Sort-Object { [string]$_.State -eq 'Up' }, Name |
        ForEach-Object { [ordered]@{ name = Get-ShortText $_.Name; state = [string]$_.State } })

    $votesUp = 0
    $votesTotal = 0
    foreach ($node in $nodes) {
        $votesTotal += [int]$node.NodeWeight
        if ([string]$node.State -eq 'Up') { $votesUp += [int]$node.NodeWeight }
    }
    $quorum = Get-ClusterQuorum
    $witness = [ordered]@{ type = 'None'; state = $null; account = $null }
    if ($null -ne $quorum.QuorumResource) {
        $witnessTypes = @{ 'Cloud Witness' = 'Cloud'; 'Physical Disk' = 'Disk'; 'File Share Witness' = 'FileShare' }
        $typeName = [string]$quorum.QuorumResource.ResourceType.Name
        $witness.type = if ($witnessTypes.ContainsKey($typeName)) { $witnessTypes[$typeName] } else { $typeName }
        $witness.state = [string]$quorum.QuorumResource.State
        if ($witness.type -eq 'Cloud') { $witness.account = Get-ShortText ($quorum.QuorumResource | Get-ClusterParameter -Name AccountName).Value }
    }
    # The cluster service only runs a cluster that holds quorum, so a node that is Up proves it.
    $report.quorum = [ordered]@{
        state = [string]$quorum.QuorumType; has_quorum = @($nodes | Where-Object { [string]$_.State -eq 'Up' }).Count -gt 0
        votes_up = $votesUp; votes_total = $votesTotal; witness = $witness
    }

    $report.csv = @(Get-ClusterSharedVolume | Sort-Object { [string]$_.State -eq 'Online' }, Name |
        ForEach-Object { [ordered]@{ name = Get-ShortText $_.Name; state = [string]$_.State } })
    $resources = @(Get-ClusterResource)
    $report.ip_resources = @($resources | Where-Object { $_.ResourceType.Name -eq 'IP Address' } | ForEach-Object {
        [ordered]@{ name = Get-ShortText $_.Name; group = Get-ShortText $_.OwnerGroup.Name
            address = [string]($_ | Get-ClusterParameter -Name Address).Value
            probe_port = [int]($_ | Get-ClusterParameter -Name ProbePort).Value; state = [string]$_.State }
    } | Sort-Object { $_.state -eq 'Online' }, { $_.name })
    # Roles (cluster groups) but Available Storage; a group holding a SQL Server resource is a SQL Server FCI.
    $groupTypes = @{ 'Cluster' = 'Cluster'; 'ScaleoutFileServer' = 'ScaleoutFileServer' }
    $report.roles = @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -ne 'AvailableStorage' } | ForEach-Object {
        $groupName = $_.Name
        $members = @($resources | Where-Object { $_.OwnerGroup.Name -eq $groupName })
        $type = if ($groupTypes.ContainsKey([string]$_.GroupType)) { $groupTypes[[string]$_.GroupType] } else { 'Generic' }
        if (@($members | Where-Object { $_.ResourceType.Name -eq 'SQL Server' }).Count -gt 0) { $type = 'SqlServer' }
        [ordered]@{ name = Get-ShortText $groupName; type = $type; state = [string]$_.State; owner = Get-ShortText $_.OwnerNode.Name
            resources = @($members | ForEach-Object { [ordered]@{ name = Get-ShortText $_.Name; type = [string]$_.ResourceType.Name; state = [string]$_.State } }) }
    } | Sort-Object { $_.state -eq 'Online' })
}
catch { Add-Problem 'cluster' $_ }

try {
    $pool = Get-StoragePool -IsPrimordial $false | Select-Object -First 1
    if ($null -ne $pool) { $report.pool = [ordered]@{ name = Get-ShortText $pool.FriendlyName; health = Get-HealthName $pool.HealthStatus } }
    $report.virtual_disks = @(Get-VirtualDisk | ForEach-Object {
        [ordered]@{ name = Get-ShortText $_.FriendlyName; health = Get-HealthName $_.HealthStatus }
    } | Sort-Object { $_.health -eq 'Healthy' }, { $_.name })
}
catch { Add-Problem 'storage' $_ }

$report.errors = $problems.ToArray()
# Shorten the longest list (its healthy tail first) until the JSON fits in what Run Command keeps; roles go last.
$lists = @('virtual_disks', 'csv', 'ip_resources', 'nodes')
while ([System.Text.Encoding]::UTF8.GetByteCount(($report | ConvertTo-Json -Compress -Depth 6)) -gt $maxBytes) {
    $longest = $lists | Sort-Object { @($report[$_]).Count } -Descending | Select-Object -First 1
    if (@($report[$longest]).Count -eq 0) { $longest = 'roles' }
    $items = @($report[$longest])
    if ($items.Count -eq 0) { break }
    $report[$longest] = @($items | Select-Object -First ($items.Count - 1))
    $report.truncated = $true
}
$report | ConvertTo-Json -Compress -Depth 6
