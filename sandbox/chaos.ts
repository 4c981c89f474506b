/**
 * The random fault campaign (`rollout chaos`): generates small scenarios from a seeded PRNG,
 * each with a few faults drawn from pluggable fault kinds, runs each through the synthesized
 * workflows in the sandbox, checks the invariants (sandbox/invariants.ts) and what the run
 * itself must do, and shrinks a failing run to a small scenario that reproduces it.
 *
 * A run is a pure function of (seed, index): {@link generateSpec} draws a {@link ChaosSpec}, and
 * {@link buildScenario} turns it into scenario JSON. Shrinking edits the spec, not the JSON.
 */

import { FUNCTION_NAMES } from '../lib/rollout-functions.js';
import type { InvariantName } from './invariants.js';
import { PwshWorkerPool } from './pwsh-fleet.js';
import { type RunScenarioOptions, runScenario } from './run-scenario.js';
import { parseScenario, type ScenarioInput } from './scenario.js';

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: small, fast, good enough to draw scenarios; the same seed gives the same draws. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The PRNG seed of run `index` of a campaign: runs can be regenerated one by one. */
function runSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The spec of one run

/** One injected fault: its kind, where (node and update positions, taken modulo) and a draw. */
export interface Fault {
  readonly kind: string;
  readonly node: number;
  readonly update: number;
  /** A random whole number the kind interprets (which code, how long, when). */
  readonly value: number;
}

/** What a run is made of, before it becomes a scenario. */
export interface ChaosSpec {
  readonly seed: number;
  readonly index: number;
  readonly target: 'cluster' | 'group';
  readonly nodes: number;
  readonly updates: number;
  readonly maxFailedNodes: number;
  readonly maxRetriesPerNode: number;
  /** Groups only. */
  readonly maxConcurrency: number;
  /** An approval gate after this many pilot nodes (approved a minute after it is reached). */
  readonly gateAfterNodes: number | null;
  readonly faults: readonly Fault[];
  /** Phases (issue 13, item 4), on runs without an approval gate; see {@link phasesOf}. */
  readonly phases?: ChaosPhases | null;
  /** A storage repair wait and one node's repair job (issue 13, item 6); clusters only. */
  readonly storageRepair?: ChaosStorageRepair | null;
  /**
   * healthGates.checkEveryMinutes (1 to 60) of a run with health gates: how often a phase's bake
   * reads the alarms and the cancel flag; null leaves the default (5).
   */
  readonly bakeCheckEveryMinutes?: number | null;
}

/**
 * WaitForStorageRepairTimeoutMinutes drawn for a cluster run: the wait, and a repair job on one
 * node (position taken modulo the nodes) that runs `jobMinutes` after each of its restarts, so
 * that it finishes within the wait or outlasts it.
 */
export interface ChaosStorageRepair {
  readonly waitMinutes: number;
  readonly node: number;
  readonly jobMinutes: number;
}

/**
 * A phase plan drawn for a run: the first phase is one node (a count), half the target (a
 * percentage) or the last node (named), gated by a bake or an approval (approved a minute after
 * it is reached); an optional second phase of one node with a bake; the rest run last.
 */
export interface ChaosPhases {
  readonly first: 'count' | 'percent' | 'named';
  readonly failuresAllowed: number;
  readonly approval: boolean;
  readonly bakeMinutes: number;
  readonly second: boolean;
}

/** A scenario being built: the JSON of a scenario file, mutable. */
export interface Draft {
  name: string;
  description: string;
  hotfixRoot: {
    files: { path: string; deliveredSha256?: string }[];
    manifest?: Record<string, unknown>;
  };
  nodes: DraftNode[];
  rollout: {
    target: { kind: 'cluster' | 'group'; name: string };
    plugins: { name: string; arguments: string }[];
    policy: Record<string, unknown>;
    approvalGate?: { afterNodes: number; timeoutMinutes: number };
    rebootOption?: 'IfRequired' | 'Never' | 'Always';
    phases?: Record<string, unknown>[];
    /** Issue 13 item 2; the excludedNeverInstalled invariant checks it on every run. */
    updateSelection?: { includeKbs?: string[]; excludeKbs?: string[] };
    healthGates?: {
      alarmNames?: string[];
      alarmTag?: { key: string; value: string };
      onAlarm: 'stop' | 'approve';
      checkEveryMinutes?: number;
    };
  };
  /** A compliance assessment after the run (issue 13, item 8); assessmentReadOnly checks it. */
  assess?: boolean;
  /** Simulated CloudWatch alarms (issue 13, item 1). */
  alarms?: {
    name: string;
    tags?: Record<string, string>;
    timeline: { at: string; state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason: string }[];
  }[];
  throttle: Record<string, number>;
  /** Staging before each run (issue 13 item 5), and the nodes whose staged copy is corrupted. */
  staging?: { corrupt: string[] };
  actions: {
    action: 'cancel' | 'approve' | 'reject' | 'forceRecovery';
    atMinutes?: number;
    onState?: string;
    delayMinutes?: number;
    /** With onState: each time the run enters the state, not only the first. */
    every?: boolean;
    reason?: string;
  }[];
  expect?: { runStatus: string; nodes?: Record<string, string> };
}

