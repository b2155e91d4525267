import { TetherError } from '@tether/shared';

/**
 * How `tether-agent enroll` authenticates to the provisioning function:
 * - `token`: `Authorization: Bearer <enrollment token>` (`tether-cloud serve`, or a function with TETHER_AUTH=token);
 * - `iam`: the request is signed with AWS Signature Version 4 for the service `lambda` (the function URL
 *   infra/ deploys has AuthType AWS_IAM; the function runs with TETHER_AUTH=iam and asks for no token).
 * Pure: no AWS code is loaded here (see enroll-sigv4.ts, imported only in IAM mode).
 */
export type EnrollAuth =
  | { readonly kind: 'token' }
  | {
      readonly kind: 'iam';
      readonly region: string;
      /** Where the region came from, for messages. */
      readonly regionFrom: '--region' | 'the URL' | 'AWS_REGION' | 'AWS_DEFAULT_REGION';
      readonly profile?: string | undefined;
      /** Something the user should know (printed on stderr), e.g. --region overriding the URL's region. */
      readonly warning?: string | undefined;
    };

export interface EnrollAuthFlags {
  /** `--auth token|iam`; default: iam when the URL is a Lambda function URL, token otherwise. */
  readonly auth?: string | undefined;
  readonly region?: string | undefined;
  readonly profile?: string | undefined;
  /** `--token-file` was given. */
  readonly tokenFile?: string | undefined;
}

/** Lambda function URLs: `<url-id>.lambda-url.<region>.on.aws`. */
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;
/** An AWS region's shape (us-east-1, eu-central-2, us-gov-west-1, cn-north-1, eusc-de-east-1…). */
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/** The region of a Lambda function URL's host, or undefined when the host is not one. */
export function functionUrlRegion(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const region = FUNCTION_URL_HOST.exec(host)?.[1];
  return region !== undefined && REGION.test(region) ? region : undefined;
}

/** Works out the auth mode and, for IAM, the signing region; every mistake is a usage error (exit 2). */
export function resolveEnrollAuth(url: URL, flags: EnrollAuthFlags, env: NodeJS.ProcessEnv = process.env): EnrollAuth {
  if (flags.auth !== undefined && flags.auth !== 'token' && flags.auth !== 'iam') {
    throw usage(`--auth: expected token or iam, got "${flags.auth}"`);
  }
  const urlRegion = functionUrlRegion(url.hostname);
  const kind = flags.auth ?? (urlRegion ? 'iam' : 'token');
  if (kind === 'token') {
    if (flags.region !== undefined) throw usage('--region goes with --auth iam (SigV4-signed requests)');
    if (flags.profile !== undefined) throw usage('--profile goes with --auth iam (SigV4-signed requests)');
    return { kind };
  }
  if (flags.tokenFile !== undefined) {
    const why = flags.auth === undefined ? `${url.host} is a Lambda function URL, so enroll signs with AWS IAM; ` : '';
    throw usage(
      `--token-file: ${why}an IAM-authorized function URL takes no enrollment token (--auth token sends one)`,
    );
  }
  if (flags.profile !== undefined && !/^[\w.@+-]{1,128}$/.test(flags.profile)) {
    throw usage(`--profile: "${flags.profile}" is not an AWS profile name`);
  }
  const profile = flags.profile !== undefined ? { profile: flags.profile } : {};
  if (flags.region !== undefined) {
    if (!REGION.test(flags.region)) throw usage(`--region: "${flags.region}" is not an AWS region (e.g. eu-west-1)`);
    const warning =
      urlRegion && urlRegion !== flags.region
        ? `--region ${flags.region} differs from the function URL's region ${urlRegion}; signing for ${flags.region}`
        : undefined;
    return { kind, region: flags.region, regionFrom: '--region', ...profile, ...(warning ? { warning } : {}) };
  }
  if (urlRegion) return { kind, region: urlRegion, regionFrom: 'the URL', ...profile };
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const value = env[name];
    if (!value) continue;
    if (!REGION.test(value)) throw usage(`${name}: "${value}" is not an AWS region (e.g. eu-west-1)`);
    return { kind, region: value, regionFrom: name, ...profile };
  }
  throw usage(
    `cannot work out the AWS region to sign for: ${url.host} is not a Lambda function URL ` +
      '(<id>.lambda-url.<region>.on.aws); pass --region REGION (or set AWS_REGION)',
  );
}

/** The refusal of an IAM-authorized function URL (HTTP 403 not answered by Tether's function), explained. */
export function iamRefusalMessage(
  auth: Extract<EnrollAuth, { kind: 'iam' }>,
  answer: { readonly status: number; readonly message?: string | undefined; readonly serverDate?: string | undefined },
  now: number = Date.now(),
): string {
  const said = answer.message ? ` ("${answer.message}")` : '';
  const lines = [
    `enrollment refused (HTTP ${answer.status}) by AWS IAM${said}: the function URL takes SigV4-signed requests ` +
      'from a caller allowed lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function ' +
      '(attach the stack\'s EnrollPolicyArn output, the "EnrollPolicy" managed policy, to this user or role)',
    `  signed for region ${auth.region} (from ${auth.regionFrom}), service lambda` +
      (auth.profile ? `, profile ${auth.profile}` : '') +
      ": check that the credentials are current and the region is the function URL's",
  ];
  const serverTime = answer.serverDate ? Date.parse(answer.serverDate) : Number.NaN;
  if (Number.isFinite(serverTime) && Math.abs(serverTime - now) > 5 * 60_000) {
    const minutes = Math.round((now - serverTime) / 60_000);
    lines.push(
      `  this device's clock is ${Math.abs(minutes)} minutes ${minutes > 0 ? 'ahead' : 'behind'}: SigV4 allows 5`,
    );
  }
  return lines.join('\n');
}

/** The message of a credentials chain that found nothing (or failed); the SDK's reason, first line only. */
export function noCredentialsMessage(profile: string | undefined, error: unknown): string {
  const reason = ((error as { message?: unknown } | null)?.message ?? '').toString().split('\n')[0]?.slice(0, 200);
  const generic = !reason || /could not load credentials from any providers/i.test(reason);
  const why = generic ? '' : reason;
  const context = profile ? ` (profile ${profile}${why ? `: ${why}` : ''})` : why ? ` (${why})` : '';
  return (
    'no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), ' +
    `pass --profile NAME, or run with an instance or container role${context}`
  );
}

function usage(message: string): TetherError {
  return new TetherError('TETHER_ERR_USAGE', message);
}
