// The function app and what it runs on, in the app's resource group (main.bicep step 2).
//
// Storage: two accounts, neither allows shared keys nor public blob access.
//   host   the Functions host's storage (AzureWebJobsStorage: keys, timer locks) and the Flex deployment
//          package; reached with the app's identity only (Flex Consumption deployment storage supports
//          authentication type SystemAssignedIdentity, and the host supports identity-based AzureWebJobsStorage),
//          so shared keys can be off. The identity gets Storage Blob Data Owner there: Microsoft's documented
//          minimum for host storage.
//   state  the app's own state (STATE_CONTAINER: locks, outcomes, audits, drills), Event Grid's dead letters and
//          the evidence (EVIDENCE_CONTAINER: write-once copies of audit reports and drill records, under a
//          time-based retention policy). The identity gets Storage Blob Data Contributor: read, write and lease
//          blobs, create its container; nothing else. The system topic's identity gets the same role on the
//          dead-letter container only. Also the work queue (WORK_QUEUE) and its poison queue, on which alone the
//          identity gets Storage Queue Data Contributor.

param environmentName string
param location string
param tags object
param maximumInstanceCount int

@description('The required settings of shared/config.py, by app-setting name.')
param requiredSettings object

@description('Optional settings of shared/config.py, by app-setting name.')
param optionalSettings object

@description('Days a blob of the evidence container cannot be changed or deleted after it was written.')
param evidenceRetentionDays int

@description('The evidence container\'s retention policy has been locked: leave it alone (Azure allows a locked policy only to be extended, not written again).')
param evidenceRetentionLocked bool

@description('Application (client) ID of the Entra app registration that signs users in to the status page; empty = App Service authentication off.')
param statusPageEntraClientId string

@description('WORK_QUEUE: the Storage queue (state account) the triggers enqueue work on and the worker reads; its poison queue is this name plus -poison.')
param workQueueName string

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var functionAppName = 'func-${environmentName}-${take(token, 6)}'
var deploymentContainerName = 'app-package'
var stateContainerName = 'asr-s2d'
var deadLetterContainerName = 'deadletter'
var evidenceContainerName = 'evidence'
var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var queueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

// -- storage ---------------------------------------------------------------------------------------------------
resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${take(token, 13)}host'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource hostBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: hostStorage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobs
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource stateStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${take(token, 13)}state'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource stateBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: stateStorage
  name: 'default'
}

resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: stateBlobs
  name: stateContainerName
  properties: { publicAccess: 'None' }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: stateBlobs
  name: deadLetterContainerName
  properties: { publicAccess: 'None' }
}

// Evidence an auditor accepts: the app writes each audit report and drill record here once (If-None-Match), and
// this container-level time-based retention policy keeps every blob from being changed or deleted until
// evidenceRetentionDays after it was written. It is deployed unlocked (an owner can still shorten or remove it);
// lock it once you have checked it (`az storage container immutability-policy lock`), then deploy with
// evidenceRetentionLocked=true: a locked policy accepts only extensions, and the deployment would fail on it.
resource evidenceContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: stateBlobs
  name: evidenceContainerName
  properties: { publicAccess: 'None' }
}

resource evidenceRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (!evidenceRetentionLocked) {
  parent: evidenceContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: evidenceRetentionDays
    allowProtectedAppendWrites: false
  }
}

// The work queue and its poison queue (the Functions host's name for it: <queue>-poison). The host only moves a
// message there; creating both here lets the identity's role sit on the two queues alone, not on the account.
resource stateQueues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: stateStorage
  name: 'default'
}

resource workQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: stateQueues
  name: workQueueName
}

resource workPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: stateQueues
  name: '${workQueueName}-poison'
}

// Retention of the app's records, by prefix and days since the last write. Never locks/ (leases) or clusters/
// (the notes the services read: a note of a cluster that stays failed over must not vanish). Never the evidence
// container either: every rule's prefix starts with the state container's name, so no rule can delete evidence
// before (or after) its retention; evidence past its retention stays until someone deletes it.
var retentionDays = {
  outcomes: 90 // one record per event and per run
  events: 7 // a duplicate delivery's answer: Event Grid retries for 24 hours
  audits: 90 // one report per hour; latest.json is rewritten every hour
  drills: 400 // the evidence of a year of monthly drills
  work: 30 // a work item's state: an active one is rewritten at every step (a failover's looks end within a day, a
           // drill within DRILL_MAX_MINUTES), so only ended items expire
}

