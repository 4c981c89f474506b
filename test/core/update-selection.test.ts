import { describe, expect, it } from 'vitest';
import { NODE_CONTRACT } from '../../lambdas/core/contracts.js';
import { parseRolloutInput, RolloutInputError } from '../../lambdas/core/rollout-input.js';
import {
  CLASSIFICATIONS,
  hotfixFileExclusion,
  kbFromFileName,
  type UpdateFacts,
  type UpdateSelection,
  updateExclusion,
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