export interface DraftNode {
  name: string;
  cluster?: string;
  os?: Record<string, string>;
  hotpatch?: { enrolled: boolean; vbsEnabled: boolean; secureBoot: boolean };
  online?: boolean;
  pendingReboot?: boolean;
  neverReturnsFromRestart?: boolean;
  resumeFails?: boolean;
  drain?: { fails?: boolean; failsByAttempt?: boolean[] };
  resumeFailsByAttempt?: boolean[];
  preUpdateScript?: { exitCode: number };
  postUpdateScript?: { exitCode: number };
  preUpdateScriptByAttempt?: { exitCode: number }[];
  postUpdateScriptByAttempt?: { exitCode: number }[];
  offlineDuringInstall?: { afterMinutes: number; minutes?: number };
  pausedAtStart?: boolean;
  roles?: number;
  storageJobs?: { name: string; minutes: number }[];
  /** Issue 13 item 6: the failback's delay, and a cluster service not back after a restart. */
  failbackMinutes?: number;
  staysDownAfterRestart?: boolean;
  updates: Record<
    string,
    {
      exitCodes?: number[];
      minutes?: number;
      hangs?: boolean;
      servicingBusy?: boolean;
      notApplied?: boolean;
    }
  >;
}

/** A kind of fault: one function that puts it into a draft. */
export interface FaultKind {
  readonly name: string;
  /** What it does, for --help and the README. */
  readonly summary: string;
  /** Puts the fault in; `node` and `update` are already in range. */
  readonly apply: (
    draft: Draft,
    fault: Fault & { readonly nodeName: string; readonly kb: string },
  ) => void;
}

const pick = <T>(list: readonly T[], value: number): T => list[value % list.length] as T;
const GATE_STATE = { cluster: 'AwaitClusterApproval', group: 'AwaitFleetApproval' } as const;

/** Sets the exit codes a node's update answers. */
const exitCodes =
  (codes: readonly (readonly number[])[]): FaultKind['apply'] =>
  (draft, f) => {
    const node = draft.nodes.find((n) => n.name === f.nodeName);
    if (!node) return;
    node.updates[f.kb] = { ...node.updates[f.kb], exitCodes: [...pick(codes, f.value)] };
  };

const onNode =
  (change: (node: DraftNode, value: number) => void): FaultKind['apply'] =>
  (draft, f) => {
    const node = draft.nodes.find((n) => n.name === f.nodeName);
    if (node) change(node, f.value);
  };

/** The gate's approval action (added by the spec) is replaced or delayed. */
const gateDecision =
  (action: 'approve' | 'reject', delay: (value: number) => number): FaultKind['apply'] =>
  (draft, f) => {
    const gate = draft.actions.find((a) => a.onState !== undefined);
    if (!gate) return;
    gate.action = action;
    gate.delayMinutes = delay(f.value);
  };

const HEALTH_GATE_SUMMARY =
  'the rollout has health gates (by name or tag, onAlarm stop or approve) and an alarm goes to ALARM 0 to 89 minutes in, back to OK 5 to 44 minutes later or never';

/** A health-gated rollout and an alarm that fires mid-run; a second draw adds another alarm. */
const applyHealthGate: FaultKind['apply'] = (draft, f) => {
  const alarms = draft.alarms ?? [];
  draft.alarms = alarms;
  const name = `chaos-alarm-${alarms.length + 1}`;
  const firesAt = f.value % 90;
  const clearsAfter = f.value % 7 === 0 ? null : 5 + (f.value % 40);
  alarms.push({
    name,
    tags: { 'rollout-gate': 'chaos' },
    timeline: [
      { at: 'PT0S', state: 'OK', reason: 'Threshold Crossed: no datapoint above the threshold' },
      { at: `PT${firesAt}M`, state: 'ALARM', reason: `chaos: ${name} fired` },
      ...(clearsAfter === null
        ? []
        : [{ at: `PT${firesAt + clearsAfter}M`, state: 'OK' as const, reason: 'chaos: cleared' }]),
    ],
  });
  if (draft.rollout.healthGates) return;
  const approve = f.value % 3 === 0;
  draft.rollout.healthGates = {
    ...(f.value % 2 === 0
      ? { alarmTag: { key: 'rollout-gate', value: 'chaos' } }
      : { alarmNames: [name] }),
    onAlarm: approve ? 'approve' : 'stop',
  };
  if (approve) {
    const cluster = draft.rollout.target.kind === 'cluster';
    draft.actions.push({
      action: 'approve',
      onState: cluster ? 'HealthGateBeforeNodeAwaitApproval' : FLEET_HEALTH_GATE_WAVE_HOLDS[0],
      delayMinutes: f.value % 20,
      every: true,
      reason: 'chaos: approve at the health gate',
    });
    // Before each wave of a group (the pilot, the rest, the whole group), during a phase's bake
    // and at the phase's end: every hold is answered.
    const more = cluster
      ? HEALTH_GATE_PHASE_HOLDS
      : [...FLEET_HEALTH_GATE_WAVE_HOLDS.slice(1), ...FLEET_HEALTH_GATE_PHASE_HOLDS];
    for (const onState of more) {
      draft.actions.push({
        action: 'approve',
        onState,
        delayMinutes: f.value % 20,
        every: true,
        reason: 'chaos: approve the hold at the phase health gate',
      });
    }
  }
};

/**
 * The cluster workflow's health-gate holds of a phase (lib/rollout-workflow.ts): during its bake
 * (each check) and at its end, before the next phase.
 */
export const HEALTH_GATE_PHASE_HOLDS = [
  'ClusterPhaseBakeHealthGateAwaitApproval',
  'ClusterPhaseHealthGateAwaitApproval',
] as const;

/** A group's health-gate holds before a wave: the pilot's, the rest's, the whole group's. */
export const FLEET_HEALTH_GATE_WAVE_HOLDS = [
  'HealthGateBeforePilotWaveAwaitApproval',
  'HealthGateBeforeRestWaveAwaitApproval',
  'HealthGateBeforeFleetWaveAwaitApproval',
] as const;

