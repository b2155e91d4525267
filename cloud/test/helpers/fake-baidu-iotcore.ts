import { randomBytes } from 'node:crypto';
import { checkBceSignature } from './bce-auth-check.js';
import { type FakeAnswer, HttpRecorder, type RecordedRequest } from './http-recorder.js';

export interface FakeTemplate {
  readonly id: string;
  readonly name: string;
  readonly policies: { id: string; topicFilter: string; permission: string }[];
}

export interface FakeDevice {
  readonly name: string;
  readonly templateId: string;
  readonly authType: 'SIGNATURE' | 'CERTIFICATE';
  secretKey?: string;
  clientCert?: string;
}

/** What Baidu documents and IoTCoreClient checks; a request outside it is a 400 here, as a test should see. */
const DEVICE_NAME = /^[A-Za-z0-9_-]{1,40}$/;
const TOPICS_PER_TEMPLATE = 12;

/**
 * Baidu IoT Core's v1 API as provisioning uses it (the paths and bodies of bce-sdk-java's
 * IoTCoreClient), on a local port, for one instance. Every request must be signed (bce-auth-v1,
 * ./bce-auth-check.ts). Templates are listed a page at a time, as the real one pages them.
 */
export class FakeBaiduIotCore {
  readonly recorder: HttpRecorder;
  readonly templates = new Map<string, FakeTemplate>();
  readonly devices = new Map<string, FakeDevice>();
  /** `METHOD path` → [status, code, message] */
  failures = new Map<string, [number, string, string]>();
  badSignatures = 0;
  /** What a CERTIFICATE device gets (Baidu makes the key itself). */
  certificate: { clientCert: string; privateKey: string } | undefined;

  constructor(readonly iotCoreId = 'tethercore') {
    this.recorder = new HttpRecorder((r) => this.answer(r));
  }

  start(): Promise<string> {
    return this.recorder.start();
  }

  stop(): Promise<void> {
    return this.recorder.stop();
  }

  /** A template made elsewhere (the console, another tool). */
  addTemplate(name: string): FakeTemplate {
    const template = { id: randomBytes(4).toString('hex'), name, policies: [] };
    this.templates.set(template.id, template);
    return template;
  }

  private answer(r: RecordedRequest): FakeAnswer {
    const problem = checkBceSignature(r);
    if (problem) {
      this.badSignatures++;
      return { status: 401, body: { code: 'AccessDenied', message: problem } };
    }
    const failure = this.failures.get(`${r.method} ${r.path}`);
    if (failure) return { status: failure[0], body: { code: failure[1], message: failure[2], requestId: 'test' } };
    const [, v1, iotcore, id, kind, ...rest] = r.path.split('/');
    if (v1 !== 'v1' || iotcore !== 'iotcore') return bad(`fake IoT Core does not know ${r.path}`);
    if (id !== this.iotCoreId) return notFound(`iotcore ${id}`);
    const body = r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
    if (kind === 'template') return this.template(r, rest, body);
    if (kind === 'device') return this.device(r, rest, body);
    return bad(`fake IoT Core does not know ${r.method} ${r.path}`);
  }

  private template(r: RecordedRequest, rest: string[], body: Record<string, unknown>): FakeAnswer {
    const [templateId, sub] = rest;
    if (r.method === 'POST' && templateId === undefined) {
      const template = this.addTemplate(String(body.name));
      return ok({ id: template.id, name: template.name, createTs: Date.now() });
    }
    if (r.method === 'GET' && templateId === 'list') {
      const pageNo = Number(r.query.pageNo);
      const pageSize = Number(r.query.pageSize);
      if (!(pageNo >= 1) || !(pageSize > 0 && pageSize < 200)) return bad('Illegal page no or page size');
      const all = [...this.templates.values()];
      const data = all
        .slice((pageNo - 1) * pageSize, pageNo * pageSize)
        .map((t) => ({ templateId: t.id, name: t.name, createTs: 0 }));
      return ok({ data, total: all.length, pageNo, pageSize, order: 'desc', orderBy: 'createTime' });
    }
    const template = this.templates.get(String(templateId));
    if (!template) return notFound(`template ${templateId}`);
    if (r.method === 'GET' && sub === undefined) {
      return ok({ templateId: template.id, name: template.name, createTs: 0, policies: template.policies });
    }
    if (r.method === 'POST' && sub === 'policy') {
      if (!['PUB', 'SUB', 'ALL'].includes(String(body.permission))) return bad(`permission ${body.permission}`);
      if (typeof body.topicFilter !== 'string' || body.topicFilter === '') return bad('topicFilter is required');
      if (template.policies.length >= TOPICS_PER_TEMPLATE) return bad('a template holds at most 12 topics');
      const policy = { id: randomBytes(4).toString('hex'), topicFilter: body.topicFilter, permission: body.permission };
      template.policies.push(policy as FakeTemplate['policies'][number]);
      return ok({ policyId: policy.id, createTs: Date.now() });
    }
    return bad(`fake IoT Core does not know ${r.method} ${r.path}`);
  }

  private device(r: RecordedRequest, rest: string[], body: Record<string, unknown>): FakeAnswer {
    const [name, sub] = rest;
    if (r.method === 'POST' && name === 'new') {
      const deviceName = String(body.name);
      if (!DEVICE_NAME.test(deviceName)) return bad(`invalid device name ${deviceName}`);
      if (this.devices.has(deviceName)) return { status: 409, body: { code: 'DeviceExists', message: deviceName } };
      if (!this.templates.has(String(body.templateId))) return bad(`no template ${body.templateId}`);
      const authType = body.authType === 'CERTIFICATE' ? 'CERTIFICATE' : 'SIGNATURE';
      const device: FakeDevice = { name: deviceName, templateId: String(body.templateId), authType };
      this.devices.set(deviceName, device);
      return { status: 201, body: { name: deviceName, createTs: Date.now(), authType, ...this.issue(device) } };
    }
    const device = this.devices.get(String(name));
    if (!device) return notFound(`device ${name}`);
    if (r.method === 'GET' && sub === undefined) {
      return ok({ name: device.name, authType: device.authType, templateId: device.templateId, createTs: 0 });
    }
    if (r.method === 'PUT' && sub === 'secret') return ok({ authType: device.authType, ...this.issue(device) });
    if (r.method === 'DELETE' && sub === undefined) {
      this.devices.delete(device.name);
      return ok({});
    }
    return bad(`fake IoT Core does not know ${r.method} ${r.path}`);
  }

  /** A new secret, or the configured key and certificate, for a device. */
  private issue(device: FakeDevice): Record<string, string> {
    if (device.authType === 'CERTIFICATE') {
      if (!this.certificate) throw new Error('no certificate set');
      device.clientCert = this.certificate.clientCert;
      return { ...this.certificate };
    }
    device.secretKey = randomBytes(12).toString('base64url');
    return { secretKey: device.secretKey };
  }
}

function ok(body: unknown): FakeAnswer {
  return { status: 200, body };
}

function bad(message: string): FakeAnswer {
  return { status: 400, body: { code: 'InvalidRequest', message, requestId: 'test' } };
}

function notFound(what: string): FakeAnswer {
  return { status: 404, body: { code: 'ResourceNotFound', message: `${what} not found`, requestId: 'test' } };
}
