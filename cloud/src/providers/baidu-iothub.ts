import { type BundleEndpoint, expandPolicy, TetherError } from '@tether/shared';
import { RequestError, runStep } from '../core/errors.js';
import { type BaiduOperation, baiduPermissions } from '../core/policy-map.js';
import { BaiduApi, type BaiduApiOptions } from './baidu-api.js';
import type {
  IssuedCertificate,
  Plan,
  PlanStep,
  Provider,
  Provisioned,
  ProvisionRequest,
  RevokeResult,
  ThingDescription,
} from './provider.js';

export interface BaiduIotHubProviderOptions extends BaiduApiOptions {
  /** The IoTHub endpoint (project) the things live in; created when missing. */
  readonly endpointName: string;
  /** `password` (default): Baidu returns a password once; `certificate`: Baidu makes a key and certificate. */
  readonly auth?: 'password' | 'certificate' | undefined;
}

interface EndpointAnswer {
  mqttTlsHostname?: string;
  hostname?: string;
}
interface ListAnswer {
  result?: Record<string, unknown>[];
}
interface PrincipalAnswer {
  password?: string;
  cert?: string;
  certificate?: string;
  certificateContent?: string;
  privateKey?: string;
  /** The CA of Baidu's client certificates (certificate principals), PEM: the bundle's ca.pem. */
  clientCertCA?: string;
}

/** MQTT over TLS on Baidu IoTHub. */
const TLS_PORT = 1884;

/** IotHubClient's default endpoint (bce-sdk-java): the API lives in the region it serves. */
const IOTHUB_API_URL = 'https://iot.gz.baidubce.com';

/**
 * Baidu IoTHub, by its REST API: endpoint (project), thing (user), principal (identity, with a password
 * or a certificate), policy with one permission per topic, and the two attach actions. Baidu has no
 * policy variables, so each thing gets its own policy (`tether-<thing>`) with its expanded topics.
 * Baidu's deprecated service: new fleets use IoT Core (./baidu-iotcore.ts).
 */
export class BaiduIotHubProvider implements Provider {
  readonly name = 'baidu-iothub' as const;
  private readonly api: BaiduApi;
  private readonly ep: string;

  constructor(private readonly options: BaiduIotHubProviderOptions) {
    this.api = new BaiduApi(options, IOTHUB_API_URL);
    this.ep = options.endpointName;
  }

  async plan(request: ProvisionRequest): Promise<Plan> {
    if (request.csrPem !== undefined) {
      throw new RequestError(['csr: baidu-iothub makes its own keys and certificates; it does not sign a CSR']);
    }
    const { thing } = request;
    const names = this.names(thing);
    const endpoint = await this.get<EndpointAnswer>('QueryEndpoint', thing, `/v1/endpoint/${this.ep}`);
    const found = async (step: string, path: string) => (endpoint ? await this.get(step, thing, path) : undefined);
    const thingFound = await found('QueryThing', `${this.base}/thing/${thing}`);
    const principalFound = await found('QueryPrincipal', `${this.base}/principal/${names.principal}`);
    const policyFound = await found('QueryPolicy', `${this.base}/policy/${names.policy}`);
    const existing = policyFound ? await this.permissions(thing, names.policy) : [];
    const thingAttached =
      thingFound &&
      principalFound &&
      (await this.listed('ListPrincipals', thing, 'principal', { thingName: thing }, names.principal));
    const policyAttached =
      principalFound &&
      policyFound &&
      (await this.listed('ListPolicy', thing, 'policy', { principalName: names.principal }, names.policy));
    const wanted = baiduPermissions(expandPolicy(request.policy, thing));
    const complete = principalFound !== undefined && thingAttached === true && policyAttached === true;
    // a principal left by an interrupted run never delivered its password: apply makes a new one
    const principalAction = principalFound ? (complete ? 'exists' : 'rotate') : 'create';
    const steps: PlanStep[] = [
      step('endpoint', 'POST /v1/endpoint', endpoint ? 'exists' : 'create', this.ep),
      step('thing', `POST ${this.base}/thing`, thingFound ? 'exists' : 'create', thing),
      step('policy', `POST ${this.base}/policy`, policyFound ? 'exists' : 'create', names.policy),
      ...wanted.map((p) =>
        step(
          'permission',
          `POST ${this.base}/permission`,
          existing.some((e) => e.topic === p.topic && sameOps(e.operations, p.operations)) ? 'exists' : 'create',
          `${p.operations.join('+')} ${p.topic}`,
        ),
      ),
      // the last creation: Baidu shows a password once, so little should be able to fail after it
      step('principal', `POST ${this.base}/principal`, principalAction, `${names.principal} (${this.auth})`),
      step(
        'attach-thing',
        'POST /v1/action/attach-thing-principal',
        thingAttached ? 'exists' : 'create',
        `${thing} ↔ ${names.principal}`,
      ),
      step(
        'attach-policy',
        'POST /v1/action/attach-principal-policy',
        policyAttached ? 'exists' : 'create',
        `${names.principal} ↔ ${names.policy}`,
      ),
    ];
    return {
      provider: this.name,
      request,
      steps,
      exists: complete,
      state: { endpoint: endpoint ? this.mqttEndpoint(endpoint) : undefined },
    };
  }

