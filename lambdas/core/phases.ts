/**
 * Phases that advance themselves (issue 13, item 4; ConfigMgr phased deployments, Argo Rollouts
 * steps): the target's nodes in a list of phases, each a count, a percentage of the target or a
 * named set of nodes, with success criteria (failures allowed in the phase, alarms quiet) and
 * either a bake time after which the run advances by itself or an approval. Nodes no phase takes
 * form a last phase of their own, with no gate. The run's failure budget (MaxFailedNodes) spans
 * every phase: the workflow keeps counting it across them, as it does across the pilot gate.
 *
 * Here: the input schema, the resolution against the target's node order (refusing a phase
 * bigger than the target, overlapping named sets, unknown names, percentages over 100) and the
 * verdict at a phase's end. Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import type { ValidationProblem } from './errors.js';
import { NETBIOS_MAX_LENGTH, nodeKey, nodeNameProblem } from './node-names.js';

/** At most this many phases in a run (each adds a gate to the run's history). */
export const MAX_PHASES = 20;
/** The longest bake: a week, as the approval gate's timeout. */
export const MAX_BAKE_MINUTES = 10080;
/** A bake reads the alarms and a cancel this often unless the health gates say otherwise. */
export const DEFAULT_BAKE_CHECK_MINUTES = 5;
/** Minutes a phase's approval waits by default; no decision counts as rejected. */
export const DEFAULT_PHASE_APPROVAL_MINUTES = 1440;

const WHOLE_MINUTES = `expected whole minutes from 1 to ${MAX_BAKE_MINUTES} (a week)`;
const minutes = z
  .number({ error: WHOLE_MINUTES })
  .int({ error: WHOLE_MINUTES })
  .min(1, { error: WHOLE_MINUTES })
  .max(MAX_BAKE_MINUTES, { error: WHOLE_MINUTES });

const PHASE_NODE_ACCEPTED = 'expected a node of the target: a NetBIOS computer name';

/** One phase as a caller writes it. Exactly one of nodeCount, percent, nodes. */
export const phaseInputSchema = z
  .strictObject(
    {
      name: z
        .string({ error: 'expected a phase name: text of 1 to 64 characters' })
        .min(1, { error: 'expected a phase name: text of 1 to 64 characters' })
        .max(64, { error: 'expected a phase name: text of 1 to 64 characters' })
        .optional()
        .describe('A name for the report and the events. Default: "phase <n>", from 1'),
      nodeCount: z
        .number({ error: 'expected a whole number of nodes, 1 or more' })
        .int({ error: 'expected a whole number of nodes, 1 or more' })
        .min(1, { error: 'expected a whole number of nodes, 1 or more' })
        .optional()
        .describe('This many nodes: the next ones in update order that no named phase takes'),
      percent: z
        .number({ error: 'expected a percentage of the target, more than 0 and at most 100' })
        .gt(0, { error: 'expected a percentage of the target, more than 0 and at most 100' })
        .max(100, { error: 'expected a percentage of the target, more than 0 and at most 100' })
        .optional()
        .describe('This share of the target, rounded up to whole nodes; the next in update order'),
      nodes: z
        .array(
          z
            .string({ error: PHASE_NODE_ACCEPTED })
            .min(1, { error: PHASE_NODE_ACCEPTED })
            .max(NETBIOS_MAX_LENGTH, { error: PHASE_NODE_ACCEPTED }),
          { error: 'expected a list of node names' },
        )
        .min(1, { error: 'expected at least one node name' })
        .optional()
        .describe('These nodes of the target, by name (case-insensitive), in update order'),
      failuresAllowed: z
        .number({ error: 'expected a whole number of failed nodes, 0 or more' })
        .int({ error: 'expected a whole number of failed nodes, 0 or more' })
        .min(0, { error: 'expected a whole number of failed nodes, 0 or more' })
        .default(0)
        .describe(
          "Success criterion: at most this many of the phase's nodes may fail (default 0); more stops the run at the phase's end. MaxFailedNodes still counts across all phases",
        ),
      alarmsQuiet: z
        .boolean({ error: 'expected true or false' })
        .default(true)
        .describe(
          "Success criterion: the run's alarms (when it names any) must not be in ALARM after the bake or approval",
        ),
      bakeMinutes: minutes
        .optional()
        .describe('Wait this long after the phase, then advance by itself if the criteria hold'),
      approval: z
        .strictObject(
          { timeoutMinutes: minutes.default(DEFAULT_PHASE_APPROVAL_MINUTES) },
          { error: 'expected an approval: { timeoutMinutes? }' },
        )
        .optional()
        .describe(
          'Wait for an approve or reject after the phase; no decision within timeoutMinutes (default 1440) counts as rejected',
        ),
    },
    { error: 'expected a phase: { nodeCount | percent | nodes, bakeMinutes | approval, ... }' },
  )
  .superRefine((phase, ctx) => {
    const sizes = (['nodeCount', 'percent', 'nodes'] as const).filter(
      (k) => phase[k] !== undefined,
    );
    if (sizes.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of nodeCount, percent and nodes; got ${sizes.length === 0 ? 'none' : sizes.join(' and ')}`,
      });
    }
    const gates = (['bakeMinutes', 'approval'] as const).filter((k) => phase[k] !== undefined);
    if (gates.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of bakeMinutes (advance by itself) and approval; got ${gates.length === 0 ? 'none' : gates.join(' and ')}`,
      });
    }
  })
  .describe('One phase of the run');

