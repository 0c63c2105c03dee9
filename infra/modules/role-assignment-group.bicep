// One of asr-s2d's custom roles for the app's identity at one resource group (main.bicep step 3): the recovery
// role at the vault's and the recovery group and additionalRoleScopes, the source role at sourceResourceGroupIds.
targetScope = 'resourceGroup'

@description('Name (GUID) of the custom role definition.')
param roleName string

@description('Object ID of the function app\'s system-assigned identity.')
param principalId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, roleName, principalId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
