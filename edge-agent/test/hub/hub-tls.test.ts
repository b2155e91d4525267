import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_LOGIN, SEED_PRINCIPAL } from '@tether/test-helpers/seed';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL, closed, Resources, record, seedConfig, urlOf } from './hub-fixtures.js';

/** Test PKI made with the openssl CLI: a CA, a server cert for 127.0.0.1, client certs. */
let dir = '';
const file = (name: string) => join(dir, name);
const pem = (name: string) => readFileSync(file(name));

/** Runs `openssl` with whitespace-separated arguments (none of ours contains a space). */
function openssl(args: string): void {
  execFileSync('openssl', args.trim().split(/\s+/), { cwd: dir, stdio: 'pipe' });
}

const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';

function makeCa(name: string): void {
  openssl(`req -x509 ${EC_KEY} -days 1 -keyout ${name}.key -out ${name}.pem -subj /CN=${name}
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign`);
}

function makeLeaf(name: string, cn: string, ca: string, ext: string): void {
  writeFileSync(file(`${name}.ext`), `${ext}\n`);
  openssl(`req ${EC_KEY} -keyout ${name}.key -out ${name}.csr -subj /CN=${cn}`);
  openssl(`x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -days 1
    -out ${name}.pem -extfile ${name}.ext`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-hub-pki-'));
  makeCa('ca');
  makeCa('rogue');
  makeLeaf('server', 'localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  makeLeaf('device1', 'device1', 'ca', 'extendedKeyUsage=clientAuth');
  makeLeaf('impostor', 'device1', 'rogue', 'extendedKeyUsage=clientAuth');
}, 30_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const res = new Resources();
afterEach(() => res.run());

function tlsHubConfig(listen: string[]) {
  return seedConfig({
    listen,
    // relative paths: resolved against the hub's config folder
    certificate: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
    principals: [SEED_PRINCIPAL, { username: 'device1', permissions: ALL }],
  });
}

describe('EmbeddedHub over ssl:// and wss://', () => {
  it('logs in a password-less principal by its client certificate CN', async () => {
    const hub = await res.hub(tlsHubConfig(['ssl://127.0.0.1:0']), undefined, dir);
    const url = urlOf(hub, 'ssl').replace(/^ssl:/, 'mqtts:');
    const tls = { ca: pem('ca.pem'), cert: pem('device1.pem'), key: pem('device1.key') };
    const named = await res.client(url, { ...tls, username: 'device1' });
    const anonymous = await res.client(url, tls); // no username: the CN names the principal
    const inbox = record(anonymous);
    await anonymous.subscribeAsync('cert/t', { qos: 1 });
    await named.publishAsync('cert/t', 'by certificate', { qos: 1 });
    expect((await inbox.next('cert/t')).payload).toBe('by certificate');
  });

  it('still lets password principals in without a client certificate', async () => {
    const hub = await res.hub(tlsHubConfig(['ssl://127.0.0.1:0']), undefined, dir);
    const url = urlOf(hub, 'ssl').replace(/^ssl:/, 'mqtts:');
    const client = await res.client(url, { ca: pem('ca.pem'), ...SEED_LOGIN });
    expect(client.connected).toBe(true);
  });

  it('refuses a certificate login without a certificate (CONNACK 5)', async () => {
    const hub = await res.hub(tlsHubConfig(['ssl://127.0.0.1:0']), undefined, dir);
    const url = urlOf(hub, 'ssl').replace(/^ssl:/, 'mqtts:');
    await expect(res.client(url, { ca: pem('ca.pem'), username: 'device1' })).rejects.toMatchObject({ code: 5 });
  });

  it('drops a client whose certificate another CA signed, even with a good password', async () => {
    const hub = await res.hub(tlsHubConfig(['ssl://127.0.0.1:0']), undefined, dir);
    const url = urlOf(hub, 'ssl').replace(/^ssl:/, 'mqtts:');
    const client = mqtt.connect(url, {
      ca: pem('ca.pem'),
      cert: pem('impostor.pem'),
      key: pem('impostor.key'),
      // valid credentials: only the TLS layer (a presented certificate must verify) refuses
      ...SEED_LOGIN,
      reconnectPeriod: 0,
    });
    res.keep(client, (c) => c.endAsync(true));
    let connected = false;
    client.on('connect', () => {
      connected = true;
    });
    client.on('error', () => {});
    await closed(client);
    expect(connected).toBe(false);
  });

  it('serves wss:// with certificate login too', async () => {
    const hub = await res.hub(tlsHubConfig(['wss://127.0.0.1:0/mqtt']), undefined, dir);
    const url = urlOf(hub, 'wss');
    const client = await res.client(url, { ca: pem('ca.pem'), cert: pem('device1.pem'), key: pem('device1.key') });
    const inbox = record(client);
    await client.subscribeAsync('over/wss', { qos: 1 });
    await client.publishAsync('over/wss', 'secure', { qos: 1 });
    expect((await inbox.next('over/wss')).payload).toBe('secure');
  });
});
