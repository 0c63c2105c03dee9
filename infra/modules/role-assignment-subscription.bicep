// One of asr-s2d's custom roles for the app's identity at one allowed subscription: the reader role (main.bicep
// step 3).
targetScope = 'subscription'

@description('Name (GUID) of the custom role definition.')
param roleName string

@description('Object ID of the function app\'s system-assigned identity.')
param principalId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, roleName, principalId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
