import {
  BAIDU_IOTCORE_DEFAULT_ALGORITHM,
  BAIDU_IOTCORE_DEVICE_NAME,
  BAIDU_IOTCORE_PORTS,
  type BundleEndpoint,
  baiduIotCoreHost,
  baiduIotCoreLogin,
  TetherError,
} from '@tether/shared';
import { RequestError, runStep } from '../core/errors.js';
import {
  type IotCoreTemplateTopic,
  iotCoreTemplateProblems,
  iotCoreTemplateTopics,
  policyName,
} from '../core/policy-map.js';
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

/**
 * Baidu IoT Core, by its v1 REST API as Baidu's own client calls it (bce-sdk-java
 * `com.baidubce.services.iothub.IoTCoreClient` and its `model/iotcore` classes; the "设备管理" API
 * document, https://cloud.baidu.com/doc/IoTCore/s/6kaw7eova):
 *
 *   POST   /v1/iotcore/{id}/template                   {name} → {id}
 *   GET    /v1/iotcore/{id}/template/list?pageNo&pageSize → {data: [{templateId, name}], total}
 *   GET    /v1/iotcore/{id}/template/{templateId}      → {templateId, name, policies: [{id, topicFilter, permission}]}
 *   POST   /v1/iotcore/{id}/template/{templateId}/policy {topicFilter, permission: PUB|SUB|ALL} → {policyId}
 *   POST   /v1/iotcore/{id}/device/new                 {name, templateId, authType} → 201 {secretKey} or {privateKey, clientCert}
 *   GET    /v1/iotcore/{id}/device/{name}              → {name, authType, templateId}
 *   PUT    /v1/iotcore/{id}/device/{name}/secret       → new {secretKey} or {privateKey, clientCert}
 *   DELETE /v1/iotcore/{id}/device/{name}
 *
 * A device's topic rights are those of its template, which names the device as `{deviceName}`; so
 * one template per policy content (`tether-<hash>`, as for AWS IoT) serves the fleet, and the 20
 * templates an instance may have are not spent one per device.
 */

/** IoTCoreClient's default endpoint: one API host for every region. */
const IOTCORE_API_URL = 'https://iot.baidubce.com';
/** The region Baidu's device SDK and documents default to. */
const DEFAULT_REGION = 'gz';
/** IoTCoreClient checks `pageSize > 0 && pageSize < 200`. */
const PAGE_SIZE = 100;

export type IotCoreAuth = 'signature' | 'certificate';

export interface BaiduIotCoreProviderOptions extends BaiduApiOptions {
  /** The instance (IoT Core ID, in the console): `<id>.iot.<region>.baidubce.com`. */
  readonly iotCoreId: string;
  /** Region of the instance, for the MQTT host (the API host has none). Default `gz`. */
  readonly region?: string | undefined;
  /** `signature` (default): Baidu makes a device secret; `certificate`: Baidu makes a key and certificate. */
  readonly auth?: IotCoreAuth | undefined;
}

interface TemplateAnswer {
  templateId?: string;
  id?: string;
  name?: string;
  policies?: { id?: string; topicFilter?: string; permission?: string }[];
}
interface TemplateList {
  data?: TemplateAnswer[];
  total?: number;
}
interface DeviceAnswer {
  name?: string;
  authType?: string;
  templateId?: string;
}
interface SecretAnswer {
  authType?: string;
  secretKey?: string;
  privateKey?: string;
  clientCert?: string;
}

interface PlanState {
  readonly templateId: string | undefined;
  readonly device: DeviceAnswer | undefined;
}

export class BaiduIotCoreProvider implements Provider {
  readonly name = 'baidu-iotcore' as const;
  private readonly api: BaiduApi;
  private readonly id: string;
  private readonly region: string;

  constructor(private readonly options: BaiduIotCoreProviderOptions) {
    this.api = new BaiduApi(options, IOTCORE_API_URL);
    this.id = options.iotCoreId;
    this.region = options.region ?? DEFAULT_REGION;
  }

