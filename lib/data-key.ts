/**
 * The optional customer managed KMS key of the control plane: the actions each kind of user
 * needs, granted on that one key only, and the key-policy statements the AWS services need.
 */
import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/** Reading data encrypted under the key (S3 objects, DynamoDB items, SQS messages). */
export const KEY_READ = ['kms:Decrypt'] as const;
/** Reading and writing data encrypted under the key. */
export const KEY_READ_WRITE = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'] as const;

/** Grants `actions` on the key, when there is one, with optional conditions. */
export function grantKey(
  key: kms.IKey | undefined,
  grantee: iam.IGrantable,
  actions: readonly string[],
  conditions?: Record<string, Record<string, unknown>>,
): void {
  if (!key) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [...actions],
      resources: [key.keyArn],
      ...(conditions ? { conditions } : {}),
    }),
  );
}

/** Any state machine of this account and region: the encryption context Step Functions sends. */
export function stateMachineContext(scope: IConstruct): Record<string, Record<string, unknown>> {
  const stack = Stack.of(scope);
  return {
    StringLike: {
      'kms:EncryptionContext:aws:states:stateMachineArn': `arn:${stack.partition}:states:${stack.region}:${stack.account}:stateMachine:*`,
    },
  };
}

/**
 * The key-policy statements the services need. CloudWatch Logs encrypts our log groups with
 * the key only if the key policy lets it (an IAM grant is not enough); EventBridge sends dead
 * letters to the encrypted queue; CloudWatch Logs' delivery service reads the encrypted state
 * machines' log events. The bus and its archive add their own statements (aws-cdk-lib).
 *
 * @returns the statements, for a key whose policy this stack cannot change (an imported key):
 *   they must be in its policy already.
 */
export function dataKeyPolicyStatements(scope: IConstruct): iam.PolicyStatement[] {
  const stack = Stack.of(scope);
  const here = `${stack.region}:${stack.account}`;
  return [
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncryptsOurLogGroups',
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: [
        'kms:Encrypt*',
        'kms:Decrypt*',
        'kms:ReEncrypt*',
        'kms:GenerateDataKey*',
        'kms:Describe*',
      ],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${here}:log-group:*`,
        },
      },
    }),
    new iam.PolicyStatement({
      sid: 'EventBridgeDeadLettersToOurQueue',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:events:${here}:rule/*` },
      },
    }),
    new iam.PolicyStatement({
      sid: 'LogDeliveryReadsOurStateMachineLogs',
      principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
      actions: ['kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  ];
}

/** Adds {@link dataKeyPolicyStatements} to a key this stack owns; false for an imported key. */
export function addDataKeyPolicy(key: kms.IKey, scope: IConstruct): boolean {
  if (!(key instanceof kms.Key)) return false;
  for (const statement of dataKeyPolicyStatements(scope)) key.addToResourcePolicy(statement);
  return true;
}
