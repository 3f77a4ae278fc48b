// The long-running processes on Azure Container Apps: stream worker, scoring API (FastAPI) and relief dashboard.
// (The Azure ML managed online endpoint serves blue/green model slots; this API serves the dashboard's routes.)
// Secrets are Key Vault references read with the user-assigned identity; nothing secret is a parameter.
param environmentName string
param location string
param tags object
param identityId string
param identityClientId string
param keyVaultUri string
param registryServer string
param cosmosEndpoint string
param mlflowTrackingUri string
@description('Images to run; an empty image skips that app (the first infrastructure deployment has none yet).')
param workerImage string
param apiImage string
param dashboardImage string
@description('The trainer image, which also runs the monitors (`triage monitor`).')
param trainerImage string
param workerReplicas int
@description('A candidate version to shadow-score (`triage worker --shadow`); empty: no shadow worker.')
param shadowVersion string

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${environmentName}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

var secrets = [
  {
    name: 'eventhubs-connection-string'
    keyVaultUrl: '${keyVaultUri}secrets/eventhubs-connection-string'
    identity: identityId
  }
  {
    name: 'cosmos-key'
    keyVaultUrl: '${keyVaultUri}secrets/cosmos-key'
    identity: identityId
  }
  {
    name: 'api-keys'
    keyVaultUrl: '${keyVaultUri}secrets/api-keys' // written by the operator, see docs/deployment.md
    identity: identityId
  }
  {
    name: 'dashboard-api-key'
    keyVaultUrl: '${keyVaultUri}secrets/dashboard-api-key' // one of api-keys, written by the operator
    identity: identityId
  }
]

var registries = [
  {
    server: registryServer
    identity: identityId // AcrPull is granted to this identity in machinelearning.bicep
  }
]

var commonEnv = [
  {
    name: 'TRIAGE_PROFILE'
    value: 'azure'
  }
  {
    name: 'TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING'
    secretRef: 'eventhubs-connection-string'
  }
  {
    name: 'TRIAGE_KAFKA__SESSION_TIMEOUT_S'
    value: '30'
  }
  {
    name: 'TRIAGE_COSMOS__ENDPOINT'
    value: cosmosEndpoint
  }
  {
    name: 'TRIAGE_COSMOS__KEY'
    secretRef: 'cosmos-key'
  }
  {
    name: 'TRIAGE_MLFLOW__TRACKING_URI'
    value: mlflowTrackingUri
  }
  {
    name: 'AZURE_CLIENT_ID' // DefaultAzureCredential picks the user-assigned identity
    value: identityClientId
  }
]

resource worker 'Microsoft.App/containerApps@2024-03-01' = if (!empty(workerImage)) {
  name: 'ca-worker-${take(environmentName, 20)}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          env: concat(commonEnv, [
            {
              name: 'TRIAGE_STACK__HOST' // /healthz on all interfaces, for the probe
              value: '0.0.0.0'
            }
          ])
          resources: {
            cpu: json('2.0')
            memory: '4Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 16066
              }
              initialDelaySeconds: 60
              periodSeconds: 15
              failureThreshold: 8
            }
          ]
        }
      ]
      scale: {
        minReplicas: workerReplicas
        maxReplicas: workerReplicas // at most one per partition: scale with the hub's partitions
      }
    }
  }
}

resource api 'Microsoft.App/containerApps@2024-03-01' = if (!empty(apiImage)) {
  name: 'ca-api-${take(environmentName, 20)}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
      ingress: {
        external: true
        targetPort: 18000
        transport: 'http'
      }
    }
    template: {
      containers: [
        {
          name: 'api'
          image: apiImage
          env: concat(commonEnv, [
            {
              name: 'TRIAGE_API__KEYS'
              secretRef: 'api-keys'
            }
          ])
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          probes: [
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: 18000
              }
              periodSeconds: 10
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 3
      }
    }
  }
}

resource dashboard 'Microsoft.App/containerApps@2024-03-01' = if (!empty(dashboardImage) && !empty(apiImage)) {
  name: 'ca-dash-${take(environmentName, 20)}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
      ingress: {
        external: true
        targetPort: 18501
        transport: 'http'
      }
    }
    template: {
      containers: [
        {
          name: 'dashboard'
          image: dashboardImage
          env: concat(commonEnv, [
            {
              name: 'TRIAGE_DASHBOARD__API_URL'
              value: 'https://${api.properties.configuration.ingress.fqdn}'
            }
            {
              name: 'TRIAGE_DASHBOARD__API_KEY'
              secretRef: 'dashboard-api-key'
            }
          ])
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

resource monitor 'Microsoft.App/containerApps@2024-03-01' = if (!empty(trainerImage)) {
  name: 'ca-monitor-${take(environmentName, 20)}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'monitor'
          image: trainerImage
          args: [
            'monitor'
          ]
          env: concat(commonEnv, [
            {
              name: 'TRIAGE_STACK__HOST'
              value: '0.0.0.0'
            }
          ])
          resources: {
            cpu: json('1.0')
            memory: '4Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 16067
              }
              initialDelaySeconds: 120
              periodSeconds: 15
              failureThreshold: 8
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1 // the drift monitor sees the whole scored stream: one instance
      }
    }
  }
}

resource shadow 'Microsoft.App/containerApps@2024-03-01' = if (!empty(workerImage) && !empty(shadowVersion)) {
  name: 'ca-shadow-${take(environmentName, 20)}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'shadow'
          image: workerImage
          args: [
            'worker'
            '--shadow'
            shadowVersion
            '--web-port'
            '16066'
          ]
          env: concat(commonEnv, [
            {
              name: 'TRIAGE_STACK__HOST'
              value: '0.0.0.0'
            }
          ])
          resources: {
            cpu: json('2.0')
            memory: '4Gi'
          }
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output apiUrl string = empty(apiImage) ? '' : 'https://${api.properties.configuration.ingress.fqdn}'
