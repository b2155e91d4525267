import { TetherError } from '@tether/shared';

/** Baetyl-Hub's `message.length.max` default: 32k. */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

// docker/go-units RAMInBytes, which Baetyl used: binary multipliers, optional "i" and "b"
// ("32k", "32KiB", "1m", "1.5MB", "32768").
const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;

/** Bytes from a Baetyl size (`32k`, `1m`, a plain number); throws a config error naming `field`. */
export function parseByteSize(value: number | string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = typeof value === 'number' ? undefined : SIZE.exec(value.trim());
  const bytes =
    typeof value === 'number'
      ? value
      : m
        ? Math.floor(Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? 1))
        : Number.NaN;
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new TetherError(
      'TETHER_ERR_CONFIG',
      `${field}: cannot use ${JSON.stringify(value)} as a size (e.g. 32k, 1m, 32768)`,
    );
  }
  return Math.floor(bytes);
}
