import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Enrollment tokens are kept and compared as SHA-256 digests, never as given. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented token with a stored digest (hex). */
export function tokenMatches(token: string | undefined, digestHex: string): boolean {
  if (!token || !/^[0-9a-f]{64}$/i.test(digestHex)) return false;
  return timingSafeEqual(Buffer.from(tokenDigest(token), 'hex'), Buffer.from(digestHex.toLowerCase(), 'hex'));
}

/** `Authorization: Bearer TOKEN` → TOKEN. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return m?.[1];
}

/** 32 random bytes, base64url: what `tether-cloud token` hands out. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}
