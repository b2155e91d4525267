export { type Authorization, handleProvisionRequest, type ProvisionApiOptions } from './api/provision-api.js';
export { bearerToken, newToken, tokenDigest, tokenMatches } from './api/tokens.js';
export { buildBundle, certificateSummary } from './core/bundle.js';
export { parseEndpoint } from './core/endpoint.js';
export { ProvisionStepError, RequestError } from './core/errors.js';
export {
  awsPolicyDocument,
  baiduPermissions,
  iotCoreTemplateProblems,
  iotCoreTemplateTopics,
  mosquittoAcl,
  policyName,
} from './core/policy-map.js';
export { ProvisionBodySchema, parseProvisionBody } from './core/request.js';
export { buildServiceConfig, DEFAULT_HUB, type HubConnection } from './core/service-config.js';
export { createHandler, handler } from './lambda/handler.js';
export { AwsIotProvider } from './providers/aws-iot.js';
export { BaiduIotCoreProvider } from './providers/baidu-iotcore.js';
export { BaiduIotHubProvider } from './providers/baidu-iothub.js';
export { type BceCredentials, signBceRequest } from './providers/bce-signer.js';
export { createProvider, type ProviderSettings } from './providers/create-provider.js';
export { LocalProvider } from './providers/local.js';
export type * from './providers/provider.js';
