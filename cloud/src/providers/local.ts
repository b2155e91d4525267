import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issueCertificate, issueCertificateForKey } from '@tether/node-shared/pki';
import { type BundleEndpoint, expandPolicy, TetherError } from '@tether/shared';
import { certificateSummary } from '../core/bundle.js';
import { RequestError } from '../core/errors.js';
import { checkCsr } from '../pki/csr.js';
import { KIT_FILES, type KitOptions, loadOrCreateCa, writeKit } from './local-kit.js';
import { type IssuedRecord, LocalRegistry, type Registry } from './local-registry.js';
import type {
  Plan,
  PlanStep,
  Provider,
  Provisioned,
  ProvisionRequest,
  RevokeResult,
  ThingDescription,
} from './provider.js';

export interface LocalProviderOptions extends KitOptions {
  /** Where the CA, the registry and the broker kit live (created on first use, mode 0700). */
  readonly caDir: string;
  /** The broker's address as things see it; needed on first use, remembered in the registry. */
  readonly endpoint?: BundleEndpoint | undefined;
  /** Client certificate validity. Default 365 days. */
  readonly certificateDays?: number | undefined;
}

type IssueMode = 'new' | 'rotate';

/**
 * A self-hosted broker (Mosquitto) as the cloud: a CA in `caDir` signs one client certificate per
 * thing (ECDSA P-256, clientAuth, CN = client id = thing name), and the broker kit beside it is
 * re-written after every change (ACL from the policies, CRL from the revocations).
 */
export class LocalProvider implements Provider {
  readonly name = 'local' as const;
  private readonly caDir: string;
  private readonly registry: LocalRegistry;

  constructor(private readonly options: LocalProviderOptions) {
    this.caDir = resolve(options.caDir);
    // mosquitto.conf takes a path up to the first blank: a CA dir with one could not be run as is
    if (/\s/.test(this.caDir)) throw new RequestError([`ca-dir: the path must not contain blanks (${this.caDir})`]);
    this.registry = new LocalRegistry(this.caDir);
  }

  async plan(request: ProvisionRequest): Promise<Plan> {
    const registry = await this.registry.read();
    const endpoint = this.endpointFor(registry);
    const existing = registry.things[request.thing];
    const topics = expandPolicy(request.policy, request.thing);
    const hasCa = existsSync(join(this.caDir, KIT_FILES.ca));
    const steps: PlanStep[] = [
      step('ca', `CA in ${this.caDir}`, hasCa ? 'exists' : 'create', 'ECDSA P-256 fleet CA'),
      step(
        'certificate',
        request.csrPem ? 'sign the device CSR' : 'issue key and certificate',
        existing ? 'exists' : 'create',
        existing ? `serial ${existing.serial}` : `CN=${request.thing}, clientAuth, ECDSA P-256`,
      ),
      step('acl', `user ${request.thing} in ${KIT_FILES.acl}`, existing ? 'exists' : 'create', describeTopics(topics)),
      step('kit', `${KIT_FILES.conf}, ${KIT_FILES.crl}`, 'update', `mutual TLS on ${endpoint.host}:${endpoint.port}`),
    ];
    return { provider: this.name, request, steps, exists: existing !== undefined, state: { endpoint } };
  }

  /** Issues the certificate; a thing that has one is refused (TETHER_ERR_EXISTS): rotate replaces it. */
  apply(plan: Plan): Promise<Provisioned> {
    return this.issue(plan.request, 'new');
  }

  rotate(request: ProvisionRequest): Promise<Provisioned> {
    return this.issue(request, 'rotate');
  }

  async describe(thing: string): Promise<ThingDescription> {
    const registry = await this.registry.read();
    const current = registry.things[thing];
    return {
      provider: this.name,
      thing,
      exists: current !== undefined,
      endpoint: registry.endpoint,
      credentials: [
        ...(current ? [{ id: current.serial, status: 'active' }] : []),
        ...registry.revoked.filter((r) => r.thing === thing).map((r) => ({ id: r.serial, status: 'revoked' })),
      ],
      policies: current ? [`acl: ${describeTopics(current.topics)}`] : [],
    };
  }

  /** A re-run for a thing that exists still applies --broker-user: the kit is written again with it. */
  async update(_plan: Plan): Promise<readonly PlanStep[]> {
    const user = this.options.brokerUser;
    if (user === undefined) return [];
    return this.registry.update(async (registry) => {
      if (registry.brokerUser === user) return [];
      registry.brokerUser = user;
      await writeKit(this.caDir, await loadOrCreateCa(this.caDir), registry);
      return [step('broker-user', `user ${user} in ${KIT_FILES.conf}`, 'update', 'Mosquitto drops to this user')];
    });
  }

