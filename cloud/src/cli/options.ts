import { readFileSync } from 'node:fs';
import {
  BrokerAddressSchema,
  ConfigError,
  formatIssues,
  HubConfigSchema,
  hubLoginFromConfig,
  type Policy,
  PolicySchema,
  ProvisioningProviderSchema,
  policyFilterProblem,
  TetherError,
  ThingNameSchema,
} from '@tether/shared';
import { parse as parseYaml } from 'yaml';
import { parseEndpoint } from '../core/endpoint.js';
import { DEFAULT_HUB, type HubConnection } from '../core/service-config.js';
import type { BceCredentials } from '../providers/bce-signer.js';
import type { ProviderSettings } from '../providers/create-provider.js';

/** The parsed command line (node:util parseArgs values). */
export interface CliValues {
  provider?: string | undefined;
  thing?: string | undefined;
  out?: string | undefined;
  endpoint?: string | undefined;
  'ca-dir'?: string | undefined;
  hub?: string | undefined;
  'hub-username'?: string | undefined;
  'hub-password'?: string | undefined;
  'hub-config'?: string | undefined;
  'aws-port'?: string | undefined;
  'allow-pub'?: string[] | undefined;
  'allow-sub'?: string[] | undefined;
  policy?: string | undefined;
  csr?: string | undefined;
  'dry-run'?: boolean | undefined;
  batch?: string | undefined;
  concurrency?: string | undefined;
  region?: string | undefined;
  'api-url'?: string | undefined;
  'baidu-endpoint'?: string | undefined;
  'iotcore-id'?: string | undefined;
  auth?: string | undefined;
  'broker-user'?: string | undefined;
  days?: string | undefined;
  listen?: string | undefined;
  'token-file'?: string | undefined;
  ttl?: string | undefined;
}

export function usageError(message: string): TetherError {
  return new TetherError('TETHER_ERR_USAGE', message);
}

export function requireValue(values: CliValues, name: keyof CliValues, what: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw usageError(`--${name} ${what} is required`);
  return value;
}

export function thingName(values: CliValues): string {
  const thing = requireValue(values, 'thing', 'NAME');
  const checked = ThingNameSchema.safeParse(thing);
  if (!checked.success) throw usageError(`--thing: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  return thing;
}

/** The provider's settings from flags and environment; every missing or bad flag named. */
export function providerSettings(values: CliValues, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const name = ProvisioningProviderSchema.safeParse(
    requireValue(values, 'provider', 'local|aws-iot|baidu-iotcore|baidu-iothub'),
  );
  if (!name.success) {
    throw usageError(`--provider: expected local, aws-iot, baidu-iotcore or baidu-iothub, got "${values.provider}"`);
  }
  switch (name.data) {
    case 'local': {
      const endpoint = values.endpoint === undefined ? undefined : parseEndpoint(values.endpoint);
      if (values.endpoint !== undefined && !endpoint) {
        throw usageError(`--endpoint: expected mqtts://HOST:PORT, got "${values.endpoint}"`);
      }
      const days = values.days === undefined ? undefined : positiveInt(values.days, 'days', 3650);
      return {
        provider: 'local',
        caDir: requireValue(values, 'ca-dir', 'DIR'),
        endpoint,
        brokerUser: values['broker-user'],
        certificateDays: days,
      };
    }
    case 'aws-iot': {
      const port = values['aws-port'];
      if (port !== undefined && port !== '8883' && port !== '443') {
        throw usageError(`--aws-port: expected 8883 or 443 (MQTT over TLS with ALPN x-amzn-mqtt-ca), got "${port}"`);
      }
      return {
        provider: 'aws-iot',
        region: values.region ?? env.AWS_REGION,
        apiUrl: values['api-url'],
        ...(port ? { port: port === '443' ? 443 : 8883 } : {}),
      };
    }
    case 'baidu-iotcore': {
      const auth = values.auth ?? 'signature';
      if (auth !== 'signature' && auth !== 'certificate') throw usageError('--auth: expected signature or certificate');
      const credentials = bceCredentials(env, 'baidu-iotcore');
      const iotCoreId = requireValue(values, 'iotcore-id', "ID (the IoT Core ID in Baidu's console)");
      if (!DNS_LABEL.test(iotCoreId)) throw usageError('--iotcore-id: expected an IoT Core ID such as abcd123');
      if (values.region !== undefined && !DNS_LABEL.test(values.region)) {
        throw usageError('--region: expected the region of the IoT Core instance, gz or bj');
      }
      return {
        provider: 'baidu-iotcore',
        iotCoreId,
        region: values.region,
        credentials,
        apiUrl: values['api-url'],
        auth,
      };
    }
    case 'baidu-iothub': {
      const auth = values.auth ?? 'password';
      if (auth !== 'password' && auth !== 'certificate') throw usageError(`--auth: expected password or certificate`);
      // the keys first, as before: their absence is the likelier mistake
      const credentials = bceCredentials(env, 'baidu-iothub');
      return {
        provider: 'baidu-iothub',
        endpointName: requireValue(values, 'baidu-endpoint', 'NAME (the IoTHub endpoint)'),
        credentials,
        apiUrl: values['api-url'],
        auth,
      };
    }
  }
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/** Baidu's access key, from the environment only: never on a command line others can read. */
function bceCredentials(env: NodeJS.ProcessEnv, provider: string): BceCredentials {
  const accessKeyId = env.BCE_ACCESS_KEY_ID;
  const secretAccessKey = env.BCE_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw usageError(`${provider} needs BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY in the environment`);
  }
  return { accessKeyId, secretAccessKey };
}

