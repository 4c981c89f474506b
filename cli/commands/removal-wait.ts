/**
 * `rollout remove --local` waits for the removal to end and says how it ended (issue 12: it used
 * to exit as soon as the removal was accepted, and with the one-command sandbox the removal then
 * ended with the process). A removal runs as a rollout of the node's target (its removalId is
 * that run's id), so it is followed through GET /rollouts/{id}.
 */
import { isTerminal, type RolloutBackend, type RolloutStatus } from '../backend.js';
import type { LocalBackend } from '../local-backend.js';

/** How long to wait in real time for the local control plane's removal (its clock runs on its own). */
const SERVICE_WAIT_MS = 10 * 60_000;
const POLL_MS = 500;

const isLocalBackend = (backend: RolloutBackend): backend is LocalBackend =>
  'runToEnd' in backend && 'sandbox' in backend;

/**
 * Follows the removal's run to its end: in virtual time for the one-command sandbox, by polling
 * the local control plane otherwise. Returns its last status (still Running if it did not end
 * within the wait).
 */
export async function waitForRemoval(
  backend: RolloutBackend,
  removalId: string,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<RolloutStatus> {
  if (isLocalBackend(backend)) {
    await backend.runToEnd(removalId);
    return backend.getRollout(removalId);
  }
  const until = Date.now() + SERVICE_WAIT_MS;
  for (;;) {
    const status = await backend.getRollout(removalId);
    if (isTerminal(status) || Date.now() >= until) return status;
    await sleep(POLL_MS);
  }
}

/** The lines that say how the removal ended. */
export function renderRemovalEnd(status: RolloutStatus): string {
  const lines = [
    isTerminal(status)
      ? `Removal ${status.rolloutId} ended ${status.status}${status.reason ? `: ${status.reason}` : ''}`
      : `Removal ${status.rolloutId} is still ${status.status} (${status.currentStep.description}); follow it with rollout status --local ${status.rolloutId}`,
  ];
  for (const node of status.nodes) {
    lines.push(
      `  ${node.name}: ${node.status}${node.restarts === undefined ? '' : `, restarts ${node.restarts}`}${node.detail ? ` (${node.detail})` : ''}`,
    );
  }
  return lines.join('\n');
}
