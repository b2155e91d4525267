import { ConfigError, formatIssues, PolicySchema, ProvisioningProviderSchema } from '@tether/shared';
import type { Logger } from 'pino';
import type { ProvisionApiOptions } from '../api/provision-api.js';
import { tokenMatches } from '../api/tokens.js';
import { createProvider, type ProviderSettings } from '../providers/create-provider.js';

/**
 * The Lambda's configuration, from its environment:
 *
 *   TETHER_PROVIDER              aws-iot (default), baidu-iotcore or baidu-iothub (deprecated by Baidu)
 *   TETHER_POLICY                the policy as JSON: {"publish":["…{thing}…"],"subscribe":[…]} (required)
 *   TETHER_HUB                   the local hub bundles connect to (default tcp://127.0.0.1:1883)
 *   TETHER_ENROLL_TOKEN_SHA256   SHA-256 (hex) of the enrollment token HTTP callers present as a Bearer token
 *   TETHER_AUTH                  `token` (default) or `iam` (the function URL is AWS_IAM-authorized)
 *   TETHER_THING_PREFIX          thing names must start with it (the function's IAM is held to it)
 *   TETHER_API_URL               another IoT API URL (tests, VPC endpoints)
 *   baidu-iotcore: TETHER_IOTCORE_ID, TETHER_BAIDU_REGION (gz|bj, default gz),
 *                  TETHER_BAIDU_AUTH (signature|certificate), BCE_ACCESS_KEY_ID, BCE_SECRET_ACCESS_KEY
 *   baidu-iothub: TETHER_BAIDU_ENDPOINT, TETHER_BAIDU_AUTH (password|certificate),
 *                 BCE_ACCESS_KEY_ID, BCE_SECRET_ACCESS_KEY
 *
 * Every problem is reported at once, naming the variable (never its value).
 */
export async function optionsFromEnvironment(
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<ProvisionApiOptions & { readonly auth: 'token' | 'iam' }> {
  const problems: string[] = [];
  const provider = ProvisioningProviderSchema.exclude(['local']).safeParse(env.TETHER_PROVIDER ?? 'aws-iot');
  if (!provider.success) problems.push('TETHER_PROVIDER: expected aws-iot, baidu-iotcore or baidu-iothub');
  let policyJson: unknown;
  try {
    policyJson = JSON.parse(env.TETHER_POLICY ?? '');
  } catch {
    problems.push('TETHER_POLICY: required, the policy as JSON ({"publish":[…],"subscribe":[…]})');
  }
  const policy = PolicySchema.safeParse(policyJson);
  if (policyJson !== undefined && !policy.success) {
    problems.push(...formatIssues(policy.error.issues).map((p) => `TETHER_POLICY: ${p}`));
  }
  const auth = env.TETHER_AUTH ?? 'token';
  if (auth !== 'token' && auth !== 'iam') problems.push('TETHER_AUTH: expected token or iam');
  const digest = env.TETHER_ENROLL_TOKEN_SHA256;
  if (auth === 'token' && !/^[0-9a-f]{64}$/i.test(digest ?? '')) {
    problems.push('TETHER_ENROLL_TOKEN_SHA256: required with TETHER_AUTH=token, 64 hex digits');
  }
  let settings: ProviderSettings | undefined;
  const required = (names: readonly string[], provider: string) => {
    for (const name of names) if (!env[name]) problems.push(`${name}: required with TETHER_PROVIDER=${provider}`);
  };
  const credentials = { accessKeyId: env.BCE_ACCESS_KEY_ID ?? '', secretAccessKey: env.BCE_SECRET_ACCESS_KEY ?? '' };
  if (provider.success && provider.data === 'aws-iot') {
    settings = { provider: 'aws-iot', apiUrl: env.TETHER_API_URL };
  } else if (provider.success && provider.data === 'baidu-iotcore') {
    required(['TETHER_IOTCORE_ID', 'BCE_ACCESS_KEY_ID', 'BCE_SECRET_ACCESS_KEY'], 'baidu-iotcore');
    const baiduAuth = env.TETHER_BAIDU_AUTH ?? 'signature';
    if (baiduAuth !== 'signature' && baiduAuth !== 'certificate')
      problems.push('TETHER_BAIDU_AUTH: expected signature or certificate');
    settings = {
      provider: 'baidu-iotcore',
      iotCoreId: env.TETHER_IOTCORE_ID ?? '',
      region: env.TETHER_BAIDU_REGION || undefined,
      credentials,
      apiUrl: env.TETHER_API_URL,
      auth: baiduAuth === 'certificate' ? 'certificate' : 'signature',
    };
  } else if (provider.success) {
    required(['TETHER_BAIDU_ENDPOINT', 'BCE_ACCESS_KEY_ID', 'BCE_SECRET_ACCESS_KEY'], 'baidu-iothub');
    const baiduAuth = env.TETHER_BAIDU_AUTH ?? 'password';
    if (baiduAuth !== 'password' && baiduAuth !== 'certificate')
      problems.push('TETHER_BAIDU_AUTH: expected password or certificate');
    settings = {
      provider: 'baidu-iothub',
      endpointName: env.TETHER_BAIDU_ENDPOINT ?? '',
      credentials,
      apiUrl: env.TETHER_API_URL,
      auth: baiduAuth === 'certificate' ? 'certificate' : 'password',
    };
  }
  if (problems.length > 0 || !settings || !policy.success) throw new ConfigError('environment', problems);
  return {
    provider: await createProvider(settings),
    policy: policy.data,
    hub: { address: env.TETHER_HUB ?? 'tcp://127.0.0.1:1883' },
    thingPrefix: env.TETHER_THING_PREFIX || undefined,
    logger,
    auth: auth === 'iam' ? 'iam' : 'token',
    authorize: async (token) => ({ ok: auth === 'iam' || tokenMatches(token, digest ?? '') }),
  };
}
