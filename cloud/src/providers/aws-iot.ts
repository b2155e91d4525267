import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeletePolicyVersionCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListPolicyVersionsCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { type BundleEndpoint, TetherError } from '@tether/shared';
import { runStep } from '../core/errors.js';
import { type AwsArnScope, arnScope, awsPartition, awsPolicyDocument, policyName } from '../core/policy-map.js';
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

export interface AwsIotProviderOptions {
  /** An IoT client (region and credentials set by the caller: the CLI, the Lambda, a test). */
  readonly client: IoTClient;
  /** MQTT over TLS with a client certificate. Default 8883. */
  readonly port?: number | undefined;
}

interface AwsState {
  endpoint: BundleEndpoint;
  policyName: string;
  /** The document the policy must have (compared with AWS's default version by plan). */
  policyDocument?: string | undefined;
  thingArn?: string | undefined;
  certificateArn?: string | undefined;
}

const MAX_PAGES = 20;
/** AWS IoT keeps at most five versions of a policy (CreatePolicyVersion: "delete an existing version before you create a new one"). */
const MAX_POLICY_VERSIONS = 5;

/**
 * AWS IoT Core: DescribeEndpoint (iot:Data-ATS), CreateThing, CreateCertificateFromCsr (the key stays
 * with the device) or CreateKeysAndCertificate, CreatePolicy (one per policy content, shared by the
 * fleet through `${iot:Connection.Thing.ThingName}`), AttachPolicy, AttachThingPrincipal. Planning
 * reads first, so a re-run creates nothing that exists.
 */
export class AwsIotProvider implements Provider {
  readonly name = 'aws-iot' as const;
  private readonly client: IoTClient;

  constructor(private readonly options: AwsIotProviderOptions) {
    this.client = options.client;
  }

