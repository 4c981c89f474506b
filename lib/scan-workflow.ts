import { Duration, Stack, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DocumentKey } from '../lambdas/core/contracts.js';
import { NODE_LIST_HEAD } from '../lambdas/shared/node-list.js';
import { acknowledge, wildcardResource } from './nag.js';
import {
  acknowledgeWorkflowFindings,
  addLambdaRetries,
  lambdaTask,
  stateMachineLogging,
} from './workflow-common.js';

/** Props of {@link ScanWorkflow}. */
export interface ScanWorkflowProps {
  readonly functions: {
    readonly validateInput: lambda.IFunction;
    readonly resolveTarget: lambda.IFunction;
    /** The plan (event `{ rollout }`) and each node's result (event `action: 'scanNode'`). */
    readonly scan: lambda.IFunction;
    readonly sendCommand: lambda.IFunction;
    readonly cancelCommand: lambda.IFunction;
  };
  /** Where the state machine logs. */
  readonly logGroup: logs.ILogGroup;
  /**
   * Nodes searched at once.
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Longest wait for one node's Windows Update search (ScanUpdates).
   * @default Duration.minutes(30)
   */
  readonly searchTimeout?: Duration;
  /**
   * What runs after the scan, on its output `{ scanId, plan, nodes }` (its last state's output):
   * e.g. recording a compliance assessment (lib/compliance-assessment.ts). Built in this
   * construct's scope. @default - nothing: the scan ends with its output
   */
  readonly afterScan?: (scope: Construct) => sfn.IChainable;
}

/** The document every node is sent: searches Windows Update, installs nothing. */
const SCAN_DOCUMENT: DocumentKey = 'scan';

/**
 * CAU's Invoke-CauScan as a state machine: what a rollout input would install where, installing
 * nothing, draining nothing, restarting nothing.
 *
 * Input: a rollout input (as POST /rollouts takes it) with `runId`, the scan id. The target is
 * resolved as the rollout resolves it (`target.select` through resolve-target, then
 * validate-input), the hotfix plan and the nodes' SSM status come from the scan function, then
 * every node (a Map, `maxConcurrency` at a time) is sent ScanUpdates with the run's
 * QueryString / IncludeRecommendedUpdates / updateSelection when the Windows Update plug-in runs,
 * waited on as the node workflow waits (a task token the command-status event completes; a
 * timeout cancels the command), and its result is written to the artifacts bucket, one JSON
 * object per node (lambdas/core/scan-result.ts: `scans/<scanId>/nodes/<node>.json`). A node whose
 * search failed gets a `Failed` result naming why; the scan goes on with the others.
 *
 * Output: `{ scanId, plan, nodes }`: the plan (the scan function's ScanResult) and the node names,
 * whose results are in S3. Reusable: scheduled read-only assessments start it the same way.
 */
