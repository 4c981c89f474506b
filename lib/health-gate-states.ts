/**
 * Health gates in the workflows (issue 13, item 1): the states that read a rollout's CloudWatch
 * alarms at one gate (check-alarms) and act on the verdict. Built by {@link healthGateCheck},
 * the one builder every gate uses (before each cluster node, before each wave of a group, and
 * the phases' alarm hooks), so a gate behaves the same wherever it stands.
 *
 * The chain is entered only when `$.healthGates` is present (the caller's Choice), so a run
 * without gates takes no extra state. Its one end is the "carry on" state; the verdicts that do
 * not carry on leave through `ends`:
 * - `proceed`: no alarm in ALARM → the chain's end; any other verdict first publishes Rollout
 *   Health Gate (run history; a failure to publish does not change the verdict), then:
 * - `stop` (onAlarm stop): `$.error` = { Error: HealthGateAlarm, Cause: the verdict's message,
 *   naming each alarm and its StateReason } → `ends.error` (the run is recorded Failed);
 * - `approve` (onAlarm approve): the existing approval gate (task token, Rollout Approval
 *   Required); approve → the chain's end, reject / cancel / timeout → `ends.calledOff`;
 * - `fail` (an alarm named does not exist, or a tag matched none): `$.error` = { Error:
 *   HealthGateMissingAlarm, Cause: naming it } → `ends.error`.
 * An error of check-alarms itself (after the Lambda retries) also goes to `ends.error`: an alarm
 * that cannot be read is never taken as quiet.
 *
 * The verdict is kept at `$.healthGate` without the list of every alarm read (only the firing
 * and the missing ones, and the message), replaced at each gate, so the state does not grow with
 * the nodes or with the alarms a tag matches while they are quiet.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { GateCheckpoint } from '../lambdas/core/health-gates.js';
import { addLambdaRetries, lambdaTask } from './workflow-common.js';

/** How long a hold for approval at a health gate waits for a decision (the approval default). */
export const HEALTH_GATE_APPROVAL_MINUTES = 1440;

/** The error names a health gate ends a run with. */
export const HEALTH_GATE_ERRORS = {
  alarm: 'HealthGateAlarm',
  missing: 'HealthGateMissingAlarm',
} as const;

/** Where a gate's non-proceed verdicts go (states of the calling workflow). */
export interface HealthGateEnds {
  /** Records the run Failed with `$.error` and releases the lock. */
  readonly error: sfn.IChainable;
  /** Records the run called off (`$.approvalError`) after a reject, cancel or timeout. */
  readonly calledOff: sfn.IChainable;
}

export interface HealthGateOptions {
  /** JSONPath of the node about to start, at a `beforeNode` gate. */
  readonly nodePath?: string;
  /** JSONPath of how many nodes are done, for the approval record. @default 0 */
  readonly doneNodesPath?: string;
  /** JSONPath of the phase the gate belongs to (a phase's bake or end), for the approval text. */
  readonly phasePath?: string;
}

/**
 * The states of one health gate: check-alarms at `checkpoint`, then proceed, stop, hold for
 * approval or fail. Returns a chain whose end is the "carry on" state: `.next()` what follows.
 */
export function healthGateCheck(
  scope: Construct,
  id: string,
  functions: {
    readonly checkAlarms: lambda.IFunction;
    readonly approvalGate: lambda.IFunction;
    readonly runHistory: lambda.IFunction;
  },
  checkpoint: GateCheckpoint,
  ends: HealthGateEnds,
  options: HealthGateOptions = {},
): sfn.Chain {
  // The verdict without its lists of every alarm read (`checked`, `insufficientData`), which
  // a tag matching many alarms would make long: the state keeps what the gate acts on.
  const check = addLambdaRetries(
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: functions.checkAlarms,
      payload: sfn.TaskInput.fromObject({
        runId: sfn.JsonPath.stringAt('$.runId'),
        gates: sfn.JsonPath.objectAt('$.healthGates'),
        checkpoint,
        ...(options.nodePath ? { node: sfn.JsonPath.stringAt(options.nodePath) } : {}),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultSelector: {
        'action.$': '$.action',
        'checkpoint.$': '$.checkpoint',
        'node.$': '$.node',
        'firing.$': '$.firing',
        'missing.$': '$.missing',
        'message.$': '$.message',
      },
      resultPath: '$.healthGate',
    }),
  );
  check.addCatch(ends.error, { resultPath: '$.error' });
  const passed = new sfn.Pass(scope, `${id}Passed`);
  const errorOf = (name: string, error: string) =>
    new sfn.Pass(scope, name, {
      parameters: { Error: error, 'Cause.$': '$.healthGate.message' },
      resultPath: '$.error',
    }).next(ends.error);
  const hold = addLambdaRetries(
    new tasks.LambdaInvoke(scope, `${id}AwaitApproval`, {
      lambdaFunction: functions.approvalGate,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        runId: sfn.JsonPath.stringAt('$.runId'),
        target: sfn.JsonPath.stringAt('$.target.name'),
        afterNodes: options.doneNodesPath ? sfn.JsonPath.numberAt(options.doneNodesPath) : 0,
        timeoutMinutes: HEALTH_GATE_APPROVAL_MINUTES,
        heldBy: id,
        ...(options.phasePath ? { phase: sfn.JsonPath.objectAt(options.phasePath) } : {}),
        changeTicket: sfn.JsonPath.objectAt('$.changeTicket'),
      }),
      taskTimeout: sfn.Timeout.duration(Duration.minutes(HEALTH_GATE_APPROVAL_MINUTES)),
      resultPath: '$.approval',
    }),
  );
  hold.addCatch(ends.calledOff, {
    errors: ['ApprovalRejected', 'RolloutCancelled', 'States.Timeout'],
    resultPath: '$.approvalError',
  });
  hold.addCatch(ends.error, { resultPath: '$.error' });
  hold.next(passed);
  const act = new sfn.Choice(scope, `${id}Act`)
    .when(sfn.Condition.stringEquals('$.healthGate.action', 'approve'), hold)
    .when(
      sfn.Condition.stringEquals('$.healthGate.action', 'stop'),
      errorOf(`${id}Alarm`, HEALTH_GATE_ERRORS.alarm),
    )
    .otherwise(errorOf(`${id}MissingAlarm`, HEALTH_GATE_ERRORS.missing));
  // Rollout Health Gate (run history publishes it); only a notice: a failure to publish it
  // must not change what the gate does.
  const announce = lambdaTask(
    scope,
    `${id}Announce`,
    functions.runHistory,
    {
      action: 'healthGate',
      runId: sfn.JsonPath.stringAt('$.runId'),
      gate: id,
      verdict: sfn.JsonPath.objectAt('$.healthGate'),
    },
    null,
  );
  announce.addCatch(act, { resultPath: '$.healthGateEventError' });
  announce.next(act);
  check.next(
    new sfn.Choice(scope, `${id}Verdict`)
      .when(sfn.Condition.stringEquals('$.healthGate.action', 'proceed'), passed)
      .otherwise(announce),
  );
  return sfn.Chain.custom(check, [passed], passed);
}
