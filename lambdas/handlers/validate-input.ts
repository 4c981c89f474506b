/**
 * validate-input: the first state of the rollout workflow. Checks the rollout input and
 * resolves every default (see rollout-input.ts).
 *
 * Event `{ input, executionName, startTime }`: the execution's input and `$$.Execution.Name` /
 * `$$.Execution.StartTime`. The run id defaults to the execution name (when it is a valid run
 * id), and deadlines count from the start time, so a retried task resolves the same rollout.
 *
 * A group resolved from a selection (issue 11) has no `target.nodes`: its list is in S3
 * (`target.resolution.nodeList`, node-list.ts). It is read back (digest and count checked) and the
 * whole input validated with it; the result keeps the list in S3 (re-written in update order when
 * the policy or phases reorder it) and carries only its first NODE_LIST_HEAD nodes in
 * `target.nodes` and `policy.nodeOrder`, so the state does not grow with the group; the scan
 * reads the list.
 *
 * Errors: `InvalidRolloutInput`, whose message lists every problem with its field and value
 * (Step Functions puts it in the Cause the workflow's Fail state shows); `InvalidEvent` when
 * the state machine passes something else than the envelope above; `NodeListMismatch` when the
 * resolved list in S3 is gone or changed.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { MAX_PHASED_NODES } from '../core/phases.js';
import {
  parseEvent,
  parseRolloutInput,
  type ResolvedRollout,
  RolloutInputError,
} from '../core/rollout-input.js';
import type { TargetResolution } from '../core/target-selection.js';
import {
  NODE_LIST_HEAD,
  type NodeListRef,
  nodeListBody,
  readNodeList,
  writeNodeList,
} from '../shared/node-list.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

export interface ValidateInputDeps {
  readonly now: () => Date;
  /** Random numbers in [0, 1), for a generated run id. */
  readonly random: () => number;
  /** Reads (and, re-ordered, writes) a resolved selection's node list (issue 11). */
  readonly s3?: Pick<S3Client, 'send'>;
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
    const listed = await referencedNodes(deps.s3, input);
    const s3 = deps.s3 as Pick<S3Client, 'send'>;
    let rollout: ResolvedRollout;
    try {
      rollout = parseRolloutInput(listed?.input ?? input, now, {
        random: deps.random,
        ...(executionName === undefined ? {} : { defaultRunId: executionName }),
        ...(listed ? { nodesByReference: true } : {}),
      });
    } catch (error) {
      if (!(error instanceof RolloutInputError)) throw error;
      logger.warn('invalid rollout input', { executionName, problems: error.problems.length });
      throw new InvalidRolloutInputError(error.message, { cause: error });
    }
    if (listed && rollout.phases !== null && rollout.target.nodes.length > MAX_PHASED_NODES) {
      // A phase's verdict names its nodes in one event and one item (phases.ts).
      throw new InvalidRolloutInputError(
        `phases: ${rollout.target.nodes.length} nodes resolved; phases take a group of at most ${MAX_PHASED_NODES} nodes (split the selection, or use approvalGate)`,
      );
    }
    logContext({ runId: rollout.runId, target: rollout.target.name });
    logger.info('rollout input valid', {
      kind: rollout.target.kind,
      nodes: rollout.target.nodes.length,
      plugins: rollout.plugins.map((p) => p.name),
    });
    return listed ? keepListInS3(s3, rollout, listed) : rollout;
  };
}

/**
 * A resolved selection's input with its node list read back from S3; undefined when the target
 * lists its nodes (or has no reference, which the schema then refuses as usual).
 */
async function referencedNodes(
  s3: Pick<S3Client, 'send'> | undefined,
  input: unknown,
): Promise<{ input: Record<string, unknown>; ref: NodeListRef; body: string } | undefined> {
  if (typeof input !== 'object' || input === null) return undefined;
  const target = (input as { target?: unknown }).target as Record<string, unknown> | undefined;
  const resolution = target?.resolution as Partial<TargetResolution> | undefined;
  const ref = resolution?.nodeList;
  if (target?.nodes !== undefined || typeof ref !== 'object' || ref === null) return undefined;
  if (s3 === undefined) throw new Error('validate-input: a resolved node list needs an S3 client');
  const nodes = await readNodeList(s3, ref, Number(resolution?.count));
  return { input: { ...input, target: { ...target, nodes } }, ref, body: nodeListBody(nodes) };
}

/**
 * The resolved rollout as the state carries it: the list stays in S3 (written again in update
 * order when that differs), `target.nodes` holds its first nodes only.
 */
async function keepListInS3(
  s3: Pick<S3Client, 'send'>,
  rollout: ResolvedRollout,
  listed: { ref: NodeListRef; body: string },
): Promise<ResolvedRollout> {
  const { ref } = listed;
  const resolution = rollout.targetResolution as TargetResolution;
  const nodes = rollout.target.nodes;
  const reordered = nodeListBody(nodes) !== listed.body;
  const nodeList = reordered
    ? await writeNodeList(s3, ref.bucket, ref.key.replace(/nodes\.json$/, 'ordered.json'), nodes)
    : ref;
  if (reordered) logger.info('resolved nodes re-ordered', { key: nodeList.key });
  return {
    ...rollout,
    target: { ...rollout.target, nodes: nodes.slice(0, NODE_LIST_HEAD) },
    // The resolved order is the list's in S3; like target.nodes, the state keeps its head.
    policy: { ...rollout.policy, nodeOrder: rollout.policy.nodeOrder.slice(0, NODE_LIST_HEAD) },
    targetResolution: {
      ...resolution,
      nodeList,
      firstNodes: nodes.slice(0, NODE_LIST_HEAD).map((n) => n.name),
    },
  };
}

let cached: ReturnType<typeof makeValidateInputHandler> | undefined;

function productionDeps(): ValidateInputDeps {
  return {
    now: () => new Date(),
    random: Math.random,
    s3: tracer.captureAWSv3Client(new S3Client({})),
  };
}

export const handler = async (event: unknown, _context?: Context): Promise<ResolvedRollout> => {
  cached ??= makeValidateInputHandler(productionDeps());
  return cached(event);
};
