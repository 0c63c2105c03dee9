// asr-s2d: everything the app needs in one subscription-scoped deployment.
//
//   az deployment sub create --location <region> --template-file infra/main.bicep --parameters @infra/main.parameters.json
//   azd up
//
// Creates (README "Deployment" lists the same, in the same order):
//   1. the app's resource group
//   2. (modules/app.bicep) two storage accounts: host (Functions host + deployment package) and state (containers
//      asr-s2d and deadletter), both without shared keys or public blob access; Log Analytics + Application
//      Insights; a Flex Consumption plan (FC1) and a Linux Python 3.11 function app with a system-assigned
//      identity; its app settings; the identity's data roles on the two accounts
//   3. the custom role "asr-s2d operator" whose actions are exactly infra/role-actions.json, and its assignments
//      to the app's identity at every allowed subscription, at the vault's and the recovery resource group,
//      and at any additional resource group (modules/role-assignment-*.bicep)
//   4. (modules/events.bicep, when subscribeEvents) the Event Grid system topic of this subscription and one
//      event subscription per Event Grid trigger, with retries and dead-lettering into the state account
//
// Kept simple on purpose: no Bicep compiler is reachable from the build machines, so tests/unit/test_infra.py
// reads these files as text. Run `az bicep build --file infra/main.bicep` before the first deployment.

targetScope = 'subscription'

// -- where and what --------------------------------------------------------------------------------------------
@description('Name of this deployment (azd environment name); names the resource group and the resources.')
@minLength(2)
@maxLength(20)
param environmentName string

@description('Region of the function app, its storage and its monitoring (the DR region is a good choice).')
param location string = deployment().location

@description('Resource group of the app; created if missing.')
param resourceGroupName string = 'rg-${environmentName}'

@description('Subscribe the Event Grid triggers. The functions must exist first: false on the very first deployment, true once the code is published (azure.yaml does both).')
param subscribeEvents bool = true

@description('Maximum instances of the Flex Consumption app (Event Grid deliveries scale it out).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// -- required app settings (shared/config.py: every setting without a default) ---------------------------------
@description('ALLOWED_SUBSCRIPTION_IDS: the subscriptions the app may act in; the role is assigned at each of them.')
@minLength(1)
param allowedSubscriptionIds array

@description('VAULT_ID: resource ID of the Recovery Services vault (in the DR region).')
param vaultId string

@description('TARGET_REGION: the disaster-recovery region.')
param targetRegion string

@description('RECOVERY_RESOURCE_GROUP_ID: resource group in the DR region for recovery VMs and the DR load balancer.')
param recoveryResourceGroupId string

@description('RECOVERY_VNET_ID: the virtual network the nodes fail over into.')
param recoveryVnetId string

@description('CACHE_STORAGE_ACCOUNT_ID: the replication cache storage account (source region, shared keys allowed).')
param cacheStorageAccountId string

// -- optional app settings with their own parameters -----------------------------------------------------------
@description('TEST_FAILOVER_VNET_ID: isolated VNet for test failovers and drills; empty disables drills.')
param testFailoverVnetId string = ''

@description('FAILBACK_TEST_VNET_ID: isolated VNet in the original region for drills of the way back (after a reprotect).')
param failbackTestVnetId string = ''

@description('RECOVERY_SUBNET_NAME: subnet of the recovery VNet; empty = the source subnet\'s name.')
param recoverySubnetName string = ''

@description('DR_CACHE_STORAGE_ACCOUNT_ID: cache account in the DR region, for reprotect.')
param drCacheStorageAccountId string = ''

@description('DRIFT_AUDIT_SCHEDULE (NCRONTAB). The host resolves %DRIFT_AUDIT_SCHEDULE%, so it must be an app setting.')
param driftAuditSchedule string = '0 0 * * * *'

@description('DRILL_SCHEDULE (NCRONTAB). The host resolves %DRILL_SCHEDULE%, so it must be an app setting.')
param drillSchedule string = '0 0 3 1 * *'

@description('DRY_RUN, ALLOW_DISABLE_REPLICATION, AUDIT_REPAIR, AUDIT_REASSIGN_IP, ALLOW_REPROTECT: the safety switches (all off by default).')
param safety object = {
  DRY_RUN: 'false'
  ALLOW_DISABLE_REPLICATION: 'false'
  AUDIT_REPAIR: 'false'
  AUDIT_REASSIGN_IP: 'false'
  ALLOW_REPROTECT: 'false'
}

@description('Any other setting of the README table, by its name (e.g. {"RPO_THRESHOLD_SECONDS": "900"}). The settings this template sets itself win.')
param extraAppSettings object = {}

@description('Resource group IDs outside the allowed subscriptions where the app also works (e.g. a network team\'s group holding the DR and test VNets): the role is assigned there too.')
param additionalRoleScopes array = []

var tags = { 'azd-env-name': environmentName, app: 'asr-s2d' }
var vaultResourceGroupId = join(take(split(vaultId, '/'), 5), '/')
var subscriptionScopes = [for sub in allowedSubscriptionIds: '/subscriptions/${sub}']
var roleScopes = union(subscriptionScopes, [vaultResourceGroupId, recoveryResourceGroupId], additionalRoleScopes)
var resourceGroupScopes = union([vaultResourceGroupId, recoveryResourceGroupId], additionalRoleScopes)

// 1. the app's resource group ---------------------------------------------------------------------------------
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

// 2. storage, monitoring, plan, function app, app settings, data roles ---------------------------------------
module app 'modules/app.bicep' = {
  name: 'asr-s2d-app'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    maximumInstanceCount: maximumInstanceCount
    requiredSettings: {
      ALLOWED_SUBSCRIPTION_IDS: join(allowedSubscriptionIds, ',')
      VAULT_ID: vaultId
      TARGET_REGION: targetRegion
      RECOVERY_RESOURCE_GROUP_ID: recoveryResourceGroupId
      RECOVERY_VNET_ID: recoveryVnetId
      CACHE_STORAGE_ACCOUNT_ID: cacheStorageAccountId
    }
    optionalSettings: union(extraAppSettings, safety, {
      TEST_FAILOVER_VNET_ID: testFailoverVnetId
      FAILBACK_TEST_VNET_ID: failbackTestVnetId
      RECOVERY_SUBNET_NAME: recoverySubnetName
      DR_CACHE_STORAGE_ACCOUNT_ID: drCacheStorageAccountId
      DRIFT_AUDIT_SCHEDULE: driftAuditSchedule
      DRILL_SCHEDULE: drillSchedule
    })
  }
}