  async apply(plan: Plan): Promise<Provisioned> {
    const { thing } = plan.request;
    if (plan.exists) throw exists(thing);
    const names = this.names(thing);
    const todo = (id: string, detail?: string) =>
      plan.steps.some((s) => s.id === id && s.action === 'create' && (detail === undefined || s.detail === detail));
    const body = { endpointName: this.ep };
    let endpoint = plan.state.endpoint as BundleEndpoint | undefined;
    if (todo('endpoint')) {
      const created = await this.post<EndpointAnswer>('CreateEndpoint', thing, '/v1/endpoint', body);
      endpoint = this.mqttEndpoint(created ?? {});
    }
    if (todo('thing')) await this.post('CreateThing', thing, `${this.base}/thing`, { ...body, thingName: thing });
    if (todo('policy'))
      await this.post('CreatePolicy', thing, `${this.base}/policy`, { ...body, policyName: names.policy });
    for (const p of baiduPermissions(expandPolicy(plan.request.policy, thing))) {
      if (!todo('permission', `${p.operations.join('+')} ${p.topic}`)) continue;
      await this.post('CreatePermission', thing, `${this.base}/permission`, {
        ...body,
        policyName: names.policy,
        ...p,
      });
    }
    const principal = todo('principal')
      ? await this.post<PrincipalAnswer>(
          'CreatePrincipal',
          thing,
          `${this.base}/principal`,
          { ...body, principalName: names.principal },
          this.auth === 'certificate' ? { withCert: 'true' } : undefined,
        )
      : await this.renew(thing, names.principal);
    if (todo('attach-thing')) {
      const attach = { ...body, thingName: thing, principalName: names.principal };
      await this.post('AttachThingToPrincipal', thing, '/v1/action/attach-thing-principal', attach);
    }
    if (todo('attach-policy')) {
      const attach = { ...body, principalName: names.principal, policyName: names.policy };
      await this.post('AttachPrincipalToPolicy', thing, '/v1/action/attach-principal-policy', attach);
    }
    return this.provisioned(thing, endpoint ?? this.mqttEndpoint({}), principal ?? {}, plan.steps, 'CreatePrincipal');
  }

  async rotate(request: ProvisionRequest): Promise<Provisioned> {
    const plan = await this.plan(request);
    if (!plan.exists) return this.apply(plan);
    const { thing } = request;
    const { principal } = this.names(thing);
    const answer = await this.renew(thing, principal);
    const endpoint = (plan.state.endpoint as BundleEndpoint | undefined) ?? this.mqttEndpoint({});
    const steps = [step('principal', `POST ${this.base}/principal/${principal}`, 'rotate', this.auth)];
    return this.provisioned(thing, endpoint, answer ?? {}, steps, 'RegeneratePassword');
  }

  /** A new password (or certificate) for an existing principal; the old one stops working. */
  private renew(thing: string, principal: string): Promise<PrincipalAnswer | undefined> {
    const path = `${this.base}/principal/${principal}`;
    const body = { endpointName: this.ep, principalName: principal };
    return this.auth === 'certificate'
      ? this.post<PrincipalAnswer>('RenewCertificate', thing, `${path}/cert/renew-certificate`, body)
      : this.post<PrincipalAnswer>('RegeneratePassword', thing, path, body);
  }

  async revoke(thing: string): Promise<RevokeResult> {
    const { principal } = this.names(thing);
    const found = await this.get('QueryPrincipal', thing, `${this.base}/principal/${principal}`);
    if (!found) return { thing, revoked: [], steps: [step('principal', 'DELETE principal', 'exists', 'none')] };
    if (await this.get('QueryThing', thing, `${this.base}/thing/${thing}`)) {
      await this.post('RemoveThingToPrincipal', thing, '/v1/action/remove-thing-principal', {
        endpointName: this.ep,
        thingName: thing,
        principalName: principal,
      });
    }
    await this.step('DeletePrincipal', thing, () => this.api.call('DELETE', `${this.base}/principal/${principal}`));
    return {
      thing,
      revoked: [principal],
      steps: [step('principal', `DELETE ${this.base}/principal/${principal}`, 'revoke', '')],
    };
  }

  async describe(thing: string): Promise<ThingDescription> {
    const names = this.names(thing);
    const endpoint = await this.get<EndpointAnswer>('QueryEndpoint', thing, `/v1/endpoint/${this.ep}`);
    const thingFound = endpoint ? await this.get('QueryThing', thing, `${this.base}/thing/${thing}`) : undefined;
    const principal = endpoint
      ? await this.get('QueryPrincipal', thing, `${this.base}/principal/${names.principal}`)
      : undefined;
    return {
      provider: this.name,
      thing,
      exists: thingFound !== undefined,
      endpoint: endpoint ? this.mqttEndpoint(endpoint) : undefined,
      credentials: principal ? [{ id: names.principal, status: 'active' }] : [],
      policies: principal
        ? (await this.permissions(thing, names.policy)).map((p) => `${p.operations.join('+')} ${p.topic}`)
        : [],
    };
  }

