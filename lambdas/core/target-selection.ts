/**
 * Targets chosen by query (issue 11 §1): a group's nodes named by EC2/SSM tags, by a Resource
 * Group, or by an S3 manifest, instead of an explicit list. The rollout workflow's ResolveTarget
 * state turns the selection into the node list when the run starts (resolve-target.ts); this
 * module holds the rules: what a selection may say, how a manifest reads, how a managed node's
 * computer name becomes its NetBIOS name, and what the run records about the resolution.
 *
 * Sources: SSM DescribeInstanceInformation (`Filters` keys `tag:<key>`, `PlatformTypes`),
 * SSM Run Command's Targets (`tag:<key>`, `resource-groups:Name`), Resource Groups
 * ListGroupResources, the EC2 tag restrictions (keys 1-128 characters, values 0-256, no `aws:`
 * prefix), and the Distributed Map's ItemReader over a JSON or CSV object.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';
import { nodeListProblems, nodeNameProblem } from './node-names.js';

/**
 * The most nodes a resolution may give: 100,000 (README "Limits"). The list never travels in the
 * state (it is written to S3 and read by the Distributed Map's ItemReader), so the 256 KB payload
 * limit does not bound it. What does: resolving pages SSM's DescribeInstanceInformation 50 nodes a
 * call (2,000 calls at 100,000, within its throttle and a 15-minute Lambda), the validation and
 * the scan hold the list in one Lambda's memory (about 6 MB of JSON at 100,000), and the run's
 * summary reads one DynamoDB item per node. AWS's own limits are far above: a Distributed Map
 * reads up to 10 GB of JSON and runs up to 10,000 child executions at once.
 */
export const MAX_RESOLVED_NODES = 100_000;

/** How many tags a selection may AND (SSM Run Command's Targets take at most 5 keys). */
export const MAX_SELECTION_TAGS = 5;

/**
 * EC2 tag keys: 1-128 Unicode letters, digits, spaces and `_ . : / = + - @`; not starting with
 * `aws:` in any case (a lookahead, so the JSON Schema's `pattern` says it too).
 */
const TAG_KEY = /^(?![Aa][Ww][Ss]:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
/** EC2 tag values: 0-256 of the same characters. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
/** Resource group names: 1-300 letters, digits, `_ . -` (Resource Groups CreateGroup). */
const RESOURCE_GROUP = /^[A-Za-z0-9_.-]{1,300}$/;
/** `s3://bucket/key.json` or `.csv`: an S3 object naming the nodes. */
const MANIFEST_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+\.(json|csv))$/;

