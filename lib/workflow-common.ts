import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { acknowledge, arnToken, wildcardResource, XRAY_REASON } from './nag.js';

/**
 * Errors worth retrying on any Lambda task: the Lambda service's own transient failures, and
 * throttling of the AWS APIs our handlers call (they let those errors through on purpose).
 */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyUpdates',
  'InternalServerError',
  'InternalServerException',
  'ServiceUnavailable',
  // EventBridge refused a lifecycle event after the publisher's own retries; recording is idempotent.
  'LifecycleEventNotPublished',
] as const;

/** Adds the standard retry policy to a Lambda task: 6 tries, 2 s doubling, jitter. */
export function addLambdaRetries<T extends sfn.TaskStateBase>(task: T): T {
  task.addRetry({
    errors: [...TRANSIENT_ERRORS],
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
    maxDelay: Duration.seconds(60),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/**
 * A Lambda task with the standard retries, sending `payload` and putting the function's result
 * at `resultPath` (null: discard it; '$': replace the state, by omitting ResultPath, which is
 * its default and which the local interpreter mishandles when written out).
 */
export function lambdaTask(
  scope: Construct,
  name: string,
  fn: lambda.IFunction,
  payload: Record<string, unknown>,
  resultPath: string | null,
): tasks.LambdaInvoke {
  return addLambdaRetries(
    new tasks.LambdaInvoke(scope, name, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      ...(resultPath === '$' ? {} : { resultPath: resultPath ?? sfn.JsonPath.DISCARD }),
    }),
  );
}

/** Logging of every event, with execution data, to the given group. */
export function stateMachineLogging(logGroup: logs.ILogGroup): sfn.LogOptions {
  return { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true };
}

/** The cdk-nag findings every workflow of ours has, acknowledged with their reasons. */
export function acknowledgeWorkflowFindings(
  stateMachine: sfn.StateMachine,
  invokedFunctions: readonly lambda.IFunction[],
): void {
  acknowledge(
    stateMachine.role,
    wildcardResource('*'),
    `${XRAY_REASON}; CloudWatch Logs delivery for state machine logging (logs:CreateLogDelivery and related) supports only Resource "*"`,
  );
  for (const fn of invokedFunctions) {
    acknowledge(
      stateMachine.role,
      wildcardResource(`${arnToken(fn)}:*`),
      "LambdaInvoke may call the function's versions and aliases (function ARN qualifiers), as CDK grants it",
    );
  }
}