/** The phases of a run, as a caller writes them. */
export const phasesInputSchema = z
  .array(phaseInputSchema, { error: 'expected a list of phases' })
  .min(1, { error: 'expected at least one phase' })
  .max(MAX_PHASES, { error: `expected at most ${MAX_PHASES} phases` })
  .describe(
    'Phases that advance themselves: the nodes in phases, each gated by a bake time or an approval, with its success criteria. Nodes no phase takes run last, ungated. Not with approvalGate',
  );

export type PhaseInput = z.output<typeof phaseInputSchema>;

/** How a phase hands over to the next: a bake, an approval, or nothing (the last, ungated). */
export type PhaseAdvance = 'bake' | 'approval' | 'none';

/**
 * A resolved phase, as the workflows read it. Its nodes are positions `start` to `end - 1` of
 * the run's node order (which the phases set), so the state carries no second list of names.
 */
export interface ResolvedPhase {
  /** Position from 0. */
  readonly index: number;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly failuresAllowed: number;
  readonly alarmsQuiet: boolean;
  readonly advance: PhaseAdvance;
  /** The bake in seconds (0 unless advance is bake): the workflow's bake loop counts it down. */
  readonly bakeSeconds: number;
  /**
   * How often the bake reads the alarms and a cancel, in seconds (0 unless advance is bake):
   * the health gates' checkEveryMinutes, at most the bake itself.
   */
  readonly bakeCheckSeconds: number;
  /** The approval's wait (0 unless advance is approval). */
  readonly timeoutMinutes: number;
  readonly timeoutSeconds: number;
}

/** The phases in the state: the list, the one being run and how many. */
export interface PhasePlan {
  readonly list: readonly ResolvedPhase[];
  readonly current: number;
  readonly count: number;
}

/** Nodes a percentage of the target takes: rounded up, so a phase is never empty. */
export function nodesOfPercent(percent: number, targetSize: number): number {
  // Rounding guard: 10% of 30 is 3, not 3.0000000000000004 rounded up to 4.
  return Math.max(1, Math.ceil(Number(((percent / 100) * targetSize).toFixed(9))));
}

/**
 * Resolves the phases against the run's node order: named sets take their nodes, counts and
 * percentages take the next nodes in order that no named set takes, the rest run last. Returns
 * the new node order (phase by phase) and the plan, or every problem found, each naming the
 * field (`phases[i]...`) and the value.
 */