resource stateRetention 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: stateStorage
  name: 'default'
  properties: {
    policy: {
      rules: [for prefix in items(retentionDays): {
        enabled: true
        name: 'asrs2d${prefix.key}' // rule names: letters and digits only
        type: 'Lifecycle'
        definition: {
          filters: { blobTypes: [ 'blockBlob' ], prefixMatch: [ '${stateContainerName}/${prefix.key}/' ] }
          actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: prefix.value } } }
        }
      }]
    }
  }
}

// -- monitoring ------------------------------------------------------------------------------------------------
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${environmentName}-${take(token, 6)}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${environmentName}-${take(token, 6)}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

// -- the function app ------------------------------------------------------------------------------------------
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${environmentName}-${take(token, 6)}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'app' })
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

// No basic-auth publishing: code is deployed with Microsoft Entra tokens (azd, Core Tools).
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// The status page behind Entra ID (docs/deployment.md "The status page behind Entra ID"), with
// statusPageEntraClientId: App Service authentication signs a user in before a request reaches the Functions host.
// Not for the callers that carry no Entra token: Event Grid's deliveries (the Event Grid extension's webhook,
// authenticated by its system key) and the recovery plan's runbook (its function key) are excluded, and would
// otherwise be refused. STATUS_PAGE_AUTH=entra (below) makes the status route anonymous: sign-in instead of its key,
// and the function refuses a request that App Service did not sign in. No client secret:
// without one, sign-in uses the OpenID Connect implicit flow and takes the ID token only.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(statusPageEntraClientId)) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/runtime/webhooks/eventgrid'
        '/api/failover/runbook'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: statusPageEntraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            statusPageEntraClientId
            'api://${statusPageEntraClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

// App settings live in their own resource, written after the site exists: APP_PRINCIPAL_ID is the site's own
// identity, which a setting inside the site's definition could not reference. This resource holds ALL of them
// (it replaces the whole set); the ones computed here win over the parameters.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(optionalSettings, requiredSettings, {
    AzureWebJobsStorage__accountName: hostStorage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APP_PRINCIPAL_ID: site.identity.principalId
    STATE_STORAGE_ACCOUNT_URL: stateStorage.properties.primaryEndpoints.blob
    STATE_CONTAINER: stateContainerName
    // The queue trigger's connection="WORK_QUEUE_CONNECTION" in the identity-based form: the app reads the same setting.
    WORK_QUEUE: workQueue.name
    WORK_QUEUE_CONNECTION__queueServiceUri: stateStorage.properties.primaryEndpoints.queue
    EVIDENCE_CONTAINER: evidenceContainer.name
    // Sign-in instead of the status page's function key, only where App Service authentication is on (auth above).
    STATUS_PAGE_AUTH: empty(statusPageEntraClientId) ? 'key' : 'entra'
    AZURE_CREDENTIAL: 'managed_identity'
  })
  dependsOn: [
    hostAccess
    stateAccess
    workQueueAccess
    workPoisonQueueAccess
  ]
}

// -- the identity's data roles ---------------------------------------------------------------------------------
resource hostAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, site.id, blobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource stateAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateStorage.id, site.id, blobDataContributor)
  scope: stateStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor on the two work queues only: the queue trigger needs Storage Queue Data Reader and
// Storage Queue Data Message Processor (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#identity-based-connections),
// the app sends, and the host moves a message to the poison queue; this one role holds all of that.
resource workQueueAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workQueue.id, site.id, queueDataContributor)
  scope: workQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workPoisonQueueAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workPoisonQueue.id, site.id, queueDataContributor)
  scope: workPoisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionAppId string = site.id
output functionAppName string = site.name
output functionAppHostName string = site.properties.defaultHostName
output principalId string = site.identity.principalId
output stateAccountId string = stateStorage.id
output stateAccountName string = stateStorage.name
output appInsightsId string = appInsights.id
output stateAccountUrl string = stateStorage.properties.primaryEndpoints.blob
output deadLetterContainer string = deadLetterContainer.name
output evidenceContainer string = evidenceContainer.name
