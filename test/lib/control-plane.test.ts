/**
 * The facts of the synthesized control plane that matter: data retention and encryption, who
 * may write the hotfix root, least-privilege IAM per function, logging and tracing, the
 * command-completion rule, and that cdk-nag's AWS Solutions checks are live and pass.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTS } from '../../lambdas/core/contracts.js';
import { FUNCTION_NAMES, type FunctionName } from '../../lib/rollout-functions.js';
import { DEFAULT_SETTINGS, RolloutStack } from '../../lib/rollout-stack.js';
import { synth } from './synth.js';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const BUNDLE_TIMEOUT = 300_000;

type Json = Record<string, unknown>;
interface Resource {
  readonly Type: string;
  readonly Properties?: Json;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}
interface PolicyStatement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}
/** One statement of an identity policy, with the roles it is attached to. */
interface FoundStatement {
  readonly source: string;
  readonly roles: readonly string[];
  readonly statement: PolicyStatement;
}

const resourcesOf = (template: Template) =>
  (template.toJSON() as { Resources: Record<string, Resource> }).Resources;

const logicalIdIn = (stack: Stack, construct: IConstruct | undefined): string => {
  if (!construct) throw new Error('construct is undefined');
  return stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
};

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

const actionsOf = (statement: PolicyStatement) => asList(statement.Action);

const roleName = (role: unknown): string =>
  typeof role === 'string' ? role : String((role as { Ref?: unknown }).Ref);

/** Every statement of every identity policy: IAM policies, managed policies, role inline policies. */
function identityStatements(template: Template): FoundStatement[] {
  const found: FoundStatement[] = [];
  const add = (source: string, roles: string[], document: unknown) => {
    for (const statement of asList((document as { Statement?: PolicyStatement[] }).Statement)) {
      found.push({ source, roles, statement });
    }
  };
  for (const [id, resource] of Object.entries(resourcesOf(template))) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      add(id, asList(p.Roles as unknown[]).map(roleName), p.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const inline of asList(p.Policies as { PolicyDocument: unknown }[])) {
        add(id, [id], inline.PolicyDocument);
      }
    }
  }
  return found;
}

/** Statements granting everything of a service (or everything). */
function wildcardActions(statements: readonly FoundStatement[]): string[] {
  return statements.flatMap(({ source, statement }) => [
    ...actionsOf(statement)
      .filter((a) => a === '*' || a.endsWith(':*'))
      .map((a) => `${source}: Action ${a}`),
    ...asList(statement.NotAction).map((a) => `${source}: NotAction ${a}`),
  ]);
}

