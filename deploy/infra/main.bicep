// tweet-triage: everything the azure profile needs, in one resource group.
//   az deployment group create -g RG -f deploy/infra/main.bicep -p deploy/infra/parameters/staging.parameters.json
// See docs/deployment.md. No secret is a parameter or an output: keys go straight into Key Vault.
targetScope = 'resourceGroup'

@description('Deployment environment; names, sizes and retention follow it.')
@allowed([
  'staging'
  'production'
])
param environment string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Short prefix of resource names (lowercase letters and digits).')
@minLength(3)
@maxLength(12)
param prefix string = 'tweettriage'

@description('Partitions per event hub: the most worker processes one consumer group can use.')
@minValue(2)
@maxValue(32)
param partitionCount int = 4

@description('Days Event Hubs keeps events (a shadow consumer group can replay this far).')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 1

@description('Cosmos DB autoscale maximum RU/s, shared by the database\'s containers.')
@minValue(1000)
param cosmosMaxThroughput int = 1000

@description('Days a shadow result lives before Cosmos DB deletes it.')
@minValue(1)
param shadowTtlDays int = 14

@description('Days an alert lives before Cosmos DB deletes it.')
@minValue(1)
param alertTtlDays int = 90

@description('Object id of the people or group who operate this environment (Key Vault secrets officer).')
param operatorsObjectId string

@description('Largest node count of the Azure ML training cluster (it scales to zero when idle).')
@minValue(1)
param trainingMaxNodes int = 2

@description('Images of the long-running apps (registry/name:tag); empty on the first deployment, set by CD.')
param workerImage string = ''
param apiImage string = ''
param dashboardImage string = ''
param trainerImage string = ''

@description('A candidate model version to shadow-score on live traffic (empty: none). See docs/deployment.md.')
param shadowVersion string = ''

@description('Client id of the Entra ID app registration that signs people in to the dashboard (Container Apps built-in authentication). Empty: the dashboard gets internal ingress only.')
param dashboardAuthClientId string = ''

@description('Worker replicas in the consumer group (at most the number of partitions).')
@minValue(1)
param workerReplicas int = 2

var suffix = uniqueString(resourceGroup().id, environment)
var tags = {
  project: 'tweet-triage'
  environment: environment
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${prefix}-${environment}'
  location: location
  tags: tags
}

// One more identity per stream process, holding only that process's rights on the event hubs (eventhubs.bicep):
// Key Vault, the registry and Azure ML stay with the shared identity above.
resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${prefix}-${environment}-worker'
  location: location
  tags: tags
}

resource shadowIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${prefix}-${environment}-shadow'
  location: location
  tags: tags
}

resource monitorIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${prefix}-${environment}-monitor'
  location: location
  tags: tags
}

resource apiIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${prefix}-${environment}-api'
  location: location
  tags: tags
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${take(prefix, 8)}-${take(suffix, 8)}'
    location: location
    tags: tags
    readerPrincipalId: identity.properties.principalId
    operatorsObjectId: operatorsObjectId
    purgeProtection: environment == 'production'
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    namespaceName: 'evhns-${prefix}-${take(suffix, 6)}'
    location: location
    tags: tags
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    keyVaultName: keyVault.outputs.name
    principals: {
      worker: workerIdentity.properties.principalId
      shadow: shadowIdentity.properties.principalId
      monitor: monitorIdentity.properties.principalId
      api: apiIdentity.properties.principalId
    }
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    accountName: 'cosmos-${prefix}-${take(suffix, 6)}'
    location: location
    tags: tags
    maxThroughput: cosmosMaxThroughput
    shadowTtlSeconds: shadowTtlDays * 86400
    alertTtlSeconds: alertTtlDays * 86400
    keyVaultName: keyVault.outputs.name
    zoneRedundant: environment == 'production'
  }
}

module machineLearning 'modules/machinelearning.bicep' = {
  name: 'machinelearning'
  params: {
    workspaceName: 'mlw-${prefix}-${environment}'
    storageName: 'st${take(prefix, 11)}${take(suffix, 10)}'
    registryName: 'cr${take(prefix, 11)}${take(suffix, 10)}'
    insightsName: 'appi-${prefix}-${environment}'
    location: location
    tags: tags
    keyVaultId: keyVault.outputs.id
    identityId: identity.id
    identityPrincipalId: identity.properties.principalId
    trainingMaxNodes: trainingMaxNodes
  }
}

module containerApps 'modules/containerapps.bicep' = {
  name: 'containerapps'
  params: {
    environmentName: 'cae-${prefix}-${environment}'
    location: location
    tags: tags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    keyVaultUri: keyVault.outputs.uri
    registryServer: machineLearning.outputs.registryLoginServer
    cosmosEndpoint: cosmos.outputs.endpoint
    mlflowTrackingUri: machineLearning.outputs.mlflowTrackingUri
    workerImage: workerImage
    apiImage: apiImage
    dashboardImage: dashboardImage
    trainerImage: trainerImage
    workerReplicas: workerReplicas
    shadowVersion: shadowVersion
    eventHubsNamespace: eventHubs.outputs.namespaceHost
    streamIdentities: {
      worker: {
        id: workerIdentity.id
        clientId: workerIdentity.properties.clientId
      }
      shadow: {
        id: shadowIdentity.id
        clientId: shadowIdentity.properties.clientId
      }
      monitor: {
        id: monitorIdentity.id
        clientId: monitorIdentity.properties.clientId
      }
      api: {
        id: apiIdentity.id
        clientId: apiIdentity.properties.clientId
      }
    }
    dashboardAuthClientId: dashboardAuthClientId
  }
}

output keyVaultName string = keyVault.outputs.name
output eventHubsNamespace string = eventHubs.outputs.namespaceName
output cosmosEndpoint string = cosmos.outputs.endpoint
output workspaceName string = machineLearning.outputs.workspaceName
output containerRegistry string = machineLearning.outputs.registryLoginServer
output identityClientId string = identity.properties.clientId
output mlflowTrackingUri string = machineLearning.outputs.mlflowTrackingUri
output eventHubsNamespaceHost string = eventHubs.outputs.namespaceHost
output apiUrl string = containerApps.outputs.apiUrl
output dashboardUrl string = containerApps.outputs.dashboardUrl
