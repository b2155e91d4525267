/**
 * The provisioning function's environment: what cloud/src/lambda/environment.ts reads, plus the names of the
 * optional resources. Names, prefixes, a policy and ARNs only: no secret value ever goes into the environment
 * (a secret is passed by ARN and read at run time).
 */
export const FUNCTION_ENV = {
  /** `aws-iot`: the provider the function runs. */
  provider: 'TETHER_PROVIDER',
  /** `iam`: the function URL already authenticated the caller (SigV4), so no enrollment token is asked for. */
  auth: 'TETHER_AUTH',
  /** The device policy (JSON): what every enrolled thing may publish and subscribe to. */
  policy: 'TETHER_POLICY',
  /** The local hub address written into bundles when a request names none. */
  hub: 'TETHER_HUB',
  /** The prefix IAM holds thing names to, so the function can refuse other names with a clear error. */
  thingPrefix: 'TETHER_THING_PREFIX',
  /** The device registry's table name (with `registry`). */
  registryTable: 'TETHER_REGISTRY_TABLE',
  /** The local CA key secret's ARN (with `localCa`). */
  caSecretArn: 'TETHER_CA_SECRET_ARN',
} as const;

/** What an enrolled thing may do at AWS IoT; `{thing}` stands for its name. */
export interface DevicePolicy {
  readonly publish?: readonly string[];
  readonly subscribe?: readonly string[];
}

/** Each thing publishes and subscribes under its own `tether/{thing}/` subtree, and nowhere else. */
export const DEFAULT_DEVICE_POLICY: DevicePolicy = {
  publish: ['tether/{thing}/#'],
  subscribe: ['tether/{thing}/#'],
};
