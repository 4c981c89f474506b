/**
 * For end-to-end tests that start rollouts through the API on a kept-running sandbox: every
 * rollout execution that ended is checked against the safety invariants (sandbox/invariants.ts),
 * as runScenario checks its own.
 *
 * The checks read the sandbox's run store, which `Sandbox.stop()` closes; the tests stop their
 * sandbox at the end of each test body, before `afterEach`. So {@link checkBeforeStop} makes the
 * sandbox's stop run the checks first and keep their result for {@link invariantViolations}.
 */
import type { ExecutionResult } from '../../sandbox/engine.js';
import {
  checkExecutionInvariants,
  type ScenarioResult,
  watchRollouts,
} from '../../sandbox/run-scenario.js';

/** Real time the checks of one sandbox may take before they fail, naming where they were. */
const CHECK_LIMIT_MS = 60_000;

const checkedAtStop = new WeakMap<ScenarioResult, Promise<string[]>>();
/** Each sandbox's watch of its rollout executions: its own part of the fleet log, its input. */
const watches = new WeakMap<ScenarioResult, ReturnType<typeof watchRollouts>>();

/**
 * Makes `result.sandbox.stop()` check every ended rollout execution first; returns `result`.
 * A stop made while the checks run waits for them.
 */
export function checkBeforeStop(result: ScenarioResult): ScenarioResult {
  const sandbox = result.sandbox;
  if (!watches.has(result)) watches.set(result, watchRollouts(result));
  const stop = sandbox.stop.bind(sandbox);
  sandbox.stop = async () => {
    if (!checkedAtStop.has(result)) {
      const checked = checkAll(result);
      checkedAtStop.set(result, checked);
      await checked.catch(() => undefined);
    }
    await stop();
  };
  return result;
}

/**
 * `execution name: invariant: detail` for each invariant an ended rollout execution broke: as
 * checked when the sandbox stopped, or now when it has not stopped.
 */
export async function invariantViolations(result: ScenarioResult): Promise<string[]> {
  return checkedAtStop.get(result) ?? checkAll(result);
}

async function checkAll(result: ScenarioResult): Promise<string[]> {
  let where = 'listing the ended rollout executions';
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the invariant checks of the API-started runs did not end within ${CHECK_LIMIT_MS / 1000} s (stuck ${where})`,
          ),
        ),
      CHECK_LIMIT_MS,
    );
  });
  const work = (async () => {
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
      where = `checking ${execution.name}`;
      const watched = watches.get(result)?.get(execution.executionArn);
      for (const i of await checkExecutionInvariants(result, execution, watched)) {
        if (!i.ok) problems.push(`${execution.name}: ${i.name}: ${i.detail}`);
      }
    }
    return problems;
  })();
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