/** A group's health-gate holds of a phase: before its wave, during its bake and at its end. */
export const FLEET_HEALTH_GATE_PHASE_HOLDS = [
  'HealthGateBeforePhaseWaveAwaitApproval',
  'FleetPhaseBakeHealthGateAwaitApproval',
  'FleetPhaseHealthGateAwaitApproval',
] as const;

/**
 * Every fault kind, one function each. A node behaviour the scenario format gains becomes a
 * kind here with one entry.
 */
export const FAULT_KINDS: readonly FaultKind[] = [
  {
    name: 'exit-3010',
    summary: 'an installer exits 3010 (installed, restart required)',
    apply: exitCodes([[3010]]),
  },
  {
    name: 'exit-1641',
    summary:
      'an installer exits 1641 (it restarts the node itself): an .msi, whose rule lists 1641, so the workflow drains first',
    apply: (draft, f) => {
      // 1641 is drawn only where the configuration says the installer may restart the node: an
      // installer whose rule does not list it restarts a node nobody drained (README, Safety).
      const file = draft.hotfixRoot.files.find((x) => x.path.toUpperCase().includes(f.kb));
      if (file) {
        const before = file.path;
        file.path = before.replace(/\.msu$/, '.msi');
        // A hotpatch manifest drawn earlier names the file by its path: keep it naming the file.
        const manifest = draft.hotfixRoot.manifest;
        if (manifest && file.path !== before) {
          draft.hotfixRoot.manifest = Object.fromEntries(
            Object.entries(manifest).map(([path, facts]) => [
              path === before ? file.path : path,
              facts,
            ]),
          );
        }
      }
      exitCodes([[1641], [1641, 0]])(draft, f);
    },
  },
  {
    name: 'exit-1618',
    summary: 'an installer exits 1618 (another install running), then succeeds or not',
    apply: exitCodes([[1618, 0], [1618]]),
  },
  {
    name: 'exit-3017',
    summary: 'an installer exits 3017 (Fail_RebootRequired in the default configuration)',
    apply: exitCodes([[3017], [3017, 0]]),
  },
  {
    name: 'exit-failure',
    summary: 'an installer fails: 1603 for good or once, or 0x80070422 (service disabled)',
    apply: exitCodes([[1603], [1603, 0], [-2147023838]]),
  },
  {
    name: 'exit-benign',
    summary: 'AlreadyInstalled (0x240006) or NotApplicable (0x80240017, 1642) codes',
    apply: exitCodes([[2359302], [-2145124329], [1642]]),
  },
  {
    name: 'exit-unknown',
    summary: 'an exit code no rule lists (a failure, no restart)',
    apply: exitCodes([[12345], [-2147024891], [1]]),
  },
  {
    name: 'hotpatch-month',
    summary:
      'every update is predicted hotpatchable (Azure Edition nodes, enrolled; a security update of a hotpatch month): no restart expected, so no drain planned',
    apply: (draft) => {
      for (const node of draft.nodes) {
        node.os = {
          caption: 'Microsoft Windows Server 2022 Datacenter: Azure Edition',
          version: '10.0.20348',
          build: '20348.2849',
          editionId: 'ServerTurbine',
        };
        node.hotpatch = { enrolled: true, vbsEnabled: true, secureBoot: true };
      }
      draft.hotfixRoot.manifest = Object.fromEntries(
        draft.hotfixRoot.files.map((f) => [
          f.path,
          {
            policy: 'modern',
            update: { releaseMonth: '2025-11', kind: 'security', unplannedBaseline: false },
            binaries: [],
          },
        ]),
      );
    },
  },
  {
    name: 'installer-hangs',
    summary: 'an installer never exits',
    apply: (draft, f) => {
      const node = draft.nodes.find((n) => n.name === f.nodeName);
      if (node) node.updates[f.kb] = { ...node.updates[f.kb], hangs: true };
    },
  },
  {
    name: 'never-returns',
    summary: 'a node needs a restart (3010) and never comes back from it',
    apply: (draft, f) => {
      exitCodes([[3010]])(draft, f);
      onNode((n) => {
        n.neverReturnsFromRestart = true;
      })(draft, f);
    },
  },
  {
    name: 'offline',
    summary: 'a node is offline (SSM Agent unreachable) from the start',
    apply: onNode((n) => {
      n.online = false;
    }),
  },
  {
    name: 'pending-reboot',
    summary: 'a node already waits for a restart when the run starts',
    apply: onNode((n) => {
      n.pendingReboot = true;
    }),
  },
  {
    name: 'drain-fails',
    summary: 'draining a cluster node fails (the node is left paused)',
    apply: onNode((n) => {
      n.drain = { fails: true };
    }),
  },
  {
    name: 'resume-fails',
    summary: 'resuming a cluster node leaves it paused',
    apply: onNode((n) => {
      n.resumeFails = true;
    }),
  },
  {
    name: 'drain-fails-later',
    summary:
      'draining a cluster node succeeds once, then fails (or the reverse): a late drain before a restart fails',
    apply: onNode((n, v) => {
      n.drain = {
        failsByAttempt: pick(
          [
            [false, true],
            [true, false],
          ],
          v,
        ),
      };
    }),
  },
  {
    name: 'resume-fails-once',
    summary: 'the first resume of a cluster node leaves it paused, a later one works',
    apply: onNode((n) => {
      n.resumeFailsByAttempt = [true, false];
    }),
  },
  {
    name: 'pre-script-flaky',
    summary: 'the PreUpdateScript fails on its first run and passes on the next (or the reverse)',
    apply: onNode((n, v) => {
      n.preUpdateScriptByAttempt = pick(
        [
          [{ exitCode: 1 }, { exitCode: 0 }],
          [{ exitCode: 0 }, { exitCode: 2 }],
        ],
        v,
      );
    }),
  },
  {
    name: 'post-script-flaky',
    summary: 'the PostUpdateScript fails on its first run and passes on the next (or the reverse)',
    apply: onNode((n, v) => {
      n.postUpdateScriptByAttempt = pick(
        [
          [{ exitCode: 1 }, { exitCode: 0 }],
          [{ exitCode: 0 }, { exitCode: 2 }],
        ],
        v,
      );
    }),
  },
  {
    name: 'offline-mid-install',
    summary:
      'a node drops off the network 1 to 3 minutes into its install, for 10 or 90 minutes or for good',
    apply: onNode((n, v) => {
      const minutes = pick([10, 90, undefined], v);
      n.offlineDuringInstall = {
        afterMinutes: 1 + (v % 3),
        ...(minutes === undefined ? {} : { minutes }),
      };
    }),
  },
  {
    name: 'paused-at-start',
    summary:
      'a cluster node is already Paused and drained when the run starts (left so by an earlier run)',
    apply: onNode((n) => {
      n.pausedAtStart = true;
    }),
  },
  {
    name: 'servicing-busy',
    summary: 'an installer hangs and Windows servicing is still busy when it is stopped',
    apply: (draft, f) => {
      const node = draft.nodes.find((n) => n.name === f.nodeName);
      if (node) node.updates[f.kb] = { ...node.updates[f.kb], hangs: true, servicingBusy: true };
    },
  },
  {
    name: 'pre-script-fails',
    summary: 'the PreUpdateScript exits non-zero on a node',
    apply: onNode((n, v) => {
      n.preUpdateScript = { exitCode: pick([1, 2, 5], v) };
    }),
  },
  {
    name: 'post-script-fails',
    summary: 'the PostUpdateScript exits non-zero on a node',
    apply: onNode((n, v) => {
      n.postUpdateScript = { exitCode: pick([1, 2, 5], v) };
    }),
  },
  {
    name: 'hash-mismatch',
    summary: 'a hotfix file changed after upload (SHA-256 mismatch on the node)',
    apply: (draft, f) => {
      const file = draft.hotfixRoot.files.find((x) => x.path.toUpperCase().includes(f.kb));
      if (file) file.deliveredSha256 = '0'.repeat(63) + String(f.value % 10);
    },
  },
  {
    name: 'throttle',
    summary: 'Lambda throttles the first 1 to 4 invocations of one function',
    apply: (draft, f) => {
      draft.throttle[pick(FUNCTION_NAMES, f.value)] = 1 + (f.value % 4);
    },
  },
  {
    name: 'cancel',
    summary: 'an operator cancels the run 0 to 89 simulated minutes after it starts',
    apply: (draft, f) => {
      draft.actions.push({ action: 'cancel', atMinutes: f.value % 90, reason: 'chaos: cancel' });
    },
  },
  {
    name: 'reject',
    summary: 'the operator rejects at the approval gate (runs with a gate only)',
    apply: gateDecision('reject', (v) => v % 30),
  },
  {
    name: 'force-recovery',
    summary:
      'an operator asks ForceRecovery of the target 0 to 89 simulated minutes after the start (a live run: it must be refused)',
    apply: (draft, f) => {
      draft.actions.push({
        action: 'forceRecovery',
        atMinutes: f.value % 90,
        reason: 'chaos: force recovery',
      });
    },
  },
  // Issue 13, item 3: the run's rebootOption, drawn like a fault; neverMeansNeverRestarted and
  // restartOnlyWhenDrained check what each does to the nodes.
  {
    name: 'reboot-never',
    summary:
      'the rollout says rebootOption Never: nothing is restarted by the run, nodes needing a restart end InstalledPendingReboot',
    apply: (draft) => {
      draft.rollout.rebootOption = 'Never';
    },
  },
  {
    name: 'uneven-roles',
    summary:
      'a cluster node hosts 0 to 4 clustered roles (default 1): the computed order (no nodeOrder) updates the fewest first',
    apply: onNode((node, value) => {
      node.roles = value % 5 === 1 ? 0 : value % 5;
    }),
  },
  {
    name: 'reboot-always',
    summary:
      'the rollout says rebootOption Always: every node that installs is restarted (a cluster node drained first)',
    apply: (draft) => {
      draft.rollout.rebootOption = 'Always';
    },
  },
  {
    name: 'update-selection',
    summary:
      'the rollout names an update in updateSelection: excludeKbs (never installed) or includeKbs (only it installed)',
    apply: (draft, f) => {
      const list = f.value % 2 === 0 ? 'excludeKbs' : 'includeKbs';
      const selection = draft.rollout.updateSelection ?? {};
      selection[list] = [...new Set([...(selection[list] ?? []), f.kb])];
      draft.rollout.updateSelection = selection;
    },
  },
  {
    name: 'long-gate',
    summary: 'the operator approves 2 to 9 hours after the gate is reached (against the lease)',
    apply: gateDecision('approve', (v) => 120 + (v % 420)),
  },
  // Issue 13, item 1 (last, so earlier kinds keep their draws): noNodeStartsInAlarm checks it.
  { name: 'health-gate', summary: HEALTH_GATE_SUMMARY, apply: applyHealthGate },
  // Issue 13, item 8 (last, so earlier kinds keep their draws): assessmentReadOnly checks it.
  {
    name: 'compliance-assessment',
    summary:
      'a read-only compliance assessment of the target runs after the rollout: it drains, installs, restarts and removes nothing',
    apply: (draft) => {
      draft.assess = true;
    },
  },
  // Issue 13, item 6, the checks after a restart (last, so earlier kinds keep their draws):
  // clusterHealthAfterRestart checks both.
  {
    name: 'failback-late',
    summary:
      'a cluster node gets its drained roles back 2 to 30 minutes after its resume (failbackMode Immediate waits 10 by default: past it the node fails)',
    apply: onNode((node, value) => {
      node.failbackMinutes = pick([2, 5, 15, 30], value);
    }),
  },
  {
    name: 'down-after-restart',
    summary:
      'a cluster node boots after its restart but stays Down in the cluster (its cluster service): it fails and the run stops',
    apply: onNode((node) => {
      node.staysDownAfterRestart = true;
    }),
  },
  // Issue 13, item 5 (last, as above): stagingSafe checks it.
  {
    name: 'corrupt-cache',
    summary:
      "the nodes are staged before the run, then one node's first staged copy changes on disk: its install must not use it",
    apply: (draft, f) => {
      const corrupt = draft.staging?.corrupt ?? [];
      draft.staging = { corrupt: [...new Set([...corrupt, f.nodeName])] };
    },
  },
  // Issue 13, item 6, the rescan (last, as above): missingUpdatesReported checks it.
  {
    name: 'installed-not-present',
    summary:
      'an installer says installed (exit 0 or 3010) but the update is not on the node afterwards: the rescan after the final restart must report it installedButNotPresent',
    apply: (draft, f) => {
      const node = draft.nodes.find((n) => n.name === f.nodeName);
      if (!node) return;
      node.updates[f.kb] = {
        ...node.updates[f.kb],
        exitCodes: [pick([0, 3010], f.value)],
        notApplied: true,
      };
    },
  },
];