/** Renders an ARN built with Fn::Join / Ref / Fn::GetAtt as text, e.g. `arn:${AWS::Partition}:…`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Json;
  if ('Ref' in v) return `\${${String(v.Ref)}}`;
  if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return JSON.stringify(value);
}

const arn = (service: string, rest: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;

describe('the default control plane', () => {
  const { template, stack } = synth();
  const resources = resourcesOf(template);
  const cp = stack.controlPlane;
  const fns = cp.functions.functions;
  const id = (construct: IConstruct | undefined) => logicalIdIn(stack, construct);
  const statements = identityStatements(template);

  describe('run store (DynamoDB)', () => {
    it('keeps the table: PITR, encryption, deletion protection, Retain', () => {
      // Arrange
      const tableId = id(cp.runStore.table);
      // Act
      const matches = template.findResources('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          DeletionProtectionEnabled: true,
          BillingMode: 'PAY_PER_REQUEST',
        }),
      });
      // Assert
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      expect(Object.keys(matches)).toEqual([tableId]);
    });

    it('has the pk/sk key schema, the expiresAt TTL and the gsi1 index', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [
          Match.objectLike({
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
          }),
        ],
      });
    });
  });

  describe('hotfix root (S3)', () => {
    const bucketId = id(cp.hotfixRoot.bucket);
    const logsId = id(cp.hotfixRoot.accessLogsBucket);
    const blockAll = {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    };

    it('blocks public access, is versioned, encrypted, logged and retained', () => {
      // Act
      const matches = template.findResources('AWS::S3::Bucket', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          PublicAccessBlockConfiguration: blockAll,
          VersioningConfiguration: { Status: 'Enabled' },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              Match.objectLike({
                ServerSideEncryptionByDefault: { SSEAlgorithm: Match.stringLikeRegexp('.+') },
              }),
            ],
          },
          LoggingConfiguration: {
            DestinationBucketName: { Ref: logsId },
            LogFilePrefix: Match.anyValue(),
          },
        }),
      });
      // Assert
      expect(Object.keys(matches)).toEqual([bucketId]);
    });

    it('keeps its access logs in a private, encrypted, retained bucket', () => {
      const matches = template.findResources('AWS::S3::Bucket', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          PublicAccessBlockConfiguration: blockAll,
          BucketEncryption: Match.anyValue(),
        }),
      });
      expect(Object.keys(matches)).toContain(logsId);
    });

    it('takes access logs under a bucket policy, with ACLs disabled (no legacy log-delivery ACL)', () => {
      // Act
      const logsBucket = resources[logsId];
      // Assert
      expect(logsBucket?.Properties?.AccessControl).toBeUndefined();
      expect(logsBucket?.Properties?.OwnershipControls).toEqual({
        Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logsId },
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
            }),
          ]),
        }),
      });
    });

    it('denies non-TLS access and every write that is not from the release role', () => {
      // Arrange
      const releaseRoleId = id(cp.hotfixRoot.releaseRole);
      // Act
      const policies = template.findResources('AWS::S3::BucketPolicy', {
        Properties: {
          Bucket: { Ref: bucketId },
          PolicyDocument: Match.objectLike({
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 's3:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
              Match.objectLike({
                Effect: 'Deny',
                Principal: { AWS: '*' },
                // Sorted: @aws-cdk/aws-iam:minimizePolicies orders a statement's actions.
                Action: Match.arrayWith([
                  's3:DeleteObject',
                  's3:DeleteObjectVersion',
                  's3:PutObject',
                ]),
                Condition: {
                  ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [releaseRoleId, 'Arn'] } },
                },
              }),
            ]),
          }),
        },
      });
      // Assert
      expect(Object.keys(policies)).toHaveLength(1);
    });

    it('lets no function write to or delete from the hotfix root', () => {
      // Arrange
      const functionRoles = new Set(FUNCTION_NAMES.map((name) => id(fns[name].role)));
      const writes = /^s3:(Put|Delete|Restore|Replicate)/;
      // Act
      const offending = statements.filter(
        ({ roles, statement }) =>
          roles.some((r) => functionRoles.has(r)) &&
          actionsOf(statement).some((a) => writes.test(a)) &&
          asList(statement.Resource).some((r) => render(r).includes(bucketId)),
      );
      // Assert
      expect(offending).toEqual([]);
    });
  });

  describe('Lambda functions', () => {
    const functions = template.findResources('AWS::Lambda::Function');

    it('has one function per role of the control plane', () => {
      expect(Object.keys(functions).sort()).toEqual(FUNCTION_NAMES.map((n) => id(fns[n])).sort());
    });

    it('runs every function on nodejs24.x, arm64, with active tracing and JSON logs', () => {
      template.allResourcesProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.anyValue() } },
      });
    });

    it('uses the newest Node.js runtime aws-cdk-lib knows (fails when a newer one appears)', () => {
      // Arrange
      const versions = Object.keys(lambda.Runtime)
        .map((key) => /^NODEJS_(\d+)_X$/.exec(key)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number);
      const newest = Math.max(...versions);
      const newestRuntime = (lambda.Runtime as unknown as Record<string, lambda.Runtime>)[
        `NODEJS_${newest}_X`
      ];
      // Act
      const runtimes = new Set(Object.values(functions).map((f) => f.Properties.Runtime));
      // Assert
      expect(newest).toBe(24);
      expect([...runtimes]).toEqual([newestRuntime?.name]);
    });

    it('gives every function its own log group, kept 365 days, and its own role', () => {
      // Act
      const logGroups = Object.values(functions).map(
        (f) => (f.Properties.LoggingConfig.LogGroup as { Ref: string }).Ref,
      );
      const roles = Object.values(functions).map(
        (f) => (f.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
      );
      // Assert
      expect(new Set(logGroups).size).toBe(FUNCTION_NAMES.length);
      expect(new Set(roles).size).toBe(FUNCTION_NAMES.length);
      for (const logGroup of logGroups) {
        expect(resources[logGroup]).toMatchObject({
          Type: 'AWS::Logs::LogGroup',
          Properties: { RetentionInDays: 365 },
        });
      }
    });

    it("ends the API function before API Gateway's 29-second integration timeout", () => {
      // Act
      const apiTimeout = resources[id(fns.api)]?.Properties?.Timeout;
      // Assert
      expect(apiTimeout).toBeTypeOf('number');
      expect(apiTimeout).toBeLessThan(29);
    });

    it('gives completeCommand the document prefix it answers for', () => {
      expect(resources[id(fns.completeCommand)]?.Properties?.Environment).toMatchObject({
        Variables: { DOCUMENT_PREFIX: 'WindowsRollout' },
      });
    });

    it('keeps every log group of the stack 365 days', () => {
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    });
  });

  describe('IAM', () => {
    it('finds identity policies to check (the walk is not vacuous)', () => {
      expect(statements.length).toBeGreaterThan(FUNCTION_NAMES.length);
    });

    it('grants no Action "*" and no "service:*" anywhere', () => {
      expect(wildcardActions(statements)).toEqual([]);
    });

    it('the wildcard check catches a "service:*" action (it can fail)', () => {
      // Arrange
      const stack = new Stack(new App(), 'WildcardProbe');
      new iam.Role(stack, 'Probe', { assumedBy: new iam.AccountRootPrincipal() }).addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
      );
      // Act
      const found = wildcardActions(identityStatements(Template.fromStack(stack)));
      // Assert
      expect(found).toEqual([expect.stringContaining('Action s3:*')]);
    });

    it('allows ssm:SendCommand only on our documents and on tagged instances', () => {
      // Arrange
      const documentArn = arn('ssm', 'document/WindowsRollout-*');
      const targetArns = [arn('ec2', 'instance/*'), arn('ssm', 'managed-instance/*')];
      const sendCommandRole = id(fns.sendCommand.role);
      // Act
      const found = statements.filter((s) => actionsOf(s.statement).includes('ssm:SendCommand'));
      const kinds = found.map(({ roles, statement }) => {
        const resources = asList(statement.Resource).map(render);
        expect(roles).toEqual([sendCommandRole]);
        expect(statement.Effect).toBe('Allow');
        expect(actionsOf(statement)).toEqual(['ssm:SendCommand']);
        if (resources.every((r) => r === documentArn)) {
          expect(statement.Condition).toBeUndefined();
          return 'documents';
        }
        expect(resources.sort()).toEqual([...targetArns].sort());
        expect(statement.Condition).toEqual({
          StringEquals: { 'ssm:resourceTag/WindowsRollout': 'managed' },
        });
        return 'targets';
      });
      // Assert
      expect(kinds.sort()).toEqual(['documents', 'targets']);
    });

    it('lets only cancelCommand cancel, only on tagged targets, as SendCommand is scoped', () => {
      // Arrange
      const targetArns = [arn('ec2', 'instance/*'), arn('ssm', 'managed-instance/*')];
      const cancelRole = id(fns.cancelCommand.role);
      // Act
      const found = statements.filter((s) => actionsOf(s.statement).includes('ssm:CancelCommand'));
      const listing = statements.filter((s) =>
        actionsOf(s.statement).includes('ssm:ListCommandInvocations'),
      );
      // Assert
      expect(found.map((s) => s.roles)).toEqual([[cancelRole]]);
      const statement = found[0]?.statement as PolicyStatement;
      expect(actionsOf(statement)).toEqual(['ssm:CancelCommand']);
      expect(asList(statement.Resource).map(render).sort()).toEqual([...targetArns].sort());
      expect(statement.Condition).toEqual({
        StringEquals: { 'ssm:resourceTag/WindowsRollout': 'managed' },
      });
      expect(listing.map((s) => s.roles)).toEqual([[cancelRole]]);
      // The recommended minimizePolicies flag merges it with the X-Ray statement (both on "*").
      const listed = listing[0]?.statement as PolicyStatement;
      expect(actionsOf(listed).filter((a) => !a.startsWith('xray:'))).toEqual([
        'ssm:ListCommandInvocations',
      ]);
      expect(asList(listed.Resource)).toEqual(['*']);
    });

    it('lets only checkAlarms read CloudWatch alarms, read-only, and find alarms by tag', () => {
      // Arrange
      const alarmsRole = id(fns.checkAlarms.role);
      // Act
      const cloudwatch = statements.filter((s) =>
        actionsOf(s.statement).some((a) => a.startsWith('cloudwatch:')),
      );
      const tagging = statements.filter((s) =>
        actionsOf(s.statement).some((a) => a.startsWith('tag:')),
      );
      // Assert
      expect(cloudwatch.map((s) => s.roles)).toEqual([[alarmsRole]]);
      const read = cloudwatch[0]?.statement as PolicyStatement;
      expect(actionsOf(read).filter((a) => !a.startsWith('xray:'))).toEqual([
        'cloudwatch:DescribeAlarms',
      ]);
      // Composite alarms are returned only to a DescribeAlarms permission on "*".
      expect(asList(read.Resource)).toEqual(['*']);
      expect(tagging.flatMap((s) => s.roles).filter((r) => r === alarmsRole)).toEqual([alarmsRole]);
      const tagged = tagging.find((s) => s.roles.includes(alarmsRole))
        ?.statement as PolicyStatement;
      expect(
        actionsOf(tagged).filter((a) => !a.startsWith('xray:') && !a.startsWith('cloudwatch:')),
      ).toEqual(['tag:GetResources']);
    });

    const DYNAMODB_ACTIONS: Record<FunctionName, readonly string[]> = {
      validateInput: [],
      resolveTarget: [],
      scan: [],
      preflight: ['GetItem', 'UpdateItem'],
      planNode: [],
      hotpatchEligibility: [],
      sendCommand: ['PutItem'],
      cancelCommand: [],
      completeCommand: ['GetItem', 'DeleteItem'],
      interpretResults: ['BatchWriteItem', 'PutItem', 'Query', 'GetItem'],
      runLock: ['PutItem', 'UpdateItem', 'DeleteItem', 'GetItem'],
      runHistory: ['PutItem', 'UpdateItem', 'GetItem', 'Query'],
      approvalGate: ['PutItem', 'GetItem', 'DeleteItem', 'UpdateItem'],
      api: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'],
      checkAlarms: [],
      recordCompliance: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
    };

    it.each(FUNCTION_NAMES)('%s has exactly the DynamoDB actions it uses', (name) => {
      // Arrange
      const roleId = id(fns[name].role);
      const tableId = id(cp.runStore.table);
      const allowed = [`\${${tableId}.Arn}`, `\${${tableId}.Arn}/index/gsi1`];
      // Act
      const dynamo = statements.filter(
        (s) => s.roles.includes(roleId) && actionsOf(s.statement).some((a) => /^dynamodb:/.test(a)),
      );
      const actions = dynamo.flatMap((s) => actionsOf(s.statement));
      // Assert
      expect([...new Set(actions)].sort()).toEqual(
        DYNAMODB_ACTIONS[name].map((a) => `dynamodb:${a}`).sort(),
      );
      for (const { statement } of dynamo) {
        expect(asList(statement.Resource).map(render).sort()).toEqual(allowed.sort());
      }
    });

    it('lets only completeCommand read command output back, GetLogEvents on the command log group alone', () => {
      // Act
      const reads = statements.filter((s) =>
        actionsOf(s.statement).some((a) => a === 'logs:GetLogEvents' || a === 'logs:*'),
      );
      // Assert
      expect(reads.map((s) => s.roles)).toEqual([[id(fns.completeCommand.role)]]);
      const statement = reads[0]?.statement;
      if (!statement) throw new Error('no logs:GetLogEvents statement');
      expect(actionsOf(statement)).toEqual(['logs:GetLogEvents']);
      // The group's ARN, with and without its `:*` suffix: that group and its streams only.
      expect(asList(statement.Resource).map(render)).toEqual([
        `\${${id(cp.commandLogGroup)}.Arn}`,
        arn('logs', `log-group:\${${id(cp.commandLogGroup)}}`),
      ]);
      expect(resources[id(fns.completeCommand)]?.Properties?.Environment).toMatchObject({
        Variables: { COMMAND_LOG_GROUP: { Ref: id(cp.commandLogGroup) } },
      });
    });

    it('grants dynamodb:Scan to nobody', () => {
      const scans = statements.filter((s) =>
        actionsOf(s.statement).some((a) => a === 'dynamodb:Scan' || a === 'dynamodb:*'),
      );
      expect(scans).toEqual([]);
    });

    it('lets completeCommand answer the node and scan workflows and the API the rollout workflow, nobody else', () => {
      // Act
      const found = statements.filter((s) =>
        actionsOf(s.statement).some((a) => a.startsWith('states:SendTask')),
      );
      const byRole = found.map((f) => [f.roles, f.statement.Resource]);
      // Assert
      expect(byRole).toEqual(
        expect.arrayContaining([
          // The node workflow, and the scan and the compliance assessment (both wait on
          // ScanUpdates the same way), in one statement.
          [
            [id(fns.completeCommand.role)],
            [
              { Ref: id(cp.complianceWorkflow) },
              { Ref: id(cp.nodeWorkflow) },
              { Ref: id(cp.scanWorkflow) },
            ],
          ],
          [[id(fns.api.role)], { Ref: id(cp.rolloutWorkflow) }],
          // The approval gate fails its own task when a cancel beat its token to the store.
          [[id(fns.approvalGate.role)], { Ref: id(cp.rolloutWorkflow) }],
        ]),
      );
      expect(found).toHaveLength(3);
    });
  });

  describe('Step Functions', () => {
    it('has the node, rollout, scan, compliance and staging workflows', () => {
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 5);
    });

    it('logs errors with their data (no task token reaches the logs) and traces with X-Ray', () => {
      template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
        LoggingConfiguration: {
          Level: 'ERROR',
          IncludeExecutionData: true,
          Destinations: [
            {
              CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
            },
          ],
        },
        TracingConfiguration: { Enabled: true },
      });
    });

    it.each([
      ['ALL', false],
      ['ERROR', true],
      ['FATAL', true],
      ['OFF', false],
    ] as const)('workflowLogLevel %s logs execution data: %s', (level, data) => {
      // Act
      const { template } = synth({ settings: { workflowLogLevel: level } });
      // Assert
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 5);
      template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
        LoggingConfiguration: Match.objectLike({ Level: level, IncludeExecutionData: data }),
      });
    });

    it.each([
      ['node', () => cp.nodeWorkflow],
      ['rollout', () => cp.rolloutWorkflow],
    ] as const)('the %s workflow logs to its own group with a retention', (_, machine) => {
      // Arrange
      const props = resources[id(machine())]?.Properties as {
        LoggingConfiguration: {
          Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': string[] } } }[];
        };
      };
      // Act
      const groupId =
        props.LoggingConfiguration.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn[
          'Fn::GetAtt'
        ][0];
      // Assert
      expect(resources[groupId ?? '']).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 365 },
      });
    });
  });

  it('alarms once a rollout passes WarnAfter, on the metric run-history counts once per run (issue 8, point 11)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'WindowsRollout',
      MetricName: 'RolloutWarnAfterPassed',
      Dimensions: [{ Name: 'service', Value: 'windows-rollout' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  describe('the target lock (issue 8, point 4)', () => {
    it('releases the lock of a rollout execution that ended ABORTED, TIMED_OUT or FAILED, with retries', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: {
            status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
            stateMachineArn: [{ Ref: id(stack.controlPlane.rolloutWorkflow) }],
          },
        },
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [id(fns.runLock), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
          }),
        ],
      });
    });

    it('run-lock may describe executions of the rollout workflow only', () => {
      // Act
      const statements = identityStatements(template).filter((s) =>
        actionsOf(s.statement).includes('states:DescribeExecution'),
      );
      const forRunLock = statements.filter((s) =>
        s.roles.some((r) => r.includes(id(fns.runLock.role as IConstruct))),
      );
      // Assert
      expect(forRunLock).toHaveLength(1);
      const [found] = forRunLock as [FoundStatement];
      expect(actionsOf(found.statement)).toEqual(['states:DescribeExecution']);
      const resource = JSON.stringify(found.statement.Resource);
      expect(resource).toContain(':execution:');
      expect(resource).toContain(id(stack.controlPlane.rolloutWorkflow));
      expect(resource).not.toContain(id(stack.controlPlane.nodeWorkflow));
    });
  });

  describe('command completion (EventBridge)', () => {
    it('routes terminal statuses of our documents to completeCommand, with retries', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ssm'],
          'detail-type': ['EC2 Command Invocation Status-change Notification'],
          detail: {
            status: Match.arrayWith(['Success', 'Failed', 'TimedOut', 'Cancelled']),
            'document-name': [{ prefix: 'WindowsRollout-' }],
          },
        },
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [id(fns.completeCommand), 'Arn'] },
            RetryPolicy: {
              MaximumRetryAttempts: Match.anyValue(),
              MaximumEventAgeInSeconds: Match.anyValue(),
            },
          }),
        ],
      });
    });

    it('never fires for a command still running (Pending, InProgress, Delayed)', () => {
      // Arrange
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter(
        (r) => JSON.stringify(r.Properties.EventPattern.source) === '["aws.ssm"]',
      );
      const [rule] = rules;
      // Act
      const statuses = rule?.Properties.EventPattern.detail.status as string[];
      const retries = rule?.Properties.Targets[0].RetryPolicy.MaximumRetryAttempts as number;
      // Assert
      expect(rules).toHaveLength(1);
      for (const running of ['Pending', 'InProgress', 'Delayed']) {
        expect(statuses).not.toContain(running);
      }
      expect(retries).toBeGreaterThan(0);
    });

    describe('lost completions are dead-lettered, alarmed and redrivable', () => {
      const queueId = id(cp.completionDeadLetters);
      const queueArn = { 'Fn::GetAtt': [queueId, 'Arn'] };

      it('keeps dead letters 14 days, encrypted, and denies non-TLS access', () => {
        template.hasResourceProperties('AWS::SQS::Queue', {
          SqsManagedSseEnabled: true,
          MessageRetentionPeriod: 14 * 24 * 3600,
        });
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      });

      it('dead-letters what the rule target cannot deliver (EventBridge may send to the queue, this rule only)', () => {
        template.hasResourceProperties('AWS::Events::Rule', {
          Targets: [Match.objectLike({ DeadLetterConfig: { Arn: queueArn } })],
        });
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Allow',
                Action: 'sqs:SendMessage',
                Principal: { Service: 'events.amazonaws.com' },
                Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
              }),
            ]),
          },
        });
      });

      it('sends what completeCommand still fails on after its two async retries to the queue', () => {
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: { Ref: id(fns.completeCommand) },
          MaximumRetryAttempts: 2,
          DestinationConfig: { OnFailure: { Destination: queueArn } },
        });
      });

      it('alarms as soon as one event is dead-lettered', () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Namespace: 'AWS/SQS',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Statistic: 'Maximum',
        });
      });

      it('has a disabled redrive mapping from the queue to completeCommand, with partial batch failures', () => {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: queueArn,
          FunctionName: { Ref: id(fns.completeCommand) },
          Enabled: false,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        });
      });

      it('lets only completeCommand send to and consume the queue', () => {
        // Act
        const users = statements
          .filter(({ statement }) =>
            asList(statement.Resource).some((r) => render(r) === `\${${queueId}.Arn}`),
          )
          .flatMap(({ roles }) => roles);
        // Assert
        expect(users.length).toBeGreaterThan(0);
        expect(new Set(users)).toEqual(new Set([id(fns.completeCommand.role)]));
      });
    });

    it('lets EventBridge invoke completeCommand', () => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [id(fns.completeCommand), 'Arn'] },
      });
    });
  });

  it('alarms on a failed rollout (threshold 1)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'AWS/States',
              MetricName: 'ExecutionsFailed',
              Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: id(cp.rolloutWorkflow) } }],
            },
          }),
        }),
      ]),
    });
  });

  it('deploys the 10 Command documents under the name prefix', () => {
    // Act
    const names = Object.values(template.findResources('AWS::SSM::Document')).map(
      (d) => d.Properties.Name as string,
    );
    // Assert
    template.resourceCountIs('AWS::SSM::Document', 10);
    template.allResourcesProperties('AWS::SSM::Document', { DocumentType: 'Command' });
    expect(names.sort()).toEqual(
      Object.values(DOCUMENTS)
        .map((d) => `WindowsRollout-${d}`)
        .sort(),
    );
  });
});

describe('a customer managed key (customerManagedKey)', () => {
  const { template, stack } = synth({ settings: { customerManagedKey: true } });
  const resources = resourcesOf(template);
  const keys = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::KMS::Key');
  const keyId = keys[0]?.[0] ?? '';
  const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
  const cp = stack.controlPlane;
  const id = (construct: IConstruct | undefined) => logicalIdIn(stack, construct);
  const statements = identityStatements(template);
  type KeyStatement = PolicyStatement & { Principal?: { Service?: string | Json } };
  const keyPolicy = ((keys[0]?.[1].Properties?.KeyPolicy as { Statement?: KeyStatement[] })
    ?.Statement ?? []) as KeyStatement[];

  it('makes one key, rotated yearly, kept with the data', () => {
    expect(keys).toHaveLength(1);
    expect(keys[0]?.[1]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true },
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/WindowsRollout-data' });
  });

  it('encrypts the run store with it', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
  });

  it('encrypts the hotfix root and the artifacts with it (S3 Bucket Key on); access logs stay SSE-S3', () => {
    // Arrange
    const sse = (bucket: IConstruct) =>
      (
        resources[id(bucket)]?.Properties?.BucketEncryption as
          | { ServerSideEncryptionConfiguration?: Json[] }
          | undefined
      )?.ServerSideEncryptionConfiguration?.[0];
    // Act / Assert
    for (const bucket of [cp.hotfixRoot.bucket, cp.artifactsBucket]) {
      expect(sse(bucket)).toEqual({
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
      });
    }
    expect(sse(cp.hotfixRoot.accessLogsBucket)).toMatchObject({
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' },
    });
  });

  it('encrypts every log group with it, and its policy lets CloudWatch Logs use it for our log groups only', () => {
    // Act
    const groups = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    const logsStatement = keyPolicy.find((st) => JSON.stringify(st.Principal).includes('logs.'));
    // Assert
    expect(groups.length).toBeGreaterThan(10);
    for (const group of groups) expect(group.Properties?.KmsKeyId).toEqual(keyArn);
    expect(logsStatement?.Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:*`,
      },
    });
  });

  it('encrypts every state machine with it', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 5);
    template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      EncryptionConfiguration: {
        Type: 'CUSTOMER_MANAGED_KMS_KEY',
        KmsKeyId: keyArn,
        KmsDataKeyReusePeriodSeconds: 300,
      },
    });
  });

  it('encrypts the dead-letter queue, the lifecycle bus and its archive with it', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
    template.hasResourceProperties('AWS::Events::EventBus', { KmsKeyIdentifier: keyArn });
    template.hasResourceProperties('AWS::Events::Archive', { KmsKeyIdentifier: keyArn });
  });

  it("lets EventBridge dead-letter into the encrypted queue and log delivery read the workflows' logs", () => {
    // Act
    const services = keyPolicy.map((st) => JSON.stringify(st.Principal?.Service ?? ''));
    // Assert
    expect(services.some((p) => p.includes('events.amazonaws.com'))).toBe(true);
    expect(services.some((p) => p.includes('delivery.logs.amazonaws.com'))).toBe(true);
  });

  it('grants its use to each principal whose data it encrypts, on this key only', () => {
    // Arrange
    const fns = cp.functions.functions;
    const users = [
      fns.preflight,
      fns.sendCommand,
      fns.completeCommand,
      fns.interpretResults,
      fns.runLock,
      fns.runHistory,
      fns.approvalGate,
      fns.scan,
      fns.planNode,
      fns.hotpatchEligibility,
      fns.api,
    ].map((f) => id(f.role));
    const machines = [cp.nodeWorkflow, cp.rolloutWorkflow].map((m) => id(m.role));
    const release = id(cp.hotfixRoot.releaseRole);
    // Act
    const kmsStatements = statements.filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('kms:')),
    );
    const decrypters = new Set(
      kmsStatements
        .filter(({ statement }) => actionsOf(statement).includes('kms:Decrypt'))
        .flatMap(({ roles }) => roles),
    );
    // Assert
    for (const role of [...users, ...machines, release]) expect(decrypters).toContain(role);
    for (const { statement } of kmsStatements) {
      expect(asList(statement.Resource)).toEqual([keyArn]);
    }
  });

  it('cdk-nag finds nothing unacknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
  });

  it('uses an imported key by ARN for every resource, and makes none', () => {
    // Arrange
    const arn = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    // Act
    const { template } = synth({ settings: { customerManagedKey: arn } });
    // Assert
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: Match.objectLike({ KMSMasterKeyId: arn }),
    });
    template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      EncryptionConfiguration: Match.objectLike({ KmsKeyId: arn }),
    });
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: arn });
  });

  it('without it, nothing is encrypted with a customer managed key and no role is granted kms:*', () => {
    // Act
    const { template } = synth();
    const kmsActions = identityStatements(template).flatMap(({ statement }) =>
      actionsOf(statement).filter((a) => a.startsWith('kms:')),
    );
    // Assert
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(kmsActions).toEqual([]);
    expect(
      Object.values(resourcesOf(template)).filter((r) => r.Properties?.KmsKeyId !== undefined),
    ).toEqual([]);
  });
});

describe('settings change the synthesized stack', () => {
  it('namePrefix and the target tag rename documents and rescope SendCommand', () => {
    // Arrange
    const settings = {
      namePrefix: 'Ops-Rollout',
      targetTagKey: 'PatchGroup',
      targetTagValue: 'wave1',
    };
    // Act
    const { template } = synth({ settings });
    const statements = identityStatements(template).filter((s) =>
      actionsOf(s.statement).includes('ssm:SendCommand'),
    );
    const names = Object.values(template.findResources('AWS::SSM::Document')).map(
      (d) => d.Properties.Name as string,
    );
    // Assert
    expect(names).toHaveLength(10);
    for (const name of names) expect(name).toMatch(/^Ops-Rollout-/);
    expect(statements.flatMap((s) => asList(s.statement.Resource).map(render))).toContain(
      arn('ssm', 'document/Ops-Rollout-*'),
    );
    expect(statements.map((s) => s.statement.Condition).filter(Boolean)).toEqual([
      { StringEquals: { 'ssm:resourceTag/PatchGroup': 'wave1' } },
    ]);
    expect(JSON.stringify(template.toJSON())).not.toContain('ssm:resourceTag/WindowsRollout');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        detail: Match.objectLike({ 'document-name': [{ prefix: 'Ops-Rollout-' }] }),
      }),
    });
  });

  it('node roles may read the hotfix root, and a given release role is the only writer', () => {
    // Arrange
    const nodeRole = `arn:aws:iam::${ACCOUNT}:role/WindowsNode`;
    const releaseRole = `arn:aws:iam::${ACCOUNT}:role/Publisher`;
    // Act
    const { template, stack } = synth({
      settings: { nodeRoleArns: [nodeRole], releaseRoleArn: releaseRole },
    });
    const bucketId = logicalIdIn(stack, stack.controlPlane.hotfixRoot.bucket);
    const nodeStatements = identityStatements(template).filter((s) =>
      s.roles.includes('WindowsNode'),
    );
    // Assert
    expect(nodeStatements.flatMap((s) => actionsOf(s.statement)).sort()).toEqual([
      's3:GetObject',
      's3:GetObjectAttributes',
    ]);
    expect(asList(nodeStatements[0]?.statement.Resource).map(render)).toEqual([
      `\${${bucketId}.Arn}/*`,
    ]);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': releaseRole } },
          }),
        ]),
      }),
    });
    expect(
      Object.keys(template.findResources('AWS::IAM::Role')).filter((r) => r.includes('Release')),
    ).toEqual([]);
  });

  /** Resource types that hold data: each follows the one retention setting. */
  const STATEFUL_TYPES = [
    'AWS::DynamoDB::Table',
    'AWS::S3::Bucket',
    'AWS::Logs::LogGroup',
    'AWS::Events::Archive',
    'AWS::SQS::Queue',
    'AWS::KMS::Key',
  ];
  const statefulResources = (template: Template) =>
    Object.entries(resourcesOf(template)).filter(([, r]) => STATEFUL_TYPES.includes(r.Type));

  it.each([
    [true, 'Retain'],
    [false, 'Delete'],
  ] as const)(
    'retainData %s: every stateful resource has DeletionPolicy %s',
    (retainData, policy) => {
      // Act
      const { template } = synth({ settings: { retainData } });
      const stateful = statefulResources(template);
      // Assert
      const types = new Set(stateful.map(([, r]) => r.Type));
      for (const type of ['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::Logs::LogGroup']) {
        expect(types).toContain(type);
      }
      expect(types).toContain('AWS::Events::Archive');
      const wrong = stateful
        .filter(([, r]) => r.DeletionPolicy !== policy || r.UpdateReplacePolicy !== policy)
        .map(
          ([logicalId, r]) =>
            `${logicalId} ${r.Type}: ${r.DeletionPolicy}/${r.UpdateReplacePolicy}`,
        );
      expect(wrong).toEqual([]);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        DeletionProtectionEnabled: retainData,
      });
    },
  );

  it('retainData false empties every bucket before deleting it (a bucket with objects cannot be deleted)', () => {
    // Act
    const { template } = synth({ settings: { retainData: false } });
    const buckets = Object.keys(template.findResources('AWS::S3::Bucket'));
    const emptied = Object.values(template.findResources('Custom::S3AutoDeleteObjects')).map(
      (r) => (r.Properties.BucketName as { Ref: string }).Ref,
    );
    // Assert
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    expect(emptied.sort()).toEqual(buckets.sort());
  });

  it('retainData true empties nothing: no auto-delete provider exists', () => {
    // Act
    const { template } = synth({ settings: { retainData: true } });
    // Assert
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('retainData false lets the emptying provider, and only it besides the release role, delete from the hotfix root', () => {
    // Arrange
    const { template, stack } = synth({ settings: { retainData: false } });
    const bucketId = logicalIdIn(stack, stack.controlPlane.hotfixRoot.bucket);
    const releaseRoleId = logicalIdIn(stack, stack.controlPlane.hotfixRoot.releaseRole);
    // Act
    const policies = template.findResources('AWS::S3::BucketPolicy', {
      Properties: { Bucket: { Ref: bucketId } },
    });
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as PolicyStatement[],
    );
    const denyWrites = statements.find(
      (st) => st.Effect === 'Deny' && actionsOf(st).includes('s3:DeleteObject'),
    );
    // Assert
    expect(denyWrites?.Condition?.ArnNotEquals?.['aws:PrincipalArn']).toEqual([
      { 'Fn::GetAtt': [releaseRoleId, 'Arn'] },
      { 'Fn::GetAtt': [expect.stringMatching(/^CustomS3AutoDeleteObjects/), 'Arn'] },
    ]);
  });

  it('retainData false passes cdk-nag too', () => {
    // Arrange
    const { stack } = synth({ settings: { retainData: false } });
    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);
    // Assert
    expect(report.violations).toEqual([]);
  });
});

