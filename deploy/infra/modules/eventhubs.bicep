// Event Hubs namespace (Kafka endpoint) with the five hubs and their consumer groups.
// Standard tier: Kafka protocol, consumer groups, no transactions (the system does not depend on them).
param namespaceName string
param location string
param tags object
param partitionCount int
param messageRetentionInDays int
param keyVaultName string
@description('Principal id of each stream process\'s own identity: worker, shadow, monitor, api.')
param principals object

// hub -> consumer groups and who may send or receive; hub names match KafkaSettings (topics). The processes read
// through the Kafka endpoint, whose groups follow Kafka's group protocol (the shadow scorer's is
// tweet-triage-shadow-v<VERSION>); the groups declared here name each reader for AMQP tools (Event Hubs SDKs, Stream
// Analytics, the portal's data explorer). `senders` and `receivers` name entries of `principals` (one identity per
// process): each gets Azure Event Hubs Data Sender / Data Receiver on that hub only, nothing namespace-wide.
var hubs = [
  {
    name: 'tweets'
    consumerGroups: [
      'tweet-triage' // the scoring workers
      'tweet-triage-shadow' // `triage worker --shadow VERSION`
    ]
    senders: [] // producers send with the send-only key of the `producers` rule below
    receivers: [
      'worker'
      'shadow'
    ]
  }
  {
    name: 'tweets-scored'
    consumerGroups: [
      'tweet-triage-monitor' // drift monitor
    ]
    senders: [
      'worker'
    ]
    receivers: [
      'monitor'
    ]
  }
  {
    name: 'tweets-dlq'
    consumerGroups: [
      'tweet-triage-dlq-review'
    ]
    senders: [
      'worker'
      'monitor'
    ]
    receivers: []
  }
  {
    name: 'tweets-feedback'
    consumerGroups: [
      'tweet-triage-accuracy' // accuracy monitor
    ]
    senders: [
      'api' // corrections only through the API
    ]
    receivers: [
      'monitor'
    ]
  }
  {
    name: 'tweets-alerts'
    consumerGroups: [
      'tweet-triage-rebuild' // `triage results rebuild` reads every alert state back after an accident
    ]
    senders: [
      'monitor' // every stored state of an alert (and retraining request) is published here
      'worker' // `unapproved` alerts
      'api' // `unapproved` alerts
    ]
    receivers: []
  }
]

var dataSenderRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2b629674-e913-4c01-ae53-ef4638d8f975')
var dataReceiverRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde')

// One entry per (hub, process, role), from `hubs`.
var grants = flatten(map(range(0, length(hubs)), i => concat(map(hubs[i].senders, who => {
  hub: i
  who: who
  role: dataSenderRole
}), map(hubs[i].receivers, who => {
  hub: i
  who: who
  role: dataReceiverRole
}))))

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

resource hubRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for grant in grants: {
  name: guid(eventHubs[grant.hub].id, principals[grant.who], grant.role)
  scope: eventHubs[grant.hub]
  properties: {
    roleDefinitionId: grant.role
    principalId: principals[grant.who]
    principalType: 'ServicePrincipal'
  }
}]

// Tweet collectors outside Azure send with a key: one rule, on the `tweets` hub only, send-only. No namespace-wide
// rule exists, so no key can listen, and none can reach another hub.
resource producersRule 'Microsoft.EventHub/namespaces/eventhubs/authorizationRules@2024-01-01' = {
  name: '${namespaceName}/tweets/producers'
  properties: {
    rights: [
      'Send'
    ]
  }
  dependsOn: [
    eventHubs
  ]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// For producers (`triage publish --to eventhubs`, TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING), straight into Key Vault.
resource producerSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'eventhubs-producer-connection-string'
  properties: {
    value: producersRule.listKeys().primaryConnectionString
  }
}

output namespaceName string = namespace.name
output namespaceHost string = '${namespace.name}.servicebus.windows.net'
