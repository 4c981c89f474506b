/**
 * The phase states of the synthesized rollout workflow (issue 13, item 4): off, one Choice
 * branch on the input and no new state on the plain path; the alarms slot is a Choice on
 * `$.healthGates` whose hook state item 1's alarm check replaces (a contract for that work).
 */
import { describe, expect, it } from 'vitest';
import { synthesize } from '../../sandbox/engine.js';

type State = Record<string, unknown> & { Type: string; Next?: string; Default?: string };
const states = synthesize().rollout.definition.States as Record<string, State>;
const state = (name: string): State => {
  const found = states[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
};

describe('phase states of the rollout workflow', () => {
  it('without phases, the cluster loop goes from NextNode to MoreClusterNodes as before', () => {
    const choice = state('ClusterPilotDone') as State & {
      Choices: { Next: string; Not?: unknown }[];
    };
    expect(state('NextNode').Next).toBe('ClusterPilotDone');
    expect(choice.Choices[0]).toEqual({
      Not: { Variable: '$.phases', IsNull: true },
      Next: 'SelectClusterPhase',
    });
    expect(choice.Default).toBe('MoreClusterNodes');
  });

  it.each(['Cluster', 'Fleet'])(
    '%s: verdict, then bake or approval, then the alarms slot',
    (kind) => {
      const criteria = state(`${kind}PhaseCriteriaMet`) as State & {
        Choices: { Next: string }[];
      };
      expect(state(`Evaluate${kind}Phase`).Next).toBe(`${kind}PhaseCriteriaMet`);
      expect(criteria.Choices.map((c) => c.Next)).toEqual([
        'RecordRunStoppedAtPhase',
        `Start${kind}PhaseBake`,
        `Await${kind}PhaseApproval`,
      ]);
      expect(criteria.Default).toBe(`Next${kind}Phase`);
      // The bake is a loop of shorter waits: check (cancel, next wait), alarms, wait, check.
      expect(state(`Start${kind}PhaseBake`)).toMatchObject({
        Type: 'Pass',
        Parameters: { 'leftSeconds.$': '$.phaseAt.phase.bakeSeconds', checks: 0 },
        ResultPath: '$.bake',
        Next: `Check${kind}PhaseBake`,
      });
      expect(JSON.stringify(state(`Check${kind}PhaseBake`))).toContain('"action":"bakeTick"');
      expect(state(`Check${kind}PhaseBake`).Next).toBe(`${kind}PhaseBakeCheck`);
      const check = state(`${kind}PhaseBakeCheck`) as State & {
        Choices: { Next: string; Variable?: string; And?: unknown[] }[];
      };
      expect(check.Choices.map((c) => [c.Variable, c.Next])).toEqual([
        ['$.bake.cancelled', `${kind}PhaseBakeCancelled`],
        ['$.bake.done', `${kind}PhaseAlarmsConfigured`],
        [undefined, `${kind}PhaseBakeHealthGate`],
      ]);
      expect(JSON.stringify(check.Choices[2]?.And)).toContain('$.healthGates');
      expect(JSON.stringify(check.Choices[2]?.And)).toContain('$.phaseAt.phase.alarmsQuiet');
      expect(check.Default).toBe(`Bake${kind}Phase`);
      expect(state(`${kind}PhaseBakeCancelled`).Next).toBe('RecordRunCalledOff');
      expect(JSON.stringify(state(`${kind}PhaseBakeHealthGate`))).toContain('"checkpoint":"bake"');
      expect(state(`${kind}PhaseBakeHealthGatePassed`).Next).toBe(`Bake${kind}Phase`);
      expect(state(`Bake${kind}Phase`)).toMatchObject({
        Type: 'Wait',
        SecondsPath: '$.bake.waitSeconds',
        Next: `Check${kind}PhaseBake`,
      });
      expect(state(`Await${kind}PhaseApproval`).Next).toBe(`${kind}PhaseAlarmsConfigured`);
      const alarms = state(`${kind}PhaseAlarmsConfigured`) as State & {
        Choices: { Next: string; And: unknown[] }[];
      };
      expect(alarms.Choices).toHaveLength(1);
      expect(JSON.stringify(alarms.Choices[0]?.And)).toContain('$.healthGates');
      expect(JSON.stringify(alarms.Choices[0]?.And)).toContain('$.phaseAt.phase.alarmsQuiet');
      // The health gate (item 1) reads the alarms at the phase's end, then the next phase.
      expect(alarms.Choices[0]?.Next).toBe(`${kind}PhaseHealthGate`);
      expect(JSON.stringify(state(`${kind}PhaseHealthGate`))).toContain(
        '"checkpoint":"beforePhase"',
      );
      expect(state(`${kind}PhaseHealthGatePassed`).Next).toBe(`Next${kind}Phase`);
      expect(alarms.Default).toBe(`Next${kind}Phase`);
    },
  );

  it('a fleet phase map tolerates only what is left of MaxFailedNodes', () => {
    // Between the two, the health gates before the phase's wave (on a run with health gates).
    expect(state('FailureBudgetBeforePhase').Next).toBe('HealthGatesBeforePhaseWave');
    expect(state('HealthGatesBeforePhaseWave')).toMatchObject({
      Choices: [{ Variable: '$.healthGates', IsPresent: true, Next: 'HealthGateBeforePhaseWave' }],
      Default: 'UpdateFleetPhase',
    });
    expect(state('HealthGateBeforePhaseWavePassed').Next).toBe('UpdateFleetPhase');
    expect(state('UpdateFleetPhase')).toMatchObject({
      ToleratedFailureCountPath: '$.failureBudget.remaining',
      Next: 'EvaluateFleetPhase',
    });
  });
});
