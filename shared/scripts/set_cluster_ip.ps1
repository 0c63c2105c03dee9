# asr-s2d:set-cluster-ip v2
<#
.SYNOPSIS
    Moves the cluster IP Address resource onto the recovery subnet after an Azure Site Recovery failover.
.DESCRIPTION
    Run by Azure VM Run Command, as SYSTEM, on ONE node of the failed-over cluster. The internal load
    balancer in front of the cluster answers for IPAddress and probes ProbePort; this script points the
    IP Address resource at the same address and probe port (DESIGN.md rule 10).
    Parameters arrive through Run Command's `parameters` list and are only ever passed as typed
    arguments or hashtable values: no text is ever turned into a command (DESIGN.md rule 11).
    The last line of stdout is one compressed JSON object; README.md beside this file describes it.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$')]
    [string]$IPAddress,

    [Parameter(Mandatory = $true)]
    [ValidateRange(1, 65535)]
    [int]$ProbePort,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$')]
    [string]$SubnetPrefix,

    [ValidatePattern('^[A-Za-z0-9 ._()-]{1,64}$')]
    [string]$IPResourceName
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$result = [ordered]@{ status = 'failed'; cluster = $null; access_point = $null; resources = @(); reason = $null }
$entries = [System.Collections.Generic.List[object]]::new()
$exitCode = 0

function Get-PrefixLength([string]$Mask) {
    $parsed = $null
    if (-not [System.Net.IPAddress]::TryParse($Mask, [ref]$parsed)) { return -1 }
    $bits = ($parsed.GetAddressBytes() | ForEach-Object { [Convert]::ToString([int]$_, 2) }) -join ''
    return ($bits -replace '0', '').Length
}

function Get-IpParameterValue([string]$Name) {
    $values = @{ Address = ''; ProbePort = 0; Network = '' }
    foreach ($parameter in @(Get-ClusterResource -Name $Name | Get-ClusterParameter)) {
        if ($values.ContainsKey($parameter.Name)) { $values[$parameter.Name] = $parameter.Value }
    }
    return $values
}

