/**
 * The model fleet's side of issue 13 item 2: what updateSelection reads of a scenario's
 * Windows Update item, as ssm/windows-update.ps1 reads it of WUA's IUpdate (Get-UpdateFacts).
 */
import type { ScanUpdatesResultLine } from '../lambdas/core/contracts.js';
import {
  CLASSIFICATION_IDS,
  type UpdateFacts,
  type UpdateSelection,
  updateExclusion,
} from '../lambdas/core/update-selection.js';
import type { WindowsUpdateItem } from './scenario.js';

const REBOOT_BEHAVIOUR = { NeverReboots: 0, AlwaysRequiresReboot: 1, CanRequestReboot: 2 } as const;

/** The facts of one offered update; RebootBehavior follows rebootRequired unless given. */
export function windowsUpdateFacts(update: WindowsUpdateItem): UpdateFacts {
  return {
    kb: update.kb,
    classificationIds: [CLASSIFICATION_IDS[update.classification]],
    msrcSeverity: update.msrcSeverity === 'Unspecified' ? null : update.msrcSeverity,
    published: update.published ?? null,
    rebootBehavior:
      update.rebootBehavior === undefined
        ? update.rebootRequired
          ? REBOOT_BEHAVIOUR.AlwaysRequiresReboot
          : REBOOT_BEHAVIOUR.NeverReboots
        : REBOOT_BEHAVIOUR[update.rebootBehavior],
  };
}

/**
 * The ScanUpdates line of one offered update, as ssm/scan-updates.ps1 prints it: the model's
 * items never need a licence or user input, and an offered item is not installed yet.
 */
export function scanResultLine(
  update: WindowsUpdateItem,
  selection: UpdateSelection | null,
  now: Date,
): Extract<ScanUpdatesResultLine, { kind: 'update' }> {
  const facts = windowsUpdateFacts(update);
  const exclusion = updateExclusion(facts, selection, now);
  return {
    kind: 'update',
    updateId: update.updateId,
    kb: update.kb,
    title: update.title,
    classification: update.classification,
    msrcSeverity: facts.msrcSeverity,
    restartExpected: facts.rebootBehavior !== 0,
    isInstalled: false,
    excludedBy: exclusion?.rule ?? null,
    excludedReason: exclusion?.reason ?? null,
    skipReason: null,
  };
}
