/**
 * The lifecycle event bus: its name, the archive that keeps our events for replay, publishing
 * granted on this bus only, and no cdk-nag finding.
 */
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_SOURCE } from '../../lambdas/core/contracts.js';
import { RolloutEvents, type RolloutEventsProps } from '../../lib/rollout-events.js';

function build(props: Partial<RolloutEventsProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Events', { env: { account: '000000000000', region: 'us-east-1' } });
  const events = new RolloutEvents(stack, 'Lifecycle', { namePrefix: 'WindowsRollout', ...props });
  const publisherRole = new iam.Role(stack, 'Publisher', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  const grant = events.grantPublish(publisherRole);
  return { stack, events, grant, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

describe('RolloutEvents', () => {
  it('creates the bus <namePrefix>-lifecycle', () => {
    // Act
    const { template, events } = build();

    // Assert
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', {
      Name: 'WindowsRollout-lifecycle',
      Description: Match.stringLikeRegexp('change management'),
    });
    expect(Object.keys(events.environment)).toEqual(['EVENT_BUS_NAME']);
  });

  it('archives our events from this bus for a year by default', () => {
    // Act
    const { template, stack, events } = build();

    // Assert
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalId(stack, events.eventBus), 'Arn'] },
      EventPattern: { source: [LIFECYCLE_EVENT_SOURCE] },
      RetentionDays: 365,
    });
  });

  it.each([
    { retention: Duration.days(30), days: 30 },
    { retention: Duration.days(0), days: 0 },
  ])('keeps the archive $days days when asked', ({ retention, days }) => {
    // Act
    const { template } = build({ archiveRetention: retention });

    // Assert
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: days });
  });

  it('grants events:PutEvents on this bus only', () => {
    // Act
    const { template, stack, events } = build();

    // Assert
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Publisher') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'events:PutEvents',
            Resource: { 'Fn::GetAtt': [logicalId(stack, events.eventBus), 'Arn'] },
          },
        ],
      },
    });
  });

  it('reports every bad prop in one error', () => {
    expect(() => build({ namePrefix: 'has space', archiveRetention: Duration.hours(36) })).toThrow(
      /RolloutEvents: namePrefix "has space": expected .*; archiveRetention \(1 day 12 hours\): expected whole days/,
    );
  });

  it('has no cdk-nag (AWS Solutions) finding', () => {
    // Arrange
    const { stack } = build();

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);

    // Assert
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });
});