/** The fault kinds a `--faults` value selects: `a,b` only those; `-a,-b` all but those. */
export function selectFaultKinds(spec: string | undefined): FaultKind[] {
  if (spec === undefined || spec.trim() === '' || spec.trim() === 'all') return [...FAULT_KINDS];
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p !== 'all');
  const names = new Set(FAULT_KINDS.map((k) => k.name));
  const unknown = parts.map((p) => p.replace(/^-/, '')).filter((p) => !names.has(p));
  if (unknown.length > 0) {
    throw new ChaosError(
      `--faults ${JSON.stringify(spec)}: unknown fault kind(s) ${unknown.join(', ')}; expected a comma-separated list of ${[...names].join(', ')} (or the same with a leading - to exclude)`,
    );
  }
  const excluded = parts.filter((p) => p.startsWith('-')).map((p) => p.slice(1));
  const included = parts.filter((p) => !p.startsWith('-'));
  if (excluded.length > 0 && included.length > 0) {
    throw new ChaosError(
      `--faults ${JSON.stringify(spec)}: give kinds to include, or kinds to exclude with a leading -, not both`,
    );
  }
  return FAULT_KINDS.filter((k) =>
    included.length > 0 ? included.includes(k.name) : !excluded.includes(k.name),
  );
}

/** Bad campaign options. */
export class ChaosError extends Error {
  override readonly name = 'ChaosError';
}

