// Event Hubs namespace (Kafka endpoint) with the four hubs and their consumer groups.
// Standard tier: Kafka protocol, consumer groups, no transactions (the system does not depend on them).
param namespaceName string
param location string
param tags object
param partitionCount int
param messageRetentionInDays int
param keyVaultName string

// hub -> consumer groups; hub names match KafkaSettings (topics). The processes read through the Kafka endpoint, whose
// groups follow Kafka's group protocol (the shadow scorer's is tweet-triage-shadow-v<VERSION>); the groups declared
// here name each reader for AMQP tools (Event Hubs SDKs, Stream Analytics, the portal's data explorer).
var hubs = [
  {
    name: 'tweets'
    consumerGroups: [
      'tweet-triage' // the scoring workers
      'tweet-triage-shadow' // `triage worker --shadow VERSION`
    ]
  }
  {
    name: 'tweets-scored'
    consumerGroups: [
      'tweet-triage-monitor' // drift monitor
    ]
  }
  {
    name: 'tweets-dlq'
    consumerGroups: [
      'tweet-triage-dlq-review'
    ]
  }
  {
    name: 'tweets-feedback'
    consumerGroups: [
      'tweet-triage-accuracy' // accuracy monitor
    ]
  }
]

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    kafkaEnabled: true
    minimumTlsVersion: '1.2'
    isAutoInflateEnabled: true
    maximumThroughputUnits: 4
  }
}

resource eventHubs 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = [for hub in hubs: {
  parent: namespace
  name: hub.name
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}]

resource consumerGroups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [for group in flatten(map(hubs, hub => map(hub.consumerGroups, name => {
  hub: hub.name
  name: name
}))): {
  name: '${namespaceName}/${group.hub}/${group.name}'
  dependsOn: [
    eventHubs
  ]
}]

// One rule for the application (send + listen), none with manage rights.
resource appRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'tweet-triage-app'
  properties: {
    rights: [
      'Listen'
      'Send'
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING, straight from the resource into Key Vault.
resource connectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'eventhubs-connection-string'
  properties: {
    value: appRule.listKeys().primaryConnectionString
  }
}

output namespaceName string = namespace.name
