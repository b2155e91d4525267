import type { HubConfig } from './schemas/hub-config.js';

/** How a bridge logs in to its local hub: the `hub:` block of a bundle's service.yml. */
export interface HubLogin {
  readonly address: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export interface HubLoginRequest {
  /** `--hub`: wins over the hub config's listen address. */
  readonly address?: string | undefined;
  /** `--hub-username`: picks the principal. */
  readonly username?: string | undefined;
  /** `--hub-password`: needed when the hub config holds only a hash. */
  readonly password?: string | undefined;
}

/**
 * The bridge's login, read from the hub config it will run against (the seed's `principals`):
 * the principal named by `username`, or the only one with a password; its password when the file
 * holds it in plain text (Baetyl's form), `password` when it holds a hash (`scrypt$…`); the
 * address of its first tcp listener on 127.0.0.1 (the agent and the hub share the host) unless
 * `address` is given. Returns a problem to print (naming the flag) when it cannot decide.
 */
export function hubLoginFromConfig(hub: HubConfig, given: HubLoginRequest): HubLogin | { problem: string } {
  const address = given.address ?? localAddress(hub.listen);
  if (address === undefined) return { problem: '--hub: the hub config listens on no tcp:// address; give --hub' };
  const withPassword = hub.principals.filter((p) => p.password !== undefined);
  const principal =
    given.username !== undefined
      ? hub.principals.find((p) => p.username === given.username)
      : withPassword.length === 1
        ? withPassword[0]
        : undefined;
  if (principal === undefined) {
    const names = withPassword.map((p) => p.username).join(', ') || '(none with a password)';
    return {
      problem:
        given.username !== undefined
          ? `--hub-username: the hub config has no principal ${given.username} (it has: ${names})`
          : `--hub-username: the hub config has ${withPassword.length} principals with a password; name one (${names})`,
    };
  }
  const stored = principal.password;
  if (stored === undefined) {
    return { problem: `--hub-username: principal ${principal.username} logs in with a certificate, not a password` };
  }
  const hashed = stored.startsWith('scrypt$');
  if (hashed && given.password === undefined) {
    return {
      problem: `--hub-password: the hub config holds only a hash of ${principal.username}'s password; give the password`,
    };
  }
  return { address, username: principal.username, password: given.password ?? stored };
}

/** `tcp://0.0.0.0:1883` → `tcp://127.0.0.1:1883`: the first plain listener, as a local client reaches it. */
function localAddress(listen: readonly string[]): string | undefined {
  for (const entry of listen) {
    const m = /^(tcp|mqtt):\/\/([^/]*):(\d+)$/.exec(entry);
    if (!m) continue;
    const host = m[2] ?? '';
    const local = host === '' || host === '0.0.0.0' || host === '[::]' || host === '::' ? '127.0.0.1' : host;
    return `tcp://${local}:${m[3]}`;
  }
  return undefined;
}