  async plan(request: ProvisionRequest): Promise<Plan> {
    const { thing } = request;
    const endpoint = await this.endpoint(thing);
    const name = policyName(request.policy);
    const thingArn = await this.thingArn(thing);
    const certificateArn = thingArn ? (await this.certificateArns(thing))[0] : undefined;
    const existing = await this.step('GetPolicy', thing, async () => {
      try {
        return await this.client.send(new GetPolicyCommand({ policyName: name }));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
    // the same name is the same filters, not the same document: Tether's mapping changes (a new
    // action such as iot:RetainPublish, the partition); a changed document becomes a new version
    const policyDocument = awsPolicyDocument(
      request.policy,
      await this.arnScope(thingArn ?? existing?.policyArn ?? ''),
    );
    const policyAction =
      existing === undefined ? 'create' : sameDocument(existing.policyDocument, policyDocument) ? 'exists' : 'update';
    const attached = certificateArn ? await this.attachedPolicies(thing, certificateArn) : [];
    const certCall = request.csrPem ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate';
    const steps: PlanStep[] = [
      step('endpoint', 'DescribeEndpoint', 'read', `${endpoint.host}:${endpoint.port} (iot:Data-ATS)`),
      step('thing', 'CreateThing', thingArn ? 'exists' : 'create', thingArn ?? thing),
      step(
        'policy',
        policyAction === 'update' ? 'CreatePolicyVersion' : 'CreatePolicy',
        policyAction,
        policyAction === 'update' ? `${name}: the document changed, new default version` : name,
      ),
      step('certificate', certCall, certificateArn ? 'exists' : 'create', certificateArn ?? 'active, client auth'),
      step('attach-policy', 'AttachPolicy', attached.includes(name) ? 'exists' : 'create', `${name} → certificate`),
      step('attach-thing', 'AttachThingPrincipal', certificateArn ? 'exists' : 'create', `certificate → ${thing}`),
    ];
    const state: AwsState = { endpoint, policyName: name, policyDocument, thingArn, certificateArn };
    return { provider: this.name, request, steps, exists: certificateArn !== undefined, state: { ...state } };
  }

  async apply(plan: Plan): Promise<Provisioned> {
    const state = plan.state as unknown as AwsState;
    const { thing } = plan.request;
    if (plan.exists) {
      throw new TetherError('TETHER_ERR_EXISTS', `thing ${thing} already has a certificate (${state.certificateArn})`);
    }
    const todo = (id: string) => plan.steps.find((s) => s.id === id)?.action === 'create';
    let thingArn = state.thingArn;
    if (todo('thing') || !thingArn) {
      thingArn = await this.step('CreateThing', thing, async () =>
        required((await this.client.send(new CreateThingCommand({ thingName: thing }))).thingArn, 'thingArn'),
      );
    }
    // the policy before the certificate: a failure leaves no unattached certificate (or lost key) behind
    await this.ensurePolicy(plan, thingArn);
    const certificate = await this.createCertificate(plan.request);
    await this.attachOrRollBack(thing, state.policyName, certificate.arn);
    return this.provisioned(plan.request, state.endpoint, certificate, plan.steps);
  }

  async update(plan: Plan): Promise<readonly PlanStep[]> {
    const state = plan.state as unknown as AwsState;
    const policy = plan.steps.find((s) => s.id === 'policy');
    if (policy?.action !== 'update') return [];
    await this.ensurePolicy(plan, state.thingArn ?? '');
    return [policy];
  }

  async rotate(request: ProvisionRequest): Promise<Provisioned> {
    const plan = await this.plan(request);
    if (!plan.exists) return this.apply(plan);
    const state = plan.state as unknown as AwsState;
    const { thing } = request;
    const old = await this.certificateArns(thing);
    await this.ensurePolicy(plan, state.thingArn ?? '');
    const certificate = await this.createCertificate(request);
    await this.attachOrRollBack(thing, state.policyName, certificate.arn);
    for (const arn of old) await this.retire(thing, arn, 'INACTIVE');
    const steps = [
      step(
        'certificate',
        request.csrPem ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate',
        'rotate',
        certificate.arn,
      ),
      ...old.map((arn) => step('retire', 'UpdateCertificate INACTIVE', 'revoke', arn)),
    ];
    return this.provisioned(request, state.endpoint, certificate, steps);
  }

  async revoke(thing: string): Promise<RevokeResult> {
    const arns = (await this.thingArn(thing)) ? await this.certificateArns(thing) : [];
    for (const arn of arns) await this.retire(thing, arn, 'REVOKED');
    return {
      thing,
      revoked: arns,
      steps: arns.map((arn) => step('certificate', 'UpdateCertificate REVOKED', 'revoke', arn)),
    };
  }

  async describe(thing: string): Promise<ThingDescription> {
    const thingArn = await this.thingArn(thing);
    if (!thingArn) return { provider: this.name, thing, exists: false, credentials: [], policies: [] };
    const credentials: { id: string; status: string }[] = [];
    const policies = new Set<string>();
    for (const arn of await this.certificateArns(thing)) {
      const description = await this.step('DescribeCertificate', thing, () =>
        this.client.send(new DescribeCertificateCommand({ certificateId: certificateId(arn) })),
      );
      credentials.push({ id: certificateId(arn), status: description.certificateDescription?.status ?? 'unknown' });
      for (const name of await this.attachedPolicies(thing, arn)) policies.add(name);
    }
    return {
      provider: this.name,
      thing,
      exists: true,
      endpoint: await this.endpoint(thing),
      credentials,
      policies: [...policies],
    };
  }

  private async endpoint(thing: string): Promise<BundleEndpoint> {
    const host = await this.step('DescribeEndpoint', thing, async () => {
      const answer = await this.client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
      return required(answer.endpointAddress, 'endpointAddress');
    });
    return { host, port: this.options.port ?? 8883, protocol: 'mqtts' };
  }

  private thingArn(thing: string): Promise<string | undefined> {
    return this.step('DescribeThing', thing, async () => {
      try {
        return (await this.client.send(new DescribeThingCommand({ thingName: thing }))).thingArn;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  /** Certificates attached to the thing (other principal kinds, e.g. Cognito ids, are left out). */
  private async certificateArns(thing: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.step('ListThingPrincipals', thing, () =>
        this.client.send(new ListThingPrincipalsCommand({ thingName: thing, ...(nextToken ? { nextToken } : {}) })),
      );
      arns.push(...(answer.principals ?? []).filter((p) => p.includes(':cert/')));
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
    return arns;
  }

  private async attachedPolicies(thing: string, target: string): Promise<string[]> {
    const answer = await this.step('ListAttachedPolicies', thing, () =>
      this.client.send(new ListAttachedPoliciesCommand({ target, recursive: false })),
    );
    return (answer.policies ?? []).flatMap((p) => (p.policyName ? [p.policyName] : []));
  }

  private async createCertificate(request: ProvisionRequest): Promise<IssuedCertificate & { arn: string }> {
    const { thing, csrPem } = request;
    if (csrPem) {
      return this.step('CreateCertificateFromCsr', thing, async () => {
        const command = new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: true });
        const answer = await this.client.send(command);
        const arn = required(answer.certificateArn, 'certificateArn');
        return { arn, id: certificateId(arn), certPem: required(answer.certificatePem, 'certificatePem') };
      });
    }
    return this.step('CreateKeysAndCertificate', thing, async () => {
      const answer = await this.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const arn = required(answer.certificateArn, 'certificateArn');
      return {
        arn,
        id: certificateId(arn),
        certPem: required(answer.certificatePem, 'certificatePem'),
        keyPem: required(answer.keyPair?.PrivateKey, 'keyPair.PrivateKey'),
      };
    });
  }

  /** Creates the policy, or makes the planned document its new default version. */
  private async ensurePolicy(plan: Plan, thingArn: string): Promise<void> {
    const state = plan.state as unknown as AwsState;
    const action = plan.steps.find((s) => s.id === 'policy')?.action;
    if (action === 'create') await this.createPolicy(plan.request, state.policyName, thingArn);
    if (action === 'update') {
      const document = state.policyDocument ?? awsPolicyDocument(plan.request.policy, await this.arnScope(thingArn));
      await this.updatePolicy(plan.request.thing, state.policyName, document);
    }
  }

  private async createPolicy(request: ProvisionRequest, name: string, thingArn: string): Promise<void> {
    const policyDocument = awsPolicyDocument(request.policy, await this.arnScope(thingArn));
    await this.step('CreatePolicy', request.thing, async () => {
      try {
        await this.client.send(new CreatePolicyCommand({ policyName: name, policyDocument }));
      } catch (error) {
        // made since the plan read it (another thing of the batch): same name, same content
        if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
      }
    });
  }

  /**
   * CreatePolicyVersion --set-as-default, after deleting the oldest non-default version when AWS's
   * limit of five is reached (a default version cannot be deleted). Certificates already attached
   * get the new rights at once: the policy is shared by name.
   */
  private async updatePolicy(thing: string, name: string, policyDocument: string): Promise<void> {
    const { policyVersions = [] } = await this.step('ListPolicyVersions', thing, () =>
      this.client.send(new ListPolicyVersionsCommand({ policyName: name })),
    );
    const current = policyVersions.find((v) => v.isDefaultVersion);
    if (current && sameDocument(await this.policyVersionDocument(thing, name), policyDocument)) return;
    const older = policyVersions
      .filter((v) => !v.isDefaultVersion && v.versionId)
      .sort((a, b) => Number(a.versionId) - Number(b.versionId));
    for (let excess = policyVersions.length - MAX_POLICY_VERSIONS + 1; excess > 0; excess--) {
      const oldest = older.shift();
      if (!oldest?.versionId) break;
      const policyVersionId = oldest.versionId;
      await this.step('DeletePolicyVersion', thing, () =>
        this.client.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId })),
      );
    }
    await this.step('CreatePolicyVersion', thing, () =>
      this.client.send(new CreatePolicyVersionCommand({ policyName: name, policyDocument, setAsDefault: true })),
    );
  }

  /** The default version's document (another run of the batch may have updated it since the plan). */
  private async policyVersionDocument(thing: string, name: string): Promise<string | undefined> {
    const answer = await this.step('GetPolicy', thing, () =>
      this.client.send(new GetPolicyCommand({ policyName: name })),
    );
    return answer.policyDocument;
  }

  /**
   * Attaches policy and thing to a certificate made by this run; when that fails (throttled past
   * the SDK's retries, a policy deleted meanwhile), the certificate is detached, deactivated and
   * deleted, so the failed run leaves no active certificate behind and a re-run issues exactly one.
   * The thing and the policy are kept: a re-run finds them (`exists`).
   */
  private async attachOrRollBack(thing: string, name: string, certificateArn: string): Promise<void> {
    try {
      await this.attach(thing, name, certificateArn);
    } catch (error) {
      await this.rollBackCertificate(thing, name, certificateArn).catch((rollback: unknown) => {
        // the original failure is what the user must see; the leftover is named so it can be removed
        (error as { message: string }).message +=
          `; rolling back certificate ${certificateId(certificateArn)} also failed: ${(rollback as Error).message}`;
      });
      throw error;
    }
  }

  private async rollBackCertificate(thing: string, name: string, certificateArn: string): Promise<void> {
    const id = certificateId(certificateArn);
    // each call is safe when there is nothing to undo: detaching what is not attached is a no-op at AWS
    await this.step('DetachThingPrincipal', thing, () =>
      this.client.send(new DetachThingPrincipalCommand({ thingName: thing, principal: certificateArn })),
    );
    await this.step('DetachPolicy', thing, () =>
      this.client.send(new DetachPolicyCommand({ policyName: name, target: certificateArn })),
    );
    await this.step('UpdateCertificate', thing, () =>
      this.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' })),
    );
    await this.step('DeleteCertificate', thing, () =>
      this.client.send(new DeleteCertificateCommand({ certificateId: id })),
    );
  }

  /**
   * The policy's resources live in the thing's partition, account and region: read from the thing's
   * ARN (arn:PARTITION:iot:REGION:ACCOUNT:thing/NAME), which AWS wrote; without one, the client's
   * region gives the partition (aws-cn, aws-us-gov…) and the account is left a wildcard.
   */
  private async arnScope(thingArn: string): Promise<AwsArnScope> {
    const fromArn = arnScope(thingArn);
    if (fromArn) return fromArn;
    const region = await this.client.config.region();
    return { partition: awsPartition(region), region, account: '*' };
  }

  private async attach(thing: string, name: string, certificateArn: string): Promise<void> {
    // both calls are idempotent at AWS: attaching what is attached changes nothing
    await this.step('AttachPolicy', thing, () =>
      this.client.send(new AttachPolicyCommand({ policyName: name, target: certificateArn })),
    );
    await this.step('AttachThingPrincipal', thing, () =>
      this.client.send(new AttachThingPrincipalCommand({ thingName: thing, principal: certificateArn })),
    );
  }

  private async retire(thing: string, arn: string, newStatus: 'INACTIVE' | 'REVOKED'): Promise<void> {
    await this.step('DetachThingPrincipal', thing, () =>
      this.client.send(new DetachThingPrincipalCommand({ thingName: thing, principal: arn })),
    );
    for (const name of await this.attachedPolicies(thing, arn)) {
      await this.step('DetachPolicy', thing, () =>
        this.client.send(new DetachPolicyCommand({ policyName: name, target: arn })),
      );
    }
    await this.step('UpdateCertificate', thing, () =>
      this.client.send(new UpdateCertificateCommand({ certificateId: certificateId(arn), newStatus })),
    );
  }

  private provisioned(
    request: ProvisionRequest,
    endpoint: BundleEndpoint,
    certificate: IssuedCertificate,
    steps: readonly PlanStep[],
  ): Provisioned {
    return {
      provider: this.name,
      thing: request.thing,
      endpoint,
      // ${iot:Connection.Thing.ThingName} resolves only when the client id is the thing's name
      clientId: request.thing,
      caPem: amazonRootCa(),
      certificate: { id: certificate.id, certPem: certificate.certPem, keyPem: certificate.keyPem },
      keyOnDevice: request.csrPem !== undefined,
      steps,
    };
  }

  private step<T>(call: string, thing: string, fn: () => Promise<T>): Promise<T> {
    return runStep(this.name, call, thing, fn);
  }
}

function step(id: string, call: string, action: PlanStep['action'], detail: string): PlanStep {
  return { id, call, action, detail };
}

/** Two policy documents say the same (AWS may return the JSON re-formatted). */
function sameDocument(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ResourceNotFoundException';
}

/** The id is the ARN's last segment: arn:PARTITION:iot:REGION:ACCOUNT:cert/ID. */
function certificateId(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/** A field the answer must have; inside a step, so the error names the call. */
function required<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null || value === '') throw new Error(`the answer has no ${field}`);
  return value;
}

let amazonRoot: string | undefined;

/** AWS IoT's ATS endpoints chain to Amazon Root CA 1, which Node ships among its root certificates. */
export function amazonRootCa(): string | undefined {
  amazonRoot ??= rootCertificates.find((pem) => /(^|\n)CN=Amazon Root CA 1$/m.test(new X509Certificate(pem).subject));
  return amazonRoot;
}