  async plan(request: ProvisionRequest): Promise<Plan> {
    const problems = [...thingProblems(request.thing), ...iotCoreTemplateProblems(request.policy)];
    if (request.csrPem !== undefined) {
      problems.push('csr: baidu-iotcore makes its own keys and certificates; it does not sign a CSR');
    }
    if (problems.length > 0) throw new RequestError(problems);
    const { thing } = request;
    const templateName = policyName(request.policy);
    const template = await this.findTemplate(thing, templateName);
    const have = template?.policies ?? [];
    const device = await this.get<DeviceAnswer>('GetDevice', thing, this.devicePath(thing));
    const steps: PlanStep[] = [
      step('template', `POST ${this.base}/template`, template ? 'exists' : 'create', templateName),
      ...iotCoreTemplateTopics(request.policy).map((t) =>
        step(
          'template-policy',
          `POST ${this.base}/template/{templateId}/policy`,
          have.some((h) => h.topicFilter === t.topicFilter && h.permission === t.permission) ? 'exists' : 'create',
          topicDetail(t),
        ),
      ),
      // the last creation: Baidu shows a device's secret once, so nothing should fail after it
      step('device', `POST ${this.base}/device/new`, device ? 'exists' : 'create', `${thing} (${this.authType})`),
    ];
    const state: PlanState = { templateId: template ? templateIdOf(template) : undefined, device };
    return { provider: this.name, request, steps, exists: device !== undefined, state: { ...state } };
  }

  async apply(plan: Plan): Promise<Provisioned> {
    const { thing } = plan.request;
    if (plan.exists) throw exists(thing);
    const todo = (id: string, detail?: string) =>
      plan.steps.some((s) => s.id === id && s.action === 'create' && (detail === undefined || s.detail === detail));
    let templateId = (plan.state as unknown as PlanState).templateId;
    if (todo('template')) {
      const created = await this.call<TemplateAnswer>('CreateTemplate', thing, 'POST', `${this.base}/template`, {
        name: policyName(plan.request.policy),
      });
      templateId = created ? templateIdOf(created) : undefined;
    }
    if (!templateId) throw missing('CreateTemplate', thing, 'id');
    for (const topic of iotCoreTemplateTopics(plan.request.policy)) {
      if (!todo('template-policy', topicDetail(topic))) continue;
      await this.call('AddPolicy', thing, 'POST', `${this.base}/template/${templateId}/policy`, { ...topic });
    }
    const answer = await this.call<SecretAnswer>('CreateDevice', thing, 'POST', `${this.base}/device/new`, {
      name: thing,
      templateId,
      authType: this.authType,
      desc: 'provisioned by tether-cloud',
    });
    return this.provisioned(thing, answer ?? {}, plan.steps, 'CreateDevice');
  }

  async rotate(request: ProvisionRequest): Promise<Provisioned> {
    const plan = await this.plan(request);
    if (!plan.exists) return this.apply(plan);
    const { thing } = request;
    const { templateId, device } = plan.state as unknown as PlanState;
    // Baidu cannot move a device to another template (UpdateDeviceRequest: desc, groupKey, tags)
    if (templateId === undefined || (device?.templateId !== undefined && device.templateId !== templateId)) {
      throw new TetherError(
        'TETHER_ERR_PROVISION',
        `baidu-iotcore: device ${thing} uses template ${device?.templateId ?? '(unknown)'}, not ${policyName(request.policy)} of this policy, and IoT Core cannot move a device to another template: revoke it and provision it again`,
      );
    }
    const path = `${this.devicePath(thing)}/secret`;
    const answer = await this.call<SecretAnswer>('ResetDeviceSecret', thing, 'PUT', path, {});
    const steps = [step('device', `PUT ${this.base}/device/${thing}/secret`, 'rotate', this.authType)];
    return this.provisioned(thing, answer ?? {}, steps, 'ResetDeviceSecret');
  }

  /** The device goes, and with it its secret or certificate: IoT Core has no way to disable one. */
  async revoke(thing: string): Promise<RevokeResult> {
    const path = this.devicePath(thing);
    if (!(await this.get('GetDevice', thing, path))) {
      return { thing, revoked: [], steps: [step('device', `DELETE ${this.base}/device/${thing}`, 'exists', 'none')] };
    }
    await this.call('DeleteDevice', thing, 'DELETE', path);
    return { thing, revoked: [thing], steps: [step('device', `DELETE ${this.base}/device/${thing}`, 'revoke', '')] };
  }

  async describe(thing: string): Promise<ThingDescription> {
    const device = await this.get<DeviceAnswer>('GetDevice', thing, this.devicePath(thing));
    const template = device?.templateId
      ? await this.get<TemplateAnswer>('GetTemplate', thing, `${this.base}/template/${device.templateId}`)
      : undefined;
    return {
      provider: this.name,
      thing,
      exists: device !== undefined,
      endpoint: this.endpoint(),
      credentials: device ? [{ id: thing, status: `active (${device.authType ?? this.authType})` }] : [],
      policies: (template?.policies ?? []).map((p) => `${p.permission ?? '?'} ${p.topicFilter ?? ''}`),
    };
  }

