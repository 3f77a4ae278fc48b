// Key Vault for every secret of one environment; access by Azure RBAC, never by access policies.
param name string
param location string
param tags object
@description('Principal that reads secrets (the workers\' and endpoints\' identity).')
param readerPrincipalId string
@description('Object id of the operators (they write secrets).')
param operatorsObjectId string
param purgeProtection bool

var secretsUserRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
var secretsOfficerRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

resource readers 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRole)
  scope: vault
  properties: {
    roleDefinitionId: secretsUserRole
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operators 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, operatorsObjectId, secretsOfficerRole)
  scope: vault
  properties: {
    roleDefinitionId: secretsOfficerRole
    principalId: operatorsObjectId
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
