import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { healthGateCheck } from './health-gate-states.js';
import { acknowledge, arnToken, wildcardResource } from './nag.js';
import {
  acknowledgeWorkflowFindings,
  addLambdaRetries,
  lambdaTask,
  stateMachineLogging,
} from './workflow-common.js';

/**
 * Step Functions errors of a child execution's start that a later try can clear: throttling, the
 * open-executions limit and the SDK's transient failures.
 */
export const CHILD_EXECUTION_TRANSIENT_ERRORS = [
  'StepFunctions.ExecutionLimitExceededException',
  'StepFunctions.ThrottlingException',
  'StepFunctions.SdkClientException',
] as const;

/** Props of {@link RolloutWorkflow}. */
export interface RolloutWorkflowProps {
  readonly functions: {
    readonly validateInput: lambda.IFunction;
    /** Resolves a group target given by tags, Resource Group or manifest (issue 11). */
    readonly resolveTarget: lambda.IFunction;
    readonly runLock: lambda.IFunction;
    readonly runHistory: lambda.IFunction;
    readonly scan: lambda.IFunction;
    readonly approvalGate: lambda.IFunction;
    /** Sends the role-count inventory of the computed node order (issue 13, item 7). */
    readonly sendCommand: lambda.IFunction;
    /** Reads the rollout's CloudWatch alarms at a health gate (issue 13, item 1). */
    readonly checkAlarms: lambda.IFunction;
  };
  /** The per-node workflow, started once per node as a child execution. */
  readonly nodeWorkflow: sfn.IStateMachine;
  /** Where the scan writes a fleet's node list and the fleet map writes its results. */
  readonly artifactsBucket: s3.IBucket;
  readonly logGroup: logs.ILogGroup;
  /**
   * The target lock's lease. The lock names the run's execution and is never lost by time while
   * that execution runs; the lease only bounds how long a competitor waits for a claimed
   * execution it cannot see yet. Each node's preflight still renews it.
   * @default Duration.hours(6)
   */
  readonly lockLease?: Duration;
}

/**
 * The rollout workflow: one run over a failover cluster or a group of standalone servers.
 *
 * Validate the input (a failure names the field) → take the target's lock → record the run →
 * scan (what would install where; RequireAllNodesOnline) → update the nodes, each in its own
 * child execution of the node workflow → record the final status → always release the lock.
 *
 * A cluster's nodes run one at a time in `NodeOrder` in a loop that stops as soon as more than
 * `MaxFailedNodes` have failed, leaving later nodes untouched (CAU). A group runs in a
 * Distributed Map with `maxConcurrency` and `MaxFailedNodes` as its tolerated failure count:
 * its iterations are child executions, so the parent's history does not grow with the fleet.
 */
export class RolloutWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: RolloutWorkflowProps) {
    super(scope, id);
    const f = props.functions;
    const leaseSeconds = (props.lockLease ?? Duration.hours(6)).toSeconds();

    const invoke = (
      name: string,
      fn: lambda.IFunction,
      payload: Record<string, unknown>,
      resultPath: string | null,
    ) => lambdaTask(this, name, fn, payload, resultPath);

    // -- validation and the lock ----------------------------------------------------------
    const validate = invoke(
      'ValidateInput',
      f.validateInput,
      {
        input: sfn.JsonPath.entirePayload,
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
        startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      },
      '$',
    );
    validate.addCatch(
      new sfn.Fail(this, 'InvalidInput', {
        error: 'InvalidRolloutInput',
        causePath: '$.error.Cause',
      }),
      { errors: ['InvalidRolloutInput', 'InvalidEvent'], resultPath: '$.error' },
    );
    const acquire = invoke(
      'AcquireLock',
      f.runLock,
      {
        action: 'acquire',
        target: sfn.JsonPath.stringAt('$.target.name'),
        runId: sfn.JsonPath.stringAt('$.runId'),
        // The lock names this execution: while it runs, nobody takes the lock, whatever it waits on.
        execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
        leaseSeconds,
      },
      '$.lock',
    );
    acquire.addCatch(
      new sfn.Fail(this, 'TargetLocked', { error: 'TargetLocked', causePath: '$.error.Cause' }),
      { errors: ['LockHeld'], resultPath: '$.error' },
    );

