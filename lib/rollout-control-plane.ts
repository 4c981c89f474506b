import { ArnFormat, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TERMINAL_STATUSES } from '../lambdas/core/contracts.js';
import { ENDED_WITHOUT_RELEASE } from '../lambdas/core/target-lock.js';
import { HotfixRoot } from './hotfix-root.js';
import { acknowledge, wildcardResource } from './nag.js';
import { NodeWorkflow } from './node-workflow.js';
import { RolloutApi } from './rollout-api.js';
import { RolloutEvents } from './rollout-events.js';
import { RolloutFunctions } from './rollout-functions.js';
import { type RolloutScheduleEntry, RolloutSchedules } from './rollout-schedules.js';
import { RolloutWorkflow } from './rollout-workflow.js';
import { RunStoreTable } from './run-store-table.js';
import { WindowsDocuments } from './windows-documents.js';

/** Props of {@link RolloutControlPlane}. */
export interface RolloutControlPlaneProps {
  /**
   * Prefix of every named resource (SSM documents). Lowercase letters, digits and dashes work
   * everywhere.
   * @default 'WindowsRollout'
   */
  readonly namePrefix?: string;
  /**
   * The tag that marks the instances this deployment may send commands to. `ssm:SendCommand` is
   * allowed only on instances (and hybrid managed instances) carrying it.
   * @default { key: 'WindowsRollout', value: 'managed' }
   */
  readonly targetTag?: { readonly key: string; readonly value: string };
  /**
   * Roles of the nodes' instance profiles, given read access to the hotfix root.
   * @default - none; add them later with `hotfixRoot.grantNodeRead(role)`
   */
  readonly nodeRoles?: readonly iam.IRole[];
  /**
   * The role that publishes updates to the hotfix root, the only writer.
   * @default - a new role, exposed as `hotfixRoot.releaseRole`
   */
  readonly releaseRole?: iam.IRole;
  /**
   * How long the one-run-per-target lock holds without renewal (each node renews it).
   * @default Duration.hours(6)
   */
  readonly lockLease?: Duration;
  /** Retention of every log group. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the run store and the hotfix root when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * CAU-style self-updating windows: EventBridge Scheduler schedules that start the rollout
   * workflow, each pausable.
   * @default - none
   */
  readonly schedules?: readonly RolloutScheduleEntry[];
}

/**
 * The rollout control plane for Windows server fleets and failover clusters: state machines
 * that update clusters one node at a time and fleets in parallel (CAU semantics), SSM documents
 * that do the work on the nodes, Lambdas that interpret installer results and decide hotpatch
 * eligibility, and a DynamoDB run store with history, install ledgers and the target locks.
 */
export class RolloutControlPlane extends Construct {
  public readonly runStore: RunStoreTable;
  public readonly hotfixRoot: HotfixRoot;
  public readonly documents: WindowsDocuments;
  public readonly functions: RolloutFunctions;
  public readonly nodeWorkflow: sfn.StateMachine;
  public readonly rolloutWorkflow: sfn.StateMachine;
  /** Holds fleet node lists and Distributed Map results. */
  public readonly artifactsBucket: s3.Bucket;
  /** Where SSM writes the output of our commands. */
  public readonly commandLogGroup: logs.LogGroup;
  /** Fires when a rollout execution fails. */
  public readonly failedRolloutsAlarm: cloudwatch.Alarm;
  /** Fires when a rollout is still running past its WarnAfter (CAU). */
  public readonly warnAfterAlarm: cloudwatch.Alarm;
  /** The lifecycle event bus (rollout started, node updated, finished, approval required). */
  public readonly events: RolloutEvents;
  /** The scheduled self-updating windows, when any are configured. */
  public readonly schedules?: RolloutSchedules;
  /** The change-management API (API Gateway REST, IAM auth), built from api/openapi.json. */
  public readonly api: RolloutApi;

