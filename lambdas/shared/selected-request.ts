/**
 * POST /rollouts with a group that is not a plain list of at most 2,000 nodes (issue 11 §1, §2):
 *
 * - `target.select` (tags, a Resource Group or a manifest): the API checks the selection and the
 *   rest of the input, starts the run, and the workflow resolves the selection (ResolveTarget).
 *   What depends on the resolved nodes (their count against maxFailedNodes, afterNodes and
 *   phases, the names in nodeOrder and phases) is checked by the workflow once they are known,
 *   before the lock: a bad one ends the run with InvalidRolloutInput naming the field.
 * - `target.nodes` longer than MAX_GROUP_NODES (up to MAX_RESOLVED_NODES): the list is checked
 *   in full, uploaded as a manifest (`manifests/api/<runId>.json` in the artifacts bucket) and
 *   the run started with `select: { manifest }`, so its list goes through S3 as a selection's.
 *
 * Same idempotency, change ticket and target claim as any other rollout (api.ts).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseRolloutRequest, type RolloutRequest, validationError } from '../core/api-model.js';
import type { ValidationProblem } from '../core/errors.js';
import { MAX_GROUP_NODES, parseRolloutInput, RolloutInputError } from '../core/rollout-input.js';
import {
  MAX_RESOLVED_NODES,
  parseTargetSelection,
  TargetSelectionError,
} from '../core/target-selection.js';
import { nodeListBody } from './node-list.js';

/** The largest POST /rollouts body; defined with every route's limit (api-model.ts). */
export { MAX_ROLLOUT_BODY_BYTES } from '../core/api-model.js';

/** Where the API puts the manifests of large lists (the ResolveTarget role reads manifests/). */
export const API_MANIFEST_PREFIX = 'manifests/api/';

export interface ManifestUpload {
  readonly s3: Pick<S3Client, 'send'>;
  readonly bucket: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Does this body need this module (a selection, or more nodes than an input may list)? */
export function isSelectedRequest(body: unknown): boolean {
  const target = isRecord(body) ? body.target : undefined;
  if (!isRecord(target) || target.kind !== 'group') return false;
  return (
    Object.hasOwn(target, 'select') ||
    (Array.isArray(target.nodes) && target.nodes.length > MAX_GROUP_NODES)
  );
}

/** Fields that name or count the resolved nodes: the workflow checks them after resolving. */
const NODE_DEPENDENT = /^(policy\.nodeOrder|phases)(\[|\.|$)/;

/**
 * Checks a request of a selected group; returns what POST /rollouts needs. The input keeps the
 * selection as sent (with the run id), for the workflow's ResolveTarget state.
 *
 * @throws ApiError 400 ValidationFailed listing every problem with its field and value.
 */
export function parseSelectedRequest(
  body: Record<string, unknown>,
  now: Date,
  options: { readonly random?: () => number } = {},
): RolloutRequest {
  const target = body.target as Record<string, unknown>;
  const problems: ValidationProblem[] = [];
  try {
    parseTargetSelection(target);
  } catch (error) {
    if (!(error instanceof TargetSelectionError)) throw error;
    problems.push(...error.problems);
  }
  // The rest of the input, against stand-in nodes as many as its counts need (a count above
  // what any resolution may give is refused as such).
  const counts = [
    (body.policy as Record<string, unknown> | undefined)?.maxFailedNodes,
    (body.approvalGate as Record<string, unknown> | undefined)?.afterNodes,
  ].filter((n): n is number => typeof n === 'number' && Number.isFinite(n));
  const size = Math.min(MAX_RESOLVED_NODES, Math.max(2, ...counts.map((n) => Math.floor(n) + 1)));
  const standIn = Array.from({ length: size }, (_, i) => ({
    name: `SELECTED${i}`,
    instanceId: `i-${i.toString(16).padStart(17, '0')}`,
  }));
  const { select: _select, nodes: _nodes, ...rest } = target;
  let request: RolloutRequest | undefined;
  try {
    request = parseRolloutRequest({ ...body, target: { ...rest, nodes: standIn } }, now, options);
  } catch (error) {
    const listed = (error as { problems?: readonly ValidationProblem[] }).problems;
    if (listed === undefined) throw error;
    problems.push(...listed.filter((p) => !NODE_DEPENDENT.test(p.field)));
    if (problems.length === 0) {
      // Only node-dependent problems: the run checks them once the nodes are resolved.
      const { policy: _p, phases: _ph, ...plain } = body;
      request = parseRolloutRequest(
        { ...plain, target: { ...rest, nodes: standIn } },
        now,
        options,
      );
    }
  }
  if (problems.length > 0 || request === undefined) {
    throw validationError('rollout request is invalid', problems);
  }
  const input: Record<string, unknown> = { ...body, runId: request.rollout.runId };
  return {
    rollout: {
      ...request.rollout,
      target: { kind: 'group', name: String(target.name), nodes: [] },
    },
    approvalGate: request.approvalGate,
    input,
  };
}

/**
 * A group listing more than MAX_GROUP_NODES nodes: the whole input is checked with its nodes;
 * `upload` (called once the run is claimed, just before it starts) puts the list in the
 * artifacts bucket as a manifest and gives the execution input, with `select: { manifest }`.
 *
 * @throws ApiError 400 ValidationFailed (every problem, as for a listed group).
 */
export function parseLargeList(
  body: Record<string, unknown>,
  now: Date,
  bucket: ManifestUpload | undefined,
  options: { readonly random?: () => number } = {},
): RolloutRequest & { upload(): Promise<Record<string, unknown>> } {
  const target = body.target as Record<string, unknown>;
  const nodes = target.nodes as unknown[];
  const tooMany = (message: string) =>
    validationError('rollout request is invalid', [
      { field: 'target.nodes', value: `${nodes.length} nodes`, message },
    ]);
  if (nodes.length > MAX_RESOLVED_NODES) {
    throw tooMany(
      `expected at most ${MAX_RESOLVED_NODES} nodes in a group (README "Limits"); split the group`,
    );
  }
  if (bucket === undefined) {
    throw tooMany(
      `expected at most ${MAX_GROUP_NODES} nodes: this API has no artifacts bucket to upload a larger list to`,
    );
  }
  let rollout: ReturnType<typeof parseRolloutInput>;
  try {
    rollout = parseRolloutInput(body, now, {
      nodesByReference: true,
      ...(options.random ? { random: options.random } : {}),
    });
  } catch (error) {
    if (!(error instanceof RolloutInputError)) throw error;
    throw validationError('rollout request is invalid', error.problems, error);
  }
  const key = `${API_MANIFEST_PREFIX}${rollout.runId}.json`;
  const { nodes: _nodes, ...rest } = target;
  const input = {
    ...body,
    runId: rollout.runId,
    target: { ...rest, select: { manifest: `s3://${bucket.bucket}/${key}` } },
  };
  return {
    rollout,
    approvalGate: rollout.approvalGate,
    input,
    // The list as given: the workflow's validation orders it again from the same policy.
    upload: async () => {
      await bucket.s3.send(
        new PutObjectCommand({
          Bucket: bucket.bucket,
          Key: key,
          Body: nodeListBody(nodes as { name: string; instanceId: string }[]),
          ContentType: 'application/json',
        }),
      );
      return input;
    },
  };
}