    // -- every failure after the lock is taken: record, release, fail --------------------------
    const rolloutError = new sfn.Fail(this, 'RolloutError', {
      error: 'RolloutError',
      causePath: '$.error.Cause',
    });
    const releaseAfterError = invoke(
      'ReleaseLockAfterError',
      f.runLock,
      {
        action: 'release',
        target: sfn.JsonPath.stringAt('$.target.name'),
        runId: sfn.JsonPath.stringAt('$.runId'),
      },
      null,
    ).next(rolloutError);
    const finishAfterError = invoke(
      'FinishRunAfterError',
      f.runHistory,
      {
        action: 'finishRun',
        runId: sfn.JsonPath.stringAt('$.runId'),
        error: sfn.JsonPath.objectAt('$.error'),
      },
      '$.summary',
    );
    finishAfterError.addCatch(releaseAfterError, { resultPath: '$.finishError' });
    finishAfterError.next(releaseAfterError);
    const onError = <T extends sfn.TaskStateBase | sfn.Map | sfn.DistributedMap>(state: T): T => {
      state.addCatch(finishAfterError, { resultPath: '$.error' });
      return state;
    };

    const startRun = onError(
      invoke(
        'RecordRunStarted',
        f.runHistory,
        {
          action: 'startRun',
          run: {
            runId: sfn.JsonPath.stringAt('$.runId'),
            target: sfn.JsonPath.stringAt('$.target.name'),
            targetKind: sfn.JsonPath.stringAt('$.target.kind'),
            nodes: sfn.JsonPath.listAt('$.target.nodes[*].name'),
            maxFailedNodes: sfn.JsonPath.numberAt('$.policy.maxFailedNodes'),
            deadlines: sfn.JsonPath.objectAt('$.deadlines'),
            changeTicket: sfn.JsonPath.objectAt('$.changeTicket'),
            requestedBy: sfn.JsonPath.objectAt('$.requestedBy'),
            rebootOption: sfn.JsonPath.stringAt('$.rebootOption'),
            targetResolution: sfn.JsonPath.objectAt('$.targetResolution'),
            // Issue 11: maxConcurrency and the percentages as resolved, for the report.
            policy: sfn.JsonPath.objectAt('$.policy'),
            startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
            execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
          },
        },
        null,
      ),
    );
    const scan = onError(invoke('Scan', f.scan, { rollout: sfn.JsonPath.entirePayload }, '$.scan'));

    // -- the nodes ------------------------------------------------------------------------
    const nodeInput = (nodePath: string) =>
      sfn.TaskInput.fromObject({
        runId: sfn.JsonPath.stringAt('$.runId'),
        target: {
          kind: sfn.JsonPath.stringAt('$.target.kind'),
          name: sfn.JsonPath.stringAt('$.target.name'),
        },
        node: {
          name: sfn.JsonPath.stringAt(`${nodePath}.name`),
          instanceId: sfn.JsonPath.stringAt(`${nodePath}.instanceId`),
        },
        plugins: sfn.JsonPath.objectAt('$.plugins'),
        policy: sfn.JsonPath.objectAt('$.policy'),
        drain: sfn.JsonPath.stringAt('$.drain'),
        rebootOption: sfn.JsonPath.stringAt('$.rebootOption'),
        deadlines: sfn.JsonPath.objectAt('$.deadlines'),
        removal: sfn.JsonPath.objectAt('$.removal'),
        leaseSeconds,
      });

    /**
     * Starts the node workflow for one node, as a child execution named `<runId>-<node>`, with a
     * Retry for Step Functions' transient errors on both paths (cluster loop and fleet maps): a
     * throttled StartExecution must not count a node as failed.
     */
    const startNodeWorkflow = (id: string, nodePath: string) =>
      new tasks.StepFunctionsStartExecution(this, id, {
        stateMachine: props.nodeWorkflow,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        associateWithParent: true,
        name: sfn.JsonPath.format(
          '{}-{}',
          sfn.JsonPath.stringAt('$.runId'),
          sfn.JsonPath.stringAt(`${nodePath}.name`),
        ),
        input: nodeInput(nodePath),
        resultPath: sfn.JsonPath.DISCARD,
      }).addRetry({
        errors: [...CHILD_EXECUTION_TRANSIENT_ERRORS],
        interval: Duration.seconds(5),
        maxAttempts: 5,
        backoffRate: 2,
      });

    const finish = invoke(
      'RecordRunFinished',
      f.runHistory,
      { action: 'finishRun', runId: sfn.JsonPath.stringAt('$.runId') },
      '$.summary',
    );
    finish.addCatch(releaseAfterError, { resultPath: '$.error' });

