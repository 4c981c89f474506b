import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { KEYS } from '../lambdas/core/run-store-model.js';
import { grantKey, KEY_READ, KEY_READ_WRITE } from './data-key.js';
import { acknowledge, arnToken, wildcardResource, XRAY_REASON } from './nag.js';
import type { RolloutEvents } from './rollout-events.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const HANDLERS = fileURLToPath(new URL('../lambdas/handlers/', import.meta.url));

/** The Lambda functions of the control plane, by role. */
export const FUNCTION_NAMES = [
  'validateInput',
  'resolveTarget',
  'scan',
  'preflight',
  'planNode',
  'hotpatchEligibility',
  'sendCommand',
  'cancelCommand',
  'completeCommand',
  'interpretResults',
  'runLock',
  'runHistory',
  'approvalGate',
  'api',
  'checkAlarms',
  'recordCompliance',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

const ENTRY: Record<FunctionName, string> = {
  validateInput: 'validate-input.ts',
  resolveTarget: 'resolve-target.ts',
  scan: 'scan.ts',
  preflight: 'preflight.ts',
  planNode: 'plan-node.ts',
  hotpatchEligibility: 'hotpatch-eligibility.ts',
  sendCommand: 'send-command.ts',
  cancelCommand: 'cancel-command.ts',
  completeCommand: 'complete-command.ts',
  interpretResults: 'interpret-results.ts',
  runLock: 'run-lock.ts',
  runHistory: 'run-history.ts',
  approvalGate: 'approval-gate.ts',
  api: 'api.ts',
  checkAlarms: 'check-alarms.ts',
  recordCompliance: 'record-compliance.ts',
};

/** A function's handler source file. */
export function handlerEntry(name: FunctionName): string {
  return `${HANDLERS}${ENTRY[name]}`;
}

/**
 * The esbuild settings of every handler bundle, shared with `npm run bench -- bundles` so the
 * sizes it reports are the deployed ones. The SDK is external (the runtime carries it).
 */
export const HANDLER_BUNDLING = {
  target: 'node24',
  minify: true,
  mainFields: ['module', 'main'],
  // Some dependencies still call require(); give ESM bundles one.
  banner:
    "import { createRequire as __rolloutRequire } from 'node:module'; const require = __rolloutRequire(import.meta.url);",
  externalModules: ['@aws-sdk/*'],
} as const;

/**
 * Issue 11: resolving a selection and scanning its nodes page SSM 50 nodes a call: 2,000 calls
 * each at 100,000 nodes, minutes at SSM's Describe throttling. Lambda's longest timeout.
 */
export const LIST_FUNCTION_TIMEOUT = Duration.minutes(15);

/** The API function's timeout: under API Gateway's 29-second integration limit. */
export const API_FUNCTION_TIMEOUT = Duration.seconds(28);

/** Functions that read the hotfix configuration and may fall back to our default file. */
const NEEDS_DEFAULT_CONFIG: readonly FunctionName[] = ['scan', 'planNode'];

/** Props of {@link RolloutFunctions}. */
export interface RolloutFunctionsProps {
  readonly table: dynamodb.ITable;
  readonly hotfixBucket: s3.IBucket;
  /** Prefix of our SSM document names (`<prefix>-Inventory`, ...). */
  readonly documentPrefix: string;
  /** The tag every target instance carries: SendCommand is allowed only on those. */
  readonly targetTag: { readonly key: string; readonly value: string };
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the functions' log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Where SSM writes command output. @default - not written to CloudWatch Logs */
  readonly commandLogGroup?: logs.ILogGroup;
  /** Where the scan writes a fleet's node list for the Distributed Map. */
  readonly artifactsBucket: s3.IBucket;
  /**
   * The customer managed key of the control plane: it encrypts the functions' log groups, and
   * each function is granted the use its data needs (the table, the hotfix root, the artifacts).
   * @default - none: AWS managed encryption everywhere
   */
  readonly encryptionKey?: kms.IKey;
  /** The lifecycle event bus: run history publishes to it. @default - no events */
  readonly events?: RolloutEvents;
}

/**
 * Every Lambda of the control plane: ARM64, the newest Node.js runtime, bundled by local esbuild,
 * Powertools logging and tracing, and only the permissions each one uses.
 */
export class RolloutFunctions extends Construct {
  public readonly functions: Readonly<Record<FunctionName, nodejs.NodejsFunction>>;

  constructor(scope: Construct, id: string, props: RolloutFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const make = (
      name: FunctionName,
      environment: Record<string, string> = {},
      timeout = Duration.seconds(60),
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
        ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      });
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Runs the ${name} function of the rollout control plane`,
      });
      // Our own log group only (instead of AWSLambdaBasicExecutionRole on every log group).
      logGroup.grantWrite(role);
      const copyConfig = NEEDS_DEFAULT_CONFIG.includes(name);
      return new nodejs.NodejsFunction(this, name, {
        entry: handlerEntry(name),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: `${REPO_ROOT}package-lock.json`,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 512,
        timeout,
        tracing: lambda.Tracing.ACTIVE,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: {
          POWERTOOLS_SERVICE_NAME: 'windows-rollout',
          POWERTOOLS_METRICS_NAMESPACE: 'WindowsRollout',
          ...environment,
        },
        bundling: {
          format: nodejs.OutputFormat.ESM,
          ...HANDLER_BUNDLING,
          sourceMap: true,
          mainFields: [...HANDLER_BUNDLING.mainFields],
          externalModules: [...HANDLER_BUNDLING.externalModules],
          ...(copyConfig
            ? {
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: (inputDir: string, outputDir: string) => [
                    `cp "${inputDir}/lambdas/core/default-hotfix-config.xml" "${outputDir}/default-hotfix-config.xml"`,
                  ],
                },
              }
            : {}),
        },
      });
    };

    const table = { TABLE_NAME: props.table.tableName };
    this.functions = {
      validateInput: make('validateInput'),
      // Issue 11: the resolved node list goes to targets/ of the artifacts bucket.
      resolveTarget: make(
        'resolveTarget',
        { ARTIFACTS_BUCKET: props.artifactsBucket.bucketName },
        LIST_FUNCTION_TIMEOUT,
      ),
      scan: make(
        'scan',
        { ARTIFACTS_BUCKET: props.artifactsBucket.bucketName },
        LIST_FUNCTION_TIMEOUT,
      ),
      preflight: make('preflight', table),
      planNode: make('planNode'),
      hotpatchEligibility: make('hotpatchEligibility'),
      sendCommand: make('sendCommand', {
        ...table,
        DOCUMENT_PREFIX: props.documentPrefix,
        ...(props.commandLogGroup ? { COMMAND_LOG_GROUP: props.commandLogGroup.logGroupName } : {}),
      }),
      cancelCommand: make('cancelCommand'),
      completeCommand: make('completeCommand', {
        ...table,
        DOCUMENT_PREFIX: props.documentPrefix,
        // Reads back output GetCommandInvocation cut at 24,000 characters (full-output.ts).
        ...(props.commandLogGroup ? { COMMAND_LOG_GROUP: props.commandLogGroup.logGroupName } : {}),
      }),
      interpretResults: make('interpretResults', table),
      // The bus: a run the status-change rule marks Failed gets its Rollout Failed.
      runLock: make('runLock', { ...table, ...(props.events?.environment ?? {}) }),
      runHistory: make('runHistory', { ...table, ...(props.events?.environment ?? {}) }),
      approvalGate: make('approvalGate', { ...table, ...(props.events?.environment ?? {}) }),
      // RolloutApi adds its environment and permissions (table, state machine, buckets).
      // API Gateway answers 504 after 29 s: the function must end first, with its own answer.
      // The bus: ForceRecovery publishes Rollout Lock Force Recovered.
      api: make('api', { ...(props.events?.environment ?? {}) }, API_FUNCTION_TIMEOUT),
      // Health gates (issue 13, item 1): reads CloudWatch alarms, by name or by tag.
      checkAlarms: make('checkAlarms'),
      // Compliance (issue 13, item 8): judges and records each node after an assessment's scan.
      recordCompliance: make(
        'recordCompliance',
        {
          ...table,
          ARTIFACTS_BUCKET: props.artifactsBucket.bucketName,
          ...(props.events?.environment ?? {}),
        },
        Duration.minutes(5),
      ),
    };
    // complete-command reads a cut command output back from its stream: that one action, on
    // the command log group only.
    props.commandLogGroup?.grant(this.functions.completeCommand, 'logs:GetLogEvents');
    props.events?.grantPublish(this.functions.runHistory);
    props.events?.grantPublish(this.functions.approvalGate);
    props.events?.grantPublish(this.functions.api);
    props.events?.grantPublish(this.functions.runLock);
    props.events?.grantPublish(this.functions.recordCompliance);
    const f = this.functions;

    // DynamoDB: each function gets only the actions it performs.
    const tableActions: Partial<Record<FunctionName, string[]>> = {
      preflight: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      sendCommand: ['dynamodb:PutItem'],
      completeCommand: ['dynamodb:GetItem', 'dynamodb:DeleteItem'],
      interpretResults: [
        'dynamodb:BatchWriteItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:GetItem',
      ],
      runLock: [
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
      ],
      runHistory: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:Query'],
      approvalGate: [
        'dynamodb:PutItem',
        'dynamodb:GetItem',
        'dynamodb:DeleteItem',
        'dynamodb:UpdateItem',
      ],
      // Reads ledgers and the last run (GSI1), writes only its compliance items.
      recordCompliance: [
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ],
    };
    for (const [name, actions] of Object.entries(tableActions) as [FunctionName, string[]][]) {
      f[name].addToRolePolicy(
        new iam.PolicyStatement({
          actions,
          resources: [props.table.tableArn, `${props.table.tableArn}/index/${KEYS.gsi1Name}`],
        }),
      );
      grantKey(props.encryptionKey, f[name], KEY_READ_WRITE);
    }

    // The hotfix root: read only.
    for (const name of ['scan', 'planNode', 'hotpatchEligibility'] as const) {
      f[name].addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [props.hotfixBucket.bucketArn],
        }),
      );
      f[name].addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:GetObjectAttributes', 's3:GetObjectVersion'],
          resources: [props.hotfixBucket.arnForObjects('*')],
        }),
      );
      grantKey(props.encryptionKey, f[name], KEY_READ);
    }

    f.scan.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [
          props.artifactsBucket.arnForObjects('runs/*'),
          // The scan workflow's per-node results (lambdas/core/scan-result.ts).
          props.artifactsBucket.arnForObjects('scans/*'),
        ],
      }),
    );
    grantKey(props.encryptionKey, f.scan, KEY_READ_WRITE);

    // Compliance: reads the scan's per-node results, nothing else of the bucket.
    f.recordCompliance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.artifactsBucket.arnForObjects('scans/*')],
      }),
    );
    grantKey(props.encryptionKey, f.recordCompliance, KEY_READ);

    // Issue 11: resolving a selected target reads managed nodes (by tag or id), a Resource
    // Group's members, and a manifest under manifests/ of the artifacts bucket. Nothing else.
    const rg = `arn:${stack.partition}:resource-groups:${stack.region}:${stack.account}:group/*`;
    f.resolveTarget.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListResourceGroupMembers',
        actions: ['resource-groups:ListGroupResources'],
        resources: [rg],
      }),
    );
    f.resolveTarget.addToRolePolicy(
      new iam.PolicyStatement({
        // A tag-based group's members are found through the tagging API; it has no resources.
        actions: ['tag:GetResources'],
        resources: ['*'],
      }),
    );
    f.resolveTarget.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadNodeManifests',
        actions: ['s3:GetObject'],
        resources: [props.artifactsBucket.arnForObjects('manifests/*')],
      }),
    );
    grantKey(props.encryptionKey, f.resolveTarget, KEY_READ_WRITE);
    // Issue 11: a resolved list goes through S3 (targets/<execution>/): ResolveTarget writes
    // it, validation reads it (and writes it again in update order when reordered), the scan
    // reads it. Only that prefix.
    const nodeLists = props.artifactsBucket.arnForObjects('targets/*');
    f.resolveTarget.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteResolvedNodeLists',
        actions: ['s3:PutObject'],
        resources: [nodeLists],
      }),
    );
    f.validateInput.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadResolvedNodeLists',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [nodeLists],
      }),
    );
    grantKey(props.encryptionKey, f.validateInput, KEY_READ_WRITE);
    // The run history records a resolved list's names (up to 2,000) from it.
    f.runHistory.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadResolvedNodeLists',
        actions: ['s3:GetObject'],
        resources: [nodeLists],
      }),
    );
    grantKey(props.encryptionKey, f.runHistory, KEY_READ);
    f.scan.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadResolvedNodeLists',
        actions: ['s3:GetObject'],
        resources: [nodeLists],
      }),
    );

    // SSM: node status, and commands only with our documents on tagged instances.
    for (const name of ['scan', 'preflight', 'resolveTarget'] as const) {
      f[name].addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:DescribeInstanceInformation'],
          // DescribeInstanceInformation supports no resource-level permissions.
          resources: ['*'],
        }),
      );
    }
    const region = stack.region;
    const account = stack.account;
    f.sendCommand.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'OurDocumentsOnly',
        actions: ['ssm:SendCommand'],
        resources: [
          `arn:${stack.partition}:ssm:${region}:${account}:document/${props.documentPrefix}-*`,
        ],
      }),
    );
    f.sendCommand.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TaggedTargetsOnly',
        actions: ['ssm:SendCommand'],
        resources: [
          `arn:${stack.partition}:ec2:${region}:${account}:instance/*`,
          `arn:${stack.partition}:ssm:${region}:${account}:managed-instance/*`,
        ],
        conditions: {
          StringEquals: { [`ssm:resourceTag/${props.targetTag.key}`]: props.targetTag.value },
        },
      }),
    );
    // Cancelling a timed-out command: scoped as SendCommand is (our documents, tagged targets);
    // finding it needs ListCommandInvocations, which has no resource-level permissions.
    f.cancelCommand.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'CancelOnTaggedTargetsOnly',
        actions: ['ssm:CancelCommand'],
        resources: [
          `arn:${stack.partition}:ec2:${region}:${account}:instance/*`,
          `arn:${stack.partition}:ssm:${region}:${account}:managed-instance/*`,
        ],
        conditions: {
          StringEquals: { [`ssm:resourceTag/${props.targetTag.key}`]: props.targetTag.value },
        },
      }),
    );
    f.cancelCommand.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:ListCommandInvocations'],
        // ListCommandInvocations supports no resource-level permissions.
        resources: ['*'],
      }),
    );
    f.completeCommand.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetCommandInvocation'],
        // GetCommandInvocation supports no resource-level permissions.
        resources: ['*'],
      }),
    );

    // Health gates (issue 13, item 1): read-only. DescribeAlarms is scoped to "*" because
    // CloudWatch returns composite alarms only to a DescribeAlarms permission scoped to "*"
    // (DescribeAlarms API reference); GetResources supports no resource-level permissions.
    f.checkAlarms.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: ['*'],
      }),
    );
    f.checkAlarms.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FindTaggedAlarms',
        actions: ['tag:GetResources'],
        resources: ['*'],
      }),
    );

    // cdk-nag: the wildcards that remain, and why each is as narrow as IAM allows.
    for (const name of FUNCTION_NAMES) {
      const reasons = [XRAY_REASON];
      if (name === 'scan' || name === 'preflight' || name === 'resolveTarget') {
        reasons.push('ssm:DescribeInstanceInformation supports only Resource "*"');
      }
      if (name === 'resolveTarget') {
        reasons.push(
          'tag:GetResources (which ListGroupResources needs for tag-based groups) supports only Resource "*"',
        );
      }
      if (name === 'checkAlarms') {
        reasons.push(
          'cloudwatch:DescribeAlarms returns composite alarms only when scoped to Resource "*"; tag:GetResources supports only Resource "*"; both read-only',
        );
      }
      if (name === 'completeCommand')
        reasons.push('ssm:GetCommandInvocation supports only Resource "*"');
      if (name === 'cancelCommand')
        reasons.push('ssm:ListCommandInvocations supports only Resource "*"');
      acknowledge(f[name].role as iam.IRole, wildcardResource('*'), reasons.join('; '));
    }
    for (const name of ['scan', 'planNode', 'hotpatchEligibility'] as const) {
      acknowledge(
        f[name].role as iam.IRole,
        wildcardResource(`${arnToken(props.hotfixBucket)}/*`),
        'reads any update under the hotfix root (read-only: GetObject, GetObjectAttributes)',
      );
    }
    acknowledge(
      f.resolveTarget.role as iam.IRole,
      wildcardResource(`${arnToken(props.artifactsBucket)}/manifests/*`),
      'reads the node manifests the CLI or API uploads under manifests/ (read-only)',
    );
    acknowledge(
      f.scan.role as iam.IRole,
      wildcardResource(`${arnToken(props.artifactsBucket)}/runs/*`),
      "writes each run's node list under runs/ of the artifacts bucket",
    );
    acknowledge(
      f.scan.role as iam.IRole,
      wildcardResource(`${arnToken(props.artifactsBucket)}/scans/*`),
      "writes each scan's per-node results under scans/ of the artifacts bucket",
    );
    acknowledge(
      f.recordCompliance.role as iam.IRole,
      wildcardResource(`${arnToken(props.artifactsBucket)}/scans/*`),
      "reads each scan's per-node results under scans/ of the artifacts bucket (read-only)",
    );
    for (const [name, what] of [
      ['resolveTarget', 'writes'],
      ['validateInput', 'reads (and writes in update order)'],
      ['runHistory', 'reads'],
      ['scan', 'reads'],
    ] as const) {
      acknowledge(
        f[name].role as iam.IRole,
        wildcardResource(`${arnToken(props.artifactsBucket)}/targets/*`),
        `${what} each execution's resolved node list under targets/ of the artifacts bucket; the key names the execution, known only at run time`,
      );
    }
    // cdk-nag prints unresolved pseudo parameters as <AWS::Region>; resolved ones literally.
    const nagRegion = Token.isUnresolved(region) ? '<AWS::Region>' : region;
    const nagAccount = Token.isUnresolved(account) ? '<AWS::AccountId>' : account;
    const arn = (service: string, rest: string) =>
      `arn:<AWS::Partition>:${service}:${nagRegion}:${nagAccount}:${rest}`;
    acknowledge(
      f.resolveTarget.role as iam.IRole,
      wildcardResource(arn('resource-groups', 'group/*')),
      'the Resource Group is named in the rollout input at run time; ListGroupResources only',
    );
    acknowledge(
      f.sendCommand.role as iam.IRole,
      wildcardResource(arn('ssm', `document/${props.documentPrefix}-*`)),
      'only the SSM documents of this deployment, which all carry its name prefix',
    );
    for (const fn of [f.sendCommand, f.cancelCommand]) {
      for (const resource of [arn('ec2', 'instance/*'), arn('ssm', 'managed-instance/*')]) {
        acknowledge(
          fn.role as iam.IRole,
          wildcardResource(resource),
          `only instances tagged ${props.targetTag.key}=${props.targetTag.value} (ssm:resourceTag condition); the nodes of a rollout are not known at deploy time`,
        );
      }
    }
  }
}
