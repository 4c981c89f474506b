import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DocumentKey } from '../lambdas/core/contracts.js';
import {
  acknowledgeWorkflowFindings,
  addLambdaRetries,
  lambdaTask,
  stateMachineLogging,
} from './workflow-common.js';

/** Boot checks after an installer's 1641 before the node counts as not restarted. */
const MAX_BOOT_CHECKS = 5;

/** Props of {@link NodeWorkflow}. */
export interface NodeWorkflowProps {
  readonly functions: {
    readonly preflight: lambda.IFunction;
    readonly planNode: lambda.IFunction;
    readonly hotpatchEligibility: lambda.IFunction;
    readonly sendCommand: lambda.IFunction;
    readonly cancelCommand: lambda.IFunction;
    readonly interpretResults: lambda.IFunction;
    readonly runHistory: lambda.IFunction;
  };
  /** Where the state machine logs every event. */
  readonly logGroup: logs.ILogGroup;
  /**
   * Longest wait for the inventory, drain, resume and script commands.
   * @default Duration.minutes(30)
   */
  readonly commandTimeout?: Duration;
}

/**
 * The per-node workflow: update one node the way CAU does, as a state machine started once per
 * node (by the rollout workflow, or by hand from the console for a single node).
 *
 * Preflight (online, lock held, StopAfter) → plan (nothing to install: done) → inventory →
 * hotpatch eligibility → pre-update script (failure: node not updated, not drained) → drain when
 * a restart is possible or the run says always → with `removal`: RemoveUpdates (wusa.exe
 * /uninstall in the given order), interpret and mark the ledger, restart pending (KB897341; a
 * failed removal skips the plug-ins) → each plug-in in order (none for a plain removal): install, interpret,
 * retry failures up to MaxRetriesPerNode, restart after it with SeparateReboots, stop with
 * StopOnPluginFailure → restart when any outcome needs one → verify (the node answers an
 * inventory) → resume with FailbackMode → post-update script → record.
 *
 * Every SSM command is waited on with a task token that the command-status event completes (no
 * polling), under a timeout; a wait that times out cancels its command first. A node whose drain
 * succeeded is always resumed, even on failure.
 *
 * Safety rules (README, "Safety rules of the node workflow"): a cluster node is restarted only
 * after a successful drain (drained late when an outcome needs a restart the prediction missed;
 * not restarted when that drain fails); a restart pending before the run is done first; an
 * installer's 1641 is waited out and the updates it cut off go on without spending a retry;
 * `Fail_RebootRequired` restarts before its retry; a SHA-256 mismatch is never retried; busy
 * servicing is neither restarted on nor failed back.
 */
export class NodeWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: NodeWorkflowProps) {
    super(scope, id);
    const f = props.functions;
    const commandSeconds = (props.commandTimeout ?? Duration.minutes(30)).toSeconds();