    // Approval gates: after the pilot nodes the run waits for approve or reject (task token,
    // stored on the run by the approval-gate function, completed by the API). A reject, a
    // cancel or no decision in time ends the run Cancelled; the lock is still released.
    const calledOff = invoke(
      'RecordRunCalledOff',
      f.runHistory,
      {
        action: 'finishRun',
        runId: sfn.JsonPath.stringAt('$.runId'),
        cancelledBy: sfn.JsonPath.objectAt('$.approvalError'),
      },
      '$.summary',
    );
    calledOff.addCatch(releaseAfterError, { resultPath: '$.error' });
    const approvalGate = (
      id: string,
      gate: {
        afterNodes: string;
        timeoutMinutes: string;
        timeoutSeconds: string;
        /** A phase's approval: the phase, so the text and the event name it (issue 13). */
        phase?: string;
      } = {
        afterNodes: '$.approvalGate.afterNodes',
        timeoutMinutes: '$.approvalGate.timeoutMinutes',
        timeoutSeconds: '$.approvalGate.timeoutSeconds',
      },
    ) => {
      const task = addLambdaRetries(
        new tasks.LambdaInvoke(this, id, {
          lambdaFunction: f.approvalGate,
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({
            taskToken: sfn.JsonPath.taskToken,
            runId: sfn.JsonPath.stringAt('$.runId'),
            target: sfn.JsonPath.stringAt('$.target.name'),
            afterNodes: sfn.JsonPath.numberAt(gate.afterNodes),
            timeoutMinutes: sfn.JsonPath.numberAt(gate.timeoutMinutes),
            ...(gate.phase ? { phase: sfn.JsonPath.objectAt(gate.phase) } : {}),
            changeTicket: sfn.JsonPath.objectAt('$.changeTicket'),
          }),
          taskTimeout: sfn.Timeout.at(gate.timeoutSeconds),
          resultPath: '$.approval',
        }),
      );
      task.addCatch(calledOff, {
        errors: ['ApprovalRejected', 'RolloutCancelled', 'States.Timeout'],
        resultPath: '$.approvalError',
      });
      task.addCatch(finishAfterError, { resultPath: '$.error' });
      return task;
    };

