export { type AppConfig, CONTEXT_KEYS, configFromContext } from './app-config.js';
export { CaKeySecret, type CaKeySecretProps } from './constructs/ca-key-secret.js';
export { DeviceRegistry, type DeviceRegistryProps } from './constructs/device-registry.js';
export { ProvisioningFunction, type ProvisioningFunctionProps } from './constructs/provisioning-function.js';
export { DEFAULT_DEVICE_POLICY, type DevicePolicy, FUNCTION_ENV } from './function-env.js';
export {
  IOT_ACTION_SCOPES,
  IOT_POLICY_PREFIX,
  type IotAction,
  type IotScope,
  iotPolicyStatements,
} from './iot-permissions.js';
export { ProvisioningStack, type ProvisioningStackProps } from './provisioning-stack.js';