  constructor(scope: Construct, id: string, props: RolloutControlPlaneProps = {}) {
    super(scope, id);
    // The fleet's Distributed Map writes its results to S3 (ResultWriter) only with this flag.
    this.node.setContext('@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2', true);
    const namePrefix = props.namePrefix ?? 'WindowsRollout';
    const targetTag = props.targetTag ?? { key: 'WindowsRollout', value: 'managed' };
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const dataRemovalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const problems: string[] = [];
    if (!/^[A-Za-z0-9_.-]{3,60}$/.test(namePrefix)) {
      problems.push(
        `namePrefix ${JSON.stringify(namePrefix)}: expected 3 to 60 of A-Z a-z 0-9 _ . -`,
      );
    }
    if (!targetTag.key || !targetTag.value) {
      problems.push(`targetTag ${JSON.stringify(targetTag)}: expected a non-empty key and value`);
    }
    if (problems.length > 0) throw new Error(`RolloutControlPlane: ${problems.join('; ')}`);

    this.runStore = new RunStoreTable(this, 'RunStore', { removalPolicy: dataRemovalPolicy });
    this.hotfixRoot = new HotfixRoot(this, 'HotfixRoot', {
      removalPolicy: dataRemovalPolicy,
      ...(props.releaseRole ? { releaseRole: props.releaseRole } : {}),
      ...(props.nodeRoles ? { nodeRoles: props.nodeRoles } : {}),
    });
    this.artifactsBucket = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.hotfixRoot.accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
    this.commandLogGroup = new logs.LogGroup(this, 'CommandOutput', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.documents = new WindowsDocuments(this, 'Documents', { namePrefix });
    this.events = new RolloutEvents(this, 'Events', { namePrefix });
    this.functions = new RolloutFunctions(this, 'Functions', {
      table: this.runStore.table,
      hotfixBucket: this.hotfixRoot.bucket,
      documentPrefix: namePrefix,
      targetTag,
      logRetention,
      commandLogGroup: this.commandLogGroup,
      artifactsBucket: this.artifactsBucket,
      events: this.events,
    });
    const fns = this.functions.functions;

    const workflowLogs = (name: string) =>
      new logs.LogGroup(this, `${name}Logs`, {
        logGroupName: `/aws/vendedlogs/states/${namePrefix}-${name}`,
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    this.nodeWorkflow = new NodeWorkflow(this, 'NodeWorkflow', {
      functions: fns,
      logGroup: workflowLogs('NodeWorkflow'),
    }).stateMachine;
    this.rolloutWorkflow = new RolloutWorkflow(this, 'RolloutWorkflow', {
      functions: fns,
      nodeWorkflow: this.nodeWorkflow,
      artifactsBucket: this.artifactsBucket,
      logGroup: workflowLogs('RolloutWorkflow'),
      ...(props.lockLease ? { lockLease: props.lockLease } : {}),
    }).stateMachine;

    // A cancel that lands before the approval gate stored its token finds no token to fail; the
    // gate then fails its own task. A separate policy: the role's default policy would make a
    // cycle (the workflow names the function, whose role would name the workflow).
    new iam.Policy(this, 'ApprovalGateCancelsItsTask', {
      roles: [fns.approvalGate.role as iam.IRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:SendTaskFailure'],
          resources: [this.rolloutWorkflow.stateMachineArn],
        }),
      ],
    });
    // The target lock (issue 8, point 4): run-lock asks whether a holder's execution still runs
    // before anyone takes its lock, and releases the lock of a run that ended without its own
    // release. A separate policy, as above, so the function does not wait on the workflow.
    const rolloutExecutions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${Fn.select(6, Fn.split(':', this.rolloutWorkflow.stateMachineArn))}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    new iam.Policy(this, 'RunLockDescribesRolloutExecutions', {
      roles: [fns.runLock.role as iam.IRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [rolloutExecutions],
        }),
      ],
    });
    acknowledge(
      this,
      wildcardResource(rolloutExecutionsForNag(this.rolloutWorkflow)),
      'DescribeExecution of the lock holder: any execution of the rollout workflow, named per run at run time',
    );
    new events.Rule(this, 'RolloutEndedReleasesLock', {
      description:
        'Releases the target lock of a rollout execution that ended ABORTED, TIMED_OUT or FAILED without releasing it',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...ENDED_WITHOUT_RELEASE],
          stateMachineArn: [this.rolloutWorkflow.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(fns.runLock, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    this.api = new RolloutApi(this, 'Api', {
      handler: fns.api,
      rolloutStateMachine: this.rolloutWorkflow,
      table: this.runStore.table,
      scan: { hotfixBucket: this.hotfixRoot.bucket, artifactsBucket: this.artifactsBucket },
      logRetention,
    });

    if (props.schedules && props.schedules.length > 0) {
      this.schedules = new RolloutSchedules(this, 'Schedules', {
        rolloutStateMachine: this.rolloutWorkflow,
        schedules: props.schedules,
      });
    }

    // Command completion: the status-change event completes the waiting task (no polling).
    this.nodeWorkflow.grantTaskResponse(fns.completeCommand);
    new events.Rule(this, 'CommandStatusChanged', {
      description: 'Completes the node workflow task waiting on an SSM command of ours',
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['EC2 Command Invocation Status-change Notification'],
        detail: {
          status: [...TERMINAL_STATUSES],
          'document-name': [{ prefix: `${namePrefix}-` }],
        },
      },
      targets: [
        new targets.LambdaFunction(fns.completeCommand, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    // Observability: failed rollouts, as executions and as our own metric.
    const failedExecutions = this.rolloutWorkflow.metricFailed({ period: Duration.minutes(5) });
    this.failedRolloutsAlarm = new cloudwatch.Alarm(this, 'FailedRollouts', {
      alarmDescription: 'A rollout ended Failed (a node failed beyond MaxFailedNodes, or an error)',
      metric: new cloudwatch.MathExpression({
        expression: 'MAX([FILL(executions, 0), FILL(rollouts, 0)])',
        usingMetrics: {
          executions: failedExecutions,
          rollouts: new cloudwatch.Metric({
            namespace: 'WindowsRollout',
            metricName: 'RolloutFailed',
            dimensionsMap: { service: 'windows-rollout' },
            statistic: 'Sum',
            period: Duration.minutes(5),
          }),
        },
        label: 'failed rollouts',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // WarnAfter (issue 8, point 11): run-history counts each run once when it passes it.
    this.warnAfterAlarm = new cloudwatch.Alarm(this, 'RolloutPastWarnAfter', {
      alarmDescription:
        'A rollout is still running past its WarnAfter: it goes on, but takes longer than planned',
      metric: new cloudwatch.Metric({
        namespace: 'WindowsRollout',
        metricName: 'RolloutWarnAfterPassed',
        dimensionsMap: { service: 'windows-rollout' },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/** How cdk-nag prints the ARN of every execution of `machine`. */
function rolloutExecutionsForNag(machine: sfn.IStateMachine): string {
  const stack = Stack.of(machine);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const id = stack.getLogicalId(machine.node.defaultChild as never);
  return `arn:<AWS::Partition>:states:${region}:${account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id}"}]}]}:*`;
}