  private get base(): string {
    return `/v1/endpoint/${this.ep}`;
  }

  private get auth(): 'password' | 'certificate' {
    return this.options.auth ?? 'password';
  }

  private names(thing: string): { principal: string; policy: string } {
    return { principal: `tether-${thing}`, policy: `tether-${thing}` };
  }

  /** `mqttTlsHostname` (or `hostname`) in whatever form it comes; without an answer, Baidu's naming rule. */
  private mqttEndpoint(answer: EndpointAnswer): BundleEndpoint {
    const given = answer.mqttTlsHostname ?? answer.hostname;
    // the region of the API host (`iot.<region>.baidubce.com`) when the answer names no MQTT host
    const region = /^iot\.([a-z0-9-]+)\.baidubce\.com$/.exec(this.api.hostname)?.[1] ?? 'gz';
    return parseBaiduHostname(given ?? `${this.ep}.mqtt.iot.${region}.baidubce.com`, TLS_PORT);
  }

  private provisioned(
    thing: string,
    endpoint: BundleEndpoint,
    answer: PrincipalAnswer,
    steps: readonly PlanStep[],
    call: string,
  ): Provisioned {
    const username = `${this.ep}/${thing}`;
    let certificate: IssuedCertificate | undefined;
    if (this.auth === 'certificate') {
      const certPem = answer.certificate ?? answer.cert ?? answer.certificateContent;
      if (!certPem || !answer.privateKey) throw missing(call, thing, 'certificate and privateKey');
      certificate = { id: this.names(thing).principal, certPem, keyPem: answer.privateKey };
    } else if (!answer.password) {
      throw missing(call, thing, 'password');
    }
    return {
      provider: this.name,
      thing,
      endpoint,
      clientId: thing,
      username,
      password: this.auth === 'password' ? answer.password : undefined,
      // dropped before: without it the bridge trusts only the system's roots
      ...(answer.clientCertCA ? { caPem: answer.clientCertCA } : {}),
      certificate,
      keyOnDevice: false,
      steps,
    };
  }

  private async permissions(thing: string, policy: string): Promise<{ topic: string; operations: BaiduOperation[] }[]> {
    const answer = await this.get<ListAnswer>('ListPermission', thing, `${this.base}/permission`, {
      policyName: policy,
    });
    return (answer?.result ?? []).map((p) => ({
      topic: String(p.topic ?? ''),
      operations: (Array.isArray(p.operations) ? p.operations : []) as BaiduOperation[],
    }));
  }

  private async listed(
    call: string,
    thing: string,
    kind: 'principal' | 'policy',
    query: Record<string, string>,
    name: string,
  ): Promise<boolean> {
    const answer = await this.get<ListAnswer>(call, thing, `${this.base}/${kind}`, query);
    return (answer?.result ?? []).some((item) => item[`${kind}Name`] === name || item.name === name);
  }

  private get<T = unknown>(
    call: string,
    thing: string,
    path: string,
    query?: Record<string, string>,
  ): Promise<T | undefined> {
    return this.step(call, thing, () => this.api.call<T>('GET', path, query ? { query } : {}));
  }

  private post<T = unknown>(
    call: string,
    thing: string,
    path: string,
    body: unknown,
    query?: Record<string, string>,
  ): Promise<T | undefined> {
    return this.step(call, thing, () => this.api.call<T>('POST', path, { body, ...(query ? { query } : {}) }));
  }

  private step<T>(call: string, thing: string, fn: () => Promise<T>): Promise<T> {
    return runStep(this.name, call, thing, fn);
  }
}

function step(id: string, call: string, action: PlanStep['action'], detail: string): PlanStep {
  return { id, call, action, detail };
}

function sameOps(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((op) => b.includes(op));
}

function exists(thing: string): TetherError {
  return new TetherError(
    'TETHER_ERR_EXISTS',
    `thing ${thing} already has a principal; rotate to issue new credentials`,
  );
}

function missing(call: string, thing: string, what: string): TetherError {
  return new TetherError(
    'TETHER_ERR_PROVISION',
    `baidu-iothub: step ${call} failed for thing ${thing}: the answer has no ${what}`,
  );
}

/**
 * Baidu's MQTT host as its API answers it: `HOST`, `HOST:PORT`, or with a scheme (`ssl://HOST:1884`,
 * `tcp://…`) and a trailing slash. The TLS port when none is given.
 */
export function parseBaiduHostname(text: string, defaultPort: number): BundleEndpoint {
  const bare = text
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '');
  const m = /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/i.exec(bare);
  const host = (m?.[1] ?? bare).replace(/^\[|\]$/g, '');
  const port = m?.[2] ? Number(m[2]) : defaultPort;
  return { host, port: port >= 1 && port <= 65535 ? port : defaultPort, protocol: 'mqtts' };
}
