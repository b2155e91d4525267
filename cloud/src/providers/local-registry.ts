import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleEndpointSchema, TetherError } from '@tether/shared';
import { z } from 'zod';

/**
 * What the local CA has issued, in `<ca-dir>/registry.json`: the endpoint, each thing's current
 * certificate and topics, and every revoked serial (for the CRL). Written atomically (temp + rename)
 * under an exclusive lock file, so a batch, `serve` and a second CLI can share a CA dir.
 */

const IssuedSchema = z.object({
  serial: z.string(),
  certPem: z.string(),
  sha256: z.string(),
  notAfter: z.string(),
  issuedAt: z.string(),
  keyOnDevice: z.boolean(),
  topics: z.object({ publish: z.array(z.string()), subscribe: z.array(z.string()) }),
});
export type IssuedRecord = z.infer<typeof IssuedSchema>;

const RegistrySchema = z.object({
  version: z.literal(1),
  endpoint: BundleEndpointSchema.optional(),
  /** Mosquitto's `user` line in the kit (given once with --broker-user, kept for every re-write). */
  brokerUser: z.string().optional(),
  things: z.record(z.string(), IssuedSchema),
  revoked: z.array(z.object({ serial: z.string(), thing: z.string(), revokedAt: z.string() })),
  /** One-time enrollment tokens (`tether-cloud token`), by thing: SHA-256 digests, used up on success. */
  tokens: z.record(z.string(), z.object({ sha256: z.string(), expiresAt: z.string() })).default({}),
});
export type Registry = z.infer<typeof RegistrySchema>;

const EMPTY: Registry = { version: 1, things: {}, revoked: [], tokens: {} };
const LOCK_ATTEMPTS = 100;
const LOCK_PAUSE_MS = 50;

export class LocalRegistry {
  private readonly file: string;
  private readonly lockFile: string;
  /** Mutations in this process run one at a time; the lock file covers other processes. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly caDir: string) {
    this.file = join(caDir, 'registry.json');
    this.lockFile = join(caDir, 'registry.lock');
  }

  async read(): Promise<Registry> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY);
      throw error;
    }
    const parsed = RegistrySchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new TetherError('TETHER_ERR_CONFIG', `${this.file}: not a Tether CA registry (${parsed.error.message})`);
    }
    return parsed.data;
  }

  /** Reads, lets `change` modify and returns its result, writes back; all under the lock. */
  update<T>(change: (registry: Registry) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      await mkdir(this.caDir, { recursive: true, mode: 0o700 });
      await this.lock();
      try {
        const registry = await this.read();
        const result = await change(registry);
        const temp = `${this.file}.${process.pid}.tmp`;
        await writeFile(temp, `${JSON.stringify(registry, null, 2)}\n`, { mode: 0o600 });
        await rename(temp, this.file);
        return result;
      } finally {
        await rm(this.lockFile, { force: true });
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (await this.lockIsStale()) await rm(this.lockFile, { force: true });
        else await new Promise((r) => setTimeout(r, LOCK_PAUSE_MS));
      }
    }
    throw new TetherError(
      'TETHER_ERR_STORE',
      `${this.lockFile}: held by another process for ${(LOCK_ATTEMPTS * LOCK_PAUSE_MS) / 1000} s`,
    );
  }

  /** A lock whose process is gone (crashed) is taken over. */
  private async lockIsStale(): Promise<boolean> {
    const pid = Number(await readFile(this.lockFile, 'utf8').catch(() => ''));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}