const INSTANCE_ID = /^(?:i-(?:[0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;

const TAG_KEY_ACCEPTED =
  'expected a tag key of 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:';
const TAG_VALUE_ACCEPTED =
  'expected a tag value: text of 0 to 256 letters, digits, spaces and _ . : / = + - @';
const TAGS_COUNT = `expected 1 to ${MAX_SELECTION_TAGS} tags (all must match)`;
const RESOURCE_GROUP_ACCEPTED = 'expected a Resource Group name: 1 to 300 letters, digits, _ . -';
const MANIFEST_ACCEPTED =
  'expected an S3 object of the nodes: s3://bucket/key.json or s3://bucket/key.csv';

// The selection's rules as zod schemas: parseTargetSelection checks each field with them, and
// the published JSON Schema and OpenAPI document are generated from them (rollout-input.ts).
const tagKeySchema = z.string().regex(TAG_KEY, { error: TAG_KEY_ACCEPTED });
const tagValueSchema = z
  .string({ error: TAG_VALUE_ACCEPTED })
  .regex(TAG_VALUE, { error: TAG_VALUE_ACCEPTED });
const tagsSchema = z
  .record(tagKeySchema, tagValueSchema)
  .refine((tags) => tagCountFits(Object.keys(tags).length), { error: TAGS_COUNT })
  .meta({ minProperties: 1, maxProperties: MAX_SELECTION_TAGS })
  .describe(
    `EC2/SSM tags, 1 to ${MAX_SELECTION_TAGS}, all must match (SSM Run Command's tag:<key> targets): { "Env": "prod", "Role": "web" }. Keys: 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:; values: 0 to 256 of the same`,
  );
const resourceGroupSchema = z
  .string({ error: RESOURCE_GROUP_ACCEPTED })
  .regex(RESOURCE_GROUP, { error: RESOURCE_GROUP_ACCEPTED })
  .describe(
    "A Resource Group (SSM's resource-groups:Name): its EC2 instances and managed instances that are Windows managed nodes; the others are counted as skipped",
  );
const manifestSchema = z
  .string({ error: MANIFEST_ACCEPTED })
  .regex(MANIFEST_URI, { error: MANIFEST_ACCEPTED })
  .describe(
    'A node list by reference: an S3 object under manifests/ of the artifacts bucket, a JSON array of { name, instanceId } or CSV with the header name,instanceId',
  );

/**
 * `target.select` as zod: exactly one of tags, resourceGroup, manifest. The run resolves it
 * (ResolveTarget) to Windows managed nodes only (SSM's `PlatformTypes=Windows` filter).
 */
export const targetSelectionSchema = z
  .union([
    z.strictObject({ tags: tagsSchema }),
    z.strictObject({ resourceGroup: resourceGroupSchema }),
    z.strictObject({ manifest: manifestSchema }),
  ])
  .describe(
    `Chooses the group's nodes when the run starts, instead of listing them: exactly one of tags, resourceGroup, manifest. Resolved to Windows managed nodes only (SSM's PlatformTypes=Windows filter), paged, up to ${MAX_RESOLVED_NODES.toLocaleString('en-US')} nodes; the list goes through S3`,
  );

function tagCountFits(count: number): boolean {
  return count >= 1 && count <= MAX_SELECTION_TAGS;
}

const accepts = (schema: z.ZodType, value: unknown) => schema.safeParse(value).success;

/** A group target's selection, as the user writes it: exactly one of the three. */
export type TargetSelection =
  | { readonly tags: Readonly<Record<string, string>> }
  | { readonly resourceGroup: string }
  | { readonly manifest: string };

/** How the run's nodes were chosen, as the run records and the report shows it. */
export interface TargetResolution {
  /** `tags`, `resourceGroup` or `manifest`. */
  readonly by: 'tags' | 'resourceGroup' | 'manifest';
  /** The selection as text: `tag:Env=prod AND tag:Role=web`, the group name, or the S3 URI. */
  readonly selector: string;
  /** Nodes resolved (the run's node count). */
  readonly count: number;
  /** Members left out and why, e.g. a group's instances that are not Windows managed nodes. */
  readonly skipped: number;
  readonly resolvedAt: string;
  /** The resolved list in S3 (the state never carries it): bucket, key and SHA-256. */
  readonly nodeList?: { readonly bucket: string; readonly key: string; readonly sha256: string };
  /** The first names of the list (at most 20), for the run record and the report. */
  readonly firstNodes?: readonly string[];
}

/** The selection is not well formed; every problem names its field. */
export class TargetSelectionError extends RolloutRuleError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[]) {
    super(formatProblems('target selection is invalid', problems));
    this.problems = problems;
  }
}

/** The selection resolved to no nodes, too many, or to nodes that cannot run. */
export class TargetResolutionError extends RolloutRuleError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

const SELECT_FIELD = 'target.select';

/**
 * Checks a group target that has `select`: the selection itself, and that it does not also
 * list nodes. Returns the selection.
 *
 * @throws TargetSelectionError naming every bad field and value.
 */
export function parseTargetSelection(target: unknown): TargetSelection {
  const problems: ValidationProblem[] = [];
  const t = (typeof target === 'object' && target !== null ? target : {}) as Record<
    string,
    unknown
  >;
  if (t.kind !== 'group') {
    problems.push({
      field: 'target.kind',
      value: t.kind,
      message: 'only a group is chosen by select; a cluster lists its nodes',
    });
  }
  if (t.nodes !== undefined) {
    problems.push({
      field: 'target.nodes',
      value: Array.isArray(t.nodes) ? `${t.nodes.length} node(s)` : t.nodes,
      message: 'give either nodes or select, not both',
    });
  }
  const select = t.select;
  if (typeof select !== 'object' || select === null || Array.isArray(select)) {
    problems.push({
      field: SELECT_FIELD,
      value: select,
      message: 'expected one of { tags: { Key: "Value", ... } }, { resourceGroup }, { manifest }',
    });
    throw new TargetSelectionError(problems);
  }
  const keys = Object.keys(select);
  const known = ['tags', 'resourceGroup', 'manifest'];
  for (const key of keys.filter((k) => !known.includes(k))) {
    problems.push({
      field: `${SELECT_FIELD}.${key}`,
      value: (select as Record<string, unknown>)[key],
      message: `unknown field; accepted: ${known.join(', ')}`,
    });
  }
  const given = keys.filter((k) => known.includes(k));
  if (given.length !== 1) {
    problems.push({
      field: SELECT_FIELD,
      value: select,
      message: `expected exactly one of tags, resourceGroup, manifest; ${given.length === 0 ? 'none' : given.join(' and ')} given`,
    });
    throw new TargetSelectionError(problems);
  }
  const s = select as Record<string, unknown>;
  let selection: TargetSelection | undefined;
  if (given[0] === 'tags') selection = checkTags(s.tags, problems);
  else if (given[0] === 'resourceGroup') {
    if (accepts(resourceGroupSchema, s.resourceGroup)) {
      selection = { resourceGroup: s.resourceGroup as string };
    } else {
      problems.push({
        field: `${SELECT_FIELD}.resourceGroup`,
        value: s.resourceGroup,
        message: RESOURCE_GROUP_ACCEPTED,
      });
    }
  } else if (accepts(manifestSchema, s.manifest)) {
    selection = { manifest: s.manifest as string };
  } else {
    problems.push({
      field: `${SELECT_FIELD}.manifest`,
      value: s.manifest,
      message: MANIFEST_ACCEPTED,
    });
  }
  if (problems.length > 0 || selection === undefined) throw new TargetSelectionError(problems);
  return selection;
}

function checkTags(tags: unknown, problems: ValidationProblem[]): TargetSelection | undefined {
  const field = `${SELECT_FIELD}.tags`;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    problems.push({ field, value: tags, message: 'expected { "TagKey": "value", ... }' });
    return undefined;
  }
  const entries = Object.entries(tags);
  if (!tagCountFits(entries.length)) {
    problems.push({ field, value: tags, message: TAGS_COUNT });
  }
  const before = problems.length;
  for (const [key, value] of entries) {
    const at = `${field}.${key}`;
    if (!accepts(tagKeySchema, key)) {
      problems.push({ field: at, value: key, message: TAG_KEY_ACCEPTED });
    }
    if (!accepts(tagValueSchema, value)) {
      problems.push({ field: at, value, message: TAG_VALUE_ACCEPTED });
    }
  }
  return problems.length === before ? { tags: tags as Record<string, string> } : undefined;
}

