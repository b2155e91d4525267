import { createHash, randomBytes, type ScryptOptions, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * Hub principal passwords. Baetyl v1 stored and compared them as plain text; Tether keeps
 * accepting that (configs must run unchanged) and adds `scrypt$N$r$p$SALT$HASH` hashes
 * (`tether-agent hash-password`), so a leaked service.yml no longer leaks the password.
 */

const N = 16384;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

const HASHED = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

interface ParsedHash {
  readonly options: ScryptOptions;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** What `tether-agent hash-password` writes starts so; a password that does is never taken as plain text. */
const HASH_PREFIX = 'scrypt$';

export function isHashedPassword(stored: string): boolean {
  return HASHED.test(stored);
}

/**
 * Why a principal's password that starts like a hash is not a usable one (a truncated or
 * hand-edited hash), or undefined. Such a password is refused by `validate` and at start, and a
 * login against it fails: it is never compared as a plain-text password.
 */
export function passwordHashProblem(stored: string): string | undefined {
  if (!stored.startsWith(HASH_PREFIX)) return undefined;
  if (!HASHED.test(stored)) {
    return 'starts like a hash but is not one: expected scrypt$N$r$p$SALT$HASH as tether-agent hash-password writes it';
  }
  return parseHash(stored) === undefined
    ? 'a hash with unusable parameters: N a power of two up to 2^20, r 1 to 32, p 1 to 16, a key of 16 bytes or more'
    : undefined;
}

export function hashPassword(plain: string): string {
  const salt = randomBytes(SALT_BYTES);
  const key = scryptSync(plain, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Synchronous check; blocks the event loop for the scrypt time (~50 ms) of a hashed password. */
export function verifyPassword(stored: string, given: Buffer | string): boolean {
  const parsed = parseHash(stored);
  if (parsed === 'plain') return plainEquals(stored, given);
  if (!parsed) return false;
  return timingSafeEqual(scryptSync(given, parsed.salt, parsed.key.length, parsed.options), parsed.key);
}

/** Same answer as verifyPassword, with scrypt on the libuv pool so CONNECTs do not stall the hub. */
export async function verifyPasswordAsync(stored: string, given: Buffer | string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === 'plain') return plainEquals(stored, given);
  if (!parsed) return false;
  const derived = await new Promise<Buffer>((resolve, reject) => {
    scrypt(given, parsed.salt, parsed.key.length, parsed.options, (err, key) => (err ? reject(err) : resolve(key)));
  }).catch(() => undefined);
  return derived !== undefined && timingSafeEqual(derived, parsed.key);
}

/**
 * Plain text compared in constant time: both sides are hashed to 32 bytes first, so
 * timingSafeEqual always gets equal lengths and the time does not reveal the length.
 */
function plainEquals(stored: string, given: Buffer | string): boolean {
  const a = createHash('sha256').update(stored, 'utf8').digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** `'plain'` for a Baetyl plain-text password, undefined for a malformed or absurd hash. */
function parseHash(stored: string): ParsedHash | 'plain' | undefined {
  const m = HASHED.exec(stored);
  if (!m) return stored.startsWith(HASH_PREFIX) ? undefined : 'plain';
  const n = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // N must be a power of two > 1; the caps keep a hand-edited hash from eating the machine
  if (n < 2 || n > 2 ** 20 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(m[4] as string, 'base64');
  const key = Buffer.from(m[5] as string, 'base64');
  if (key.length < 16) return undefined;
  // scrypt needs about 128·N·r bytes; Node's default maxmem (32 MiB) is too small past N=2^17
  return { options: { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, salt, key };
}
