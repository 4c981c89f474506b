/**
 * Which updates install (rollout input `updateSelection`), as SSM Patch Manager baselines and
 * Azure Update Manager's maintenance configurations offer it: KB include and exclude lists,
 * classifications (WUA's update classification categories), MSRC severity, a latest publish
 * date, approve-after-days and "exclude updates that may need a restart".
 *
 * Every rule is a filter; an update installs only when it passes all of them. The rules are
 * checked in node-contract.json's order and the first one an update fails excludes it and is
 * reported with it. The node applies the same rules to the Windows Update search result
 * (ssm/windows-update.ps1, `Get-UpdateExclusion`); test/fixtures/update-selection-cases.json is
 * run through both, so neither side can drift alone. For the hotfix plug-in only the KB rules
 * apply (a file has a KB in its name, nothing else): plan-node drops the files they exclude.
 *
 * Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import { NODE_CONTRACT } from './contracts.js';

const CONTRACT = NODE_CONTRACT.updateSelection;

/** The rules, in the order they are checked. */
export const SELECTION_RULES = CONTRACT.rules as readonly SelectionRule[];
export type SelectionRule =
  | 'includeKbs'
  | 'excludeKbs'
  | 'classifications'
  | 'msrcSeverities'
  | 'maxPublishDate'
  | 'approveAfterDays'
  | 'excludeRebootRequired';

/** WUA's update classification names (ICategory.Name, Type UpdateClassification) and GUIDs. */
export const CLASSIFICATION_IDS: Readonly<Record<Classification, string>> =
  CONTRACT.classifications;
export const CLASSIFICATIONS = Object.keys(CONTRACT.classifications) as readonly Classification[];
export type Classification = keyof typeof CONTRACT.classifications;

/** IUpdate.MsrcSeverity values; `Unspecified` is an update without one. */
export const MSRC_SEVERITIES = CONTRACT.msrcSeverities as readonly MsrcSeverity[];
export type MsrcSeverity = 'Critical' | 'Important' | 'Moderate' | 'Low' | 'Unspecified';

/** KB and 4 to 8 digits, as the Microsoft Update Catalog numbers them. */
export const KB_PATTERN = /^[Kk][Bb][1-9][0-9]{3,7}$/;
/** At most this many KBs in each list (they travel in every node's payload). */
export const MAX_SELECTION_KBS = 200;
/** Patch Manager's ApproveAfterDays range. */
export const MAX_APPROVE_AFTER_DAYS = 360;

const KB_ACCEPTED = 'expected a KB id: KB followed by 4 to 8 digits, e.g. KB5034441';
const kbList = (what: string) =>
  z
    .array(z.string({ error: KB_ACCEPTED }).regex(KB_PATTERN, { error: KB_ACCEPTED }), {
      error: `expected a list of KB ids ${what}`,
    })
    .max(MAX_SELECTION_KBS, { error: `expected at most ${MAX_SELECTION_KBS} KB ids` });

const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');
const DAYS_ACCEPTED = `expected whole days from 0 to ${MAX_APPROVE_AFTER_DAYS}`;
const DATE_ACCEPTED = 'expected a calendar date, YYYY-MM-DD (UTC), e.g. 2026-11-30';

