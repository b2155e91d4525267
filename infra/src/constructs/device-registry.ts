import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface DeviceRegistryProps {
  /**
   * What happens to the table (and the devices it lists) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Point-in-time recovery (35 days of restorable history, billed per GB stored).
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
}

/**
 * The device registry: one item per enrolled thing, keyed by `thingName`, with `certificateId`, `createdAt` (ISO 8601)
 * and `revoked` (boolean) written by the provisioning function. On-demand billing: an idle registry costs only storage.
 */
export class DeviceRegistry extends Construct {
  /** The partition key. Other attributes are schemaless; see the class comment. */
  static readonly PARTITION_KEY = 'thingName';
  /** What {@link grantItemReadWrite} allows: enrol (put), describe (get), revoke and rotate (update). */
  static readonly ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: DeviceRegistryProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: DeviceRegistry.PARTITION_KEY, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Single-item reads and writes on this table only: no scans, no deletes, no table management. */
  grantItemReadWrite(grantee: IGrantable): void {
    this.table.grant(grantee, ...DeviceRegistry.ITEM_ACTIONS);
  }
}
