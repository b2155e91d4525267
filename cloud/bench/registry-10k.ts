/**
 * What the local provider's registry (one JSON file, rewritten per thing) costs for a 10,000-thing
 * batch: every provision reads, parses, validates and rewrites registry.json and the ACL. Prints
 * numbers; asserts nothing. Run: npx tsx cloud/bench/registry-10k.ts [things]
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate } from '@tether/node-shared/pki';
import { mosquittoAcl } from '../src/core/policy-map.js';
import { LocalRegistry } from '../src/providers/local-registry.js';

const things = Number(process.argv[2] ?? 10_000);
const dir = await mkdtemp(join(tmpdir(), 'tether-registry-bench-'));
try {
  const ca = await createCa({ commonName: 'Bench CA' });
  // one real certificate, reused: the bench measures the registry, not key generation
  const cert = (await issueCertificate(ca, { commonName: 'bench', usage: 'client' })).certPem;
  const registry = new LocalRegistry(dir);
  const started = process.hrtime.bigint();
  let slowest = 0;
  const marks: string[] = [];
  for (let i = 0; i < things; i++) {
    const t0 = process.hrtime.bigint();
    const thing = `gw-${i}`;
    await registry.update(async (r) => {
      r.things[thing] = {
        serial: i.toString(16),
        certPem: cert,
        sha256: '0'.repeat(64),
        notAfter: new Date().toISOString(),
        issuedAt: new Date().toISOString(),
        keyOnDevice: true,
        topics: { publish: [`devices/${thing}/up`], subscribe: [`devices/${thing}/down`] },
      };
      // the kit's ACL is re-written from the registry on every provision too
      const entries = Object.entries(r.things).map(([username, issued]) => ({ username, ...issued.topics }));
      await writeFile(join(dir, 'acl'), mosquittoAcl(entries), { mode: 0o600 });
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    slowest = Math.max(slowest, ms);
    if ((i + 1) % (things / 5) === 0) marks.push(`thing ${i + 1}: ${ms.toFixed(1)} ms`);
  }
  const totalS = Number(process.hrtime.bigint() - started) / 1e9;
  const size = (await stat(join(dir, 'registry.json'))).size;
  console.log(`things: ${things}`);
  console.log(`total: ${totalS.toFixed(1)} s (${((totalS * 1000) / things).toFixed(1)} ms per thing on average)`);
  console.log(`per-thing cost as the file grows: ${marks.join(', ')}; slowest ${slowest.toFixed(1)} ms`);
  console.log(
    `registry.json: ${(size / 1024 / 1024).toFixed(1)} MiB; acl: ${((await stat(join(dir, 'acl'))).size / 1024).toFixed(0)} KiB`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
