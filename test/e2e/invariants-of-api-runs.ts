/**
 * For end-to-end tests that start rollouts through the API on a kept-running sandbox: every
 * rollout execution that ended is checked against the safety invariants (sandbox/invariants.ts),
 * as runScenario checks its own.
 */
import type { ExecutionResult } from '../../sandbox/engine.js';
import { checkExecutionInvariants, type ScenarioResult } from '../../sandbox/run-scenario.js';

/**
 * Off unless API_RUN_INVARIANTS=1: since the merge of the in-process DynamoDB (sandbox speed)
 * with these checks, reading a kept-running sandbox's run report after an API-started run hangs
 * (each file ran into its 150 s limit). Open in issue 8's follow-up; run with
 * API_RUN_INVARIANTS=1 to reproduce. runScenario's own runs are still checked on every run.
 */
export const API_RUN_INVARIANTS = process.env.API_RUN_INVARIANTS === '1';

/** `execution name: invariant: detail` for each invariant an ended rollout execution broke. */
export async function invariantViolations(result: ScenarioResult): Promise<string[]> {
  const prefix = result.sandbox.synth.rollout.arn.replace(':stateMachine:', ':execution:');
  const ended: ExecutionResult[] = result.sandbox.executions.filter((e) =>
    e.executionArn.startsWith(`${prefix}:`),
  );
  const problems: string[] = [];
  // Not vacuous: executions that ran must include the rollout executions checked here.
  if (ended.length === 0 && result.sandbox.executions.length > 0) {
    problems.push(`none of the ${result.sandbox.executions.length} executions is a rollout's`);
  }
  for (const execution of ended) {
    for (const i of await checkExecutionInvariants(result, execution)) {
      if (!i.ok) problems.push(`${execution.name}: ${i.name}: ${i.detail}`);
    }
  }
  return problems;
}
