/**
 * Runs a scenario: starts the sandbox with the scenario's simulated fleet, publishes its hotfix
 * root to the sandbox's S3, runs each rollout through the synthesized rollout workflow, and
 * reads each run's report back from the run store.
 */

import { DEFAULT_CONFIG_FILE_NAME } from '../lambdas/core/hotfix-plan.js';
import { PLUGIN_NAMES, parseHotfixPluginArguments } from '../lambdas/core/plugin-arguments.js';
import {
  resolveUpdateSelection,
  type UpdateSelection,
  updateSelectionInputSchema,
} from '../lambdas/core/update-selection.js';
import type { FunctionName } from '../lib/rollout-functions.js';
import { SimulatedAlarms } from './alarms.js';
import type { AssessmentEvidence } from './compliance-invariants.js';
import { type ExecutionResult, type ProgressEvent, Sandbox, synthesize } from './engine.js';
import { SimulatedFleet } from './fleet.js';
import {
  checkRunInvariants,
  type InvariantResult,
  observeRunStore,
  type RunEvidence,
  type StoreObservations,
  violations,
} from './invariants.js';
import { type FleetKind, PwshNodeScripts, PwshWorkerPool } from './pwsh-fleet.js';
import { type RunReport, readRunReport } from './report.js';
import { simulatedResourceGroups } from './resource-groups.js';
import type { Scenario, ScenarioAction } from './scenario.js';
import { withStagingRunProblems } from './staging-invariants.js';
import { stageBeforeRun } from './staging-report.js';

/** The file the hotfix-eligibility handler reads beside the config. */
const HOTPATCH_MANIFEST_FILE = 'hotpatch-manifest.json';

/** One rollout's outcome: the execution, the report, and whether it met the scenario's expectation. */
export interface ScenarioRunResult {
  readonly execution: ExecutionResult;
  /** Absent when the run never reached the run store (invalid input, target locked). */
  readonly report?: RunReport;
  /** The run met the scenario's expectation and broke no invariant. */
  readonly expectationsMet: boolean;
  /** What differed from the expectation, and each violated invariant, one line each. */
  readonly mismatches: readonly string[];
  /** Every invariant's verdict on this run (sandbox/invariants.ts). */
  readonly invariants: readonly InvariantResult[];
  /** The scenario's operator actions on this run, as made, with the API's answers. */
  readonly actions: readonly ActionOutcome[];
}

/** An operator action as it was made, and what the change-management API answered. */
export interface ActionOutcome {
  readonly action: ScenarioAction['action'];
  /** Simulated time it was made (ISO 8601). */
  readonly at: string;
  readonly statusCode: number;
  readonly body: unknown;
}

/** The API path of each operator action. */
const ACTION_PATHS: Record<ScenarioAction['action'], string> = {
  cancel: 'cancel',
  approve: 'approve',
  reject: 'reject',
  forceRecovery: 'force-recovery',
};

export interface ScenarioResult {
  readonly scenario: string;
  readonly runs: readonly ScenarioRunResult[];
  readonly expectationsMet: boolean;
  /** Where the run history lives while the sandbox runs. */
  readonly historyStore: string;
  readonly wallMs: number;
  readonly simulatedMs: number;
  readonly sandbox: Sandbox;
  /** The simulated fleet, for what happened on the nodes (drains, restarts, installs). */
  readonly fleet: SimulatedFleet;
  /** What the invariants read besides the fleet: the run store and node starts over time. */
  readonly observations: StoreObservations;
  /** Which fleet ran the nodes' commands. */
  readonly fleetKind: FleetKind;
  /** The scenario's simulated CloudWatch alarms (health gates read them). */
  readonly alarms?: SimulatedAlarms;
}

