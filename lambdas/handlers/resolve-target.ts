/**
 * resolve-target: the first state of a rollout whose group target is a query (issue 11 §1).
 * Turns `target.select` into the node list, paged, before validation and before the lock, so an
 * empty or over-large resolution ends the run having touched nothing.
 *
 * - `{ tags: { Env: "prod" } }`: SSM DescribeInstanceInformation with `tag:Env` filters (several
 *   tags ANDed) and `PlatformTypes=Windows`, 50 a page.
 * - `{ resourceGroup: "web" }`: Resource Groups ListGroupResources (EC2 instances and SSM managed
 *   instances), then DescribeInstanceInformation by id, 50 at a time, for the Windows managed
 *   nodes among them; the others are counted as skipped.
 * - `{ manifest: "s3://bucket/key.json|csv" }`: the object's `{ name, instanceId }` rows.
 *
 * Event: `{ input, executionName }`, the execution's input and name. The node list (sorted by name, so a
 * retry resolves the same order; a manifest keeps its own) is written to the artifacts bucket at
 * `targets/<executionName>/nodes.json` (node-list.ts), never into the state: the result is the
 * same input with `target.resolution` (how, how many, the list's S3 reference and digest, the
 * first names) in place of `target.select`, whatever the group's size.
 *
 * Errors: `InvalidRolloutInput` (the selection is malformed; the message names the field) and
 * `TargetNotResolved` (no match, too many, or a bad manifest; the message names the field).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import {
  checkResolvedCount,
  describeSelection,
  MAX_RESOLVED_NODES,
  manifestLocation,
  netbiosNameOf,
  parseManifest,
  parseTargetSelection,
  type TargetResolution,
  TargetResolutionError,
  type TargetSelection,
  TargetSelectionError,
} from '../core/target-selection.js';
import { NODE_LIST_HEAD, nodeListKey, writeNodeList } from '../shared/node-list.js';
import { logger, tracer } from '../shared/runtime.js';

/** One page of Resource Groups ListGroupResources: the members' ARNs. */
export interface GroupResourcesPage {
  readonly arns: readonly string[];
  readonly nextToken?: string;
}

/** The Resource Groups call we make, as a port (the SDK client is loaded in production). */
export interface ResourceGroupsPort {
  listGroupResources(group: string, nextToken?: string): Promise<GroupResourcesPage>;
}

export interface ResolveTargetDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly resourceGroups: ResourceGroupsPort;
  readonly now: () => Date;
  /** Where the resolved node list goes (env ARTIFACTS_BUCKET). */
  readonly artifactsBucket: string;
}

/** The selection is malformed (same error name as validate-input's, so one Catch serves). */
export class InvalidTargetSelectionError extends Error {
  override readonly name = 'InvalidRolloutInput';
}

/** The selection resolved to nothing usable; nothing was touched. */
export class TargetNotResolvedError extends Error {
  override readonly name = 'TargetNotResolved';
}

type Node = { name: string; instanceId: string };

const PAGE = 50;
/** Instance ids per DescribeInstanceInformation InstanceIds filter (SSM's limit). */
const ID_BATCH = 50;
const INSTANCE_ARN = /:(?:instance|managed-instance)\/((?:i|mi)-[0-9a-f]+)$/;