// ---------------------------------------------------------------------------------------------
// Generating and building

/** Draws run `index` of the campaign `seed`: a small cluster or group and 0 to 3 faults. */
export function generateSpec(seed: number, index: number, kinds: readonly FaultKind[]): ChaosSpec {
  const random = prng(runSeed(seed, index));
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const target = random() < 0.5 ? 'cluster' : 'group';
  const nodes = target === 'cluster' ? int(2, 4) : int(2, 6);
  const faultCount = kinds.length === 0 ? 0 : pick([0, 1, 1, 2, 2, 3], int(0, 5));
  const faults: Fault[] = [];
  for (let i = 0; i < faultCount; i++) {
    faults.push({
      kind: (kinds[int(0, kinds.length - 1)] as FaultKind).name,
      node: int(0, 99),
      update: int(0, 99),
      value: int(0, 9999),
    });
  }
  return {
    seed,
    index,
    target,
    nodes,
    updates: int(1, 3),
    maxFailedNodes: int(0, 2),
    maxRetriesPerNode: int(1, 3),
    maxConcurrency: int(1, 3),
    gateAfterNodes: random() < 0.35 ? 1 : null,
    faults,
    // Drawn last, so the draws above (and the shipped reproductions) stay what they were.
    phases:
      random() < 0.3
        ? {
            first: pick(['count', 'percent', 'named'] as const, int(0, 2)),
            failuresAllowed: int(0, 1),
            approval: random() < 0.3,
            bakeMinutes: int(5, 90),
            second: random() < 0.5,
          }
        : null,
    // Drawn after the phases, for the same reason.
    storageRepair:
      random() < 0.3
        ? { waitMinutes: int(5, 60), node: int(0, 99), jobMinutes: int(1, 120) }
        : null,
    // Drawn after the storage repair, for the same reason; used only with health gates.
    bakeCheckEveryMinutes: random() < 0.5 ? int(1, 60) : null,
  };
}

