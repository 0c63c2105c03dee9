// Alerts out of the box (main.bicep step 5, with `alerts`), in the app's resource group. docs/operations.md
// "Events and alerts" says what each rule watches and why it is built this way.
//
// Three kinds of news come only as the app's own events on the custom topic (modules/topic.bicep): a cluster an
// audit finds red (AsrS2d.DriftDetected; the app logs no cluster's verdict), a drill that failed
// (AsrS2d.DrillCompleted) and a post-failover step that failed (AsrS2d.Outcome). Event Grid cannot hand a custom
// topic's event to Azure Monitor: its "Azure Monitor alerts" handler takes Key Vault events only. So each kind gets
// an event subscription on the topic whose filters select exactly those events, delivered to a storage queue of the
// state account (where they stay 7 days, with their cluster and findings), and a metric alert on the topic's
// MatchedEventCount for that event subscription: Event Grid counts an event when it matches, whatever becomes of
// its delivery. Stateless (autoMitigate false): each 5-minute window with a match notifies, so a cluster that stays
// red reminds you at every audit, and a second red cluster is never hidden behind the first.
//
// An audit that stopped completing is an absence, not an event: a log search alert over Application Insights
// (queries/audit-stale.kql) fires when no audit has completed for two periods. A fifth rule watches the alerting
// itself: events the app could not publish to the topic (PublishFailCount) are alerts nobody would get.
targetScope = 'resourceGroup'

param environmentName string
param location string
param tags object = {}

@description('Name of the custom topic (modules/topic.bicep), in this resource group.')
param topicName string

@description('Resource ID of the Application Insights component the app logs to.')
param appInsightsId string

@description('Object ID of the function app\'s system-assigned identity: the topic\'s only sender.')
param appPrincipalId string

@description('Name of the state storage account, in this resource group: its queue keeps the alerting events.')
param stateAccountName string

@description('E-mail addresses the action group notifies.')
param alertEmails array = []

@secure()
@description('Optional webhook the action group posts each alert to (Azure Monitor\'s common alert schema); empty = none.')
param alertWebhookUrl string = ''

@description('AUDIT_PERIOD_MINUTES: an audit older than two periods is stale.')
param auditPeriodMinutes int

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'
var queueMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
var alertQueueName = 'asr-s2d-alerts'

// The events that need someone: one event subscription and one metric alert each. Values are the app's wire
// values (shared/audit/report.py STATUS_WORDS, shared/drill/record.py Result, shared/outcomes.py KINDS); Event
// Grid compares strings case-insensitively. A post-failover step is an outcome of the failover service: it always
// carries details.scenario, and its trigger is the signal's source: an ARM event, the recovery plan's runbook, the
// audit's backstop for a failover no signal announced ("audit"), or an operator's `asr-s2d reassign-ip` ("cli"); a
// drill's own IP step ("drill-ip") fails its drill instead. "will retry" failures are transient and retried (Event Grid, the runbook); one that never succeeds ends dead-lettered, and
// events.bicep alerts on that.
var alertEvents = [
  {
    name: 'asr-s2d-red-cluster'
    severity: 1
    description: 'asr-s2d: an audit found a cluster red (at risk: it would not come back as promised). The status page and the asr-s2d workbook name it; queue asr-s2d-alerts of the state account holds the event with its findings.'
    eventType: 'AsrS2d.DriftDetected'
    advancedFilters: [
      { operatorType: 'StringIn', key: 'data.status', values: [ 'red' ] }
    ]
  }
  {
    name: 'asr-s2d-drill-failed'
    severity: 2
    description: 'asr-s2d: a drill (test failover of a cluster) failed: a check, a step or its cleanup. Its record (drills/<cluster>/...) lists the checks; queue asr-s2d-alerts of the state account holds the event.'
    eventType: 'AsrS2d.DrillCompleted'
    advancedFilters: [
      { operatorType: 'StringIn', key: 'data.result', values: [ 'failed' ] }
    ]
  }
  {
    name: 'asr-s2d-failover-step-failed'
    severity: 0
    description: 'asr-s2d: the post-failover step of a cluster (DR load balancer, NICs in its pool, the in-guest cluster IP) failed after a failover, a test failover, its cleanup or a commit. The outcome\'s reason says why; asr-s2d reassign-ip CLUSTER runs it again. Queue asr-s2d-alerts of the state account holds the event.'
    eventType: 'AsrS2d.Outcome'
    advancedFilters: [
      { operatorType: 'StringIn', key: 'data.outcome', values: [ 'failed' ] }
      { operatorType: 'StringIn', key: 'data.trigger', values: [ 'event', 'runbook', 'audit', 'cli' ] }
      { operatorType: 'IsNotNull', key: 'data.details.scenario' }
      { operatorType: 'StringNotBeginsWith', key: 'data.reason', values: [ 'will retry' ] }
    ]
  }
]

