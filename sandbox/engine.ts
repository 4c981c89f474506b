/**
 * The local sandbox: the state machines `cdk synth` produces and the real Lambda handlers, run
 * offline against a simulated Windows fleet and a real local DynamoDB (dynalite on loopback),
 * in virtual time. See adapt.ts for every way the run differs from AWS.
 */
import './polyfill.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import dynalite from 'dynalite';
import { JSONPath } from 'jsonpath-plus';
import { scanNodeResultKey } from '../lambdas/core/scan-result.js';
import { makeApiHandler, makeRolloutRemovalStarter } from '../lambdas/handlers/api.js';
import { makeApprovalGateHandler } from '../lambdas/handlers/approval-gate.js';
import { makeCancelCommandHandler } from '../lambdas/handlers/cancel-command.js';
import { makeCheckAlarmsHandler } from '../lambdas/handlers/check-alarms.js';
import { makeCompleteCommandHandler } from '../lambdas/handlers/complete-command.js';
import { makeHotpatchEligibilityHandler } from '../lambdas/handlers/hotpatch-eligibility.js';
import { makeInterpretResultsHandler } from '../lambdas/handlers/interpret-results.js';
import { makePlanNodeHandler } from '../lambdas/handlers/plan-node.js';
import { makePreflightHandler } from '../lambdas/handlers/preflight.js';
import { makeRecordComplianceHandler } from '../lambdas/handlers/record-compliance.js';
import {
  makeResolveTargetHandler,
  type ResourceGroupsPort,
} from '../lambdas/handlers/resolve-target.js';
import { makeRunHistoryHandler } from '../lambdas/handlers/run-history.js';
import { makeRunLockHandler } from '../lambdas/handlers/run-lock.js';
import { makeScanHandler } from '../lambdas/handlers/scan.js';
import { makeScanNodeHandler } from '../lambdas/handlers/scan-node.js';
import { makeSendCommandHandler } from '../lambdas/handlers/send-command.js';
import { makeValidateInputHandler } from '../lambdas/handlers/validate-input.js';
import { ComplianceStore } from '../lambdas/shared/compliance-store.js';
import { RunStore } from '../lambdas/shared/run-store.js';
import { FUNCTION_NAMES, type FunctionName } from '../lib/rollout-functions.js';
import { DEFAULT_SETTINGS, RolloutStack } from '../lib/rollout-stack.js';
import { type AdaptedDefinition, adaptDefinition, SANDBOX_STATE_ENTERED_TIME } from './adapt.js';
import { SimulatedAlarms } from './alarms.js';
import { FakeS3, InProcessHandler, RecordingBus, TaskTokens } from './aws-fakes.js';
import { VirtualClock } from './clock.js';
import {
  type CommandLogSource,
  FakeCommandLogs,
  SANDBOX_COMMAND_LOG_GROUP,
} from './command-logs.js';
import { type AslDefinition, placeholderArn, renderStateMachines } from './definitions.js';
import { closeDynaliteIterators } from './dynalite-iterators.js';
import { type ItemReaderSpec, readItems } from './item-reader.js';
import { simulatedResourceGroups } from './resource-groups.js';
import { unsignedDynamoDbAuth } from './sandbox-signer.js';

type Json = unknown;

/** History events kept per node execution for GetExecutionHistory (the live node view). */
const HISTORY_KEPT = 8;

/** Lambda's asynchronous invocation retries a function error twice, about 1 and 2 minutes later. */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000] as const;
type Handler = (event: Json) => Promise<Json>;
/** An adapted definition scope and its validated interpreter. */
type AdaptedScope = AdaptedDefinition & { readonly machine: StateMachine };

/** Something that happened in the sandbox, for the live display and the report. */
export interface ProgressEvent {
  readonly at: Date;
  readonly execution: string;
  readonly runId?: string;
  readonly node?: string;
  readonly state: string;
}

/** How one state machine execution ended. */
/** What {@link Sandbox.onRolloutExecution} calls. */
export interface RolloutExecutionListener {
  started(executionArn: string, input: Json): void;
  ended(execution: ExecutionResult, input: Json): void;
}

export interface ExecutionResult {
  readonly executionArn: string;
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output?: Json;
  readonly error?: string;
  readonly cause?: string;
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  /** History events as AWS would count them (see countHistory). */
  readonly historyEvents: number;
  /** State transitions (states entered). */
  readonly stateTransitions: number;
}

