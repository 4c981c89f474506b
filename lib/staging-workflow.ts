import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  acknowledgeWorkflowFindings,
  addLambdaRetries,
  lambdaTask,
  stateMachineLogging,
} from './workflow-common.js';

/** Props of {@link StagingWorkflow}. */
export interface StagingWorkflowProps {
  readonly functions: {
    readonly validateInput: lambda.IFunction;
    readonly planNode: lambda.IFunction;
    readonly sendCommand: lambda.IFunction;
    readonly cancelCommand: lambda.IFunction;
    readonly runHistory: lambda.IFunction;
  };
  readonly logGroup: logs.ILogGroup;
  /**
   * Longest wait for one node's StageUpdates command (its execution timeout on the node too).
   * @default Duration.hours(6)
   */
  readonly commandTimeout?: Duration;
}

/**
 * Staging before the window (issue 13 item 5, ConfigMgr's pre-download): started on its own
 * (`rollout stage`) or by a schedule hours ahead of the window, with the rollout's own input.
 *
 * Validate the input (a failure names the field) → for each node, at most
 * `staging.maxConcurrency` at once: plan it (plan-node, as the install run will) → StageUpdates (SendCommand, waited on
 * with a task token as the node workflow waits; a timeout cancels it) → record the node's
 * staging (run-history `recordStaging`: files, bytes, digests verified, cache hits, and the
 * digests the install run may take from the cache).
 *
 * It never takes the target lock, drains, installs or restarts: the only document it sends is
 * StageUpdates, which downloads and verifies only. A node that fails to stage fails nothing else;
 * its install run downloads from the hotfix root as before.
 */
export class StagingWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: StagingWorkflowProps) {
    super(scope, id);
    const f = props.functions;
    const commandSeconds = (props.commandTimeout ?? Duration.hours(6)).toSeconds();

    const validate = lambdaTask(
      this,
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

    // -- one node ---------------------------------------------------------------------------
    const record = (name: string, status: string, results: string | null, error?: string) =>
      lambdaTask(
        this,
        name,
        f.runHistory,
        {
          action: 'recordStaging',
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          commandStatus: status.startsWith('$') ? sfn.JsonPath.stringAt(status) : status,
          results: results === null ? [] : sfn.JsonPath.objectAt(results),
          ...(error === undefined ? {} : { error: sfn.JsonPath.stringAt(error) }),
        },
        '$',
      );
    const done = new sfn.Succeed(this, 'NodeStaged');

    const plan = lambdaTask(
      this,
      'PlanNode',
      f.planNode,
      {
        runId: sfn.JsonPath.stringAt('$.runId'),
        node: sfn.JsonPath.objectAt('$.node'),
        plugins: sfn.JsonPath.objectAt('$.plugins'),
      },
      '$.plan',
    );
    const planFailed = new sfn.Pass(this, 'PlanFailed', {
      parameters: { 'reason.$': "States.Format('the plan failed: {}', $.error.Cause)" },
      resultPath: '$.failure',
    }).next(record('RecordPlanFailed', 'Failed', null, '$.failure.reason').next(done));
    plan.addCatch(planFailed, { resultPath: '$.error' });

    const stage = addLambdaRetries(
      new tasks.LambdaInvoke(this, 'StageUpdates', {
        lambdaFunction: f.sendCommand,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({
          taskToken: sfn.JsonPath.taskToken,
          runId: sfn.JsonPath.stringAt('$.runId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
          document: 'stageUpdates',
          payload: {
            bucket: sfn.JsonPath.stringAt('$.stage.bucket'),
            updates: sfn.JsonPath.objectAt('$.stage.updates'),
            windowsUpdate: sfn.JsonPath.objectAt('$.plan.windowsUpdate'),
          },
          timeoutSeconds: commandSeconds,
          startedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
        }),
        taskTimeout: sfn.Timeout.duration(Duration.seconds(commandSeconds)),
        resultPath: '$.commands.stage',
      }),
    );
    const cancel = lambdaTask(
      this,
      'CancelAfterStageTimedOut',
      f.cancelCommand,
      {
        runId: sfn.JsonPath.stringAt('$.runId'),
        node: sfn.JsonPath.stringAt('$.node.name'),
        instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
        timedOut: 'StageUpdates',
      },
      sfn.JsonPath.DISCARD,
    );
    const stageFailed = new sfn.Pass(this, 'StageFailed', {
      parameters: {
        'reason.$': "States.Format('StageUpdates did not end: {}', $.error.Error)",
      },
      resultPath: '$.failure',
    }).next(record('RecordStageFailed', 'Failed', null, '$.failure.reason').next(done));
    cancel.addCatch(stageFailed, { resultPath: sfn.JsonPath.DISCARD });
    stage.addCatch(cancel.next(stageFailed), {
      errors: ['States.Timeout'],
      resultPath: '$.error',
    });
    stage.addCatch(stageFailed, { resultPath: '$.error' });
    stage.next(
      record('RecordStaging', '$.commands.stage.status', '$.commands.stage.results').next(done),
    );

    // Only what staging needs of the plan; without the hotfix plug-in, no bucket and no files.
    const withHotfix = new sfn.Pass(this, 'StageHotfixFiles', {
      parameters: {
        'bucket.$': '$.plan.hotfix.bucket',
        'updates.$': '$.plan.hotfix.updates',
      },
      resultPath: '$.stage',
    }).next(stage);
    const withoutHotfix = new sfn.Pass(this, 'NoHotfixFiles', {
      parameters: { bucket: '', updates: [] },
      resultPath: '$.stage',
    }).next(stage);
    const nodeDefinition = plan.next(
      new sfn.Choice(this, 'AnythingToStage')
        .when(
          sfn.Condition.booleanEquals('$.plan.nothingToInstall', true),
          record('RecordNothingToStage', 'Success', null).next(done),
        )
        .when(sfn.Condition.isNull('$.plan.hotfix'), withoutHotfix)
        .otherwise(withHotfix),
    );

    const nodes = new sfn.Map(this, 'StageNodes', {
      itemsPath: '$.target.nodes',
      // The input's staging.maxConcurrency (1 to 50, default 10): downloads share the uplink.
      maxConcurrencyPath: '$.staging.maxConcurrency',
      itemSelector: {
        'runId.$': '$.runId',
        'node.$': '$$.Map.Item.Value',
        'plugins.$': '$.plugins',
      },
      resultPath: '$.staged',
    });
    nodes.itemProcessor(nodeDefinition);

    const definition = validate.next(nodes).next(
      new sfn.Pass(this, 'StagingDone', {
        parameters: {
          'runId.$': '$.runId',
          'target.$': '$.target.name',
          'nodes.$': '$.staged',
        },
      }),
    );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: stateMachineLogging(props.logGroup),
      comment:
        "Stages each node's updates ahead of the window (ConfigMgr pre-download): downloads and verifies, never drains, installs or restarts",
    });
    acknowledgeWorkflowFindings(this.stateMachine, [
      f.validateInput,
      f.planNode,
      f.sendCommand,
      f.cancelCommand,
      f.runHistory,
    ]);
  }
}
