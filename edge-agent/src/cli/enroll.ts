import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { keyMatchesCertificate, writeBundleFiles } from '@tether/node-shared/bundle';
import { createKeyAndCsr } from '@tether/node-shared/pki';
import {
  type BundleFiles,
  BundleFilesSchema,
  BundleManifestSchema,
  formatIssues,
  type HubLogin,
  hubLoginFromConfig,
  TetherError,
  ThingNameSchema,
} from '@tether/shared';
import { parseDocument } from 'yaml';
import { loadBridgeConfig, loadHubConfig } from '../config/load-config.js';
import { type EnrollAuth, iamRefusalMessage, resolveEnrollAuth } from './enroll-auth.js';

export interface EnrollOptions {
  /** The provisioning function: `tether-cloud serve`'s https://HOST:PORT/v1/provision, or a function URL. */
  readonly url: string;
  readonly thing: string;
  readonly out: string;
  /** CA certificate to trust for the HTTPS call (self-hosted servers); default: the system's roots. */
  readonly ca?: string | undefined;
  /** The enrollment token (TETHER_ENROLL_TOKEN); `tokenFile` wins over it. */
  readonly token?: string | undefined;
  /** `--token-file`: its first line is the enrollment token. */
  readonly tokenFile?: string | undefined;
  readonly rotate?: boolean | undefined;
  /** The local hub the bundle's service.yml connects to (default: the server's). */
  readonly hub?: string | undefined;
  /** The hub principal the bridge logs in as (written into service.yml here; never sent). */
  readonly hubUsername?: string | undefined;
  readonly hubPassword?: string | undefined;
  /** The hub config the agent runs with: the login (and address) are read from its principals. */
  readonly hubConfig?: string | undefined;
  /** `token` or `iam` (SigV4); default: iam for a Lambda function URL (`*.lambda-url.<region>.on.aws`). */
  readonly auth?: string | undefined;
  /** IAM: the region to sign for (default: the function URL's, then AWS_REGION). */
  readonly region?: string | undefined;
  /** IAM: the shared-config profile to take credentials from (default: AWS_PROFILE, then the default chain). */
  readonly profile?: string | undefined;
}

const TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * `tether-agent enroll`: the device makes its key (P-256) and a CSR, sends the CSR to the provisioning
 * function and writes the bundle it gets back beside its key. The private key never leaves the device:
 * only the CSR is sent, and an answer carrying a key (or a certificate for another key) is refused.
 * The request carries the enrollment token (`tether-cloud serve`), or is signed with AWS SigV4 for a
 * function URL whose AuthType is AWS_IAM (infra/): see enroll-auth.ts.
 */
