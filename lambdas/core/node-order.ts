/**
 * The computed node order of a cluster run (issue 13, item 7): when the rollout names no
 * `policy.nodeOrder`, CAU updates the node hosting the fewest clustered roles first, so the
 * fewest roles move while the first nodes drain. Counts come from one node's inventory
 * (Get-ClusterGroup lists every group of the cluster with its owner node); ties go by name.
 *
 * When the counts cannot be had (the inventory failed, timed out, or had no counts), the run
 * keeps the given order and says why: the order is an optimisation, never a reason to stop.
 *
 * Pure: no AWS SDK, no I/O.
 */
import { nodeKey } from './node-names.js';

/** How the order of a cluster run was decided, as the run record and the report keep it. */
export type NodeOrderRecord =
  | {
      readonly source: 'computed';
      readonly rule: typeof COMPUTED_ORDER_RULE;
      /** Every node of the run in the computed order, with its role count. */
      readonly counts: readonly { readonly node: string; readonly roles: number }[];
      /** The node whose inventory gave the counts. */
      readonly from: string;
    }
  | {
      readonly source: 'given';
      /** Why the order could not be computed; the nodes keep the target's order. */
      readonly reason: string;
    };

export const COMPUTED_ORDER_RULE = 'fewest roles first, ties by name';

/** Ordinal, case-insensitive comparison of node names (NetBIOS names ignore case). */
const byName = (a: string, b: string) => {
  const x = nodeKey(a);
  const y = nodeKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Reads `roleCounts` from an inventory result: `{ NODE1: 2, NODE3: 1 }`, owner names as the
 * cluster spells them. Returns the problem when there is none to read.
 */
export function roleCountsOf(inventory: unknown): Map<string, number> | { problem: string } {
  const cluster =
    typeof inventory === 'object' && inventory !== null
      ? (inventory as { cluster?: unknown }).cluster
      : undefined;
  const counts =
    typeof cluster === 'object' && cluster !== null
      ? (cluster as { roleCounts?: unknown }).roleCounts
      : undefined;
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) {
    return { problem: 'the inventory reported no clustered role counts' };
  }
  const map = new Map<string, number>();
  for (const [owner, value] of Object.entries(counts)) {
    if (!Number.isInteger(value) || (value as number) < 0) {
      return {
        problem: `the inventory's role count of ${JSON.stringify(owner)} is ${JSON.stringify(value)}, not a whole number`,
      };
    }
    map.set(nodeKey(owner), (map.get(nodeKey(owner)) ?? 0) + (value as number));
  }
  return map;
}

/**
 * Orders the nodes fewest roles first, ties by name; a node the counts do not name owns none.
 * Returns the nodes in that order and the record of it.
 */
export function computeNodeOrder<N extends { readonly name: string }>(
  nodes: readonly N[],
  counts: ReadonlyMap<string, number>,
  from: string,
): { nodes: N[]; order: NodeOrderRecord } {
  const rolesOf = (node: N) => counts.get(nodeKey(node.name)) ?? 0;
  const ordered = [...nodes].sort((a, b) => rolesOf(a) - rolesOf(b) || byName(a.name, b.name));
  return {
    nodes: ordered,
    order: {
      source: 'computed',
      rule: COMPUTED_ORDER_RULE,
      counts: ordered.map((node) => ({ node: node.name, roles: rolesOf(node) })),
      from,
    },
  };
}

/** The report's line: `order: computed, fewest roles first (NODE2 0, NODE1 2; ties by name)`. */
export function describeNodeOrder(order: NodeOrderRecord): string {
  if (order.source === 'given') return `order: as given (not computed: ${order.reason})`;
  const counts = order.counts.map((c) => `${c.node} ${c.roles}`).join(', ');
  return `order: computed, fewest roles first (${counts}; ties by name; counts from ${order.from})`;
}
