/**
 * The scan's promise, checked from what the simulated fleet itself recorded (not from the
 * scan's own word): a scan drains nothing, resumes nothing, restarts nothing, installs nothing,
 * and sends no document but ScanUpdates (issue 12, point 4).
 */
import type { FleetLogEntry, NodeSnapshot } from './fleet.js';

/** The facts of a node a scan must leave as they were. */
function factsOf(node: NodeSnapshot): Record<string, string> {
  return {
    restarts: String(node.restarts),
    drains: String(node.drainedCount),
    resumes: String(node.resumedCount),
    lastBootTime: node.lastBootTime,
    pendingReboot: String(node.pendingReboot),
    installs: String(node.installs.length),
    installedUpdates: node.installedUpdates.join(','),
  };
}

/** Each way the scan changed the fleet, one line each; empty when it changed nothing. */
export function scanChangedNothing(
  log: readonly FleetLogEntry[],
  before: readonly NodeSnapshot[],
  after: readonly NodeSnapshot[],
): string[] {
  const violations: string[] = [];
  for (const entry of log) {
    if (entry.kind === 'clusterView') continue;
    if (entry.kind !== 'command') {
      violations.push(`${entry.node}: ${entry.kind} at ${new Date(entry.at).toISOString()}`);
    } else if (entry.document !== 'scan') {
      violations.push(`${entry.node}: document ${String(entry.document)} was sent`);
    }
  }
  for (const node of before) {
    const now = after.find((n) => n.name === node.name);
    if (now === undefined) {
      violations.push(`${node.name}: missing after the scan`);
      continue;
    }
    const was = factsOf(node);
    const is = factsOf(now);
    for (const [field, value] of Object.entries(was)) {
      if (is[field] !== value) {
        violations.push(
          `${node.name}: ${field} was ${JSON.stringify(value)}, is ${JSON.stringify(is[field])}`,
        );
      }
    }
  }
  return violations;
}