/** The selection as the report shows it. */
export function describeSelection(selection: TargetSelection): string {
  if ('tags' in selection) {
    return Object.entries(selection.tags)
      .map(([k, v]) => `tag:${k}=${v}`)
      .join(' AND ');
  }
  if ('resourceGroup' in selection) return `resource-groups:Name=${selection.resourceGroup}`;
  return selection.manifest;
}

/** Bucket and key of a manifest URI (already checked by {@link parseTargetSelection}). */
export function manifestLocation(uri: string): {
  bucket: string;
  key: string;
  format: 'json' | 'csv';
} {
  const match = MANIFEST_URI.exec(uri) as RegExpExecArray;
  return {
    bucket: match[1] as string,
    key: match[2] as string,
    format: match[3] as 'json' | 'csv',
  };
}

/**
 * The NetBIOS name of a managed node from SSM's `ComputerName` (a DNS name such as
 * `web0001.corp.example.com`): its first label, upper-cased as Windows shows NetBIOS names.
 * Undefined when that is not a NetBIOS name.
 */
export function netbiosNameOf(computerName: string | undefined): string | undefined {
  if (!computerName) return undefined;
  const label = (computerName.split('.')[0] ?? '').toUpperCase();
  return nodeNameProblem(label) === undefined ? label : undefined;
}

