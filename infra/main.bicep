// asr-s2d: everything the app needs in one subscription-scoped deployment.
//
//   az deployment sub create --location <region> --template-file infra/main.bicep --parameters @infra/main.parameters.json
//   azd up
//
// Creates (README "Deployment" lists the same, in the same order):
//   1. the app's resource group
//   2. (modules/app.bicep) two storage accounts: host (Functions host + deployment package) and state (containers
//      asr-s2d, deadletter and evidence, the last under a time-based retention policy; the work queue and its
//      poison queue), both without shared keys or public blob access; Log Analytics + Application Insights; a Flex
//      Consumption plan (FC1) and a Linux Python 3.11 function app with a system-assigned identity; its app
//      settings; the identity's data roles on the two accounts and on the two work queues
//   3. three custom roles whose actions are exactly infra/role-actions.json (docs/deployment.md "The role"), each
//      assigned to the app's identity only where it is needed (modules/role-assignment-*.bicep):
//        asr-s2d reader    reads only, at every allowed subscription
//        asr-s2d recovery  the vault's and the app's writes on the recovery side, at the vault's and the recovery
//                          resource group, the recovery and test VNets, the cache accounts, additionalRoleScopes
//        asr-s2d source    the writes of the way back and Run Command on the nodes, at sourceResourceGroupIds
//                          (none by default: then that role is not created)
//      allowDisableReplication and allowReprotect add the actions those switches need, and set the app settings.
//   4. (modules/events.bicep, when subscribeEvents) the Event Grid system topic of this subscription and one
//      event subscription per Event Grid trigger, with retries and dead-lettering into the state account
//   5. (modules/topic.bicep and modules/alerts.bicep, when alerts) the custom Event Grid topic the app publishes its
//      outcomes, drift and drills to, the app's identity as its only sender; a queue in the state account and three
//      filtered event subscriptions (red cluster, failed drill, failed post-failover step), an action group (e-mail,
//      optional webhook), a metric alert per event subscription, one on events the app could not publish, and a log
//      search alert on an audit that has not completed for two periods
//   6. (modules/workbook.bicep) an Azure Monitor workbook of the clusters, from the app's logs (infra/workbook.json)
// and, with statusPageEntraClientId, App Service authentication in front of the status page (modules/app.bicep).
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

@description('WORK_QUEUE: the Storage queue in the state account the triggers enqueue work on and the worker reads; the deployment creates it and its poison queue (this name plus -poison) and gives the app\'s identity Storage Queue Data Contributor on those two queues only. 3-56 lowercase letters, digits and single hyphens.')
@minLength(3)
@maxLength(56)
param workQueueName string = 'asr-s2d-work'

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

@description('DRY_RUN, AUDIT_REPAIR, AUDIT_REASSIGN_IP: the safety switches that need no permission of their own (all off by default). ALLOW_DISABLE_REPLICATION and ALLOW_REPROTECT follow allowDisableReplication and allowReprotect.')
param safety object = {
  DRY_RUN: 'false'
  AUDIT_REPAIR: 'false'
  AUDIT_REASSIGN_IP: 'false'
}

@description('ALLOW_DISABLE_REPLICATION, and the recovery role\'s replicationProtectedItems/remove/action: let the app disable replication of a node protected outside its cluster\'s group (then enable it in the group).')
param allowDisableReplication bool = false

@description('ALLOW_REPROTECT, and the permissions a reprotect needs: replicationProtectionContainers/switchprotection/action on the vault (A2A reprotect is switch protection), and in sourceResourceGroupIds what Site Recovery checks before it recreates the nodes there at failback.')
param allowReprotect bool = false

@description('Any other setting of the README table, by its name (e.g. {"RPO_THRESHOLD_SECONDS": "900"}). The settings this template sets itself win.')
param extraAppSettings object = {}

@description('Resource group IDs where the app also writes on the recovery side (e.g. a network team\'s group holding the DR load balancer\'s subnet): the recovery role is assigned there too.')
param additionalRoleScopes array = []

@description('Resource group IDs of the protected nodes (their VMs, NICs and VNet): the source role is assigned there, for the failback (load balancer, NIC joins, the in-guest IP step), drills of the way back, Run Command on the nodes and, with allowReprotect, the reprotect. Empty (the default): none of that is granted, and the app reports those steps as failed.')
param sourceResourceGroupIds array = []

// -- evidence, alerts, the status page -------------------------------------------------------------------------
@description('Days each audit report and drill record in the evidence container (EVIDENCE_CONTAINER) cannot be changed or deleted: its time-based retention policy.')
@minValue(1)
@maxValue(146000)
param evidenceRetentionDays int = 400

@description('Set true once the evidence container\'s retention policy is locked: the deployment then leaves the policy alone (Azure accepts only extensions of a locked policy).')
param evidenceRetentionLocked bool = false

