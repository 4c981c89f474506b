/**
 * RolloutApi: the deployed API is the OpenAPI document. The synthesized RestApi's Body is
 * `api/openapi.json` with the handler's invoke URI in place of the placeholder, and nothing
 * else: every path and method of the document is there with IAM auth and the Lambda
 * integration, and there is no method the document lacks. Also the stage (logs, tracing,
 * throttling), the handler's least-privilege grants, and cdk-nag.
 */
import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { API_ROUTES, INTEGRATION_URI_PLACEHOLDER } from '../../lambdas/core/api-model.js';
import { documentedMethods } from '../../lambdas/core/api-openapi.js';
import { OPENAPI_DOCUMENT_PATH, RolloutApi, type RolloutApiProps } from '../../lib/rollout-api.js';
import { RunStoreTable } from '../../lib/run-store-table.js';

type Json = Record<string, unknown>;

interface Fixture {
  readonly stack: Stack;
  readonly api: RolloutApi;
  readonly template: Template;
  readonly handler: lambda.Function;
  readonly machine: sfn.StateMachine;
  /** The stand-in staging workflow, when asked for. */
  readonly staging?: sfn.StateMachine;
}

/** A stack with RolloutApi over a stand-in function, state machine and run store. */
function synth(
  props: Partial<RolloutApiProps> = {},
  scan = false,
  extend?: (stack: Stack, api: RolloutApi) => void,
  withStaging = false,
): Fixture {
  const app = new App();
  const stack = new Stack(app, 'ApiTest', {
    env: { account: '000000000000', region: 'eu-west-1' },
  });
  const handler = new lambda.Function(stack, 'ApiHandler', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => ({ statusCode: 200 });'),
    role: new iam.Role(stack, 'ApiHandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    }),
  });
  const machine = new sfn.StateMachine(stack, 'Rollout', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
    tracingEnabled: true,
    logs: {
      destination: new logs.LogGroup(stack, 'RolloutLogs', {
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      level: sfn.LogLevel.ALL,
    },
  });
  // The stand-in workflow's own log and trace delivery needs "*"; not under test here.
  Validations.of(machine.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'test fixture: Step Functions log delivery and X-Ray support only Resource "*"',
  });
  const table = new RunStoreTable(stack, 'RunStore', { removalPolicy: RemovalPolicy.DESTROY })
    .table;
  const scanMachine = (scope: Stack, name: string) => {
    const m = new sfn.StateMachine(scope, `${name}Machine`, {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(scope, `${name}Pass`)),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(scope, `${name}Logs`, {
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
      },
    });
    Validations.of(m.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'test fixture: Step Functions log delivery and X-Ray support only Resource "*"',
    });
    return m;
  };
  const bucket = (id: string) => {
    const b = new s3.Bucket(stack, id, {
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
    });
    Validations.of(b).acknowledge({ id: 'AwsSolutions-S1', reason: 'test fixture' });
    return b;
  };
  const staging = withStaging
    ? new sfn.StateMachine(stack, 'Staging', {
        definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'StagingPass')),
        tracingEnabled: true,
        logs: { destination: new logs.LogGroup(stack, 'StagingLogs'), level: sfn.LogLevel.ALL },
      })
    : undefined;
  if (staging) {
    Validations.of(staging.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'test fixture: Step Functions log delivery and X-Ray support only Resource "*"',
    });
  }
  const api = new RolloutApi(stack, 'Api', {
    handler,
    rolloutStateMachine: machine,
    ...(staging ? { stagingStateMachine: staging } : {}),
    table,
    ...(scan
      ? {
          scan: { stateMachine: scanMachine(stack, 'Scan'), artifactsBucket: bucket('Artifacts') },
          nodeStateMachine: scanMachine(stack, 'Node'),
        }
      : {}),
    ...props,
  });
  extend?.(stack, api);
  return {
    stack,
    api,
    template: Template.fromStack(stack),
    handler,
    machine,
    ...(staging ? { staging } : {}),
  };
}

