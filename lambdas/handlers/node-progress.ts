/**
 * GET /rollouts/{id}/nodes/{node}/progress: where a node is inside its update, read where Step
 * Functions has it (issue 12, the live node view). The run store records a node only when it
 * ends, and the node workflow gets no extra states for this (issue 11: at most 30 transitions
 * per node), so the route reads the node's own execution (`<runId>-<node>` of the node
 * workflow) with GetExecutionHistory, newest first: the last state entered names the step, and
 * that state's input has the plug-in loop (plug-in i of n) and the node's plan (updates planned).
 */
import { GetExecutionHistoryCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ApiError, executionArnFor } from '../core/api-model.js';
import type { NodeStep } from '../core/contracts.js';
import { PLUGIN_NAMES } from '../core/plugin-arguments.js';

/**
 * The step of each node-workflow state, by its name (lib/node-workflow.ts); first match wins.
 * test/handlers/node-progress.test.ts checks that every state of the synthesized workflow maps
 * to a step, so a new state cannot go unnamed.
 */
const STEP_RULES: readonly (readonly [RegExp, NodeStep])[] = [
  [
    /^(Failure_|NodeFailed$|RecordNodeFailed$|RecordNodeUpdateFailed$|UnexpectedError$|DrainedWhenFailing$)/,
    'failing',
  ],
  [/AfterFailure/, 'failing'],
  [/^(Init|Preflight|StopAfterReached|RecordNotStarted|NodeNotStarted)$/, 'preflight'],
  [/^(PlanNode|AnythingToInstall|RecordNothingToInstall|NodeHadNothingToInstall)$/, 'planning'],
  [/^NothingToInstall/, 'planning'],
  [
    /^(Inventory|InventorySucceeded|CancelAfterInventoryTimedOut|CancelFailedAfterInventoryTimedOut)$/,
    'inventory',
  ],
  [/ClusterMembersListed|ClusterNodeNotUp|AllClusterNodesUp|^InventoryChecked$/, 'inventory'],
  [/^(HotpatchEligibility|HotfixesToJudge|NoHotfixesToJudge)$/, 'hotpatchEligibility'],
  [/PreUpdateScript/, 'preUpdateScript'],
  [/PostUpdateScript/, 'postUpdateScript'],
  [
    /BeforeRestart|^Restart|^Restarted|Boot|InstallerRestart|RestartedByInstaller|RebootTimeout/,
    'restarting',
  ],
  [/^(NeedsDrain|Drain|DrainSucceeded|MarkDrained|MarkDrainedRestartPending)$/, 'draining'],
  [/DrainTimedOut|DrainFailedMayBePaused/, 'draining'],
  [/Removal|RemoveUpdates|BeforePlugins/, 'removing'],
  [/Hotfix|WindowsUpdate|Plugin|Install|ServicingBusy/, 'installing'],
  [
    /^(Verify|NodeAnswered|CancelAfterVerifyTimedOut|CancelFailedAfterVerifyTimedOut)$/,
    'verifying',
  ],
  [/^(WasDrained|Resume|ResumeSucceeded|MarkResumed|MarkResumedStorageRepairPending)$/, 'resuming'],
  [/AfterResumeTimedOut|RolesNotFailedBack/, 'resuming'],
  [
    /^(AnyPluginFailed|RecordNodeSucceeded|NodeUpdated|NodeUpdatedNotRecorded|RecordNodeInstalledPendingReboot|NodeInstalledPendingReboot|RecordStorageRepairTimedOut)$/,
    'recording',
  ],
];

/** The step a node-workflow state belongs to; undefined for a name no rule knows. */
export function stepOfState(state: string): NodeStep | undefined {
  return STEP_RULES.find(([pattern]) => pattern.test(state))?.[1];
}

export interface NodeProgress {
  readonly rolloutId: string;
  readonly node: string;
  readonly executionArn: string;
  /** `Running`, or how the node's execution ended. */
  readonly status: 'Running' | 'Succeeded' | 'Failed' | 'Aborted' | 'TimedOut';
  /** The node-workflow state entered last, and when; null before the first. */
  readonly state: string | null;
  readonly enteredAt: string | null;
  readonly step: NodeStep | null;
  /** The plug-in being installed: i of n (from 1), and its name; null outside the plug-ins. */
  readonly plugin: {
    readonly index: number;
    readonly count: number;
    readonly name: string | null;
  } | null;
  /** Updates the node's plan holds: hotfix files (the Windows Update plug-in's are found on the node). */
  readonly updatesPlanned: number | null;
  readonly restarts: number | null;
  /** One line for a person: `installing (plug-in 1 of 2, Microsoft.HotfixPlugin; 3 updates planned)`. */
  readonly summary: string;
}

