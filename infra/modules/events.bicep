// The ARM events of one Azure subscription, delivered to the function app's Event Grid triggers (main.bicep
// step 4). Deploy it once per allowed subscription: main.bicep does it for its own subscription; for another one,
// `az deployment group create --subscription <id> -g <a resource group there> -f infra/modules/events.bicep`.
//
// Azure allows ONE system topic of type Microsoft.Resources.Subscriptions per subscription: where one exists
// already, add the two event subscriptions below to it instead (README "Troubleshooting").

targetScope = 'resourceGroup'

@description('Resource ID of the function app (its functions are <id>/functions/<name>).')
param functionAppId string

@description('Resource ID of the storage account that receives dead letters.')
param deadLetterAccountId string

param deadLetterContainer string = 'deadletter'
param systemTopicName string = 'asr-s2d-arm-events'
param tags object = {}

@description('Resource ID of the action group told when Event Grid gives up on an event (main.bicep passes the one of modules/alerts.bicep); empty = no such alert.')
param actionGroupId string = ''

// What shared/enrollment.py WRITE_OPERATIONS accepts: a tag write at any scope, a VM write, and the writes of
// the cluster-level enrollment scopes (availability sets and resource groups carry asr-s2d tags too).
var tagOperations = [
  'Microsoft.Resources/tags/write'
  'Microsoft.Compute/virtualMachines/write'
  'Microsoft.Compute/availabilitySets/write'
  'Microsoft.Resources/subscriptions/resourceGroups/write'
]

// What shared/failover_signals.py accepts: the five failover actions on a recovery plan or a protected item.
var failoverOperations = [
  'Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/unplannedFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/plannedFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/testFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/testFailoverCleanup/action'
  'Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/failoverCommit/action'
  'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/unplannedFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/plannedFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/testFailover/action'
  'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/testFailoverCleanup/action'
  'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/failoverCommit/action'
]

// Event Grid's longest patience: 30 attempts over 24 hours (transient errors are raised so it redelivers).
var retryPolicy = {
  maxDeliveryAttempts: 30
  eventTimeToLiveInMinutes: 1440
}

var deadLetter = {
  identity: { type: 'SystemAssigned' }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: deadLetterAccountId
      blobContainerName: deadLetterContainer
    }
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

module deadLetterAccess 'dead-letter-access.bicep' = {
  name: 'asr-s2d-dead-letter-access-${subscription().subscriptionId}'
  scope: resourceGroup(split(deadLetterAccountId, '/')[2], split(deadLetterAccountId, '/')[4])
  params: {
    accountName: last(split(deadLetterAccountId, '/'))
    containerName: deadLetterContainer
    principalId: topic.identity.principalId
  }
}

resource tagChanges 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'asr-s2d-vm-tags-changed'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_vm_tags_changed'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: tagOperations
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
  dependsOn: [
    deadLetterAccess
  ]
}

resource failoverActions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'asr-s2d-failover-completed'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_failover_completed'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      // Success, and the failover jobs that failed or were cancelled (recorded as such; shared/failover/signals.py).
      includedEventTypes: [
        'Microsoft.Resources.ResourceActionSuccess'
        'Microsoft.Resources.ResourceActionFailure'
        'Microsoft.Resources.ResourceActionCancel'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: failoverOperations
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
  dependsOn: [
    deadLetterAccess
  ]
}

// An event dead-lettered here is one the app never handled: a tag change that enrolled nothing, or a failover signal
// whose post-failover step kept failing for 24 hours (each attempt was a transient "will retry" outcome, which the
// failed-step alert does not count). The record is in the dead-letter container; the audit is the backstop.
resource deadLettered 'Microsoft.Insights/metricAlerts@2018-03-01' = if (!empty(actionGroupId)) {
  name: '${systemTopicName}-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'asr-s2d: Event Grid gave up delivering an ARM event to the app (30 attempts over 24 hours) and dead-lettered it: a tag change or a failover signal the app never handled. The ${deadLetterContainer} container of the state account holds it with the reason.'
    severity: 1
    enabled: true
    scopes: [
      topic.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: false
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadLettered'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DeadLetteredCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      { actionGroupId: actionGroupId }
    ]
  }
}

output systemTopicName string = topic.name
output systemTopicPrincipalId string = topic.identity.principalId
