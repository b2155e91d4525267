import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import {
  type BundleFiles,
  BundleFilesSchema,
  BundleManifestSchema,
  formatIssues,
  TetherError,
  ThingNameSchema,
} from '@tether/shared';
import { keyMatchesCertificate, writeBundleFiles } from '../config/load-bundle.js';
import { loadBridgeConfig } from '../config/load-config.js';
import { createKeyAndCsr } from '../pki/dev-pki.js';

export interface EnrollOptions {
  /** The provisioning function: `tether-cloud serve`'s https://HOST:PORT/v1/provision, or a function URL. */
  readonly url: string;
  readonly thing: string;
  readonly out: string;
  /** CA certificate to trust for the HTTPS call (self-hosted servers); default: the system's roots. */
  readonly ca?: string | undefined;
  readonly token?: string | undefined;
  readonly rotate?: boolean | undefined;
  /** The local hub the bundle's service.yml connects to (default: the server's). */
  readonly hub?: string | undefined;
}

const TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * `tether-agent enroll`: the device makes its key (P-256) and a CSR, sends the CSR to the provisioning
 * function and writes the bundle it gets back beside its key. The private key never leaves the device:
 * only the CSR is sent, and an answer carrying a key (or a certificate for another key) is refused.
 */
export async function enrollCommand(options: EnrollOptions): Promise<number> {
  const thing = ThingNameSchema.safeParse(options.thing);
  if (!thing.success) throw usage(`--thing: ${thing.error.issues[0]?.message ?? 'invalid'}`);
  const url = new URL(options.url);
  if (url.protocol !== 'https:') throw usage(`--url: expected https://… (the token and the bundle travel over it)`);
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
  const answer = await post(url, body, options.token, ca);
  const files = checkAnswer(answer, options.thing, keyPem);
  await writeBundleFiles(out, { ...files, 'client.key': keyPem });
  loadBridgeConfig(out); // the bundle as the agent will read it: a bad one is reported now
  console.log(`tether-agent: enrolled thing ${options.thing}; bundle in ${out}`);
  console.log(`  run: tether-agent --config ${out} [--hub-config hub.yml]`);
  return 0;
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

function post(
  url: URL,
  body: string,
  token: string | undefined,
  ca: string | undefined,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolvePost, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        timeout: TIMEOUT_MS,
        ...(ca ? { ca } : {}),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolvePost({ status: res.statusCode ?? 0, json: JSON.parse(text) });
          } catch {
            reject(new TetherError('TETHER_ERR_CONNECT', `${url.origin}: HTTP ${res.statusCode}, not a JSON answer`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (error) =>
      reject(new TetherError('TETHER_ERR_CONNECT', `${url.origin}: ${error.message}`, { cause: error })),
    );
    req.end(body);
  });
}

/** The answer's bundle, checked: for this thing, signed for our key, and carrying no key of its own. */
function checkAnswer(answer: { status: number; json: unknown }, thing: string, keyPem: string): BundleFiles {
  const json = answer.json as { files?: unknown; error?: { code?: string; message?: string; problems?: string[] } };
  if (answer.status !== 200) {
    const code = json.error?.code ?? '';
    const detail = [json.error?.message, ...(json.error?.problems ?? [])].filter(Boolean).join('; ');
    const known = code === 'TETHER_ERR_FORBIDDEN' || code === 'TETHER_ERR_EXISTS' || code === 'TETHER_ERR_REQUEST';
    throw new TetherError(known ? code : 'TETHER_ERR_CONNECT', `enrollment refused (HTTP ${answer.status}): ${detail}`);
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

function invalid(why: string): TetherError {
  return new TetherError('TETHER_ERR_CONFIG', `the provisioning answer is not a usable bundle: ${why}`);
}
