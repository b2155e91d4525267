import { randomBytes } from 'node:crypto';
import { checkBceSignature } from './bce-auth-check.js';
import { type FakeAnswer, HttpRecorder, type RecordedRequest } from './http-recorder.js';

export { BAIDU_CREDENTIALS } from './bce-auth-check.js';

interface Permission {
  permissionUuid: string;
  policyName: string;
  topic: string;
  operations: string[];
}

/**
 * Baidu IoTHub's v1 API as provisioning uses it, on a local port. It refuses a request whose
 * bce-auth-v1 signature, access key or x-bce-date does not match (./bce-auth-check.ts).
 */
export class FakeBaiduIotHub {
  readonly recorder: HttpRecorder;
  readonly endpoints = new Set<string>();
  readonly things = new Set<string>();
  readonly principals = new Map<string, { password?: string; cert?: string }>();
  readonly policies = new Set<string>();
  readonly permissions: Permission[] = [];
  readonly thingPrincipal = new Map<string, string>();
  readonly principalPolicy = new Map<string, string>();
  /** `METHOD path` → [status, code, message] */
  failures = new Map<string, [number, string, string]>();
  badSignatures = 0;
  /** What a principal made `?withCert=true` gets (Baidu makes the key itself). */
  certificate: { cert: string; privateKey: string; clientCertCA?: string } | undefined;

  constructor() {
    this.recorder = new HttpRecorder((r) => this.answer(r));
  }

  start(): Promise<string> {
    return this.recorder.start();
  }

  stop(): Promise<void> {
    return this.recorder.stop();
  }

  private answer(r: RecordedRequest): FakeAnswer {
    const problem = checkBceSignature(r);
    if (problem) {
      this.badSignatures++;
      return { status: 401, body: { code: 'AccessDenied', message: problem } };
    }
    const key = `${r.method} ${r.path}`;
    const failure = this.failures.get(key);
    if (failure) return { status: failure[0], body: { code: failure[1], message: failure[2], requestId: 'test' } };
    const body = r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
    const parts = r.path.split('/').slice(1); // v1, endpoint, NAME, kind, ID
    if (r.path === '/v1/endpoint' && r.method === 'POST') {
      this.endpoints.add(String(body.endpointName));
      return ok(endpointAnswer(String(body.endpointName)));
    }
    if (r.path.startsWith('/v1/action/')) return this.action(parts[2] ?? '', body);
    const [, , ep = '', kind, id] = parts;
    if (!this.endpoints.has(ep)) return notFound(`endpoint ${ep}`);
    if (kind === undefined) return r.method === 'GET' ? ok(endpointAnswer(ep)) : notFound(r.path);
    if (kind === 'thing') {
      if (r.method === 'GET') return this.things.has(String(id)) ? ok({ thingName: id }) : notFound(`thing ${id}`);
      this.things.add(String(body.thingName));
      return ok({ thingName: body.thingName });
    }
    if (kind === 'principal') {
      if (r.method === 'GET' && id === undefined) {
        const names = [...this.thingPrincipal].filter(([t]) => t === r.query.thingName).map(([, p]) => p);
        return ok({ totalCount: names.length, result: names.map((principalName) => ({ principalName })) });
      }
      if (r.method === 'GET')
        return this.principals.has(String(id)) ? ok({ principalName: id }) : notFound(`principal ${id}`);
      if (r.method === 'DELETE') {
        this.principals.delete(String(id));
        return ok({});
      }
      if (id !== undefined) {
        // POST …/principal/{name}: regenerate the password
        const password = randomBytes(12).toString('base64url');
        this.principals.set(String(id), { password });
        return ok({ principalName: id, password });
      }
      if (r.query.withCert === 'true') {
        if (!this.certificate) return { status: 500, body: { code: 'Test', message: 'no certificate set' } };
        this.principals.set(String(body.principalName), { cert: this.certificate.cert });
        return ok({ principalName: body.principalName, ...this.certificate });
      }
      const password = randomBytes(12).toString('base64url');
      this.principals.set(String(body.principalName), { password });
      return ok({ principalName: body.principalName, password });
    }
    if (kind === 'policy') {
      if (r.method === 'GET' && id === undefined) {
        const names = [...this.principalPolicy].filter(([p]) => p === r.query.principalName).map(([, n]) => n);
        return ok({ totalCount: names.length, result: names.map((policyName) => ({ policyName })) });
      }
      if (r.method === 'GET') return this.policies.has(String(id)) ? ok({ policyName: id }) : notFound(`policy ${id}`);
      this.policies.add(String(body.policyName));
      return ok({ policyName: body.policyName });
    }
    if (kind === 'permission') {
      if (r.method === 'GET') {
        const result = this.permissions.filter((p) => p.policyName === r.query.policyName);
        return ok({ totalCount: result.length, result });
      }
      const permission = {
        permissionUuid: randomBytes(8).toString('hex'),
        ...(body as Omit<Permission, 'permissionUuid'>),
      };
      this.permissions.push(permission);
      return ok(permission);
    }
    return { status: 400, body: { code: 'InvalidRequest', message: `fake IoTHub does not know ${key}` } };
  }

  private action(name: string, body: Record<string, unknown>): FakeAnswer {
    if (name === 'attach-thing-principal') this.thingPrincipal.set(String(body.thingName), String(body.principalName));
    else if (name === 'remove-thing-principal') this.thingPrincipal.delete(String(body.thingName));
    else if (name === 'attach-principal-policy')
      this.principalPolicy.set(String(body.principalName), String(body.policyName));
    else return { status: 400, body: { code: 'InvalidRequest', message: `unknown action ${name}` } };
    return ok({});
  }
}

function endpointAnswer(name: string): Record<string, string> {
  return {
    endpointName: name,
    mqttTlsHostname: `${name}.mqtt.iot.gz.baidubce.com`,
    hostname: `${name}.iot.gz.baidubce.com`,
  };
}

function ok(body: unknown): FakeAnswer {
  return { status: 200, body };
}

function notFound(what: string): FakeAnswer {
  return { status: 404, body: { code: 'ResourceNotFound', message: `${what} not found`, requestId: 'test' } };
}