export interface SandboxOptions {
  /** Where virtual time starts. @default 2026-01-13T22:00:00Z */
  readonly startTime?: Date;
  /** Called for each state a node or rollout execution enters. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** The SSM side: the simulated fleet's client, built once the clock exists. */
  readonly ssm: (
    clock: VirtualClock,
    onEvent: (event: Json) => void,
  ) => { send(command: unknown): Promise<unknown> };
  /** Resource Groups for targets chosen by group (issue 11). @default - no group exists */
  readonly resourceGroups?: ResourceGroupsPort;
  /** CloudWatch alarms for health gates (issue 13, item 1). @default - no alarm exists */
  readonly alarms?: SimulatedAlarms;
  /** Lambda throttling to inject: the first N invocations of a function fail with Lambda.TooManyRequestsException. */
  readonly throttle?: Partial<Record<FunctionName, number>>;
  /**
   * A folder that keeps the run store on disk (dynalite's LevelDB), so a later sandbox over the
   * same folder finds its runs, ledgers and locks. @default - in memory
   */
  readonly storePath?: string;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** The synthesized stack's definitions, functions and table, rendered once per process. */
interface Synthesized {
  readonly rollout: { arn: string; definition: AslDefinition };
  readonly node: { arn: string; definition: AslDefinition };
  /** The scan workflow (lib/scan-workflow.ts). */
  readonly scan: { arn: string; definition: AslDefinition };
  /** The compliance assessment (lib/compliance-assessment.ts): the scan, then record-compliance. */
  readonly compliance: { arn: string; definition: AslDefinition };
  /** Staging before the window (issue 13 item 5). */
  readonly staging: { arn: string; definition: AslDefinition };
  readonly functions: ReadonlyMap<string, FunctionName>;
  readonly table: Record<string, unknown>;
  readonly eventPattern: Record<string, unknown>;
  /** The lock's release rule (rollout executions that ended ABORTED, TIMED_OUT or FAILED). */
  readonly lockRulePattern: Record<string, unknown>;
  readonly documentPrefix: string;
  readonly artifactsBucket: string;
}

let synthesized: Synthesized | undefined;

/** Adapted definitions and their validated interpreters, by key and definition text. */
const ADAPTED_SCOPES = new Map<string, AdaptedScope>();

/** Synthesizes the stack as `npx cdk synth` does (without bundling) and renders what we run. */
export function synthesize(): Synthesized {
  if (synthesized) return synthesized;
  const previous = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new RolloutStack(app, 'Sandbox', DEFAULT_SETTINGS, {
      env: { account: '000000000000', region: 'us-east-1' },
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const cp = stack.controlPlane;
    const id = (c: { node: { defaultChild?: unknown } }) =>
      Stack.of(stack).getLogicalId(c.node.defaultChild as CfnElement);
    const machines = renderStateMachines(template);
    const find = (logicalId: string) => {
      const m = machines.find((x) => x.logicalId === logicalId);
      if (!m) throw new Error(`the template has no state machine ${logicalId}`);
      return { arn: m.arn, definition: m.definition };
    };
    const functions = new Map<string, FunctionName>();
    for (const name of FUNCTION_NAMES) {
      functions.set(
        placeholderArn('AWS::Lambda::Function', id(cp.functions.functions[name])),
        name,
      );
    }
    // The SSM command status-change rule (other rules, such as the lock's, have other sources).
    const rule = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Events::Rule' &&
        JSON.stringify((r.Properties.EventPattern as { source?: unknown })?.source) ===
          '["aws.ssm"]',
    );
    synthesized = {
      rollout: find(id(cp.rolloutWorkflow)),
      node: find(id(cp.nodeWorkflow)),
      scan: find(id(cp.scanWorkflow)),
      compliance: find(id(cp.complianceWorkflow)),
      staging: find(id(cp.stagingWorkflow)),
      functions,
      table: template.Resources[id(cp.runStore.table)]?.Properties ?? {},
      eventPattern: (rule?.Properties.EventPattern ?? {}) as Record<string, unknown>,
      lockRulePattern: lockRulePattern(template, id(cp.rolloutWorkflow), find),
      documentPrefix: DEFAULT_SETTINGS.namePrefix,
      artifactsBucket: id(cp.artifactsBucket).toLowerCase(),
    };
    return synthesized;
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
}

/**
 * The synthesized rule on Step Functions status changes, its `{ Ref }` to the rollout workflow
 * resolved to the sandbox's ARN (a pattern nothing matches when the template has no such rule).
 */
function lockRulePattern(
  template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> },
  rolloutId: string,
  find: (logicalId: string) => { arn: string },
): Record<string, unknown> {
  const rule = Object.values(template.Resources).find(
    (r) =>
      r.Type === 'AWS::Events::Rule' &&
      JSON.stringify((r.Properties.EventPattern as { source?: unknown })?.source) ===
        '["aws.states"]',
  );
  if (!rule) return { source: ['(none)'] };
  const text = JSON.stringify(rule.Properties.EventPattern).replaceAll(
    JSON.stringify({ Ref: rolloutId }),
    JSON.stringify(find(rolloutId).arn),
  );
  return JSON.parse(text) as Record<string, unknown>;
}

/** Does an event match the synthesized EventBridge rule's pattern (the subset our rule uses)? */
export function matchesPattern(
  pattern: Record<string, unknown>,
  event: Record<string, unknown>,
): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const actual = event[key];
    if (Array.isArray(expected)) {
      const ok = expected.some((option) =>
        option !== null && typeof option === 'object' && 'prefix' in option
          ? typeof actual === 'string' &&
            actual.startsWith(String((option as { prefix: string }).prefix))
          : option === actual,
      );
      if (!ok) return false;
    } else if (expected && typeof expected === 'object') {
      if (!actual || typeof actual !== 'object') return false;
      if (!matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>))
        return false;
    }
  }
  return true;
}

/** Evaluates a JSONPath against the state input, or `$$.Map.Item.*` against the map item. */
function evaluatePath(path: string, input: Json, item?: { value: Json; index: number }): Json {
  if (path.startsWith('$$.Map.Item.Value')) {
    const rest = path.slice('$$.Map.Item.Value'.length);
    return rest
      ? JSONPath({ path: `$${rest}`, json: item?.value as object, wrap: false })
      : item?.value;
  }
  if (path === '$$.Map.Item.Index') return item?.index;
  return JSONPath({ path, json: input as object, wrap: false });
}

/** Applies a Parameters/ItemSelector template (keys ending `.$` are paths). */
function applyTemplate(template: Json, input: Json, item?: { value: Json; index: number }): Json {
  if (Array.isArray(template)) return template.map((t) => applyTemplate(t, input, item));
  if (template && typeof template === 'object') {
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$')) out[key.slice(0, -2)] = evaluatePath(String(value), input, item);
      else out[key] = applyTemplate(value, input, item);
    }
    return out;
  }
  return template;
}

/** The fleet also keeps what SSM copies to CloudWatch Logs (SimulatedFleet does). */
const hasCommandLogs = (ssm: object): ssm is object & CommandLogSource =>
  typeof (ssm as Partial<CommandLogSource>).commandLogLines === 'function';

/** The sandbox: start it, run rollouts, read the run store, stop it. */
export class Sandbox {
  readonly clock: VirtualClock;
  readonly s3 = new FakeS3();
  readonly tokens = new TaskTokens();
  /** The lifecycle events the run history and the approval gate published, in order. */
  readonly events = new RecordingBus();
  readonly store: RunStore;
  /** Compliance items of the run-store table (issue 13, item 8). */
  readonly compliance: ComplianceStore;
  readonly synth: Synthesized;
  /** Every execution that ran, in start order. */
  readonly executions: ExecutionResult[] = [];
  /** Lambda invocations per function. */
  readonly invocations = new Map<FunctionName, number>();
  /** The command output SSM copied to CloudWatch Logs, which complete-command reads back. */
  readonly commandLogs: FakeCommandLogs | undefined;
  /** DynamoDB requests per operation (`PutItem`, `Query`, ...), for the cost bench (issue 11). */
  dynamoOperations: ReadonlyMap<string, number> = new Map();
  /** Distributed Map runs and the items they started, for the cost bench (issue 11). */
  readonly mapRuns = { runs: 0, items: 0, processorStates: 0 };
  /** Events the EventBridge rule delivered to complete-command (and retries). */
  deliveredEvents = 0;
  /**
   * Completion events complete-command still failed on after Lambda's two async retries: what
   * the stack's dead-letter queue would hold (README, "Redriving lost completions").
   */
  readonly deadLetters: { event: Json; error: string; at: Date; attempts: number }[] = [];
  /** Step Functions status-change events the lock's release rule delivered to run-lock. */
  statusEventsDelivered = 0;
  /** Executions started through the Step Functions API and not finished yet. */
  private readonly running = new Map<
    string,
    { input: Json; startedAt: Date; done: Promise<ExecutionResult> }
  >();