export interface RunScenarioOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly throttle?: Partial<Record<FunctionName, number>>;
  /** Keep the sandbox running after the scenario (the caller stops it). @default false */
  readonly keepRunning?: boolean;
  /** Runs after the sandbox starts and before the first rollout (e.g. to leave a stale lock). */
  readonly beforeRuns?: (sandbox: Sandbox, fleet: SimulatedFleet) => Promise<void>;
  /**
   * Run the scenario's rollouts. False prepares the fleet and the hotfix root only, for a caller
   * that starts rollouts itself (through the API, say); implies keepRunning. @default true
   */
  readonly runRollouts?: boolean;
  /**
   * Which fleet answers SendCommand: `pwsh` runs the documents' real scripts
   * (sandbox/pwsh-fleet.ts), `model` the TypeScript model. @default 'model'
   */
  readonly fleet?: FleetKind;
  /** The pwsh workers to use (shared across scenarios); without it one pool per scenario. */
  readonly pwshPool?: PwshWorkerPool;
  /** Keep the run store in this folder (see SandboxOptions.storePath). @default - in memory */
  readonly storePath?: string;
}

/** `s3://bucket/prefix/` → bucket and prefix (with its trailing slash, or empty). */
function splitS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match)
    throw new Error(`HotfixRootFolderPath ${JSON.stringify(uri)}: expected s3://bucket/prefix`);
  const prefix = match[2] ?? '';
  return {
    bucket: match[1] as string,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
  };
}

/**
 * Runs a compliance assessment of the rollout's target to its end (issue 13, item 8) and returns
 * what the assessmentReadOnly invariant reads: the fleet log while it ran and what was installed.
 */
async function assessAfter(
  sandbox: Sandbox,
  fleet: SimulatedFleet,
  rollout: Scenario['runs'][number]['rollout'],
  name: string,
): Promise<AssessmentEvidence> {
  const from = fleet.log.length;
  const { runId: _runId, ...input } = JSON.parse(JSON.stringify(rollout)) as Record<
    string,
    unknown
  >;
  const { done } = sandbox.startAssessment(input as never, name.slice(0, 80));
  await sandbox.settle();
  const execution = await done;
  const started = execution.startedAt.getTime();
  return {
    assessmentId: name,
    log: fleet.log.slice(from),
    nodes: rollout.target.nodes.map((n) => n.name),
    installsSince: (node) => fleet.node(node).installs.filter((i) => Date.parse(i.at) >= started),
  };
}

/** Publishes the scenario's hotfix root under every root its rollouts name. */
function publishHotfixRoot(sandbox: Sandbox, scenario: Scenario): void {
  const roots = new Set<string>();
  for (const run of scenario.runs) {
    for (const plugin of run.rollout.plugins ?? []) {
      if (plugin.name !== PLUGIN_NAMES.hotfix || !plugin.arguments) continue;
      const args = parseHotfixPluginArguments(plugin.arguments);
      roots.add(`${args.hotfixRootFolderPath}|${args.hotfixConfigFileName}`);
    }
  }
  for (const entry of roots) {
    const [uri, configFileName] = entry.split('|') as [string, string];
    const { bucket, prefix } = splitS3Uri(uri);
    for (const file of scenario.hotfixRoot.files) {
      sandbox.s3.put(bucket, `${prefix}${file.path}`, `sandbox update ${file.path}`, file.sha256);
    }
    if (scenario.hotfixRoot.config !== undefined) {
      sandbox.s3.put(
        bucket,
        `${prefix}${configFileName ?? DEFAULT_CONFIG_FILE_NAME}`,
        scenario.hotfixRoot.config,
      );
    }
    if (scenario.hotfixRoot.manifest !== undefined) {
      sandbox.s3.put(
        bucket,
        `${prefix}${HOTPATCH_MANIFEST_FILE}`,
        JSON.stringify(scenario.hotfixRoot.manifest),
      );
    }
  }
}

/** Compares a run with the scenario's expectation. */
function compare(
  run: Scenario['runs'][number],
  execution: ExecutionResult,
  report?: RunReport,
): string[] {
  const expect = run.expect;
  if (!expect) {
    return report?.status === 'Succeeded'
      ? []
      : [`run ended ${report?.status ?? execution.status}, no expectation given`];
  }
  const mismatches: string[] = [];
  const status = report?.status ?? 'NotRecorded';
  if (expect.runStatus && expect.runStatus !== status) {
    mismatches.push(`run status: expected ${expect.runStatus}, got ${status}`);
  }
  for (const [node, wanted] of Object.entries(expect.nodes ?? {})) {
    const got =
      report?.nodes.find((n) => n.name.toUpperCase() === node.toUpperCase())?.status ??
      'NotRecorded';
    if (got !== wanted) mismatches.push(`${node}: expected ${wanted}, got ${got}`);
  }
  if (report && !report.lockReleased) mismatches.push('the target lock was not released');
  return mismatches;
}