/** `updateSelection` in the rollout input. Every field optional; none given selects everything. */
export const updateSelectionInputSchema = z
  .strictObject(
    {
      includeKbs: kbList('to install (only these)')
        .optional()
        .describe(
          'Only these KBs install (both plug-ins; the hotfix plug-in reads the KB in the file name, e.g. windows10.0-kb5034441-x64.msu). An update without a KB is excluded',
        ),
      excludeKbs: kbList('never to install')
        .optional()
        .describe('These KBs never install (both plug-ins)'),
      classifications: z
        .array(
          z.enum(CLASSIFICATIONS as [Classification, ...Classification[]], {
            error: `expected a WUA update classification: one of ${quoted(CLASSIFICATIONS)}`,
          }),
          { error: 'expected a list of update classifications' },
        )
        .min(1, { error: 'expected at least one classification (leave the field out for all)' })
        .optional()
        .describe(
          'Windows Update plug-in: only updates in one of these classifications (matched by the classification GUID, so any display language works)',
        ),
      msrcSeverities: z
        .array(
          z.enum(MSRC_SEVERITIES as [MsrcSeverity, ...MsrcSeverity[]], {
            error: `expected an MSRC severity: one of ${quoted(MSRC_SEVERITIES)}`,
          }),
          { error: 'expected a list of MSRC severities' },
        )
        .min(1, { error: 'expected at least one severity (leave the field out for all)' })
        .optional()
        .describe(
          'Windows Update plug-in: only updates with one of these MSRC severities; Unspecified is an update without one',
        ),
      maxPublishDate: z
        .string({ error: DATE_ACCEPTED })
        .regex(/^\d{4}-\d{2}-\d{2}$/, { error: DATE_ACCEPTED, abort: true })
        .refine((date) => isCalendarDate(date), { error: DATE_ACCEPTED })
        .optional()
        .describe(
          'Windows Update plug-in: only updates published (IUpdate.LastDeploymentChangeTime) on or before this UTC date',
        ),
      approveAfterDays: z
        .number({ error: DAYS_ACCEPTED })
        .int({ error: DAYS_ACCEPTED })
        .min(0, { error: DAYS_ACCEPTED })
        .max(MAX_APPROVE_AFTER_DAYS, { error: DAYS_ACCEPTED })
        .optional()
        .describe(
          'Windows Update plug-in: only updates published at least this many days before the node searches',
        ),
      excludeRebootRequired: z
        .boolean({ error: 'expected true or false' })
        .optional()
        .describe(
          'Windows Update plug-in: leave out updates that may need a restart (InstallationBehavior.RebootBehavior is not NeverReboots)',
        ),
    },
    {
      error:
        'expected the update selection: { includeKbs?, excludeKbs?, classifications?, msrcSeverities?, maxPublishDate?, approveAfterDays?, excludeRebootRequired? }',
    },
  )
  .describe(
    'Which updates install (Patch Manager baseline / Azure Update Manager): each rule a filter, checked in order; excluded updates are listed with the rule in the scan and the report',
  );

export type UpdateSelectionInput = z.input<typeof updateSelectionInputSchema>;

/** The resolved selection the plan and the node read: KBs upper-cased, lists deduplicated. */
export interface UpdateSelection {
  readonly includeKbs?: readonly string[];
  readonly excludeKbs?: readonly string[];
  readonly classifications?: readonly Classification[];
  readonly msrcSeverities?: readonly MsrcSeverity[];
  readonly maxPublishDate?: string;
  readonly approveAfterDays?: number;
  readonly excludeRebootRequired?: boolean;
}

/** The selection as the state machine carries it; null when the input selects everything. */
export function resolveUpdateSelection(
  input: z.output<typeof updateSelectionInputSchema> | undefined,
): UpdateSelection | null {
  if (input === undefined) return null;
  const unique = <T extends string>(values: readonly T[] | undefined, upper = false) =>
    values === undefined
      ? undefined
      : [...new Set(values.map((v) => (upper ? (v.toUpperCase() as T) : v)))];
  const resolved: UpdateSelection = {
    ...(input.includeKbs ? { includeKbs: unique(input.includeKbs, true) } : {}),
    ...(input.excludeKbs ? { excludeKbs: unique(input.excludeKbs, true) } : {}),
    ...(input.classifications ? { classifications: unique(input.classifications) } : {}),
    ...(input.msrcSeverities ? { msrcSeverities: unique(input.msrcSeverities) } : {}),
    ...(input.maxPublishDate ? { maxPublishDate: input.maxPublishDate } : {}),
    ...(input.approveAfterDays === undefined ? {} : { approveAfterDays: input.approveAfterDays }),
    ...(input.excludeRebootRequired ? { excludeRebootRequired: true } : {}),
  };
  return Object.keys(resolved).length === 0 ? null : resolved;
}

/** Schema of the resolved selection in a handler's event. */
export const resolvedUpdateSelectionSchema = z
  .object({
    includeKbs: z.array(z.string()).optional(),
    excludeKbs: z.array(z.string()).optional(),
    classifications: z
      .array(z.enum(CLASSIFICATIONS as [Classification, ...Classification[]]))
      .optional(),
    msrcSeverities: z
      .array(z.enum(MSRC_SEVERITIES as [MsrcSeverity, ...MsrcSeverity[]]))
      .optional(),
    maxPublishDate: z.string().optional(),
    approveAfterDays: z.number().int().optional(),
    excludeRebootRequired: z.boolean().optional(),
  })
  .nullable();

/** What the rules read of one update (WUA's IUpdate, or a hotfix file's name). */
export interface UpdateFacts {
  /** `KB` and digits, or null: none. */
  readonly kb: string | null;
  /** The update's classification category GUIDs (any case). */
  readonly classificationIds: readonly string[];
  /** IUpdate.MsrcSeverity; null or empty: none. */
  readonly msrcSeverity: string | null;
  /** IUpdate.LastDeploymentChangeTime, ISO 8601; null: unknown. */
  readonly published: string | null;
  /** InstallationBehavior.RebootBehavior: 0 NeverReboots, 1 AlwaysRequiresReboot, 2 CanRequestReboot. */
  readonly rebootBehavior: number;
}

