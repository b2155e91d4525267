import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * What an IoT action's `Resource` can be narrowed to. Taken from the Service Authorization Reference,
 * "Actions, resources, and condition keys for AWS IoT"
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html), actions table:
 *
 * - `account`: no resource type in the table, so the statement must use `"*"`.
 * - `thing`: resource type `thing*` (arn:${Partition}:iot:${Region}:${Account}:thing/${ThingName}).
 * - `policy`: resource type `policy*` (arn:${Partition}:iot:${Region}:${Account}:policy/${PolicyName}).
 * - `cert`: resource type `cert` (arn:${Partition}:iot:${Region}:${Account}:cert/${Certificate}). Certificate ids
 *   are chosen by AWS, so `cert/*` is as narrow as a name can get.
 * - `cert-of-thing`: resource type `cert`, plus the `iot:thingArn` condition key the table lists for these actions:
 *   the thing end of the attachment is held to the prefix.
 */
export type IotScope = 'account' | 'thing' | 'policy' | 'cert' | 'cert-of-thing';

/**
 * Every AWS IoT action the `aws-iot` provisioning provider calls (cloud/src), and how far AWS lets us scope it.
 * This table is the single source of the function's IoT permissions; a test compares its keys with the
 * commands the provider sends.
 */
export const IOT_ACTION_SCOPES = {
  // No resource types in the reference: `*` is the only valid resource.
  DescribeEndpoint: 'account',
  CreateKeysAndCertificate: 'account',
  CreateCertificateFromCsr: 'account',
  ListAttachedPolicies: 'account',
  // thing*
  CreateThing: 'thing',
  DescribeThing: 'thing',
  ListThingPrincipals: 'thing',
  // policy*
  CreatePolicy: 'policy',
  GetPolicy: 'policy',
  // a changed document becomes a new default version, the oldest pruned at AWS's limit of five
  CreatePolicyVersion: 'policy',
  ListPolicyVersions: 'policy',
  DeletePolicyVersion: 'policy',
  // cert* (DescribeCertificate, UpdateCertificate); cert or thinggroup for AttachPolicy/DetachPolicy, which name the
  // target certificate: the policy name cannot be scoped there
  AttachPolicy: 'cert',
  DetachPolicy: 'cert',
  DescribeCertificate: 'cert',
  UpdateCertificate: 'cert',
  // rollback of a certificate a failed run made (detached and INACTIVE first)
  DeleteCertificate: 'cert',
  // cert + iot:thingArn
  AttachThingPrincipal: 'cert-of-thing',
  DetachThingPrincipal: 'cert-of-thing',
} as const satisfies Record<string, IotScope>;

export type IotAction = keyof typeof IOT_ACTION_SCOPES;

/**
 * The provider names its IoT policies `tether-<hash of the content>` (cloud/src/core/policy-map.ts `policyName`);
 * a test holds the two together.
 */
export const IOT_POLICY_PREFIX = 'tether-';

export interface IotPermissionsProps {
  /** Things the function creates and manages are named `${thingPrefix}…`. */
  readonly thingPrefix: string;
  /** IoT policies the function creates and reads are named `${policyPrefix}…` ({@link IOT_POLICY_PREFIX}). */
  readonly policyPrefix: string;
}

// Thing names: [a-zA-Z0-9:_-]+ (CreateThing); policy names: [\w+=,.@-]+ (CreatePolicy). A prefix must not be empty:
// `thing/*` would reach every thing in the account.
const THING_PREFIX = /^[a-zA-Z0-9:_-]{1,100}$/;
const POLICY_PREFIX = /^[\w+=,.@-]{1,100}$/;

/** Throws when a prefix is empty or holds characters AWS IoT does not allow in the names it scopes. */
export function validatePrefixes(props: IotPermissionsProps): void {
  if (!THING_PREFIX.test(props.thingPrefix)) {
    throw new Error(`thingPrefix ${JSON.stringify(props.thingPrefix)}: 1-100 characters of [a-zA-Z0-9:_-]`);
  }
  if (!POLICY_PREFIX.test(props.policyPrefix)) {
    throw new Error(`policyPrefix ${JSON.stringify(props.policyPrefix)}: 1-100 characters of [A-Za-z0-9_+=,.@-]`);
  }
}

function actionsOf(scope: IotScope): string[] {
  return Object.entries(IOT_ACTION_SCOPES)
    .filter(([, s]) => s === scope)
    .map(([action]) => `iot:${action}`)
    .sort();
}

/**
 * The function's IoT statements, one per scope, in a fixed order (Sids are stable so diffs stay readable).
 * `scope` is any construct in the stack: ARNs use the stack's (possibly unresolved) region and account.
 */
export function iotPolicyStatements(scope: IConstruct, props: IotPermissionsProps): PolicyStatement[] {
  validatePrefixes(props);
  const stack = Stack.of(scope);
  const arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  const thingArn = arn('thing', `${props.thingPrefix}*`);
  const certArn = arn('cert', '*');

  return [
    new PolicyStatement({
      sid: 'IotAccountLevel',
      effect: Effect.ALLOW,
      actions: actionsOf('account'),
      resources: ['*'],
    }),
    new PolicyStatement({
      sid: 'IotThingsWithPrefix',
      effect: Effect.ALLOW,
      actions: actionsOf('thing'),
      resources: [thingArn],
    }),
    new PolicyStatement({
      sid: 'IotPoliciesWithPrefix',
      effect: Effect.ALLOW,
      actions: actionsOf('policy'),
      resources: [arn('policy', `${props.policyPrefix}*`)],
    }),
    new PolicyStatement({
      sid: 'IotCertificates',
      effect: Effect.ALLOW,
      actions: actionsOf('cert'),
      resources: [certArn],
    }),
    new PolicyStatement({
      sid: 'IotCertificatesOfPrefixedThings',
      effect: Effect.ALLOW,
      actions: actionsOf('cert-of-thing'),
      resources: [certArn],
      conditions: { ArnLike: { 'iot:thingArn': thingArn } },
    }),
  ];
}