/** The rollout input's phases of a spec, fitted to its nodes; none with an approval gate. */
export function phasesOf(
  spec: ChaosSpec,
  nodeNames: readonly string[],
): Record<string, unknown>[] | undefined {
  const p = spec.phases;
  if (!p || (spec.gateAfterNodes !== null && spec.gateAfterNodes < spec.nodes)) return undefined;
  const gate = p.approval ? { approval: { timeoutMinutes: 720 } } : { bakeMinutes: p.bakeMinutes };
  const first =
    p.first === 'count'
      ? { nodeCount: 1 }
      : p.first === 'percent'
        ? { percent: 50 }
        : { nodes: [nodeNames[nodeNames.length - 1]] };
  const taken = p.first === 'percent' ? Math.ceil(nodeNames.length / 2) : 1;
  const phases: Record<string, unknown>[] = [
    { name: 'chaos phase 1', ...first, failuresAllowed: p.failuresAllowed, ...gate },
  ];
  if (p.second && nodeNames.length - taken >= 2) {
    phases.push({ name: 'chaos phase 2', nodeCount: 1, bakeMinutes: p.bakeMinutes });
  }
  return phases;
}

const KB_BASE = 5034439;

/** The scenario JSON of a spec. */
export function buildScenario(spec: ChaosSpec, name = `chaos-s${spec.seed}-r${spec.index}`): Draft {
  const cluster = spec.target === 'cluster';
  const kbs = Array.from({ length: spec.updates }, (_, i) => `KB${KB_BASE + i}`);
  const draft: Draft = {
    name,
    description: '',
    hotfixRoot: {
      files: kbs.map((kb) => ({ path: `CAUHotfix_All/windows10.0-${kb.toLowerCase()}-x64.msu` })),
    },
    nodes: Array.from({ length: spec.nodes }, (_, i) => ({
      name: `${cluster ? 'NODE' : 'SRV'}${i + 1}`,
      ...(cluster ? { cluster: 'CLUSTER1' } : {}),
      updates: {},
    })),
    rollout: {
      target: { kind: spec.target, name: cluster ? 'CLUSTER1' : 'GROUP1' },
      plugins: [
        {
          name: 'Microsoft.HotfixPlugin',
          arguments: `HotfixRootFolderPath="s3://rollout-sandbox-hotfixes/${name}";HotfixInstallerTimeoutMinutes=30`,
        },
      ],
      policy: {
        // The rollout input accepts at most one less than the nodes of the run.
        maxFailedNodes: Math.min(spec.maxFailedNodes, spec.nodes - 1),
        maxRetriesPerNode: spec.maxRetriesPerNode,
        preUpdateScript: 'C:\\Scripts\\PreUpdate.ps1',
        postUpdateScript: 'C:\\Scripts\\PostUpdate.ps1',
        ...(cluster ? {} : { maxConcurrency: spec.maxConcurrency }),
      },
    },
    throttle: {},
    actions: [],
  };
  if (spec.gateAfterNodes !== null && spec.gateAfterNodes < spec.nodes) {
    draft.rollout.approvalGate = { afterNodes: spec.gateAfterNodes, timeoutMinutes: 720 };
    draft.actions.push({
      action: 'approve',
      onState: GATE_STATE[spec.target],
      delayMinutes: 1,
      reason: 'chaos: approve',
    });
  }
  const phases = phasesOf(
    spec,
    draft.nodes.map((n) => n.name),
  );
  if (phases) {
    draft.rollout.phases = phases;
    if (spec.phases?.approval) {
      draft.actions.push({
        action: 'approve',
        onState: cluster ? 'AwaitClusterPhaseApproval' : 'AwaitFleetPhaseApproval',
        delayMinutes: 1,
        reason: 'chaos: approve the phase',
      });
    }
  }
  if (spec.storageRepair && cluster) {
    draft.rollout.policy.waitForStorageRepairTimeoutMinutes = spec.storageRepair.waitMinutes;
    const node = draft.nodes[spec.storageRepair.node % spec.nodes] as DraftNode;
    node.storageJobs = [{ name: 'CLUSTER1-Pool Repair', minutes: spec.storageRepair.jobMinutes }];
  }
  const byName = new Map(FAULT_KINDS.map((k) => [k.name, k]));
  for (const fault of spec.faults) {
    const kind = byName.get(fault.kind);
    if (!kind) throw new ChaosError(`spec of run ${spec.index}: unknown fault kind ${fault.kind}`);
    kind.apply(draft, {
      ...fault,
      nodeName: (draft.nodes[fault.node % spec.nodes] as DraftNode).name,
      kb: kbs[fault.update % spec.updates] as string,
    });
  }
  // After the faults: the health-gate kind is what gives a run its gates.
  if (draft.rollout.healthGates && spec.bakeCheckEveryMinutes) {
    draft.rollout.healthGates.checkEveryMinutes = spec.bakeCheckEveryMinutes;
  }
  draft.description = describeSpec(spec);
  return draft;
}

function describeSpec(spec: ChaosSpec): string {
  const faults =
    spec.faults.length === 0
      ? 'no faults'
      : spec.faults
          .map(
            (f) =>
              `${f.kind} (node ${(f.node % spec.nodes) + 1}, update ${(f.update % spec.updates) + 1}, value ${f.value})`,
          )
          .join(', ');
  return `chaos seed ${spec.seed} run ${spec.index}: a ${spec.target} of ${spec.nodes} node(s), ${spec.updates} update(s), maxFailedNodes ${Math.min(spec.maxFailedNodes, spec.nodes - 1)}, maxRetriesPerNode ${spec.maxRetriesPerNode}${spec.target === 'group' ? `, maxConcurrency ${spec.maxConcurrency}` : ''}${spec.gateAfterNodes !== null && spec.gateAfterNodes < spec.nodes ? `, approval gate after ${spec.gateAfterNodes}` : ''}${describePhases(spec)}${describeStorageRepair(spec)}${describeBakeChecks(spec)}; ${faults}`;
}

