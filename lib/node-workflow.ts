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

/** Props of {@link NodeWorkflow}. */
export interface NodeWorkflowProps {
  readonly functions: {
    readonly preflight: lambda.IFunction;
    readonly planNode: lambda.IFunction;
    readonly hotpatchEligibility: lambda.IFunction;
    readonly sendCommand: lambda.IFunction;
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
 * polling), under a timeout. A node whose drain succeeded is always resumed, even on failure.
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
          }),
          taskTimeout:
            typeof timeout === 'number'
              ? sfn.Timeout.duration(Duration.seconds(timeout))
              : sfn.Timeout.at(timeout),
          resultPath,
        }),
      );

    const succeeded = (path: string) => sfn.Condition.stringEquals(path, 'Success');

    const record = (name: string, status: string, reasonPath?: string) =>
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
            reason: reasonPath ? sfn.JsonPath.stringAt(reasonPath) : status,
            drained: sfn.JsonPath.objectAt('$.state.drainedEver'),
            restarts: sfn.JsonPath.numberAt('$.state.restarts'),
            // Still drained at the end: its resume failed, the node is left Paused (point 8).
            leftPaused: sfn.JsonPath.objectAt('$.state.drained'),
            startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
            execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
          },
        },
        null,
      );

    // -- failure handling: resume a drained node, record, fail --------------------------------
    const nodeFailed = new sfn.Fail(this, 'NodeFailed', {
      error: 'NodeUpdateFailed',
      cause: 'the node was not updated; see the run history for the reason',
    });
    const recordFailed = record('RecordNodeFailed', 'Failed', '$.failure.reason').next(nodeFailed);
    const resumeAfterFailure = command(
      'ResumeAfterFailure',
      'resume',
      { failbackMode: sfn.JsonPath.stringAt('$.policy.failbackMode') },
      '$.commands.resumeAfterFailure',
      commandSeconds,
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
    const catchAll = <T extends sfn.TaskStateBase>(task: T, timeoutReason?: string): T => {
      if (timeoutReason)
        task.addCatch(fail(timeoutReason), { errors: ['States.Timeout'], resultPath: '$.error' });
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
    const preScript = catchAll(
      command(
        'PreUpdateScript',
        'runScript',
        { phase: 'pre', script: sfn.JsonPath.stringAt('$.policy.preUpdateScript') },
        '$.commands.preScript',
        commandSeconds,
      ),
      'PreUpdateScriptTimedOut',
    );
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
    // However the drain ends badly (failed, timed out, errored), the node may be paused.
    drain.addCatch(drainFailed, { resultPath: '$.error' });

    // -- restart (used after a plug-in with SeparateReboots, and once at the end) ------------
    const restartChain = (suffix: string, next: sfn.IChainable) => {
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
      return restart.next(
        new sfn.Choice(this, `RestartSucceeded${suffix}`)
          .when(succeeded('$.commands.restart.status'), restarted.next(next))
          .otherwise(fail(`NodeDidNotRestart${suffix}`)),
      );
    };
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
    const recordSucceededTask = record('RecordNodeSucceeded', 'Succeeded');
    // The node is updated whatever the write does: a history write that fails after its retries
    // must not turn the node Failed (the run's report then shows it without a recorded result).
    recordSucceededTask.addCatch(
      new sfn.Pass(this, 'NodeUpdatedNotRecorded', { resultPath: sfn.JsonPath.DISCARD }).next(
        nodeUpdated,
      ),
      { resultPath: '$.recordError' },
    );
    const recordSucceeded = recordSucceededTask.next(nodeUpdated);
    const outcome = new sfn.Choice(this, 'AnyPluginFailed')
      .when(sfn.Condition.booleanEquals('$.state.pluginFailed', true), fail('UpdateFailed'))
      .otherwise(recordSucceeded);
    const postScript = catchAll(
      command(
        'PostUpdateScript',
        'runScript',
        { phase: 'post', script: sfn.JsonPath.stringAt('$.policy.postUpdateScript') },
        '$.commands.postScript',
        commandSeconds,
      ),
      'PostUpdateScriptTimedOut',
    );
    const afterResume = new sfn.Choice(this, 'HasPostUpdateScript')
      .when(
        sfn.Condition.isPresent('$.policy.postUpdateScript'),
        postScript.next(
          new sfn.Choice(this, 'PostUpdateScriptSucceeded')
            .when(succeeded('$.commands.postScript.status'), outcome)
            .otherwise(fail('PostUpdateScriptFailed')),
        ),
      )
      .otherwise(outcome);
    const resume = catchAll(
      command(
        'Resume',
        'resume',
        { failbackMode: sfn.JsonPath.stringAt('$.policy.failbackMode') },
        '$.commands.resume',
        commandSeconds,
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
    const resumeIfDrained = new sfn.Choice(this, 'WasDrained')
      .when(
        sfn.Condition.booleanEquals('$.state.drained', true),
        resume.next(
          new sfn.Choice(this, 'ResumeSucceeded')
            .when(succeeded('$.commands.resume.status'), markResumed.next(afterResume))
            .otherwise(fail('ResumeFailed')),
        ),
      )
      .otherwise(afterResume);
    const verify = catchAll(
      command(
        'Verify',
        'inventory',
        { binaries: sfn.JsonPath.objectAt('$.plan.inventoryBinaries') },
        '$.commands.verify',
        commandSeconds,
      ),
      'VerifyTimedOut',
    );
    verify.next(
      new sfn.Choice(this, 'NodeAnswered')
        .when(succeeded('$.commands.verify.status'), resumeIfDrained)
        .otherwise(fail('NodeDidNotAnswerAfterUpdate')),
    );
    const afterPlugins = new sfn.Choice(this, 'RestartPending')
      .when(
        sfn.Condition.booleanEquals('$.state.restartPending', true),
        restartChain('Final', verify),
      )
      .otherwise(verify);

    // -- plug-ins, in the run's order ---------------------------------------------------------
    const nextPlugin = new sfn.Pass(this, 'NextPlugin', {
      parameters: {
        'index.$': 'States.MathAdd($.loop.index, 1)',
        'count.$': '$.loop.count',
      },
      resultPath: '$.loop',
    });
    const pluginDone = new sfn.Choice(this, 'RestartAfterThisPlugin')
      .when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals('$.policy.separateReboots', true),
          sfn.Condition.booleanEquals('$.state.restartPending', true),
        ),
        restartChain('AfterPlugin', nextPlugin),
      )
      .otherwise(nextPlugin);

    /** Interprets a plug-in's install, retries failures, and records restart and failure. */
    const verdict = (suffix: string, retry: sfn.IChainable) => {
      const retriesLeft = sfn.Condition.numberLessThanJsonPath(
        '$.attempt.number',
        '$.policy.maxRetriesPerNode',
      );
      const exhausted = setState(`PluginFailed${suffix}`, { pluginFailed: true }).next(
        new sfn.Choice(this, `StopOnPluginFailure${suffix}`)
          .when(sfn.Condition.booleanEquals('$.policy.stopOnPluginFailure', true), afterPlugins)
          .otherwise(pluginDone),
      );
      const judge = new sfn.Choice(this, `InstallFailed${suffix}`)
        .when(
          sfn.Condition.and(sfn.Condition.booleanEquals('$.verdict.failed', true), retriesLeft),
          retry,
        )
        .when(sfn.Condition.booleanEquals('$.verdict.failed', true), exhausted)
        .otherwise(pluginDone);
      return new sfn.Choice(this, `NeedsRestart${suffix}`)
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
        },
        '$.verdict',
      ),
    );
    const retryHotfixes = new sfn.Pass(this, 'RetryFailedHotfixes', {
      parameters: {
        'number.$': 'States.MathAdd($.attempt.number, 1)',
        'items.$': '$.verdict.retryItems',
      },
      resultPath: '$.attempt',
    }).next(installHotfixes);
    installHotfixes.next(interpretHotfixes).next(verdict('Hotfix', retryHotfixes));
    const hotfixPlugin = new sfn.Choice(this, 'HotfixesPlanned')
      .when(
        sfn.Condition.not(sfn.Condition.isNull('$.plan.hotfix')),
        new sfn.Pass(this, 'FirstHotfixAttempt', {
          parameters: { number: 1, 'items.$': '$.plan.hotfix.updates' },
          resultPath: '$.attempt',
        }).next(installHotfixes),
      )
      .otherwise(pluginDone);

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
      parameters: { 'number.$': 'States.MathAdd($.attempt.number, 1)' },
      resultPath: '$.attempt',
    }).next(installWindowsUpdates);
    installWindowsUpdates
      .next(interpretWindowsUpdates)
      .next(verdict('WindowsUpdate', retryWindowsUpdates));
    const windowsUpdatePlugin = new sfn.Choice(this, 'WindowsUpdatePlanned')
      .when(
        sfn.Condition.not(sfn.Condition.isNull('$.plan.windowsUpdate')),
        new sfn.Pass(this, 'FirstWindowsUpdateAttempt', {
          parameters: { number: 1 },
          resultPath: '$.attempt',
        }).next(installWindowsUpdates),
      )
      .otherwise(pluginDone);

    const selectPlugin = new sfn.Pass(this, 'SelectPlugin', {
      parameters: { 'plugin.$': 'States.ArrayGetItem($.plugins, $.loop.index)' },
      resultPath: '$.current',
    }).next(
      new sfn.Choice(this, 'WhichPlugin')
        .when(
          sfn.Condition.stringEquals('$.current.plugin.name', 'Microsoft.HotfixPlugin'),
          hotfixPlugin,
        )
        .otherwise(windowsUpdatePlugin),
    );
    // A removal may run no plug-in at all: the loop checks its count before the first one.
    const morePlugins = new sfn.Choice(this, 'MorePlugins')
      .when(sfn.Condition.numberLessThanJsonPath('$.loop.index', '$.loop.count'), selectPlugin)
      .otherwise(afterPlugins);
    nextPlugin.next(morePlugins);
    const startPlugins = new sfn.Pass(this, 'StartPlugins', {
      parameters: { index: 0, 'count.$': 'States.ArrayLength($.plugins)' },
      resultPath: '$.loop',
    }).next(morePlugins);

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
    const beforePlugins = ifRemoval('BeforePlugins', removeUpdates, startPlugins);

    // -- wiring -------------------------------------------------------------------------------
    const needDrain = new sfn.Choice(this, 'NeedsDrain')
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.target.kind', 'cluster'),
          sfn.Condition.or(
            sfn.Condition.stringEquals('$.drain', 'always'),
            sfn.Condition.booleanEquals('$.eligibility.restartPossible', true),
            sfn.Condition.not(sfn.Condition.isNull('$.plan.windowsUpdate')),
          ),
        ),
        drain.next(
          new sfn.Choice(this, 'DrainSucceeded')
            .when(succeeded('$.commands.drain.status'), markDrained.next(beforePlugins))
            .otherwise(drainFailed),
        ),
      )
      .otherwise(beforePlugins);
    const afterEligibility = new sfn.Choice(this, 'HasPreUpdateScript')
      .when(
        sfn.Condition.isPresent('$.policy.preUpdateScript'),
        preScript.next(
          new sfn.Choice(this, 'PreUpdateScriptSucceeded')
            .when(succeeded('$.commands.preScript.status'), needDrain)
            .otherwise(fail('PreUpdateScriptFailed')),
        ),
      )
      .otherwise(needDrain);
    eligibility.next(afterEligibility);
    noEligibility.next(afterEligibility);

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
              .otherwise(
                inventory.next(
                  new sfn.Choice(this, 'InventorySucceeded')
                    .when(
                      succeeded('$.commands.inventory.status'),
                      new sfn.Choice(this, 'HotfixesToJudge')
                        .when(sfn.Condition.not(sfn.Condition.isNull('$.plan.hotfix')), eligibility)
                        .otherwise(noEligibility),
                    )
                    .otherwise(fail('InventoryFailed')),
                ),
              ),
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
      f.interpretResults,
      f.runHistory,
    ]);
  }
}
