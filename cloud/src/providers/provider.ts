import type { BundleEndpoint, Policy, ProvisioningProvider } from '@tether/shared';

/**
 * The provisioning seam. One implementation per cloud (`local`, `aws-iot`, `baidu-iotcore`,
 * `baidu-iothub`); the CLI, the Lambda handler and `tether-cloud serve` all drive the same three phases:
 *
 *   plan(request)  reads only: what exists, what each step will create (`--dry-run` prints it)
 *   apply(plan)    runs the steps in order; a failing step throws ProvisionStepError naming it
 *   buildBundle()  (core/bundle.ts, pure) turns the result into the files the agent runs with
 *
 * Re-running is safe: a step whose resource exists is `exists` in the plan and skipped by apply.
 */
export interface Provider {
  readonly name: ProvisioningProvider;
  plan(request: ProvisionRequest): Promise<Plan>;
  apply(plan: Plan): Promise<Provisioned>;
  /**
   * For a thing that exists: brings what it shares up to the plan without new credentials (a policy
   * whose document changed gets a new default version). Returns the steps it ran.
   */
  update?(plan: Plan): Promise<readonly PlanStep[]>;
  /** What the provider holds for a thing (without secrets). */
  describe(thing: string): Promise<ThingDescription>;
  /** New credentials for a provisioned thing; the old ones are revoked (or deactivated). */
  rotate(request: ProvisionRequest): Promise<Provisioned>;
  /** Revokes the thing's credentials so it can no longer connect. */
  revoke(thing: string): Promise<RevokeResult>;
}

export interface ProvisionRequest {
  readonly thing: string;
  readonly policy: Policy;
  /**
   * The device's PKCS#10 request (PEM): the certificate is signed for its key, which never leaves
   * the device. Without it the provider makes the key (CreateKeysAndCertificate mode).
   */
  readonly csrPem?: string | undefined;
}

export type StepAction = 'create' | 'exists' | 'read' | 'update' | 'rotate' | 'revoke';

export interface PlanStep {
  /** Stable id: `endpoint`, `thing`, `certificate`, `policy`, `attach-policy`, `attach-thing`… */
  readonly id: string;
  /** The provider call this step makes, e.g. `CreatePolicy` or `POST /v1/endpoint/{name}/thing`. */
  readonly call: string;
  readonly action: StepAction;
  readonly detail: string;
}

export interface Plan {
  readonly provider: ProvisioningProvider;
  readonly request: ProvisionRequest;
  readonly steps: readonly PlanStep[];
  /** The thing already has credentials: apply issues nothing new (rotate does). */
  readonly exists: boolean;
  /** What planning learned (ids, ARNs), for apply. Each provider knows its own shape. */
  readonly state: Readonly<Record<string, unknown>>;
}

export interface IssuedCertificate {
  /** Provider's id: AWS certificate id, Baidu principal, or the local CA's serial (hex). */
  readonly id: string;
  readonly certPem: string;
  /** Only when the provider made the key (no CSR). Never logged. */
  readonly keyPem?: string | undefined;
}

export interface Provisioned {
  readonly provider: ProvisioningProvider;
  readonly thing: string;
  readonly endpoint: BundleEndpoint;
  readonly clientId: string;
  readonly username?: string | undefined;
  /** Password principals (Baidu): written into service.yml only. Never logged. */
  readonly password?: string | undefined;
  /**
   * Baidu IoT Core: what the bridge config gives the agent to derive its address and login from
   * (the device's secret only for signature devices; written into service.yml only, never logged).
   */
  readonly baiduIotCore?:
    | { readonly iotCoreId: string; readonly region: string; readonly deviceSecret?: string | undefined }
    | undefined;
  /** The CA that signed the broker's certificate (trust anchor for the bridge), when known. */
  readonly caPem?: string | undefined;
  readonly certificate?: IssuedCertificate | undefined;
  /** The certificate was signed from the device's CSR. */
  readonly keyOnDevice: boolean;
  /** Steps as they ran, with what each did. */
  readonly steps: readonly PlanStep[];
}

export interface ThingDescription {
  readonly provider: ProvisioningProvider;
  readonly thing: string;
  readonly exists: boolean;
  readonly endpoint?: BundleEndpoint | undefined;
  readonly credentials: readonly { id: string; status: string }[];
  readonly policies: readonly string[];
}

export interface RevokeResult {
  readonly thing: string;
  /** Credentials revoked or deactivated by this call. */
  readonly revoked: readonly string[];
  readonly steps: readonly PlanStep[];
}