export function resolvePhases(
  phases: readonly PhaseInput[],
  nodeOrder: readonly string[],
  maxFailedNodes: number,
  checkEveryMinutes: number = DEFAULT_BAKE_CHECK_MINUTES,
): { order: string[]; plan: PhasePlan } | { problems: ValidationProblem[] } {
  const problems: ValidationProblem[] = [];
  const size = nodeOrder.length;
  const byKey = new Map(nodeOrder.map((name) => [nodeKey(name), name]));
  const claimedBy = new Map<string, number>();
  phases.forEach((phase, i) => {
    (phase.nodes ?? []).forEach((name, j) => {
      const field = `phases[${i}].nodes[${j}]`;
      const problem = nodeNameProblem(name);
      const key = nodeKey(name);
      if (problem) {
        problems.push({ field, value: name, message: problem });
      } else if (!byKey.has(key)) {
        problems.push({
          field,
          value: name,
          message: `is not a node of the target; expected one of ${nodeOrder.join(', ')}`,
        });
      } else if (claimedBy.has(key)) {
        const other = claimedBy.get(key) as number;
        problems.push({
          field,
          value: name,
          message:
            other === i
              ? 'is listed twice in this phase; list each node once'
              : `is already in phases[${other}]: named sets must not overlap`,
        });
      } else {
        claimedBy.set(key, i);
      }
    });
  });
  let percentSum = 0;
  let taken = 0;
  const sizes = phases.map((phase, i) => {
    if (phase.nodes !== undefined) return phase.nodes.length;
    if (phase.percent !== undefined) {
      percentSum += phase.percent;
      if (percentSum > 100 + 1e-9) {
        problems.push({
          field: `phases[${i}].percent`,
          value: phase.percent,
          message: `brings the phases' percentages to ${Number(percentSum.toFixed(6))}%; expected at most 100% of the target in all`,
        });
      }
      return nodesOfPercent(phase.percent, size);
    }
    const count = phase.nodeCount ?? 0;
    if (count > size) {
      problems.push({
        field: `phases[${i}].nodeCount`,
        value: count,
        message: `is bigger than the target: it has ${size} node${size === 1 ? '' : 's'}`,
      });
    }
    return count;
  });
  sizes.forEach((n, i) => {
    const before = taken;
    taken += n;
    if (taken > size && before <= size && problems.length === 0) {
      const phase = phases[i] as PhaseInput;
      const field =
        phase.nodeCount !== undefined
          ? `phases[${i}].nodeCount`
          : phase.percent !== undefined
            ? `phases[${i}].percent`
            : `phases[${i}].nodes`;
      problems.push({
        field,
        value: phase.nodeCount ?? phase.percent ?? phase.nodes,
        message: `takes ${n} node(s) when the phases before it took ${before} of the target's ${size}: the phases are bigger than the target`,
      });
    }
  });
  if (problems.length > 0) return { problems };

  const free = nodeOrder.filter((name) => !claimedBy.has(nodeKey(name)));
  const order: string[] = [];
  const list: ResolvedPhase[] = phases.map((phase, i) => {
    const start = order.length;
    if (phase.nodes !== undefined) {
      // Named nodes keep the run's order among themselves.
      order.push(...nodeOrder.filter((name) => claimedBy.get(nodeKey(name)) === i));
    } else {
      order.push(...free.splice(0, sizes[i] as number));
    }
    const advance: PhaseAdvance = phase.bakeMinutes !== undefined ? 'bake' : 'approval';
    const timeoutMinutes = phase.approval?.timeoutMinutes ?? 0;
    return {
      index: i,
      name: phase.name ?? `phase ${i + 1}`,
      start,
      end: order.length,
      failuresAllowed: phase.failuresAllowed,
      alarmsQuiet: phase.alarmsQuiet,
      advance,
      bakeSeconds: (phase.bakeMinutes ?? 0) * 60,
      bakeCheckSeconds: Math.min(phase.bakeMinutes ?? 0, checkEveryMinutes) * 60,
      timeoutMinutes,
      timeoutSeconds: timeoutMinutes * 60,
    };
  });
  if (free.length > 0) {
    const start = order.length;
    order.push(...free);
    list.push({
      index: list.length,
      name: 'the rest',
      start,
      end: order.length,
      // Only the run's budget bounds the last phase: nothing comes after it to protect.
      failuresAllowed: maxFailedNodes,
      alarmsQuiet: false,
      advance: 'none',
      bakeSeconds: 0,
      bakeCheckSeconds: 0,
      timeoutMinutes: 0,
      timeoutSeconds: 0,
    });
  }
  return { order, plan: { list, current: 0, count: list.length } };
}

/** What the run-history function answers at a phase's end. */
export interface PhaseVerdict {
  readonly index: number;
  readonly name: string;
  /** The phase's nodes, in update order. */
  readonly nodes: readonly string[];
  readonly failed: readonly string[];
  readonly failuresAllowed: number;
  /** Failures within failuresAllowed. */
  readonly passed: boolean;
  readonly reason: string;
}

