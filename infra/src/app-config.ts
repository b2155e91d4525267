import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { DevicePolicy } from './function-env.js';
import type { ProvisioningStackProps } from './provisioning-stack.js';

/** CDK context keys the app reads (`npx cdk deploy -c tether:registry=true`, or `context` in cdk.json). */
export const CONTEXT_KEYS = {
  stackName: 'tether:stackName',
  thingPrefix: 'tether:thingPrefix',
  policy: 'tether:policy',
  hub: 'tether:hub',
  registry: 'tether:registry',
  localCa: 'tether:localCa',
  logRetentionDays: 'tether:logRetentionDays',
} as const;

export interface AppConfig {
  readonly stackName: string;
  readonly props: ProvisioningStackProps;
}

const RETENTION_DAYS = new Set<number>(Object.values(RetentionDays).filter((v) => typeof v === 'number'));

function flag(key: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`${key}: expected true or false, got ${JSON.stringify(value)}`);
}

function text(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  throw new Error(`${key}: expected a non-empty string, got ${JSON.stringify(value)}`);
}

function retention(key: string, value: unknown): RetentionDays | undefined {
  if (value === undefined) return undefined;
  const days = typeof value === 'string' ? Number(value) : value;
  if (typeof days === 'number' && RETENTION_DAYS.has(days)) return days as RetentionDays;
  throw new Error(`${key}: expected one of ${[...RETENTION_DAYS].join(', ')} (days), got ${JSON.stringify(value)}`);
}

const isFilterList = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((f) => typeof f === 'string'));

/**
 * The shape only (`{"publish":[…],"subscribe":[…]}`); the function checks the filters themselves with the shared
 * PolicySchema when it starts, and answers every request with the problems if they are wrong.
 */
function policy(key: string, value: unknown): DevicePolicy | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(`${key}: not JSON`);
    }
  }
  const p = parsed as Record<string, unknown>;
  const keys = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.keys(p) : undefined;
  if (
    keys?.every((k) => k === 'publish' || k === 'subscribe') &&
    isFilterList(p.publish) &&
    isFilterList(p.subscribe)
  ) {
    return parsed as DevicePolicy;
  }
  throw new Error(`${key}: expected {"publish":["topic/filter",…],"subscribe":[…]}`);
}

/**
 * The stack's name and props from CDK context (`-c key=value` gives strings, cdk.json gives JSON values). Every
 * problem is reported at once. Region and account stay unresolved: the template is environment-agnostic and synth
 * needs no AWS credentials.
 */
export function configFromContext(get: (key: string) => unknown): AppConfig {
  const problems: string[] = [];
  const read = <T>(parse: (key: string, value: unknown) => T, key: string): T | undefined => {
    try {
      return parse(key, get(key));
    } catch (error) {
      problems.push((error as Error).message);
      return undefined;
    }
  };
  const values = {
    stackName: read(text, CONTEXT_KEYS.stackName),
    thingPrefix: read(text, CONTEXT_KEYS.thingPrefix),
    policy: read(policy, CONTEXT_KEYS.policy),
    hub: read(text, CONTEXT_KEYS.hub),
    registry: read(flag, CONTEXT_KEYS.registry),
    localCa: read(flag, CONTEXT_KEYS.localCa),
    logRetention: read(retention, CONTEXT_KEYS.logRetentionDays),
  };
  if (problems.length > 0) throw new Error(`invalid CDK context:\n${problems.join('\n')}`);

  const { stackName = 'TetherProvisioning', ...rest } = values;
  // exactOptionalPropertyTypes: leave out what was not given rather than passing undefined
  const props = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as ProvisioningStackProps;
  return { stackName, props };
}
