/**
 * POST /scans over the deployed scan function (lambdas/shared/scan-invoker.ts, issue 11 §4):
 * the request Lambda gets, the answer returned as the scan gave it, and a scan error rethrown
 * under its own name, so the API maps it as it did when the scan ran in-process.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import type { ResolvedRollout } from '../../lambdas/core/rollout-input.js';
import { invokeScanFunction, ScanFunctionError } from '../../lambdas/shared/scan-invoker.js';

const rollout = {
  runId: 'r-1',
  target: { kind: 'group', name: 'web' },
} as unknown as ResolvedRollout;

/** A Lambda client that answers every Invoke with `answer`; records the commands. */
function lambda(answer: { Payload?: string; FunctionError?: string }) {
  const sent: InvokeCommand[] = [];
  return {
    sent,
    client: {
      send: async (command: InvokeCommand) => {
        sent.push(command);
        return {
          StatusCode: 200,
          ...(answer.FunctionError ? { FunctionError: answer.FunctionError } : {}),
          ...(answer.Payload === undefined
            ? {}
            : { Payload: new TextEncoder().encode(answer.Payload) }),
        };
      },
    } as never,
  };
}

describe('invokeScanFunction', () => {
  it('invokes the function synchronously with { rollout } and returns its answer', async () => {
    // Arrange
    const { client, sent } = lambda({ Payload: '{"nodes":[{"name":"A"}]}' });
    // Act
    const result = await invokeScanFunction(client, 'cp-scan')(rollout);
    // Assert
    expect(result).toEqual({ nodes: [{ name: 'A' }] });
    expect(sent).toHaveLength(1);
    const input = sent[0]?.input;
    expect(sent[0]).toBeInstanceOf(InvokeCommand);
    expect(input?.FunctionName).toBe('cp-scan');
    expect(input?.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({ rollout });
  });

  it("rethrows the scan's error under its own name and message", async () => {
    const { client } = lambda({
      FunctionError: 'Unhandled',
      Payload: JSON.stringify({ errorType: 'NodesOffline', errorMessage: 'B is offline' }),
    });
    const error = await invokeScanFunction(client, 'cp-scan')(rollout).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScanFunctionError);
    expect(error).toMatchObject({ name: 'NodesOffline', message: 'B is offline' });
  });

  it('names the function when it failed without an error body', async () => {
    const { client } = lambda({ FunctionError: 'Unhandled', Payload: '{}' });
    await expect(invokeScanFunction(client, 'cp-scan')(rollout)).rejects.toThrow(
      'the scan function cp-scan failed (Unhandled) without a message',
    );
  });

  it('refuses an answer that is not JSON, quoting it', async () => {
    const { client } = lambda({ Payload: '<html>' });
    await expect(invokeScanFunction(client, 'cp-scan')(rollout)).rejects.toThrow(
      'the scan function cp-scan answered with a payload that is not JSON: <html>',
    );
  });
});
