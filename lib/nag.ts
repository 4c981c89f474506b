/**
 * cdk-nag acknowledgements, each with the reason the finding is right for this design. They are
 * recorded on the construct that causes the finding, so every user of the constructs gets them.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag finding on a construct and everything below it. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

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