const ENDED: Readonly<Record<string, NodeProgress['status']>> = {
  ExecutionSucceeded: 'Succeeded',
  ExecutionFailed: 'Failed',
  ExecutionAborted: 'Aborted',
  ExecutionTimedOut: 'TimedOut',
};

/** Events read: the newest state entered is among the last few. */
const HISTORY_PAGE = 50;

interface StateInput {
  /** The node's plug-ins, in run order (the node workflow keeps no loop counter: issue 11 §6). */
  plugins?: { name?: unknown }[];
  plan?: { hotfix?: { updates?: unknown[] } | null };
  state?: { restarts?: unknown };
}

function parseInput(text: string | undefined): StateInput {
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? (value as StateInput) : {};
  } catch {
    return {};
  }
}

/**
 * The plug-in a state installs with: its name is in the state's (`…Hotfix…`,
 * `…WindowsUpdate…`), its place in the node's `plugins` list.
 */
function pluginOf(state: string, input: StateInput): NodeProgress['plugin'] {
  const name = /WindowsUpdate/.test(state)
    ? PLUGIN_NAMES.windowsUpdate
    : /Hotfix/.test(state)
      ? PLUGIN_NAMES.hotfix
      : null;
  const plugins = Array.isArray(input.plugins) ? input.plugins : null;
  if (name === null || plugins === null) return null;
  const index = plugins.findIndex((p) => p?.name === name);
  return index < 0 ? null : { index: index + 1, count: plugins.length, name };
}

const whole = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;

/** The progress of a node from its execution's newest history events (newest first). */
export function progressOf(
  rolloutId: string,
  node: string,
  executionArn: string,
  events: readonly {
    readonly type?: string;
    readonly timestamp?: Date;
    readonly stateEnteredEventDetails?: { readonly name?: string; readonly input?: string };
  }[],
): NodeProgress {
  const ended = events.find((e) => e.type !== undefined && e.type in ENDED);
  const entered = events.find((e) => e.type?.endsWith('StateEntered') === true);
  const state = entered?.stateEnteredEventDetails?.name ?? null;
  const input = parseInput(entered?.stateEnteredEventDetails?.input);
  const step = state === null ? null : (stepOfState(state) ?? null);
  const plugin = step === 'installing' && state !== null ? pluginOf(state, input) : null;
  const updates = input.plan?.hotfix?.updates;
  const updatesPlanned = Array.isArray(updates) ? updates.length : null;
  const restarts = whole(input.state?.restarts);
  const status = ended?.type === undefined ? 'Running' : (ENDED[ended.type] ?? 'Running');
  const details = [
    plugin
      ? `plug-in ${plugin.index} of ${plugin.count}${plugin.name ? `, ${plugin.name}` : ''}`
      : null,
    updatesPlanned === null
      ? null
      : `${updatesPlanned} hotfix update${updatesPlanned === 1 ? '' : 's'} planned`,
    restarts ? `${restarts} restart${restarts === 1 ? '' : 's'} so far` : null,
  ].filter((d) => d !== null);
  const summary =
    status !== 'Running'
      ? `ended ${status}`
      : step === null
        ? 'starting'
        : `${step}${details.length > 0 ? ` (${details.join('; ')})` : ''}`;
  return {
    rolloutId,
    node,
    executionArn,
    status,
    state,
    enteredAt: entered?.timestamp ? entered.timestamp.toISOString() : null,
    step,
    plugin,
    updatesPlanned,
    restarts,
    summary,
  };
}

/** Reads a node's progress from its execution of the node workflow. */
export async function readNodeProgress(
  sfn: Pick<SFNClient, 'send'>,
  nodeStateMachineArn: string,
  rolloutId: string,
  node: string,
): Promise<NodeProgress> {
  // The rollout workflow names each node's execution `<runId>-<node>` (lib/rollout-workflow.ts).
  const executionArn = executionArnFor(nodeStateMachineArn, `${rolloutId}-${node}`);
  try {
    const out = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: HISTORY_PAGE,
        includeExecutionData: true,
      }),
    );
    return progressOf(rolloutId, node, executionArn, out.events ?? []);
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name !== 'ExecutionDoesNotExist') throw error;
    throw new ApiError(
      'NotFound',
      `node ${JSON.stringify(node)} of rollout ${JSON.stringify(rolloutId)} has not started (no execution ${executionArn})`,
      { field: 'node', value: node },
    );
  }
}
