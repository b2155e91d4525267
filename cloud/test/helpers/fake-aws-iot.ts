import { randomBytes } from 'node:crypto';
import { IoTClient } from '@aws-sdk/client-iot';
import { type CertKeyPair, createCa, issueCertificate, issueCertificateForKey } from '@tether/node-shared/pki';
import { checkCsr } from '../../src/pki/csr.js';
import { type FakeAnswer, HttpRecorder, type RecordedRequest } from './http-recorder.js';

export const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
export const FAKE_ENDPOINT = 'abc123xyz-ats.iot.eu-west-1.amazonaws.com';
export const FAKE_ACCESS_KEY = 'AKIDTETHERTEST';
export const FAKE_SECRET_KEY = 'fake-secret-key';

/**
 * AWS IoT's control plane as far as provisioning uses it, on a local port: state (things, certificates,
 * policies, attachments) and answers shaped like the service's (restJson1, errors in x-amzn-errortype).
 * Every request must carry a SigV4 Authorization for the fake access key, region and the `iot` service.
 */
export class FakeAwsIot {
  readonly recorder: HttpRecorder;
  readonly things = new Map<string, string>();
  readonly certificates = new Map<string, { pem: string; status: string }>();
  readonly policies = new Map<string, string>();
  readonly thingPrincipals = new Map<string, Set<string>>();
  readonly policyTargets = new Map<string, Set<string>>();
  /** Versions of each policy, oldest first; the default one's document is also in `policies`. */
  readonly policyVersions = new Map<string, { id: string; document: string; isDefault: boolean }[]>();
  /** Answer this operation with ThrottlingException (HTTP 429) this many times, then normally. */
  throttle = new Map<string, number>();
  /** Answer this operation with an error (name → [status, error type, message]). */
  failures = new Map<string, [number, string, string]>();
  /** The local API URL, once started. */
  url = '';
  private ca: CertKeyPair | undefined;
  readonly region: string;
  /** The ARN partition of `region` (aws, aws-cn, aws-us-gov), as the real service writes it. */
  readonly partition: string;

  constructor(options: { region?: string; partition?: string } = {}) {
    this.region = options.region ?? REGION;
    this.partition = options.partition ?? 'aws';
    this.recorder = new HttpRecorder((request) => this.answer(request));
  }

  async start(): Promise<IoTClient> {
    this.ca = await createCa({ commonName: 'Fake AWS IoT CA' });
    this.url = await this.recorder.start();
    return this.client();
  }

  /** A real IoT client for this fake; one attempt per call unless `retry` says otherwise. */
  client(retry: { retryMode?: 'standard' | 'adaptive'; maxAttempts?: number } = {}): IoTClient {
    return new IoTClient({
      region: this.region,
      endpoint: this.url,
      credentials: { accessKeyId: FAKE_ACCESS_KEY, secretAccessKey: FAKE_SECRET_KEY },
      maxAttempts: 1,
      ...retry,
    });
  }

  stop(): Promise<void> {
    return this.recorder.stop();
  }

  /** `Operation` names of the requests so far, in order. */
  operations(): string[] {
    return this.recorder.requests.map((r) => operationOf(r));
  }