/** The rollout's resolved updateSelection (issue 13 item 2), for its invariant. */
function selectionOf(rollout: unknown): UpdateSelection | null {
  const raw = (rollout as { updateSelection?: unknown }).updateSelection;
  const parsed = updateSelectionInputSchema.safeParse(raw);
  return parsed.success ? resolveUpdateSelection(parsed.data) : null;
}

/** Runs every rollout of the scenario in order. */
export async function runScenario(
  scenario: Scenario,
  options: RunScenarioOptions = {},
): Promise<ScenarioResult> {
  const wallStart = performance.now();
  let fleet: SimulatedFleet | undefined;
  let watchStates: ((event: ProgressEvent) => void) | undefined;
  let observe: ((event: ProgressEvent) => void) | undefined;
  const throttle = { ...scenario.throttle, ...options.throttle };
  const fleetKind = options.fleet ?? 'model';
  let ownPool: PwshWorkerPool | undefined;
  let pool = options.pwshPool;
  if (fleetKind === 'pwsh' && !pool) {
    ownPool = new PwshWorkerPool();
    await ownPool.render();
    pool = ownPool;
  }
  const alarms = new SimulatedAlarms(scenario.alarms, new Date(scenario.startTime));
  const sandbox = await Sandbox.start({
    startTime: new Date(scenario.startTime),
    onProgress: (event: ProgressEvent) => {
      options.onProgress?.(event);
      watchStates?.(event);
      observe?.(event);
    },
    ...(Object.keys(throttle).length > 0 ? { throttle } : {}),
    ...(options.storePath === undefined ? {} : { storePath: options.storePath }),
    resourceGroups: simulatedResourceGroups(scenario.nodes),
    alarms,
    ssm: (clock, onEvent) => {
      fleet = new SimulatedFleet(scenario, clock, {
        documentPrefix: synthesize().documentPrefix,
        onEvent: onEvent as never,
        ...(pool ? { nodeScripts: new PwshNodeScripts(pool, clock) } : {}),
      });
      return fleet;
    },
  });
  const observations = observeRunStore(
    sandbox,
    scenario.runs.map((r) => r.rollout.target.name),
  );
  observe = observations.onProgress;
  try {
    publishHotfixRoot(sandbox, scenario);
    await options.beforeRuns?.(sandbox, fleet as SimulatedFleet);
    const runs: ScenarioRunResult[] = [];
    for (const [i, run] of (options.runRollouts === false ? [] : scenario.runs).entries()) {
      const name = `${scenario.name}-${i + 1}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
      // Issue 13 item 5: staged just before the run, outside the run's part of the fleet log.
      const stagingProblems = scenario.staging
        ? await stageBeforeRun(
            sandbox,
            fleet as SimulatedFleet,
            run.rollout,
            `${name}-staging`.slice(0, 64),
            scenario.staging.corrupt,
          )
        : [];
      const fleetFrom = fleet?.log.length ?? 0;
      const actions: ActionOutcome[] = [];
      const stopActions = scheduleActions(
        sandbox,
        scenario.actions.filter((a) => a.rollout === i),
        (run.rollout as { runId?: string }).runId ?? name,
        name,
        run.rollout.target.name,
        actions,
        (watch) => {
          watchStates = watch;
        },
      );
      const execution = await sandbox.runRollout(run.rollout, name);
      stopActions();
      const fleetTo = fleet?.log.length ?? 0;
      const assessments = scenario.assess
        ? [await assessAfter(sandbox, fleet as SimulatedFleet, run.rollout, `${name}-assessment`)]
        : [];
      const runId =
        (execution.output as { runId?: string } | undefined)?.runId ??
        (await findRunId(sandbox, execution));
      const report = runId
        ? await readRunReport(sandbox.store, runId, sandbox.s3).catch(() => undefined)
        : undefined;
      const checked = await sandbox.clock.track(() =>
        checkRunInvariants({
          sandbox,
          fleet: fleet as SimulatedFleet,
          observations,
          execution,
          ...(report ? { report } : {}),
          nodes: run.rollout.target.nodes.map((n) => n.name),
          fleetFrom,
          ...(run.rollout.rebootOption ? { rebootOption: run.rollout.rebootOption } : {}),
          rollout: run.rollout,
          updateSelection: selectionOf(run.rollout),
          alarms,
          ...(run.rollout.healthGates ? { healthGates: run.rollout.healthGates } : {}),
          fleetTo,
          assessments,
        }),
      );
      const invariants = withStagingRunProblems(checked, stagingProblems);
      const mismatches = [
        ...compare(run, execution, report),
        ...violations(invariants).map((v) => `invariant ${v}`),
      ];
      runs.push({
        execution,
        ...(report ? { report } : {}),
        expectationsMet: mismatches.length === 0,
        mismatches,
        invariants,
        actions,
      });
    }
    return {
      scenario: scenario.name,
      runs,
      expectationsMet: runs.every((r) => r.expectationsMet),
      historyStore: `DynamoDB table ${sandbox.tableName} on local dynalite (loopback), keys RUN#<runId>, LEDGER#<node>`,
      wallMs: performance.now() - wallStart,
      simulatedMs: sandbox.clock.advancedMs,
      sandbox,
      fleet: fleet as SimulatedFleet,
      observations,
      fleetKind,
      alarms,
    };
  } finally {
    if (!options.keepRunning && options.runRollouts !== false) {
      await sandbox.stop();
      ownPool?.close();
    }
  }
}

