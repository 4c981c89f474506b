import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { NODE_CONTRACT } from '../../lambdas/core/contracts.js';
import { parseRolloutInput, RolloutInputError } from '../../lambdas/core/rollout-input.js';
import {
  CLASSIFICATIONS,
  hotfixFileExclusion,
  kbFromFileName,
  resolvedUpdateSelectionSchema,
  resolveUpdateSelection,
  type UpdateFacts,
  type UpdateSelection,
  updateExclusion,
  updateSelectionInputSchema,
} from '../../lambdas/core/update-selection.js';
import CASES from '../fixtures/update-selection/cases.json' with { type: 'json' };

const NOW = new Date(CASES.now);

describe('update selection: the rule table shared with windows-update.ps1', () => {
  it('has rows for every rule, and for none', () => {
    const rules = new Set(CASES.cases.map((c) => c.excludedBy));
    for (const rule of NODE_CONTRACT.updateSelection.rules) expect(rules).toContain(rule);
    expect(rules).toContain(null);
  });

  it.each(CASES.cases)('$name', (row) => {
    const exclusion = updateExclusion(
      row.update as UpdateFacts,
      row.selection as UpdateSelection | null,
      NOW,
    );
    expect(exclusion?.rule ?? null).toBe(row.excludedBy);
    if (exclusion) expect(exclusion.reason).not.toBe('');
  });
});

describe('update selection: the classifications are WUA’s', () => {
  // WSUS / WUA update classification GUIDs (ICategory.CategoryID, Type UpdateClassification),
  // as Microsoft documents them ("WSUS Classification GUIDs").
  it.each([
    ['Critical Updates', 'e6cf1350-c01b-414d-a61f-263d14d133b4'],
    ['Security Updates', '0fa1201d-4330-4fa8-8ae9-b877473b6441'],
    ['Definition Updates', 'e0789628-ce08-4437-be74-2495b842f43b'],
    ['Update Rollups', '28bc880e-0592-4cbf-8f95-c79b17911d5f'],
    ['Feature Packs', 'b54e7d24-7add-428f-8b75-90a396fa584f'],
    ['Service Packs', '68c5b0a3-d1a6-4553-ae49-01d3a7827828'],
    ['Tools', 'b4832bd8-e735-4761-8daf-37f882276dab'],
    ['Drivers', 'ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0'],
    ['Updates', 'cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83'],
  ])('%s is %s', (name, id) => {
    expect(CLASSIFICATIONS).toContain(name);
    expect((NODE_CONTRACT.updateSelection.classifications as Record<string, string>)[name]).toBe(
      id,
    );
  });
});

describe('update selection: the hotfix plug-in reads the KB in the file name', () => {
  it.each([
    ['windows10.0-kb5034441-x64.msu', 'KB5034441'],
    ['CAUHotfix_All/Windows10.0-KB5034439-x64_abc.msu', 'KB5034439'],
    ['tools/setup.exe', null],
    ['kb12345678901.msu', null],
  ])('%s: %s', (file, kb) => {
    expect(kbFromFileName(file)).toBe(kb);
  });

  it('applies only the KB lists to a file', () => {
    const selection: UpdateSelection = {
      excludeKbs: ['KB5034439'],
      classifications: ['Drivers'],
      excludeRebootRequired: true,
    };
    expect(hotfixFileExclusion('KB5034441', selection)).toBeNull();
    expect(hotfixFileExclusion('KB5034439', selection)?.rule).toBe('excludeKbs');
    expect(hotfixFileExclusion(null, { includeKbs: ['KB5034441'] })?.rule).toBe('includeKbs');
    expect(hotfixFileExclusion('KB5034439', null)).toBeNull();
  });
});

const TARGET = {
  kind: 'group',
  name: 'web',
  nodes: [{ name: 'WEB1', instanceId: 'i-0123456789abcdef0' }],
};