export async function enrollCommand(options: EnrollOptions): Promise<number> {
  const thing = ThingNameSchema.safeParse(options.thing);
  if (!thing.success) throw usage(`--thing: ${thing.error.issues[0]?.message ?? 'invalid'}`);
  const url = parseUrl(options.url);
  const auth = resolveEnrollAuth(url, options);
  if (url.protocol !== 'https:') {
    const what = auth.kind === 'iam' ? 'the bundle travels' : 'the token and the bundle travel';
    throw usage(`--url: expected https://… (${what} over it)`);
  }
  if (auth.kind === 'iam' && auth.warning) console.error(`tether-agent: warning: ${auth.warning}`);
  const login = hubLogin(options);
  // first the token or the AWS credentials: without them enroll stops before it makes a key
  const authorize = await requestAuthorizer(url, auth, options);
  const out = resolve(options.out);
  await checkOutFolder(out, options.thing, options.rotate === true);
  const ca = options.ca ? await readFile(options.ca, 'utf8').catch(() => undefined) : undefined;
  if (options.ca && ca === undefined) throw usage(`--ca: cannot read ${options.ca}`);

  const { csrPem, keyPem } = await createKeyAndCsr({ commonName: options.thing });
  const body = JSON.stringify({
    thing: options.thing,
    csr: csrPem,
    rotate: options.rotate === true,
    ...(options.hub ? { hub: options.hub } : {}),
  });
  const headers = await authorize(body, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  const answer = await post(url, body, headers, ca);
  const files = checkAnswer(answer, options.thing, keyPem, auth);
  if (login) files['service.yml'] = withHubLogin(files['service.yml'] ?? '', login);
  await writeBundleFiles(out, { ...files, 'client.key': keyPem });
  loadBridgeConfig(out); // the bundle as the agent will read it: a bad one is reported now
  const how = auth.kind === 'iam' ? ` (AWS IAM, SigV4 for lambda in ${auth.region})` : '';
  console.log(`tether-agent: enrolled thing ${options.thing}${how}; bundle in ${out}`);
  console.log(`  run: tether-agent --config ${out} [--hub-config hub.yml]`);
  return 0;
}

/**
 * The bridge's login at the local hub: --hub-username/--hub-password, or read from --hub-config. It
 * stays on the device (a hub with principals refuses a bridge without it); undefined when none given.
 */
function hubLogin(options: EnrollOptions): Partial<HubLogin> | undefined {
  if (options.hubConfig !== undefined) {
    const login = hubLoginFromConfig(loadHubConfig(options.hubConfig).config, {
      address: options.hub,
      username: options.hubUsername,
      password: options.hubPassword,
    });
    if ('problem' in login) throw usage(`${login.problem} (from --hub-config ${options.hubConfig})`);
    return login;
  }
  if (options.hubUsername === undefined && options.hubPassword === undefined) return undefined;
  if (options.hubUsername === undefined) throw usage('--hub-password: give --hub-username too');
  return { username: options.hubUsername, password: options.hubPassword };
}

/** service.yml with the hub login set (its comments kept). */
function withHubLogin(text: string, login: Partial<HubLogin>): string {
  const doc = parseDocument(text);
  if (login.address !== undefined) doc.setIn(['hub', 'address'], login.address);
  if (login.username !== undefined) doc.setIn(['hub', 'username'], login.username);
  if (login.password !== undefined) doc.setIn(['hub', 'password'], login.password);
  return doc.toString();
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw usage(`--url: "${text}" is not a URL (expected https://…)`);
  }
}

/** Adds the request's authorization to its headers: the Bearer token, or the SigV4 signature of these exact bytes. */
type Authorizer = (body: string, headers: Record<string, string>) => Promise<Record<string, string>>;

async function requestAuthorizer(url: URL, auth: EnrollAuth, options: EnrollOptions): Promise<Authorizer> {
  if (auth.kind === 'token') {
    const token = await tokenFor(options);
    return async (_body, headers) => (token ? { ...headers, authorization: `Bearer ${token}` } : headers);
  }
  // the AWS code is loaded only here, for IAM
  const { loadAwsCredentials, signLambdaRequest } = await import('./enroll-sigv4.js');
  const credentials = await loadAwsCredentials(auth.profile);
  return (body, headers) => signLambdaRequest({ url, method: 'POST', headers, body, region: auth.region, credentials });
}

async function tokenFor(options: EnrollOptions): Promise<string | undefined> {
  if (options.tokenFile === undefined) return options.token || undefined;
  const text = await readFile(options.tokenFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usage(`--token-file: cannot read ${options.tokenFile} (${error.code ?? 'error'})`);
  });
  return text.split('\n')[0]?.trim() || undefined;
}

function usage(message: string): TetherError {
  return new TetherError('TETHER_ERR_USAGE', message);
}