/**
 * The most nodes a run with phases may have (issue 11): a selected group's record names its
 * first nodes only, so a phase's verdict reads the run's resolved list from S3 (run-history.ts),
 * but Rollout Phase Completed lists the phase's nodes and its failed nodes in one EventBridge
 * event (256 KB) and the verdict item keeps them (one DynamoDB item, 400 KB). A phase may hold
 * every node and every one may fail: 2 x 5,000 names of 15 characters are 180 KB.
 */
export const MAX_PHASED_NODES = 5000;

/**
 * The verdict on a finished phase: how many of its nodes (positions start..end-1 of the run's
 * nodes) are recorded Failed against failuresAllowed.
 */
export function phaseVerdict(
  phase: Pick<ResolvedPhase, 'index' | 'name' | 'start' | 'end' | 'failuresAllowed'>,
  runNodes: readonly string[],
  statusOf: (node: string) => string | undefined,
): PhaseVerdict {
  const nodes = runNodes.slice(phase.start, phase.end);
  const failed = nodes.filter((n) => statusOf(n) === 'Failed');
  const passed = failed.length <= phase.failuresAllowed;
  const label = `${phase.name} (phases[${phase.index}], ${nodes.length} node${nodes.length === 1 ? '' : 's'})`;
  const reason = passed
    ? `${label}: ${failed.length} failed, ${phase.failuresAllowed} allowed: the criteria hold`
    : `${label}: ${failed.length} failed (${failed.join(', ')}), more than the ${phase.failuresAllowed} its criteria allow: the run stops before the next phase`;
  return {
    index: phase.index,
    name: phase.name,
    nodes,
    failed,
    failuresAllowed: phase.failuresAllowed,
    passed,
    reason,
  };
}

/** Where a bake stands, kept in the state at `$.bake` between its checks. */
export interface BakeState {
  /** Seconds of the bake still to wait. */
  readonly leftSeconds: number;
  /** Checks made so far (the first is at the bake's start). */
  readonly checks: number;
}

/** One check of a bake: wait `waitSeconds` and check again, or end the bake. */
export interface BakeTick extends BakeState {
  /** The bake is over: the phase's end-of-bake gate follows. */
  readonly done: boolean;
  /** A cancel was requested: the run stops here rather than at the bake's end. */
  readonly cancelled: boolean;
  /** The next wait (0 when done or cancelled). */
  readonly waitSeconds: number;
  /** One line for the log and the called-off record. */
  readonly message: string;
}

/**
 * A bake as a loop of shorter waits (issue 13, item 1: alarms are read during a bake time): at
 * each check the run reads the cancel flag (and, with health gates, the alarms), then waits the
 * next `bakeCheckSeconds` (the last wait is what is left). A cancel ends the bake at this check.
 */
export function bakeTick(
  phase: Pick<ResolvedPhase, 'index' | 'name' | 'bakeSeconds' | 'bakeCheckSeconds'>,
  bake: BakeState,
  cancelRequested: boolean,
): BakeTick {
  const label = `the bake of ${phase.name} (phases[${phase.index}])`;
  const checks = bake.checks + 1;
  if (cancelRequested) {
    return {
      leftSeconds: bake.leftSeconds,
      checks,
      done: false,
      cancelled: true,
      waitSeconds: 0,
      message: `a cancel was requested during ${label}, ${bake.leftSeconds} s before its end: the run stops at check ${checks}`,
    };
  }
  if (bake.leftSeconds <= 0) {
    return {
      leftSeconds: 0,
      checks,
      done: true,
      cancelled: false,
      waitSeconds: 0,
      message: `${label} is over after ${phase.bakeSeconds} s`,
    };
  }
  // A check interval of 0 (a phase resolved before checks existed) waits out the bake at once.
  const step = phase.bakeCheckSeconds > 0 ? phase.bakeCheckSeconds : bake.leftSeconds;
  const waitSeconds = Math.min(step, bake.leftSeconds);
  return {
    leftSeconds: bake.leftSeconds - waitSeconds,
    checks,
    done: false,
    cancelled: false,
    waitSeconds,
    message: `${label}: check ${checks}, ${bake.leftSeconds} s left; next check in ${waitSeconds} s`,
  };
}