export function makeResolveTargetHandler(deps: ResolveTargetDeps) {
  /** Windows managed nodes matching the filters, every page; nodes without a NetBIOS name are skipped. */
  async function managedNodes(
    filters: { Key: string; Values: string[] }[],
  ): Promise<{ nodes: Node[]; skipped: number }> {
    const nodes: Node[] = [];
    let skipped = 0;
    let token: string | undefined;
    do {
      const page = await deps.ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [...filters, { Key: 'PlatformTypes', Values: ['Windows'] }],
          MaxResults: PAGE,
          NextToken: token,
        }),
      );
      for (const info of page.InstanceInformationList ?? []) {
        const name = netbiosNameOf(info.ComputerName);
        if (info.InstanceId && name) nodes.push({ name, instanceId: info.InstanceId });
        else skipped++;
      }
      token = page.NextToken || undefined;
      // Stop paging once past the limit: the count is refused anyway.
      if (nodes.length > MAX_RESOLVED_NODES) break;
    } while (token !== undefined);
    return { nodes, skipped };
  }

  async function resolve(selection: TargetSelection): Promise<{ nodes: Node[]; skipped: number }> {
    if ('tags' in selection) {
      return managedNodes(
        Object.entries(selection.tags).map(([key, value]) => ({
          Key: `tag:${key}`,
          Values: [value],
        })),
      );
    }
    if ('resourceGroup' in selection) {
      const ids: string[] = [];
      let others = 0;
      let token: string | undefined;
      do {
        const page = await deps.resourceGroups.listGroupResources(selection.resourceGroup, token);
        for (const arn of page.arns) {
          const id = INSTANCE_ARN.exec(arn)?.[1];
          if (id) ids.push(id);
          else others++;
        }
        token = page.nextToken || undefined;
        if (ids.length > MAX_RESOLVED_NODES) break;
      } while (token !== undefined);
      const nodes: Node[] = [];
      let skipped = others;
      for (let i = 0; i < ids.length && nodes.length <= MAX_RESOLVED_NODES; i += ID_BATCH) {
        const batch = ids.slice(i, i + ID_BATCH);
        const found = await managedNodes([{ Key: 'InstanceIds', Values: batch }]);
        nodes.push(...found.nodes);
        // Members that are not Windows managed nodes (or have no NetBIOS name) are skipped.
        skipped += batch.length - found.nodes.length;
      }
      return { nodes, skipped };
    }
    const { bucket, key, format } = manifestLocation(selection.manifest);
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await object.Body?.transformToString('utf-8')) ?? '';
    return { nodes: parseManifest(text, format), skipped: 0 };
  }

  return async function resolveTarget(event: unknown): Promise<Record<string, unknown>> {
    const raw = (event as { input?: unknown } | null)?.input;
    const executionName = (event as { executionName?: unknown } | null)?.executionName;
    if (typeof executionName !== 'string') {
      throw new Error(
        'resolve-target: the state machine passes { input, executionName }; executionName is missing',
      );
    }
    const input = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    let selection: TargetSelection;
    try {
      selection = parseTargetSelection(input.target);
    } catch (error) {
      if (error instanceof TargetSelectionError) {
        throw new InvalidTargetSelectionError(error.message, { cause: error });
      }
      throw error;
    }
    let resolved: { nodes: Node[]; skipped: number };
    try {
      resolved = await resolve(selection).catch((error: unknown) => {
        throw notFound(selection, error) ?? error;
      });
      checkResolvedCount(selection, resolved.nodes.length);
    } catch (error) {
      if (error instanceof TargetResolutionError) {
        logger.warn('target not resolved', { selection: describeSelection(selection) });
        throw new TargetNotResolvedError(error.message, { cause: error });
      }
      throw error;
    }
    // One order for every retry of the run: by name (the manifest's own order is kept).
    const nodes =
      'manifest' in selection
        ? resolved.nodes
        : [...resolved.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const nodeList = await writeNodeList(
      deps.s3,
      deps.artifactsBucket,
      nodeListKey(executionName),
      nodes,
    );
    const resolution: TargetResolution = {
      by:
        'tags' in selection ? 'tags' : 'resourceGroup' in selection ? 'resourceGroup' : 'manifest',
      selector: describeSelection(selection),
      count: nodes.length,
      skipped: resolved.skipped,
      resolvedAt: deps.now().toISOString(),
      nodeList,
      firstNodes: nodes.slice(0, NODE_LIST_HEAD).map((n) => n.name),
    };
    logger.info('target resolved', { ...resolution });
    const { select: _select, ...target } = input.target as Record<string, unknown>;
    return { ...input, target: { ...target, resolution } };
  };
}

/** Resource Groups through the SDK the Lambda runtime carries (not a bundled dependency). */
function sdkResourceGroups(): ResourceGroupsPort {
  type Sdk = {
    ResourceGroupsClient: new (config: object) => { send(command: object): Promise<unknown> };
    ListGroupResourcesCommand: new (input: object) => object;
  };
  let client: Promise<{ sdk: Sdk; send(command: object): Promise<unknown> }> | undefined;
  return {
    async listGroupResources(group, nextToken) {
      client ??= (import('@aws-sdk/client-resource-groups' as string) as Promise<Sdk>).then(
        (sdk) => {
          const c = tracer.captureAWSv3Client(new sdk.ResourceGroupsClient({}) as never) as {
            send(command: object): Promise<unknown>;
          };
          return { sdk, send: (command: object) => c.send(command) };
        },
      );
      const { sdk, send } = await client;
      const page = (await send(
        new sdk.ListGroupResourcesCommand({
          Group: group,
          Filters: [
            { Name: 'resource-type', Values: ['AWS::EC2::Instance', 'AWS::SSM::ManagedInstance'] },
          ],
          MaxResults: 50,
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      )) as { Resources?: { Identifier?: { ResourceArn?: string } }[]; NextToken?: string };
      return {
        arns: (page.Resources ?? []).flatMap((r) =>
          r.Identifier?.ResourceArn ? [r.Identifier.ResourceArn] : [],
        ),
        ...(page.NextToken ? { nextToken: page.NextToken } : {}),
      };
    },
  };
}

/** A missing Resource Group or manifest, as the field it names; undefined for other errors. */
function notFound(selection: TargetSelection, error: unknown): TargetResolutionError | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  if ('resourceGroup' in selection && name === 'NotFoundException') {
    return new TargetResolutionError(
      'target.select.resourceGroup',
      `no Resource Group named ${JSON.stringify(selection.resourceGroup)} in this account and Region`,
    );
  }
  if ('manifest' in selection && (name === 'NoSuchKey' || name === 'NoSuchBucket')) {
    return new TargetResolutionError(
      'target.select.manifest',
      `${selection.manifest} does not exist (${String(name)}); upload the node list there first`,
    );
  }
  return undefined;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set; the stack sets it`);
  return value;
}

let cached: ReturnType<typeof makeResolveTargetHandler> | undefined;

export const handler = async (
  event: unknown,
  _context?: Context,
): Promise<Record<string, unknown>> => {
  cached ??= makeResolveTargetHandler({
    ssm: tracer.captureAWSv3Client(new SSMClient({})),
    s3: tracer.captureAWSv3Client(new S3Client({})),
    resourceGroups: sdkResourceGroups(),
    now: () => new Date(),
    artifactsBucket: requiredEnv('ARTIFACTS_BUCKET'),
  });
  return cached(event);
};
