// The long-running processes on Azure Container Apps: stream worker, scoring API (FastAPI) and relief dashboard.
// (The Azure ML managed online endpoint serves blue/green model slots; this API serves the dashboard's routes.)
// Secrets are Key Vault references read with the user-assigned identity; nothing secret is a parameter.
// Closed by default: only the dashboard can have external ingress, and then only behind Microsoft Entra ID sign-in
// (Container Apps built-in authentication); the API is internal (the dashboard calls it inside the environment) and
// asks for a key on reads too (the azure profile). Each stream process signs in to Event Hubs with its own identity.
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
@description('Event Hubs namespace host (NAMESPACE.servicebus.windows.net); processes sign in with Entra ID.')
param eventHubsNamespace string
@description('Per stream process (worker, shadow, monitor, api): its identity\'s resource id and client id.')
param streamIdentities object
@description('Entra ID app registration (client id) for the dashboard\'s sign-in; empty: internal ingress only.')
param dashboardAuthClientId string

var dashboardDeployed = !empty(dashboardImage) && !empty(apiImage)
// The dashboard is reachable from outside only together with its sign-in (checked offline: deploy/infra.py).
var dashboardSignIn = dashboardDeployed && !empty(dashboardAuthClientId)

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
    name: 'TRIAGE_KAFKA__EVENTHUBS_NAMESPACE' // Entra ID sign-in; TRIAGE_KAFKA__IDENTITY_CLIENT_ID picks the identity
    value: eventHubsNamespace
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

// The worker's and monitor's health pages must answer the probes from outside the container.
var webOnAllInterfaces = [
  {
    name: 'TRIAGE_STACK__HOST'
    value: '0.0.0.0'
  }
  {
    name: 'TRIAGE_STACK__ALLOW_NON_LOOPBACK' // inside the container; no local MLflow or Cosmos DB runs here
    value: 'true'
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
      '${streamIdentities.worker.id}': {}
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
          env: concat(commonEnv, webOnAllInterfaces, [
            {
              name: 'TRIAGE_KAFKA__IDENTITY_CLIENT_ID' // reads `tweets`, writes `tweets-scored` and `tweets-dlq`
              value: streamIdentities.worker.clientId
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
            {
              type: 'Readiness' // not ready while production points at a version without an approval record
              httpGet: {
                path: '/readyz'
                port: 16066
              }
              periodSeconds: 15
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
      '${streamIdentities.api.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      secrets: secrets
      registries: registries
      ingress: {
        external: false // only apps of this environment (the dashboard); partners use the managed online endpoint
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
            {
              name: 'TRIAGE_API__PROTECT_READS' // the azure profile's default, stated: every endpoint needs a key
              value: 'true'
            }
            {
              name: 'TRIAGE_KAFKA__IDENTITY_CLIENT_ID' // the only identity that may write `tweets-feedback`
              value: streamIdentities.api.clientId
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

var dashboardAuthSecret = {
  name: 'dashboard-auth-client-secret'
  keyVaultUrl: '${keyVaultUri}secrets/dashboard-auth-client-secret' // the app registration's secret, by the operator
  identity: identityId
}

resource dashboard 'Microsoft.App/containerApps@2024-03-01' = if (dashboardDeployed) {
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
      secrets: dashboardSignIn ? concat(secrets, [
        dashboardAuthSecret
      ]) : secrets
      registries: registries
      ingress: {
        external: dashboardSignIn // public only behind the sign-in below
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

// Microsoft Entra ID sign-in in front of the dashboard: nobody reaches a page (tweets with user and location,
// alerts, corrections) without an account of this tenant. Restrict it to the coordinators by setting "Assignment
// required" on the app registration's enterprise application (docs/deployment.md).
resource dashboardAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = if (dashboardSignIn) {
  parent: dashboard
  name: 'current'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: dashboardAuthClientId
          clientSecretSettingName: 'dashboard-auth-client-secret'
          openIdIssuer: '${az.environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' // `environment` is the managed environment here
        }
        validation: {
          allowedAudiences: [
            'api://${dashboardAuthClientId}'
          ]
        }
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
      '${streamIdentities.monitor.id}': {}
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
          env: concat(commonEnv, webOnAllInterfaces, [
            {
              name: 'TRIAGE_KAFKA__IDENTITY_CLIENT_ID' // reads `tweets-scored` and `tweets-feedback`, writes `tweets-dlq`
              value: streamIdentities.monitor.clientId
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
      '${streamIdentities.shadow.id}': {}
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
          env: concat(commonEnv, webOnAllInterfaces, [
            {
              name: 'TRIAGE_KAFKA__IDENTITY_CLIENT_ID' // reads `tweets` only; publishes nothing
              value: streamIdentities.shadow.clientId
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
output dashboardUrl string = dashboardSignIn ? 'https://${dashboard.properties.configuration.ingress.fqdn}' : ''
