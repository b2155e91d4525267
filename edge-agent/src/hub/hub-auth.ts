import type { Permission, Principal } from '@tether/shared';
import { topicMatches } from '../rules/topic-match.js';
import { verifyPassword, verifyPasswordAsync } from './password-hash.js';

/**
 * Baetyl-Hub's principals: who may connect, and which topics each may publish to and
 * subscribe to. Pure (no I/O, no logging) so the socket path and the in-process link
 * decide exactly alike.
 */
export class HubAuthorizer {
  /** No principals and no `anonymous` section: anyone may connect and do anything (Baetyl refused; Tether warns). */
  open = false;
  private byName = new Map<string, Principal>();
  /** The `anonymous` section: what a client without a username may do (Mosquitto: allow_anonymous + its ACL). */
  private anonymousPrincipal: Principal | undefined;

  constructor(principals: readonly Principal[], anonymous?: AnonymousSection) {
    this.replace(principals, anonymous);
  }

  /**
   * New principals (reload). Connected clients keep their session; their publishes and new
   * subscriptions are checked against the permits their username has now, and a username no
   * longer configured is permitted nothing.
   */
  replace(principals: readonly Principal[], anonymous?: AnonymousSection): void {
    const byName = new Map<string, Principal>();
    for (const p of principals) byName.set(p.username, p);
    this.byName = byName;
    this.open = principals.length === 0 && anonymous === undefined;
    this.anonymousPrincipal = anonymous
      ? { username: ANONYMOUS, permissions: anonymous.permissions.map((p) => ({ ...p, permit: [...p.permit] })) }
      : undefined;
  }

  /**
   * `certCommonName` must come from a client certificate the TLS layer verified against
   * `certificate.ca`; the caller guarantees that. Returns undefined when refused.
   */
  authenticate(
    username: string | undefined,
    password: Buffer | undefined,
    certCommonName: string | undefined,
  ): Principal | undefined {
    const step = this.lookup(username, password, certCommonName);
    if (step.kind !== 'password') return step.principal;
    return verifyPassword(step.stored, step.given) ? step.principal : undefined;
  }

  /** Same decision as authenticate(), without blocking the event loop on scrypt. */
  async authenticateAsync(
    username: string | undefined,
    password: Buffer | undefined,
    certCommonName: string | undefined,
  ): Promise<Principal | undefined> {
    const step = this.lookup(username, password, certCommonName);
    if (step.kind !== 'password') return step.principal;
    return (await verifyPasswordAsync(step.stored, step.given)) ? step.principal : undefined;
  }

  canPublish(principal: Principal, topic: string): boolean {
    if (this.open) return true;
    const now = this.current(principal);
    if (denies(now, 'pub').some((deny) => topicMatches(deny, topic))) return false;
    return permits(now, 'pub').some((permit) => topicMatches(permit, topic));
  }

  canSubscribe(principal: Principal, filter: string): boolean {
    if (this.open) return true;
    const now = this.current(principal);
    // the filter read as a topic: `deny: [a/b]` refuses `a/b` itself, not `#` or `a/+` (dynsec's subscribePattern)
    if (denies(now, 'sub').some((deny) => topicMatches(deny, filter))) return false;
    return permits(now, 'sub').some((permit) => filterCovers(permit, filter));
  }

  /** The principal as configured now (a reload may have changed its permits or removed it). */
  private current(principal: Principal): Principal {
    if (principal === this.anonymousPrincipal) return principal;
    const now = this.byName.get(principal.username);
    if (now === principal) return principal;
    if (now) return now;
    // a client that logged in anonymously: the anonymous section as it is now
    if (principal.username === ANONYMOUS && this.anonymousPrincipal) return this.anonymousPrincipal;
    return NO_PERMITS;
  }

  private lookup(
    username: string | undefined,
    password: Buffer | undefined,
    cn: string | undefined,
  ):
    | { kind: 'done'; principal: Principal | undefined }
    | { kind: 'password'; principal: Principal; stored: string; given: Buffer } {
    if (this.open) {
      return { kind: 'done', principal: everythingPrincipal(username || cn || '') };
    }
    // A verified certificate naming a certificate principal logs in as it whatever the
    // MQTT username says (Baidu IoTHub sends `endpoint/thing`; Mosquitto's
    // use_identity_as_username does the same).
    const byCertificate = cn ? this.byName.get(cn) : undefined;
    if (byCertificate && !byCertificate.password) return { kind: 'done', principal: byCertificate };
    // An empty username with a certificate: the certificate names the principal (Baetyl).
    const name = username || cn;
    // No username, and no certificate naming a principal: the anonymous principal if there is one
    // (a username that names nobody is still refused, as Mosquitto does with a password file).
    if (!username && (!cn || !this.byName.has(cn))) return { kind: 'done', principal: this.anonymousPrincipal };
    const principal = name ? this.byName.get(name) : undefined;
    if (!principal) return { kind: 'done', principal: undefined };
    if (principal.password === undefined || principal.password === '') {
      // Certificate login: only a verified certificate naming this very principal.
      return { kind: 'done', principal: cn !== undefined && cn === principal.username ? principal : undefined };
    }
    // A certificate never stands in for a password principal's password.
    if (!username || password === undefined || password.length === 0) return { kind: 'done', principal: undefined };
    return { kind: 'password', principal, stored: principal.password, given: password };
  }
}

function permits(principal: Principal, action: 'pub' | 'sub'): string[] {
  const out: string[] = [];
  for (const p of principal.permissions) if (p.action === action) out.push(...p.permit);
  return out;
}

function denies(principal: Principal, action: 'pub' | 'sub'): string[] {
  const out: string[] = [];
  for (const p of principal.permissions) if (p.action === action && p.deny) out.push(...p.deny);
  return out;
}

const ANONYMOUS = 'anonymous';
const NO_PERMITS: Principal = { username: '', permissions: [] };

type AnonymousSection = { readonly permissions: readonly Permission[] };

function everythingPrincipal(username: string): Principal {
  return {
    username: username || ANONYMOUS,
    permissions: [
      { action: 'pub', permit: ['#'] },
      { action: 'sub', permit: ['#'] },
    ],
  };
}

/**
 * Does subscribe permit `permit` allow the subscription `filter`? Yes when every topic
 * `filter` can match is also matched by `permit` (so `a/#` covers `a/+/c`, `+` does not
 * cover `#`). Both are valid filters (the config schema and the SUBSCRIBE decoder checked them).
 */
export function filterCovers(permit: string, filter: string): boolean {
  if (permit === filter) return true;
  // [MQTT-4.7.2-1]: a filter starting with a wildcard never matches `$` topics, so such a
  // permit grants nothing under `$SYS/...` and the like.
  const p0 = permit.charCodeAt(0);
  if (filter.charCodeAt(0) === 36 /* $ */ && (p0 === 35 /* # */ || p0 === 43) /* + */) return false;
  const p = permit.split('/');
  const f = filter.split('/');
  for (let i = 0; i < p.length; i++) {
    const pl = p[i] as string;
    // `#` matches the parent level and everything below [MQTT-4.7.1-2]
    if (pl === '#') return true;
    const fl = f[i];
    if (fl === undefined || fl === '#') return false;
    if (pl === '+') continue; // covers one literal level or `+`
    if (fl !== pl) return false; // literal: `+` in the filter is wider than one literal
  }
  return f.length === p.length;
}