export class ScanWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ScanWorkflowProps) {
    super(scope, id);
    const f = props.functions;
    const maxConcurrency = props.maxConcurrency ?? 10;
    const searchSeconds = (props.searchTimeout ?? Duration.minutes(30)).toSeconds();
    const problems: string[] = [];
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 1000) {
      problems.push(`maxConcurrency ${maxConcurrency}: expected a whole number from 1 to 1000`);
    }
    if (searchSeconds < 60 || searchSeconds > 48 * 3600) {
      problems.push(`searchTimeout ${searchSeconds} s: expected 1 minute to 48 hours`);
    }
    if (problems.length > 0) throw new Error(`ScanWorkflow: ${problems.join('; ')}`);

    const invoke = (
      name: string,
      fn: lambda.IFunction,
      payload: Record<string, unknown>,
      resultPath: string | null,
    ) => lambdaTask(this, name, fn, payload, resultPath);

    // -- the target, as the rollout resolves it ------------------------------------------------
    const invalid = new sfn.Fail(this, 'InvalidInput', {
      error: 'InvalidRolloutInput',
      causePath: '$.error.Cause',
    });
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
    validate.addCatch(invalid, {
      errors: ['InvalidRolloutInput', 'InvalidEvent'],
      resultPath: '$.error',
    });
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
    resolveTarget.addCatch(invalid, { errors: ['InvalidRolloutInput'], resultPath: '$.error' });
    resolveTarget.addCatch(
      new sfn.Fail(this, 'TargetNotResolved', {
        error: 'TargetNotResolved',
        causePath: '$.error.Cause',
      }),
      { errors: ['TargetNotResolved'], resultPath: '$.error' },
    );
    resolveTarget.next(validate);

    // -- the plan: hotfix root, SSM status, the Windows Update query ---------------------------
    const plan = invoke('PlanScan', f.scan, { rollout: sfn.JsonPath.entirePayload }, '$.plan');
    plan.addCatch(
      new sfn.Fail(this, 'NodesOffline', { error: 'NodesOffline', causePath: '$.error.Cause' }),
      { errors: ['NodesOffline'], resultPath: '$.error' },
    );
    const scanFailed = new sfn.Fail(this, 'ScanFailed', {
      error: 'ScanFailed',
      causePath: '$.error.Cause',
    });
    plan.addCatch(scanFailed, { resultPath: '$.error' });

    // -- each node: search Windows Update (read-only), then write its result -------------------
    const record = invoke(
      'RecordNodeScan',
      f.scan,
      {
        action: 'scanNode',
        scanId: sfn.JsonPath.stringAt('$.scanId'),
        node: sfn.JsonPath.objectAt('$.node'),
        plugins: sfn.JsonPath.objectAt('$.plugins'),
        command: sfn.JsonPath.objectAt('$.outcome.command'),
        commandError: sfn.JsonPath.objectAt('$.outcome.commandError'),
      },
      '$.summary',
    );
    const search = addLambdaRetries(
      new tasks.LambdaInvoke(this, 'SearchWindowsUpdate', {
        lambdaFunction: f.sendCommand,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({
          taskToken: sfn.JsonPath.taskToken,
          runId: sfn.JsonPath.stringAt('$.scanId'),
          node: sfn.JsonPath.stringAt('$.node.name'),
          instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
          document: SCAN_DOCUMENT,
          payload: {
            queryString: sfn.JsonPath.stringAt('$.windowsUpdate.queryString'),
            includeRecommendedUpdates: sfn.JsonPath.objectAt(
              '$.windowsUpdate.includeRecommendedUpdates',
            ),
            selection: sfn.JsonPath.objectAt('$.windowsUpdate.selection'),
          },
          timeoutSeconds: searchSeconds,
          startedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
        }),
        taskTimeout: sfn.Timeout.duration(Duration.seconds(searchSeconds)),
        resultPath: '$.outcome.command',
      }),
    );
    const cancel = invoke(
      'CancelSearch',
      f.cancelCommand,
      {
        runId: sfn.JsonPath.stringAt('$.scanId'),
        node: sfn.JsonPath.stringAt('$.node.name'),
        instanceId: sfn.JsonPath.stringAt('$.node.instanceId'),
        timedOut: 'SearchWindowsUpdate',
      },
      null,
    );
    cancel.addCatch(record, { resultPath: sfn.JsonPath.DISCARD });
    cancel.next(record);
    search.addCatch(cancel, {
      errors: ['States.Timeout'],
      resultPath: '$.outcome.commandError',
    });
    search.addCatch(record, { resultPath: '$.outcome.commandError' });
    search.next(record);
    // Neither answer yet: the record step reads both (a Result keeps its nulls; ItemSelector
    // would drop them).
    const perNode = new sfn.Pass(this, 'StartNodeScan', {
      result: sfn.Result.fromObject({ command: null, commandError: null }),
      resultPath: '$.outcome',
    }).next(
      new sfn.Choice(this, 'WindowsUpdatePlanned')
        .when(sfn.Condition.isNull('$.windowsUpdate'), record)
        .otherwise(search),
    );

    const nodes = new sfn.DistributedMap(this, 'ScanNodes', {
      itemsPath: sfn.JsonPath.stringAt('$.target.nodes'),
      maxConcurrency,
      itemSelector: {
        'scanId.$': '$.runId',
        'node.$': '$$.Map.Item.Value',
        'plugins.$': '$.plugins',
        'windowsUpdate.$': '$.plan.windowsUpdate',
      },
      // Each node's result is in S3; a failed node is a Failed result, not a failed map.
      resultPath: sfn.JsonPath.DISCARD,
      mapExecutionType: sfn.StateMachineType.STANDARD,
    });
    nodes.itemProcessor(perNode);
    nodes.addCatch(scanFailed, { resultPath: '$.error' });

    const done = new sfn.Pass(this, 'ScanDone', {
      parameters: {
        'scanId.$': '$.runId',
        'plan.$': '$.plan',
        'nodes.$': '$.target.nodes[*].name',
      },
    });

    const start = new sfn.Choice(this, 'TargetIsSelection')
      .when(sfn.Condition.isPresent('$.target.select'), resolveTarget)
      .otherwise(validate);
    // A selected group's state lists only its first nodes (the whole list is in S3, issue 11);
    // the scan's map reads the state's list, so a larger selection is refused, not cut short.
    const tooMany = new sfn.Fail(this, 'SelectionTooLargeToScan', {
      error: 'SelectionTooLargeToScan',
      cause: `a scan covers a selected group of at most ${NODE_LIST_HEAD} nodes for now (the rollout itself takes up to 100,000); name the nodes, or narrow the selection`,
    });
    validate.next(
      new sfn.Choice(this, 'SelectionFitsTheScan')
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.targetResolution.count'),
            sfn.Condition.numberGreaterThan('$.targetResolution.count', NODE_LIST_HEAD),
          ),
          tooMany,
        )
        .otherwise(plan),
    );
    plan.next(nodes);
    nodes.next(done);
    if (props.afterScan) done.next(props.afterScan(this));

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: stateMachineLogging(props.logGroup),
      comment:
        "CAU's Invoke-CauScan: what a rollout would install on each node; installs nothing, drains nothing",
    });
    acknowledgeWorkflowFindings(this.stateMachine, [
      f.validateInput,
      f.resolveTarget,
      f.scan,
      f.sendCommand,
      f.cancelCommand,
    ]);
    // The Distributed Map's own policy: its child executions are named at run time.
    const stack = Stack.of(this);
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const executions = (suffix: string) =>
      `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(this.stateMachine.node.defaultChild as never)}"}]}]}${suffix}`;
    const reason =
      "the Distributed Map's child executions are named at run time; the ARN is scoped to this state machine";
    acknowledge(this, wildcardResource(executions(':*')), reason);
    acknowledge(this, wildcardResource(executions('/*:*')), reason);
  }
}