// 3. the least-privilege role and its assignments --------------------------------------------------------------
resource operatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'asr-s2d-operator', environmentName)
  properties: {
    roleName: 'asr-s2d operator (${environmentName})'
    description: 'Exactly the ARM actions the asr-s2d function app uses (infra/role-actions.json; README "The role").'
    type: 'CustomRole'
    permissions: [
      {
        actions: loadJsonContent('role-actions.json')
        notActions: []
      }
    ]
    assignableScopes: roleScopes
  }
}

module roleAtSubscription 'modules/role-assignment-subscription.bicep' = [for sub in allowedSubscriptionIds: {
  name: 'asr-s2d-role-${sub}'
  scope: subscription(sub)
  params: {
    roleName: operatorRole.name
    principalId: app.outputs.principalId
  }
}]

module roleAtResourceGroup 'modules/role-assignment-group.bicep' = [for (groupId, i) in resourceGroupScopes: {
  name: 'asr-s2d-role-rg-${i}'
  scope: resourceGroup(split(groupId, '/')[2], split(groupId, '/')[4])
  params: {
    roleName: operatorRole.name
    principalId: app.outputs.principalId
  }
}]

// 4. Event Grid: the subscription's system topic, one event subscription per Event Grid trigger ---------------
module events 'modules/events.bicep' = if (subscribeEvents) {
  name: 'asr-s2d-events'
  scope: rg
  params: {
    functionAppId: app.outputs.functionAppId
    deadLetterAccountId: app.outputs.stateAccountId
    deadLetterContainer: app.outputs.deadLetterContainer
    tags: tags
  }
}

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output APP_PRINCIPAL_ID string = app.outputs.principalId
output STATE_STORAGE_ACCOUNT_URL string = app.outputs.stateAccountUrl
output STATUS_PAGE_URL string = 'https://${app.outputs.functionAppHostName}/api/status?code=<function key of status_page>'
output RUNBOOK_URL string = 'https://${app.outputs.functionAppHostName}/api/failover/runbook'
