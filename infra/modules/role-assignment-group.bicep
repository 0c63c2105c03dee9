// The asr-s2d operator role for the app's identity at one resource group: the vault's, the recovery one, and
// any additional scope (main.bicep step 3).
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
