import { Annotations, ArnFormat, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TERMINAL_STATUSES } from '../lambdas/core/contracts.js';
import { ENDED_WITHOUT_RELEASE } from '../lambdas/core/target-lock.js';
import { ComplianceAssessment } from './compliance-assessment.js';
import {
  addDataKeyPolicy,
  dataKeyPolicyStatements,
  grantKey,
  KEY_READ_WRITE,
  stateMachineContext,
} from './data-key.js';
import { HotfixRoot, S3_LOGS_BY_POLICY } from './hotfix-root.js';
import { acknowledge, wildcardResource } from './nag.js';
import { NodeWorkflow } from './node-workflow.js';
import { RolloutApi } from './rollout-api.js';
import { RolloutEvents } from './rollout-events.js';
import { RolloutFunctions } from './rollout-functions.js';
import { type RolloutScheduleEntry, RolloutSchedules } from './rollout-schedules.js';
import { RolloutWorkflow } from './rollout-workflow.js';
import { RunStoreTable } from './run-store-table.js';
import { ScanWorkflow } from './scan-workflow.js';
import { StagingWorkflow } from './staging-workflow.js';
import { WindowsDocuments } from './windows-documents.js';
import { setWorkflowLogLevel } from './workflow-common.js';

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
   * What happens to every stateful resource when the stack is deleted: the run store, the hotfix
   * root, the artifacts and access-log buckets, every log group, the lifecycle event archive and
   * the completion dead-letter queue.
   * `RETAIN` keeps them all (the record of what changed on the servers). `DESTROY` deletes them
   * all, emptying the buckets first.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * A customer managed KMS key for the data at rest: the run store, the hotfix root and artifacts
   * buckets, every log group, both state machines, the dead-letter queue and the lifecycle bus
   * with its archive. Each principal is granted the use it needs. A key of this stack gets the
   * key-policy statements the services need (CloudWatch Logs, EventBridge, log delivery); an
   * imported key must have them already (README, "Customer managed key"). The access-log bucket
   * stays SSE-S3: S3 server access logging cannot write to an SSE-KMS bucket.
   * @default - none: AWS managed and AWS owned keys
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How much the state machines log. `ERROR` logs failed states and executions with their data
   * (the error and its cause). `ALL` logs every event, without data: a task state's input carries
   * its task token and payloads, which must not land in CloudWatch Logs. `OFF` logs nothing.
   * @default sfn.LogLevel.ERROR
   */
  readonly workflowLogLevel?: sfn.LogLevel;
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
  /**
   * CAU's Invoke-CauScan (lib/scan-workflow.ts): searches each node, installs nothing, writes
   * one result per node under `scans/` of the artifacts bucket (lambdas/core/scan-result.ts).
   */
  public readonly scanWorkflow: sfn.StateMachine;
  /**
   * Compliance between runs (issue 13, item 8; lib/compliance-assessment.ts): the scan workflow,
   * then record-compliance. Read-only; started by `assessment` schedules or by hand.
   */
  public readonly complianceWorkflow: sfn.StateMachine;
  /** Staging before the window (issue 13 item 5): downloads and verifies, never installs. */
  public readonly stagingWorkflow: sfn.StateMachine;
  /** Holds fleet node lists and Distributed Map results. */
  public readonly artifactsBucket: s3.Bucket;
  /** Where SSM writes the output of our commands. */
  public readonly commandLogGroup: logs.LogGroup;
  /**
   * Command-status events that could not complete their task: those EventBridge could not
   * deliver, and those completeCommand still failed on after Lambda's two async retries (the
   * on-failure record carries the event). Kept 14 days; see {@link completionRedrive}.
   */
  public readonly completionDeadLetters: sqs.Queue;
  /** Fires as soon as a completion event is dead-lettered: a workflow may be waiting on it. */
  public readonly completionDeadLettersAlarm: cloudwatch.Alarm;
  /**
   * Feeds the dead-letter queue back to completeCommand. Disabled: enable it to redrive (README,
   * "Redriving lost completions"), and disable it again once the queue is empty.
   */
  public readonly completionRedrive: lambda.EventSourceMapping;
  /** Fires when a rollout execution fails. */
  public readonly failedRolloutsAlarm: cloudwatch.Alarm;
  /** Fires when a rollout is still running past its WarnAfter (CAU). */
  public readonly warnAfterAlarm: cloudwatch.Alarm;
  /** The lifecycle event bus (rollout started, node updated, finished, approval required). */
  public readonly events: RolloutEvents;
  /** The scheduled self-updating windows, when any are configured. */
  public readonly schedules?: RolloutSchedules;
  /** The customer managed key of the data at rest, when one is given. */
  public readonly encryptionKey?: kms.IKey;
  /** The change-management API (API Gateway REST, IAM auth), built from api/openapi.json. */
  public readonly api: RolloutApi;

  constructor(scope: Construct, id: string, props: RolloutControlPlaneProps = {}) {
    super(scope, id);
    // The fleet's Distributed Map writes its results to S3 (ResultWriter) only with this flag.
    this.node.setContext('@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2', true);
    // The artifacts bucket logs to the hotfix root's access-log bucket, which takes no ACLs.
    this.node.setContext(S3_LOGS_BY_POLICY, true);
    const namePrefix = props.namePrefix ?? 'WindowsRollout';
    const targetTag = props.targetTag ?? { key: 'WindowsRollout', value: 'managed' };
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const dataRemovalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const workflowLogLevel = props.workflowLogLevel ?? sfn.LogLevel.ERROR;
    const problems: string[] = [];
    if (!/^[A-Za-z0-9_.-]{3,60}$/.test(namePrefix)) {
      problems.push(
        `namePrefix ${JSON.stringify(namePrefix)}: expected 3 to 60 of A-Z a-z 0-9 _ . -`,
      );
    }
    if (!targetTag.key || !targetTag.value) {
      problems.push(`targetTag ${JSON.stringify(targetTag)}: expected a non-empty key and value`);
    }
    if (!Object.values(sfn.LogLevel).includes(workflowLogLevel)) {
      problems.push(
        `workflowLogLevel ${JSON.stringify(workflowLogLevel)}: expected one of ${Object.values(sfn.LogLevel).join(', ')}`,
      );
    }
    if (problems.length > 0) throw new Error(`RolloutControlPlane: ${problems.join('; ')}`);
    setWorkflowLogLevel(this, workflowLogLevel);
    const key = props.encryptionKey;
    this.encryptionKey = key;
    if (key && !addDataKeyPolicy(key, this)) {
      Annotations.of(this).addInfo(
        `encryptionKey is imported: its key policy must already allow ${dataKeyPolicyStatements(
          this,
        )
          .map((s) => s.sid)
          .join(', ')} (README, "Customer managed key")`,
      );
    }
    const keyed = key ? { encryptionKey: key } : {};

    this.runStore = new RunStoreTable(this, 'RunStore', {
      removalPolicy: dataRemovalPolicy,
      ...keyed,
    });
    this.hotfixRoot = new HotfixRoot(this, 'HotfixRoot', {
      removalPolicy: dataRemovalPolicy,
      ...keyed,
      ...(props.releaseRole ? { releaseRole: props.releaseRole } : {}),
      ...(props.nodeRoles ? { nodeRoles: props.nodeRoles } : {}),
    });
    this.artifactsBucket = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      ...(key
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      serverAccessLogsBucket: this.hotfixRoot.accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: dataRemovalPolicy,
      autoDeleteObjects: dataRemovalPolicy === RemovalPolicy.DESTROY,
    });
    this.commandLogGroup = new logs.LogGroup(this, 'CommandOutput', {
      retention: logRetention,
      removalPolicy: dataRemovalPolicy,
      ...keyed,
    });
    this.documents = new WindowsDocuments(this, 'Documents', { namePrefix });
    this.events = new RolloutEvents(this, 'Events', {
      namePrefix,
      removalPolicy: dataRemovalPolicy,
      ...keyed,
    });
    this.functions = new RolloutFunctions(this, 'Functions', {
      table: this.runStore.table,
      hotfixBucket: this.hotfixRoot.bucket,
      documentPrefix: namePrefix,
      targetTag,
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
      ...keyed,
      commandLogGroup: this.commandLogGroup,
      artifactsBucket: this.artifactsBucket,
      events: this.events,
    });
    const fns = this.functions.functions;

    const workflowLogs = (name: string) =>
      new logs.LogGroup(this, `${name}Logs`, {
        logGroupName: `/aws/vendedlogs/states/${namePrefix}-${name}`,
        retention: logRetention,
        removalPolicy: dataRemovalPolicy,
        ...keyed,
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
    this.scanWorkflow = new ScanWorkflow(this, 'ScanWorkflow', {
      functions: fns,
      artifactsBucket: this.artifactsBucket,
      logGroup: workflowLogs('ScanWorkflow'),
    }).stateMachine;
    this.complianceWorkflow = new ComplianceAssessment(this, 'ComplianceWorkflow', {
      functions: fns,
      artifactsBucket: this.artifactsBucket,
      logGroup: workflowLogs('ComplianceWorkflow'),
    }).stateMachine;
    this.stagingWorkflow = new StagingWorkflow(this, 'StagingWorkflow', {
      functions: fns,
      logGroup: workflowLogs('StagingWorkflow'),
    }).stateMachine;
    if (workflowLogLevel !== sfn.LogLevel.ALL) {
      for (const machine of [
        this.nodeWorkflow,
        this.rolloutWorkflow,
        this.scanWorkflow,
        this.complianceWorkflow,
        this.stagingWorkflow,
      ]) {
        acknowledge(
          machine,
          'AwsSolutions-SF1',
          `logs ${workflowLogLevel} on purpose: ALL with execution data would write task tokens and payloads to CloudWatch Logs, and ALL costs about 120 log events per node (see README, Deploying)`,
        );
      }
    }

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
      nodeStateMachine: this.nodeWorkflow,
      stagingStateMachine: this.stagingWorkflow,
      table: this.runStore.table,
      scan: { stateMachine: this.scanWorkflow, artifactsBucket: this.artifactsBucket },
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
      ...keyed,
    });

    if (props.schedules && props.schedules.length > 0) {
      this.schedules = new RolloutSchedules(this, 'Schedules', {
        rolloutStateMachine: this.rolloutWorkflow,
        complianceStateMachine: this.complianceWorkflow,
        stagingStateMachine: this.stagingWorkflow,
        schedules: props.schedules,
      });
    }

    // Command completion: the status-change event completes the waiting task (no polling).
    // complete-command throws on purpose when the event beats send-command's token write; Lambda
    // retries an async invocation only twice, so what still fails is dead-lettered, not dropped.
    this.nodeWorkflow.grantTaskResponse(fns.completeCommand);
    this.scanWorkflow.grantTaskResponse(fns.completeCommand);
    this.complianceWorkflow.grantTaskResponse(fns.completeCommand);
    this.completionDeadLetters = new sqs.Queue(this, 'CompletionDeadLetters', {
      ...(key
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Six times the function's timeout, as Lambda advises for an SQS event source.
      visibilityTimeout: Duration.minutes(6),
      removalPolicy: dataRemovalPolicy,
    });
    acknowledge(
      this.completionDeadLetters,
      'AwsSolutions-SQS3',
      'this queue is the dead-letter queue (of the completion rule target and of completeCommand async invocations); a message that fails its redrive stays in it',
    );
    fns.completeCommand.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.completionDeadLetters),
    });
    this.completionRedrive = new lambda.EventSourceMapping(this, 'CompletionRedrive', {
      target: fns.completeCommand,
      eventSourceArn: this.completionDeadLetters.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
      enabled: false,
    });
    this.completionDeadLetters.grantConsumeMessages(fns.completeCommand);
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
          deadLetterQueue: this.completionDeadLetters,
        }),
      ],
    });
    this.completionDeadLettersAlarm = new cloudwatch.Alarm(this, 'CompletionEventsDeadLettered', {
      alarmDescription:
        'A command-status event could not complete its task and was dead-lettered: a node workflow may wait out its timeout. Find the cause, then redrive (README, "Redriving lost completions")',
      metric: this.completionDeadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    if (key) this.encryptWorkflows(key);

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

  /**
   * Encrypts every state machine (definition and execution history) with the key, and grants
   * its use under Step Functions' encryption context to every principal that runs, starts,
   * describes or answers them. Set on the CloudFormation resource: the workflows are built by
   * their own constructs. Grants that would name a state machine would make a dependency cycle
   * (the machine depends on its role's policy), so they are scoped to the state machines of
   * this account and region, under this one key.
   */
  private encryptWorkflows(key: kms.IKey): void {
    const context = stateMachineContext(this);
    const sfnKeyUse = ['kms:Decrypt', 'kms:GenerateDataKey'];
    for (const machine of [
      this.nodeWorkflow,
      this.rolloutWorkflow,
      this.scanWorkflow,
      this.complianceWorkflow,
      this.stagingWorkflow,
    ]) {
      (machine.node.defaultChild as sfn.CfnStateMachine).encryptionConfiguration = {
        type: 'CUSTOMER_MANAGED_KMS_KEY',
        kmsKeyId: key.keyArn,
        kmsDataKeyReusePeriodSeconds: 300,
      };
      grantKey(key, machine, sfnKeyUse, context);
      // Log delivery of an encrypted state machine's events, as aws-cdk-lib grants it.
      grantKey(key, machine, ['kms:GenerateDataKey'], {
        StringEquals: {
          'kms:EncryptionContext:SourceArn': Stack.of(this).formatArn({
            service: 'logs',
            resource: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      });
    }
    // The rollout workflow's artifacts (Distributed Map item reader and results).
    grantKey(key, this.rolloutWorkflow, KEY_READ_WRITE);
    const fns = this.functions.functions;
    // Callers: completeCommand and the approval gate answer task tokens; the API starts,
    // describes and answers; Scheduler starts.
    const callers: iam.IGrantable[] = [fns.completeCommand, fns.approvalGate];
    if (this.schedules) callers.push(this.schedules.role);
    if (this.schedules?.staging) callers.push(this.schedules.staging.role);
    for (const caller of callers) grantKey(key, caller, sfnKeyUse, context);
    // SQS's send grant for the on-failure destination (aws-cdk-lib) names ReEncrypt* and
    // GenerateDataKey*; completeCommand also reads and writes the dead letters with KEY_READ_WRITE.
    grantKey(key, fns.completeCommand, KEY_READ_WRITE);
    for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
      acknowledge(
        fns.completeCommand.role as iam.IRole,
        `AwsSolutions-IAM5[Action::${action}]`,
        "aws-cdk-lib's SQS send grant for the on-failure destination, on the control plane's one key only",
      );
    }
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