    // -- building blocks -------------------------------------------------------------------
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      payload: Record<string, unknown>,
      resultPath: string | null,
    ) => lambdaTask(this, name, fn, payload, resultPath);

    /**
     * Sends one of our documents and waits for the status-change event to complete the task.
     * `timeout` is both the command's execution timeout on the node and the wait's limit:
     * seconds, or a path to them.
     */
    const command = (
      name: string,
      document: DocumentKey,
      payload: Record<string, unknown>,
      resultPath: string,
      timeout: number | string,
    ) =>
      addLambdaRetries(
        new tasks.LambdaInvoke(this, name, {
          lambdaFunction: f.sendCommand,
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({
            taskToken: sfn.JsonPath.taskToken,
            runId: sfn.JsonPath.stringAt('$.runId'),
            node: sfn.JsonPath.stringAt('$.node.name'),
            instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
            document,
            payload,
            timeoutSeconds: typeof timeout === 'number' ? timeout : sfn.JsonPath.numberAt(timeout),
            // The wait starts when this state is entered: the payload's deadline counts from it.
            startedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
          }),
          taskTimeout:
            typeof timeout === 'number'
              ? sfn.Timeout.duration(Duration.seconds(timeout))
              : sfn.Timeout.at(timeout),
          resultPath,
        }),
      );

    const succeeded = (path: string) => sfn.Condition.stringEquals(path, 'Success');

    const record = (
      name: string,
      status: string,
      reasonPath?: string,
      extra: Record<string, unknown> = {},
    ) =>
      invoke(
        name,
        f.runHistory,
        {
          action: 'recordNode',
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          result: {
            status,
            instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
            // A path, or a quoted literal ('...').
            reason: reasonPath
              ? reasonPath.startsWith("'")
                ? reasonPath.slice(1, -1)
                : sfn.JsonPath.stringAt(reasonPath)
              : status,
            drained: sfn.JsonPath.objectAt('$.state.drainedEver'),
            restarts: sfn.JsonPath.numberAt('$.state.restarts'),
            // Still drained at the end: its resume failed, the node is left Paused (point 8).
            leftPaused: sfn.JsonPath.objectAt('$.state.drained'),
            startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
            execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
            ...extra,
          },
        },
        null,
      );
    /** The Verify inventory's rescan after the final restart (issue 13 item 6), for the record. */
    const afterVerify = {
      rescan: sfn.JsonPath.objectAt('$.commands.verify.results[0].rescan'),
    };

    // -- failure handling: resume a drained node, record, fail --------------------------------
    const nodeFailed = new sfn.Fail(this, 'NodeFailed', {
      error: 'NodeUpdateFailed',
      cause: 'the node was not updated; see the run history for the reason',
    });
    const recordFailed = record('RecordNodeFailed', 'Failed', '$.failure.reason').next(nodeFailed);
    const resumeAfterFailure = command(
      'ResumeAfterFailure',
      'resume',
      // After a failure the node is resumed without waiting for storage repair.
      {
        failbackMode: sfn.JsonPath.stringAt('$.policy.failbackMode'),
        storageRepairTimeoutMinutes: 0,
      },
      '$.commands.resumeAfterFailure',
      commandSeconds,
    );

    // -- a wait that timed out: cancel what it left running on the node, then go on ----------
    /**
     * Cancels every command of this run still running on the node (the one whose wait timed
     * out), then `next`; the answer, with a one-line `summary`, lands in `$.cancelled`.
     */
    const cancelThen = (id: string, next: sfn.IChainable): sfn.IChainable => {
      const cancel = invoke(
        `CancelAfter${id}`,
        f.cancelCommand,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
          timedOut: id,
        },
        '$.cancelled',
      );
      cancel.addCatch(
        new sfn.Pass(this, `CancelFailedAfter${id}`, {
          parameters: {
            cancelled: [],
            failed: [],
            'summary.$':
              "States.Format('the cancel step failed ({}): a command may still run on the node', $.cancelError.Error)",
          },
          resultPath: '$.cancelled',
        }).next(next),
        { resultPath: '$.cancelError' },
      );
      return cancel.next(next);
    };
    resumeAfterFailure.addCatch(
      cancelThen(
        'ResumeAfterFailureTimedOut',
        new sfn.Pass(this, 'ResumeAfterFailureTimedOut', {
          parameters: {
            'reason.$':
              "States.Format('{}; the resume timed out: {}', $.failure.reason, $.cancelled.summary)",
          },
          resultPath: '$.failure',
        }).next(recordFailed),
      ),
      { errors: ['States.Timeout'], resultPath: '$.resumeError' },
    );
    resumeAfterFailure.addCatch(recordFailed, { resultPath: '$.resumeError' });
    // Only a resume that succeeded clears the drained flag: otherwise the node is recorded as
    // left Paused, and the rollout stops before draining another node of the cluster.
    resumeAfterFailure.next(
      new sfn.Choice(this, 'ResumedAfterFailure')
        .when(
          sfn.Condition.stringEquals('$.commands.resumeAfterFailure.status', 'Success'),
          new sfn.Pass(this, 'MarkResumedAfterFailure', {
            parameters: {
              drained: false,
              drainedEver: true,
              'restartPending.$': '$.state.restartPending',
              'restarts.$': '$.state.restarts',
              'pluginFailed.$': '$.state.pluginFailed',
            },
            resultPath: '$.state',
          }).next(recordFailed),
        )
        .otherwise(recordFailed),
    );
    const failureCleanup = new sfn.Choice(this, 'DrainedWhenFailing')
      .when(sfn.Condition.booleanEquals('$.state.drained', true), resumeAfterFailure)
      .otherwise(recordFailed);
    const failures = new Map<string, sfn.IChainable>();
    const fail = (reason: string): sfn.IChainable => {
      let state = failures.get(reason);
      if (!state) {
        state = new sfn.Pass(this, `Failure_${reason}`, {
          parameters: { reason },
          resultPath: '$.failure',
        }).next(failureCleanup);
        failures.set(reason, state);
      }
      return state;
    };
    const caught = new sfn.Pass(this, 'UnexpectedError', {
      parameters: {
        'reason.$': "States.Format('{}: {}', $.error.Error, $.error.Cause)",
      },
      resultPath: '$.failure',
    }).next(failureCleanup);
    const timeouts = new Map<string, sfn.IChainable>();
    /** A timed-out wait: cancel the command, then fail with the reason and what was cancelled. */
    const timedOut = (reason: string): sfn.IChainable => {
      let state = timeouts.get(reason);
      if (!state) {
        state = cancelThen(
          reason,
          new sfn.Pass(this, `Failure_${reason}`, {
            parameters: {
              'reason.$': `States.Format('${reason}: {}', $.cancelled.summary)`,
            },
            resultPath: '$.failure',
          }).next(failureCleanup),
        );
        timeouts.set(reason, state);
      }
      return state;
    };
    const catchAll = <T extends sfn.TaskStateBase>(task: T, timeoutReason?: string): T => {
      if (timeoutReason)
        task.addCatch(timedOut(timeoutReason), {
          errors: ['States.Timeout'],
          resultPath: '$.error',
        });
      task.addCatch(caught, { resultPath: '$.error' });
      return task;
    };

    // -- preflight and planning --------------------------------------------------------------
    const init = new sfn.Pass(this, 'Init', {
      parameters: {
        drained: false,
        drainedEver: false,
        restartPending: false,
        restarts: 0,
        pluginFailed: false,
      },
      resultPath: '$.state',
    });
    const preflight = catchAll(
      invoke(
        'Preflight',
        f.preflight,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          target: sfn.JsonPath.objectAt('$.target'),
          node: sfn.JsonPath.objectAt('$.node'),
          policy: sfn.JsonPath.objectAt('$.policy'),
          deadlines: sfn.JsonPath.objectAt('$.deadlines'),
          leaseSeconds: sfn.JsonPath.numberAt('$.leaseSeconds'),
        },
        '$.preflight',
      ),
    );
    const notStarted = record(
      'RecordNotStarted',
      'NotStarted',
      '$.preflight.notStartedReason',
    ).next(new sfn.Succeed(this, 'NodeNotStarted'));
    const plan = catchAll(
      invoke(
        'PlanNode',
        f.planNode,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.objectAt('$.node'),
          plugins: sfn.JsonPath.objectAt('$.plugins'),
        },
        '$.plan',
      ),
    );
    const nothingToInstall = record('RecordNothingToInstall', 'NothingToInstall').next(
      new sfn.Succeed(this, 'NodeHadNothingToInstall'),
    );
    const inventory = catchAll(
      command(
        'Inventory',
        'inventory',
        { binaries: sfn.JsonPath.objectAt('$.plan.inventoryBinaries') },
        '$.commands.inventory',
        commandSeconds,
      ),
      'InventoryTimedOut',
    );
    const eligibility = catchAll(
      invoke(
        'HotpatchEligibility',
        f.hotpatchEligibility,
        {
          node: sfn.JsonPath.objectAt('$.node'),
          inventory: sfn.JsonPath.objectAt('$.commands.inventory.results[0]'),
          updates: sfn.JsonPath.objectAt('$.plan.hotfix.updates'),
          hotfixRoot: sfn.JsonPath.objectAt('$.plan.hotfixRoot'),
        },
        '$.eligibility',
      ),
    );
    const noEligibility = new sfn.Pass(this, 'NoHotfixesToJudge', {
      parameters: { restartPossible: true, decisions: [] },
      resultPath: '$.eligibility',
    });

    // -- pre-update script, drain ------------------------------------------------------------
    /**
     * The pre- or post-update script step: a Choice `entry` (run the script when the policy
     * names one, else `rules`), the script, and its own Choice `succeeded` (failed, else
     * `rules`). One state per decision (issue 11 item 6): `rules` are added to both Choices.
     */
    const scriptStep = (
      phase: 'pre' | 'post',
      ids: { readonly entry: string; readonly succeeded: string },
      rules: (choice: sfn.Choice) => sfn.Choice,
    ): sfn.Choice => {
      const name = phase === 'pre' ? 'PreUpdateScript' : 'PostUpdateScript';
      const script = catchAll(
        command(
          name,
          'runScript',
          { phase, script: sfn.JsonPath.stringAt(`$.policy.${phase}UpdateScript`) },
          `$.commands.${phase}Script`,
          commandSeconds,
        ),
        `${name}TimedOut`,
      );
      script.next(
        rules(
          new sfn.Choice(this, ids.succeeded).when(
            sfn.Condition.not(succeeded(`$.commands.${phase}Script.status`)),
            fail(`${name}Failed`),
          ),
        ),
      );
      return rules(
        new sfn.Choice(this, ids.entry).when(
          sfn.Condition.isPresent(`$.policy.${phase}UpdateScript`),
          script,
        ),
      );
    };
    const drain = command(
      'Drain',
      'drain',
      { timeoutMinutes: sfn.JsonPath.numberAt('$.preflight.timeouts.drainMinutes') },
      '$.commands.drain',
      '$.preflight.timeouts.drainSeconds',
    );
    const markDrained = new sfn.Pass(this, 'MarkDrained', {
      parameters: {
        drained: true,
        drainedEver: true,
        'restartPending.$': '$.state.restartPending',
        'restarts.$': '$.state.restarts',
        'pluginFailed.$': '$.state.pluginFailed',
      },
      resultPath: '$.state',
    });
    // A drain that failed halfway may have paused the node: resume it as for any failure.
    const drainFailed = new sfn.Pass(this, 'DrainFailedMayBePaused', {
      parameters: {
        drained: true,
        drainedEver: true,
        'restartPending.$': '$.state.restartPending',
        'restarts.$': '$.state.restarts',
        'pluginFailed.$': '$.state.pluginFailed',
      },
      resultPath: '$.state',
    }).next(fail('DrainFailed'));
    // However the drain ends badly (failed, timed out, errored), the node may be paused; a
    // timed-out drain is cancelled first, so it cannot go on pausing the node behind our back.
    drain.addCatch(
      cancelThen(
        'DrainTimedOut',
        new sfn.Pass(this, 'DrainTimedOutMayBePaused', {
          parameters: {
            drained: true,
            drainedEver: true,
            'restartPending.$': '$.state.restartPending',
            'restarts.$': '$.state.restarts',
            'pluginFailed.$': '$.state.pluginFailed',
          },
          resultPath: '$.state',
        }).next(
          new sfn.Pass(this, 'Failure_DrainTimedOut', {
            parameters: { 'reason.$': "States.Format('DrainTimedOut: {}', $.cancelled.summary)" },
            resultPath: '$.failure',
          }).next(failureCleanup),
        ),
      ),
      { errors: ['States.Timeout'], resultPath: '$.error' },
    );
    drain.addCatch(drainFailed, { resultPath: '$.error' });

    // -- restart (used after a plug-in with SeparateReboots, and once at the end) ------------
    /**
     * Restarts the node, then `next`. A cluster node is only ever restarted drained: one that
     * is not (the hotpatch prediction said no restart, and an installer then asked for one) is
     * drained first; if that drain fails the node is not restarted, and ends Failed, resumed,
     * with the restart still pending (`RestartPendingDrainFailed`).
     */
    const restartChain = (suffix: string, next: sfn.IChainable, failure = suffix) => {
      const restart = catchAll(
        command(
          `Restart${suffix}`,
          'restart',
          {
            // One marker per restart: the script tells a finished restart from a pending one by it.
            runId: sfn.JsonPath.format(
              '{}-restart-{}',
              sfn.JsonPath.stringAt('$.runId'),
              sfn.JsonPath.stringAt('$.state.restarts'),
            ),
            reason: 'updates need a restart',
          },
          '$.commands.restart',
          '$.preflight.timeouts.rebootSeconds',
        ),
        'RebootTimeout',
      );
      const restarted = new sfn.Pass(this, `Restarted${suffix}`, {
        parameters: {
          'drained.$': '$.state.drained',
          'drainedEver.$': '$.state.drainedEver',
          restartPending: false,
          'restarts.$': 'States.MathAdd($.state.restarts, 1)',
          'pluginFailed.$': '$.state.pluginFailed',
        },
        resultPath: '$.state',
      });
      restart.next(
        new sfn.Choice(this, `RestartSucceeded${suffix}`)
          .when(succeeded('$.commands.restart.status'), restarted.next(next))
          .otherwise(fail(`NodeDidNotRestart${failure}`)),
      );
      const lateDrain = command(
        `DrainBeforeRestart${suffix}`,
        'drain',
        { timeoutMinutes: sfn.JsonPath.numberAt('$.preflight.timeouts.drainMinutes') },
        '$.commands.drain',
        '$.preflight.timeouts.drainSeconds',
      );
      const lateDrainFailed = new sfn.Pass(this, `DrainBeforeRestartFailed${suffix}`, {
        parameters: {
          drained: true,
          drainedEver: true,
          'restartPending.$': '$.state.restartPending',
          'restarts.$': '$.state.restarts',
          'pluginFailed.$': '$.state.pluginFailed',
        },
        resultPath: '$.state',
      }).next(fail('RestartPendingDrainFailed'));
      lateDrain.addCatch(cancelThen(`DrainBeforeRestartTimedOut${suffix}`, lateDrainFailed), {
        errors: ['States.Timeout'],
        resultPath: '$.error',
      });
      lateDrain.addCatch(lateDrainFailed, { resultPath: '$.error' });
      lateDrain.next(
        new sfn.Choice(this, `DrainBeforeRestartSucceeded${suffix}`)
          .when(
            succeeded('$.commands.drain.status'),
            new sfn.Pass(this, `MarkDrainedBeforeRestart${suffix}`, {
              parameters: {
                drained: true,
                drainedEver: true,
                'restartPending.$': '$.state.restartPending',
                'restarts.$': '$.state.restarts',
                'pluginFailed.$': '$.state.pluginFailed',
              },
              resultPath: '$.state',
            }).next(restart),
          )
          .otherwise(lateDrainFailed),
      );
      return { restart, lateDrain };
    };
    // rebootOption (issue 13): Never takes every restart of ours off the path (the Choices fall
    // through to their otherwise); Always adds the final restart. Conditions only: no extra
    // state on the node path whatever the option.
    const rebootNever = sfn.Condition.stringEquals('$.rebootOption', 'Never');
    const rebootAlways = sfn.Condition.stringEquals('$.rebootOption', 'Always');
    /** Ready to restart: a standalone server, or a drained cluster node. */
    const readyToRestart = sfn.Condition.or(
      sfn.Condition.not(sfn.Condition.stringEquals('$.target.kind', 'cluster')),
      sfn.Condition.booleanEquals('$.state.drained', true),
    );
    /**
     * Adds to `choice`: when `condition`, restart (a node ready for it) or drain first (a cluster
     * node that is not drained). In the caller's Choice, so a drained node's restart costs no
     * extra state.
     */
    const whenRestart = (
      choice: sfn.Choice,
      condition: sfn.Condition,
      chain: ReturnType<typeof restartChain>,
    ) =>
      choice
        .when(
          sfn.Condition.and(condition, sfn.Condition.not(rebootNever), readyToRestart),
          chain.restart,
        )
        .when(sfn.Condition.and(condition, sfn.Condition.not(rebootNever)), chain.lateDrain);
    const setState = (
      name: string,
      changes: Partial<Record<'restartPending' | 'pluginFailed', boolean>>,
    ) =>
      new sfn.Pass(this, name, {
        parameters: {
          'drained.$': '$.state.drained',
          'drainedEver.$': '$.state.drainedEver',
          ...(changes.restartPending !== undefined
            ? { restartPending: changes.restartPending }
            : { 'restartPending.$': '$.state.restartPending' }),
          'restarts.$': '$.state.restarts',
          ...(changes.pluginFailed !== undefined
            ? { pluginFailed: changes.pluginFailed }
            : { 'pluginFailed.$': '$.state.pluginFailed' }),
        },
        resultPath: '$.state',
      });

    // -- the tail: final restart, verify, resume, post-update script, record ------------------
    const nodeUpdated = new sfn.Succeed(this, 'NodeUpdated');
    // The happy path ends with the record itself (one transition fewer, issue 11 item 6).
    const recordSucceeded = record('RecordNodeSucceeded', 'Succeeded', undefined, afterVerify);
    // The node is updated whatever the write does: a history write that fails after its retries
    // must not turn the node Failed (the run's report then shows it without a recorded result).
    recordSucceeded.addCatch(
      new sfn.Pass(this, 'NodeUpdatedNotRecorded', { resultPath: sfn.JsonPath.DISCARD }).next(
        nodeUpdated,
      ),
      { resultPath: '$.recordError' },
    );
    // rebootOption Never: installed, and a restart still pending (ours, or one the node reports
    // after the install) is the operator's: the node is InstalledPendingReboot, not Succeeded.
    const recordPendingReboot = record(
      'RecordNodeInstalledPendingReboot',
      'InstalledPendingReboot',
      "'installed; rebootOption Never: the restart the updates need is left to the operator'",
      afterVerify,
    ).next(new sfn.Succeed(this, 'NodeInstalledPendingReboot'));
    // A plug-in failed (without StopOnPluginFailure): the node is answered, resumed or never
    // drained by now, so it is recorded Failed with its rescan, as failureCleanup would record it.
    const recordUpdateFailed = record(
      'RecordNodeUpdateFailed',
      'Failed',
      "'UpdateFailed'",
      afterVerify,
    ).next(nodeFailed);
    /** Adds the outcome's rules to `choice`: failed, installed pending reboot, or succeeded. */
    const outcomeRules = (choice: sfn.Choice) =>
      choice
        .when(sfn.Condition.booleanEquals('$.state.pluginFailed', true), recordUpdateFailed)
        .when(
          sfn.Condition.and(
            rebootNever,
            sfn.Condition.or(
              sfn.Condition.booleanEquals('$.state.restartPending', true),
              sfn.Condition.booleanEquals('$.commands.verify.results[0].pendingReboot', true),
            ),
          ),
          recordPendingReboot,
        )
        .otherwise(recordSucceeded);
    // The post-update script's Choice and the outcome's are one state (issue 11 item 6).
    const afterResume = scriptStep(
      'post',
      { entry: 'PostUpdateScriptOrOutcome', succeeded: 'PostUpdateScriptSucceeded' },
      outcomeRules,
    );
    // The resume also waits for storage repair when the policy says so (CAU's
    // WaitForStorageRepairTimeoutMinutes): preflight adds that wait to the command's limit.
    const resume = catchAll(
      command(
        'Resume',
        'resume',
        {
          failbackMode: sfn.JsonPath.stringAt('$.policy.failbackMode'),
          storageRepairTimeoutMinutes: sfn.JsonPath.numberAt(
            '$.preflight.timeouts.storageRepairMinutes',
          ),
          // The failback check (issue 13 item 6): the roles the drain moved off, and how long
          // to wait for them to be back (0 unless failbackMode is Immediate).
          failbackGroups: sfn.JsonPath.listAt('$.commands.drain.results[0].movedGroups'),
          failbackTimeoutMinutes: sfn.JsonPath.numberAt('$.preflight.timeouts.failbackMinutes'),
        },
        '$.commands.resume',
        '$.preflight.timeouts.resumeSeconds',
      ),
      'ResumeTimedOut',
    );
    const markResumed = new sfn.Pass(this, 'MarkResumed', {
      parameters: {
        drained: false,
        drainedEver: true,
        'restartPending.$': '$.state.restartPending',
        'restarts.$': '$.state.restarts',
        'pluginFailed.$': '$.state.pluginFailed',
      },
      resultPath: '$.state',
    });
    /**
     * Storage repair not done within WaitForStorageRepairTimeoutMinutes: the node is resumed (not
     * drained any more) and recorded Failed with the jobs named and `storageRepairTimedOut`, which
     * the rollout's pausedNodes check turns into a stop before the next node.
     */
    const storageRepairTimedOut = () =>
      new sfn.Pass(this, 'MarkResumedStorageRepairPending', {
        parameters: {
          drained: false,
          drainedEver: true,
          'restartPending.$': '$.state.restartPending',
          'restarts.$': '$.state.restarts',
          'pluginFailed.$': '$.state.pluginFailed',
        },
        resultPath: '$.state',
      })
        .next(
          invoke(
            'RecordStorageRepairTimedOut',
            f.runHistory,
            {
              action: 'recordNode',
              runId: sfn.JsonPath.stringAt('$.runId'),
              node: sfn.JsonPath.stringAt('$.node.name'),
              result: {
                status: 'Failed',
                instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
                reason: sfn.JsonPath.format(
                  'StorageRepairTimedOut: {}',
                  sfn.JsonPath.stringAt('$.commands.resume.results[0].storageRepair.detail'),
                ),
                drained: true,
                restarts: sfn.JsonPath.numberAt('$.state.restarts'),
                leftPaused: false,
                storageRepairTimedOut: true,
                startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
                execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
              },
            },
            null,
          ),
        )
        .next(nodeFailed);
    // After the restart (issue 13 item 6): a node not Up in the cluster fails (and, drained,
    // is resumed again, then recorded left Paused: the run stops); roles that did not fail back
    // in time fail the node, resumed. Failure paths only: the happy path gains no state.
    const notUpInCluster = new sfn.Pass(this, 'Failure_NodeNotUpInCluster', {
      parameters: {
        'reason.$':
          "States.Format('NodeNotUpInCluster: {} is {} in cluster {} after waiting for it to join ({})', $.node.name, $.commands.resume.results[0].clusterNodeNotUp, $.commands.resume.results[0].cluster, $.commands.resume.results[0].detail)",
      },
      resultPath: '$.failure',
    }).next(failureCleanup);
    const rolesNotFailedBack = new sfn.Pass(this, 'MarkResumedRolesNotFailedBack', {
      parameters: {
        drained: false,
        drainedEver: true,
        'restartPending.$': '$.state.restartPending',
        'restarts.$': '$.state.restarts',
        'pluginFailed.$': '$.state.pluginFailed',
      },
      resultPath: '$.state',
    }).next(
      new sfn.Pass(this, 'Failure_RolesNotFailedBack', {
        parameters: {
          'reason.$':
            "States.Format('RolesNotFailedBack: {}', $.commands.resume.results[0].failbackCheck.detail)",
        },
        resultPath: '$.failure',
      }).next(failureCleanup),
    );
    resume.next(
      new sfn.Choice(this, 'ResumeSucceeded')
        .when(
          sfn.Condition.isPresent('$.commands.resume.results[0].clusterNodeNotUp'),
          notUpInCluster,
        )
        // Resumed, but its storage repair outlasted the wait: the node fails and the run
        // stops before the next node (no extra state when the policy has no wait).
        .when(
          sfn.Condition.and(
            succeeded('$.commands.resume.status'),
            sfn.Condition.isPresent('$.commands.resume.results[0].storageRepairTimedOut'),
          ),
          storageRepairTimedOut(),
        )
        .when(
          sfn.Condition.and(
            succeeded('$.commands.resume.status'),
            sfn.Condition.isPresent('$.commands.resume.results[0].rolesNotFailedBack'),
          ),
          rolesNotFailedBack,
        )
        .when(succeeded('$.commands.resume.status'), markResumed.next(afterResume))
        .otherwise(fail('ResumeFailed')),
    );
    const verify = catchAll(
      command(
        'Verify',
        'inventory',
        {
          binaries: sfn.JsonPath.objectAt('$.plan.inventoryBinaries'),
          // The rescan after the final restart (issue 13 item 6): what is still applicable.
          rescan: sfn.JsonPath.objectAt('$.plan.rescan'),
        },
        '$.commands.verify',
        commandSeconds,
      ),
      'VerifyTimedOut',
    );
    // Answered, and drained: resume; answered: the post-update script and the outcome.
    verify.next(
      new sfn.Choice(this, 'NodeAnswered')
        .when(
          sfn.Condition.not(succeeded('$.commands.verify.status')),
          fail('NodeDidNotAnswerAfterUpdate'),
        )
        .when(sfn.Condition.booleanEquals('$.state.drained', true), resume)
        .otherwise(afterResume),
    );
    const finalRestart = restartChain('Final', verify);
    /** Adds the end of the plug-ins to `choice`: the final restart when one is due, else verify. */
    const finalRules = (choice: sfn.Choice) =>
      whenRestart(
        choice,
        sfn.Condition.or(sfn.Condition.booleanEquals('$.state.restartPending', true), rebootAlways),
        finalRestart,
      ).otherwise(verify);
    const afterPlugins = finalRules(new sfn.Choice(this, 'RestartPending'));

    // -- plug-ins, in the run's order ---------------------------------------------------------
    // At most two plug-ins, each named once (rollout-input), so no loop counter: the plug-in
    // that just ended says which one is next (the other one, when it ended first of two). Each
    // plug-in's end is one Choice: restart (SeparateReboots), the next plug-in, or the final
    // restart and verify (issue 11 item 6: no Pass or Choice chain between plug-ins).
    type PluginKind = 'Hotfix' | 'WindowsUpdate';
    const pluginName: Record<PluginKind, string> = {
      Hotfix: 'Microsoft.HotfixPlugin',
      WindowsUpdate: 'Microsoft.WindowsUpdatePlugin',
    };
    const otherPlugin = (kind: PluginKind): PluginKind =>
      kind === 'Hotfix' ? 'WindowsUpdate' : 'Hotfix';
    const pluginPlanned = (kind: PluginKind) =>
      sfn.Condition.not(
        sfn.Condition.isNull(kind === 'Hotfix' ? '$.plan.hotfix' : '$.plan.windowsUpdate'),
      );
    const pluginDoneChoices: Record<PluginKind, sfn.Choice> = {
      Hotfix: new sfn.Choice(this, 'AfterHotfixPlugin'),
      WindowsUpdate: new sfn.Choice(this, 'AfterWindowsUpdatePlugin'),
    };
    /** Where a plug-in ends (done, or failed without StopOnPluginFailure). */
    const pluginDone = (kind: PluginKind): sfn.IChainable => pluginDoneChoices[kind];
    // Filled in once the plug-ins' first attempts exist (below).
    const firstAttempt = {} as Record<PluginKind, sfn.IChainable>;
    /**
     * Adds to `choice`: when `guard`, run plug-in `kind` (its first attempt, or straight to its
     * end when its plan is empty); without `guard`, as the Choice's default.
     */
    const runPlugin = (choice: sfn.Choice, kind: PluginKind, guard?: sfn.Condition) =>
      guard
        ? choice
            .when(sfn.Condition.and(guard, pluginPlanned(kind)), firstAttempt[kind])
            .when(guard, pluginDone(kind))
        : choice.when(pluginPlanned(kind), firstAttempt[kind]).otherwise(pluginDone(kind));
    /** After plug-in `kind`: the other one when `kind` came first of two. */
    const nextPluginRules = (choice: sfn.Choice, kind: PluginKind) =>
      runPlugin(
        choice,
        otherPlugin(kind),
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.plugins[0].name', pluginName[kind]),
          sfn.Condition.isPresent('$.plugins[1]'),
        ),
      );
    /** The first plug-in; a removal may run none. */
    const startPluginRules = (choice: sfn.Choice) =>
      runPlugin(
        runPlugin(
          choice.when(sfn.Condition.not(sfn.Condition.isPresent('$.plugins[0]')), afterPlugins),
          'Hotfix',
          sfn.Condition.stringEquals('$.plugins[0].name', pluginName.Hotfix),
        ),
        'WindowsUpdate',
      );
    const wirePluginEnds = () => {
      for (const kind of ['Hotfix', 'WindowsUpdate'] as const) {
        const afterRestart = finalRules(
          nextPluginRules(new sfn.Choice(this, `NextAfter${kind}Plugin`), kind),
        );
        finalRules(
          nextPluginRules(
            whenRestart(
              pluginDoneChoices[kind],
              sfn.Condition.and(
                sfn.Condition.booleanEquals('$.policy.separateReboots', true),
                sfn.Condition.booleanEquals('$.state.restartPending', true),
              ),
              // Either plug-in's restart fails as NodeDidNotRestartAfterPlugin (FAILED_STEPS).
              restartChain(`After${kind}Plugin`, afterRestart, 'AfterPlugin'),
            ),
            kind,
          ),
        );
      }
    };

    /**
     * Before a retry: an update that failed for good (`neverRetry`, a SHA-256 mismatch) is not in
     * the retry, so the plug-in has failed whatever the retry gives (point 9).
     */
    const keepNeverRetried = (suffix: string, next: sfn.IChainable) =>
      new sfn.Choice(this, `FailedForGood${suffix}`)
        .when(
          sfn.Condition.isPresent('$.verdict.neverRetry[0]'),
          setState(`PluginFailedForGood${suffix}`, { pluginFailed: true }).next(next),
        )
        .otherwise(next);

    /**
     * Interprets a plug-in's install, retries failures, and records restart and failure.
     * `$.attempt.spent` counts the attempts MaxRetriesPerNode allows; the attempts that go on
     * after an installer's own restart (1641) do not spend one. `first` rules are checked before
     * the restart and failure rules (the hotfix plug-in's 1641 and busy servicing).
     */
    const verdict = (
      suffix: PluginKind,
      retry: sfn.IChainable,
      first: (judge: {
        retriesLeft: sfn.Condition;
        exhausted: sfn.IChainable;
      }) => [sfn.Condition, sfn.IChainable][] = () => [],
    ) => {
      const retriesLeft = sfn.Condition.numberLessThanJsonPath(
        '$.attempt.spent',
        '$.policy.maxRetriesPerNode',
      );
      const exhausted = setState(`PluginFailed${suffix}`, { pluginFailed: true }).next(
        new sfn.Choice(this, `StopOnPluginFailure${suffix}`)
          .when(sfn.Condition.booleanEquals('$.policy.stopOnPluginFailure', true), afterPlugins)
          .otherwise(pluginDone(suffix)),
      );
      // A failure that left a restart pending (Fail_RebootRequired, or a 3010 beside it) is
      // retried on a restarted node: the installer would otherwise meet the same pending state.
      const retryNow = keepNeverRetried(
        `OnRetry${suffix}`,
        whenRestart(
          new sfn.Choice(this, `RestartPendingOnRetry${suffix}`),
          sfn.Condition.booleanEquals('$.state.restartPending', true),
          restartChain(`BeforeRetry${suffix}`, retry),
        ).otherwise(retry),
      );
      const judge = new sfn.Choice(this, `InstallFailed${suffix}`)
        .when(
          sfn.Condition.and(
            sfn.Condition.booleanEquals('$.verdict.failed', true),
            sfn.Condition.booleanEquals('$.verdict.retryable', true),
            retriesLeft,
          ),
          retryNow,
        )
        .when(sfn.Condition.booleanEquals('$.verdict.failed', true), exhausted)
        .otherwise(pluginDone(suffix));
      const choice = new sfn.Choice(this, `NeedsRestart${suffix}`);
      for (const [condition, next] of first({ retriesLeft, exhausted }))
        choice.when(condition, next);
      return choice
        .when(
          sfn.Condition.booleanEquals('$.verdict.rebootRequired', true),
          setState(`MarkRestartPending${suffix}`, { restartPending: true }).next(judge),
        )
        .otherwise(judge);
    };

    const installHotfixes = catchAll(
      command(
        'InstallHotfixes',
        'installHotfixes',
        {
          bucket: sfn.JsonPath.stringAt('$.plan.hotfix.bucket'),
          timeoutMinutes: sfn.JsonPath.numberAt('$.plan.hotfix.timeoutMinutes'),
          updates: sfn.JsonPath.objectAt('$.attempt.items'),
        },
        '$.commands.install',
        '$.plan.hotfix.commandTimeoutSeconds',
      ),
      'InstallTimedOut',
    );
    const interpretHotfixes = catchAll(
      invoke(
        'InterpretHotfixes',
        f.interpretResults,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          attempt: sfn.JsonPath.numberAt('$.attempt.number'),
          plugin: 'Microsoft.HotfixPlugin',
          planned: sfn.JsonPath.objectAt('$.attempt.items'),
          command: sfn.JsonPath.objectAt('$.commands.install'),
          recordLedger: true,
          // Files updateSelection left out of the plan, for the report (issue 13 item 2).
          excluded: sfn.JsonPath.objectAt('$.plan.excluded'),
        },
        '$.verdict',
      ),
    );
    const retryHotfixes = new sfn.Pass(this, 'RetryFailedHotfixes', {
      parameters: {
        'number.$': 'States.MathAdd($.attempt.number, 1)',
        'spent.$': 'States.MathAdd($.attempt.spent, 1)',
        'items.$': '$.verdict.retryItems',
      },
      resultPath: '$.attempt',
    }).next(installHotfixes);

    // An installer exited 1641: the node is going down by itself. Wait for it to come back (a
    // boot time newer than the last one known), count the restart, then go on with the updates
    // it did not start, without spending a retry.
    const hotfixesAfterInstallerRestart = ({
      retriesLeft,
      exhausted,
    }: {
      retriesLeft: sfn.Condition;
      exhausted: sfn.IChainable;
    }): sfn.IChainable => {
      const goOn = new sfn.Pass(this, 'ContinueAfterInstallerRestart', {
        parameters: {
          'number.$': 'States.MathAdd($.attempt.number, 1)',
          'spent.$': '$.attempt.spent',
          'items.$': '$.verdict.retryItems',
        },
        resultPath: '$.attempt',
      }).next(installHotfixes);
      const afterBack = new sfn.Choice(this, 'AfterInstallerRestart')
        .when(
          sfn.Condition.and(
            sfn.Condition.booleanEquals('$.verdict.startedFailed', true),
            sfn.Condition.booleanEquals('$.verdict.retryable', true),
            retriesLeft,
          ),
          keepNeverRetried('AfterInstallerRestart', retryHotfixes),
        )
        .when(sfn.Condition.booleanEquals('$.verdict.startedFailed', true), exhausted)
        .when(sfn.Condition.booleanEquals('$.verdict.retryable', true), goOn)
        .otherwise(pluginDone('Hotfix'));
      const checkBoot = catchAll(
        command(
          'CheckBootAfterInstallerRestart',
          'inventory',
          { binaries: sfn.JsonPath.objectAt('$.plan.inventoryBinaries') },
          '$.commands.bootCheck',
          '$.preflight.timeouts.rebootSeconds',
        ),
        'RebootTimeout',
      );
      const startChecks = new sfn.Pass(this, 'StartBootChecks', {
        result: sfn.Result.fromObject({ count: 0 }),
        resultPath: '$.bootChecks',
      }).next(checkBoot);
      // Not back yet: the check ran before the node went down, or SSM gave up delivering it
      // while the node was down. Ask again (SSM delivers it once the agent is back), a few times.
      const again = new sfn.Choice(this, 'BootCheckAgain')
        .when(
          sfn.Condition.numberLessThan('$.bootChecks.count', MAX_BOOT_CHECKS),
          new sfn.Pass(this, 'CountBootCheck', {
            parameters: { 'count.$': 'States.MathAdd($.bootChecks.count, 1)' },
            resultPath: '$.bootChecks',
          }).next(checkBoot),
        )
        .otherwise(fail('NodeDidNotRestartAfter1641'));
      checkBoot.next(
        new sfn.Choice(this, 'BootCheckAnswered')
          .when(
            succeeded('$.commands.bootCheck.status'),
            new sfn.Choice(this, 'NodeBackFromInstallerRestart')
              .when(
                sfn.Condition.not(
                  sfn.Condition.stringEqualsJsonPath(
                    '$.commands.bootCheck.results[0].lastBootTime',
                    '$.boot.lastBootTime',
                  ),
                ),
                new sfn.Pass(this, 'RestartedByInstaller', {
                  parameters: {
                    'drained.$': '$.state.drained',
                    'drainedEver.$': '$.state.drainedEver',
                    restartPending: false,
                    'restarts.$': 'States.MathAdd($.state.restarts, 1)',
                    'pluginFailed.$': '$.state.pluginFailed',
                  },
                  resultPath: '$.state',
                }).next(afterBack),
              )
              .otherwise(again),
          )
          .otherwise(again),
      );
      // The boot time to compare with: the latest the node reported (the inventory, the last
      // restart, an earlier boot check). Round-trip UTC times (`o`) sort as text.
      const newer = (id: string, path: string, next: sfn.IChainable) =>
        new sfn.Choice(this, `BootTimeFrom${id}`)
          .when(
            sfn.Condition.isPresent(path),
            new sfn.Choice(this, `BootTimeFrom${id}Newer`)
              .when(
                sfn.Condition.stringGreaterThanJsonPath(path, '$.boot.lastBootTime'),
                new sfn.Pass(this, `BootTimeIs${id}`, {
                  parameters: { 'lastBootTime.$': path },
                  resultPath: '$.boot',
                }).next(next),
              )
              .otherwise(next),
          )
          .otherwise(next);
      return new sfn.Pass(this, 'BootTimeFromInventory', {
        parameters: { 'lastBootTime.$': '$.commands.inventory.results[0].lastBootTime' },
        resultPath: '$.boot',
      }).next(
        newer(
          'Restart',
          '$.commands.restart.results[0].lastBootTime',
          newer('BootCheck', '$.commands.bootCheck.results[0].lastBootTime', startChecks),
        ),
      );
    };

    // Servicing still busy under a timed-out installer: neither restart the node on top of it
    // nor fail its roles back; resume with NoFailback and leave the restart to the operator.
    const servicingBusy = new sfn.Pass(this, 'ServicingBusyResumeWithoutFailback', {
      result: sfn.Result.fromString('NoFailback'),
      resultPath: '$.policy.failbackMode',
    }).next(
      setState('ServicingBusyPluginFailed', { pluginFailed: true }).next(
        fail('ServicingBusyNotRestarted'),
      ),
    );

    installHotfixes.next(interpretHotfixes).next(
      verdict('Hotfix', retryHotfixes, (judge) => [
        [sfn.Condition.booleanEquals('$.verdict.servicingBusy', true), servicingBusy],
        [
          sfn.Condition.booleanEquals('$.verdict.rebootInitiated', true),
          hotfixesAfterInstallerRestart(judge),
        ],
      ]),
    );
    firstAttempt.Hotfix = new sfn.Pass(this, 'FirstHotfixAttempt', {
      // The plan's items as hotpatch-eligibility returns them (with /hotpatch:enable).
      parameters: { number: 1, spent: 1, 'items.$': '$.eligibility.updates' },
      resultPath: '$.attempt',
    }).next(installHotfixes);

    const installWindowsUpdates = catchAll(
      command(
        'InstallWindowsUpdates',
        'windowsUpdate',
        {
          queryString: sfn.JsonPath.stringAt('$.plan.windowsUpdate.queryString'),
          includeRecommendedUpdates: sfn.JsonPath.objectAt(
            '$.plan.windowsUpdate.includeRecommendedUpdates',
          ),
          timeoutMinutes: sfn.JsonPath.numberAt('$.plan.windowsUpdate.timeoutMinutes'),
          // The rollout's updateSelection (issue 13 item 2), or null: the node filters by it.
          selection: sfn.JsonPath.objectAt('$.plan.windowsUpdate.selection'),
        },
        '$.commands.windowsUpdate',
        '$.plan.windowsUpdate.commandTimeoutSeconds',
      ),
      'WindowsUpdateTimedOut',
    );
    const interpretWindowsUpdates = catchAll(
      invoke(
        'InterpretWindowsUpdates',
        f.interpretResults,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          attempt: sfn.JsonPath.numberAt('$.attempt.number'),
          plugin: 'Microsoft.WindowsUpdatePlugin',
          command: sfn.JsonPath.objectAt('$.commands.windowsUpdate'),
          recordLedger: true,
        },
        '$.verdict',
      ),
    );
    const retryWindowsUpdates = new sfn.Pass(this, 'RetryWindowsUpdates', {
      parameters: {
        'number.$': 'States.MathAdd($.attempt.number, 1)',
        'spent.$': 'States.MathAdd($.attempt.spent, 1)',
      },
      resultPath: '$.attempt',
    }).next(installWindowsUpdates);
    installWindowsUpdates
      .next(interpretWindowsUpdates)
      .next(verdict('WindowsUpdate', retryWindowsUpdates));
    firstAttempt.WindowsUpdate = new sfn.Pass(this, 'FirstWindowsUpdateAttempt', {
      parameters: { number: 1, spent: 1 },
      resultPath: '$.attempt',
    }).next(installWindowsUpdates);
    wirePluginEnds();
    const startPlugins = startPluginRules(new sfn.Choice(this, 'StartPlugins'));

    // -- removal (KB823836 order, computed by the API), before the plug-ins -------------------
    /** `then` when the run removes updates (`$.removal` present and not null), else `otherwise`. */
    const ifRemoval = (id: string, then: sfn.IChainable, otherwise: sfn.IChainable) =>
      new sfn.Choice(this, `${id}HasRemoval`)
        .when(
          sfn.Condition.isPresent('$.removal'),
          new sfn.Choice(this, `${id}RemovalNotNull`)
            .when(sfn.Condition.not(sfn.Condition.isNull('$.removal')), then)
            .otherwise(otherwise),
        )
        .otherwise(otherwise);
    const removeUpdates = catchAll(
      command(
        'RemoveUpdates',
        'removeUpdates',
        {
          timeoutMinutes: sfn.JsonPath.numberAt('$.removal.timeoutMinutes'),
          updates: sfn.JsonPath.objectAt('$.removal.updates'),
        },
        '$.commands.removal',
        '$.removal.commandTimeoutSeconds',
      ),
      'RemovalTimedOut',
    );
    const interpretRemoval = catchAll(
      invoke(
        'InterpretRemoval',
        f.interpretResults,
        {
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          attempt: 1,
          plugin: 'Rollout.Removal',
          removals: sfn.JsonPath.objectAt('$.removal.updates'),
          command: sfn.JsonPath.objectAt('$.commands.removal'),
          recordLedger: true,
        },
        '$.verdict',
      ),
    );
    // A removal always needs a restart (KB897341); a failed one skips the plug-ins, and the
    // node is still restarted, verified and resumed before it is recorded failed.
    removeUpdates
      .next(interpretRemoval)
      .next(
        setState('MarkRemovalRestartPending', { restartPending: true }).next(
          new sfn.Choice(this, 'RemovalFailed')
            .when(
              sfn.Condition.booleanEquals('$.verdict.failed', true),
              setState('MarkRemovalFailed', { pluginFailed: true }).next(afterPlugins),
            )
            .otherwise(startPlugins),
        ),
      );
    // The removal's check and the first plug-in's are one Choice (issue 11 item 6).
    const beforePlugins = startPluginRules(
      new sfn.Choice(this, 'BeforePlugins').when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.removal'),
          sfn.Condition.not(sfn.Condition.isNull('$.removal')),
        ),
        removeUpdates,
      ),
    );

    // -- wiring -------------------------------------------------------------------------------
    // A restart already pending before the run (the inventory sees it) is done first, drained:
    // installers on such a node fail or stack their own restart on it, and CAU restarts first.
    const pendingAtStart = sfn.Condition.booleanEquals(
      '$.commands.inventory.results[0].pendingReboot',
      true,
    );
    const restartPendingFirst = restartChain('BeforeInstall', beforePlugins);
    drain.next(
      new sfn.Choice(this, 'DrainSucceeded')
        .when(
          sfn.Condition.and(
            succeeded('$.commands.drain.status'),
            pendingAtStart,
            sfn.Condition.not(rebootNever),
          ),
          new sfn.Pass(this, 'MarkDrainedRestartPending', {
            parameters: {
              drained: true,
              drainedEver: true,
              restartPending: true,
              'restarts.$': '$.state.restarts',
              'pluginFailed.$': '$.state.pluginFailed',
            },
            resultPath: '$.state',
          }).next(restartPendingFirst.restart),
        )
        .when(succeeded('$.commands.drain.status'), markDrained.next(beforePlugins))
        .otherwise(drainFailed),
    );
    /**
     * Adds the drain's rules to `choice` (a cluster node is drained when a restart is possible,
     * or the run says so; a restart pending before the run comes first). One Choice with the
     * pre-update script's (issue 11 item 6): built twice, before and after the script.
     */
    const drainRules = (choice: sfn.Choice) =>
      whenRestart(
        choice.when(
          sfn.Condition.and(
            sfn.Condition.stringEquals('$.target.kind', 'cluster'),
            sfn.Condition.or(
              sfn.Condition.stringEquals('$.drain', 'always'),
              rebootAlways,
              sfn.Condition.and(
                sfn.Condition.not(rebootNever),
                sfn.Condition.or(
                  sfn.Condition.booleanEquals('$.eligibility.restartPossible', true),
                  sfn.Condition.not(sfn.Condition.isNull('$.plan.windowsUpdate')),
                ),
              ),
              // Never: no restart of ours, so no drain for one; but a hotfix installer that is not
              // hotpatched may restart the node itself (1641, DOMAIN §5), and a cluster node must be
              // drained before such an installer runs.
              sfn.Condition.and(
                rebootNever,
                sfn.Condition.not(sfn.Condition.isNull('$.plan.hotfix')),
                sfn.Condition.booleanEquals('$.eligibility.restartPossible', true),
              ),
            ),
          ),
          drain,
        ),
        pendingAtStart,
        restartPendingFirst,
      ).otherwise(beforePlugins);
    const afterEligibility = scriptStep(
      'pre',
      { entry: 'NeedsDrain', succeeded: 'PreUpdateScriptSucceeded' },
      drainRules,
    );
    eligibility.next(afterEligibility);
    noEligibility.next(afterEligibility);

    // A cluster member not Up before anything is drained (paused by an operator, down): CAU
    // refuses to run. The node is recorded NotStarted with what its inventory saw, untouched, and
    // the workflow fails so that the rollout stops the run (`ClusterNodeNotUp`, rollout-workflow).
    const inventoryChecked = () => {
      const notUpPath = '$.commands.inventory.results[0].cluster.notUp';
      const stop = new sfn.Pass(this, 'ClusterNodeNotUp', {
        parameters: {
          'reason.$': `States.Format('ClusterNodeNotUp: {} in cluster {}, found before any drain; nothing was changed on this node', ${notUpPath}, $.commands.inventory.results[0].cluster.name)`,
        },
        resultPath: '$.failure',
      })
        .next(
          catchAll(
            invoke(
              'RecordClusterNodeNotUp',
              f.runHistory,
              {
                action: 'recordNode',
                runId: sfn.JsonPath.stringAt('$.runId'),
                node: sfn.JsonPath.stringAt('$.node.name'),
                result: {
                  status: 'NotStarted',
                  instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
                  reason: sfn.JsonPath.stringAt('$.failure.reason'),
                  clusterNotUp: sfn.JsonPath.stringAt(notUpPath),
                  drained: false,
                  restarts: 0,
                  startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
                  execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
                },
              },
              null,
            ),
          ),
        )
        .next(
          new sfn.Fail(this, 'StoppedAtClusterNodeNotUp', {
            error: 'ClusterNodeNotUp',
            causePath: '$.failure.reason',
          }),
        );
      // One Choice after the inventory (issue 11 item 6): failed, a member not Up, or on to the
      // hotfixes' eligibility. The rules' order guards the paths: notUp is compared only once
      // a rule before has found it present.
      const hotfixPlanned = sfn.Condition.not(sfn.Condition.isNull('$.plan.hotfix'));
      // A group target restarts its nodes undrained: a node whose inventory names a cluster
      // (null for a standalone server, always present) is refused before anything is changed
      // on it, and counts against the failure budget. Draining instead could take several
      // nodes of one cluster out at once and lose its quorum.
      const clusterPath = '$.commands.inventory.results[0].cluster';
      const memberInGroup = new sfn.Pass(this, 'Failure_ClusterMemberInGroupTarget', {
        parameters: {
          'reason.$': `States.Format('ClusterMemberInGroupTarget: node {} is a member of cluster {} ({}): target the cluster so its nodes are drained one at a time; nothing was changed on this node', $.node.name, ${clusterPath}.name, ${clusterPath}.nodeState)`,
        },
        resultPath: '$.failure',
      }).next(failureCleanup);
      const notListed = sfn.Condition.not(sfn.Condition.isPresent(notUpPath));
      return new sfn.Choice(this, 'InventoryChecked')
        .when(sfn.Condition.not(succeeded('$.commands.inventory.status')), fail('InventoryFailed'))
        .when(
          sfn.Condition.and(
            sfn.Condition.stringEquals('$.target.kind', 'group'),
            sfn.Condition.not(sfn.Condition.isNull(clusterPath)),
          ),
          memberInGroup,
        )
        .when(sfn.Condition.and(notListed, hotfixPlanned), eligibility)
        .when(notListed, noEligibility)
        .when(sfn.Condition.not(sfn.Condition.stringEquals(notUpPath, '')), stop)
        .when(hotfixPlanned, eligibility)
        .otherwise(noEligibility);
    };

    const definition = init.next(preflight).next(
      new sfn.Choice(this, 'StopAfterReached')
        .when(sfn.Condition.booleanEquals('$.preflight.pastStopAfter', true), notStarted)
        .when(sfn.Condition.booleanEquals('$.preflight.online', false), fail('NodeOffline'))
        .otherwise(
          plan.next(
            new sfn.Choice(this, 'AnythingToInstall')
              .when(
                sfn.Condition.booleanEquals('$.plan.nothingToInstall', true),
                ifRemoval('NothingToInstall', inventory, nothingToInstall),
              )
              .otherwise(inventory.next(inventoryChecked())),
          ),
        ),
    );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: stateMachineLogging(props.logGroup),
      comment:
        'Updates one Windows node: drain, install, restart when needed, resume (CAU semantics)',
    });
    acknowledgeWorkflowFindings(this.stateMachine, [
      f.preflight,
      f.planNode,
      f.hotpatchEligibility,
      f.sendCommand,
      f.cancelCommand,
      f.interpretResults,
      f.runHistory,
    ]);
  }
}