const manifestRow = z.strictObject({ name: z.string(), instanceId: z.string() });

/**
 * Reads a manifest: a JSON array of `{ name, instanceId }`, or CSV with the header
 * `name,instanceId` (either order) and one node a line. Every node is checked (NetBIOS name,
 * instance id, no duplicates); problems name the line or index.
 *
 * @throws TargetResolutionError listing the first problems when the manifest is not valid.
 */
export function parseManifest(
  text: string,
  format: 'json' | 'csv',
): { name: string; instanceId: string }[] {
  const field = `${SELECT_FIELD}.manifest`;
  let rows: unknown[];
  if (format === 'json') {
    try {
      rows = JSON.parse(text) as unknown[];
    } catch (error) {
      throw new TargetResolutionError(field, `not JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(rows)) {
      throw new TargetResolutionError(field, 'expected a JSON array of { name, instanceId }');
    }
  } else {
    const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
    const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
    const nameAt = header.indexOf('name');
    const idAt = header.indexOf('instanceId');
    if (nameAt < 0 || idAt < 0 || header.length !== 2) {
      throw new TargetResolutionError(
        field,
        `expected the CSV header "name,instanceId"; found ${JSON.stringify(header.join(','))}`,
      );
    }
    rows = lines.map((line) => {
      const cells = line.split(',').map((c) => c.trim());
      return cells.length === 2 ? { name: cells[nameAt], instanceId: cells[idAt] } : line;
    });
  }
  const where = (i: number) => (format === 'json' ? `[${i}]` : ` line ${i + 2}`);
  const problems: string[] = [];
  const nodes: { name: string; instanceId: string }[] = [];
  rows.forEach((row, i) => {
    const parsed = manifestRow.safeParse(row);
    if (!parsed.success) {
      problems.push(`${where(i)}: expected { name, instanceId }, found ${JSON.stringify(row)}`);
      return;
    }
    if (!INSTANCE_ID.test(parsed.data.instanceId)) {
      problems.push(
        `${where(i)}: ${JSON.stringify(parsed.data.instanceId)} is not a managed node id (i-… or mi-…)`,
      );
    }
    nodes.push(parsed.data);
  });
  for (const problem of nodeListProblems(
    nodes.map((n) => n.name),
    'name',
  )) {
    problems.push(`${problem.field} (${JSON.stringify(problem.value)}): ${problem.message}`);
  }
  const ids = new Set<string>();
  for (const node of nodes) {
    if (ids.has(node.instanceId)) problems.push(`instanceId ${node.instanceId} is listed twice`);
    ids.add(node.instanceId);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ');
    throw new TargetResolutionError(
      field,
      `${problems.length} problem(s): ${shown}${problems.length > 10 ? '; ...' : ''}`,
    );
  }
  return nodes;
}

/**
 * Checks the size of a resolution: none, or more than {@link MAX_RESOLVED_NODES}, ends the run
 * before anything is touched.
 *
 * @throws TargetResolutionError naming the selection.
 */
export function checkResolvedCount(selection: TargetSelection, count: number): void {
  const field =
    'tags' in selection
      ? `${SELECT_FIELD}.tags`
      : 'resourceGroup' in selection
        ? `${SELECT_FIELD}.resourceGroup`
        : `${SELECT_FIELD}.manifest`;
  if (count === 0) {
    throw new TargetResolutionError(
      field,
      `no Windows managed node matches ${describeSelection(selection)}; nothing was touched`,
    );
  }
  if (count > MAX_RESOLVED_NODES) {
    throw new TargetResolutionError(
      field,
      `${describeSelection(selection)} matches ${count} nodes, more than the ${MAX_RESOLVED_NODES} one run takes; split the group (nothing was touched)`,
    );
  }
}
