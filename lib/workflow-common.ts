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
  'Lambda.ClientExecutionTimeoutException',
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

/** The shape of a Retrier as a state keeps it before rendering (`State.retries` is private). */
interface HeldRetrier {
  readonly errors?: readonly string[];
}

/**
 * Adds the standard retry policy to a Lambda task: 6 tries, 2 s doubling up to 60 s, full
 * jitter. `LambdaInvoke` adds its own Retrier for the Lambda service's errors unless built with
 * `retryOnServiceExceptions: false`; that Retrier comes first, so ours would never apply to those
 * errors. It is removed here, so each error is named by one Retrier only, with this backoff.
 */
export function addLambdaRetries<T extends sfn.TaskStateBase>(task: T): T {
  const held = (task as unknown as { retries?: HeldRetrier[] }).retries;
  if (!Array.isArray(held)) {
    throw new Error(
      `addLambdaRetries(${task.node.path}): cannot read the task's Retriers (aws-cdk-lib changed State.retries); build the task with retryOnServiceExceptions: false`,
    );
  }
  const ours = new Set<string>(TRANSIENT_ERRORS);
  for (let i = held.length - 1; i >= 0; i--) {
    const errors = held[i]?.errors ?? [];
    if (errors.length > 0 && errors.every((e) => ours.has(e))) held.splice(i, 1);
  }
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
      retryOnServiceExceptions: false,
      ...(resultPath === '$' ? {} : { resultPath: resultPath ?? sfn.JsonPath.DISCARD }),
    }),
  );
}

/** The context key that sets how much the state machines log ({@link setWorkflowLogLevel}). */
export const WORKFLOW_LOG_LEVEL_CONTEXT = '@windows-rollout:workflowLogLevel';

/**
 * How much every workflow below `scope` logs. `ERROR` (the default) logs failures with their
 * execution data; `ALL` logs every event but never its data, since the data of a task state holds
 * its task token and payloads (node names, change tickets, installer output).
 */
export function setWorkflowLogLevel(scope: Construct, level: sfn.LogLevel): void {
  scope.node.setContext(WORKFLOW_LOG_LEVEL_CONTEXT, level);
}

/**
 * Logging to the given group at the level set with {@link setWorkflowLogLevel} on an enclosing
 * construct (default `ERROR`). Execution data is logged only with `ERROR` and `FATAL`, whose
 * events are failures: a state's input (and with it a task token) is never logged.
 */
export function stateMachineLogging(logGroup: logs.ILogGroup): sfn.LogOptions {
  const level =
    (logGroup.node.tryGetContext(WORKFLOW_LOG_LEVEL_CONTEXT) as sfn.LogLevel | undefined) ??
    sfn.LogLevel.ERROR;
  const includeExecutionData = level === sfn.LogLevel.ERROR || level === sfn.LogLevel.FATAL;
  return { destination: logGroup, level, includeExecutionData };
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