async function checkOutFolder(out: string, thing: string, rotate: boolean): Promise<void> {
  const text = await readFile(join(out, 'bundle.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw usage(`--out: ${out} has an unreadable bundle.json; choose another folder or remove it`);
  }
  const manifest = BundleManifestSchema.safeParse(data);
  if (manifest.success && manifest.data.thing !== thing) {
    throw usage(`--out: ${out} holds the bundle of thing ${manifest.data.thing}`);
  }
  if (!rotate) throw usage(`--out: ${out} holds a bundle already; --rotate asks for new credentials`);
}

interface Answer {
  readonly origin: string;
  readonly status: number;
  /** The JSON body, or undefined when the body is not JSON. */
  readonly json: unknown;
  /** The server's Date header (a clock-skew hint for SigV4 refusals). */
  readonly date?: string | undefined;
}

function post(url: URL, body: string, headers: Record<string, string>, ca: string | undefined): Promise<Answer> {
  return new Promise((resolvePost, reject) => {
    const req = request(url, { method: 'POST', timeout: TIMEOUT_MS, ...(ca ? { ca } : {}), headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolvePost({ origin: url.origin, status: res.statusCode ?? 0, json, date: res.headers.date });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (error) =>
      reject(new TetherError('TETHER_ERR_CONNECT', `${url.origin}: ${error.message}`, { cause: error })),
    );
    req.end(body);
  });
}

/** The answer's bundle, checked: for this thing, signed for our key, and carrying no key of its own. */
function checkAnswer(answer: Answer, thing: string, keyPem: string, auth: EnrollAuth): BundleFiles {
  const json = (answer.json ?? {}) as {
    files?: unknown;
    error?: { code?: string; message?: string; problems?: string[] };
    message?: unknown;
    Message?: unknown;
  };
  if (answer.status === 403 && auth.kind === 'iam' && typeof json.error?.code !== 'string') {
    // refused before the function ran: AWS checked the signature and the caller's IAM permissions
    const message = awsMessage(json) || undefined;
    throw new TetherError(
      'TETHER_ERR_FORBIDDEN',
      iamRefusalMessage(auth, { status: 403, message, serverDate: answer.date }),
    );
  }
  if (answer.json === undefined) {
    throw new TetherError('TETHER_ERR_CONNECT', `${answer.origin}: HTTP ${answer.status}, not a JSON answer`);
  }
  if (answer.status !== 200) {
    const code = json.error?.code ?? '';
    const detail =
      [json.error?.message, ...(json.error?.problems ?? [])].filter(Boolean).join('; ') || awsMessage(json);
    const known = code === 'TETHER_ERR_FORBIDDEN' || code === 'TETHER_ERR_EXISTS' || code === 'TETHER_ERR_REQUEST';
    let hint = '';
    if (code === 'TETHER_ERR_FORBIDDEN' && auth.kind === 'iam') {
      hint =
        ' (the function asks for an enrollment token: it runs with TETHER_AUTH=token; use --auth token, or deploy it with TETHER_AUTH=iam)';
    } else if (answer.status === 403 && code === '') {
      hint =
        " (not the provisioning function's answer: a function URL with AuthType AWS_IAM refuses requests not signed with SigV4; use --auth iam)";
    }
    throw new TetherError(
      known ? code : 'TETHER_ERR_CONNECT',
      `enrollment refused (HTTP ${answer.status}): ${detail}${hint}`,
    );
  }
  const files = BundleFilesSchema.safeParse(json.files);
  if (!files.success) throw invalid(formatIssues(files.error.issues).join('; '));
  if (files.data['client.key'] !== undefined) throw invalid('it carries a private key; this device makes its own');
  const manifest = BundleManifestSchema.safeParse(JSON.parse(files.data['bundle.json'] ?? '{}'));
  if (!manifest.success) throw invalid(`bundle.json: ${formatIssues(manifest.error.issues).join('; ')}`);
  if (manifest.data.thing !== thing) throw invalid(`it is for thing ${manifest.data.thing}`);
  const cert = files.data['client.pem'];
  if (!cert || !keyMatchesCertificate(keyPem, cert))
    throw invalid("client.pem is not a certificate for this device's key");
  return files.data;
}

/** The message of an AWS error answer (`{"Message": …}` or `{"message": …}`), bounded; '' when none. */
function awsMessage(json: { message?: unknown; Message?: unknown }): string {
  const said = typeof json.message === 'string' ? json.message : json.Message;
  return typeof said === 'string' ? said.slice(0, 300) : '';
}

function invalid(why: string): TetherError {
  return new TetherError('TETHER_ERR_CONFIG', `the provisioning answer is not a usable bundle: ${why}`);
}