function describeBakeChecks(spec: ChaosSpec): string {
  if (!spec.bakeCheckEveryMinutes || !spec.faults.some((f) => f.kind === 'health-gate')) return '';
  return `, health gates read every ${spec.bakeCheckEveryMinutes} minute(s) during a bake`;
}

function describeStorageRepair(spec: ChaosSpec): string {
  const r = spec.storageRepair;
  if (!r || spec.target !== 'cluster') return '';
  return `, a ${r.waitMinutes}-minute storage repair wait (NODE${(r.node % spec.nodes) + 1}'s repair runs ${r.jobMinutes} minutes after a restart)`;
}

function describePhases(spec: ChaosSpec): string {
  const p = spec.phases;
  if (!p || (spec.gateAfterNodes !== null && spec.gateAfterNodes < spec.nodes)) return '';
  return `, phases (${p.first} first, ${p.failuresAllowed} failure(s) allowed, ${p.approval ? 'approval' : `${p.bakeMinutes}-minute bake`}${p.second ? ', a second of one node' : ''})`;
}

// ---------------------------------------------------------------------------------------------
// Running

/** The verdict on one run. */
export interface ChaosRunResult {
  readonly spec: ChaosSpec;
  readonly runStatus: string;
  /** Violated invariants: name and detail. */
  readonly violations: readonly { readonly name: InvariantName; readonly detail: string }[];
  /** What the run itself must do and did not (e.g. a run with no faults must succeed). */
  readonly expectationFailures: readonly string[];
  readonly wallMs: number;
}

/** Runs one spec through the sandbox and judges it. */
export async function runSpec(
  spec: ChaosSpec,
  fleet: Pick<RunScenarioOptions, 'fleet' | 'pwshPool'> = {},
): Promise<ChaosRunResult> {
  const started = performance.now();
  const draft = buildScenario(spec);
  const expectationFailures: string[] = [];
  let runStatus = 'NotRecorded';
  let violations: ChaosRunResult['violations'] = [];
  try {
    // A scenario the generator got wrong is a failure of the campaign, reported like any other.
    const scenario = parseScenario(draft as unknown as ScenarioInput, draft.name);
    const result = await runScenario(scenario, fleet);
    const run = result.runs[0];
    runStatus = run?.report?.status ?? `execution ${run?.execution.status ?? 'missing'}`;
    violations = (run?.invariants ?? [])
      .filter((i) => !i.ok)
      .map((i) => ({ name: i.name, detail: i.detail }));
    if (spec.faults.length === 0) {
      if (runStatus !== 'Succeeded') {
        expectationFailures.push(`a run with no faults ended ${runStatus}, not Succeeded`);
      }
      for (const node of run?.report?.nodes ?? []) {
        if (node.status !== 'Succeeded') {
          expectationFailures.push(`a run with no faults left ${node.name} ${node.status}`);
        }
      }
    }
    for (const action of run?.actions ?? []) {
      // An accepted cancel or rejection ends the run Cancelled (the run record's rule).
      if (
        (action.action === 'cancel' || action.action === 'reject') &&
        action.statusCode === 202 &&
        runStatus !== 'Cancelled'
      ) {
        expectationFailures.push(
          `the ${action.action} accepted at ${action.at} did not end the run Cancelled (it ended ${runStatus})`,
        );
      }
      // ForceRecovery never breaks the lock of a live run: while the execution runs it is refused.
      if (
        action.action === 'forceRecovery' &&
        action.statusCode >= 200 &&
        action.statusCode < 300 &&
        run !== undefined &&
        Date.parse(action.at) < run.execution.stoppedAt.getTime()
      ) {
        expectationFailures.push(
          `the force recovery at ${action.at} was accepted (${action.statusCode}) while the run was still running`,
        );
      }
      if (action.statusCode >= 500 || action.statusCode === 0) {
        expectationFailures.push(
          `the ${action.action} request at ${action.at} failed with ${action.statusCode}: ${JSON.stringify(action.body).slice(0, 200)}`,
        );
      }
    }
  } catch (error) {
    expectationFailures.push(`the run did not end: ${(error as Error).message}`);
  }
  return {
    spec,
    runStatus,
    violations,
    expectationFailures,
    wallMs: performance.now() - started,
  };
}

const failed = (r: ChaosRunResult) => r.violations.length > 0 || r.expectationFailures.length > 0;

/** What a shrunk run must still show: the same invariants violated, or the same run failure. */
function sameFailure(original: ChaosRunResult, candidate: ChaosRunResult): boolean {
  if (original.violations.length > 0) {
    const names = new Set(candidate.violations.map((v) => v.name));
    return original.violations.every((v) => names.has(v.name));
  }
  return candidate.expectationFailures.length > 0;
}