  revoke(thing: string): Promise<RevokeResult> {
    return this.registry.update(async (registry) => {
      const current = registry.things[thing];
      if (!current)
        return { thing, revoked: [], steps: [step('certificate', 'revoke', 'exists', 'no active certificate')] };
      registry.revoked.push({ serial: current.serial, thing, revokedAt: new Date().toISOString() });
      delete registry.things[thing];
      await writeKit(this.caDir, await loadOrCreateCa(this.caDir), registry);
      return {
        thing,
        revoked: [current.serial],
        steps: [
          step(
            'certificate',
            `add serial ${current.serial} to ${KIT_FILES.crl}`,
            'revoke',
            'reload Mosquitto (SIGHUP)',
          ),
          step('acl', `remove user ${thing} from ${KIT_FILES.acl}`, 'revoke', ''),
        ],
      };
    });
  }

  private async issue(request: ProvisionRequest, mode: IssueMode): Promise<Provisioned> {
    const csr = request.csrPem === undefined ? undefined : await checkCsr(request.csrPem);
    if (typeof csr === 'string') throw new RequestError([`csr: ${csr}`]);
    return this.registry.update(async (registry) => {
      const endpoint = this.endpointFor(registry);
      registry.endpoint = endpoint;
      if (this.options.brokerUser !== undefined) registry.brokerUser = this.options.brokerUser;
      const previous = registry.things[request.thing];
      if (previous && mode === 'new') {
        throw new TetherError(
          'TETHER_ERR_EXISTS',
          `thing ${request.thing} already has a certificate (serial ${previous.serial})`,
        );
      }
      const ca = await loadOrCreateCa(this.caDir);
      const certOptions = {
        commonName: request.thing,
        usage: 'client' as const,
        dnsNames: [],
        ipAddresses: [],
        days: this.options.certificateDays ?? 365,
      };
      const issued = csr
        ? { certPem: await issueCertificateForKey(ca, csr.publicKey, certOptions), keyPem: undefined }
        : await issueCertificate(ca, certOptions);
      const summary = certificateSummary('', issued.certPem);
      const record: IssuedRecord = {
        serial: serialOf(issued.certPem),
        certPem: issued.certPem,
        sha256: summary.sha256,
        notAfter: summary.notAfter,
        issuedAt: new Date().toISOString(),
        keyOnDevice: csr !== undefined,
        topics: expandPolicy(request.policy, request.thing),
      };
      if (previous)
        registry.revoked.push({ serial: previous.serial, thing: request.thing, revokedAt: record.issuedAt });
      registry.things[request.thing] = record;
      await writeKit(this.caDir, ca, registry);
      const steps = [
        step(
          'certificate',
          csr ? 'sign the device CSR' : 'issue key and certificate',
          mode === 'new' ? 'create' : 'rotate',
          `serial ${record.serial}`,
        ),
        ...(previous ? [step('revoke', `add serial ${previous.serial} to ${KIT_FILES.crl}`, 'revoke', '')] : []),
        step('kit', `${KIT_FILES.acl}, ${KIT_FILES.crl}, ${KIT_FILES.conf}`, 'update', 'reload Mosquitto (SIGHUP)'),
      ];
      return {
        provider: this.name,
        thing: request.thing,
        endpoint,
        clientId: request.thing,
        username: request.thing,
        caPem: ca.certPem,
        certificate: { id: record.serial, certPem: record.certPem, keyPem: issued.keyPem },
        keyOnDevice: record.keyOnDevice,
        steps,
      };
    });
  }

  private endpointFor(registry: Registry): BundleEndpoint {
    const endpoint = this.options.endpoint ?? registry.endpoint;
    if (!endpoint) {
      throw new RequestError([
        `endpoint: the local provider needs --endpoint mqtts://HOST:PORT on first use of ${this.caDir}`,
      ]);
    }
    return endpoint;
  }
}

function step(id: string, call: string, action: PlanStep['action'], detail: string): PlanStep {
  return { id, call, action, detail };
}

function describeTopics(topics: { publish: readonly string[]; subscribe: readonly string[] }): string {
  return `pub [${topics.publish.join(', ')}] sub [${topics.subscribe.join(', ')}]`;
}

function serialOf(certPem: string): string {
  return new X509Certificate(certPem).serialNumber.toLowerCase();
}