  private async answer(r: RecordedRequest): Promise<FakeAnswer> {
    const auth = String(r.headers.authorization ?? '');
    const scope = new RegExp(
      `^AWS4-HMAC-SHA256 Credential=${FAKE_ACCESS_KEY}/\\d{8}/${this.region}/iot/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`,
    );
    if (!scope.test(auth) || !r.headers['x-amz-date'])
      return error(403, 'InvalidSignatureException', `no SigV4 signature: ${auth}`);
    const op = operationOf(r);
    const throttled = this.throttle.get(op) ?? 0;
    if (throttled > 0) {
      this.throttle.set(op, throttled - 1);
      return error(429, 'ThrottlingException', 'Rate exceeded');
    }
    const failure = this.failures.get(op);
    if (failure) return error(failure[0], failure[1], failure[2]);
    const [, , name = ''] = r.path.split('/');
    const body = r.body ? (JSON.parse(r.body) as Record<string, string>) : {};
    switch (op) {
      case 'DescribeEndpoint':
        return r.query.endpointType === 'iot:Data-ATS'
          ? ok({ endpointAddress: FAKE_ENDPOINT })
          : error(400, 'InvalidRequestException', `endpointType ${r.query.endpointType}`);
      case 'DescribeThing':
        return this.things.has(name)
          ? ok({ thingName: name, thingArn: this.things.get(name) })
          : notFound(`thing ${name}`);
      case 'CreateThing': {
        const arn = `${this.arnPrefix}:thing/${name}`;
        this.things.set(name, arn);
        return ok({ thingName: name, thingArn: arn, thingId: randomBytes(8).toString('hex') });
      }
      case 'ListThingPrincipals':
        return this.things.has(name) ? ok({ principals: [...(this.thingPrincipals.get(name) ?? [])] }) : notFound(name);
      case 'AttachThingPrincipal':
      case 'DetachThingPrincipal': {
        const principal = String(r.headers['x-amzn-principal'] ?? '');
        if (!this.certificateOf(principal))
          return error(400, 'InvalidRequestException', `unknown principal ${principal}`);
        const set = this.thingPrincipals.get(name) ?? new Set<string>();
        if (op === 'AttachThingPrincipal') set.add(principal);
        else set.delete(principal);
        this.thingPrincipals.set(name, set);
        return ok({});
      }
      case 'CreateKeysAndCertificate': {
        const pair = await issueCertificate(this.requireCa(), { commonName: 'AWS IoT Certificate', usage: 'client' });
        return ok({
          ...this.addCertificate(pair.certPem, r),
          keyPair: { PublicKey: 'unused', PrivateKey: pair.keyPem },
        });
      }
      case 'CreateCertificateFromCsr': {
        const csr = await checkCsr(body.certificateSigningRequest ?? '');
        if (typeof csr === 'string') return error(400, 'InvalidRequestException', csr);
        const pem = await issueCertificateForKey(this.requireCa(), csr.publicKey, {
          commonName: 'AWS IoT Certificate',
          usage: 'client',
        });
        return ok(this.addCertificate(pem, r));
      }
      case 'DescribeCertificate': {
        const cert = this.certificates.get(name);
        return cert
          ? ok({ certificateDescription: { certificateId: name, status: cert.status, certificatePem: cert.pem } })
          : notFound(name);
      }
      case 'UpdateCertificate': {
        const cert = this.certificates.get(name);
        if (!cert) return notFound(name);
        cert.status = r.query.newStatus ?? '';
        return ok({});
      }
      case 'GetPolicy':
        return this.policies.has(name)
          ? ok({
              policyName: name,
              policyArn: `${this.arnPrefix}:policy/${name}`,
              policyDocument: this.policies.get(name),
              defaultVersionId: this.policyVersions.get(name)?.find((v) => v.isDefault)?.id,
            })
          : notFound(name);
      case 'ListPolicyVersions': {
        const versions = this.policyVersions.get(name);
        if (!versions) return notFound(name);
        return ok({ policyVersions: versions.map((v) => ({ versionId: v.id, isDefaultVersion: v.isDefault })) });
      }
      case 'CreatePolicyVersion': {
        const versions = this.policyVersions.get(name);
        if (!versions) return notFound(name);
        // "A managed policy can have up to five versions" (CreatePolicyVersion)
        if (versions.length >= 5) return error(409, 'VersionsLimitExceededException', `policy ${name} has 5 versions`);
        const document = body.policyDocument ?? '';
        JSON.parse(document);
        const id = String(Math.max(...versions.map((v) => Number(v.id))) + 1);
        if (r.query.setAsDefault === 'true') {
          for (const v of versions) v.isDefault = false;
          this.policies.set(name, document);
        }
        versions.push({ id, document, isDefault: r.query.setAsDefault === 'true' });
        return ok({ policyArn: `${this.arnPrefix}:policy/${name}`, policyVersionId: id });
      }
      case 'DeletePolicyVersion': {
        const versions = this.policyVersions.get(name) ?? [];
        const id = r.path.split('/')[4] ?? '';
        const found = versions.find((v) => v.id === id);
        if (!found) return notFound(`${name} version ${id}`);
        if (found.isDefault) return error(409, 'DeleteConflictException', 'cannot delete the default version');
        versions.splice(versions.indexOf(found), 1);
        return ok({});
      }
      case 'DeleteCertificate': {
        const cert = this.certificates.get(name);
        if (!cert) return notFound(name);
        if (cert.status === 'ACTIVE') return error(409, 'CertificateStateException', 'the certificate is active');
        const arn = `${this.arnPrefix}:cert/${name}`;
        if ([...this.thingPrincipals.values()].some((set) => set.has(arn)))
          return error(409, 'DeleteConflictException', 'the certificate is attached to a thing');
        this.certificates.delete(name);
        return ok({});
      }
      case 'CreatePolicy':
        if (this.policies.has(name)) return error(409, 'ResourceAlreadyExistsException', `policy ${name} exists`);
        JSON.parse(body.policyDocument ?? ''); // a document AWS could not parse fails the test
        this.policies.set(name, body.policyDocument ?? '');
        this.policyVersions.set(name, [{ id: '1', document: body.policyDocument ?? '', isDefault: true }]);
        return ok({
          policyName: name,
          policyArn: `${this.arnPrefix}:policy/${name}`,
          policyVersionId: '1',
        });
      case 'ListAttachedPolicies': {
        const target = decodeURIComponent(r.path.slice('/attached-policies/'.length));
        const names = [...this.policyTargets].filter(([, targets]) => targets.has(target)).map(([n]) => n);
        return ok({ policies: names.map((policyName) => ({ policyName })) });
      }
      case 'AttachPolicy':
      case 'DetachPolicy': {
        if (!this.policies.has(name)) return notFound(`policy ${name}`);
        const set = this.policyTargets.get(name) ?? new Set<string>();
        if (op === 'AttachPolicy') set.add(body.target ?? '');
        else set.delete(body.target ?? '');
        this.policyTargets.set(name, set);
        return ok({});
      }
      default:
        return error(400, 'InvalidRequestException', `fake AWS IoT does not know ${r.method} ${r.path}`);
    }
  }

