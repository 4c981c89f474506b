/**
 * Why an update is still applicable after a node's final restart (issue 13 item 6, ConfigMgr's
 * post-reboot full scan): the Verify inventory reports what the node still lacks
 * (`RescanResult`), and this run's update results on the node say why.
 *
 * A still-applicable update does not fail the node by itself: ConfigMgr's post-reboot scan
 * reports compliance, it does not undo the deployment. The report and the event say it.
 */
import type { StillApplicableUpdate, UpdateResult } from './contracts.js';

/**
 * Why an update is still applicable: installed and waiting for another restart; this run's
 * installer reported it installed, yet the node does not have it; this run's install of it
 * failed; this run did not try it (offered only after its installs).
 */
export const STILL_APPLICABLE_REASONS = [
  'restartPending',
  'installedButNotPresent',
  'installFailed',
  'newlyOffered',
] as const;
export type StillApplicableReason = (typeof STILL_APPLICABLE_REASONS)[number];

export interface StillApplicable {
  readonly kb: string | null;
  readonly title: string;
  readonly source: StillApplicableUpdate['source'];
  readonly reason: StillApplicableReason;
  /** The reason in words, with this run's last outcome when it had one. */
  readonly detail: string;
}

const INSTALLED_OUTCOMES: ReadonlySet<string> = new Set([
  'Success',
  'Success_RebootRequired',
  'AlreadyInstalled',
]);

/** The KB an update result names (a hotfix file, or `KB… title`), upper-cased; null: none. */
export function kbOfResult(update: string): string | null {
  return /(?:^|[^A-Za-z0-9])(KB[1-9][0-9]{3,7})(?![0-9])/i.exec(update)?.[1]?.toUpperCase() ?? null;
}

const PLUGIN_OF_SOURCE = {
  Hotfix: 'Microsoft.HotfixPlugin',
  WindowsUpdate: 'Microsoft.WindowsUpdatePlugin',
} as const;

/**
 * Each update still applicable, with why, from the node's rescan and this run's update results
 * on the node (`attempt` orders them: the last attempt's outcome counts). An update whose last
 * install said NotApplicable is left out: it does not apply to the node.
 */
export function explainStillApplicable(
  found: readonly StillApplicableUpdate[],
  results: readonly (UpdateResult & { readonly attempt: number })[],
): StillApplicable[] {
  const explained: StillApplicable[] = [];
  for (const update of found) {
    const kb = update.kb?.toUpperCase() ?? null;
    const last = results
      .filter(
        (r) =>
          r.plugin === PLUGIN_OF_SOURCE[update.source] &&
          (kb === null ? r.update.includes(update.title) : kbOfResult(r.update) === kb),
      )
      .sort((a, b) => a.attempt - b.attempt)
      .at(-1);
    const base = { kb: update.kb, title: update.title, source: update.source };
    if (update.restartPending) {
      explained.push({
        ...base,
        reason: 'restartPending',
        detail: 'installed, waiting for another restart',
      });
    } else if (last === undefined) {
      explained.push({
        ...base,
        reason: 'newlyOffered',
        detail: 'not tried by this run: offered only after its installs',
      });
    } else if (last.outcome === 'NotApplicable') {
      // The installer said it does not apply to this node: not a finding.
    } else if (INSTALLED_OUTCOMES.has(last.outcome)) {
      explained.push({
        ...base,
        reason: 'installedButNotPresent',
        detail: `the installer reported ${last.outcome}, but the node does not have it`,
      });
    } else {
      explained.push({
        ...base,
        reason: 'installFailed',
        detail: `its install failed (${last.outcome}, exit code ${last.exitCode ?? 'none'})`,
      });
    }
  }
  return explained;
}

/**
 * The report's lines for a node's rescan: none when it was not rescanned, `still applicable
 * after the restart: none`, or one line per update (`KB5034441 Title: why`).
 */
export function stillApplicableLines(node: {
  readonly stillApplicable?: readonly StillApplicable[];
  readonly rescanError?: string;
}): string[] {
  if (node.stillApplicable === undefined) return [];
  const error = node.rescanError === undefined ? [] : [`      ${node.rescanError}`];
  if (node.stillApplicable.length === 0) {
    return ['    still applicable after the restart: none', ...error];
  }
  return [
    `    still applicable after the restart (${node.stillApplicable.length}):`,
    ...node.stillApplicable.map((u) => `      ${u.kb ?? '(no KB)'} ${u.title}: ${u.detail}`),
    ...error,
  ];
}
