/**
 * The model fleet's answer to the Verify inventory's rescan after the final restart (issue 13
 * item 6), as `Get-StillApplicable` in ssm/inventory.ps1 computes it: the planned hotfix KBs not
 * installed, then what the run's Windows Update search still offers, filtered as
 * InstallWindowsUpdates filters it (recommended only when asked; the updateSelection's
 * exclusions are not "still applicable").
 */
import type { RescanResult, StillApplicableUpdate } from '../lambdas/core/contracts.js';
import { type UpdateSelection, updateExclusion } from '../lambdas/core/update-selection.js';
import type { WindowsUpdateItem } from './scenario.js';
import { windowsUpdateFacts } from './update-selection-model.js';

export interface RescanRequest {
  readonly hotfixes: readonly { readonly kb: string; readonly file: string }[];
  readonly windowsUpdate: {
    readonly includeRecommendedUpdates: boolean;
    readonly selection: UpdateSelection | null;
  } | null;
}

/** WUA's KB (`KBArticleIDs`, with the KB prefix the script adds), as the script reports it. */
const wuaKb = (kb: string) => `KB${kb.replace(/^KB/i, '')}`;

export function stillApplicable(
  request: RescanRequest,
  node: {
    readonly installed: readonly string[];
    readonly pendingReboot: boolean;
    /** What the node's Windows Update search finds: offered and not installed. */
    readonly found: readonly WindowsUpdateItem[];
  },
  now: Date,
): RescanResult {
  // PowerShell's -contains compares case-insensitively.
  const installed = new Set(node.installed.map((kb) => kb.toUpperCase()));
  const list: StillApplicableUpdate[] = request.hotfixes
    .filter((h) => !installed.has(h.kb.toUpperCase()))
    .map((h) => ({
      kb: h.kb,
      title: h.file,
      source: 'Hotfix' as const,
      restartPending: node.pendingReboot,
    }));
  const wu = request.windowsUpdate;
  if (wu !== null) {
    for (const update of node.found) {
      if (update.recommended && !wu.includeRecommendedUpdates) continue;
      if (updateExclusion(windowsUpdateFacts(update), wu.selection, now) !== null) continue;
      list.push({
        kb: wuaKb(update.kb),
        title: update.title,
        source: 'WindowsUpdate',
        restartPending: false,
      });
    }
  }
  return { stillApplicable: list, searchError: null };
}