@description('Alerts out of the box: the custom Event Grid topic the app publishes to (EVENT_GRID_TOPIC_ENDPOINT; the app\'s identity its only sender, no key), an action group, and alert rules for a red cluster, a failed drill, a failed post-failover step, an audit that has not completed for two periods, and events the app could not publish (docs/operations.md "Events and alerts").')
param alerts bool = true

@description('E-mail addresses the action group notifies (with alerts). Empty: the alerts fire in Azure Monitor and nobody is told.')
param alertEmails array = []

@secure()
@description('Optional URL the action group posts each alert to, in Azure Monitor\'s common alert schema (with alerts): e.g. a Teams Workflows or Logic App trigger that turns it into a card. Empty = none.')
param alertWebhookUrl string = ''

@description('Application (client) ID of a Microsoft Entra app registration: turns on App Service authentication, so the status page asks for Entra ID sign-in (docs/deployment.md "The status page behind Entra ID"). Empty (the default): off, the function key only.')
param statusPageEntraClientId string = ''

@description('AUDIT_PERIOD_MINUTES: how often DRIFT_AUDIT_SCHEDULE runs the audit (keep them in step). A report older than two periods is stale: the status page says so and the stale-audit alert fires. At most a day: a log search alert looks back two days at most.')
@minValue(1)
@maxValue(1440)
param auditPeriodMinutes int = 60

var tags = { 'azd-env-name': environmentName, app: 'asr-s2d' }
var vaultResourceGroupId = join(take(split(vaultId, '/'), 5), '/')

// Where each role is assigned (tests/arm_actions.py Deployment.scopes says the same; tests/unit/test_infra.py checks).
var subscriptionScopes = [for sub in allowedSubscriptionIds: '/subscriptions/${sub}']
var recoveryGroupScopes = union([vaultResourceGroupId, recoveryResourceGroupId], additionalRoleScopes)
var recoveryVnetScopes = union(filter([recoveryVnetId, testFailoverVnetId, failbackTestVnetId], id => !empty(id)), [])
var recoveryAccountScopes = union(filter([cacheStorageAccountId, drCacheStorageAccountId], id => !empty(id)), [])
var sourceGroupScopes = union(sourceResourceGroupIds, [])
// A custom role is assignable at subscriptions and resource groups: the recovery role at the groups of its VNets
// and accounts too (it is assigned at the resources themselves, not at their groups).
var recoveryAssignableScopes = union(recoveryGroupScopes, map(union(recoveryVnetScopes, recoveryAccountScopes), id => join(take(split(id, '/'), 5), '/')))
var roleActions = loadJsonContent('role-actions.json')

// 1. the app's resource group ---------------------------------------------------------------------------------
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

// 5. (with alerts) the custom topic, before the app: its endpoint is an app setting --------------------------
module topic 'modules/topic.bicep' = if (alerts) {
  name: 'asr-s2d-topic'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
  }
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
    evidenceRetentionDays: evidenceRetentionDays
    evidenceRetentionLocked: evidenceRetentionLocked
    statusPageEntraClientId: statusPageEntraClientId
    workQueueName: workQueueName
    requiredSettings: {
      ALLOWED_SUBSCRIPTION_IDS: join(allowedSubscriptionIds, ',')
      VAULT_ID: vaultId
      TARGET_REGION: targetRegion
      RECOVERY_RESOURCE_GROUP_ID: recoveryResourceGroupId
      RECOVERY_VNET_ID: recoveryVnetId
      CACHE_STORAGE_ACCOUNT_ID: cacheStorageAccountId
    }
    optionalSettings: union(extraAppSettings, safety, {
      ALLOW_DISABLE_REPLICATION: allowDisableReplication ? 'true' : 'false'
      ALLOW_REPROTECT: allowReprotect ? 'true' : 'false'
      TEST_FAILOVER_VNET_ID: testFailoverVnetId
      FAILBACK_TEST_VNET_ID: failbackTestVnetId
      RECOVERY_SUBNET_NAME: recoverySubnetName
      DR_CACHE_STORAGE_ACCOUNT_ID: drCacheStorageAccountId
      DRIFT_AUDIT_SCHEDULE: driftAuditSchedule
      DRILL_SCHEDULE: drillSchedule
      AUDIT_PERIOD_MINUTES: string(auditPeriodMinutes)
    }, alerts ? { EVENT_GRID_TOPIC_ENDPOINT: topic.outputs.endpoint } : {})
  }
}

// 3. the least-privilege roles and their assignments -----------------------------------------------------------
resource readerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'asr-s2d-reader', environmentName)
  properties: {
    roleName: '${roleActions.reader.name} (${environmentName})'
    description: roleActions.reader.description
    type: 'CustomRole'
    permissions: [
      {
        actions: roleActions.reader.actions
        notActions: []
      }
    ]
    assignableScopes: subscriptionScopes
  }
}

