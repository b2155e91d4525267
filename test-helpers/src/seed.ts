/**
 * The seed guide's configs (Baetyl v1's Baetyl-Hub and Baetyl-Remote-MQTT `service.yml`, in
 * `fixtures/seed/`), and the hub principal they log in with: `test` / `hahaha`, pub and sub `#`.
 * Every test that needs the seed's hub or its login takes it from here, so it is written once: in the
 * fixture file.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

export type SeedFile = 'hub-service.yml' | 'remote-service.yml';

/** A seed file parsed: a fresh object each call, free to change. */
export function seedYaml(name: SeedFile): any {
  return parse(readFileSync(new URL(`../fixtures/seed/${name}`, import.meta.url), 'utf8'));
}

export interface SeedPermission {
  readonly action: 'pub' | 'sub';
  readonly permit: readonly string[];
}

export interface SeedPrincipal {
  readonly username: string;
  readonly password: string;
  readonly permissions: readonly SeedPermission[];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function seedPrincipal(): SeedPrincipal {
  const principal = seedYaml('hub-service.yml').principals?.[0];
  if (typeof principal?.username !== 'string' || typeof principal?.password !== 'string') {
    throw new Error('fixtures/seed/hub-service.yml: its first principal has no username and password');
  }
  return deepFreeze(principal as SeedPrincipal);
}

/** The seed hub's principal (`test` / `hahaha`, pub and sub `#`), frozen. */
export const SEED_PRINCIPAL: SeedPrincipal = seedPrincipal();

/** The seed principal's login, as MQTT clients and the bridge config's `hub:` take it. */
export const SEED_LOGIN: { readonly username: string; readonly password: string } = Object.freeze({
  username: SEED_PRINCIPAL.username,
  password: SEED_PRINCIPAL.password,
});

/**
 * A hub config with the seed's principal, listening where told (the seed listens on 0.0.0.0:1883).
 * `extra` adds or replaces fields: `seedHubConfig(['tcp://127.0.0.1:0'], { principals: [SEED_PRINCIPAL, bridge] })`.
 */
export function seedHubConfig(listen: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { listen: [...listen], principals: [SEED_PRINCIPAL], ...extra };
}

/** `seedHubConfig` as YAML, for a `--hub-config` file. */
export function seedHubYaml(listen: readonly string[], extra: Record<string, unknown> = {}): string {
  return stringify(seedHubConfig(listen, extra));
}