    // Phases (issue 13, item 4): at a phase's end, its verdict (failures in the phase against
    // failuresAllowed; an event), then its bake (a loop of waits) or its approval, then the alarms slot,
    // then the next phase. A phase over its criteria stops the run there. MaxFailedNodes keeps
    // counting across phases as it does across the pilot gate.
    const stoppedAtPhase = invoke(
      'RecordRunStoppedAtPhase',
      f.runHistory,
      {
        action: 'finishRun',
        runId: sfn.JsonPath.stringAt('$.runId'),
        error: { Error: 'PhaseCriteriaNotMet', 'Cause.$': '$.phaseVerdict.reason' },
      },
      '$.summary',
    );
    stoppedAtPhase.addCatch(releaseAfterError, { resultPath: '$.error' });
    // A phase's bake (issue 13, item 1: alarms are read during a bake time): a loop of shorter
    // waits (healthGates.checkEveryMinutes, default 5). Each check reads the run's cancel flag
    // (a cancel ends the run there, not at the bake's end) and, with health gates and the
    // phase's alarmsQuiet, the alarms (the 'bake' gate: stop or hold, as every gate). The bake's
    // end goes on to the phase's own end-of-bake gate (`done`).
    const phaseBake = (kind: 'Cluster' | 'Fleet', done: sfn.IChainable) => {
      const tick = onError(
        invoke(
          `Check${kind}PhaseBake`,
          f.runHistory,
          {
            action: 'bakeTick',
            runId: sfn.JsonPath.stringAt('$.runId'),
            phase: sfn.JsonPath.objectAt('$.phaseAt.phase'),
            bake: sfn.JsonPath.objectAt('$.bake'),
          },
          '$.bake',
        ),
      );
      const wait = new sfn.Wait(this, `Bake${kind}Phase`, {
        time: sfn.WaitTime.secondsPath('$.bake.waitSeconds'),
      }).next(tick);
      const cancelled = new sfn.Pass(this, `${kind}PhaseBakeCancelled`, {
        parameters: { Error: 'RolloutCancelled', 'Cause.$': '$.bake.message' },
        resultPath: '$.approvalError',
      }).next(calledOff);
      // One Choice per check: cancelled, over, alarms to read (gates and alarmsQuiet), or wait.
      tick.next(
        new sfn.Choice(this, `${kind}PhaseBakeCheck`)
          .when(sfn.Condition.booleanEquals('$.bake.cancelled', true), cancelled)
          .when(sfn.Condition.booleanEquals('$.bake.done', true), done)
          .when(
            sfn.Condition.and(
              sfn.Condition.isPresent('$.healthGates'),
              sfn.Condition.not(sfn.Condition.isNull('$.healthGates')),
              sfn.Condition.booleanEquals('$.phaseAt.phase.alarmsQuiet', true),
            ),
            healthGateCheck(
              this,
              `${kind}PhaseBakeHealthGate`,
              f,
              'bake',
              { error: finishAfterError, calledOff },
              { doneNodesPath: '$.phaseAt.phase.end', phasePath: '$.phaseAt.phase' },
            ).next(wait),
          )
          .otherwise(wait),
      );
      return new sfn.Pass(this, `Start${kind}PhaseBake`, {
        parameters: { 'leftSeconds.$': '$.phaseAt.phase.bakeSeconds', checks: 0 },
        resultPath: '$.bake',
      }).next(tick);
    };
    const phaseGate = (kind: 'Cluster' | 'Fleet', next: sfn.IChainable) => {
      const nextPhase = new sfn.Pass(this, `Next${kind}Phase`, {
        parameters: {
          'list.$': '$.phases.list',
          'count.$': '$.phases.count',
          'current.$': 'States.MathAdd($.phases.current, 1)',
        },
        resultPath: '$.phases',
      });
      nextPhase.next(next);
      // The alarms criterion: the health gates (item 1) read the run's alarms here; without
      // alarms in the input, or with the phase's alarmsQuiet false, there is nothing to read.
      const alarmsSlot = new sfn.Choice(this, `${kind}PhaseAlarmsConfigured`)
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.healthGates'),
            sfn.Condition.not(sfn.Condition.isNull('$.healthGates')),
            sfn.Condition.booleanEquals('$.phaseAt.phase.alarmsQuiet', true),
          ),
          // Item 1's health gate: the phase's alarms criterion, read before the next phase.
          healthGateCheck(
            this,
            `${kind}PhaseHealthGate`,
            f,
            'beforePhase',
            { error: finishAfterError, calledOff },
            { doneNodesPath: '$.phaseAt.phase.end', phasePath: '$.phaseAt.phase' },
          ).next(nextPhase),
        )
        .otherwise(nextPhase);
      const verdict = onError(
        invoke(
          `Evaluate${kind}Phase`,
          f.runHistory,
          {
            action: 'phaseVerdict',
            runId: sfn.JsonPath.stringAt('$.runId'),
            phase: sfn.JsonPath.objectAt('$.phaseAt.phase'),
          },
          '$.phaseVerdict',
        ),
      );
      const bake = phaseBake(kind, alarmsSlot);
      const approval = approvalGate(`Await${kind}PhaseApproval`, {
        afterNodes: '$.phaseAt.phase.end',
        timeoutMinutes: '$.phaseAt.phase.timeoutMinutes',
        timeoutSeconds: '$.phaseAt.phase.timeoutSeconds',
        phase: '$.phaseAt.phase',
      }).next(alarmsSlot);
      return verdict.next(
        new sfn.Choice(this, `${kind}PhaseCriteriaMet`)
          .when(sfn.Condition.booleanEquals('$.phaseVerdict.passed', false), stoppedAtPhase)
          .when(sfn.Condition.stringEquals('$.phaseAt.phase.advance', 'bake'), bake)
          .when(sfn.Condition.stringEquals('$.phaseAt.phase.advance', 'approval'), approval)
          .otherwise(nextPhase),
      );
    };

    // Cluster: one node at a time, in order, stopping once MaxFailedNodes is exceeded.
    const selectNode = new sfn.Pass(this, 'SelectNode', {
      parameters: { 'node.$': 'States.ArrayGetItem($.scan.nodes, $.loop.index)' },
      resultPath: '$.current',
    });
    const updateNode = startNodeWorkflow('UpdateClusterNode', '$.current.node');
    const advance = new sfn.Pass(this, 'NextNode', {
      parameters: {
        'index.$': 'States.MathAdd($.loop.index, 1)',
        'count.$': '$.loop.count',
        'failed.$': '$.loop.failed',
      },
      resultPath: '$.loop',
    });
    const countFailure = new sfn.Pass(this, 'CountFailedNode', {
      parameters: {
        'index.$': '$.loop.index',
        'count.$': '$.loop.count',
        'failed.$': 'States.MathAdd($.loop.failed, 1)',
      },
      resultPath: '$.loop',
    }).next(
      new sfn.Choice(this, 'MaxFailedNodesExceeded')
        .when(
          sfn.Condition.numberGreaterThanJsonPath('$.loop.failed', '$.policy.maxFailedNodes'),
          finish,
        )
        .otherwise(advance),
    );
    // A node left Paused (its resume failed) stops the run there: no other node of the cluster
    // is drained while one is paused (issue 8, point 8). Otherwise the failure is counted.
    const stoppedAtPausedNode = invoke(
      'RecordRunStoppedAtPausedNode',
      f.runHistory,
      {
        action: 'finishRun',
        runId: sfn.JsonPath.stringAt('$.runId'),
        // NodeLeftPaused, or StorageRepairTimedOut (issue 13, item 6).
        error: { 'Error.$': '$.paused.error', 'Cause.$': '$.paused.reason' },
      },
      '$.summary',
    );
    stoppedAtPausedNode.addCatch(releaseAfterError, { resultPath: '$.error' });
    const anyPaused = onError(
      invoke(
        'CheckPausedNodes',
        f.runHistory,
        { action: 'pausedNodes', runId: sfn.JsonPath.stringAt('$.runId') },
        '$.paused',
      ),
    );
    // A cluster member found not Up before anything was drained (the node's inventory): the run
    // stops there, the paused node untouched (CAU refuses to run on such a cluster).
    const stoppedAtNodeNotUp = invoke(
      'RecordRunStoppedAtClusterNodeNotUp',
      f.runHistory,
      {
        action: 'finishRun',
        runId: sfn.JsonPath.stringAt('$.runId'),
        error: { Error: 'ClusterNodeNotUp', 'Cause.$': '$.paused.reason' },
      },
      '$.summary',
    );
    stoppedAtNodeNotUp.addCatch(releaseAfterError, { resultPath: '$.error' });
    anyPaused.next(
      new sfn.Choice(this, 'NodeLeftPaused')
        .when(sfn.Condition.booleanEquals('$.paused.clusterNotUp', true), stoppedAtNodeNotUp)
        .when(sfn.Condition.booleanEquals('$.paused.anyPaused', true), stoppedAtPausedNode)
        .otherwise(countFailure),
    );
    updateNode.addCatch(anyPaused, { resultPath: '$.lastNodeError' });
    // WarnAfter (CAU): before each node, a run past it says so once (event, metric, report line).
    // Only a notice: a failure to say it must not stop the run.
    const checkWarnAfter = invoke(
      'CheckWarnAfter',
      f.runHistory,
      {
        action: 'checkWarnAfter',
        runId: sfn.JsonPath.stringAt('$.runId'),
        node: sfn.JsonPath.stringAt('$.current.node.name'),
      },
      null,
    );
    checkWarnAfter.addCatch(updateNode, { resultPath: '$.warnAfterError' });
    selectNode.next(checkWarnAfter).next(updateNode).next(advance);
    // Health gates (issue 13, item 1): before each node, between nodes, never inside one. Only
    // a run with healthGates takes this path (the loop's own Choices pick it), so a run without
    // them has no extra state per node.
    const healthGateEnds = { error: finishAfterError, calledOff };
    const selectGatedNode = new sfn.Pass(this, 'SelectGatedNode', {
      parameters: { 'node.$': 'States.ArrayGetItem($.scan.nodes, $.loop.index)' },
      resultPath: '$.current',
    });
    selectGatedNode
      .next(
        healthGateCheck(this, 'HealthGateBeforeNode', f, 'beforeNode', healthGateEnds, {
          nodePath: '$.current.node.name',
          doneNodesPath: '$.loop.index',
        }),
      )
      .next(checkWarnAfter);
    const nextNodeIsGated = sfn.Condition.and(
      sfn.Condition.numberLessThanJsonPath('$.loop.index', '$.loop.count'),
      sfn.Condition.isPresent('$.healthGates'),
    );
    const moreNodes = new sfn.Choice(this, 'MoreClusterNodes')
      .when(nextNodeIsGated, selectGatedNode)
      .when(sfn.Condition.numberLessThanJsonPath('$.loop.index', '$.loop.count'), selectNode)
      .otherwise(finish);
    // Phases (issue 13, item 4): at each phase's last node, its gate; off (no phases) this is
    // one Choice on the input, so the plain node path gains no state.
    const clusterPhaseGate = phaseGate('Cluster', moreNodes);
    const clusterPhases = new sfn.Pass(this, 'SelectClusterPhase', {
      parameters: { 'phase.$': 'States.ArrayGetItem($.phases.list, $.phases.current)' },
      resultPath: '$.phaseAt',
    }).next(
      new sfn.Choice(this, 'ClusterPhaseDone')
        .when(
          sfn.Condition.numberEqualsJsonPath('$.loop.index', '$.phaseAt.phase.end'),
          clusterPhaseGate,
        )
        .otherwise(moreNodes),
    );
    advance.next(
      new sfn.Choice(this, 'ClusterPilotDone')
        .when(sfn.Condition.not(sfn.Condition.isNull('$.phases')), clusterPhases)
        .when(
          sfn.Condition.and(
            sfn.Condition.not(sfn.Condition.isNull('$.approvalGate')),
            sfn.Condition.numberEqualsJsonPath('$.loop.index', '$.approvalGate.afterNodes'),
          ),
          approvalGate('AwaitClusterApproval').next(moreNodes),
        )
        .otherwise(moreNodes),
    );
    const clusterLoop = new sfn.Pass(this, 'StartClusterNodes', {
      parameters: { index: 0, 'count.$': 'States.ArrayLength($.scan.nodes)', failed: 0 },
      resultPath: '$.loop',
    }).next(
      new sfn.Choice(this, 'AnyClusterNodes')
        .when(nextNodeIsGated, selectGatedNode)
        .when(sfn.Condition.numberGreaterThan('$.loop.count', 0), selectNode)
        .otherwise(finish),
    );

    // Computed node order (issue 13, item 7; CAU without NodeOrder): one node's inventory lists
    // the clustered roles of every node (Get-ClusterGroup); the fewest roles go first, ties by
    // name. An inventory that fails keeps the given order, and the run record says why.
    const useNodeOrder = new sfn.Pass(this, 'UseNodeOrder', {
      inputPath: '$.order.nodes',
      resultPath: '$.scan.nodes',
    }).next(clusterLoop);
    const orderNodes = onError(
      invoke(
        'OrderNodesByRoles',
        f.runHistory,
        {
          action: 'orderNodes',
          runId: sfn.JsonPath.stringAt('$.runId'),
          nodes: sfn.JsonPath.objectAt('$.scan.nodes'),
          command: sfn.JsonPath.objectAt('$.roles'),
        },
        '$.order',
      ),
    ).next(useNodeOrder);
    const keepNodeOrder = onError(
      invoke(
        'KeepNodeOrder',
        f.runHistory,
        {
          action: 'orderNodes',
          runId: sfn.JsonPath.stringAt('$.runId'),
          nodes: sfn.JsonPath.objectAt('$.scan.nodes'),
          error: sfn.JsonPath.objectAt('$.rolesError'),
        },
        '$.order',
      ),
    ).next(useNodeOrder);
    // As the node workflow waits for its inventory (its commandTimeout default).
    const roleCountSeconds = 1800;
    const readRoles = addLambdaRetries(
      new tasks.LambdaInvoke(this, 'ReadClusterRoles', {
        lambdaFunction: f.sendCommand,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({
          taskToken: sfn.JsonPath.taskToken,
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.scan.nodes[0].name'),
          instanceId: sfn.JsonPath.stringAt('$.scan.nodes[0].instanceId'),
          document: 'inventory',
          payload: { binaries: [] },
          timeoutSeconds: roleCountSeconds,
          startedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
        }),
        taskTimeout: sfn.Timeout.duration(Duration.seconds(roleCountSeconds)),
        resultPath: '$.roles',
      }),
    );
    readRoles.addCatch(keepNodeOrder, { resultPath: '$.rolesError' });
    readRoles.next(orderNodes);
    const clusterStart = new sfn.Choice(this, 'ComputeNodeOrder')
      .when(sfn.Condition.booleanEquals('$.computeNodeOrder', true), readRoles)
      .otherwise(clusterLoop);

    // Group: a Distributed Map; its iterations are child executions with their own histories.
    // With an approval gate, the pilot's list and the rest's run as two maps around the gate.
    const fleetRun = (id: string, listKeyPath: string, toleratedFailuresPath: string) => {
      const map = new sfn.DistributedMap(this, id, {
        itemReader: new sfn.S3JsonItemReader({
          bucket: props.artifactsBucket,
          key: sfn.JsonPath.stringAt(listKeyPath),
        }),
        maxConcurrencyPath: sfn.JsonPath.stringAt('$.policy.maxConcurrency'),
        toleratedFailureCountPath: sfn.JsonPath.stringAt(toleratedFailuresPath),
        itemSelector: {
          'runId.$': '$.runId',
          // Only the target's kind and name: its node list stays in the parent.
          target: { 'kind.$': '$.target.kind', 'name.$': '$.target.name' },
          'plugins.$': '$.plugins',
          'removal.$': '$.removal',
          'policy.$': '$.policy',
          'drain.$': '$.drain',
          'rebootOption.$': '$.rebootOption',
          'deadlines.$': '$.deadlines',
          'node.$': '$$.Map.Item.Value',
        },
        resultWriterV2: new sfn.ResultWriterV2({
          bucket: props.artifactsBucket,
          prefix: 'fleet-results',
        }),
        resultPath: sfn.JsonPath.DISCARD,
        mapExecutionType: sfn.StateMachineType.STANDARD,
      });
      map.itemProcessor(startNodeWorkflow(`${id}Node`, '$.node'));
      // Exceeding the failure budget is an outcome, not an error: the run's status says Failed.
      map.addCatch(finish, {
        errors: ['States.ExceedToleratedFailureThreshold'],
        resultPath: '$.fleetError',
      });
      onError(map);
      return map;
    };
    const fleetMap = fleetRun('UpdateFleet', '$.scan.nodeListKey', '$.policy.maxFailedNodes');
    fleetMap.next(finish);
    const fleetPilot = fleetRun(
      'UpdateFleetPilot',
      '$.scan.pilotListKey',
      '$.policy.maxFailedNodes',
    );
    // One failure budget for the whole run (as the cluster loop keeps it): the rest may fail
    // only what the pilot left of MaxFailedNodes, counted from the run history after the gate.
    const fleetRest = fleetRun(
      'UpdateFleetRest',
      '$.scan.restListKey',
      '$.failureBudget.remaining',
    );
    const budgetLeft = onError(
      invoke(
        'FailureBudgetAfterPilot',
        f.runHistory,
        { action: 'failureBudget', runId: sfn.JsonPath.stringAt('$.runId') },
        '$.failureBudget',
      ),
    );
    // Health gates before each wave (each Distributed Map: the whole group, or the pilot and
    // the rest), only on a run with healthGates.
    const gatesSet = sfn.Condition.isPresent('$.healthGates');
    const beforeWave = (id: string, done?: string) =>
      healthGateCheck(this, id, f, 'beforeWave', healthGateEnds, {
        ...(done ? { doneNodesPath: done } : {}),
      });
    fleetPilot
      .next(approvalGate('AwaitFleetApproval'))
      .next(budgetLeft)
      .next(
        new sfn.Choice(this, 'HealthGatesBeforeRest')
          .when(
            gatesSet,
            beforeWave('HealthGateBeforeRestWave', '$.approvalGate.afterNodes').next(fleetRest),
          )
          .otherwise(fleetRest),
      );
    fleetRest.next(finish);
    // Phased: one Distributed Map per phase, each tolerating only what is left of the budget.
    const fleetPhaseMap = fleetRun(
      'UpdateFleetPhase',
      '$.phaseAt.listKey',
      '$.failureBudget.remaining',
    );
    const morePhases = new sfn.Choice(this, 'MoreFleetPhases');
    const selectFleetPhase = new sfn.Pass(this, 'SelectFleetPhase', {
      parameters: {
        'phase.$': 'States.ArrayGetItem($.phases.list, $.phases.current)',
        'listKey.$': 'States.ArrayGetItem($.scan.phaseListKeys, $.phases.current)',
      },
      resultPath: '$.phaseAt',
    });
    // A phase's nodes are a wave: the health gates are read before it as before any other
    // wave of a group (the first phase included; a cluster reads them before each node).
    const phaseWaveGate = new sfn.Choice(this, 'HealthGatesBeforePhaseWave')
      .when(
        gatesSet,
        beforeWave('HealthGateBeforePhaseWave', '$.phaseAt.phase.start').next(fleetPhaseMap),
      )
      .otherwise(fleetPhaseMap);
    selectFleetPhase
      .next(
        onError(
          invoke(
            'FailureBudgetBeforePhase',
            f.runHistory,
            { action: 'failureBudget', runId: sfn.JsonPath.stringAt('$.runId') },
            '$.failureBudget',
          ),
        ),
      )
      .next(phaseWaveGate);
    fleetPhaseMap.next(phaseGate('Fleet', morePhases));
    morePhases
      .when(
        sfn.Condition.numberLessThanJsonPath('$.phases.current', '$.phases.count'),
        selectFleetPhase,
      )
      .otherwise(finish);
    const fleet = new sfn.Choice(this, 'FleetHasApprovalGate')
      .when(sfn.Condition.not(sfn.Condition.isNull('$.phases')), selectFleetPhase)
      .when(
        sfn.Condition.and(sfn.Condition.isNull('$.approvalGate'), gatesSet),
        beforeWave('HealthGateBeforeFleetWave').next(fleetMap),
      )
      .when(sfn.Condition.isNull('$.approvalGate'), fleetMap)
      .when(gatesSet, beforeWave('HealthGateBeforePilotWave').next(fleetPilot))
      .otherwise(fleetPilot);

    // -- the end: status, lock, result ------------------------------------------------------
    const release = invoke(
      'ReleaseLock',
      f.runLock,
      {
        action: 'release',
        target: sfn.JsonPath.stringAt('$.target.name'),
        runId: sfn.JsonPath.stringAt('$.runId'),
      },
      null,
    );
    calledOff.next(release);
    stoppedAtPausedNode.next(release);
    stoppedAtNodeNotUp.next(release);
    stoppedAtPhase.next(release);
    finish.next(release).next(
      new sfn.Choice(this, 'RolloutOutcome')
        .when(
          sfn.Condition.or(
            sfn.Condition.stringEquals('$.summary.status', 'Succeeded'),
            sfn.Condition.stringEquals('$.summary.status', 'Stopped'),
            // Called off by a reject, a cancel or no approval: a decision, not a failure.
            sfn.Condition.stringEquals('$.summary.status', 'Cancelled'),
          ),
          new sfn.Succeed(this, 'RolloutFinished', { outputPath: '$.summary' }),
        )
        .otherwise(
          new sfn.Fail(this, 'RolloutFailed', {
            error: 'RolloutFailed',
            causePath: '$.summary.reason',
          }),
        ),
    );

    const skipped = new sfn.Succeed(this, 'SkippedBySchedule', {
      comment:
        'A scheduled trigger outside its schedule (off-week, before startDate, window closed)',
      outputPath: '$.skip',
    });
    // Issue 11: a group chosen by tags, Resource Group or manifest is resolved into its node list
    // first, so an empty or over-large resolution ends the run before the lock or any node.
    const resolveTarget = invoke(
      'ResolveTarget',
      f.resolveTarget,
      {
        input: sfn.JsonPath.entirePayload,
        // The resolved list is written under targets/<execution name>/ (issue 11).
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
      },
      '$',
    );
    resolveTarget.addCatch(
      new sfn.Fail(this, 'InvalidTargetSelection', {
        error: 'InvalidRolloutInput',
        causePath: '$.error.Cause',
      }),
      { errors: ['InvalidRolloutInput'], resultPath: '$.error' },
    );
    resolveTarget.addCatch(
      new sfn.Fail(this, 'TargetNotResolved', {
        error: 'TargetNotResolved',
        causePath: '$.error.Cause',
      }),
      { errors: ['TargetNotResolved'], resultPath: '$.error' },
    );
    resolveTarget.next(validate);
    const start = new sfn.Choice(this, 'TargetIsSelection')
      .when(sfn.Condition.isPresent('$.target.select'), resolveTarget)
      .otherwise(validate);
    validate.next(
      new sfn.Choice(this, 'ScheduledToRun')
        .when(sfn.Condition.not(sfn.Condition.isNull('$.skip')), skipped)
        .otherwise(acquire),
    );
    acquire
      .next(startRun)
      .next(scan)
      .next(
        new sfn.Choice(this, 'ClusterOrGroup')
          .when(sfn.Condition.stringEquals('$.target.kind', 'cluster'), clusterStart)
          .otherwise(fleet),
      );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: stateMachineLogging(props.logGroup),
      comment: 'One rollout over a failover cluster or a group of Windows servers',
    });
    // The Distributed Map reads the node list and writes its results in the artifacts bucket.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          's3:GetObject',
          's3:PutObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
        ],
        resources: [props.artifactsBucket.arnForObjects('*')],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.artifactsBucket.bucketArn],
      }),
    );
    acknowledgeWorkflowFindings(this.stateMachine, [
      f.validateInput,
      f.resolveTarget,
      f.runLock,
      f.runHistory,
      f.scan,
      f.approvalGate,
      f.sendCommand,
      f.checkAlarms,
    ]);
    acknowledge(
      this.stateMachine.role,
      wildcardResource(`${arnToken(props.artifactsBucket)}/*`),
      "the Distributed Map reads each run's node list and writes its results; keys are per run",
    );
    // StartExecution.sync must describe and stop the child executions it starts, whose names
    // are only known at run time; the Distributed Map's own child executions likewise.
    const stack = Stack.of(this);
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const executions = (machine: sfn.IStateMachine, suffix: string) =>
      `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(machine.node.defaultChild as never)}"}]}]}${suffix}`;
    const executionReason =
      'child executions are named per run and node at run time; the ARN is scoped to this state machine';
    acknowledge(
      this.stateMachine.role,
      wildcardResource(executions(props.nodeWorkflow, '*')),
      executionReason,
    );
    // The Distributed Map's own policy (a separate resource under this construct).
    acknowledge(this, wildcardResource(executions(this.stateMachine, ':*')), executionReason);
    acknowledge(this, wildcardResource(executions(this.stateMachine, '/*:*')), executionReason);
    acknowledge(
      this,
      wildcardResource(
        `arn:<AWS::Partition>:s3:::<${stack.getLogicalId(props.artifactsBucket.node.defaultChild as never)}>/*`,
      ),
      "the Distributed Map's item reader and result writer use objects of the artifacts bucket, per run",
    );
  }
}
