import { describe, expect, it } from 'vitest';
import { PLUGIN_NAMES } from '../../lambdas/core/plugin-arguments.js';
import { makeValidateInputHandler } from '../../lambdas/handlers/validate-input.js';

const NOW = new Date('2025-05-13T22:00:00.000Z');
const deps = () => ({ now: () => NOW, random: () => 0 });

const INPUT = {
  target: {
    kind: 'cluster',
    name: 'CLUSTER1',
    nodes: [
      { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
      { name: 'NODE2', instanceId: 'i-01234567' },
    ],
  },
  plugins: [
    { name: PLUGIN_NAMES.hotfix, arguments: 'HotfixRootFolderPath="s3://my-hotfixes/2025-05"' },
  ],
  policy: { stopAfter: 'PT2H' },
};

/** The Cause Step Functions records for a Lambda error (what the Fail state shows). */
const causeOf = (error: unknown) =>
  JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message });

describe('validate-input handler', () => {
  it('returns the resolved rollout; the run id is the execution name, times count from its start', async () => {
    // Arrange
    const event = {
      input: INPUT,
      executionName: 'clu1-2025-05',
      startTime: '2025-05-13T21:00:00.000Z',
    };

    // Act
    const rollout = await makeValidateInputHandler(deps())(event);

    // Assert
    expect(rollout.runId).toBe('clu1-2025-05');
    expect(rollout.requestedAt).toBe('2025-05-13T21:00:00.000Z');
    expect(rollout.deadlines).toEqual({ stopAt: '2025-05-13T23:00:00.000Z' });
    expect(rollout.plugins[0]).toMatchObject({
      hotfixRoot: { bucket: 'my-hotfixes', prefix: '2025-05/' },
    });
    expect(rollout.target.nodes.map((n) => n.name)).toEqual(['NODE1', 'NODE2']);
  });

  it("the input's own runId wins over the execution name", async () => {
    const rollout = await makeValidateInputHandler(deps())({
      input: { ...INPUT, runId: 'chg-31337' },
      executionName: 'exec',
    });
    expect(rollout.runId).toBe('chg-31337');
  });

  it('without execution name and start time: a generated run id from now', async () => {
    const rollout = await makeValidateInputHandler(deps())({ input: INPUT });
    expect(rollout.runId).toBe('20250513T220000-000000');
    expect(rollout.requestedAt).toBe(NOW.toISOString());
  });

  it('fails with InvalidRolloutInput whose Cause names the field and the value', async () => {
    // Arrange
    const input = structuredClone(INPUT);
    input.target.nodes[1] = { name: 'NODE2', instanceId: 'i-NOTHEX' };

    // Act
    let error: unknown;
    try {
      await makeValidateInputHandler(deps())({ input, executionName: 'exec-1' });
    } catch (e) {
      error = e;
    }

    // Assert
    expect((error as Error).name).toBe('InvalidRolloutInput');
    expect((error as Error).cause).toMatchObject({ name: 'RolloutInputError' });
    const cause = causeOf(error);
    expect(cause).toContain('"errorType":"InvalidRolloutInput"');
    expect(cause).toContain('target.nodes[1].instanceId (\\"i-NOTHEX\\")');
    expect(cause).toContain('expected an EC2 instance id');
  });

  it('lists every problem in one error', async () => {
    const failure = makeValidateInputHandler(deps())({
      input: {
        target: { kind: 'cluster', name: 'CLUSTER1', nodes: [] },
        drain: 'sometimes',
        policy: { maxRetriesPerNode: 99 },
      },
    });
    await expect(failure).rejects.toThrow('(3 problems)');
    await expect(failure).rejects.toThrow('target.nodes ([]): expected at least one node');
    await expect(failure).rejects.toThrow('policy.maxRetriesPerNode (99)');
    await expect(failure).rejects.toThrow('drain ("sometimes")');
  });

  it.each([
    { event: 'not an object', field: '(root)' },
    { event: { input: INPUT, startTime: 'yesterday' }, field: 'startTime ("yesterday")' },
    { event: { input: INPUT, executionName: 42 }, field: 'executionName (42)' },
  ])(
    'an event that is not { input, executionName, startTime } is InvalidEvent ($field)',
    async ({ event, field }) => {
      const failure = makeValidateInputHandler(deps())(event);
      await expect(failure).rejects.toMatchObject({ name: 'InvalidEvent' });
      await expect(failure).rejects.toThrow(field);
    },
  );
});