  /** Every execution (rollout or node, however started) that has started and not ended. */
  private readonly live = new Set<string>();
  /**
   * The newest history events of each node execution, newest last, for GetExecutionHistory (the
   * live node view): states entered with their input, and how the execution ended. At most
   * {@link HISTORY_KEPT} per execution.
   */
  private readonly histories = new Map<
    string,
    { type: string; timestamp: Date; stateEnteredEventDetails?: { name: string; input: string } }[]
  >();
  /** The input of every rollout execution started, for DescribeExecution. */
  private readonly inputs = new Map<string, Json>();
  /** Called as each rollout execution starts and ends (see onRolloutExecution). */
  private readonly rolloutListeners = new Set<RolloutExecutionListener>();
  /** The same, for staging executions (see onStagingExecution). */
  private readonly stagingListeners = new Set<RolloutExecutionListener>();
  /** How to stop each running top-level execution (StopExecution). */
  private readonly aborters = new Map<string, () => void>();
  private readonly handlers: Map<FunctionName, Handler>;
  private readonly adapted = new Map<string, AdaptedScope>();
  private readonly names = new Set<string>();
  private readonly throttle: Map<FunctionName, number>;

  private constructor(
    private readonly server: Server,
    readonly tableName: string,
    dynamo: DynamoDBClient,
    private readonly options: SandboxOptions,
  ) {
    this.synth = synthesize();
    this.clock = new VirtualClock(options.startTime);
    this.throttle = new Map(Object.entries(options.throttle ?? {}) as [FunctionName, number][]);
    const document = DynamoDBDocumentClient.from(dynamo, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.store = new RunStore({
      client: document,
      tableName,
      sleep: (ms) => this.clock.pauseTracked(ms),
    });
    this.compliance = new ComplianceStore({ client: document, tableName });
    const ssm = options.ssm(this.clock, (event) => this.deliverEvent(event, 0));
    // Command output to CloudWatch Logs, as the stack configures it, when the fleet keeps it.
    this.commandLogs = hasCommandLogs(ssm)
      ? new FakeCommandLogs(ssm, () => this.clock.now().getTime())
      : undefined;
    const commandLogs = this.commandLogs
      ? { logs: this.commandLogs, commandLogGroup: SANDBOX_COMMAND_LOG_GROUP }
      : {};
    const now = () => this.clock.now();
    const deps = { store: this.store, now };
    const s3 = this.s3 as never;
    const anySsm = ssm as never;
    // A seeded generator: run ids and everything derived from them repeat from run to run.
    let seed = 0;
    const random = () => {
      seed = (seed * 9301 + 49297) % 233280;
      return seed / 233280;
    };
    this.handlers = new Map<FunctionName, Handler>([
      [
        'validateInput',
        makeValidateInputHandler({
          now,
          random,
          s3,
        }) as Handler,
      ],
      [
        'resolveTarget',
        makeResolveTargetHandler({
          ssm: anySsm,
          s3,
          resourceGroups: options.resourceGroups ?? simulatedResourceGroups([]),
          now,
          artifactsBucket: this.synth.artifactsBucket,
        }) as Handler,
      ],
      [
        'scan',
        (() => {
          // As deployed: one function for the plan and for each node's result (scan.ts).
          const scanDeps = { s3, ssm: anySsm, now, artifactsBucket: this.synth.artifactsBucket };
          const plan = makeScanHandler(scanDeps) as Handler;
          const node = makeScanNodeHandler(scanDeps) as Handler;
          return (event: Json) =>
            (event as { action?: unknown } | null)?.action === 'scanNode'
              ? node(event)
              : plan(event);
        })(),
      ],
      ['preflight', makePreflightHandler({ ssm: anySsm, store: this.store, now }) as Handler],
      ['planNode', makePlanNodeHandler({ s3, now }) as Handler],
      ['hotpatchEligibility', makeHotpatchEligibilityHandler({ s3, now }) as Handler],
      [
        'sendCommand',
        makeSendCommandHandler({
          ssm: anySsm,
          store: this.store,
          documentPrefix: this.synth.documentPrefix,
          now,
          ...(hasCommandLogs(ssm) ? { commandLogGroup: SANDBOX_COMMAND_LOG_GROUP } : {}),
        }) as Handler,
      ],
      ['cancelCommand', makeCancelCommandHandler({ ssm: anySsm, now }) as Handler],
      [
        'completeCommand',
        makeCompleteCommandHandler({
          ssm: anySsm,
          sfn: this.tokens.client as never,
          store: this.store,
          documentPrefix: this.synth.documentPrefix,
          now,
          sleep: (ms: number) => this.clock.pauseTracked(ms),
          ...commandLogs,
        }) as Handler,
      ],
      ['interpretResults', makeInterpretResultsHandler(deps) as Handler],
      [
        'runLock',
        makeRunLockHandler({
          ...deps,
          executionStatus: async (arn) => this.executionStatus(arn),
          publisher: this.events as never,
        }) as Handler,
      ],
      [
        'runHistory',
        makeRunHistoryHandler({ ...deps, publisher: this.events as never, s3 }) as Handler,
      ],
      [
        'checkAlarms',
        (() => {
          const alarms = (options.alarms ?? new SimulatedAlarms([], this.clock.now())).withClock(
            now,
          );
          return makeCheckAlarmsHandler({
            cloudwatch: alarms as never,
            tagging: alarms as never,
          }) as Handler;
        })(),
      ],
      [
        'recordCompliance',
        makeRecordComplianceHandler({
          compliance: this.compliance,
          ledgers: this.store,
          loadScan: async (scanId, node) => {
            const text = this.s3.text(this.synth.artifactsBucket, scanNodeResultKey(scanId, node));
            return text === undefined ? undefined : JSON.parse(text);
          },
          events: this.events as never,
          now,
        }) as Handler,
      ],
      [
        'approvalGate',
        makeApprovalGateHandler({
          ...deps,
          // As deployed: a cancel that came before the gate stored its token finds none to fail,
          // so the gate fails its own task. Without this client it waited out its timeout.
          sfn: this.tokens.client as never,
          publish: async (event) => {
            this.events.record('Rollout Approval Required', event);
          },
        }) as Handler,
      ],
    ]);
  }

  /** Starts dynalite on loopback, creates the run store table from the template, and the fleet. */
  static async start(options: SandboxOptions): Promise<Sandbox> {
    const synth = synthesize();
    // Issue 15: dynalite leaks an iterator per Query and Scan; make it close them.
    closeDynaliteIterators();
    const server = dynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(options.storePath === undefined ? {} : { path: options.storePath }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const listener = server.listeners('request')[0] as (req: unknown, res: unknown) => void;
    const dynamoOperations = new Map<string, number>();
    const inProcess = new InProcessHandler(listener, dynamoOperations);
    // Once stopping, a request fails at once instead of waiting for ever on the closed store.
    const closeServer = server.close.bind(server);
    server.close = ((done?: (error?: Error) => void) => {
      inProcess.close();
      return closeServer(done);
    }) as typeof server.close;
    const dynamo = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      // Adaptation 8 (adapt.ts): dynalite's listener called in-process, not over the socket.
      requestHandler: inProcess as never,
      // Adaptation 11 (adapt.ts): no SigV4 signature computed (dynalite never checks it).
      ...(unsignedDynamoDbAuth() as object),
    });
    const tableName = 'RunStore';
    const t = synth.table;
    // A kept store (storePath) has its table already.
    const kept = await dynamo
      .send(new DescribeTableCommand({ TableName: 'RunStore' }))
      .then(() => true)
      .catch((error: { name?: string }) => {
        if (error.name === 'ResourceNotFoundException') return false;
        throw error;
      });
    if (!kept)
      await dynamo.send(
        new CreateTableCommand({
          TableName: tableName,
          KeySchema: t.KeySchema as never,
          AttributeDefinitions: t.AttributeDefinitions as never,
          GlobalSecondaryIndexes: t.GlobalSecondaryIndexes as never,
          BillingMode: (t.BillingMode as never) ?? 'PAY_PER_REQUEST',
        }),
      );
    // As on AWS, the table is usable once ACTIVE (dynalite flips it a moment after creating it).
    for (let i = 0; ; i++) {
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === 'ACTIVE') break;
      if (i >= 500) throw new Error(`the sandbox's table ${tableName} never became ACTIVE`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const sandbox = new Sandbox(server, tableName, dynamo, options);
    // Only requests after the table exists: what the control plane itself makes.
    dynamoOperations.clear();
    sandbox.dynamoOperations = dynamoOperations;
    return sandbox;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Runs a rollout execution to its end, driving virtual time. */
  /**
   * Calls `listener` as each rollout execution starts (before its first state) and as it ends,
   * in the same turn: work `ended` wraps in `clock.track` sees the fleet and the run store as
   * the run left them, before any later timer fires (`rollout local up` checks each run's
   * invariants so). Returns the removal.
   */
  onRolloutExecution(listener: RolloutExecutionListener): () => void {
    this.rolloutListeners.add(listener);
    return () => this.rolloutListeners.delete(listener);
  }

  /** As {@link onRolloutExecution}, for the staging workflow's executions (issue 13 item 5). */
  onStagingExecution(listener: RolloutExecutionListener): () => void {
    this.stagingListeners.add(listener);
    return () => this.stagingListeners.delete(listener);
  }

  async runRollout(input: Json, name?: string): Promise<ExecutionResult> {
    const executionName = name ?? `rollout-${this.executions.length + 1}`;
    return this.clock.run(
      this.execute(this.synth.rollout.arn, this.synth.rollout.definition, input, executionName),
    );
  }

  /** Runs a staging execution (issue 13 item 5) to its end, driving virtual time. */
  async runStaging(input: Json, name?: string): Promise<ExecutionResult> {
    const executionName = name ?? `staging-${this.executions.length + 1}`;
    return this.clock.run(
      this.execute(this.synth.staging.arn, this.synth.staging.definition, input, executionName),
    );
  }

  /**
   * Starts a rollout execution without waiting for it (as StartExecution does); run the clock
   * with {@link settle} or {@link advance}.
   */
  startRollout(
    input: Json,
    name: string,
  ): { executionArn: string; done: Promise<ExecutionResult> } {
    return this.startExecution(this.synth.rollout, input, name);
  }

  /** Starts a scan execution (lib/scan-workflow.ts) without waiting for it, as StartExecution does. */
  startScan(input: Json, name: string): { executionArn: string; done: Promise<ExecutionResult> } {
    return this.startExecution(this.synth.scan, input, name);
  }

  /**
   * Starts a compliance assessment (lib/compliance-assessment.ts) without waiting for it; the
   * execution name is the assessment id.
   */
  startAssessment(
    input: Json,
    name: string,
  ): { executionArn: string; done: Promise<ExecutionResult> } {
    return this.startExecution(this.synth.compliance, input, name);
  }

  /**
   * Starts a staging execution (issue 13 item 5) without waiting for it, as POST /stagings does;
   * the execution name is the staging id.
   */
  startStaging(
    input: Json,
    name: string,
  ): { executionArn: string; done: Promise<ExecutionResult> } {
    return this.startExecution(this.synth.staging, input, name);
  }

  private startExecution(
    machine: { arn: string; definition: AslDefinition },
    input: Json,
    name: string,
  ): { executionArn: string; done: Promise<ExecutionResult> } {
    const arn = machine.arn;
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
    // As AWS (Standard): the same name and input while it runs is the same execution.
    const live = this.running.get(executionArn);
    if (live && JSON.stringify(live.input) === JSON.stringify(input)) {
      return { executionArn, done: live.done };
    }
    if (this.names.has(`${arn}/${name}`) || this.running.has(executionArn)) {
      throw namedError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const done = this.execute(arn, machine.definition, input, name);
    this.inputs.set(executionArn, input);
    this.running.set(executionArn, { input, startedAt: this.clock.now(), done });
    void done.finally(() => this.running.delete(executionArn)).catch(() => undefined);
    return { executionArn, done };
  }

  /**
   * StopExecution: aborts a running rollout execution where it is (its child node executions
   * are not stopped: stop it where none runs, e.g. at an approval gate). False when not running.
   */
  stopRollout(executionArn: string): boolean {
    const abort = this.aborters.get(executionArn);
    if (!abort) return false;
    abort();
    return true;
  }

  /**
   * The "Step Functions Execution Status Change" event of an ended rollout execution, delivered
   * to run-lock when it matches the synthesized release rule, with EventBridge's retries.
   */
  private executionEnded(execution: ExecutionResult, input: Json, attempt = 0): void {
    const event = {
      version: '0',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      time: execution.stoppedAt.toISOString(),
      detail: {
        executionArn: execution.executionArn,
        stateMachineArn: this.synth.rollout.arn,
        name: execution.name,
        status: execution.status,
        input: JSON.stringify(input),
        ...(execution.error === undefined ? {} : { error: execution.error }),
        ...(execution.cause === undefined ? {} : { cause: execution.cause }),
      },
    };
    if (!matchesPattern(this.synth.lockRulePattern, event)) return;
    this.statusEventsDelivered++;
    void this.invoke('runLock', event).catch(() => {
      if (attempt >= 8) return;
      this.clock.schedule(this.clock.now().getTime() + 1000 * 2 ** attempt, () =>
        this.executionEnded(execution, input, attempt + 1),
      );
    });
  }

  /** DescribeExecution's status of an execution of the sandbox, as Step Functions answers it. */
  executionStatus(executionArn: string): 'RUNNING' | ExecutionResult['status'] | 'NOT_FOUND' {
    if (this.live.has(executionArn)) return 'RUNNING';
    const done = this.executions.find((e) => e.executionArn === executionArn);
    return done?.status ?? 'NOT_FOUND';
  }

  /** Runs virtual time until every started execution has finished. */
  async settle(): Promise<void> {
    while (this.running.size > 0) {
      await this.clock.run(Promise.all([...this.running.values()].map((r) => r.done)));
    }
  }

  /** Runs virtual time forward by `ms` (executions progress meanwhile). */
  async advance(ms: number): Promise<void> {
    await this.clock.run(this.clock.sleep(ms));
  }

  /** The Step Functions API the change-management API calls, over the sandbox's executions. */
  readonly sfnClient = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const input = command.input;
      switch (command.constructor.name) {
        case 'StartExecutionCommand': {
          if (input.stateMachineArn === this.synth.compliance.arn) {
            const name = String(input.name);
            const { executionArn } = this.startAssessment(
              JSON.parse(String(input.input ?? '{}')),
              name,
            );
            return { executionArn, startDate: this.clock.now() };
          }
          if (input.stateMachineArn === this.synth.staging.arn) {
            const name = String(input.name);
            const { executionArn } = this.startStaging(
              JSON.parse(String(input.input ?? '{}')),
              name,
            );
            return { executionArn, startDate: this.clock.now() };
          }
          if (input.stateMachineArn === this.synth.scan.arn) {
            const name = String(input.name);
            const { executionArn } = this.startScan(JSON.parse(String(input.input ?? '{}')), name);
            return { executionArn, startDate: this.clock.now() };
          }
          if (input.stateMachineArn !== this.synth.rollout.arn) {
            throw namedError(
              'StateMachineDoesNotExist',
              `State Machine Does Not Exist: '${String(input.stateMachineArn)}'`,
            );
          }
          const name = String(input.name);
          const { executionArn } = this.startRollout(JSON.parse(String(input.input ?? '{}')), name);
          return { executionArn, startDate: this.clock.now() };
        }
        case 'StopExecutionCommand': {
          const arn = String(input.executionArn);
          if (!this.stopRollout(arn)) {
            throw namedError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
          }
          return { stopDate: this.clock.now() };
        }
        case 'GetExecutionHistoryCommand': {
          const arn = String(input.executionArn);
          const history = this.histories.get(arn);
          if (!history) {
            throw namedError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
          }
          const ordered = input.reverseOrder === true ? [...history].reverse() : [...history];
          const limit = Number(input.maxResults ?? 0) || ordered.length;
          const events = ordered.slice(0, limit).map((e, i) => ({ id: i + 1, ...e }));
          return input.includeExecutionData === false
            ? {
                events: events.map(({ stateEnteredEventDetails: d, ...e }) =>
                  d ? { ...e, stateEnteredEventDetails: { name: d.name } } : e,
                ),
              }
            : { events };
        }
        case 'DescribeExecutionCommand': {
          const arn = String(input.executionArn);
          const live = this.running.get(arn);
          if (live) {
            return {
              executionArn: arn,
              status: 'RUNNING',
              startDate: live.startedAt,
              input: JSON.stringify(live.input),
            };
          }
          const done = this.executions.find((e) => e.executionArn === arn);
          if (!done)
            throw namedError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
          const startedWith = this.inputs.get(arn);
          return {
            executionArn: arn,
            status: done.status,
            // As AWS: a closed execution is described with its input too.
            ...(startedWith === undefined ? {} : { input: JSON.stringify(startedWith) }),
            startDate: done.startedAt,
            stopDate: done.stoppedAt,
            ...(done.output === undefined ? {} : { output: JSON.stringify(done.output) }),
            // As AWS: a failed execution's error and cause (issue 15, truthful replays).
            ...(done.error === undefined ? {} : { error: done.error }),
            ...(done.cause === undefined ? {} : { cause: done.cause }),
          };
        }
        default:
          return this.tokens.client.send(command);
      }
    },
  };

  /** The change-management API's handler, wired to the sandbox (as API Gateway would call it). */
  api(): (
    event: Json,
  ) => Promise<{ statusCode: number; headers?: Record<string, unknown>; body: string }> {
    const handler = makeApiHandler({
      sfn: this.sfnClient as never,
      store: this.store,
      now: () => this.clock.now(),
      rolloutStateMachineArn: this.synth.rollout.arn,
      publisher: this.events as never,
      compliance: this.compliance,
      scans: {
        stateMachineArn: this.synth.scan.arn,
        readNodeResult: async (scanId, node) =>
          this.s3.text(this.synth.artifactsBucket, scanNodeResultKey(scanId, node)),
      },
      // Issue 11: a list longer than 2,000 nodes is uploaded as a manifest.
      manifests: { s3: this.s3 as never, bucket: this.synth.artifactsBucket },
      startRemoval: makeRolloutRemovalStarter({
        sfn: this.sfnClient as never,
        rolloutStateMachineArn: this.synth.rollout.arn,
        now: () => this.clock.now(),
      }),
      nodeStateMachineArn: this.synth.node.arn,
      // Issue 13 item 5: POST /stagings and GET /stagings/{id} (local up included).
      stagingStateMachineArn: this.synth.staging.arn,
    });
    return (event) => this.clock.track(() => handler(event as never) as never);
  }

  /** Invokes a handler as Lambda would: JSON in, JSON out, errors by name; throttling injected. */
  async invoke(fn: FunctionName, event: Json): Promise<Json> {
    this.invocations.set(fn, (this.invocations.get(fn) ?? 0) + 1);
    const throttled = this.throttle.get(fn) ?? 0;
    if (throttled > 0) {
      this.throttle.set(fn, throttled - 1);
      throw namedError(
        'Lambda.TooManyRequestsException',
        JSON.stringify({ errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.' }),
      );
    }
    const handler = this.handlers.get(fn);
    if (!handler) throw new Error(`no handler for ${fn}`);
    const payload = JSON.parse(JSON.stringify(event ?? null));
    try {
      const result = await this.clock.track(() => handler(payload));
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (error) {
      const e = error as Error;
      // Step Functions names a Lambda error by its errorType; the Cause is Lambda's error JSON.
      throw namedError(
        e.name || 'Error',
        JSON.stringify({ errorType: e.name, errorMessage: e.message }),
      );
    }
  }

  /**
   * EventBridge delivering a status-change event to complete-command, as Lambda's asynchronous
   * invocation does: a function error is retried twice (1 then 2 minutes later), then the event
   * goes to the on-failure destination, the dead-letter queue ({@link deadLetters}); a throttle
   * is not a function error and is retried with backoff (Lambda keeps it up to 6 hours).
   */
  private deliverEvent(event: Json, attempt: number, throttles = 0): void {
    if (!matchesPattern(this.synth.eventPattern, event as Record<string, unknown>)) return;
    this.deliveredEvents++;
    void this.invoke('completeCommand', event).catch((error: unknown) => {
      const now = this.clock.now().getTime();
      if ((error as Error)?.name === 'Lambda.TooManyRequestsException') {
        const delay = Math.min(300_000, 1000 * 2 ** throttles);
        if (throttles < 72) {
          this.clock.schedule(now + delay, () => this.deliverEvent(event, attempt, throttles + 1));
          return;
        }
      } else if (attempt < ASYNC_RETRY_DELAYS_MS.length) {
        this.clock.schedule(now + (ASYNC_RETRY_DELAYS_MS[attempt] as number), () =>
          this.deliverEvent(event, attempt + 1, throttles),
        );
        return;
      }
      this.deadLetters.push({
        event,
        error: `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`,
        at: new Date(now),
        attempts: attempt + 1,
      });
    });
  }

  /**
   * The adapted definition of a scope and its interpreter, built once: constructing a
   * StateMachine validates the definition against the ASL schema (ajv compiles the schema each
   * time), which was two thirds of the sandbox's CPU when done per execution. The machine holds
   * no per-run state; each `run` gets its own overrides and context.
   */
  private adaptedFor(key: string, definition: AslDefinition): AdaptedScope {
    let adapted = this.adapted.get(key);
    if (!adapted) {
      // Issue 11: one validation per definition per process, not per sandbox (tests and the
      // chaos campaign start hundreds): the same text gives the same interpreter.
      const text = `${key}\n${JSON.stringify(definition)}`;
      adapted = ADAPTED_SCOPES.get(text);
      if (!adapted) {
        const scope = adaptDefinition(definition);
        adapted = {
          ...scope,
          machine: new StateMachine(scope.definition as never, {
            validationOptions: { checkArn: false, checkPaths: false },
          }),
        };
        ADAPTED_SCOPES.set(text, adapted);
      }
      this.adapted.set(key, adapted);
    }
    return adapted;
  }

  /** Runs one execution of a definition with the sandbox's task handlers. */
  private async execute(
    arn: string,
    definition: AslDefinition,
    input: Json,
    name: string,
  ): Promise<ExecutionResult> {
    if (this.names.has(`${arn}/${name}`)) {
      throw namedError(
        'StepFunctions.ExecutionAlreadyExistsException',
        `Execution Already Exists: '${name}'`,
      );
    }
    this.names.add(`${arn}/${name}`);
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const startedAt = this.clock.now();
    const counter = { history: 2, transitions: 0 }; // ExecutionStarted + the end event
    this.live.add(executionArn);
    if (arn === this.synth.rollout.arn) {
      for (const listener of this.rolloutListeners) listener.started(executionArn, input);
    } else if (arn === this.synth.staging.arn) {
      for (const listener of this.stagingListeners) listener.started(executionArn, input);
    }
    const result = await this.runScope(arn, definition, input, {
      executionArn,
      name,
      startedAt,
      counter,
    }).finally(() => this.live.delete(executionArn));
    const execution: ExecutionResult = {
      executionArn,
      name,
      startedAt,
      stoppedAt: this.clock.now(),
      historyEvents: counter.history,
      stateTransitions: counter.transitions,
      ...result,
    };
    this.executions.push(execution);
    this.aborters.delete(executionArn);
    if (arn === this.synth.rollout.arn) {
      this.executionEnded(execution, input);
      for (const listener of this.rolloutListeners) listener.ended(execution, input);
    } else if (arn === this.synth.staging.arn) {
      for (const listener of this.stagingListeners) listener.ended(execution, input);
    }
    return execution;
  }

  private async runScope(
    key: string,
    definition: AslDefinition,
    input: Json,
    ctx: {
      executionArn: string;
      name: string;
      startedAt: Date;
      counter: { history: number; transitions: number };
    },
  ): Promise<Pick<ExecutionResult, 'status' | 'output' | 'error' | 'cause'>> {
    const adapted = this.adaptedFor(key, definition);
    const overrides: Record<string, (params: Json) => Promise<Json>> = {};
    for (const [state, task] of adapted.tasks) {
      overrides[state] = async (raw: Json) => {
        const params = withEnteredTime(raw, this.clock.now().toISOString());
        switch (task.kind) {
          case 'lambda': {
            ctx.counter.history += 3; // LambdaFunctionScheduled, Started, Succeeded|Failed
            return this.invoke(this.functionName(task.functionArn), params);
          }
          case 'waitForToken': {
            ctx.counter.history += 4; // TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded|Failed
            return this.waitForToken(
              this.functionName(task.functionArn),
              params as Record<string, Json>,
            );
          }
          case 'childExecution': {
            ctx.counter.history += 4; // TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded|Failed
            return this.childExecution(params as Record<string, Json>);
          }
          case 'wait': {
            ctx.counter.history += 2; // WaitStateEntered, WaitStateExited
            const seconds = Number((params as { seconds?: unknown }).seconds);
            if (!Number.isFinite(seconds) || seconds < 0) {
              throw new Error(`a Wait state's seconds must be a number, 0 or more; got ${seconds}`);
            }
            await this.clock.sleep(seconds * 1000);
            return {};
          }
          case 'distributedMap': {
            ctx.counter.history += 2; // MapRunStarted, MapRunSucceeded|Failed
            return this.distributedMap(task.original, (params as { input: Json }).input, ctx);
          }
        }
      };
    }
    const run = adapted.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: overrides as never,
        retryIntervalOverrides: Object.fromEntries(adapted.retryable.map((s) => [s, 0])),
      },
      context: {
        Execution: {
          Id: ctx.executionArn,
          Name: ctx.name,
          SandboxStartTime: ctx.startedAt.toISOString(),
          Input: input as never,
        },
      },
    });
    // A top-level execution (not a Map's item processor) can be stopped, as StopExecution does.
    const topLevel = !key.includes('#');
    if (topLevel) this.aborters.set(ctx.executionArn, run.abort);
    const node = (input as { node?: { name?: string } })?.node?.name;
    const runId = (input as { runId?: string })?.runId;
    // The live node view reads a node execution's newest events (GetExecutionHistory).
    const history = key === this.synth.node.arn ? this.historyOf(ctx.executionArn) : undefined;
    const events = (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered') {
          if (history) {
            const name = event.state.name;
            const type = String(definition.States[name]?.Type ?? 'Task');
            history.push({
              type: `${type}StateEntered`,
              timestamp: this.clock.now(),
              stateEnteredEventDetails: enteredDetails(name, event.state.input),
            });
            if (history.length > HISTORY_KEPT) history.shift();
          }
          ctx.counter.history += 1;
          ctx.counter.transitions += 1;
          this.options.onProgress?.({
            at: this.clock.now(),
            execution: ctx.name,
            ...(runId ? { runId } : {}),
            ...(node ? { node } : {}),
            state: event.state.name,
          });
        } else if (event.type === 'StateExited') ctx.counter.history += 1;
      }
    })();
    const ended = (type: string) => {
      if (!history) return;
      history.push({ type, timestamp: this.clock.now() });
      if (history.length > HISTORY_KEPT) history.shift();
      // The kept inputs as text now, so an ended execution holds no state objects.
      for (const e of history) void e.stateEnteredEventDetails?.input;
    };
    try {
      const output = await run.result;
      await events;
      ended('ExecutionSucceeded');
      return { status: 'SUCCEEDED', output };
    } catch (error) {
      await events.catch(() => undefined);
      if ((error as Error).name === 'ExecutionAbortedError') {
        ended('ExecutionAborted');
        return { status: 'ABORTED' };
      }
      ended('ExecutionFailed');
      const cause = (error as { cause?: { name?: string; message?: string } }).cause;
      return {
        status: 'FAILED',
        error: cause?.name ?? (error as Error).name,
        cause: cause?.message ?? (error as Error).message,
      };
    }
  }

  /** A node execution's kept history, started empty (a second run of a name starts anew). */
  private historyOf(executionArn: string) {
    const history: NonNullable<ReturnType<typeof this.histories.get>> = [];
    this.histories.set(executionArn, history);
    return history;
  }

  private functionName(arn: string): FunctionName {
    const fn = this.synth.functions.get(arn);
    if (!fn) throw new Error(`the definition invokes ${arn}, which is not one of our functions`);
    return fn;
  }

  /** `.waitForTaskToken`: send the command with a token, then wait in virtual time. */
  private async waitForToken(fn: FunctionName, params: Record<string, Json>): Promise<Json> {
    const { __timeoutSeconds, ...payload } = params;
    const timeoutMs = Number(__timeoutSeconds) * 1000;
    const { token, done } = this.tokens.issue();
    await this.invoke(fn, { ...payload, taskToken: token });
    let cancel: () => void = () => undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      cancel = this.clock.schedule(this.clock.now().getTime() + timeoutMs, () =>
        resolve('timeout'),
      );
    });
    const outcome = await Promise.race([done, timedOut]);
    if (outcome === 'timeout') {
      this.tokens.expire(token);
      throw namedError(
        'States.Timeout',
        `the task waited ${__timeoutSeconds} seconds without a completion`,
      );
    }
    cancel();
    if (outcome.kind === 'failure') throw namedError(outcome.error, outcome.cause);
    return outcome.output as Json;
  }

  /** `startExecution.sync:2`: run the child state machine from its synthesized definition. */
  private async childExecution(params: Record<string, Json>): Promise<Json> {
    const arn = String(params.StateMachineArn);
    if (arn !== this.synth.node.arn && arn !== this.synth.rollout.arn) {
      throw namedError(
        'StepFunctions.StateMachineDoesNotExistException',
        `State Machine Does Not Exist: '${arn}'`,
      );
    }
    const definition =
      arn === this.synth.node.arn ? this.synth.node.definition : this.synth.rollout.definition;
    const { AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: _parent, ...input } = (params.Input ??
      {}) as Record<string, Json>;
    const name = String(params.Name ?? `child-${this.executions.length + 1}`);
    const child = await this.execute(arn, definition, input, name);
    const description = {
      ExecutionArn: child.executionArn,
      Name: child.name,
      StateMachineArn: arn,
      Status: child.status,
      StartDate: child.startedAt.toISOString(),
      StopDate: child.stoppedAt.toISOString(),
      Input: JSON.stringify(input),
      ...(child.status === 'SUCCEEDED'
        ? { Output: JSON.stringify(child.output) }
        : { Error: child.error, Cause: child.cause }),
    };
    if (child.status === 'FAILED')
      throw namedError('States.TaskFailed', JSON.stringify(description));
    return description;
  }

  /** A Map's items without an ItemReader: the array at its ItemsPath. */
  private mapItems(state: Record<string, unknown>, input: Json): Json[] {
    const items = evaluatePath(String(state.ItemsPath ?? '$'), input);
    if (!Array.isArray(items)) {
      throw namedError(
        'States.Runtime',
        `the Map's ItemsPath ${String(state.ItemsPath ?? '$')} is not an array`,
      );
    }
    return items;
  }

  /**
   * An inline Map, as AWS runs it: items from ItemsPath, at most MaxConcurrency(Path) at once,
   * the iterations' outputs in item order; the first iteration that fails fails the Map.
   */
  private async inlineMap(
    state: Record<string, unknown>,
    input: Json,
    ctx: {
      executionArn: string;
      name: string;
      startedAt: Date;
      counter: { history: number; transitions: number };
    },
  ): Promise<Json> {
    const items = evaluatePath(String(state.ItemsPath ?? '$'), input) as Json[];
    if (!Array.isArray(items)) throw namedError('States.Runtime', 'ItemsPath is not an array');
    const path = state.MaxConcurrencyPath;
    const limit = Number(
      typeof path === 'string' ? evaluatePath(path, input) : state.MaxConcurrency,
    );
    const { ProcessorConfig: _mode, ...processor } = state.ItemProcessor as AslDefinition & {
      ProcessorConfig?: unknown;
    };
    const outputs: Json[] = new Array(items.length).fill(null);
    let failed: { error?: string; cause?: string } | undefined;
    let next = 0;
    const worker = async () => {
      while (failed === undefined && next < items.length) {
        const index = next++;
        const itemInput = state.ItemSelector
          ? applyTemplate(state.ItemSelector as Json, input, { value: items[index] as Json, index })
          : (items[index] as Json);
        const result = await this.runScope(`${ctx.executionArn}#inline`, processor, itemInput, ctx);
        if (result.status === 'FAILED') failed = result;
        else outputs[index] = (result.output ?? null) as Json;
      }
    };
    const workers = limit > 0 ? Math.min(limit, items.length) : items.length;
    await Promise.all(Array.from({ length: workers }, worker));
    if (failed !== undefined) {
      throw namedError(
        failed.error ?? 'States.TaskFailed',
        failed.cause ?? 'a Map iteration failed',
      );
    }
    return outputs;
  }

  /** A Distributed Map, as AWS runs it: items from S3, concurrency, tolerated failures. */
  private async distributedMap(
    state: Record<string, unknown>,
    input: Json,
    ctx: {
      executionArn: string;
      name: string;
      startedAt: Date;
      counter: { history: number; transitions: number };
    },
  ): Promise<Json> {
    const processorMode = (state.ItemProcessor as { ProcessorConfig?: { Mode?: string } })
      ?.ProcessorConfig?.Mode;
    if (processorMode !== 'DISTRIBUTED') return this.inlineMap(state, input, ctx);
    // Issue 11: the ItemReader in its own module (item-reader.ts): JSON, JSONL or CSV from S3.
    const items =
      state.ItemReader === undefined
        ? this.mapItems(state, input)
        : await readItems(state.ItemReader as ItemReaderSpec, {
            s3: this.s3,
            parameters: (template) => applyTemplate(template, input),
            path: (path) => evaluatePath(path, input),
          });
    const read = (field: string, fallback: number) => {
      const path = state[`${field}Path`];
      const value = typeof path === 'string' ? evaluatePath(path, input) : state[field];
      return value === undefined ? fallback : Number(value);
    };
    const maxConcurrency = read('MaxConcurrency', 0) || items.length || 1;
    const tolerated = read('ToleratedFailureCount', 0);
    // The processor runs as its own definition scope; ProcessorConfig belongs to the Map state.
    const { ProcessorConfig: _mode, ...processor } = state.ItemProcessor as AslDefinition & {
      ProcessorConfig?: unknown;
    };
    const selector = state.ItemSelector;
    let failures = 0;
    let next = 0;
    let exceeded = false;
    // Without a ResultWriter, AWS returns the items' outputs in item order (a failed item's
    // error and cause in its place); with one, the sandbox writes nothing (adapt.ts, 3).
    const outputs: Json[] | undefined = state.ResultWriter === undefined ? [] : undefined;
    this.mapRuns.runs++;
    const worker = async () => {
      while (!exceeded && next < items.length) {
        const index = next++;
        const itemInput = selector
          ? applyTemplate(selector, input, { value: items[index], index })
          : items[index];
        const counter = { history: 0, transitions: 0 }; // iterations are child executions with their own history
        const result = await this.runScope(`${ctx.executionArn}#processor`, processor, itemInput, {
          ...ctx,
          counter,
        });
        this.mapRuns.items++;
        this.mapRuns.processorStates += counter.transitions;
        if (result.status === 'FAILED') {
          failures++;
          if (failures > tolerated) exceeded = true;
        }
        if (outputs !== undefined) {
          outputs[index] =
            result.status === 'FAILED'
              ? { Error: result.error ?? null, Cause: result.cause ?? null }
              : result.output;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(maxConcurrency, items.length) }, worker));
    if (exceeded) {
      throw namedError(
        'States.ExceedToleratedFailureThreshold',
        `${failures} item(s) failed, more than ToleratedFailureCount ${tolerated}`,
      );
    }
    return outputs ?? { items: items.length, failures };
  }
}

/**
 * A history event's `stateEnteredEventDetails`, its input as JSON text made when first read
 * (GetExecutionHistory, or the execution's end), not at every state entered: that text was 8 %
 * of a 1,000-node run's CPU, and only the newest {@link HISTORY_KEPT} events are ever read. The
 * interpreter never changes a state's input once entered (each state works on its own copy).
 * Deflating the text of ended executions was tried: it cost more CPU (3 %) than it saved in GC.
 */
export function enteredDetails(name: string, input: unknown): { name: string; input: string } {
  let value: unknown = input ?? null;
  let text: string | undefined;
  return {
    name,
    get input() {
      if (text === undefined) {
        text = JSON.stringify(value);
        value = undefined;
      }
      return text;
    },
  };
}

/** A task's parameters with {@link SANDBOX_STATE_ENTERED_TIME} replaced by `at` (adapt.ts, 8). */
function withEnteredTime(value: Json, at: string): Json {
  if (value === SANDBOX_STATE_ENTERED_TIME) return at;
  if (Array.isArray(value)) return value.map((v) => withEnteredTime(v, at));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, withEnteredTime(v as Json, at)]),
    ) as Json;
  }
  return value;
}
