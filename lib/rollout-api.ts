import { readFileSync } from 'node:fs';
import { Aws, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import {
  API_ROUTES,
  INTEGRATION_URI_PLACEHOLDER,
  type OperationId,
} from '../lambdas/core/api-model.js';
import { KEYS } from '../lambdas/core/run-store-model.js';
import { grantKey, KEY_READ_WRITE, stateMachineContext } from './data-key.js';
import { acknowledge, arnToken, wildcardResource } from './nag.js';

/** The OpenAPI document in the repository: what is deployed, with the handler's URI filled in. */
export const OPENAPI_DOCUMENT_PATH = new URL('../api/openapi.json', import.meta.url);

/** Props of {@link RolloutApi}. */
export interface RolloutApiProps {
  /**
   * The function behind every route (`lambdas/handlers/api.ts`). RolloutApi sets its
   * environment (`TABLE_NAME`, `ROLLOUT_STATE_MACHINE_ARN`, `ARTIFACTS_BUCKET` with `scan`) and
   * grants it what it uses.
   */
  readonly handler: lambda.Function;
  /** The rollout workflow: started, described, and its approval tokens completed. */
  readonly rolloutStateMachine: sfn.IStateMachine;
  /**
   * The staging workflow (issue 13 item 5): POST /stagings starts it, GET /stagings/{id}
   * describes its executions. The handler may do nothing else with it.
   * @default - none: the staging routes answer 501
   */
  readonly stagingStateMachine?: sfn.IStateMachine;
  /** The run store table. */
  readonly table: dynamodb.ITable;
  /**
   * The node workflow: GET /rollouts/{id}/nodes/{node}/progress reads its executions' history
   * (states:GetExecutionHistory on its executions, nothing else).
   * @default - none: that route answers 501
   */
  readonly nodeStateMachine?: sfn.IStateMachine;
  /**
   * Lets POST /scans start the scan workflow (lib/scan-workflow.ts) and GET /scans/{id} describe
   * it and read its per-node results (`scans/` of the artifacts bucket).
   * @default - none: POST /scans and GET /scans/{id} answer 501
   */
  readonly scan?: {
    readonly stateMachine: sfn.IStateMachine;
    readonly artifactsBucket: s3.IBucket;
  };
  /** The stage, part of the URL. @default 'v1' */
  readonly stageName?: string;
  /** Requests per second the stage admits, steady state, all callers together. @default 10 */
  readonly throttlingRateLimit?: number;
  /** Requests the stage admits in a burst. @default 20 */
  readonly throttlingBurstLimit?: number;
  /**
   * What happens to the access log when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * The customer managed key of the control plane: it encrypts the access log, and the handler
   * is granted the use its data needs (the table, the buckets, the encrypted rollout workflow).
   * @default - none: AWS managed encryption everywhere
   */
  readonly encryptionKey?: kms.IKey;
  /** Retention of the access log. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A regional AWS WAF web ACL to put in front of the stage.
   * @default - none: SigV4 (IAM) stops unsigned requests at the gateway, before any code runs
   */
  readonly webAclArn?: string;
  /**
   * Sets API Gateway's CloudWatch role for the account and region, which execution and access
   * logs need. It is one setting per account and region: turn this off where it is set already.
   * The role is kept when the stack is deleted, since other APIs may rely on it.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
}

/**
 * The change-management API: an API Gateway REST API built from `api/openapi.json` (SpecRestApi),
 * so the deployed routes are the document's. Every method is IAM (SigV4) authorised and
 * integrated with one Lambda; parameters are validated at the gateway and bodies by the handler
 * (see the document); the stage has access logs, execution logs for errors, X-Ray tracing and
 * throttling.
 */
export class RolloutApi extends Construct {
  public readonly api: apigateway.SpecRestApi;
  /** The stage's access log (JSON, one line per request, with the IAM caller). */
  public readonly accessLogs: logs.LogGroup;
  /** The stage's URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/v1/ */
  public readonly url: string;
  private readonly stageName: string;

  constructor(scope: Construct, id: string, props: RolloutApiProps) {
    super(scope, id);
    const stageName = props.stageName ?? 'v1';
    const rateLimit = props.throttlingRateLimit ?? 10;
    const burstLimit = props.throttlingBurstLimit ?? 20;
    const problems: string[] = [];
    if (!/^[A-Za-z0-9_]{1,128}$/.test(stageName)) {
      problems.push(`stageName ${JSON.stringify(stageName)}: expected 1 to 128 of A-Z a-z 0-9 _`);
    }
    if (!(Number.isFinite(rateLimit) && rateLimit > 0)) {
      problems.push(`throttlingRateLimit ${rateLimit}: expected requests per second above 0`);
    }
    if (!(Number.isInteger(burstLimit) && burstLimit >= 1)) {
      problems.push(
        `throttlingBurstLimit ${burstLimit}: expected a whole number of requests, 1 or more`,
      );
    }
    if (problems.length > 0) throw new Error(`RolloutApi: ${problems.join('; ')}`);
    this.stageName = stageName;

    const document = JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')) as unknown;
    const invokeUri = `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}:lambda:path/2015-03-31/functions/${props.handler.functionArn}/invocations`;

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    const cloudWatchRole = props.cloudWatchRole ?? true;
    this.api = new apigateway.SpecRestApi(this, 'Api', {
      apiDefinition: apigateway.ApiDefinition.fromInline(withIntegrationUri(document, invokeUri)),
      description:
        'Change-management API of the Windows rollout control plane (IAM auth; api/openapi.json)',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole,
      ...(cloudWatchRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        // Errors only, and never bodies: requests carry change tickets and node names.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: rateLimit,
        throttlingBurstLimit: burstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigateway.AccessLogField.contextRequestId(),
            extendedRequestId: apigateway.AccessLogField.contextExtendedRequestId(),
            requestTime: apigateway.AccessLogField.contextRequestTime(),
            httpMethod: apigateway.AccessLogField.contextHttpMethod(),
            resourcePath: apigateway.AccessLogField.contextResourcePath(),
            path: apigateway.AccessLogField.contextPath(),
            status: apigateway.AccessLogField.contextStatus(),
            responseLength: apigateway.AccessLogField.contextResponseLength(),
            sourceIp: apigateway.AccessLogField.contextIdentitySourceIp(),
            caller: apigateway.AccessLogField.contextIdentityCaller(),
            userArn: apigateway.AccessLogField.contextIdentityUserArn(),
            errorMessage: apigateway.AccessLogField.contextErrorMessage(),
            errorType: apigateway.AccessLogField.contextErrorResponseType(),
            integrationStatus: apigateway.AccessLogField.contextIntegrationStatus(),
            integrationLatency: apigateway.AccessLogField.contextIntegrationLatency(),
            xrayTraceId: apigateway.AccessLogField.contextXrayTraceId(),
          }),
        ),
      },
    });
    this.url = this.api.url;

    props.handler.addPermission('InvokedByRolloutApi', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: this.api.arnForExecuteApi('*', '/*', '*'),
    });

    if (props.webAclArn !== undefined) {
      new wafv2.CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    }

    // The handler: its configuration and only the actions it performs.
    const fn = props.handler;
    fn.addEnvironment('TABLE_NAME', props.table.tableName);
    fn.addEnvironment('ROLLOUT_STATE_MACHINE_ARN', props.rolloutStateMachine.stateMachineArn);
    props.rolloutStateMachine.grantStartExecution(fn);
    props.rolloutStateMachine.grantExecution(fn, 'states:DescribeExecution');
    props.rolloutStateMachine.grantTaskResponse(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
        ],
        resources: [props.table.tableArn, `${props.table.tableArn}/index/${KEYS.gsi1Name}`],
      }),
    );
    grantKey(props.encryptionKey, fn, KEY_READ_WRITE);
    // Starting, describing and answering executions of the encrypted workflow.
    grantKey(
      props.encryptionKey,
      fn,
      ['kms:Decrypt', 'kms:GenerateDataKey'],
      stateMachineContext(this),
    );

    const role = fn.role as iam.IRole;
    const stack = Stack.of(this);
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const machine = props.rolloutStateMachine.node.defaultChild;
    if (machine !== undefined) {
      acknowledge(
        role,
        wildcardResource(
          `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(machine as never)}"}]}]}:*`,
        ),
        'DescribeExecution of the rollout workflow: its executions are named by rollout id at run time; the ARN is scoped to this state machine',
      );
    }

    if (props.nodeStateMachine) {
      // The live node view (issue 12): a node's step, from its execution's history.
      fn.addEnvironment('NODE_STATE_MACHINE_ARN', props.nodeStateMachine.stateMachineArn);
      props.nodeStateMachine.grantExecution(fn, 'states:GetExecutionHistory');
      const nodeMachine = props.nodeStateMachine.node.defaultChild;
      if (nodeMachine !== undefined) {
        acknowledge(
          role,
          wildcardResource(
            `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(nodeMachine as never)}"}]}]}:*`,
          ),
          "GetExecutionHistory of the node workflow: a node's execution is named <runId>-<node> at run time; the ARN is scoped to this state machine",
        );
      }
    }
    if (props.stagingStateMachine) this.grantStaging(fn, role, props.stagingStateMachine);

    if (props.scan) {
      // The scan (issue 12, point 4): start it, describe it, read its per-node results. Nothing
      // else: the workflow's own functions read the hotfix root and the nodes.
      const { stateMachine, artifactsBucket } = props.scan;
      fn.addEnvironment('SCAN_STATE_MACHINE_ARN', stateMachine.stateMachineArn);
      fn.addEnvironment('ARTIFACTS_BUCKET', artifactsBucket.bucketName);
      stateMachine.grantStartExecution(fn);
      stateMachine.grantExecution(fn, 'states:DescribeExecution');
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          // Issue 11: the report names every node of a selection from its resolved list
          // (targets/<execution>/nodes.json or ordered.json), read-only.
          resources: [
            artifactsBucket.arnForObjects('scans/*'),
            artifactsBucket.arnForObjects('targets/*'),
          ],
        }),
      );
      const scanMachine = stateMachine.node.defaultChild;
      if (scanMachine !== undefined) {
        acknowledge(
          role,
          wildcardResource(
            `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(scanMachine as never)}"}]}]}:*`,
          ),
          'DescribeExecution of the scan workflow: its executions are named by scan id at run time; the ARN is scoped to this state machine',
        );
      }
      acknowledge(
        role,
        wildcardResource(`${arnToken(artifactsBucket)}/scans/*`),
        "GET /scans/{id} reads the scan's per-node results under scans/ of the artifacts bucket (read-only)",
      );
      acknowledge(
        role,
        wildcardResource(`${arnToken(artifactsBucket)}/targets/*`),
        "GET /rollouts/{id}/report reads a selected run's resolved node list under targets/ (read-only), keyed by execution",
      );
      // Issue 11: a group listing more than 2,000 nodes is uploaded as a manifest, which the
      // workflow's ResolveTarget reads (manifests/); the API writes only manifests/api/.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'UploadLargeNodeLists',
          actions: ['s3:PutObject'],
          resources: [artifactsBucket.arnForObjects('manifests/api/*')],
        }),
      );
      acknowledge(
        role,
        wildcardResource(`${arnToken(artifactsBucket)}/manifests/api/*`),
        "uploads a large group's node list as a manifest, one object per run id (known at request time)",
      );
    }

    // cdk-nag: what remains, and why.
    acknowledge(
      this.api,
      'AwsSolutions-APIG2',
      "Request validation is on (x-amazon-apigateway-request-validators in api/openapi.json, which cdk-nag does not read): parameters at the gateway, bodies in the handler against the zod schemas the document is generated from, because API Gateway's draft-4 validator names neither the field nor the value and cannot check rules across fields",
    );
    if (props.webAclArn === undefined) {
      acknowledge(
        this.api,
        'AwsSolutions-APIG3',
        'Every method requires SigV4 (IAM), so unsigned requests never reach code; callers are change-management systems with IAM roles, and stage throttling bounds the rest. Pass webAclArn to add AWS WAF',
      );
    }
    if (cloudWatchRole) {
      acknowledge(
        this.api,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        "API Gateway's account-wide CloudWatch role serves every REST API of the account and region, so it is not scoped to this one; AWS documents this managed policy for it",
      );
    }
  }

  /** The staging routes' configuration and IAM: StartExecution and DescribeExecution only. */
  private grantStaging(fn: lambda.Function, role: iam.IRole, machine: sfn.IStateMachine): void {
    fn.addEnvironment('STAGING_STATE_MACHINE_ARN', machine.stateMachineArn);
    machine.grantStartExecution(fn);
    machine.grantExecution(fn, 'states:DescribeExecution');
    const resource = machine.node.defaultChild;
    if (resource !== undefined) {
      const stack = Stack.of(this);
      const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
      const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
      acknowledge(
        role,
        wildcardResource(
          `arn:<AWS::Partition>:states:${nagRegion}:${nagAccount}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(resource as never)}"}]}]}:*`,
        ),
        'DescribeExecution of the staging workflow: its executions are named by staging id at run time; the ARN is scoped to this state machine',
      );
    }
  }

  /**
   * Lets `grantee` call the API: every route, or only the given operations (e.g. approvals
   * for the people who approve, separately from the system that starts rollouts).
   */
  grantInvoke(grantee: iam.IGrantable, ...operations: OperationId[]): iam.Grant {
    const routes =
      operations.length === 0
        ? [...API_ROUTES]
        : API_ROUTES.filter((r) => operations.includes(r.operationId));
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((r) =>
        this.api.arnForExecuteApi(r.method, r.path.replace(/\{\w+\}/g, '*'), this.stageName),
      ),
    });
  }
}

/**
 * The document with the handler's invoke URI where the placeholder is.
 * @throws Error when the document has no placeholder (so no method would reach the handler).
 */
export function withIntegrationUri(document: unknown, uri: string): unknown {
  let replaced = 0;
  const walk = (value: unknown): unknown => {
    if (value === INTEGRATION_URI_PLACEHOLDER) {
      replaced++;
      return uri;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  const out = walk(document);
  if (replaced === 0) {
    throw new Error(
      `RolloutApi: api/openapi.json has no integration URI placeholder ${INTEGRATION_URI_PLACEHOLDER}; regenerate it (see test/core/api-model.test.ts)`,
    );
  }
  return out;
}
