/**
 * The OpenAPI 3.0.3 document of the change-management API, built from the routes and request
 * schemas (api-model.ts) and the response schemas (api-responses.ts). `api/openapi.json` is its
 * output (test/core/api-model.test.ts keeps the two equal) and RolloutApi deploys that file.
 * Apart from api-model.ts so the API handler, which never builds the document, does not carry
 * it (issue 11, point 4; test/handlers/api-bundle.test.ts).
 *
 * Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import {
  API_PATHS,
  API_ROUTES,
  cancelRequestSchema,
  DEFAULT_PAGE_SIZE,
  decisionRequestSchema,
  forceRecoveryRequestSchema,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAY_HEADER,
  INTEGRATION_URI_PLACEHOLDER,
  MAX_PAGE_SIZE,
  maxBodyBytes,
  type OperationId,
  REPORT_CSV_COLUMNS,
  removalRequestSchema,
  splitPath,
} from './api-model.js';
import {
  cancelAcceptedSchema,
  compliancePageSchema,
  decisionAcceptedSchema,
  errorBodySchema,
  forceRecoveryAcceptedSchema,
  ledgerResponseSchema,
  nodeProgressSchema,
  removalAcceptedSchema,
  rolloutAcceptedSchema,
  rolloutPageSchema,
  rolloutStatusSchema,
  runReportSchema,
  scanAcceptedSchema,
  scanResultSchema,
  scanViewSchema,
  stagingAcceptedSchema,
  stagingStatusSchema,
} from './api-responses.js';
import { COMPLIANCE_DEFAULT_PAGE_SIZE, COMPLIANCE_MAX_PAGE_SIZE } from './compliance-api.js';
import { NETBIOS_MAX_LENGTH } from './node-names.js';
import { MAX_REPORT_PAGE_SIZE } from './report-pages.js';
import {
  GROUP_NAME_PATTERN,
  publishedRolloutInputSchema,
  RUN_ID_PATTERN,
} from './rollout-input.js';

type Json = Record<string, unknown>;

/**
 * The body of POST /rollouts and POST /scans as documented: the rollout workflow's input and a
 * gate. The handler checks a body with parseRolloutRequest (api-model.ts), which this describes.
 */
export const rolloutRequestSchema: z.ZodObject = publishedRolloutInputSchema.meta({
  title: 'RolloutRequest',
  description:
    'The rollout workflow input (its JSON Schema is published with the workflow), with the optional approval gate',
});

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
  }) as Json;
  delete json.$schema;
  return json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: ref('Error') } },
});

/** Built when the document is (the API handler never builds it: its bundle leaves it out). */
const responses = (): Json => ({
  BadRequest: errorResponse(
    'The request is malformed: the body names the field (or parameter, or header) and the problem',
  ),
  NotFound: errorResponse('No such rollout, node or route'),
  Conflict: errorResponse('The request conflicts with the state of the rollout or target'),
  UnsupportedMediaType: errorResponse('The Content-Type is not application/json'),
  ServiceUnavailable: errorResponse('AWS is throttling the control plane; retry after a while', {
    'Retry-After': {
      description: 'Seconds to wait before retrying',
      schema: { type: 'integer' },
    },
  }),
  InternalError: errorResponse('An unexpected error; it is logged with the request id'),
});

const errorRefs = (...names: string[]) =>
  Object.fromEntries(
    names.map((name) => {
      const status = {
        BadRequest: '400',
        NotFound: '404',
        Conflict: '409',
        TooLarge: '413',
        UnsupportedMediaType: '415',
        ServiceUnavailable: '503',
        InternalError: '500',
      }[name] as string;
      // 413 differs by route (maxBodyBytes): openApiDocument writes each operation's own.
      return [status, name === 'TooLarge' ? null : { $ref: `#/components/responses/${name}` }];
    }),
  );

const jsonContent = (schemaName: string) => ({
  'application/json': { schema: ref(schemaName) },
});