/**
 * Schedules a run's operator actions: at simulated minutes after now, or after an execution of
 * the run first enters a state. Each is made through the change-management API handler, and
 * its answer is appended to `outcomes`. Returns a function that drops what has not happened.
 */
function scheduleActions(
  sandbox: Sandbox,
  actions: readonly ScenarioAction[],
  runId: string,
  executionName: string,
  target: string,
  outcomes: ActionOutcome[],
  setWatcher: (watch: ((event: ProgressEvent) => void) | undefined) => void,
): () => void {
  if (actions.length === 0) return () => undefined;
  const api = sandbox.api();
  const cancels: (() => void)[] = [];
  const perform = (action: ScenarioAction) => {
    const at = sandbox.clock.now().toISOString();
    const body =
      action.action === 'approve' || action.action === 'reject'
        ? { ...(action.reason ? { comment: action.reason } : {}) }
        : { ...(action.reason ? { reason: action.reason } : {}) };
    void api({
      httpMethod: 'POST',
      // ForceRecovery acts on the target's lock (POST /targets/{id}/force-recovery).
      path:
        action.action === 'forceRecovery'
          ? `/targets/${encodeURIComponent(target)}/force-recovery`
          : `/rollouts/${encodeURIComponent(runId)}/${ACTION_PATHS[action.action]}`,
      headers: { 'Content-Type': 'application/json' },
      queryStringParameters: null,
      body: JSON.stringify(body),
      requestContext: {
        requestId: `sandbox-${action.action}`,
        identity: { userArn: 'arn:aws:iam::000000000000:user/sandbox-operator' },
      },
    }).then(
      (res) => {
        let parsed: unknown = res.body;
        try {
          parsed = JSON.parse(res.body);
        } catch {
          // Not JSON: keep the text.
        }
        outcomes.push({ action: action.action, at, statusCode: res.statusCode, body: parsed });
      },
      (error: unknown) => {
        outcomes.push({ action: action.action, at, statusCode: 0, body: String(error) });
      },
    );
  };
  const start = sandbox.clock.now().getTime();
  for (const action of actions) {
    if (action.atMinutes !== undefined) {
      cancels.push(
        sandbox.clock.schedule(start + action.atMinutes * 60_000, () => perform(action)),
      );
    }
  }
  const waiting = actions.filter((a) => a.onState !== undefined);
  if (waiting.length > 0) {
    setWatcher((event) => {
      if (event.runId !== runId && event.execution !== executionName) return;
      for (let i = waiting.length - 1; i >= 0; i--) {
        const action = waiting[i] as ScenarioAction;
        if (action.onState !== event.state) continue;
        if (!action.every) waiting.splice(i, 1);
        cancels.push(
          sandbox.clock.schedule(sandbox.clock.now().getTime() + action.delayMinutes * 60_000, () =>
            perform(action),
          ),
        );
      }
    });
  }
  return () => {
    setWatcher(undefined);
    for (const cancel of cancels) cancel();
  };
}

