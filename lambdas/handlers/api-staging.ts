/**
 * The staging routes of the API (issue 13 item 5): POST /stagings starts the staging state
 * machine with a rollout input, GET /stagings/{id} reads its status and the nodes' staging
 * records. Kept apart from api.ts, which routes to these; the answer is a status and a body,
 * which api.ts sends as JSON.
 *
 * A staging run takes no target lock (it installs nothing), so a start is: check the input,
 * claim the idempotency key (Idempotency-Key, else the change ticket, under `stagings:`),
 * StartExecution named by the staging id.
 */
import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  ApiError,
  canonicalJson,
  type ExecutionView,
  executionArnFor,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_TTL_SECONDS,
  IDEMPOTENT_REPLAY_HEADER,
  parseRolloutRequest,
  parseRunId,
  requestHash,
  type StagingStatusView,
  stagingIdempotencyKey,
  stagingStatusView,
} from '../core/api-model.js';
import type { RunStore } from '../shared/run-store.js';
import { logContext, logger } from '../shared/runtime.js';

/** What the staging routes use. */
export interface StagingRouteDeps {
  readonly sfn: SFNClient;
  readonly store: Pick<
    RunStore,
    | 'getIdempotencyRecord'
    | 'claimIdempotencyKey'
    | 'recordIdempotentStart'
    | 'getStagingOfRun'
    | 'getRun'
  >;
  readonly now: () => Date;
  readonly random: () => number;
  /** The staging workflow. @default - none: both routes answer 501 */
  readonly stagingStateMachineArn?: string;
}

/** A route's answer, before it is JSON. */
export interface StagingAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const nameOf = (error: unknown) =>
  typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';

async function describe(sfn: SFNClient, arn: string) {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    const view: ExecutionView & { input?: string } = {
      arn: out.executionArn ?? arn,
      status: out.status ?? 'UNKNOWN',
      ...(out.startDate ? { startDate: out.startDate } : {}),
      ...(out.stopDate ? { stopDate: out.stopDate } : {}),
      ...(out.input === undefined ? {} : { input: out.input }),
    };
    return view;
  } catch (error) {
    if (nameOf(error) === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

const sameInput = (stored: string | undefined, input: unknown) => {
  if (stored === undefined) return false;
  try {
    return canonicalJson(JSON.parse(stored)) === canonicalJson(input);
  } catch {
    return false;
  }
};

const idInUse = (id: string, cause?: unknown) =>
  new ApiError(
    'RolloutIdInUse',
    `staging id ${JSON.stringify(id)} (runId) is already used by another rollout or staging run; leave runId out to get a new one`,
    { field: 'runId', value: id, ...(cause === undefined ? {} : { cause }) },
  );

export function makeStagingRoutes(deps: StagingRouteDeps) {
  const machine = (): string => {
    if (deps.stagingStateMachineArn === undefined) {
      throw new ApiError(
        'NotImplemented',
        'staging is not wired in this deployment (the API function has no STAGING_STATE_MACHINE_ARN); nothing was staged',
      );
    }
    return deps.stagingStateMachineArn;
  };

  /** StartExecution named `id`; a second start with the same input is the first run. */
  const start = async (arn: string, id: string, input: Readonly<Record<string, unknown>>) => {
    try {
      const out = await deps.sfn.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: id, input: JSON.stringify(input) }),
      );
      return out.executionArn ?? executionArnFor(arn, id);
    } catch (error) {
      if (nameOf(error) !== 'ExecutionAlreadyExists') throw error;
      const existing = await describe(deps.sfn, executionArnFor(arn, id));
      if (existing && sameInput(existing.input, input)) return existing.arn;
      throw idInUse(id, error);
    }
  };

  /** POST /stagings: the body already read as JSON, the Idempotency-Key already checked. */
  const startStaging = async (
    body: unknown,
    headerKey: string | undefined,
  ): Promise<StagingAnswer> => {
    const now = deps.now();
    const parsed = parseRolloutRequest(body, now, { random: deps.random });
    const arn = machine();
    const { rollout } = parsed;
    const id = rollout.runId;
    logContext({ runId: id, target: rollout.target.name });
    const key = stagingIdempotencyKey(headerKey, rollout.changeTicket);
    const shownKey =
      headerKey !== undefined
        ? `${IDEMPOTENCY_KEY_HEADER} ${JSON.stringify(headerKey)}`
        : rollout.changeTicket
          ? `change ticket ${rollout.changeTicket.system}:${rollout.changeTicket.id}`
          : null;
    const hash = requestHash('startStaging', body);
    const nowSeconds = Math.floor(now.getTime() / 1000);

    let seen = key === undefined ? undefined : await deps.store.getIdempotencyRecord(key);
    if (seen !== undefined && seen.expiresAt < nowSeconds) seen = undefined;
    if (seen === undefined) {
      // A run id the caller chose must not land its records in another run's partition.
      if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'runId')) {
        const [run, staged] = await Promise.all([
          deps.store.getRun(id),
          deps.store.getStagingOfRun(id),
        ]);
        if (run !== undefined || staged.length > 0) throw idInUse(id);
      }
      if (key !== undefined) {
        const claim = await deps.store.claimIdempotencyKey(
          {
            key,
            requestHash: hash,
            runId: id,
            createdAt: now.toISOString(),
            expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
          },
          now,
        );
        if (!claim.claimed) seen = claim.record;
      }
    }
    if (seen !== undefined) {
      if (seen.requestHash !== hash) {
        throw new ApiError(
          'IdempotencyKeyReused',
          `${shownKey} was used within the last 24 hours for another staging request (staging ${seen.runId}); a retry must repeat the request exactly, and a new staging needs a new ${IDEMPOTENCY_KEY_HEADER}`,
          {
            field: headerKey === undefined ? 'changeTicket' : IDEMPOTENCY_KEY_HEADER,
            details: { stagingId: seen.runId },
          },
        );
      }
      // The first request may have claimed the key and not got through StartExecution.
      const executionArn =
        seen.executionArn ?? (await start(arn, seen.runId, { ...parsed.input, runId: seen.runId }));
      if (seen.executionArn === undefined) {
        await deps.store.recordIdempotentStart(seen.key, executionArn);
      }
      const run = await describe(deps.sfn, executionArn);
      logger.info('idempotent staging replay', { executionArn });
      return {
        status: 202,
        body: {
          stagingId: seen.runId,
          executionArn,
          status: run === undefined ? 'Running' : stagingStatusView(seen.runId, run, []).status,
          idempotencyKey: shownKey,
        },
        headers: { [IDEMPOTENT_REPLAY_HEADER]: 'true' },
      };
    }
    const executionArn = await start(arn, id, parsed.input);
    if (key !== undefined) await deps.store.recordIdempotentStart(key, executionArn);
    logger.info('staging started', { executionArn, nodes: rollout.target.nodes.length });
    return {
      status: 202,
      body: { stagingId: id, executionArn, status: 'Running', idempotencyKey: shownKey },
    };
  };

  /** GET /stagings/{id}. */
  const getStaging = async (rawId: string | undefined): Promise<StagingAnswer> => {
    const id = parseRunId(rawId);
    const arn = machine();
    const [execution, nodes] = await Promise.all([
      describe(deps.sfn, executionArnFor(arn, id)),
      deps.store.getStagingOfRun(id),
    ]);
    const view: StagingStatusView = stagingStatusView(id, execution, nodes);
    return { status: 200, body: view };
  };

  return { startStaging, getStaging };
}
