import { Duration, Stack, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DocumentKey } from '../lambdas/core/contracts.js';
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
   * The artifacts bucket, where the scan function writes a group's node list
   * (`runs/<scanId>/nodes.json`), which the group's map reads with its ItemReader (issue 11).
   */
  readonly artifactsBucket: s3.IBucket;
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

/**
 * How many nodes one scan covers (issue 11): its map reads a group's node list from S3 at any
 * size, but its output names every scanned node (`nodes`, which GET /scans/{id} and the
 * compliance assessment read) and its state holds the plan too (the scan function keeps that
 * under 128 KB). A NetBIOS name is at most 15 characters, 18 bytes in a JSON list, so 5,000
 * names take at most 90 KB: with the plan, under Step Functions' 256 KB a state.
 */
export const MAX_SCAN_NODES = 5000;

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
 * A cluster's map iterates the state's nodes; a group's reads the plan's node list from S3
 * (`runs/<scanId>/nodes.json`) with its ItemReader, so a selected group is scanned whole, up to
 * MAX_SCAN_NODES (issue 11).
 *
 * Output: `{ scanId, plan, nodes }`: the plan (the scan function's ScanResult) and the scanned
 * node names (the map's result), whose results are in S3. Reusable: scheduled read-only
 * assessments start it the same way.
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
    // Built once per map (`prefix` keeps the second map's state names apart).
    const scanOneNode = (prefix: string): sfn.IChainable => {
      const id = (name: string) => `${prefix}${name}`;
      const record = invoke(
        id('RecordNodeScan'),
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
      // Each item's output is its node's name: the map's result lists the scanned nodes, in
      // order, whatever the state kept of the target (issue 11).
      record.next(new sfn.Pass(this, id('NodeScanned'), { outputPath: '$.node.name' }));
      const search = addLambdaRetries(
        new tasks.LambdaInvoke(this, id('SearchWindowsUpdate'), {
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
        id('CancelSearch'),
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
      return new sfn.Pass(this, id('StartNodeScan'), {
        result: sfn.Result.fromObject({ command: null, commandError: null }),
        resultPath: '$.outcome',
      }).next(
        new sfn.Choice(this, id('WindowsUpdatePlanned'))
          .when(sfn.Condition.isNull('$.windowsUpdate'), record)
          .otherwise(search),
      );
    };

    const itemSelector = {
      'scanId.$': '$.runId',
      'node.$': '$$.Map.Item.Value',
      'plugins.$': '$.plugins',
      'windowsUpdate.$': '$.plan.windowsUpdate',
    };
    // A cluster's nodes (at most 64) are in the state. A group's whole list is in S3 (the plan
    // writes it: `$.plan.nodeListKey`), read by the map's ItemReader as the rollout's fleet map
    // reads it: the state of a selected group keeps only its first nodes (issue 11). Each map's
    // result (`$.scanned`) is the scanned nodes' names; a failed node is a Failed result in S3,
    // not a failed map.
    const nodes = new sfn.DistributedMap(this, 'ScanNodes', {
      itemsPath: sfn.JsonPath.stringAt('$.target.nodes'),
      maxConcurrency,
      itemSelector,
      resultPath: '$.scanned',
      mapExecutionType: sfn.StateMachineType.STANDARD,
    });
    nodes.itemProcessor(scanOneNode(''));
    nodes.addCatch(scanFailed, { resultPath: '$.error' });
    const groupNodes = new sfn.DistributedMap(this, 'ScanGroupNodes', {
      itemReader: new sfn.S3JsonItemReader({
        bucket: props.artifactsBucket,
        key: sfn.JsonPath.stringAt('$.plan.nodeListKey'),
      }),
      maxConcurrency,
      itemSelector,
      resultPath: '$.scanned',
      mapExecutionType: sfn.StateMachineType.STANDARD,
    });
    groupNodes.itemProcessor(scanOneNode('Group'));
    groupNodes.addCatch(scanFailed, { resultPath: '$.error' });

    const done = new sfn.Pass(this, 'ScanDone', {
      parameters: {
        'scanId.$': '$.runId',
        'plan.$': '$.plan',
        'nodes.$': '$.scanned',
      },
    });

    const start = new sfn.Choice(this, 'TargetIsSelection')
      .when(sfn.Condition.isPresent('$.target.select'), resolveTarget)
      .otherwise(validate);
    // The scan's output names every scanned node (`$.scanned`), and the state also holds the
    // plan (up to 128 KB): MAX_SCAN_NODES keeps both under Step Functions' 256 KB.
    const tooMany = new sfn.Fail(this, 'SelectionTooLargeToScan', {
      error: 'SelectionTooLargeToScan',
      cause: `target.select: a scan covers at most ${MAX_SCAN_NODES} nodes (its output names each one); narrow the selection or split the group. Nothing was searched`,
    });
    validate.next(
      new sfn.Choice(this, 'SelectionFitsTheScan')
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.targetResolution.count'),
            sfn.Condition.numberGreaterThan('$.targetResolution.count', MAX_SCAN_NODES),
          ),
          tooMany,
        )
        .otherwise(plan),
    );
    plan.next(
      new sfn.Choice(this, 'NodeListInS3')
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.plan.nodeListKey'),
            sfn.Condition.isString('$.plan.nodeListKey'),
          ),
          groupNodes,
        )
        .otherwise(nodes),
    );
    nodes.next(done);
    groupNodes.next(done);
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
    // The group map's ItemReader (CDK grants it s3:GetObject, nothing else, on the bucket's objects).
    acknowledge(
      this,
      wildcardResource(
        `arn:<AWS::Partition>:s3:::<${stack.getLogicalId(props.artifactsBucket.node.defaultChild as never)}>/*`,
      ),
      "the group map's item reader reads the scan's node list (runs/<scanId>/nodes.json), per scan",
    );
  }
}
