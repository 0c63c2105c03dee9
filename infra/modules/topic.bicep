// The custom Event Grid topic asr-s2d publishes its own events to (main.bicep step 5, with `alerts`): every
// outcome (AsrS2d.Outcome), every cluster an audit finds not green (AsrS2d.DriftDetected), every drill
// (AsrS2d.DrillCompleted); docs/operations.md "Events and alerts" gives their shapes. Created before the function app,
// so that its endpoint is an app setting (EVENT_GRID_TOPIC_ENDPOINT); modules/alerts.bicep lets the app's identity
// send to it and routes the events that need someone to the alert rules.
//
// Local (key and SAS) authentication is off: the app publishes with its managed identity ("EventGrid Data Sender"
// on this topic only), so there is no key to keep, leak or rotate, and EVENT_GRID_TOPIC_KEY stays empty.
targetScope = 'resourceGroup'

param environmentName string
param location string
param tags object = {}

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: 'evgt-${environmentName}-${take(token, 6)}'
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' } // delivers the alerting events to the state account's queue
  properties: {
    inputSchema: 'EventGridSchema' // shared/azure/eventgrid.py sends EventGridEvent
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: true
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
