/**
 * The change-management API in the local sandbox: the real API handler (`sandbox.api()`), the
 * synthesized workflows and the real Lambda handlers, over a scenario's simulated fleet and
 * hotfix root, in virtual time. Requests are the ones the deployed API gets (cli/backend.ts
 * builds both), turned into the API Gateway events the handler would receive.
 *
 * A sandbox lives only as long as the process, so:
 * - `start --local` runs its rollout to the end here ({@link LocalBackend.runToEnd}), deciding
 *   an approval gate when the run reaches it;
 * - the other commands answer against a sandbox that first ran the scenario's own rollouts
 *   ({@link openLocalBackend} with `runScenarioRollouts`).
 *
 * The sandbox modules are imported only once the handlers' logging is silenced: the handlers
 * read their logging settings when they load.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLUGIN_NAMES, parseHotfixPluginArguments } from '../lambdas/core/plugin-arguments.js';
import type { ExecutionResult, ProgressEvent, Sandbox } from '../sandbox/engine.js';
import type { InvariantResult } from '../sandbox/invariants.js';
import type { Scenario } from '../sandbox/scenario.js';
import { checkStagingAmong, type RolloutAlongside } from '../sandbox/staging-invariants.js';
import { UsageError } from './args.js';
import {
  type ApiCall,
  apiBackend,
  BackendError,
  type DecisionAccepted,
  isTerminal,
  type RolloutBackend,
  type Transport,
} from './backend.js';
import { quietHandlers } from './quiet.js';

export const DEFAULT_LOCAL_SCENARIO = fileURLToPath(
  new URL('../examples/scenarios/change-management.json', import.meta.url),
);

/** Who signs the sandbox's requests, as API Gateway's IAM authorizer would name the caller. */
const LOCAL_CALLER = 'arn:aws:iam::000000000000:user/rollout-cli';

/**
 * The virtual step while waiting for an approval gate. The gate is looked at between steps; the
 * pilot's nodes take tens of simulated minutes, so five minutes costs nothing and is not late.
 */
const APPROVAL_POLL_MS = 5 * 60_000;
/** Virtual time after which a run that neither ends nor reaches its gate is reported stuck. */
const APPROVAL_WAIT_LIMIT_MS = 30 * 24 * 3_600_000;