var alertDelivery = {
  identity: { type: 'SystemAssigned' } // the topic's identity: Storage Queue Data Message Sender on the queue only
  destination: {
    endpointType: 'StorageQueue'
    properties: {
      resourceId: stateStorage.id
      queueName: alertQueueName
      queueMessageTimeToLiveInSeconds: 604800 // 7 days
    }
  }
}

// -- the topic's sender and the alerting queue ---------------------------------------------------------------------
resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: topicName
}

resource appSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource stateStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: stateAccountName
}

resource stateQueues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: stateStorage
  name: 'default'
}

resource alertQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: stateQueues
  name: alertQueueName
}

resource topicToQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(alertQueue.id, topic.id, queueMessageSender)
  scope: alertQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageSender)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource alertSubscriptions 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = [for e in alertEvents: {
  parent: topic
  name: e.name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ e.eventType ]
      advancedFilters: e.advancedFilters
    }
    deliveryWithResourceIdentity: alertDelivery
  }
  dependsOn: [
    topicToQueue
  ]
}]

// -- who is told -------------------------------------------------------------------------------------------------
// The webhook receives Azure Monitor's common alert schema as it is: a Teams Workflows (or Logic App) trigger that
// turns it into a card works; a classic Teams "incoming webhook" wants a card and refuses it.
resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${environmentName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'asr-s2d'
    enabled: true
    emailReceivers: [for (address, i) in alertEmails: {
      name: 'email-${i}'
      emailAddress: address
      useCommonAlertSchema: true
    }]
    webhookReceivers: empty(alertWebhookUrl) ? [] : [
      {
        name: 'webhook'
        serviceUri: alertWebhookUrl
        useCommonAlertSchema: true
      }
    ]
  }
}

// -- the rules -----------------------------------------------------------------------------------------------------
// Event Grid's metrics may report an event subscription's name in upper case: both spellings are listed.
resource eventAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for e in alertEvents: {
  name: '${e.name}-${environmentName}'
  location: 'global'
  tags: tags
  properties: {
    description: e.description
    severity: e.severity
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
          name: 'matched'
          metricNamespace: 'Microsoft.EventGrid/topics'
          metricName: 'MatchedEventCount'
          dimensions: [
            { name: 'EventSubscriptionName', operator: 'Include', values: [ e.name, toUpper(e.name) ] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      { actionGroupId: actionGroup.id }
    ]
  }
  dependsOn: [
    alertSubscriptions
  ]
}]

resource publishFailures 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'asr-s2d-events-not-published-${environmentName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'asr-s2d: the app could not publish events to its topic, so alerts may be missing. Its warning logs say why ("not published"); the audit reports and drill records in the state account are complete.'
    severity: 2
    enabled: true
    scopes: [
      topic.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'publishFailed'
          metricNamespace: 'Microsoft.EventGrid/topics'
          metricName: 'PublishFailCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      { actionGroupId: actionGroup.id }
    ]
  }
}

// Stateful: one notification when audits stop completing, one when they complete again. A log search alert looks
// back two days at most, which is why auditPeriodMinutes is at most a day.
resource auditStale 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'asr-s2d-audit-stale-${environmentName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'asr-s2d-audit-stale-${environmentName}'
    description: 'asr-s2d: no audit has completed for two periods (${2 * auditPeriodMinutes} minutes): every verdict on the status page is that old. The audit stopped running, or it cannot read Azure (a failed audit records why in audits/last-attempt.json; asr-s2d audit shows it).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: replace(loadTextContent('../queries/audit-stale.kql'), '__STALE_MINUTES__', string(2 * auditPeriodMinutes))
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertQueue string = alertQueue.name
