import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { IOT_POLICY_PREFIX } from './iot-permissions.js';

/**
 * The cdk-nag AwsSolutions findings this stack keeps, each acknowledged with why (the infra tests run
 * the pack and fail on any other). Acknowledged on the construct that has the finding, so a new one
 * elsewhere is still reported.
 */
const IAM5 = 'AwsSolutions::AwsSolutions-IAM5';
const ARN = 'arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>';

export function acknowledgeFunctionFindings(fn: IConstruct, thingPrefix: string): void {
  const wildcard = (resource: string, reason: string) =>
    Validations.of(fn).acknowledge({ id: `${IAM5}[Resource::${resource}]`, reason });
  wildcard(
    '*',
    'DescribeEndpoint, CreateKeysAndCertificate, CreateCertificateFromCsr and ListAttachedPolicies have no resource type in the Service Authorization Reference (list_awsiot.html): AWS accepts only "*" for them.',
  );
  wildcard(
    `${ARN}:thing/${thingPrefix}*`,
    'Things are created by name at run time; the statement is held to the configured thing prefix.',
  );
  wildcard(
    `${ARN}:policy/${IOT_POLICY_PREFIX}*`,
    'IoT policies are named tether-<hash of their content> at run time (cloud/src/core/policy-map.ts).',
  );
  wildcard(
    `${ARN}:cert/*`,
    'Certificate ids are chosen by AWS when issued; Attach/DetachThingPrincipal are further held to things with the prefix by the iot:thingArn condition.',
  );
}

export function acknowledgeCaSecretFindings(secret: IConstruct): void {
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SMG4',
    reason:
      "The secret is the local CA's private key: rotating it means a new CA, which every broker and device must be told to trust; it is rotated by re-issuing the CA, not by a Secrets Manager rotation function.",
  });
}
