/**
 * The model fleet's side of issue 13 item 2: what updateSelection reads of a scenario's
 * Windows Update item, as ssm/windows-update.ps1 reads it of WUA's IUpdate (Get-UpdateFacts).
 */
import { CLASSIFICATION_IDS, type UpdateFacts } from '../lambdas/core/update-selection.js';
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