  private get base(): string {
    return `/v1/iotcore/${this.id}`;
  }

  private devicePath(thing: string): string {
    return `${this.base}/device/${thing}`;
  }

  private get authType(): 'SIGNATURE' | 'CERTIFICATE' {
    return this.options.auth === 'certificate' ? 'CERTIFICATE' : 'SIGNATURE';
  }

  private endpoint(): BundleEndpoint {
    return { host: baiduIotCoreHost(this.id, this.region), port: BAIDU_IOTCORE_PORTS.ssl, protocol: 'mqtts' };
  }

  /** The template of this name, with its topics; templates are listed a page at a time. */
  private async findTemplate(thing: string, name: string): Promise<TemplateAnswer | undefined> {
    for (let page = 1; ; page++) {
      const query = { pageNo: String(page), pageSize: String(PAGE_SIZE) };
      const list = await this.get<TemplateList>('GetTemplates', thing, `${this.base}/template/list`, query);
      const items = list?.data ?? [];
      const found = items.find((t) => t.name === name);
      if (found) {
        const id = templateIdOf(found);
        const full = id ? await this.get<TemplateAnswer>('GetTemplate', thing, `${this.base}/template/${id}`) : found;
        return { ...found, ...full };
      }
      if (items.length < PAGE_SIZE || page * PAGE_SIZE >= (list?.total ?? 0)) return undefined;
    }
  }

  private provisioned(thing: string, answer: SecretAnswer, steps: readonly PlanStep[], call: string): Provisioned {
    let certificate: IssuedCertificate | undefined;
    let deviceSecret: string | undefined;
    if (this.authType === 'CERTIFICATE') {
      if (!answer.clientCert || !answer.privateKey) throw missing(call, thing, 'clientCert and privateKey');
      certificate = { id: thing, certPem: answer.clientCert, keyPem: answer.privateKey };
    } else if (answer.secretKey) {
      deviceSecret = answer.secretKey;
    } else {
      throw missing(call, thing, 'secretKey');
    }
    return {
      provider: this.name,
      thing,
      endpoint: this.endpoint(),
      clientId: thing,
      // the signature login's username holds no secret; bundle.json shows it (the password is derived)
      ...(deviceSecret !== undefined
        ? {
            username: baiduIotCoreLogin({
              iotCoreId: this.id,
              deviceKey: thing,
              deviceSecret,
              algorithm: BAIDU_IOTCORE_DEFAULT_ALGORITHM,
            }).username,
          }
        : {}),
      baiduIotCore: { iotCoreId: this.id, region: this.region, deviceSecret },
      certificate,
      keyOnDevice: false,
      steps,
    };
  }

  private get<T = unknown>(
    call: string,
    thing: string,
    path: string,
    query?: Record<string, string>,
  ): Promise<T | undefined> {
    return runStep(this.name, call, thing, () => this.api.call<T>('GET', path, query ? { query } : {}));
  }

  private call<T = unknown>(
    call: string,
    thing: string,
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T | undefined> {
    return runStep(this.name, call, thing, () => this.api.call<T>(method, path, body === undefined ? {} : { body }));
  }
}

/** A thing's name is its IoT Core device name, which is shorter than Tether's. */
function thingProblems(thing: string): string[] {
  return BAIDU_IOTCORE_DEVICE_NAME.test(thing)
    ? []
    : [`thing: "${thing}" is not a Baidu IoT Core device name (1-40 letters, digits, "-" or "_")`];
}

function templateIdOf(template: TemplateAnswer): string | undefined {
  // CreateTemplateResponse calls it `id`, GetTemplateResponse `templateId`
  return template.templateId ?? template.id;
}

function topicDetail(topic: IotCoreTemplateTopic): string {
  return `${topic.permission} ${topic.topicFilter}`;
}

function step(id: string, call: string, action: PlanStep['action'], detail: string): PlanStep {
  return { id, call, action, detail };
}

function exists(thing: string): TetherError {
  return new TetherError('TETHER_ERR_EXISTS', `device ${thing} already exists; rotate to issue new credentials`);
}

function missing(call: string, thing: string, what: string): TetherError {
  return new TetherError(
    'TETHER_ERR_PROVISION',
    `baidu-iotcore: step ${call} failed for thing ${thing}: the answer has no ${what}`,
  );
}