const documentFile = () => JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')) as Json;

function restApiBody(template: Template): Json {
  const apis = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
  expect(apis).toHaveLength(1);
  return (apis[0] as { Properties: { Body: Json } }).Properties.Body;
}

/** The Body with every integration URI put back to the placeholder, and the URIs found. */
function withoutUris(body: Json): { document: Json; uris: unknown[] } {
  const uris: unknown[] = [];
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => {
          if (k === 'x-amazon-apigateway-integration') {
            uris.push((v as Json).uri);
            return [k, { ...(v as Json), uri: INTEGRATION_URI_PLACEHOLDER }];
          }
          return [k, walk(v)];
        }),
      );
    }
    return value;
  };
  return { document: walk(body) as Json, uris };
}

const methodKey = (m: { path: string; method: string }) => `${m.method} ${m.path}`;

describe('RolloutApi: the deployed API is the OpenAPI document', () => {
  const fixture = synth();

  it('deploys api/openapi.json as the API, with only the integration URI filled in', () => {
    // Act
    const { document } = withoutUris(restApiBody(fixture.template));
    // Assert
    expect(document).toEqual(documentFile());
  });

  it('has every documented path and method, with IAM auth and the Lambda integration, and no other', () => {
    // Arrange
    const body = restApiBody(fixture.template);
    const paths = body.paths as Record<string, Record<string, Json>>;
    const handlerArn = fixture.stack.getLogicalId(fixture.handler.node.defaultChild as never);
    // Act
    const deployed = documentedMethods(body).map(methodKey).sort();
    const documented = documentedMethods(documentFile()).map(methodKey).sort();
    // Assert
    expect(deployed).toEqual(documented);
    for (const route of API_ROUTES) expect(deployed).toContain(`${route.method} ${route.path}`);
    for (const { path, method } of documentedMethods(body)) {
      const operation = paths[path]?.[
        method === 'ANY' ? 'x-amazon-apigateway-any-method' : method.toLowerCase()
      ] as Json;
      expect(operation['x-amazon-apigateway-auth'], `${method} ${path}`).toEqual({
        type: 'AWS_IAM',
      });
      expect(operation.security).toEqual([{ sigv4: [] }]);
      const integration = operation['x-amazon-apigateway-integration'] as Json;
      expect(integration).toMatchObject({ type: 'aws_proxy', httpMethod: 'POST' });
      expect(JSON.stringify(integration.uri)).toContain(`"${handlerArn}","Arn"`);
      expect(JSON.stringify(integration.uri)).toContain(':lambda:path/2015-03-31/functions/');
    }
    // Methods and resources outside the Body would be routes the document lacks.
    fixture.template.resourceCountIs('AWS::ApiGateway::Method', 0);
    fixture.template.resourceCountIs('AWS::ApiGateway::Resource', 0);
  });

  it('validates parameters at the gateway and answers its own errors in the API error shape', () => {
    const body = restApiBody(fixture.template);
    expect(body['x-amazon-apigateway-request-validator']).toBe('params');
    expect(body['x-amazon-apigateway-request-validators']).toEqual({
      params: { validateRequestParameters: true, validateRequestBody: false },
    });
    const responses = body['x-amazon-apigateway-gateway-responses'] as Record<string, Json>;
    expect(Object.keys(responses).sort()).toEqual(['DEFAULT_4XX', 'DEFAULT_5XX', 'THROTTLED']);
    const templates = (responses.DEFAULT_4XX?.responseTemplates ?? {}) as Json;
    const template = templates['application/json'];
    expect(JSON.parse(String(template).replace('$context.error.messageString', '"m"'))).toEqual({
      error: { code: '$context.error.responseType', message: 'm', requestId: '$context.requestId' },
    });
  });

  it('lets API Gateway, and only this API, invoke the handler', () => {
    fixture.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      SourceArn: Match.objectLike({
        'Fn::Join': Match.arrayWith([
          Match.arrayWith([
            { Ref: fixture.stack.getLogicalId(fixture.api.api.node.defaultChild as never) },
          ]),
        ]),
      }),
    });
  });
});

