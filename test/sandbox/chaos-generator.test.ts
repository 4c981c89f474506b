/**
 * Every scenario the fault campaign draws must be a valid scenario: an invalid one is counted as
 * a missed expectation, not as a finding about the workflows (the final 1,000-run campaign of
 * seed 20261204 met one: exit-1641 renamed an .msu to .msi but not its hotpatch manifest key).
 */
import { describe, expect, it } from 'vitest';
import { buildScenario, generateSpec, selectFaultKinds } from '../../sandbox/chaos.js';
import { parseScenario, type ScenarioInput } from '../../sandbox/scenario.js';

describe('chaos generator', () => {
  it('draws only valid scenarios (seed 20261204, runs 0 to 999, every fault kind)', () => {
    const kinds = selectFaultKinds(undefined);
    const invalid: string[] = [];
    for (let index = 0; index < 1000; index++) {
      const draft = buildScenario(generateSpec(20261204, index, kinds));
      try {
        parseScenario(draft as unknown as ScenarioInput, draft.name);
      } catch (error) {
        invalid.push(`run ${index}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(invalid).toEqual([]);
  });
});