try {
    # Right after a boot (a failover) ClusSvc starts and the node joins: not a failure, "not-ready" (run again later).
    if ([string](Get-Service -Name ClusSvc).Status -eq 'StartPending') {
        throw [System.TimeoutException]::new('the cluster service (ClusSvc) is StartPending: the cluster has not settled since boot')
    }
    Import-Module FailoverClusters
    $result.cluster = [string](Get-Cluster).Name
    $localNode = Get-ClusterNode -Name $env:COMPUTERNAME
    if ([string]$localNode.State -eq 'Joining') { throw [System.TimeoutException]::new('this node is Joining the cluster: it has not settled since boot') }
    # The core group is "Cluster Group"; its GroupType says so even where the name differs.
    $coreGroupName = 'Cluster Group'
    foreach ($group in @(Get-ClusterGroup)) { if ([string]$group.GroupType -eq 'Cluster') { $coreGroupName = $group.Name } }

    $all = @(Get-ClusterResource)
    $ipResources = @($all | Where-Object { $_.ResourceType.Name -eq 'IP Address' })
    $coreIps = @($ipResources | Where-Object { $_.OwnerGroup.Name -eq $coreGroupName })
    $dnn = @($all | Where-Object { $_.OwnerGroup.Name -eq $coreGroupName -and $_.ResourceType.Name -eq 'Distributed Network Name' })
    $result.access_point = if ($dnn.Count -gt 0) { 'Distributed' } else { 'Singleton' }

    if ($ipResources.Count -eq 0) {
        $result.status = 'no-ip-resource'
        $result.reason = 'the cluster has no IP Address resource: its access points are distributed network names'
    }
    elseif (-not $IPResourceName -and $coreIps.Count -eq 0) {
        # A distributed management point with IP Address resources only in roles: not the cluster IP.
        $result.status = 'no-ip-resource'
        $result.reason = 'the core cluster group has no IP Address resource; role IP Address resources: ' +
            ((@($ipResources | ForEach-Object { $_.Name })) -join ', ')
    }
    else {
        $prefixAddress, $prefixLength = $SubnetPrefix.Split('/')
        $networks = @(Get-ClusterNetwork)
        $network = $networks | Where-Object { $_.Address -eq $prefixAddress -and (Get-PrefixLength $_.AddressMask) -eq [int]$prefixLength } |
            Select-Object -First 1
        if ($null -eq $network) {
            $known = @($networks | ForEach-Object { $_.Name + '=' + $_.Address + '/' + (Get-PrefixLength $_.AddressMask) }) -join ', '
            throw ('no cluster network matches SubnetPrefix; cluster networks: ' + $known)
        }
        if (([int]$network.Role -band 2) -eq 0) {
            throw ('cluster network ' + $network.Name + ' does not allow client access (Role must be ClusterAndClient)')
        }

        if ($IPResourceName) {
            $targets = @($ipResources | Where-Object { $_.Name -eq $IPResourceName })
            if ($targets.Count -eq 0) { throw 'IPResourceName does not name an IP Address resource of this cluster' }
        }
        else {
            # One address cannot live on two resources: move one core IP, preferring the one already on the network.
            $targets = @($coreIps | Sort-Object -Property @{ Expression = { (Get-IpParameterValue $_.Name).Network -ne $network.Name } }, Name |
                Select-Object -First 1)
        }

        $changed = $false
        foreach ($resource in $targets) {
            $name = $resource.Name
            $before = Get-IpParameterValue $name
            $entry = [ordered]@{ name = $name; address_before = [string]$before.Address; address = [string]$before.Address
                probe_port = [int]$before.ProbePort; network = [string]$before.Network; state = [string]$resource.State }
            $entries.Add($entry)
            $inPlace = $entry.address -eq $IPAddress -and $entry.probe_port -eq $ProbePort -and $entry.network -eq $network.Name
            if ($inPlace -and $entry.state -eq 'Online') { continue }

            $changed = $true
            $null = Get-ClusterResource -Name $name | Set-ClusterParameter -WarningAction SilentlyContinue -Multiple @{
                Address = $IPAddress; ProbePort = $ProbePort; SubnetMask = '255.255.255.255'; Network = $network.Name; EnableDhcp = 0
            }
            # Taking the IP offline also takes its dependents (the cluster name) offline; the group brings them back.
            $null = Stop-ClusterResource -Name $name
            $null = Start-ClusterResource -Name $name
            $null = Start-ClusterGroup -Name $resource.OwnerGroup.Name
            for ($i = 0; $i -lt 30 -and [string](Get-ClusterResource -Name $name).State -ne 'Online'; $i++) { Start-Sleep -Seconds 2 }

            $after = Get-IpParameterValue $name
            $entry.address = [string]$after.Address
            $entry.probe_port = [int]$after.ProbePort
            $entry.network = [string]$after.Network
            $entry.state = [string](Get-ClusterResource -Name $name).State
            if ($entry.address -ne $IPAddress -or $entry.probe_port -ne $ProbePort -or $entry.network -ne $network.Name) {
                throw ('resource ' + $name + ' did not keep the new Address/ProbePort/Network')
            }
            if ($entry.state -ne 'Online') { throw ('resource ' + $name + ' is ' + $entry.state + ' after the restart') }
        }
        $result.status = if ($changed) { 'changed' } else { 'unchanged' }
    }
}
catch {
    $notReady = $_.Exception -is [System.TimeoutException]
    $result.status = if ($notReady) { 'not-ready' } else { 'failed' }
    $message = [string]$_.Exception.Message
    $result.reason = if ($message.Length -gt 1000) { $message.Substring(0, 1000) } else { $message }
    if (-not $notReady) { $exitCode = 1 }
}

$result.resources = $entries.ToArray()
$result | ConvertTo-Json -Compress -Depth 5
exit $exitCode
