/**
 * Issue 11, sandbox speed: a node execution's kept history events carry their state's input as
 * JSON text made when first read or when the execution ends, not at every state entered
 * (sandbox/engine.ts enteredDetails). What GetExecutionHistory answers must not change: the same
 * text, the same fields, after the execution ends.
 */
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { readNodeProgress } from '../../lambdas/handlers/node-progress.js';
import { enteredDetails } from '../../sandbox/engine.js';
import { runScenario, type ScenarioResult } from '../../sandbox/run-scenario.js';
import { parseScenario } from '../../sandbox/scenario.js';

describe('enteredDetails', () => {
  it('reads as the JSON text of the input, with name and input its only fields', () => {
    // Arrange
    const input = { runId: 'r1', plan: { hotfix: { updates: [{ id: 'KB1' }, { id: 'KB2' }] } } };
    // Act
    const details = enteredDetails('InstallHotfixes', input);
    // Assert
    expect(details.input).toBe(JSON.stringify(input));
    expect(Object.keys(details)).toEqual(['name', 'input']);
    expect(JSON.parse(JSON.stringify(details))).toEqual({
      name: 'InstallHotfixes',
      input: JSON.stringify(input),
    });
  });

  it('gives null for an absent input, as the history did', () => {
    // Arrange, Act
    const details = enteredDetails('Start', undefined);
    // Assert
    expect(details.input).toBe('null');
  });

  it('keeps no reference to the input object once read', () => {
    // Arrange
    const input = { value: 1 };
    const details = enteredDetails('S', input);
    // Act
    const first = details.input;
    input.value = 2;
    // Assert: the text was made at the first read and is kept.
    expect(first).toBe('{"value":1}');
    expect(details.input).toBe('{"value":1}');
  });
});

describe('GetExecutionHistory of a node execution, running and ended', () => {
  let result: ScenarioResult | undefined;
  afterAll(async () => {
    await result?.sandbox.stop();
  });

  it('answers each kept event with its state input, and the live node view reads an ended node', async () => {
    // Arrange: a 2-node group, one update each (one restart).
    const seen = new Map<string, string[]>();
    result = await runScenario(
      parseScenario(
        {
          name: 'history-pack',
          hotfixRoot: { files: [{ path: 'CAUHotfix_All/windows10.0-kb5034439-x64.msu' }] },
          nodes: ['H1', 'H2'].map((name) => ({
            name,
            updates: { KB5034439: { exitCodes: [3010], minutes: 5 } },
          })),
          rollout: {
            target: { kind: 'group', name: 'history-fleet' },
            plugins: [
              {
                name: 'Microsoft.HotfixPlugin',
                arguments: 'HotfixRootFolderPath=s3://history-hotfixes/root',
              },
            ],
            policy: { maxFailedNodes: 0, maxConcurrency: 2 },
          },
        },
        'test',
      ),
      {
        keepRunning: true,
        onProgress: (event) => {
          if (event.node) seen.set(event.node, [...(seen.get(event.node) ?? []), event.state]);
        },
      },
    );
    const { sandbox } = result;
    const runId = result.runs[0]?.report?.runId as string;
    const arn = `${sandbox.synth.node.arn.replace(':stateMachine:', ':execution:')}:${runId}-H1`;
    // Act
    const { events } = (await sandbox.sfnClient.send(
      new GetExecutionHistoryCommand({ executionArn: arn, includeExecutionData: true }) as never,
    )) as {
      events: { type: string; stateEnteredEventDetails?: { name: string; input: string } }[];
    };
    const progress = await readNodeProgress(
      sandbox.sfnClient as never,
      sandbox.synth.node.arn,
      runId,
      'H1',
    );
    // Assert: the newest events, the last one the end; each entered event's input is JSON of
    // the node's own state (its run id and node name), readable after the execution ended.
    expect(result.runs[0]?.report?.status).toBe('Succeeded');
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
    const entered = events.filter((e) => e.stateEnteredEventDetails !== undefined);
    expect(entered.length).toBeGreaterThan(1);
    const states = seen.get('H1') ?? [];
    expect(entered.map((e) => e.stateEnteredEventDetails?.name)).toEqual(
      states.slice(-entered.length),
    );
    for (const e of entered) {
      const input = JSON.parse(e.stateEnteredEventDetails?.input as string);
      expect(input.runId).toBe(runId);
      expect(input.node.name).toBe('H1');
    }
    // The same text on a second read.
    const again = (await sandbox.sfnClient.send(
      new GetExecutionHistoryCommand({ executionArn: arn, includeExecutionData: true }) as never,
    )) as { events: typeof events };
    expect(again.events).toEqual(events);
    expect(progress.status).toBe('Succeeded');
    expect(progress.node).toBe('H1');
  });
});
