import { RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface CaKeySecretProps {
  /** The one role that may read the secret's value (the provisioning function's execution role). */
  readonly reader: IRole;
  /**
   * What happens to the secret (and the CA key in it) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The `local` provider's CA key in Secrets Manager. The stack creates the secret with a random placeholder (no key
 * material ever passes through CloudFormation); the operator puts the real value once with
 * `aws secretsmanager put-secret-value`.
 *
 * Readable only by `reader`: the role gets `GetSecretValue` through its identity policy, and the secret's resource
 * policy denies `GetSecretValue` to every other principal, account administrators included (an explicit deny in a
 * resource policy wins over any allow). Writing a new value and editing the resource policy stay possible.
 */
export class CaKeySecret extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: CaKeySecretProps) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      description: 'Tether local provider: CA private key and certificate (PEM). Set with put-secret-value.',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.secret.grantRead(props.reader);
    this.secret.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyTheProvisioningFunctionReads',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['secretsmanager:GetSecretValue'],
        resources: ['*'],
        // aws:PrincipalArn is the role's ARN for any session of the role.
        conditions: { StringNotEquals: { 'aws:PrincipalArn': props.reader.roleArn } },
      }),
    );
  }
}
