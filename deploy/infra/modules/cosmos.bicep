// Cosmos DB (NoSQL) account, the tweet-triage database and its containers.
// Partition keys are the ones core/tweet_triage/store/cosmos.py creates locally (tests check they match).
param accountName string
param location string
param tags object
param maxThroughput int
param shadowTtlSeconds int
param alertTtlSeconds int
param keyVaultName string
param zoneRedundant bool
param databaseName string = 'tweet-triage'

// Only fields the dashboards filter or sort on are indexed; everything else (texts, probabilities) is excluded.
var containers = [
  {
    name: 'predictions'
    partitionKey: '/id' // the tweet id: a re-delivery upserts the same item
    defaultTtl: -1 // on, per-item opt-in; predictions are kept
    includedPaths: [
      '/label/?'
      '/model_version/?'
      '/scored_at/?'
      '/order_key/?'
    ]
  }
  {
    name: 'feedback'
    partitionKey: '/tweet_id'
    defaultTtl: -1
    includedPaths: [
      '/tweet_id/?'
      '/labelled_at/?'
      '/model_version/?'
    ]
  }
  {
    name: 'alerts'
    partitionKey: '/id'
    defaultTtl: alertTtlSeconds
    includedPaths: [
      '/kind/?'
      '/raised_at/?'
      '/status/?'
    ]
  }
  {
    name: 'shadow'
    partitionKey: '/tweet_id' // one item per (tweet, candidate version)
    defaultTtl: shadowTtlSeconds // shadow results only inform an approval; they expire
    includedPaths: [
      '/model_version/?'
      '/order_key/?'
    ]
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: zoneRedundant
      }
    ]
    disableLocalAuth: false // the worker authenticates with the account key from Key Vault
    minimalTlsVersion: 'Tls12'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: {
      autoscaleSettings: {
        maxThroughput: maxThroughput
      }
    }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for container in containers: {
  parent: database
  name: container.name
  properties: {
    resource: {
      id: container.name
      partitionKey: {
        paths: [
          container.partitionKey
        ]
        kind: 'Hash'
      }
      defaultTtl: container.defaultTtl
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: map(container.includedPaths, path => {
          path: path
        })
        excludedPaths: [
          {
            path: '/*'
          }
        ]
      }
    }
  }
}]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// TRIAGE_COSMOS__KEY, straight from the account into Key Vault.
resource keySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'cosmos-key'
  properties: {
    value: account.listKeys().primaryMasterKey
  }
}

output endpoint string = account.properties.documentEndpoint