/** The first position of the fleet log at or after `at` (the log is in time order). */
function logPositionAt(log: readonly { readonly at: number }[], at: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((log[mid] as { at: number }).at < at) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Where a watched rollout execution's part of the fleet log begins and ends, and its input. */
export interface WatchedRollout {
  readonly input: unknown;
  readonly fleetFrom: number;
  /** Set as the execution ends. */
  fleetTo?: number;
}

/**
 * Watches the rollout executions of a sandbox kept running (started through the API, a window,
 * or runRollout): the fleet log's length as each starts and as it ends, and its input, so that
 * {@link checkExecutionInvariants} reads that run's part of the log alone. `onEnded` is called
 * as each ends, before the clock moves on.
 */
export function watchRollouts(
  result: ScenarioResult,
  onEnded?: (execution: ExecutionResult, watched: WatchedRollout) => void,
): { get(executionArn: string): WatchedRollout | undefined; stop(): void } {
  const watched = new Map<string, WatchedRollout>();
  const stop = result.sandbox.onRolloutExecution({
    started: (executionArn, input) => {
      watched.set(executionArn, { input, fleetFrom: result.fleet.log.length });
    },
    ended: (execution) => {
      const entry = watched.get(execution.executionArn);
      if (!entry) return;
      entry.fleetTo = result.fleet.log.length;
      onEnded?.(execution, entry);
    },
  });
  return { get: (executionArn) => watched.get(executionArn), stop };
}

/**
 * The invariants of a rollout execution started outside {@link runScenario} (through the API on
 * a sandbox kept running, say), once it has ended. The fleet log is the execution's own: as
 * {@link watchRollouts} saw it (`fleetFrom`, `fleetTo`), else from its start time to its stop
 * time (a run started in the instant another ended may then share a few entries with it), so
 * what earlier or later runs did on the same nodes is not held against it. With its `input`, the checks that need the rollout (phases,
 * health gates, updateSelection, rebootOption) run as they do for a scenario's runs; without it
 * they say they were not checked.
 */
export async function checkExecutionInvariants(
  result: ScenarioResult,
  execution: ExecutionResult,
  options: {
    readonly input?: unknown;
    readonly fleetFrom?: number;
    readonly fleetTo?: number;
  } = {},
): Promise<InvariantResult[]> {
  const { sandbox } = result;
  const input = (options.input ?? undefined) as
    | { rebootOption?: string; healthGates?: RunEvidence['healthGates'] }
    | undefined;
  const runId = (execution.output as { runId?: string } | undefined)?.runId ?? execution.name;
  // Only a run that never reached the run store has no report: any other failure to read it
  // (a stopped sandbox, say) is an error, never a vacuous pass.
  const report =
    (await sandbox.store.getRun(runId)) === undefined
      ? undefined
      : await readRunReport(sandbox.store, runId, sandbox.s3);
  const rebootOption =
    input?.rebootOption ?? (await sandbox.store.getRun(runId).catch(() => undefined))?.rebootOption;
  const log = result.fleet.log;
  return sandbox.clock.track(() =>
    checkRunInvariants({
      sandbox,
      fleet: result.fleet,
      observations: result.observations,
      execution,
      ...(report ? { report } : {}),
      nodes: report?.nodes.map((n) => n.name) ?? [],
      fleetFrom: options.fleetFrom ?? logPositionAt(log, execution.startedAt.getTime()),
      fleetTo: options.fleetTo ?? logPositionAt(log, execution.stoppedAt.getTime() + 1),
      ...(rebootOption ? { rebootOption } : {}),
      ...(input
        ? {
            rollout: input,
            updateSelection: selectionOf(input),
            ...(input.healthGates ? { healthGates: input.healthGates } : {}),
          }
        : {}),
      ...(result.alarms ? { alarms: result.alarms } : {}),
    }),
  );
}

/** A failed execution's run id: the one the validate step resolved (execution name by default). */
async function findRunId(
  sandbox: Sandbox,
  execution: ExecutionResult,
): Promise<string | undefined> {
  const run = await sandbox.store.getRun(execution.name).catch(() => undefined);
  return run ? execution.name : undefined;
}