const idParameter = (what: 'rollout' | 'node' | 'target' | 'scan'): Json => ({
  name: 'id',
  in: 'path',
  required: true,
  description: {
    rollout: 'The rollout (run) id',
    scan: 'The scan id',
    node: 'The node (NetBIOS computer name)',
    target: 'The cluster or group name',
  }[what],
  schema:
    what === 'rollout' || what === 'scan'
      ? { type: 'string', pattern: RUN_ID_PATTERN.source }
      : what === 'node'
        ? { type: 'string', minLength: 1, maxLength: NETBIOS_MAX_LENGTH }
        : { type: 'string', pattern: GROUP_NAME_PATTERN.source },
});

/** Which id a path's `{id}` is. */
const idKind = (path: string): 'rollout' | 'node' | 'target' =>
  path.startsWith('/nodes') ? 'node' : path.startsWith('/targets') ? 'target' : 'rollout';

/** Each operation's description (built with the document, like {@link responses}). */
const operations = (): Record<OperationId, Json> => ({
  startRollout: {
    description:
      'Starts the rollout workflow with the body as its input; the rollout id is the execution name. The request is remembered for 24 hours under its Idempotency-Key header, else under its change ticket (system:id): the same request again returns the same rollout (with Idempotent-Replay: true), another request under the same key gets 422. 409 when the target already has an active rollout (its lock is held).',
    parameters: [
      {
        name: IDEMPOTENCY_KEY_HEADER,
        in: 'header',
        required: false,
        description:
          'Any 1 to 255 visible ASCII characters, e.g. a UUID; a retry sends the same key and body',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    ],
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': {
        description: 'Started (or, on an idempotent retry, started before)',
        headers: {
          [IDEMPOTENT_REPLAY_HEADER]: {
            description: 'true when this is the response to an earlier identical request',
            schema: { type: 'string', enum: ['true'] },
          },
        },
        content: jsonContent('RolloutAccepted'),
      },
      ...errorRefs('BadRequest', 'Conflict', 'TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('The idempotency key was used for another request'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  listRollouts: {
    description:
      "The rollouts of one cluster or group, newest first, a page at a time. Exactly one of cluster and group; the two share one namespace of target names (as they share the target's lock).",
    parameters: [
      {
        name: 'cluster',
        in: 'query',
        required: false,
        schema: { type: 'string', maxLength: NETBIOS_MAX_LENGTH },
      },
      {
        name: 'group',
        in: 'query',
        required: false,
        schema: { type: 'string', pattern: GROUP_NAME_PATTERN.source },
      },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_PAGE_SIZE,
          default: DEFAULT_PAGE_SIZE,
        },
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description: 'The cursor of the previous page',
        schema: { type: 'string' },
      },
    ],
    responses: {
      '200': { description: 'A page of rollouts', content: jsonContent('RolloutPage') },
      ...errorRefs('BadRequest', 'ServiceUnavailable', 'InternalError'),
    },
  },
  getRollout: {
    description:
      "Status, per-node progress and current step, from the run store and one DescribeExecution. The current step is what the run store records (which nodes have finished, whether the approval gate waits), not the step within a node: that is in the node workflow's execution history, which is not read here because GetExecutionHistory is paged and costly.",
    parameters: [idParameter('rollout')],
    responses: {
      '200': { description: 'The rollout', content: jsonContent('RolloutStatus') },
      ...errorRefs('BadRequest', 'NotFound', 'ServiceUnavailable', 'InternalError'),
    },
  },
  getRolloutReport: {
    description:
      'The detailed report (CAU\'s Get-CauReport -Detailed): per node, per update, the outcome, exit code, restart and duration. Accept: text/csv gives RFC 4180 CSV, one row per update. The nodes come in pages: ?limit= nodes from ?cursor= on (a page holds fewer when more would not fit), the run-level fields in every page. Without limit the whole report is answered when it fits in Lambda\'s 6 MB response limit, else its first page that fits: a page with a next one says so in page.nextCursor (JSON) and in a Link header (rel="next", JSON and CSV).',
    parameters: [
      idParameter('rollout'),
      {
        name: 'limit',
        in: 'query',
        required: false,
        description: 'The most nodes in this page; without it, as many as fit in the response',
        schema: { type: 'integer', minimum: 1, maximum: MAX_REPORT_PAGE_SIZE },
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description:
          'The page.nextCursor of the previous page (or the cursor of its Link header), unchanged',
        schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,512}$' },
      },
      {
        name: 'Accept',
        in: 'header',
        required: false,
        schema: { type: 'string', enum: ['application/json', 'text/csv'] },
      },
    ],
    responses: {
      '200': {
        description: 'The report, or a page of its nodes',
        headers: {
          Link: {
            description:
              'When a next page exists: <?cursor=…>; rel="next" (with limit=… when given), a reference relative to this request',
            schema: { type: 'string' },
          },
        },
        content: {
          ...jsonContent('RunReport'),
          'text/csv': {
            schema: {
              type: 'string',
              description: `Columns: ${REPORT_CSV_COLUMNS.join(', ')}`,
            },
          },
        },
      },
      ...errorRefs('BadRequest', 'NotFound'),
      '406': errorResponse('The Accept header allows neither application/json nor text/csv'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  cancelRollout: {
    description:
      'Sets the rollout to stop after the current node has left its safe state (never leaving a node drained); a rollout waiting at its approval gate stops there. 409 when the rollout is not running.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('CancelRequest') },
    responses: {
      '202': { description: 'Cancel requested', content: jsonContent('CancelAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  approveRollout: {
    description:
      'Releases a rollout waiting at its approval gate: the remaining nodes are updated. 409 when no approval is pending.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('DecisionRequest') },
    responses: {
      '202': { description: 'Approved', content: jsonContent('DecisionAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  rejectRollout: {
    description:
      'Rejects a rollout waiting at its approval gate: the remaining nodes are not updated and the rollout ends Cancelled (ApprovalRejected). 409 when no approval is pending.',
    parameters: [idParameter('rollout')],
    requestBody: { required: false, content: jsonContent('DecisionRequest') },
    responses: {
      '202': { description: 'Rejected', content: jsonContent('DecisionAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  forceRecovery: {
    description:
      "CAU's -ForceRecovery: breaks the target's lock when the rollout holding it is no longer running (its execution ended, or was never started and its claim lapsed), so a new rollout may start. Never breaks the lock of a running rollout: 409 naming its execution. The reason, who and when are recorded on the held run (which, if still recorded Running, becomes Failed) and published as Rollout Lock Force Recovered. 404 when the target is not locked.",
    parameters: [idParameter('target')],
    requestBody: { required: true, content: jsonContent('ForceRecoveryRequest') },
    responses: {
      '200': { description: 'The lock was broken', content: jsonContent('ForceRecoveryAccepted') },
      ...errorRefs(
        'BadRequest',
        'NotFound',
        'Conflict',
        'TooLarge',
        'UnsupportedMediaType',
        'ServiceUnavailable',
        'InternalError',
      ),
    },
  },
  scan: {
    description:
      "CAU's Invoke-CauScan for a rollout input: starts the scan workflow, which resolves the target as a rollout does, plans the hotfix root, and searches Windows Update on every node with the run's QueryString, IncludeRecommendedUpdates and updateSelection (document ScanUpdates). Installs nothing, drains nothing, restarts nothing. Follow it with GET /scans/{id}.",
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': { description: 'The scan started', content: jsonContent('ScanAccepted') },
      ...errorRefs('BadRequest', 'TooLarge', 'UnsupportedMediaType'),
      '501': errorResponse('Scanning is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getNodeProgress: {
    description:
      "Where a node is inside its update: the node workflow's state entered last (GetExecutionHistory of the node's execution, newest first), mapped to a step (inventory, draining, installing, restarting, ...), with the plug-in i of n, the hotfix updates planned and the restarts so far. 404 when the node's execution has not started.",
    parameters: [
      idParameter('rollout'),
      {
        name: 'node',
        in: 'path',
        required: true,
        description: 'The node (NetBIOS computer name), as the rollout names it',
        schema: { type: 'string', minLength: 1, maxLength: NETBIOS_MAX_LENGTH },
      },
    ],
    responses: {
      '200': { description: 'The progress', content: jsonContent('NodeProgress') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Progress is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getScan: {
    description:
      "A scan's status and, once it ended, per node: each update that would install (KB, title, classification, severity, restart expected and why, hotpatch candidate and why) and each update found that would not, with the rule that leaves it out.",
    parameters: [idParameter('scan')],
    responses: {
      '200': { description: 'The scan', content: jsonContent('ScanView') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Scanning is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  startStaging: {
    description:
      "Starts the staging workflow (issue 13 item 5, ConfigMgr's pre-download) with the body, a rollout input, as its input: each node downloads and verifies its planned updates into its staging cache, at most staging.maxConcurrency at once. It takes no target lock and installs, drains or restarts nothing. The staging id is the execution name. The request is remembered for 24 hours under its Idempotency-Key header, else under its change ticket (system:id), apart from rollouts: the same request again returns the same staging (with Idempotent-Replay: true), another request under the same key gets 422.",
    parameters: [
      {
        name: IDEMPOTENCY_KEY_HEADER,
        in: 'header',
        required: false,
        description:
          'Any 1 to 255 visible ASCII characters, e.g. a UUID; a retry sends the same key and body',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    ],
    requestBody: { required: true, content: jsonContent('RolloutRequest') },
    responses: {
      '202': { description: 'Staging started', content: jsonContent('StagingAccepted') },
      ...errorRefs('BadRequest', 'Conflict', 'TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('The Idempotency-Key or change ticket was used for another request'),
      '501': errorResponse('Staging is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getStaging: {
    description:
      "A staging run's status (from DescribeExecution) and, per node staged so far, its staging summary from the run store (RUN#<id> / STAGING#<node>): status, files, bytes, digests verified, cache hits, Windows updates, problems.",
    parameters: [idParameter('rollout')],
    responses: {
      '200': { description: 'The staging run', content: jsonContent('StagingStatus') },
      ...errorRefs('BadRequest', 'NotFound'),
      '501': errorResponse('Staging is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getLedger: {
    description:
      'Every update installed on the node, in install order, with the files each replaced; removed ones marked. A node nothing was recorded for has an empty ledger.',
    parameters: [idParameter('node')],
    responses: {
      '200': { description: 'The ledger', content: jsonContent('Ledger') },
      ...errorRefs('BadRequest', 'ServiceUnavailable', 'InternalError'),
    },
  },
  requestRemoval: {
    description:
      'Plans removing the named updates in reverse install order (KB897341) and starts it; the node restarts after. Removing an update while a later one that replaced the same files stays installed is out of order (KB823836): refused with 409 and the warnings, unless includeDependents (remove those too) or force (accept the risk).',
    parameters: [idParameter('node')],
    requestBody: { required: true, content: jsonContent('RemovalRequest') },
    responses: {
      '202': { description: 'Removal started', content: jsonContent('RemovalAccepted') },
      ...errorRefs('BadRequest'),
      '409': errorResponse(
        'Out of order (KB823836); error.details.warnings lists what would break',
      ),
      ...errorRefs('TooLarge', 'UnsupportedMediaType'),
      '422': errorResponse('An update is not installed on the node (never, or removed already)'),
      '501': errorResponse('Removals are not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
  getCompliance: {
    description:
      "Each node's last compliance assessment (issue 13, item 8; Patch Manager's patch state): installed (KB, when, by which run), missing, failed on the last attempt, pending restart, the state and the state before. Read-only; a page at a time. A target never assessed has no nodes.",
    parameters: [
      {
        name: 'target',
        in: 'query',
        required: true,
        description: 'The cluster or group name',
        schema: { type: 'string', pattern: GROUP_NAME_PATTERN.source },
      },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: {
          type: 'integer',
          minimum: 1,
          maximum: COMPLIANCE_MAX_PAGE_SIZE,
          default: COMPLIANCE_DEFAULT_PAGE_SIZE,
        },
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description: 'The cursor of the previous page',
        schema: { type: 'string' },
      },
    ],
    responses: {
      '200': { description: 'A page of nodes', content: jsonContent('CompliancePage') },
      ...errorRefs('BadRequest'),
      '501': errorResponse('Compliance is not wired in this deployment'),
      ...errorRefs('ServiceUnavailable', 'InternalError'),
    },
  },
});

const integration = () => ({
  type: 'aws_proxy',
  httpMethod: 'POST',
  uri: INTEGRATION_URI_PLACEHOLDER,
  passthroughBehavior: 'when_no_match',
  timeoutInMillis: 29_000,
});

const IAM = { 'x-amazon-apigateway-auth': { type: 'AWS_IAM' }, security: [{ sigv4: [] }] };

/**
 * Routes every other method of a path, and every unknown path, to the handler, which answers
 * 405 (with Allow) or 404 in the API's error shape instead of API Gateway's 403.
 */
const anyMethod = (parameters: Json[]) => ({
  'x-amazon-apigateway-any-method': {
    summary: 'Any other method: 405 with Allow (or 404 for an unknown path)',
    ...(parameters.length > 0 ? { parameters } : {}),
    ...IAM,
    responses: {
      '404': { $ref: '#/components/responses/NotFound' },
      '405': errorResponse('Method not allowed: the Allow header lists the methods', {
        Allow: { schema: { type: 'string' } },
      }),
    },
    'x-amazon-apigateway-integration': integration(),
  },
});

/** Every method the document routes: the API's routes, and the catch-alls (`ANY`). */
export function documentedMethods(document: Json): { path: string; method: string }[] {
  const paths = document.paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => key !== 'parameters')
      .map((key) => ({
        path,
        method: key === 'x-amazon-apigateway-any-method' ? 'ANY' : key.toUpperCase(),
      })),
  );
}

/** An operation's description with its 413 response stating its own body limit. */
function withBodyLimit(operation: Json, id: OperationId): Json {
  const responses = operation.responses as Json | undefined;
  if (responses === undefined || !Object.hasOwn(responses, '413')) return operation;
  const max = maxBodyBytes(id);
  return {
    ...operation,
    responses: {
      ...responses,
      '413': errorResponse(
        `The body is larger than ${max} bytes (${max >= 1024 * 1024 ? `${(max / 1024 / 1024).toFixed(1)} MiB` : `${max / 1024} KiB`}); nothing was done`,
      ),
    },
  };
}

const GATEWAY_ERROR_TEMPLATE =
  '{"error":{"code":"$context.error.responseType","message":$context.error.messageString,"requestId":"$context.requestId"}}';

/**
 * The OpenAPI 3.0.3 document of the API, API Gateway extensions included: IAM (SigV4) on every
 * method, the Lambda proxy integration (its URI a placeholder RolloutApi fills in), parameter
 * validation, and gateway errors in the API's error shape. `api/openapi.json` is this, written.
 *
 * Bodies are checked by the handler against the schemas below, not by API Gateway: its
 * validator (JSON Schema draft 4) names neither the field nor the value in its messages, and
 * cannot check the rules across fields (duplicate nodes, the run policy against the nodes).
 */
export function openApiDocument(): Json {
  const described = operations();
  const paths: Record<string, Json> = {};
  for (const path of API_PATHS) {
    const item: Json = {};
    const pathParameters = path.includes('{id}') ? [idParameter(idKind(path))] : [];
    for (const route of API_ROUTES.filter((r) => r.path === path)) {
      item[route.method.toLowerCase()] = {
        operationId: route.operationId,
        summary: route.summary,
        ...withBodyLimit(described[route.operationId], route.operationId),
        ...IAM,
        'x-amazon-apigateway-integration': integration(),
      };
    }
    Object.assign(item, anyMethod(pathParameters));
    paths[path] = item;
  }
  // Every resource API Gateway creates on the way to a route answers too (404 from the handler).
  for (const path of API_PATHS) {
    const segments = splitPath(path);
    for (let n = 1; n < segments.length; n++) {
      const prefix = `/${segments.slice(0, n).join('/')}`;
      paths[prefix] ??= anyMethod(prefix.includes('{id}') ? [idParameter(idKind(prefix))] : []);
    }
  }
  paths['/'] = anyMethod([]);
  paths['/{proxy+}'] = anyMethod([
    { name: 'proxy', in: 'path', required: true, schema: { type: 'string' } },
  ]);

  const schemas: Record<string, Json> = {
    RolloutRequest: schemaOf(rolloutRequestSchema, 'input'),
    RolloutAccepted: schemaOf(rolloutAcceptedSchema, 'output'),
    RolloutStatus: schemaOf(rolloutStatusSchema, 'output'),
    RolloutPage: schemaOf(rolloutPageSchema, 'output'),
    RunReport: schemaOf(runReportSchema, 'output'),
    CancelRequest: schemaOf(cancelRequestSchema, 'input'),
    CancelAccepted: schemaOf(cancelAcceptedSchema, 'output'),
    ForceRecoveryRequest: schemaOf(forceRecoveryRequestSchema, 'input'),
    ForceRecoveryAccepted: schemaOf(forceRecoveryAcceptedSchema, 'output'),
    DecisionRequest: schemaOf(decisionRequestSchema, 'input'),
    DecisionAccepted: schemaOf(decisionAcceptedSchema, 'output'),
    ScanResult: schemaOf(scanResultSchema, 'output'),
    ScanAccepted: schemaOf(scanAcceptedSchema, 'output'),
    ScanView: schemaOf(scanViewSchema, 'output'),
    NodeProgress: schemaOf(nodeProgressSchema, 'output'),
    StagingAccepted: schemaOf(stagingAcceptedSchema, 'output'),
    StagingStatus: schemaOf(stagingStatusSchema, 'output'),
    Ledger: schemaOf(ledgerResponseSchema, 'output'),
    RemovalRequest: schemaOf(removalRequestSchema, 'input'),
    RemovalAccepted: schemaOf(removalAcceptedSchema, 'output'),
    CompliancePage: schemaOf(compliancePageSchema, 'output'),
    Error: schemaOf(errorBodySchema, 'output'),
  };

  const gatewayResponse = (extraHeaders: Json = {}) => ({
    responseParameters: {
      'gatewayresponse.header.Cache-Control': "'no-store'",
      ...extraHeaders,
    },
    responseTemplates: { 'application/json': GATEWAY_ERROR_TEMPLATE },
  });

  return {
    openapi: '3.0.3',
    info: {
      title: 'Windows rollout control plane: change-management API',
      version: '1.0.0',
      description:
        'Start, follow, approve, cancel and report rollouts of Windows updates to failover clusters and server groups; scan; read install ledgers and remove updates in the safe order. Every request is signed with AWS SigV4 (IAM). Every 4xx names the field and the problem.',
    },
    security: [{ sigv4: [] }],
    paths,
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
      schemas,
      responses: responses(),
    },
    'x-amazon-apigateway-request-validators': {
      params: { validateRequestParameters: true, validateRequestBody: false },
    },
    'x-amazon-apigateway-request-validator': 'params',
    'x-amazon-apigateway-gateway-responses': {
      DEFAULT_4XX: gatewayResponse(),
      DEFAULT_5XX: gatewayResponse(),
      THROTTLED: gatewayResponse({ 'gatewayresponse.header.Retry-After': "'1'" }),
    },
  };
}
