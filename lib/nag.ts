/**
 * cdk-nag acknowledgements, each with the reason the finding is right for this design. They are
 * recorded on the construct that causes the finding, so every user of the constructs gets them.
 */
import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on a construct and everything below it. Write the partition
 * of an ARN as `<AWS::Partition>`. Where the stack's region is known, an ARN that CDK builds
 * with `stack.partition` has a literal partition (`@aws-cdk/core:enablePartitionLiterals`) and
 * cdk-nag prints it so, while ARNs built with `Aws.PARTITION` keep the token: both are covered.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
  const partition = Stack.of(scope).partition;
  if (!Token.isUnresolved(partition) && id.includes(PARTITION_TOKEN)) {
    Validations.of(scope).acknowledge({ id: id.replaceAll(PARTITION_TOKEN, partition), reason });
  }
}

/** How cdk-nag prints an unresolved partition. */
const PARTITION_TOKEN = '<AWS::Partition>';

/** How cdk-nag names the ARN attribute of a resource in a finding, e.g. `<MyFn1234.Arn>`. */
export function arnToken(resource: IConstruct): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}

/** The finding for a wildcard resource, as cdk-nag spells it. */
export const wildcardResource = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;

/** X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions. */
export const XRAY_REASON =
  'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support only Resource "*"';