export interface LocalBackendOptions {
  readonly cwd: string;
  /** The scenario file (relative to cwd). @default examples/scenarios/change-management.json */
  readonly scenario?: string;
  /** Run the scenario's own rollouts before answering (every command but start). */
  readonly runScenarioRollouts: boolean;
  /**
   * Rollout inputs the caller will send (start, scan): the scenario's hotfix root is published
   * under the roots they name as well.
   */
  readonly inputs?: readonly unknown[];
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Keep the run store in this folder (`rollout local up`'s data folder). @default - in memory */
  readonly storePath?: string;
  /** Where virtual time starts. @default - the scenario's startTime */
  readonly startTime?: Date;
  /**
   * Which fleet answers SendCommand (start --local --fleet): `pwsh` runs the SSM documents' real
   * scripts in pwsh workers, closed with the backend. @default 'model'
   */
  readonly fleet?: 'pwsh' | 'model';
}

export interface LocalBackend extends RolloutBackend {
  readonly sandbox: Sandbox;
  /** The API's requests as the handler answers them (the local service serves these). */
  readonly transport: Transport;
  readonly scenario: Scenario;
  /** The run ids of the scenario's own rollouts, when they ran. */
  readonly scenarioRunIds: readonly string[];
  /** The scenario's first rollout (target.nodes filled in), the default input of start and scan. */
  defaultInput(): Record<string, unknown>;
  /**
   * The input with what a scenario may leave out filled in from the scenario's fleet:
   * `target.nodes` (the cluster's nodes, or the standalone ones for a group) and their instanceIds.
   */
  completeInput(input: unknown): unknown;
  /**
   * Runs virtual time until the rollout ends. With a decision, advances in steps until the
   * rollout waits at its approval gate, then approves or rejects it (an approve decides every
   * gate of a phased run; the last decision is returned); the decision is null when the run
   * ended without reaching a gate.
   */
  runToEnd(
    rolloutId: string,
    decide?: { readonly decision: 'approve' | 'reject'; readonly comment?: string },
  ): Promise<{ readonly decision: DecisionAccepted | null }>;
  /**
   * The safety invariants (README "Safety", sandbox/invariants.ts) of the rollout, checked as the
   * sandbox command checks a scenario's runs, once its execution has ended here; undefined while
   * it runs, or when no execution of it ran in this sandbox.
   */
  invariantsOf(rolloutId: string): Promise<readonly InvariantResult[] | undefined>;
  /**
   * Every rollout execution that ended here since the last call (the scenario's, the API's, a
   * window's), each checked against the safety invariants once, and every staging execution
   * against stagingSafe: `rollout local up` calls it as its clock runs.
   */
  checkEndedRollouts(): Promise<readonly EndedRolloutCheck[]>;
}

/** One ended rollout or staging execution and its invariants (a staging's: stagingSafe). */
export interface EndedRolloutCheck {
  readonly kind: 'rollout' | 'staging';
  readonly execution: string;
  readonly status: ExecutionResult['status'];
  readonly invariants: readonly InvariantResult[];
  /** The checks themselves failed (the run store could not be read, say): nothing was checked. */
  readonly error?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whether the sandbox can publish the hotfix root an input names: its hotfix plug-in arguments
 * read and the root is an s3:// URI. Any other input is left for the API to refuse, naming the
 * field, instead of failing here.
 */
function publishable(input: unknown): input is Record<string, unknown> {
  if (!isRecord(input)) return false;
  if (input.plugins === undefined) return true;
  if (!Array.isArray(input.plugins)) return false;
  return input.plugins.every((plugin) => {
    if (!isRecord(plugin)) return false;
    if (plugin.name !== PLUGIN_NAMES.hotfix || plugin.arguments === undefined) return true;
    if (typeof plugin.arguments !== 'string') return false;
    try {
      return /^s3:\/\/[^/]+/.test(
        parseHotfixPluginArguments(plugin.arguments).hotfixRootFolderPath,
      );
    } catch {
      return false;
    }
  });
}

/** Starts a sandbox for the scenario and returns the API over it. */
export async function openLocalBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  quietHandlers();
  const [
    { loadScenario, ScenarioError },
    { runScenario, checkExecutionInvariants, watchRollouts },
  ] = await Promise.all([import('../sandbox/scenario.js'), import('../sandbox/run-scenario.js')]);
  const path =
    options.scenario === undefined
      ? DEFAULT_LOCAL_SCENARIO
      : resolve(options.cwd, options.scenario);
  let scenario: Scenario;
  try {
    scenario = await loadScenario(path);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message, { cause: error });
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--scenario ${JSON.stringify(options.scenario ?? path)}: cannot read the file (${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)})`,
      { cause: error },
    );
  }

  const completeInput = (input: unknown): unknown => {
    if (!isRecord(input) || !isRecord(input.target)) return input;
    const target = input.target;
    const kind = target.kind;
    const name = typeof target.name === 'string' ? target.name.toUpperCase() : undefined;
    const byName = new Map(scenario.nodes.map((n) => [n.name.toUpperCase(), n]));
    let nodes = target.nodes;
    // Issue 11: a group chosen by select is resolved by the workflow; leave it without nodes.
    if (
      nodes === undefined &&
      target.select === undefined &&
      (kind === 'cluster' || kind === 'group')
    ) {
      const members = scenario.nodes.filter((n) =>
        kind === 'cluster' ? n.cluster?.toUpperCase() === name : n.cluster === undefined,
      );
      if (members.length > 0) {
        nodes = members.map((n) => ({ name: n.name, instanceId: n.instanceId }));
      }
    } else if (Array.isArray(nodes)) {
      nodes = nodes.map((ref) => {
        if (!isRecord(ref) || ref.instanceId !== undefined || typeof ref.name !== 'string')
          return ref;
        const node = byName.get(ref.name.toUpperCase());
        return node ? { ...ref, instanceId: node.instanceId } : ref;
      });
    }
    return nodes === undefined ? input : { ...input, target: { ...target, nodes } };
  };

  // The scenario's hotfix root is published under every root its rollouts name; the inputs the
  // caller will send ride along as extra runs, which are never started.
  const extraRuns = (options.inputs ?? [])
    .map(completeInput)
    .filter(publishable)
    .map((rollout) => ({ rollout: rollout as Scenario['runs'][number]['rollout'] }));
  // A pwsh fleet's workers live as long as the backend (runScenario keeps its own only for a run).
  const pool =
    options.fleet === 'pwsh'
      ? new (await import('../sandbox/pwsh-fleet.js')).PwshWorkerPool()
      : undefined;
  let prepared: Awaited<ReturnType<typeof runScenario>>;
  try {
    await pool?.render();
    prepared = await runScenario(
      {
        ...scenario,
        ...(options.startTime === undefined ? {} : { startTime: options.startTime.toISOString() }),
        runs: [...scenario.runs, ...extraRuns],
      },
      {
        runRollouts: false,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.storePath === undefined ? {} : { storePath: options.storePath }),
        ...(pool ? { fleet: 'pwsh' as const, pwshPool: pool } : {}),
      },
    );
  } catch (error) {
    pool?.close();
    throw error;
  }
  const sandbox = prepared.sandbox;
  const stopSandbox = async () => {
    try {
      await Promise.allSettled(checks.map((c) => c.done));
      stopWatching();
      stopRollouts();
      stopStagings();
      await sandbox.stop();
    } finally {
      pool?.close();
    }
  };

  // Each rollout execution is checked as it ends, before the clock moves on (the check holds
  // it): the fleet's nodes are as the run left them, whatever runs next on them.
  const checks: {
    readonly execution: ExecutionResult;
    readonly kind: EndedRolloutCheck['kind'];
    readonly done: Promise<readonly InvariantResult[]>;
  }[] = [];
  let reported = 0;
  const { stop: stopWatching } = watchRollouts(prepared, (execution, watched) => {
    const done = sandbox.clock.track(() => checkExecutionInvariants(prepared, execution, watched));
    done.catch(() => undefined); // reported by whoever reads it (invariantsOf, checkEndedRollouts)
    checks.push({ execution, kind: 'rollout', done });
  });
  // Staging (issue 13 item 5) changes nothing on a node: each staging execution is checked on
  // the fleet log while it ran, leaving out the nodes of rollouts that ran meanwhile.
  const targetNodes = (input: unknown): readonly string[] | undefined => {
    const nodes = (input as { target?: { nodes?: unknown } } | undefined)?.target?.nodes;
    return Array.isArray(nodes)
      ? nodes.map((n) => String((n as { name?: unknown } | undefined)?.name ?? ''))
      : undefined;
  };
  const liveRollouts = new Map<string, RolloutAlongside>();
  const liveStagings = new Map<string, { from: number; alongside: RolloutAlongside[] }>();
  const stopRollouts = sandbox.onRolloutExecution({
    started: (executionArn, input) => {
      const rollout = {
        name: executionArn.split(':').at(-1) ?? executionArn,
        nodes: targetNodes(input),
      };
      liveRollouts.set(executionArn, rollout);
      for (const staging of liveStagings.values()) staging.alongside.push(rollout);
    },
    ended: (execution) => liveRollouts.delete(execution.executionArn),
  });
  const stopStagings = sandbox.onStagingExecution({
    started: (executionArn) => {
      liveStagings.set(executionArn, {
        from: prepared.fleet.log.length,
        alongside: [...liveRollouts.values()],
      });
    },
    ended: (execution, input) => {
      const staging = liveStagings.get(execution.executionArn);
      liveStagings.delete(execution.executionArn);
      if (!staging) return;
      const { problems, detail } = checkStagingAmong(
        prepared.fleet.log.slice(staging.from),
        targetNodes(input),
        staging.alongside,
      );
      const result: InvariantResult = {
        name: 'stagingSafe',
        ok: problems.length === 0,
        detail: problems.length === 0 ? detail : `${problems.join('; ')} (${detail})`,
      };
      checks.push({ execution, kind: 'staging', done: Promise.resolve([result]) });
    },
  });
  const invariantsOf: LocalBackend['invariantsOf'] = async (rolloutId) =>
    checks.find(
      ({ execution: e, kind }) =>
        kind === 'rollout' &&
        (e.name === rolloutId ||
          (e.output as { runId?: unknown } | undefined)?.runId === rolloutId),
    )?.done;
  const checkEndedRollouts: LocalBackend['checkEndedRollouts'] = async () => {
    const fresh = checks.slice(reported);
    reported = checks.length;
    return Promise.all(
      fresh.map(({ execution, kind, done }) =>
        done.then(
          (invariants): EndedRolloutCheck => ({
            kind,
            execution: execution.name,
            status: execution.status,
            invariants,
          }),
          (error: unknown): EndedRolloutCheck => ({
            kind,
            execution: execution.name,
            status: execution.status,
            invariants: [],
            error: (error as Error).message,
          }),
        ),
      ),
    );
  };

  const scenarioRunIds: string[] = [];
  try {
    if (options.runScenarioRollouts) {
      // As runScenario names them, so `rollout report --local change-management-1` finds its run.
      for (const [i, run] of scenario.runs.entries()) {
        const name = `${scenario.name}-${i + 1}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
        const execution = await sandbox.runRollout(run.rollout, name);
        const runId = (execution.output as { runId?: unknown } | undefined)?.runId;
        scenarioRunIds.push(typeof runId === 'string' ? runId : name);
      }
    }
  } catch (error) {
    await stopSandbox();
    throw error;
  }

  const handler = sandbox.api();
  let requests = 0;
  const transport = async (call: ApiCall) => {
    requests++;
    const answer = await handler({
      httpMethod: call.method,
      path: call.path,
      headers: call.headers,
      queryStringParameters: Object.keys(call.query).length === 0 ? null : call.query,
      multiValueQueryStringParameters:
        Object.keys(call.query).length === 0
          ? null
          : Object.fromEntries(Object.entries(call.query).map(([k, v]) => [k, [v]])),
      body: call.body ?? null,
      isBase64Encoded: false,
      requestContext: {
        requestId: `local-${requests}`,
        identity: { userArn: LOCAL_CALLER, caller: LOCAL_CALLER },
      },
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers ?? {})) {
      headers[name.toLowerCase()] = String(value);
    }
    if (answer.statusCode === 404 && scenarioRunIds.length > 0 && /^\/rollouts\//.test(call.path)) {
      // Say which rollouts this sandbox knows: it forgets every run when the process ends.
      let error: { error?: { message?: unknown } } | undefined;
      try {
        error = JSON.parse(answer.body) as { error?: { message?: unknown } };
      } catch {
        error = undefined;
      }
      if (error?.error !== undefined && typeof error.error.message === 'string') {
        error.error.message += `; this local sandbox ran only the scenario's rollouts: ${scenarioRunIds.join(', ')} (a rollout started with start --local ends with that process)`;
        return { status: 404, headers, body: JSON.stringify(error) };
      }
    }
    return { status: answer.statusCode, headers, body: answer.body };
  };

  const api = apiBackend(
    transport,
    `the local sandbox (scenario ${scenario.name}, ${scenario.nodes.length} simulated nodes${pool ? ', pwsh fleet' : ''})`,
    stopSandbox,
  );

  const runToEnd: LocalBackend['runToEnd'] = async (rolloutId, decide) => {
    let decision: DecisionAccepted | null = null;
    if (decide) {
      const until = sandbox.clock.now().getTime() + APPROVAL_WAIT_LIMIT_MS;
      for (;;) {
        const status = await api.getRollout(rolloutId);
        if (status.approval !== null) {
          decision = await api.decide(rolloutId, decide.decision, decide.comment);
          // Phases (issue 13, item 4) may wait for approval more than once: approve each.
          if (decide.decision !== 'approve') break;
          await sandbox.advance(APPROVAL_POLL_MS);
          continue;
        }
        if (isTerminal(status)) break;
        if (sandbox.clock.now().getTime() >= until) {
          throw new BackendError({
            status: 0,
            code: 'SandboxStuck',
            message: `rollout ${rolloutId} neither ended nor reached an approval gate in ${APPROVAL_WAIT_LIMIT_MS / 86_400_000} simulated days`,
          });
        }
        await sandbox.advance(APPROVAL_POLL_MS);
      }
    }
    await sandbox.settle();
    return { decision };
  };

  return {
    ...api,
    sandbox,
    transport,
    invariantsOf,
    checkEndedRollouts,
    scenario,
    scenarioRunIds,
    defaultInput() {
      const first = scenario.runs[0];
      if (first === undefined) {
        throw new UsageError(
          `the scenario ${scenario.name} has no rollout; give --input <rollout.json>`,
        );
      }
      return JSON.parse(JSON.stringify(first.rollout)) as Record<string, unknown>;
    },
    completeInput,
    runToEnd,
  };
}
