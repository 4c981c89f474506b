/**
 * The run store's single-table model: every item kind, its keys, and the access pattern each key
 * or index serves. No access pattern needs a Scan.
 *
 * | access pattern                                   | how                                          |
 * |--------------------------------------------------|----------------------------------------------|
 * | a run, its nodes and their updates               | Query pk = RUN#<runId>                       |
 * | one node's result in a run                       | GetItem RUN#<runId> / NODE#<node>            |
 * | runs of a target (cluster or group), newest first| Query GSI1 gsi1pk = TARGET#<target>, desc    |
 * | what ran on a node, newest first                 | Query GSI1 gsi1pk = NODE#<node>, desc        |
 * | a node's install ledger in install order         | Query pk = LEDGER#<node>, sk begins SEQ#     |
 * | the active run of a target (the lock)            | GetItem / conditional Put LOCK#<target>      |
 * | the task token waiting on an SSM invocation      | GetItem TASK#<commandId>#<instanceId>        |
 * | a request already seen (idempotency)             | GetItem IDEMPOTENCY#<key>                    |
 * | the approval a run waits on (its task token)     | GetItem RUN#<runId> / APPROVAL               |
 * | a target's compliance, one item per node (paged) | Query pk = COMPLIANCE#<target>, sk NODE#...  |
 * | one node's last assessment (and the one before)  | GetItem COMPLIANCE#<target> / NODE#<node>    |
 * | a node's last run and its update results         | GSI1 NODE#<node> desc limit 1, then RUN#...  |
 * | a staging run's nodes (issue 13 item 5)          | Query pk = RUN#<runId>, sk begins STAGING#   |
 * | what a node's staging cache holds, latest        | GetItem STAGING#<node> / LATEST              |
 *
 * Node names are stored under their NetBIOS key (upper case) so any spelling finds them.
 */
import { nodeKey } from './node-names.js';

/** Attribute names of the table and its index. */
export const KEYS = {
  partition: 'pk',
  sort: 'sk',
  gsi1Name: 'gsi1',
  gsi1Partition: 'gsi1pk',
  gsi1Sort: 'gsi1sk',
  /** Epoch seconds after which DynamoDB TTL may delete the item (task tokens, idempotency). */
  ttl: 'expiresAt',
} as const;

/** Item kinds, stored in the `kind` attribute. */
export type ItemKind =
  | 'run'
  | 'nodeResult'
  | 'updateResult'
  | 'scriptResult'
  | 'ledgerEntry'
  | 'lock'
  | 'taskToken'
  | 'idempotency'
  | 'approval'
  | 'phaseVerdict'
  | 'compliance'
  | 'staging';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Short, stable sort-key segments for the plug-ins. */
const PLUGIN_KEY: Record<string, string> = {
  'Microsoft.HotfixPlugin': 'HOTFIX',
  'Microsoft.WindowsUpdatePlugin': 'WU',
  'Rollout.Removal': 'REMOVAL',
};

/** Key builders: the only place key strings are spelled. */
export const keys = {
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  /** A phase's verdict (issue 13, item 4), in the run's partition, in phase order. */
  phaseVerdict: (runId: string, index: number) => ({
    pk: `RUN#${runId}`,
    sk: `PHASE#${pad(index, 4)}`,
  }),
  nodeResult: (runId: string, node: string) => ({
    pk: `RUN#${runId}`,
    sk: `NODE#${nodeKey(node)}`,
  }),
  /** One update's result: per node, per attempt, per plug-in, in install order. */
  updateResult: (runId: string, node: string, attempt: number, plugin: string, index: number) => ({
    pk: `RUN#${runId}`,
    sk: `NODE#${nodeKey(node)}#ATTEMPT#${pad(attempt, 2)}#${PLUGIN_KEY[plugin] ?? plugin}#UPDATE#${pad(index, 4)}`,
  }),
  /** A pre- or post-update script's outcome on a node (complete-command), per command. */
  scriptResult: (runId: string, node: string, commandId: string) => ({
    pk: `RUN#${runId}`,
    sk: `SCRIPT#${nodeKey(node)}#${commandId}`,
  }),
  ledgerEntry: (node: string, sequence: number) => ({
    pk: `LEDGER#${nodeKey(node)}`,
    sk: `SEQ#${pad(sequence, 8)}`,
  }),
  lock: (target: string) => ({ pk: `LOCK#${target.toUpperCase()}`, sk: 'LOCK' }),
  taskToken: (commandId: string, instanceId: string) => ({
    pk: `TASK#${commandId}#${instanceId}`,
    sk: 'TOKEN',
  }),
  idempotency: (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: 'REQUEST' }),
  /**
   * The approval gate a run waits on: the task token and the gate. In the run's partition, so
   * the run and its pending decision are read and deleted together.
   */
  approval: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'APPROVAL' }),
  /**
   * A node's compliance (issue 13, item 8): its last assessment, with the state before it. One
   * item per node under the target, so GET /compliance pages through the target's partition;
   * no GSI keys: nothing queries compliance across targets.
   */
  compliance: (target: string, node: string) => ({
    pk: `COMPLIANCE#${target.toUpperCase()}`,
    sk: `NODE#${nodeKey(node)}`,
  }),
  /** A node's staging in a staging run (issue 13 item 5), in that run's partition. */
  stagingResult: (runId: string, node: string) => ({
    pk: `RUN#${runId}`,
    sk: `STAGING#${nodeKey(node)}`,
  }),
  /** A node's latest staging: the digests its cache holds, for the install run and the report. */
  nodeStaging: (node: string) => ({ pk: `STAGING#${nodeKey(node)}`, sk: 'LATEST' }),
  /** GSI1 keys of a run item: history per target, newest first by start time. */
  runByTarget: (target: string, startedAt: string, runId: string) => ({
    gsi1pk: `TARGET#${target.toUpperCase()}`,
    gsi1sk: `${startedAt}#${runId}`,
  }),
  /** GSI1 keys of a node result item: what ran on a node, newest first. */
  nodeHistory: (node: string, startedAt: string, runId: string) => ({
    gsi1pk: `NODE#${nodeKey(node)}`,
    gsi1sk: `${startedAt}#${runId}`,
  }),
} as const;

/** Prefix of a node's items within a run (for begins_with). */
export const nodeResultPrefix = (node: string) => `NODE#${nodeKey(node)}`;
/** Prefix of a node's update results within a run, every attempt (for begins_with). */
export const nodeUpdatesPrefix = (node: string) => `NODE#${nodeKey(node)}#ATTEMPT#`;
/** Prefix of ledger entries (for begins_with). */
export const LEDGER_SORT_PREFIX = 'SEQ#';
