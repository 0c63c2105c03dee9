// The recovery role for the app's identity at one virtual network, not its resource group (main.bicep step 3):
// the recovery VNet and the test VNets, where the app only joins subnets (load balancer frontends, NICs).
targetScope = 'resourceGroup'

@description('Name of the virtual network, in this deployment\'s resource group.')
param vnetName string

@description('Name (GUID) of the custom role definition.')
param roleName string

@description('Object ID of the function app\'s system-assigned identity.')
param principalId string

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: vnetName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vnet.id, roleName, principalId)
  scope: vnet
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
