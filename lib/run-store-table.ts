import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KEYS } from '../lambdas/core/run-store-model.js';

/** Props of {@link RunStoreTable}. */
export interface RunStoreTableProps {
  /**
   * What happens to the table when the stack is deleted. Run history and install ledgers are the
   * record of what changed on the servers: keep them unless you mean to lose them.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer managed key for encryption at rest.
   * @default - an AWS owned key is not used: the table is encrypted with the AWS managed key for DynamoDB
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The run store: run history (runs, node results, update results), install ledgers, the
 * one-active-run-per-target lock and the task tokens waiting on SSM, in one table. The key model
 * and every access pattern are documented in `lambdas/core/run-store-model.ts`; each is served
 * by the primary key or GSI1, never a Scan.
 */
export class RunStoreTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: RunStoreTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: KEYS.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEYS.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.encryptionKey
        ? dynamodb.TableEncryption.CUSTOMER_MANAGED
        : dynamodb.TableEncryption.AWS_MANAGED,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      timeToLiveAttribute: KEYS.ttl,
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: KEYS.gsi1Name,
      partitionKey: { name: KEYS.gsi1Partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEYS.gsi1Sort, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
