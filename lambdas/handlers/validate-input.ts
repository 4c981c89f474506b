/**
 * validate-input: the first state of the rollout workflow. Checks the rollout input and
 * resolves every default (see rollout-input.ts).
 *
 * Event `{ input, executionName, startTime }`: the execution's input and `$$.Execution.Name` /
 * `$$.Execution.StartTime`. The run id defaults to the execution name (when it is a valid run
 * id), and deadlines count from the start time, so a retried task resolves the same rollout.
 *
 * Errors: `InvalidRolloutInput`, whose message lists every problem with its field and value
 * (Step Functions puts it in the Cause the workflow's Fail state shows); `InvalidEvent` when
 * the state machine passes something else than the envelope above.
 */
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import {
  parseEvent,
  parseRolloutInput,
  type ResolvedRollout,
  RolloutInputError,
} from '../core/rollout-input.js';
import { logContext, logger } from '../shared/runtime.js';

export interface ValidateInputDeps {
  readonly now: () => Date;
  /** Random numbers in [0, 1), for a generated run id. */
  readonly random: () => number;
}

const validateInputEventSchema = z.object({
  input: z.unknown(),
  executionName: z.string().min(1).optional(),
  startTime: z.iso.datetime({ offset: true }).optional(),
});

export type ValidateInputEvent = z.input<typeof validateInputEventSchema>;

/** The rollout input is invalid; the message lists every problem. */
export class InvalidRolloutInputError extends Error {
  override readonly name = 'InvalidRolloutInput';
}

export function makeValidateInputHandler(deps: ValidateInputDeps) {
  return async function validateInput(event: unknown): Promise<ResolvedRollout> {
    const { input, executionName, startTime } = parseEvent(
      'validate-input',
      validateInputEventSchema,
      event,
    );
    const now = startTime === undefined ? deps.now() : new Date(startTime);
    let rollout: ResolvedRollout;
    try {
      rollout = parseRolloutInput(input, now, {
        random: deps.random,
        ...(executionName === undefined ? {} : { defaultRunId: executionName }),
      });
    } catch (error) {
      if (!(error instanceof RolloutInputError)) throw error;
      logger.warn('invalid rollout input', { executionName, problems: error.problems.length });
      throw new InvalidRolloutInputError(error.message, { cause: error });
    }
    logContext({ runId: rollout.runId, target: rollout.target.name });
    logger.info('rollout input valid', {
      kind: rollout.target.kind,
      nodes: rollout.target.nodes.length,
      plugins: rollout.plugins.map((p) => p.name),
    });
    return rollout;
  };
}

let cached: ReturnType<typeof makeValidateInputHandler> | undefined;

function productionDeps(): ValidateInputDeps {
  return { now: () => new Date(), random: Math.random };
}

export const handler = async (event: unknown, _context?: Context): Promise<ResolvedRollout> => {
  cached ??= makeValidateInputHandler(productionDeps());
  return cached(event);
};