/** Why an update does not install. */
export interface Exclusion {
  readonly rule: SelectionRule;
  readonly reason: string;
}

const DAY_MS = 86_400_000;

function isCalendarDate(date: string): boolean {
  const parsed = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
}

function classificationNames(ids: readonly string[]): string {
  const names = ids.map((id) => {
    const known = CLASSIFICATIONS.find((name) => CLASSIFICATION_IDS[name] === id.toLowerCase());
    return known ?? id;
  });
  return names.length === 0 ? 'none' : names.join(', ');
}

/**
 * The first rule of `selection` that `update` fails, or null: it installs. `now` is when the
 * node searched (approveAfterDays counts from it).
 */
export function updateExclusion(
  update: UpdateFacts,
  selection: UpdateSelection | null,
  now: Date,
): Exclusion | null {
  if (selection === null) return null;
  const kb = update.kb?.toUpperCase() ?? null;
  for (const rule of SELECTION_RULES) {
    switch (rule) {
      case 'includeKbs':
        if (selection.includeKbs && (kb === null || !selection.includeKbs.includes(kb))) {
          return { rule, reason: `${kb ?? 'no KB'} is not in includeKbs` };
        }
        break;
      case 'excludeKbs':
        if (selection.excludeKbs && kb !== null && selection.excludeKbs.includes(kb)) {
          return { rule, reason: `${kb} is in excludeKbs` };
        }
        break;
      case 'classifications': {
        if (!selection.classifications) break;
        const wanted = new Set(selection.classifications.map((c) => CLASSIFICATION_IDS[c]));
        if (!update.classificationIds.some((id) => wanted.has(id.toLowerCase()))) {
          return {
            rule,
            reason: `classification ${classificationNames(update.classificationIds)} is not one of ${selection.classifications.join(', ')}`,
          };
        }
        break;
      }
      case 'msrcSeverities': {
        if (!selection.msrcSeverities) break;
        const severity = update.msrcSeverity ? update.msrcSeverity : 'Unspecified';
        if (!(selection.msrcSeverities as readonly string[]).includes(severity)) {
          return {
            rule,
            reason: `MSRC severity ${severity} is not one of ${selection.msrcSeverities.join(', ')}`,
          };
        }
        break;
      }
      case 'maxPublishDate': {
        if (!selection.maxPublishDate) break;
        const published = update.published === null ? Number.NaN : Date.parse(update.published);
        const limit = Date.parse(`${selection.maxPublishDate}T00:00:00Z`) + DAY_MS;
        if (Number.isNaN(published)) return { rule, reason: 'publish date unknown' };
        if (published >= limit) {
          return {
            rule,
            reason: `published ${new Date(published).toISOString().slice(0, 10)}, after ${selection.maxPublishDate}`,
          };
        }
        break;
      }
      case 'approveAfterDays': {
        if (selection.approveAfterDays === undefined) break;
        const published = update.published === null ? Number.NaN : Date.parse(update.published);
        if (Number.isNaN(published)) return { rule, reason: 'publish date unknown' };
        const age = Math.floor((now.getTime() - published) / DAY_MS);
        if (age < selection.approveAfterDays) {
          return {
            rule,
            reason: `published ${age} days ago, fewer than ${selection.approveAfterDays}`,
          };
        }
        break;
      }
      case 'excludeRebootRequired':
        if (selection.excludeRebootRequired && update.rebootBehavior !== 0) {
          return {
            rule,
            reason: `it ${update.rebootBehavior === 1 ? 'always requires' : 'can request'} a restart`,
          };
        }
        break;
    }
  }
  return null;
}

/** The KB in a hotfix file name (`windows10.0-kb5034441-x64.msu`), upper-cased; null: none. */
export function kbFromFileName(file: string): string | null {
  const name = file.slice(file.lastIndexOf('/') + 1);
  return /(?:^|[^A-Za-z0-9])(KB[1-9][0-9]{3,7})(?![0-9])/i.exec(name)?.[1]?.toUpperCase() ?? null;
}

/**
 * The hotfix plug-in's share of the rules: only the KB lists apply, to the KB in the file name
 * (`kb` from it, or null).
 */
export function hotfixFileExclusion(
  kb: string | null,
  selection: UpdateSelection | null,
): Exclusion | null {
  if (selection === null) return null;
  return updateExclusion(
    { kb, classificationIds: [], msrcSeverity: null, published: null, rebootBehavior: 0 },
    {
      ...(selection.includeKbs ? { includeKbs: selection.includeKbs } : {}),
      ...(selection.excludeKbs ? { excludeKbs: selection.excludeKbs } : {}),
    },
    new Date(0),
  );
}
