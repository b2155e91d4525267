import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { CaKeySecret } from './constructs/ca-key-secret.js';
import { DeviceRegistry } from './constructs/device-registry.js';
import { ProvisioningFunction } from './constructs/provisioning-function.js';
import { type DevicePolicy, FUNCTION_ENV } from './function-env.js';
import { acknowledgeCaSecretFindings, acknowledgeFunctionFindings } from './nag-acknowledgements.js';

export interface ProvisioningStackProps extends StackProps {
  /**
   * Things the function may create and manage are named with this prefix (IAM is scoped to `thing/${thingPrefix}*`).
   * @default 'tether-'
   */
  readonly thingPrefix?: string;
  /**
   * What every enrolled thing may publish and subscribe to; `{thing}` stands for its name.
   * @default DEFAULT_DEVICE_POLICY: `tether/{thing}/#` both ways
   */
  readonly policy?: DevicePolicy;
  /**
   * The local hub address written into bundles when a request names none.
   * @default the function's default, tcp://127.0.0.1:1883
   */
  readonly hub?: string;
  /**
   * A DynamoDB device registry (thing, certificate id, created at, revoked) the function reads and writes.
   * @default false
   */
  readonly registry?: boolean;
  /**
   * A Secrets Manager secret for the `local` provider's CA key, readable only by the function.
   * @default false
   */
  readonly localCa?: boolean;
  /**
   * Retention of the function's logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * The handler's TypeScript source.
   * @default the workspace's cloud/src/lambda/handler.ts
   */
  readonly entry?: string;
}

/**
 * The cloud half of Tether: the provisioning function behind an IAM-authenticated function URL, a managed policy
 * that lets a user or role call it, and optionally the device registry and the local CA's key.
 */
export class ProvisioningStack extends Stack {
  readonly provisioning: ProvisioningFunction;
  /** Attach to the IAM users or roles allowed to enrol devices. */
  readonly enrollPolicy: ManagedPolicy;
  readonly registry?: DeviceRegistry;
  readonly caKey?: CaKeySecret;

  constructor(scope: Construct, id: string, props: ProvisioningStackProps = {}) {
    super(scope, id, { description: 'Tether device provisioning (AWS IoT)', ...props });
    Tags.of(this).add('tether:component', 'provisioning');

    this.provisioning = new ProvisioningFunction(this, 'Provisioning', {
      thingPrefix: props.thingPrefix ?? 'tether-',
      ...(props.policy === undefined ? {} : { policy: props.policy }),
      ...(props.hub === undefined ? {} : { hub: props.hub }),
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(props.entry === undefined ? {} : { entry: props.entry }),
    });
    const fn = this.provisioning.function;
    acknowledgeFunctionFindings(this.provisioning, props.thingPrefix ?? 'tether-');

    // Same statements as fn.grantInvokeUrl(): since October 2025 a function URL call needs both actions.
    this.enrollPolicy = new ManagedPolicy(this, 'EnrollPolicy', {
      description: 'Call the Tether provisioning function URL (SigV4-signed requests)',
      statements: [
        new PolicyStatement({
          sid: 'InvokeProvisioningUrl',
          effect: Effect.ALLOW,
          actions: ['lambda:InvokeFunctionUrl'],
          resources: [fn.functionArn],
          conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': FunctionUrlAuthType.AWS_IAM } },
        }),
        new PolicyStatement({
          sid: 'InvokeProvisioningViaUrl',
          effect: Effect.ALLOW,
          actions: ['lambda:InvokeFunction'],
          resources: [fn.functionArn],
          conditions: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
        }),
      ],
    });

    if (props.registry) {
      this.registry = new DeviceRegistry(this, 'Registry');
      this.registry.grantItemReadWrite(fn);
      fn.addEnvironment(FUNCTION_ENV.registryTable, this.registry.table.tableName);
      new CfnOutput(this, 'RegistryTableName', { value: this.registry.table.tableName });
    }
    if (props.localCa) {
      this.caKey = new CaKeySecret(this, 'LocalCaKey', { reader: this.provisioning.role });
      acknowledgeCaSecretFindings(this.caKey);
      fn.addEnvironment(FUNCTION_ENV.caSecretArn, this.caKey.secret.secretArn);
      new CfnOutput(this, 'CaSecretArn', {
        value: this.caKey.secret.secretArn,
        description: 'Put the CA key and certificate here (aws secretsmanager put-secret-value)',
      });
    }

    new CfnOutput(this, 'FunctionUrl', { value: this.provisioning.url.url, description: 'POST SigV4-signed requests' });
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'EnrollPolicyArn', { value: this.enrollPolicy.managedPolicyArn });
  }
}