describe('RolloutApi: the stage', () => {
  it('logs access as JSON, logs errors, traces and throttles', () => {
    // Act
    const { template, stack, api } = synth({ throttlingRateLimit: 5, throttlingBurstLimit: 7 });
    // Assert
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: {
          'Fn::GetAtt': [stack.getLogicalId(api.accessLogs.node.defaultChild as never), 'Arn'],
        },
        Format: Match.stringLikeRegexp('"userArn":"\\$context.identity.userArn"'),
      },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: 5,
          ThrottlingBurstLimit: 7,
        }),
      ],
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    template.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
  });

  it('leaves the account CloudWatch role alone when told to', () => {
    synth({ cloudWatchRole: false }).template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('refuses bad props, listing every problem', () => {
    expect(() =>
      synth({ stageName: 'v 1', throttlingRateLimit: 0, throttlingBurstLimit: 1.5 }),
    ).toThrow(/stageName "v 1".*throttlingRateLimit 0.*throttlingBurstLimit 1.5/);
  });
});

describe('RolloutApi: the handler', () => {
  const statements = (template: Template) =>
    Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Json[] } } }).Properties.PolicyDocument
          .Statement,
    );
  const actionsOf = (s: Json) => [s.Action].flat() as string[];

  it('gets its configuration and only the actions it performs', () => {
    // Arrange
    const { template, stack, machine } = synth();
    const machineRef = { Ref: stack.getLogicalId(machine.node.defaultChild as never) };
    // Act
    const found = statements(template);
    // Assert
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          TABLE_NAME: Match.anyValue(),
          ROLLOUT_STATE_MACHINE_ARN: machineRef,
        },
      },
    });
    expect(found).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: machineRef }),
    );
    expect(found).toContainEqual(
      expect.objectContaining({
        Action: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        Resource: machineRef,
      }),
    );
    const describe = found.find((s) => actionsOf(s).includes('states:DescribeExecution'));
    expect(JSON.stringify(describe?.Resource)).toContain(':execution:');
    const dynamo = found.find((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(actionsOf(dynamo as Json).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    for (const s of found) {
      for (const action of actionsOf(s)) expect(action).not.toMatch(/\*/);
    }
    expect(
      found.some((s) => actionsOf(s).some((a) => a.startsWith('s3:') || a.startsWith('ssm:'))),
    ).toBe(false);
  });

  it('with scan, may start and describe the scan workflow and read scans/ only', () => {
    // Act
    const { template } = synth({}, true);
    const found = statements(template);
    // Assert
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ARTIFACTS_BUCKET: Match.anyValue(),
          SCAN_STATE_MACHINE_ARN: Match.anyValue(),
        }),
      },
    });
    const actions = found.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 'states:StartExecution']));
    // Least privilege: the workflow's functions read the hotfix root and the nodes, not the API.
    for (const action of ['s3:ListBucket', 'ssm:DescribeInstanceInformation']) {
      expect(actions).not.toContain(action);
    }
    // It writes only the large node lists it uploads as manifests (issue 11), under manifests/api/.
    const puts = found.filter((s) => actionsOf(s).includes('s3:PutObject'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]?.Resource)).toContain('/manifests/api/*');
    const get = found.find((s) => actionsOf(s).includes('s3:GetObject'));
    expect(JSON.stringify(get?.Resource)).toContain('/scans/*');
    // And a selected run's resolved node list, for its report (issue 11): read-only.
    expect(JSON.stringify(get?.Resource)).toContain('/targets/*');
    expect(actionsOf(get as never)).toEqual(['s3:GetObject']);
    const start = found.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(JSON.stringify(start)).toContain('ScanMachine');
    // The live node view: the node workflow's execution history, and nothing else of it.
    const history = found.filter((s) => actionsOf(s).includes('states:GetExecutionHistory'));
    expect(history).toHaveLength(1);
    expect(actionsOf(history[0] as never)).toEqual(['states:GetExecutionHistory']);
    expect(JSON.stringify(history[0]?.Resource)).toContain('NodeMachine');
    expect(JSON.stringify(history[0]?.Resource)).toContain(':execution:');
  });

  it('with staging, may start and describe the staging workflow and do nothing else with it', () => {
    // Arrange
    const { template, stack, staging, machine } = synth({}, false, undefined, true);
    const stagingId = stack.getLogicalId(staging?.node.defaultChild as never);
    const stagingRef = { Ref: stagingId };
    // Act
    const found = statements(template);
    // Assert
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STAGING_STATE_MACHINE_ARN: stagingRef }) },
    });
    const onStaging = found.filter((s) => JSON.stringify(s.Resource).includes(`"${stagingId}"`));
    expect(onStaging.flatMap(actionsOf).sort()).toEqual([
      'states:DescribeExecution',
      'states:StartExecution',
    ]);
    expect(onStaging.find((s) => actionsOf(s).includes('states:StartExecution'))?.Resource).toEqual(
      stagingRef,
    );
    const describeOnStaging = onStaging.find((s) =>
      actionsOf(s).includes('states:DescribeExecution'),
    );
    expect(JSON.stringify(describeOnStaging?.Resource)).toContain(':execution:');
    // The rollout workflow's grants are unchanged; the staging one gets no task responses.
    const rolloutId = stack.getLogicalId(machine.node.defaultChild as never);
    const taskResponses = found.filter((s) => actionsOf(s).includes('states:SendTaskSuccess'));
    expect(taskResponses.map((s) => s.Resource)).toEqual([{ Ref: rolloutId }]);
  });

  it('without staging, knows no staging workflow', () => {
    // Act
    const { template } = synth();
    // Assert
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(JSON.stringify(fn)).not.toContain('STAGING_STATE_MACHINE_ARN');
  });

  it('grants invoking chosen operations only', () => {
    // Arrange
    let approvers: iam.Role | undefined;
    // Act
    const { template, stack } = synth({}, false, (scope, api) => {
      approvers = new iam.Role(scope, 'Approvers', { assumedBy: new iam.AccountRootPrincipal() });
      api.grantInvoke(approvers, 'approveRollout', 'rejectRollout');
    });
    // Assert
    const role = stack.getLogicalId(approvers?.node.defaultChild as never);
    const policy = JSON.stringify(
      Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
        JSON.stringify(p).includes(`"Ref":"${role}"`),
      ),
    );
    expect(policy).toContain('execute-api:Invoke');
    expect(policy).toContain('/v1/POST/rollouts/*/approve');
    expect(policy).toContain('/v1/POST/rollouts/*/reject');
    expect(policy).not.toContain('cancel');
    expect(policy).not.toMatch(/\/v1\/POST\/rollouts"/);
  });
});

describe('RolloutApi: cdk-nag (AWS Solutions)', () => {
  it.each([
    { case: 'default', props: {}, scan: false },
    { case: 'with scan', props: {}, scan: true },
    {
      case: 'with a web ACL',
      props: { webAclArn: 'arn:aws:wafv2:eu-west-1:000000000000:regional/webacl/api/1' },
      scan: false,
    },
    { case: 'with staging', props: {}, scan: true, staging: true },
  ])('finds nothing unacknowledged: $case', ({ props, scan, ...rest }) => {
    // Arrange
    const { stack } = synth(props, scan, undefined, 'staging' in rest);
    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);
    // Assert
    expect(report.violations).toEqual([]);
  });

  it('acknowledges only what is unavoidable, with reasons', () => {
    // Arrange
    const { api } = synth({
      webAclArn: 'arn:aws:wafv2:eu-west-1:000000000000:regional/webacl/api/1',
    });
    // Act
    const acknowledged = api.api.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    // Assert
    expect(acknowledged.map(([id]) => id.replace(/^.*?(AwsSolutions-)/, '$1')).sort()).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    ]);
    for (const [, reason] of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });
});