resource recoveryRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'asr-s2d-recovery', environmentName)
  properties: {
    roleName: '${roleActions.recovery.name} (${environmentName})'
    description: roleActions.recovery.description
    type: 'CustomRole'
    permissions: [
      {
        actions: concat(roleActions.recovery.actions, allowDisableReplication ? roleActions.recovery.allowDisableReplication : [], allowReprotect ? roleActions.recovery.allowReprotect : [])
        notActions: []
      }
    ]
    assignableScopes: recoveryAssignableScopes
  }
}

// Not created without source groups: a role definition needs at least one assignable scope.
resource sourceRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(sourceGroupScopes)) {
  name: guid(subscription().id, 'asr-s2d-source', environmentName)
  properties: {
    roleName: '${roleActions.source.name} (${environmentName})'
    description: roleActions.source.description
    type: 'CustomRole'
    permissions: [
      {
        actions: concat(roleActions.source.actions, allowReprotect ? roleActions.source.allowReprotect : [])
        notActions: []
      }
    ]
    assignableScopes: sourceGroupScopes
  }
}

module readerAtSubscription 'modules/role-assignment-subscription.bicep' = [for sub in allowedSubscriptionIds: {
  name: 'asr-s2d-reader-${sub}'
  scope: subscription(sub)
  params: {
    roleName: readerRole.name
    principalId: app.outputs.principalId
  }
}]

module recoveryAtResourceGroup 'modules/role-assignment-group.bicep' = [for (groupId, i) in recoveryGroupScopes: {
  name: 'asr-s2d-recovery-rg-${i}'
  scope: resourceGroup(split(groupId, '/')[2], split(groupId, '/')[4])
  params: {
    roleName: recoveryRole.name
    principalId: app.outputs.principalId
  }
}]

module recoveryAtVnet 'modules/role-assignment-vnet.bicep' = [for (vnetId, i) in recoveryVnetScopes: {
  name: 'asr-s2d-recovery-vnet-${i}'
  scope: resourceGroup(split(vnetId, '/')[2], split(vnetId, '/')[4])
  params: {
    vnetName: last(split(vnetId, '/'))
    roleName: recoveryRole.name
    principalId: app.outputs.principalId
  }
}]

module recoveryAtAccount 'modules/role-assignment-storage.bicep' = [for (accountId, i) in recoveryAccountScopes: {
  name: 'asr-s2d-recovery-st-${i}'
  scope: resourceGroup(split(accountId, '/')[2], split(accountId, '/')[4])
  params: {
    accountName: last(split(accountId, '/'))
    roleName: recoveryRole.name
    principalId: app.outputs.principalId
  }
}]

module sourceAtResourceGroup 'modules/role-assignment-group.bicep' = [for (groupId, i) in sourceGroupScopes: {
  name: 'asr-s2d-source-rg-${i}'
  scope: resourceGroup(split(groupId, '/')[2], split(groupId, '/')[4])
  params: {
    roleName: sourceRole.name
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
    actionGroupId: alerts ? alerting.outputs.actionGroupId : ''
  }
}

// 5. (with alerts) the app's identity as the topic's sender, the alerting queue and event subscriptions, the action
// group, the alert rules ---------------------------------------------------------------------------------------
module alerting 'modules/alerts.bicep' = if (alerts) {
  name: 'asr-s2d-alerts'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    topicName: alerts ? topic.outputs.name : ''
    appInsightsId: app.outputs.appInsightsId
    appPrincipalId: app.outputs.principalId
    stateAccountName: app.outputs.stateAccountName
    alertEmails: alertEmails
    alertWebhookUrl: alertWebhookUrl
    auditPeriodMinutes: auditPeriodMinutes
  }
}

// 6. the workbook of the clusters, from the app's logs -------------------------------------------------------
module workbook 'modules/workbook.bicep' = {
  name: 'asr-s2d-workbook'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    appInsightsId: app.outputs.appInsightsId
  }
}

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output APP_PRINCIPAL_ID string = app.outputs.principalId
output STATE_STORAGE_ACCOUNT_URL string = app.outputs.stateAccountUrl
output STATUS_PAGE_URL string = 'https://${app.outputs.functionAppHostName}/api/status?code=<function key of status_page>'
output RUNBOOK_URL string = 'https://${app.outputs.functionAppHostName}/api/failover/runbook'
output EVENT_GRID_TOPIC_ENDPOINT string = alerts ? topic.outputs.endpoint : ''
output ALERT_ACTION_GROUP_ID string = alerts ? alerting.outputs.actionGroupId : ''
