import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type FunctionUrl, FunctionUrlAuthType, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_DEVICE_POLICY, type DevicePolicy, FUNCTION_ENV } from '../function-env.js';
import { IOT_POLICY_PREFIX, iotPolicyStatements } from '../iot-permissions.js';
import { HANDLER_ENTRY, workspaceRoot } from '../workspace.js';

export interface ProvisioningFunctionProps {
  /** Things the function may create and manage are named with this prefix (IAM: `thing/${thingPrefix}*`). */
  readonly thingPrefix: string;
  /**
   * What every enrolled thing may publish and subscribe to (`{thing}` is its name); the function turns it into one
   * AWS IoT policy per distinct content.
   * @default DEFAULT_DEVICE_POLICY: the thing's own `tether/{thing}/#` subtree both ways
   */
  readonly policy?: DevicePolicy;
  /**
   * The local hub address bundles connect to when the request names none.
   * @default the function's default, tcp://127.0.0.1:1883
   */
  readonly hub?: string;
  /**
   * The handler's TypeScript source; it must export `handler`.
   * @default the workspace's cloud/src/lambda/handler.ts
   */
  readonly entry?: string;
  /**
   * How long CloudWatch Logs keeps the function's log lines.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Memory (MB); CPU scales with it. Enrolment is a handful of IoT API calls, so little is needed.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Upper bound of one enrolment (several IoT calls, each retried by the SDK).
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Cap on concurrent executions. Reserving concurrency fails on accounts whose concurrency limit is 10 (new
   * accounts), hence no cap by default.
   * @default no cap: the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The provisioning Lambda (Node 22, arm64), bundled by the local esbuild (no Docker), reachable through a function URL
 * that requires SigV4-signed requests (`AWS_IAM`). Its role holds exactly the IoT statements of
 * {@link iotPolicyStatements} and the right to write its own log group; no managed policies.
 */
export class ProvisioningFunction extends Construct {
  readonly function: NodejsFunction;
  readonly url: FunctionUrl;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ProvisioningFunctionProps) {
    super(scope, id);
    const root = workspaceRoot();
    const iot = { thingPrefix: props.thingPrefix, policyPrefix: IOT_POLICY_PREFIX };

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role instead of AWSLambdaBasicExecutionRole, whose logs actions apply to every log group ("*").
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Tether provisioning function: AWS IoT thing, certificate and policy management',
    });
    this.logGroup.grantWrite(this.role);
    for (const statement of iotPolicyStatements(this, iot)) this.role.addToPrincipalPolicy(statement);

    this.function = new NodejsFunction(this, 'Function', {
      description: 'Tether device provisioning: enroll and rotate (AWS IoT)',
      entry: props.entry ?? join(root, HANDLER_ENTRY),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      // What cloud/src/lambda/environment.ts reads; nothing secret (see FUNCTION_ENV).
      environment: {
        [FUNCTION_ENV.provider]: 'aws-iot',
        [FUNCTION_ENV.auth]: 'iam',
        [FUNCTION_ENV.policy]: JSON.stringify(props.policy ?? DEFAULT_DEVICE_POLICY),
        ...(props.hub === undefined ? {} : { [FUNCTION_ENV.hub]: props.hub }),
        [FUNCTION_ENV.thingPrefix]: props.thingPrefix,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // The local esbuild (an infra dev dependency): synth works offline and without Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        // Bundle the AWS SDK too: the function runs the SDK version the tests ran, not the runtime's.
        externalModules: [],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // CommonJS dependencies inside an ESM bundle still call require().
        banner: "import{createRequire}from'node:module';const require=createRequire(import.meta.url);",
      },
    });

    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  }
}