/** Smaller versions of a spec, one change each: a fault fewer, a node fewer, an update fewer. */
function reductions(spec: ChaosSpec): ChaosSpec[] {
  const out: ChaosSpec[] = [];
  spec.faults.forEach((_, i) => {
    out.push({ ...spec, faults: spec.faults.filter((__, j) => j !== i) });
  });
  const min = spec.gateAfterNodes === null ? 1 : 2;
  if (spec.nodes > min) {
    // Keep each fault on the node it was on, where that node still exists.
    out.push({
      ...spec,
      nodes: spec.nodes - 1,
      faults: spec.faults.map((f) => ({ ...f, node: f.node % spec.nodes })),
    });
  }
  if (spec.updates > 1) {
    out.push({
      ...spec,
      updates: spec.updates - 1,
      faults: spec.faults.map((f) => ({ ...f, update: f.update % spec.updates })),
    });
  }
  if (
    spec.gateAfterNodes !== null &&
    !spec.faults.some((f) => ['reject', 'long-gate'].includes(f.kind))
  ) {
    out.push({ ...spec, gateAfterNodes: null });
  }
  if (spec.maxRetriesPerNode > 1) out.push({ ...spec, maxRetriesPerNode: 1 });
  if (spec.phases) out.push({ ...spec, phases: null });
  if (spec.storageRepair) out.push({ ...spec, storageRepair: null });
  return out;
}

/**
 * Shrinks a failing run: tries each reduction in turn and keeps the first that still fails the
 * same way, until none does or `budget` runs are spent.
 */
export async function shrink(
  failing: ChaosRunResult,
  {
    budget = 40,
    run = runSpec,
  }: { budget?: number; run?: (spec: ChaosSpec) => Promise<ChaosRunResult> } = {},
): Promise<{ result: ChaosRunResult; tries: number }> {
  let current = failing;
  let tries = 0;
  for (;;) {
    let smaller: ChaosRunResult | undefined;
    for (const candidate of reductions(current.spec)) {
      if (tries >= budget) return { result: current, tries };
      tries++;
      const result = await run(candidate);
      if (failed(result) && sameFailure(failing, result)) {
        smaller = result;
        break;
      }
    }
    if (!smaller) return { result: current, tries };
    current = smaller;
  }
}

/** A shrunk failure as a scenario file that reproduces it. */
export function reproduction(
  result: ChaosRunResult,
  name = `chaos-s${result.spec.seed}-r${result.spec.index}`,
): Draft {
  const { spec } = result;
  const draft = buildScenario(spec, name);
  const why = [
    ...result.violations.map((v) => `invariant ${v.name} violated: ${v.detail}`),
    ...result.expectationFailures,
  ].join('; ');
  draft.description = `${draft.description}. Shrunk reproduction: ${why}`;
  draft.expect = { runStatus: result.runStatus };
  if (!['Succeeded', 'Failed', 'Stopped', 'Cancelled'].includes(result.runStatus))
    delete draft.expect;
  return draft;
}

export interface CampaignOptions {
  readonly runs: number;
  readonly seed: number;
  readonly kinds: readonly FaultKind[];
  /** Shrink failing runs. @default true */
  readonly shrink?: boolean;
  /**
   * Runs in flight at once, each in its own sandbox (own clock, own DynamoDB): they overlap
   * their waits on local I/O. Results do not depend on it. @default 4
   */
  readonly parallel?: number;
  /** Called after each run, for progress. */
  readonly onRun?: (result: ChaosRunResult) => void;
  /** Which fleet runs the nodes' commands (sandbox/pwsh-fleet.ts). @default 'model' */
  readonly fleet?: RunScenarioOptions['fleet'];
}

export interface CampaignResult {
  readonly runs: number;
  readonly seed: number;
  readonly faultKinds: readonly string[];
  /** Invariant violations over all runs (a run may have several). */
  readonly invariantViolations: number;
  /** Violations per invariant. */
  readonly byInvariant: Readonly<Record<string, number>>;
  /** Runs that missed their own expectation. */
  readonly expectationFailures: number;
  readonly failures: readonly {
    readonly run: ChaosRunResult;
    readonly shrunk?: ChaosRunResult;
    readonly shrinkRuns?: number;
  }[];
  /** Wall time of the whole campaign, shrinking included. */
  readonly wallMs: number;
  /** Generated runs per second of wall time, shrinking excluded. */
  readonly runsPerSecond: number;
}

/** Runs a campaign: `runs` generated runs from `seed`, failing ones shrunk. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = performance.now();
  const failures: CampaignResult['failures'][number][] = [];
  const byInvariant: Record<string, number> = {};
  let invariantViolations = 0;
  let expectationFailures = 0;
  const results: ChaosRunResult[] = new Array(options.runs);
  let next = 0;
  // One pool of pwsh workers for the whole campaign: starting pwsh is the expensive part.
  const pool = options.fleet === 'pwsh' ? new PwshWorkerPool() : undefined;
  await pool?.render();
  const worker = async () => {
    while (next < options.runs) {
      const index = next++;
      const result = await runSpec(
        generateSpec(options.seed, index, options.kinds),
        pool ? { fleet: 'pwsh', pwshPool: pool } : {},
      );
      results[index] = result;
      options.onRun?.(result);
    }
  };
  const parallel = Math.max(1, Math.min(options.parallel ?? 4, options.runs));
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    pool?.close();
  }
  const runsMs = performance.now() - started;
  for (const result of results) {
    if (!failed(result)) continue;
    invariantViolations += result.violations.length;
    for (const v of result.violations) byInvariant[v.name] = (byInvariant[v.name] ?? 0) + 1;
    if (result.expectationFailures.length > 0) expectationFailures++;
    if (options.shrink === false) failures.push({ run: result });
    else {
      const shrunk = await shrink(result);
      failures.push({ run: result, shrunk: shrunk.result, shrinkRuns: shrunk.tries });
    }
  }
  const wallMs = performance.now() - started;
  return {
    runs: options.runs,
    seed: options.seed,
    faultKinds: options.kinds.map((k) => k.name),
    invariantViolations,
    byInvariant,
    expectationFailures,
    failures,
    wallMs,
    runsPerSecond: options.runs / (runsMs / 1000),
  };
}