function problemsOf(updateSelection: unknown) {
  try {
    parseRolloutInput({ target: TARGET, updateSelection }, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(RolloutInputError);
    return (error as RolloutInputError).problems;
  }
  throw new Error('expected a RolloutInputError, nothing was thrown');
}

describe('update selection: the rollout input', () => {
  it('resolves onto every plug-in, KBs upper-cased and deduplicated', () => {
    const rollout = parseRolloutInput(
      {
        target: TARGET,
        updateSelection: {
          includeKbs: ['kb5034441', 'KB5034441'],
          classifications: ['Security Updates'],
          approveAfterDays: 7,
        },
      },
      NOW,
    );
    expect(rollout.plugins[0]?.selection).toEqual({
      includeKbs: ['KB5034441'],
      classifications: ['Security Updates'],
      approveAfterDays: 7,
    });
  });

  it('adds nothing to the plug-ins without a selection, or with an empty one', () => {
    for (const input of [{ target: TARGET }, { target: TARGET, updateSelection: {} }]) {
      const rollout = parseRolloutInput(input, NOW);
      expect(rollout.plugins[0]).not.toHaveProperty('selection');
    }
  });

  it.each([
    [{ classifications: ['Security'] }, 'updateSelection.classifications[0]', 'Security'],
    [{ includeKbs: ['5034441'] }, 'updateSelection.includeKbs[0]', '5034441'],
    [{ excludeKbs: ['KB12'] }, 'updateSelection.excludeKbs[0]', 'KB12'],
    [{ maxPublishDate: '2026-02-30' }, 'updateSelection.maxPublishDate', '2026-02-30'],
    [{ maxPublishDate: '30/11/2026' }, 'updateSelection.maxPublishDate', '30/11/2026'],
    [{ approveAfterDays: -1 }, 'updateSelection.approveAfterDays', -1],
    [{ msrcSeverities: ['Severe'] }, 'updateSelection.msrcSeverities[0]', 'Severe'],
    [{ excludeRebootRequired: 'yes' }, 'updateSelection.excludeRebootRequired', 'yes'],
    [{ kbs: ['KB5034441'] }, 'updateSelection.kbs', ['KB5034441']],
  ])('refuses %j, naming %s and the value', (selection, field, value) => {
    const problems = problemsOf(selection);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toBe(field);
    expect(problems[0]?.value).toEqual(value);
  });

  it('names the accepted classifications when one is unknown', () => {
    const [problem] = problemsOf({ classifications: ['Hotfixes'] });
    expect(problem?.message).toContain('"Security Updates"');
    expect(problem?.message).toContain('"Drivers"');
  });
});

describe('update selection: what the user reads when a field is wrong', () => {
  const kbs = (n: number) => Array.from({ length: n }, (_, i) => `KB${5_000_000 + i}`);
  it.each([
    [{ includeKbs: 'KB5034441' }, 'expected a list of KB ids to install (only these)'],
    [{ excludeKbs: 'KB5034441' }, 'expected a list of KB ids never to install'],
    [{ includeKbs: [5034441] }, 'expected a KB id: KB followed by 4 to 8 digits, e.g. KB5034441'],
    [{ includeKbs: ['xKB5034441'] }, 'expected a KB id: KB followed by 4 to 8 digits'],
    [{ excludeKbs: ['KB5034441x'] }, 'expected a KB id: KB followed by 4 to 8 digits'],
    [{ excludeKbs: kbs(201) }, 'expected at most 200 KB ids'],
    [{ classifications: 'Drivers' }, 'expected a list of update classifications'],
    [{ classifications: [] }, 'expected at least one classification (leave the field out for all)'],
    [
      { classifications: ['Hotfixes'] },
      'expected a WUA update classification: one of "Critical Updates", "Security Updates", ',
    ],
    [{ msrcSeverities: 'Critical' }, 'expected a list of MSRC severities'],
    [{ msrcSeverities: [] }, 'expected at least one severity (leave the field out for all)'],
    [
      { msrcSeverities: ['Severe'] },
      'expected an MSRC severity: one of "Critical", "Important", "Moderate", "Low", "Unspecified"',
    ],
    [{ maxPublishDate: 20261130 }, 'expected a calendar date, YYYY-MM-DD (UTC), e.g. 2026-11-30'],
    [{ maxPublishDate: '2026-02-30' }, 'expected a calendar date, YYYY-MM-DD (UTC)'],
    [{ approveAfterDays: '7' }, 'expected whole days from 0 to 360'],
    [{ approveAfterDays: 361 }, 'expected whole days from 0 to 360'],
    [{ excludeRebootRequired: 'yes' }, 'expected true or false'],
    ['all', 'expected the update selection: { includeKbs?, excludeKbs?, classifications?'],
  ])('%j: %s', (selection, message) => {
    const problems = problemsOf(selection);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain(message);
  });

  it.each([
    [{ classifications: ['Security Updates', 'Critical Updates'] }],
    [{ msrcSeverities: ['Critical', 'Important'] }],
    [{ maxPublishDate: '2026-11-30' }],
    [{ maxPublishDate: '2028-02-29' }],
    [{ approveAfterDays: 0 }],
    [{ includeKbs: ['KB1234', 'kb12345678'] }],
  ])('accepts %j', (selection) => {
    expect(() =>
      parseRolloutInput({ target: TARGET, updateSelection: selection }, NOW),
    ).not.toThrow();
  });

  it('the published JSON Schema carries the same descriptions (schemas/rollout-input.schema.json)', () => {
    const published = JSON.parse(readFileSync('schemas/rollout-input.schema.json', 'utf8'))
      .properties.updateSelection;
    const live = z.toJSONSchema(updateSelectionInputSchema, { io: 'input' }) as typeof published;
    expect(live.description).toBe(published.description);
    expect(published.description).toMatch(/^Which updates install/);
    for (const field of Object.keys(published.properties)) {
      expect(live.properties[field].description, field).toBe(
        published.properties[field].description,
      );
      expect(published.properties[field].description, field).toMatch(/^[A-Z].{20,}/);
    }
  });
});

describe('update selection: resolving the input', () => {
  it('keeps every rule given: KBs upper-cased, lists deduplicated', () => {
    const input = updateSelectionInputSchema.parse({
      includeKbs: ['kb5034441', 'KB5034441'],
      excludeKbs: ['kb5034439', 'KB5034439', 'KB890830'],
      classifications: ['Drivers', 'Drivers', 'Tools'],
      msrcSeverities: ['Low', 'Low'],
      maxPublishDate: '2026-11-30',
      approveAfterDays: 0,
      excludeRebootRequired: true,
    });
    const resolved = {
      includeKbs: ['KB5034441'],
      excludeKbs: ['KB5034439', 'KB890830'],
      classifications: ['Drivers', 'Tools'],
      msrcSeverities: ['Low'],
      maxPublishDate: '2026-11-30',
      approveAfterDays: 0,
      excludeRebootRequired: true,
    };
    expect(resolveUpdateSelection(input)).toEqual(resolved);
    // The handlers read it back from their event with the resolved schema, field by field.
    expect(resolvedUpdateSelectionSchema.parse(resolved)).toEqual(resolved);
  });

  it.each([
    [undefined, null],
    [{}, null],
    [{ excludeRebootRequired: false }, null],
    [{ excludeRebootRequired: true }, { excludeRebootRequired: true }],
  ])('%j resolves to %j', (input, resolved) => {
    expect(resolveUpdateSelection(input)).toEqual(resolved);
  });
});

describe('update selection: the reason each rule gives (the scan and the report show it)', () => {
  const SECURITY_UPPER = '0FA1201D-4330-4FA8-8AE9-B877473B6441';
  const update = (facts: Partial<UpdateFacts>): UpdateFacts => ({
    kb: 'KB5034441',
    classificationIds: [],
    msrcSeverity: null,
    published: '2026-11-10T00:00:00Z',
    rebootBehavior: 0,
    ...facts,
  });
  it.each([
    [{ kb: null }, { includeKbs: ['KB1234'] }, 'includeKbs', 'no KB is not in includeKbs'],
    [{}, { includeKbs: ['KB1234'] }, 'includeKbs', 'KB5034441 is not in includeKbs'],
    [
      { kb: 'kb5034441' },
      { excludeKbs: ['KB5034441'] },
      'excludeKbs',
      'KB5034441 is in excludeKbs',
    ],
    [
      { classificationIds: [SECURITY_UPPER, 'a-guid-we-do-not-know'] },
      { classifications: ['Drivers', 'Tools'] },
      'classifications',
      'classification Security Updates, a-guid-we-do-not-know is not one of Drivers, Tools',
    ],
    [
      {},
      { classifications: ['Drivers'] },
      'classifications',
      'classification none is not one of Drivers',
    ],
    [
      { msrcSeverity: '' },
      { msrcSeverities: ['Critical', 'Important'] },
      'msrcSeverities',
      'MSRC severity Unspecified is not one of Critical, Important',
    ],
    [
      { published: '2026-11-11T00:00:00Z' },
      { maxPublishDate: '2026-11-10' },
      'maxPublishDate',
      'published 2026-11-11, after 2026-11-10',
    ],
    [
      { published: null },
      { maxPublishDate: '2026-11-10' },
      'maxPublishDate',
      'publish date unknown',
    ],
    [{ published: null }, { approveAfterDays: 7 }, 'approveAfterDays', 'publish date unknown'],
    [
      { published: '2026-11-30T02:00:01Z' },
      { approveAfterDays: 4 },
      'approveAfterDays',
      'published 3 days ago, fewer than 4',
    ],
    [
      { rebootBehavior: 1 },
      { excludeRebootRequired: true },
      'excludeRebootRequired',
      'it always requires a restart',
    ],
    [
      { rebootBehavior: 2 },
      { excludeRebootRequired: true },
      'excludeRebootRequired',
      'it can request a restart',
    ],
  ])('%j under %j: %s', (facts, selection, rule, reason) => {
    expect(updateExclusion(update(facts), selection as UpdateSelection, NOW)).toEqual({
      rule,
      reason,
    });
  });

  it.each([
    ['the last second of maxPublishDate installs', '2026-11-10T23:59:59Z', null],
    ['the first second after it does not', '2026-11-11T00:00:00Z', 'maxPublishDate'],
  ])('%s', (_what, published, rule) => {
    const exclusion = updateExclusion(update({ published }), { maxPublishDate: '2026-11-10' }, NOW);
    expect(exclusion?.rule ?? null).toBe(rule);
  });
});

describe('update selection: the KB is read from the file name, not its folders', () => {
  it.each([
    ['KB5034441.msu', 'KB5034441'],
    ['xKB5034441.msu', null],
    ['CAUHotfix_KB5034439/tools/setup.exe', null],
  ])('%s: %s', (file, kb) => {
    expect(kbFromFileName(file)).toBe(kb);
  });
});