/** The policy from --allow-pub/--allow-sub or --policy FILE (not both). */
export function policyFrom(values: CliValues): Policy {
  const flags = (values['allow-pub']?.length ?? 0) + (values['allow-sub']?.length ?? 0) > 0;
  if (flags && values.policy) throw usageError('give --allow-pub/--allow-sub or --policy FILE, not both');
  if (!flags && !values.policy) throw usageError('a policy is needed: --allow-pub/--allow-sub FILTER or --policy FILE');
  if (values.policy) {
    let data: unknown;
    try {
      data = parseYaml(readFileSync(values.policy, 'utf8'));
    } catch (error) {
      throw new ConfigError(values.policy, [`(file): ${(error as Error).message.split('\n')[0]}`]);
    }
    const parsed = PolicySchema.safeParse(data);
    if (!parsed.success) throw new ConfigError(values.policy, formatIssues(parsed.error.issues));
    return parsed.data;
  }
  const problems: string[] = [];
  for (const [flag, filters] of [
    ['--allow-pub', values['allow-pub'] ?? []],
    ['--allow-sub', values['allow-sub'] ?? []],
  ] as const) {
    for (const filter of filters) {
      const problem = policyFilterProblem(filter);
      if (problem) problems.push(`${flag} ${JSON.stringify(filter)}: ${problem}`);
    }
  }
  const parsed = PolicySchema.safeParse({ publish: values['allow-pub'] ?? [], subscribe: values['allow-sub'] ?? [] });
  if (!parsed.success && problems.length === 0) problems.push(...formatIssues(parsed.error.issues));
  if (!parsed.success) throw usageError(problems.join('; '));
  return parsed.data;
}

/**
 * The hub the bundle's bridge logs in to: `--hub`, `--hub-username`, `--hub-password`, or read from
 * the hub config it will run against (`--hub-config hub.yml`: its principal and tcp listener). A hub
 * with principals refuses a bridge that brings no login, so the login goes into every bundle.
 */
export function hubFrom(values: CliValues): HubConnection {
  const address = values.hub ?? DEFAULT_HUB.address;
  if (!BrokerAddressSchema.safeParse(address).success) {
    throw usageError(`--hub: expected tcp://HOST:PORT (the local hub), got "${address}"`);
  }
  if (values['hub-config'] === undefined) {
    return { address, username: values['hub-username'], password: values['hub-password'] };
  }
  const file = values['hub-config'];
  const parsed = HubConfigSchema.safeParse(parseYaml(readTextFile(file, 'hub-config')));
  if (!parsed.success) {
    throw usageError(`--hub-config ${file}: ${formatIssues(parsed.error.issues).join('; ')}`);
  }
  const login = hubLoginFromConfig(parsed.data, {
    address: values.hub,
    username: values['hub-username'],
    password: values['hub-password'],
  });
  if ('problem' in login) throw usageError(`${login.problem} (from --hub-config ${file})`);
  return login;
}

export function positiveInt(text: string, flag: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw usageError(`--${flag}: expected a whole number from 1 to ${max}`);
  return n;
}

export function readTextFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw usageError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