describe('cdk-nag (AWS Solutions)', () => {
  /** Synthesizes what `build` adds under the AWS Solutions checks; returns the failure, if any. */
  function nagFailure(build: (app: App) => void): { message: string; report: string } | undefined {
    const previous = process.env.CDK_VALIDATION;
    process.env.CDK_VALIDATION = 'false';
    try {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      build(app);
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      app.synth();
      return undefined;
    } catch (error) {
      const message = (error as Error).message;
      const reportPath = /found in: (\S+)/.exec(message)?.[1];
      const report = reportPath && existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : '';
      return { message, report };
    } finally {
      if (previous === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = previous;
    }
  }

  it('fails synth on an unacknowledged finding (the check is live)', () => {
    // Act
    const failure = nagFailure((app) => {
      const stack = new Stack(app, 'NonCompliant');
      new s3.Bucket(stack, 'NoTls', {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        encryption: s3.BucketEncryption.S3_MANAGED,
      });
    });
    // Assert
    expect(failure).toBeDefined();
    const text = `${failure?.message}\n${failure?.report}`;
    expect(text).toContain('AwsSolutions');
    expect(text).toContain('AwsSolutions-S10');
    expect(text).toContain('NonCompliant/NoTls');
  });

  it("our acknowledgements do not hide a new finding in the control plane's stack", () => {
    // Act
    const failure = nagFailure((app) => {
      const stack = new RolloutStack(app, 'Plane', DEFAULT_SETTINGS, {
        env: { account: ACCOUNT, region: REGION },
      });
      new s3.Bucket(stack.controlPlane, 'StrayBucket');
    });
    // Assert
    expect(failure).toBeDefined();
    const violations = (
      JSON.parse(failure?.report || '{"pluginReports":[]}') as {
        pluginReports: {
          pluginName: string;
          violations: { violatingConstructs: { constructPath: string }[] }[];
        }[];
      }
    ).pluginReports
      .filter((p) => p.pluginName === 'AwsSolutions')
      .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs))
      .map((c) => c.constructPath);
    expect(violations.length).toBeGreaterThan(0);
    for (const path of violations) expect(path).toMatch(/^Plane\/ControlPlane\/StrayBucket\//);
  });

  it('finds nothing unacknowledged in the control plane', () => {
    // Arrange
    const { stack } = synth();
    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);
    // Assert
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  describe('with bundling and CloudFormation validation', () => {
    let result: ReturnType<typeof synth>;
    beforeAll(() => {
      result = synth({ nag: true, validate: true, bundle: true });
    }, BUNDLE_TIMEOUT);

    it('synthesizes (AwsSolutionsChecks would throw on any finding)', () => {
      result.template.resourceCountIs('AWS::Lambda::Function', FUNCTION_NAMES.length);
      result.template.resourceCountIs('AWS::StepFunctions::StateMachine', 5);
    });

    it('bundles every function to index.mjs, with the default hotfix config where needed', {
      timeout: BUNDLE_TIMEOUT,
    }, () => {
      // Arrange
      const { stack, template } = result;
      const assembly = (stack.node.root as App).synth();
      const manifests = assembly.artifacts.filter(
        (a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact,
      );
      const assetPaths = new Map<string, string>();
      for (const manifest of manifests) {
        for (const file of Object.values(manifest.contents.files ?? {})) {
          for (const destination of Object.values(file.destinations)) {
            assetPaths.set(destination.objectKey, join(assembly.directory, file.source.path ?? ''));
          }
        }
      }
      const defaultConfig = readFileSync(
        new URL('../../lambdas/core/default-hotfix-config.xml', import.meta.url),
        'utf8',
      );
      // Act
      const bundles = Object.fromEntries(
        FUNCTION_NAMES.map((name) => {
          const fn =
            template.toJSON().Resources[
              logicalIdIn(stack, stack.controlPlane.functions.functions[name])
            ];
          const dir = assetPaths.get(fn.Properties.Code.S3Key as string);
          return [name, dir];
        }),
      ) as Record<FunctionName, string | undefined>;
      // Assert
      for (const name of FUNCTION_NAMES) {
        const dir = bundles[name];
        expect(dir, name).toBeDefined();
        expect(readdirSync(dir as string), name).toContain('index.mjs');
      }
      for (const name of ['scan', 'planNode'] as const) {
        const config = join(bundles[name] as string, 'default-hotfix-config.xml');
        expect(readFileSync(config, 'utf8'), name).toBe(defaultConfig);
      }
    });
  });
});
