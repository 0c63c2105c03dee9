# asr-s2d:set-cluster-ip v3
<#
.SYNOPSIS
    Moves the cluster's access points (the core cluster IP and role IPs) onto the recovery subnet after a failover.
.DESCRIPTION
    Run by Azure VM Run Command, as SYSTEM, on ONE node of the failed-over cluster. Each access point (the core
    "Cluster IP Address", a SQL Server FCI's IP Address resource, ...) has its own internal-load-balancer frontend
    and probe port; this script points each IP Address resource at its frontend's address and probe port.
    IPAddress + ProbePort move the core IP; RoleAddresses (FROM=TO:PORT,...) move each role IP holding FROM.
    Parameters arrive through Run Command's `parameters` list and are only ever passed as typed
    arguments or hashtable values: no text is ever turned into a command (DESIGN.md rule 11).
    The last line of stdout is one compressed JSON object; README.md beside this file describes it.
#>
[CmdletBinding(DefaultParameterSetName = 'Roles')]
param(
    [Parameter(ParameterSetName = 'Core', Mandatory = $true)]
    [ValidatePattern('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$')]
    [string]$IPAddress,

    [Parameter(ParameterSetName = 'Core', Mandatory = $true)]
    [ValidateRange(1, 65535)]
    [int]$ProbePort,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$')]
    [string]$SubnetPrefix,

    [Parameter(ParameterSetName = 'Core')]
    [Parameter(ParameterSetName = 'Roles', Mandatory = $true)]
    [ValidatePattern('^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])=((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})(,((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])=((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})){0,15}$')]
    [string]$RoleAddresses
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$result = [ordered]@{ status = 'failed'; cluster = $null; access_point = $null; resources = @(); roles_without_ip = @(); reason = $null }
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
    $roleIps = @($ipResources | Where-Object { $_.OwnerGroup.Name -ne $coreGroupName })
    $dnns = @($all | Where-Object { $_.ResourceType.Name -eq 'Distributed Network Name' })
    $result.access_point = if (@($dnns | Where-Object { $_.OwnerGroup.Name -eq $coreGroupName }).Count -gt 0) { 'Distributed' } else { 'Singleton' }
    # A role whose access point is a distributed network name has no IP Address resource: nothing to move.
    $result.roles_without_ip = @($dnns | ForEach-Object { [string]$_.OwnerGroup.Name } | Sort-Object -Unique |
        Where-Object { $groupName = $_; @($ipResources | Where-Object { $_.OwnerGroup.Name -eq $groupName }).Count -eq 0 })

    $moves = [System.Collections.Generic.List[object]]::new()
    if ($RoleAddresses) {
        foreach ($pair in $RoleAddresses.Split(',')) {
            $from, $rest = $pair.Split('=')
            $to, $port = $rest.Split(':')
            $moves.Add([pscustomobject]@{ From = $from; To = $to; Port = [int]$port })
        }
    }

    if ($ipResources.Count -eq 0) {
        $result.status = 'no-ip-resource'
        $result.reason = 'the cluster has no IP Address resource: its access points are distributed network names'
    }
    elseif ($IPAddress -and $coreIps.Count -eq 0 -and $moves.Count -eq 0) {
        # A distributed management point with IP Address resources only in roles: not the cluster IP.
        $result.status = 'no-ip-resource'
        $result.reason = 'the core cluster group has no IP Address resource; role IP Address resources: ' +
            ((@($roleIps | ForEach-Object { $_.Name })) -join ', ') + ' (pass RoleAddresses to move them)'
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

        # Every target is found before anything changes: a FROM that matches nothing fails the run untouched.
        $targets = [System.Collections.Generic.List[object]]::new()
        if ($IPAddress -and $coreIps.Count -gt 0) {
            # One address cannot live on two resources: move one core IP, preferring the one already on the network.
            $core = $coreIps | Sort-Object -Property @{ Expression = { (Get-IpParameterValue $_.Name).Network -ne $network.Name } }, Name |
                Select-Object -First 1
            $targets.Add([pscustomobject]@{ Resource = $core; To = $IPAddress; Port = $ProbePort })
        }
        elseif ($IPAddress) { $result.reason = 'the core cluster group has no IP Address resource: IPAddress was not applied' }
        foreach ($move in $moves) {
            $found = @($roleIps | Where-Object { (Get-IpParameterValue $_.Name).Address -in @($move.From, $move.To) } | Sort-Object -Property Name)
            if ($found.Count -eq 0) { throw ('RoleAddresses: no role IP Address resource holds ' + $move.From + ' (or ' + $move.To + ')') }
            if (@($targets | Where-Object { $_.Resource.Name -eq $found[0].Name }).Count -gt 0) {
                throw ('RoleAddresses: IP Address resource ' + $found[0].Name + ' is moved twice')
            }
            $targets.Add([pscustomobject]@{ Resource = $found[0]; To = $move.To; Port = $move.Port })
        }

        $changed = $false
        foreach ($target in $targets) {
            $name = $target.Resource.Name
            $groupName = [string]$target.Resource.OwnerGroup.Name
            $before = Get-IpParameterValue $name
            $entry = [ordered]@{ name = $name; group = $groupName; address_before = [string]$before.Address; address = [string]$before.Address
                probe_port = [int]$before.ProbePort; network = [string]$before.Network; state = [string]$target.Resource.State
                role_state = [string](Get-ClusterGroup -Name $groupName).State }
            $entries.Add($entry)
            $inPlace = $entry.address -eq $target.To -and $entry.probe_port -eq $target.Port -and $entry.network -eq $network.Name
            if ($inPlace -and $entry.state -eq 'Online') { continue }

            $changed = $true
            # Taking the IP offline takes its dependents (network name, SQL Server) with it; the group brings all back.
            $null = Stop-ClusterResource -Name $name
            $null = Get-ClusterResource -Name $name | Set-ClusterParameter -WarningAction SilentlyContinue -Multiple @{
                Address = $target.To; ProbePort = $target.Port; SubnetMask = '255.255.255.255'; Network = $network.Name; EnableDhcp = 0
            }
            $null = Start-ClusterGroup -Name $groupName
            for ($i = 0; $i -lt 30 -and [string](Get-ClusterResource -Name $name).State -ne 'Online'; $i++) { Start-Sleep -Seconds 2 }

            $after = Get-IpParameterValue $name
            $entry.address = [string]$after.Address
            $entry.probe_port = [int]$after.ProbePort
            $entry.network = [string]$after.Network
            $entry.state = [string](Get-ClusterResource -Name $name).State
            $entry.role_state = [string](Get-ClusterGroup -Name $groupName).State
            if ($entry.address -ne $target.To -or $entry.probe_port -ne $target.Port -or $entry.network -ne $network.Name) {
                throw ('resource ' + $name + ' did not keep the new Address/ProbePort/Network')
            }
            if ($entry.state -ne 'Online') { throw ('resource ' + $name + ' is ' + $entry.state + ' after Start-ClusterGroup') }
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
