import { newToken, tokenDigest, tokenMatches } from '../api/tokens.js';
import { LocalRegistry } from '../providers/local-registry.js';

/**
 * One-time enrollment tokens for the local CA (`tether-cloud token --thing NAME`): each is good for
 * one thing, once, until it expires. Kept as digests in the CA's registry, under its lock.
 */
export class OneTimeTokens {
  private readonly registry: LocalRegistry;

  constructor(caDir: string) {
    this.registry = new LocalRegistry(caDir);
  }

  /** A new token for `thing` (replacing an unused one); returned once, stored as its digest. */
  issue(thing: string, ttlMs: number): Promise<string> {
    return this.registry.update(async (registry) => {
      const token = newToken();
      registry.tokens[thing] = { sha256: tokenDigest(token), expiresAt: new Date(Date.now() + ttlMs).toISOString() };
      return token;
    });
  }

  async matches(thing: string, token: string | undefined): Promise<boolean> {
    const entry = (await this.registry.read()).tokens[thing];
    return entry !== undefined && Date.parse(entry.expiresAt) > Date.now() && tokenMatches(token, entry.sha256);
  }

  consume(thing: string): Promise<void> {
    return this.registry.update(async (registry) => {
      delete registry.tokens[thing];
    });
  }
}
