// The recovery role for the app's identity at one cache storage account, not its resource group (main.bicep
// step 3): Site Recovery checks that the caller may list the cache account's keys before it enables replication
// (or reprotects) through it, and the source region's cache usually sits beside the nodes.
targetScope = 'resourceGroup'

@description('Name of the storage account, in this deployment\'s resource group.')
param accountName string

@description('Name (GUID) of the custom role definition.')
param roleName string

@description('Object ID of the function app\'s system-assigned identity.')
param principalId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, roleName, principalId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
