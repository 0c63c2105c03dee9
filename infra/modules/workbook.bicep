// The asr-s2d workbook (main.bicep step 6): the clusters from the app's own log lines in Application Insights: the
// last completed audit, each cluster's finding count audit by audit, failed outcomes, outcomes by kind, drills.
// The workbook itself is infra/workbook.json (Azure Monitor workbook JSON, "Notebook/1.0"); its queries parse the
// log lines shared/audit/service.py, shared/runtime.py and shared/drill/service.py write, and
// tests/unit/test_infra.py checks them against those lines.
targetScope = 'resourceGroup'

param environmentName string
param location string
param tags object = {}

@description('Resource ID of the Application Insights component the app logs to.')
param appInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'asr-s2d-workbook', environmentName) // a workbook's name is a GUID
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'asr-s2d clusters (${environmentName})'
    category: 'workbook'
    sourceId: appInsightsId
    version: 'Notebook/1.0'
    serializedData: replace(loadTextContent('../workbook.json'), '__APP_INSIGHTS_ID__', appInsightsId)
  }
}

output id string = workbook.id