  private addCertificate(
    pem: string,
    r: RecordedRequest,
  ): { certificateArn: string; certificateId: string; certificatePem: string } {
    const id = randomBytes(32).toString('hex');
    this.certificates.set(id, { pem, status: r.query.setAsActive === 'true' ? 'ACTIVE' : 'INACTIVE' });
    return { certificateArn: `${this.arnPrefix}:cert/${id}`, certificateId: id, certificatePem: pem };
  }

  private get arnPrefix(): string {
    return `arn:${this.partition}:iot:${this.region}:${ACCOUNT}`;
  }

  private certificateOf(arn: string): boolean {
    return this.certificates.has(arn.slice(arn.lastIndexOf('/') + 1));
  }

  private requireCa(): CertKeyPair {
    if (!this.ca) throw new Error('not started');
    return this.ca;
  }
}

/** The IoT operation a request is, by method and path (as the SDK's serializers build them). */
export function operationOf(r: { method: string; path: string }): string {
  const { method, path } = r;
  const table: [string, RegExp, string][] = [
    ['GET', /^\/endpoint$/, 'DescribeEndpoint'],
    ['GET', /^\/things\/[^/]+$/, 'DescribeThing'],
    ['POST', /^\/things\/[^/]+$/, 'CreateThing'],
    ['GET', /^\/things\/[^/]+\/principals$/, 'ListThingPrincipals'],
    ['PUT', /^\/things\/[^/]+\/principals$/, 'AttachThingPrincipal'],
    ['DELETE', /^\/things\/[^/]+\/principals$/, 'DetachThingPrincipal'],
    ['POST', /^\/keys-and-certificate$/, 'CreateKeysAndCertificate'],
    ['POST', /^\/certificates$/, 'CreateCertificateFromCsr'],
    ['GET', /^\/certificates\/[^/]+$/, 'DescribeCertificate'],
    ['PUT', /^\/certificates\/[^/]+$/, 'UpdateCertificate'],
    ['GET', /^\/policies\/[^/]+$/, 'GetPolicy'],
    ['POST', /^\/policies\/[^/]+$/, 'CreatePolicy'],
    ['GET', /^\/policies\/[^/]+\/version$/, 'ListPolicyVersions'],
    ['POST', /^\/policies\/[^/]+\/version$/, 'CreatePolicyVersion'],
    ['DELETE', /^\/policies\/[^/]+\/version\/[^/]+$/, 'DeletePolicyVersion'],
    ['DELETE', /^\/certificates\/[^/]+$/, 'DeleteCertificate'],
    ['POST', /^\/attached-policies\/.+$/, 'ListAttachedPolicies'],
    ['PUT', /^\/target-policies\/[^/]+$/, 'AttachPolicy'],
    ['POST', /^\/target-policies\/[^/]+$/, 'DetachPolicy'],
  ];
  return table.find(([m, re]) => m === method && re.test(path))?.[2] ?? `${method} ${path}`;
}

function ok(body: unknown): FakeAnswer {
  return { status: 200, body };
}

function error(status: number, type: string, message: string): FakeAnswer {
  return { status, body: { message }, headers: { 'x-amzn-errortype': type } };
}

function notFound(what: string): FakeAnswer {
  return error(404, 'ResourceNotFoundException', `${what} not found`);
}
