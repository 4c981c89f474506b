/**
 * The run store: locks, run history, install ledgers and task tokens in one DynamoDB table, on the
 * model of `core/run-store-model.ts` (keys come only from its `keys` builders). Every read is a
 * GetItem or a fully paginated Query; nothing scans. Writes that two callers could race on are
 * conditional, and a lost race surfaces as an error with a stable `name` the state machine can
 * match. Throttling and other transient SDK errors propagate unchanged, for the caller's Retry.
 *
 * The DynamoDB client is passed in (powertools style), so tests hand in a mocked client.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DocumentKey, NodeStatus, RunStatus, UpdateResult } from '../core/contracts.js';
import { type InstallLedger, type LedgerEntry, validateLedger } from '../core/install-ledger.js';
import { nodeKey, sameNode } from '../core/node-names.js';
import type { NodeOrderRecord } from '../core/node-order.js';
import type { StillApplicable } from '../core/rescan.js';
import { type ItemKind, KEYS, keys, LEDGER_SORT_PREFIX } from '../core/run-store-model.js';
import type { NodeStaging } from '../core/staging.js';
import { requiredEnv, tracer } from './runtime.js';

/** A phase's verdict as stored for the report (issue 13, item 4). */
export interface StoredPhaseVerdict {
  readonly index: number;
  readonly name: string;
  readonly nodes: readonly string[];
  readonly failed: readonly string[];
  readonly failuresAllowed: number;
  readonly passed: boolean;
  readonly advance: 'bake' | 'approval' | 'none';
  readonly reason: string;
  readonly judgedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Domain records (what the store returns: no key attributes, no `kind`)

/** The lock that makes one run at a time the active run of a target. */
export interface LockRecord {
  readonly target: string;
  /** The run holding the lock. */
  readonly holder: string;
  readonly acquiredAt: string;
  /**
   * ISO 8601 UTC. For a lock that names its execution, only how long a competitor waits for an
   * execution it cannot see yet (a claim whose StartExecution has not landed); a live execution
   * keeps its lock whatever this says. For a lock without an execution, when it lapses.
   */
  readonly leaseExpiresAt: string;
  /**
   * The holder's Step Functions execution ARN. While that execution is RUNNING nobody takes the
   * lock, by time or by force; once it is not, a competitor or ForceRecovery may.
   */
  readonly execution?: string;
  /** Set when the lock was taken over from a holder whose execution had ended (who, and why). */
  readonly takenOverFrom?: string;
}

/** A run, as stored in run history. */
/** The run policy's figures the report shows (issue 11). */
export interface ResolvedPolicyRecord {
  readonly maxConcurrency: number;
  readonly maxConcurrencyPercent?: number;
  readonly maxFailedNodesPercent?: number;
}

export interface RunRecord {
  readonly runId: string;
  /** The cluster or group the run updates. */
  readonly target: string;
  readonly targetKind?: 'cluster' | 'group';
  /** The nodes of the run, in update order. */
  readonly nodes: readonly string[];
  /** How many nodes may fail before the run counts as failed (the resolved run policy). */
  readonly maxFailedNodes: number;
  /** How the nodes were chosen when the target was a selection (issue 11): by, selector, count. */
  readonly targetResolution?: {
    readonly by: 'tags' | 'resourceGroup' | 'manifest';
    readonly selector: string;
    readonly count: number;
    readonly skipped: number;
    readonly resolvedAt: string;
    /** The resolved list in S3 when `nodes` holds only its first names (issue 11). */
    readonly nodeList?: { readonly bucket: string; readonly key: string; readonly sha256: string };
    readonly firstNodes?: readonly string[];
  };
  /** Issue 11: maxConcurrency as resolved against the nodes, and the percentages written. */
  readonly resolvedPolicy?: ResolvedPolicyRecord;
  readonly status: RunStatus;
  readonly startedAt: string;
  /** When StopAfter ends the run (startedAt + stopAfter); absent without StopAfter. */
  readonly stopAt?: string;
  /** When WarnAfter passes (startedAt + warnAfter); absent without WarnAfter. */
  readonly warnAt?: string;
  /** When the run noticed it had passed WarnAfter (set once; the event and metric go with it). */
  readonly warnAfterPassedAt?: string;
  /** The rollout's rebootOption when not IfRequired (issue 13, item 3). */
  readonly rebootOption?: 'Never' | 'Always';
  /** How a cluster run without policy.nodeOrder ordered its nodes (issue 13, item 7). */
  readonly nodeOrder?: NodeOrderRecord;
  readonly finishedAt?: string;
  /** Set by a cancel request; the run finishes as `Cancelled`. */
  readonly cancelRequested?: boolean;
  /** When the first cancel request was made (see {@link RunStore.requestCancel}). */
  readonly cancelRequestedAt?: string;
  /** Who made the first cancel request (the caller's IAM identity or the name it gave). */
  readonly cancelRequestedBy?: string;
  /** Why, as the first cancel request said. */
  readonly cancelReason?: string;
  /**
   * Set by the first node whose storage repair outlasted WaitForStorageRepairTimeoutMinutes
   * (issue 13, item 6): no node of the run starts after it (a group's preflight refuses, as the
   * failure budget stops a cluster), and the run ends Failed with the reason.
   */
  readonly haltedBy?: RunHalt;
  /** Why the run was marked failed, when it was. */
  readonly failureReason?: string;
  /** The final summary, written when the run finishes. */
  readonly summary?: unknown;
  /** The Step Functions execution that runs it. */
  readonly execution?: string;
  /** The change ticket the run was requested under. */
  readonly changeTicket?: { readonly system: string; readonly id: string; readonly url?: string };
  readonly requestedBy?: string;
  /** The last lifecycle event sequence number taken (see {@link RunStore.nextEventSequence}). */
  readonly eventSequence?: number;
  /** Set when an operator broke the run's lock (ForceRecovery): who, why and when. */
  readonly forceRecovery?: ForceRecoveryRecord;
}

/** An operator broke a run's lock after its execution had ended (CAU's ForceRecovery). */
export interface ForceRecoveryRecord {
  readonly recoveredAt: string;
  readonly recoveredBy: string;
  readonly reason: string;
  /** What Step Functions said of the holder's execution, or LEASE_EXPIRED for a lock without one. */
  readonly executionStatus: string;
  readonly execution?: string;
  readonly lockAcquiredAt: string;
}

/** Fields {@link RunStore.updateRunStatus} may set besides the status. */
export interface RunStatusFields {
  readonly finishedAt?: string;
  readonly failureReason?: string;
  readonly cancelRequested?: boolean;
  readonly summary?: unknown;
}

/** One node's result in a run. */
export interface NodeResultRecord {
  readonly runId: string;
  readonly node: string;
  readonly status: NodeStatus;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Attempts made on the node, the first included. */
  readonly attempts?: number;
  readonly detail?: string;
  readonly instanceId?: string;
  /** The node was drained during its update (and so resumed). */
  readonly drained?: boolean;
  /** The node ended still drained: its resume failed and it is left Paused. */
  readonly leftPaused?: boolean;
  /**
   * Cluster members this node's inventory found not Up before anything was drained (e.g.
   * `NODE3 is Paused`): the run stops (`ClusterNodeNotUp`) and this node is NotStarted.
   */
  readonly clusterNotUp?: string;
  /**
   * Resumed, but its storage repair jobs outlasted WaitForStorageRepairTimeoutMinutes: the run
   * stops before the next node (issue 13, item 6).
   */
  readonly storageRepairTimedOut?: boolean;
  readonly restarts?: number;
  readonly execution?: string;
  /** What the rescan after the final restart found still applicable, and why (issue 13 item 6). */
  readonly stillApplicable?: readonly StillApplicable[];
  /** The rescan's Windows Update search failed: the list holds only the hotfixes. */
  readonly rescanError?: string;
}

/** What {@link RunStore.putNodeResult} takes: the record without the run and node it is keyed by. */
export type NodeResultInput = Omit<NodeResultRecord, 'runId' | 'node'>;

/** One update's result in a run, per node and attempt. */
export interface StoredUpdateResult extends UpdateResult {
  readonly runId: string;
  readonly node: string;
  readonly attempt: number;
}

/** A pre- or post-update script's outcome on a node, as complete-command saw it. */
export interface ScriptResultRecord {
  readonly runId: string;
  readonly node: string;
  readonly phase: 'pre' | 'post';
  readonly commandId: string;
  /** SSM's status: Success, Failed, TimedOut, ... */
  readonly status: string;
  /** The script's exit code (SSM's ResponseCode; -1 when it never ran). */
  readonly exitCode: number;
  /** The end of its output (stdout, then stderr). */
  readonly outputTail: string;
  readonly completedAt: string;
}

/** Everything stored under a run: the run, its node results and its update results. */
/** A node's staging as stored (issue 13 item 5): its summary, the run and when. */
export interface StagingRecord extends NodeStaging {
  readonly runId: string;
  readonly stagedAt: string;
}

export interface RunItems {
  readonly run?: RunRecord;
  readonly nodes: readonly NodeResultRecord[];
  readonly updates: readonly StoredUpdateResult[];
  /** The pre- and post-update scripts' outcomes, in the order they completed. */
  readonly scripts?: readonly ScriptResultRecord[];
  /** Phase verdicts (issue 13, item 4), in phase order; absent when the run has none. */
  readonly phases?: readonly StoredPhaseVerdict[];
}

/** A page of a target's runs, newest first. */
export interface RunPage {
  readonly runs: readonly RunRecord[];
  /** Pass back to get the next page; absent on the last page. */
  readonly cursor?: string;
}

/**
 * A request seen before, under its idempotency key: which run it started, and a hash of the
 * request, so the same key with another request is told apart from a retry.
 */
export interface IdempotencyRecord {
  readonly key: string;
  /** SHA-256 (hex) of the request as first received. */
  readonly requestHash: string;
  readonly runId: string;
  readonly createdAt: string;
  /** The execution, once started; absent while the start is in flight or after it failed. */
  readonly executionArn?: string;
  /** Epoch seconds; the table's TTL attribute. After it the key may be used again. */
  readonly expiresAt: number;
}

/** The approval gate a run waits on: the task token its approve or reject completes. */
export interface ApprovalRecord {
  readonly runId: string;
  readonly taskToken: string;
  /** The cluster or group name. */
  readonly target: string;
  /** The pilot: how many nodes were updated before the gate. */
  readonly afterNodes: number;
  readonly timeoutMinutes: number;
  readonly changeTicket: {
    readonly system: string;
    readonly id: string;
    readonly url?: string;
  } | null;
  /** When the run reached the gate (ISO 8601 UTC). */
  readonly requestedAt: string;
  /** Epoch seconds; the table's TTL attribute (after the gate's timeout). */
  readonly expiresAt: number;
  /** The health gate holding the run, when it is not the pilot (issue 13, item 1). */
  readonly heldBy?: string;
  /** The phase the gate belongs to (issue 13, items 1 and 4). */
  readonly phase?: { readonly index: number; readonly name: string };
}

/** What {@link RunStore.haltNewNodes} records on the run: why no node may start any more. */
export interface RunHalt {
  readonly error: 'StorageRepairTimedOut';
  readonly node: string;
  readonly reason: string;
  readonly at: string;
}

/** What {@link RunStore.requestCancel} records on the run. */
export interface CancelRequest {
  readonly requestedAt: string;
  readonly requestedBy?: string;
  readonly reason?: string;
}

/** The task token a workflow waits on until an SSM command invocation ends. */
export interface TaskTokenRecord {
  readonly commandId: string;
  readonly instanceId: string;
  readonly taskToken: string;
  readonly runId: string;
  readonly node: string;
  readonly document: DocumentKey;
  /** For a runScript command: the pre- or the post-update script. */
  readonly phase?: 'pre' | 'post';
  /** Epoch seconds; the table's TTL attribute, so a token nobody completed is deleted. */
  readonly expiresAt: number;
}

// ---------------------------------------------------------------------------------------------
// Errors: `name` is what Step Functions' Catch and Retry match on, so it is stable.

/** Base of the run store's errors. */
export class RunStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunStoreError';
  }
}

/** Another run holds the target's lock and its lease has not expired. */
export class LockHeldError extends RunStoreError {
  /** The holder's execution ARN, when its lock names one. */
  readonly execution: string | undefined;

  constructor(
    readonly target: string,
    readonly holder: string | undefined,
    readonly leaseExpiresAt: string | undefined,
    options?: { cause?: unknown; execution?: string | undefined },
  ) {
    super(
      options?.execution === undefined
        ? `target ${JSON.stringify(target)} is locked by run ${holder ?? '(unknown)'} until ${leaseExpiresAt ?? '(unknown)'}; a run may start when that run releases the lock or the lease expires`
        : `target ${JSON.stringify(target)} is locked by run ${holder ?? '(unknown)'}, whose execution ${options.execution} is still running; a run may start when that run ends`,
      options,
    );
    this.name = 'LockHeld';
    this.execution = options?.execution;
  }
}

/** The run no longer holds the lock it tries to renew (it expired and another run took it). */
export class LockLostError extends RunStoreError {
  constructor(
    readonly target: string,
    readonly runId: string,
    readonly holder: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `run ${runId} no longer holds the lock of target ${JSON.stringify(target)}: ${
        holder === undefined ? 'the lock was released' : `run ${holder} holds it now`
      }; stop changing the target's nodes`,
      options,
    );
    this.name = 'LockLost';
  }
}

/** Another writer took a ledger sequence first, or the entry to mark removed is not installed. */
export class LedgerConflictError extends RunStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LedgerConflict';
  }
}

/** BatchWrite left items unprocessed after every retry. */
export class UnprocessedItemsError extends RunStoreError {
  constructor(
    readonly unprocessed: number,
    attempts: number,
  ) {
    super(
      `${unprocessed} item(s) still unprocessed after ${attempts} BatchWriteItem attempts; the table is throttled, retry later`,
    );
    this.name = 'UnprocessedItems';
  }
}

/** A run with this id is already stored. */
export class RunExistsError extends RunStoreError {
  constructor(
    readonly runId: string,
    options?: { cause?: unknown },
  ) {
    super(`run ${runId} already exists; a run id is used once`, options);
    this.name = 'RunExists';
  }
}

/** No run with this id is stored. */
export class RunNotFoundError extends RunStoreError {
  constructor(
    readonly runId: string,
    options?: { cause?: unknown },
  ) {
    super(`run ${runId} does not exist; start it (startRun) before updating it`, options);
    this.name = 'RunNotFound';
  }
}

/** A run that is not `Running` cannot be cancelled. */
export class RunNotRunningError extends RunStoreError {
  constructor(
    readonly runId: string,
    readonly status: RunStatus,
    options?: { cause?: unknown },
  ) {
    super(`run ${runId} is ${status}, not Running; only a running run can be cancelled`, options);
    this.name = 'RunNotRunning';
  }
}

/** A list cursor that this store did not hand out for this target. */
export class InvalidCursorError extends RunStoreError {
  constructor(cursor: string, reason: string) {
    super(
      `cursor ${JSON.stringify(cursor.slice(0, 60))}: ${reason}; pass back the cursor of the previous page unchanged`,
    );
    this.name = 'InvalidCursor';
  }
}

// ---------------------------------------------------------------------------------------------
// Store

type Item = Record<string, unknown>;

/** Options of {@link RunStore}. */
export interface RunStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * BatchWriteItem calls per batch before unprocessed items become an error.
   * @default 5
   */
  readonly batchWriteAttempts?: number;
  /** Waits between BatchWriteItem retries. @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

const BATCH_SIZE = 25;
const BATCH_BASE_DELAY_MS = 100;
const BATCH_MAX_DELAY_MS = 2_000;
const DEFAULT_PAGE_SIZE = 20;
const KEY_ATTRIBUTES: ReadonlySet<string> = new Set([
  KEYS.partition,
  KEYS.sort,
  KEYS.gsi1Partition,
  KEYS.gsi1Sort,
  'kind',
]);

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The table's repository. One instance per container; it holds no state between calls. */
export class RunStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly batchWriteAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: RunStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.batchWriteAttempts = options.batchWriteAttempts ?? 5;
    this.sleep = options.sleep ?? sleepFor;
  }

  // -------------------------------------------------------------------------------------------
  // Lock. Lease times are ISO 8601 UTC strings from toISOString(), which sort as they compare,
  // so DynamoDB's string `<` is a time comparison.

  /**
   * Takes the target's lock for `runId` (run by `execution`, when given): when nobody holds it,
   * when `runId` already holds it for the same execution or for none yet (a claim this
   * execution adopts; the lease is renewed), or when the holder named no execution and its
   * lease has expired. A lock that names an execution is never taken here by time: the caller
   * asks Step Functions whether that execution still runs and then calls {@link takeOverLock}.
   * @throws LockHeldError naming the holder, its execution and its lease when another holds it.
   */
  async acquireLock(
    target: string,
    runId: string,
    leaseSeconds: number,
    now: Date,
    execution?: string,
  ): Promise<LockRecord> {
    const lock: LockRecord = {
      target,
      holder: runId,
      acquiredAt: now.toISOString(),
      leaseExpiresAt: leaseEnd(now, leaseSeconds),
      ...(execution === undefined ? {} : { execution }),
    };
    const sameHolder =
      execution === undefined
        ? '#holder = :runId'
        : '(#holder = :runId AND (attribute_not_exists(#execution) OR #execution = :execution))';
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.lock(target), kind: kind('lock'), ...lock },
          ConditionExpression: `attribute_not_exists(#pk) OR ${sameHolder} OR (attribute_not_exists(#execution) AND #leaseExpiresAt < :now)`,
          ExpressionAttributeNames: {
            '#pk': KEYS.partition,
            '#leaseExpiresAt': 'leaseExpiresAt',
            '#holder': 'holder',
            '#execution': 'execution',
          },
          ExpressionAttributeValues: {
            ':now': now.toISOString(),
            ':runId': runId,
            ...(execution === undefined ? {} : { ':execution': execution }),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      throw await this.lockHeld(target, error);
    }
    return lock;
  }

  /**
   * Takes the lock from `previous`, a holder whose execution the caller saw ended: only if the
   * lock is still exactly that holder's (same run, same acquisition), so two competitors that
   * both saw it end cannot both win.
   * @throws LockHeldError when the lock changed since `previous` was read.
   */
  async takeOverLock(
    previous: LockRecord,
    runId: string,
    leaseSeconds: number,
    now: Date,
    execution?: string,
  ): Promise<LockRecord> {
    const lock: LockRecord = {
      target: previous.target,
      holder: runId,
      acquiredAt: now.toISOString(),
      leaseExpiresAt: leaseEnd(now, leaseSeconds),
      ...(execution === undefined ? {} : { execution }),
      takenOverFrom: previous.holder,
    };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.lock(previous.target), kind: kind('lock'), ...lock },
          ConditionExpression: '#holder = :holder AND #acquiredAt = :acquiredAt',
          ExpressionAttributeNames: { '#holder': 'holder', '#acquiredAt': 'acquiredAt' },
          ExpressionAttributeValues: {
            ':holder': previous.holder,
            ':acquiredAt': previous.acquiredAt,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      throw await this.lockHeld(previous.target, error);
    }
    return lock;
  }

  /**
   * Breaks the lock `previous` (ForceRecovery): deletes it only if it is still exactly that
   * holder's. Returns false when the lock changed or is gone.
   */
  async breakLock(previous: LockRecord): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.lock(previous.target),
          ConditionExpression: '#holder = :holder AND #acquiredAt = :acquiredAt',
          ExpressionAttributeNames: { '#holder': 'holder', '#acquiredAt': 'acquiredAt' },
          ExpressionAttributeValues: {
            ':holder': previous.holder,
            ':acquiredAt': previous.acquiredAt,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Releases the lock if `execution` holds it (the status-change rule's release of a run that
   * ended without its own). Returns false when another execution holds it or nobody does.
   */
  async releaseLockOfExecution(target: string, execution: string): Promise<boolean> {
    return this.deleteIfAttributeIs(keys.lock(target), 'execution', ':execution', execution);
  }

  /** The LockHeldError for a failed condition, with the holder from ALL_OLD or a fresh read. */
  private async lockHeld(target: string, error: unknown): Promise<LockHeldError> {
    let holder = oldAttribute(error, 'holder');
    let leaseExpiresAt = oldAttribute(error, 'leaseExpiresAt');
    let execution = oldAttribute(error, 'execution');
    if (holder === undefined) {
      // Not every DynamoDB implementation returns the old item (dynalite does not): read it.
      const current = await this.getLock(target).catch(() => undefined);
      holder = current?.holder;
      leaseExpiresAt = current?.leaseExpiresAt;
      execution = current?.execution;
    }
    return new LockHeldError(target, holder, leaseExpiresAt, { cause: error, execution });
  }

  /**
   * Extends the lease of a lock `runId` holds.
   * @throws LockLostError when `runId` does not hold the lock (any more).
   */
  async renewLock(
    target: string,
    runId: string,
    leaseSeconds: number,
    now: Date,
  ): Promise<LockRecord> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.lock(target),
          UpdateExpression: 'SET #leaseExpiresAt = :lease, #renewedAt = :now',
          ConditionExpression: '#holder = :runId',
          ExpressionAttributeNames: {
            '#leaseExpiresAt': 'leaseExpiresAt',
            '#renewedAt': 'renewedAt',
            '#holder': 'holder',
          },
          ExpressionAttributeValues: {
            ':lease': leaseEnd(now, leaseSeconds),
            ':now': now.toISOString(),
            ':runId': runId,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toLock(out.Attributes ?? {});
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      throw new LockLostError(target, runId, oldAttribute(error, 'holder'), { cause: error });
    }
  }

  /**
   * Releases the lock if `runId` holds it. Returns false, and deletes nothing, when another run
   * holds it or nobody does: a run never frees a lock it lost.
   */
  async releaseLock(target: string, runId: string): Promise<boolean> {
    return this.deleteIfAttributeIs(keys.lock(target), 'holder', ':runId', runId);
  }

  /**
   * Deletes the item only while `attribute` still holds `value`; false when it does not (or the
   * item is gone). Locks and approval tokens: never delete what another run or gate now owns.
   */
  private async deleteIfAttributeIs(
    key: Record<string, string>,
    attribute: string,
    placeholder: `:${string}`,
    value: string,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ConditionExpression: `#${attribute} = ${placeholder}`,
          ExpressionAttributeNames: { [`#${attribute}`]: attribute },
          ExpressionAttributeValues: { [placeholder]: value },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** The target's lock, expired or not; undefined when nobody holds it. */
  async getLock(target: string): Promise<LockRecord | undefined> {
    const item = await this.get(keys.lock(target));
    return item && toLock(item);
  }

  // -------------------------------------------------------------------------------------------
  // Run history

  /**
   * Stores a new run (with its GSI1 keys, so the target's history lists it).
   * @throws RunExistsError when the run id is taken.
   */
  async putRun(run: RunRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item(
            {
              ...keys.run(run.runId),
              ...keys.runByTarget(run.target, run.startedAt, run.runId),
              kind: kind('run'),
            },
            run,
          ),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new RunExistsError(run.runId, { cause: error });
      throw error;
    }
  }

  /**
   * Sets a run's status and the given fields; returns the run as stored after the update.
   * @throws RunNotFoundError when the run does not exist (it never creates a partial run).
   */
  async updateRunStatus(
    runId: string,
    status: RunStatus,
    fields: RunStatusFields = {},
  ): Promise<RunRecord> {
    const names: Record<string, string> = { '#pk': KEYS.partition, '#status': 'status' };
    const values: Record<string, unknown> = { ':status': status };
    const sets = ['#status = :status'];
    Object.entries(withoutUndefined(fields)).forEach(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    });
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(runId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toDomain<RunRecord>(out.Attributes ?? {});
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new RunNotFoundError(runId, { cause: error });
      throw error;
    }
  }

  /**
   * Marks the run as past WarnAfter, once: true for the first caller (who publishes the event
   * and counts the metric), false when it was marked already or the run does not exist.
   */
  async markWarnAfterPassed(runId: string, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(runId),
          UpdateExpression: 'SET #passed = :at',
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#passed)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#passed': 'warnAfterPassedAt' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** Records how the run ordered its nodes (computed, or given and why); a retry rewrites it. */
  /**
   * Stops new nodes of the run from starting (issue 13, item 6): the first halt is kept (a
   * retry, or a second node timing out, does not replace the reason the run stopped for).
   */
  async haltNewNodes(runId: string, halt: RunHalt): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.run(runId),
        UpdateExpression: 'SET #halted = if_not_exists(#halted, :halt)',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': KEYS.partition, '#halted': 'haltedBy' },
        ExpressionAttributeValues: { ':halt': halt },
      }),
    );
  }

  async recordNodeOrder(runId: string, order: NodeOrderRecord): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.run(runId),
        UpdateExpression: 'SET #order = :order',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': KEYS.partition, '#order': 'nodeOrder' },
        ExpressionAttributeValues: { ':order': order },
      }),
    );
  }

  /**
   * Records a ForceRecovery on the run, and ends the run `Failed` with the reason when it was
   * still recorded `Running` (its execution has ended, so nothing else will). Undefined when no
   * such run is stored (its execution ended before it recorded itself).
   */
  async recordForceRecovery(
    runId: string,
    recovery: ForceRecoveryRecord,
  ): Promise<{ run: RunRecord; markedFailed: boolean } | undefined> {
    let run: RunRecord;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(runId),
          UpdateExpression: 'SET #forceRecovery = :recovery',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#forceRecovery': 'forceRecovery' },
          ExpressionAttributeValues: { ':recovery': withoutUndefined({ ...recovery }) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      run = toDomain<RunRecord>(out.Attributes ?? {});
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
    if (run.status !== 'Running') return { run, markedFailed: false };
    const failed = await this.updateRunStatus(runId, 'Failed', {
      finishedAt: recovery.recoveredAt,
      failureReason: `its execution ended (${recovery.executionStatus}) without recording its end; the lock was broken by ForceRecovery (${recovery.recoveredBy}: ${recovery.reason})`,
    });
    return { run: failed, markedFailed: true };
  }

  /**
   * Takes the run's next lifecycle event sequence number: an atomic ADD on the run item, so
   * numbers are unique and increasing however many nodes record at once. The first is 1.
   * Returns the run as stored after the update, so the caller need not read it.
   * @throws RunNotFoundError when the run does not exist (it never creates a partial run).
   */
  async nextEventSequence(runId: string): Promise<{ sequence: number; run: RunRecord }> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(runId),
          UpdateExpression: 'ADD #eventSequence :one',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#eventSequence': 'eventSequence' },
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const run = toDomain<RunRecord>(out.Attributes ?? {});
      const sequence = run.eventSequence;
      if (typeof sequence !== 'number') {
        throw new RunStoreError(
          `run ${runId}: the update returned no eventSequence (${JSON.stringify(sequence)}); expected a number`,
        );
      }
      return { sequence, run };
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new RunNotFoundError(runId, { cause: error });
      throw error;
    }
  }

  /** A run, read consistently; undefined when it does not exist. */
  async getRun(runId: string): Promise<RunRecord | undefined> {
    const found = await this.get(keys.run(runId));
    return found && toDomain<RunRecord>(found);
  }

  /**
   * A page of the target's runs, newest first. `cursor` is the previous page's cursor; it is
   * opaque (base64url of the last key) and checked to belong to this target.
   */
  async listRunsByTarget(
    target: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<RunPage> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`limit ${limit}: expected a whole number of runs, 1 or more`);
    }
    const partition = keys.runByTarget(target, '', '').gsi1pk;
    let startKey =
      options.cursor === undefined ? undefined : decodeCursor(options.cursor, partition);
    const runs: RunRecord[] = [];
    // A page can hold fewer items than asked (1 MB per Query): keep reading until it is full.
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: KEYS.gsi1Name,
          KeyConditionExpression: '#gsi1pk = :gsi1pk',
          ExpressionAttributeNames: { '#gsi1pk': KEYS.gsi1Partition },
          ExpressionAttributeValues: { ':gsi1pk': partition },
          ScanIndexForward: false,
          Limit: limit - runs.length,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      runs.push(...(page.Items ?? []).map((found) => toDomain<RunRecord>(found)));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && runs.length < limit);
    return { runs, ...(startKey === undefined ? {} : { cursor: encodeCursor(startKey) }) };
  }

  /** Stores (or replaces) a node's result in a run, with the node-history GSI1 keys. */
  /**
   * Stores a phase's verdict (issue 13, item 4) for the report; a retry writes the same item.
   */
  async putPhaseVerdict(runId: string, verdict: StoredPhaseVerdict): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item(
          { ...keys.phaseVerdict(runId, verdict.index), kind: kind('phaseVerdict') },
          { ...verdict, runId },
        ),
      }),
    );
  }

  async putNodeResult(runId: string, node: string, result: NodeResultInput): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item(
          {
            ...keys.nodeResult(runId, node),
            ...keys.nodeHistory(node, result.startedAt, runId),
            kind: kind('nodeResult'),
          },
          { ...result, runId, node },
        ),
      }),
    );
  }

  /**
   * Stores the update results of one attempt on one node: BatchWriteItem in chunks of 25,
   * retrying unprocessed items with backoff.
   * @throws UnprocessedItemsError when items stay unprocessed after every attempt.
   */
  async putUpdateResults(
    runId: string,
    node: string,
    attempt: number,
    results: readonly UpdateResult[],
  ): Promise<void> {
    const items = results.map((result) =>
      item(
        {
          ...keys.updateResult(runId, node, attempt, result.plugin, result.index),
          kind: kind('updateResult'),
        },
        { ...result, runId, node, attempt },
      ),
    );
    for (let start = 0; start < items.length; start += BATCH_SIZE) {
      await this.batchPut(items.slice(start, start + BATCH_SIZE));
    }
  }

  /** This run's update results on one node, every attempt (the rescan's explanation reads them). */
  async getNodeUpdateResults(runId: string, node: string): Promise<StoredUpdateResult[]> {
    const found = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: {
        ':pk': keys.run(runId).pk,
        ':sk': `NODE#${nodeKey(node)}#ATTEMPT#`,
      },
      ConsistentRead: true,
    });
    return found
      .filter((each) => each.kind === 'updateResult')
      .map((each) => toDomain<StoredUpdateResult>(each));
  }

  /**
   * Records a node's staging (issue 13 item 5): in the staging run's partition, and as the node's
   * latest staging, which says what its cache holds. A retry writes the same items.
   */
  async putStaging(record: StagingRecord): Promise<void> {
    // Two PutItems (the run-history role has no BatchWriteItem): the run's item first, so a
    // node's latest staging never names a run without it.
    for (const keyAttributes of [
      keys.stagingResult(record.runId, record.node),
      keys.nodeStaging(record.node),
    ]) {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item({ ...keyAttributes, kind: kind('staging') }, record),
        }),
      );
    }
  }

  /** The latest staging of a node, or undefined when it was never staged. */
  async getNodeStaging(node: string): Promise<StagingRecord | undefined> {
    const found = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.nodeStaging(node),
        ConsistentRead: true,
      }),
    );
    return found.Item === undefined ? undefined : toDomain<StagingRecord>(found.Item);
  }

  /** Every node of a staging run, in node-key order. */
  async getStagingOfRun(runId: string): Promise<StagingRecord[]> {
    const found = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: { ':pk': keys.run(runId).pk, ':prefix': 'STAGING#' },
      ConsistentRead: true,
    });
    return found.map((each) => toDomain<StagingRecord>(each));
  }

  /** Records a pre- or post-update script's outcome (complete-command). */
  async putScriptResult(record: ScriptResultRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item(
          {
            ...keys.scriptResult(record.runId, record.node, record.commandId),
            kind: kind('scriptResult'),
          },
          record,
        ),
      }),
    );
  }

  /** The run, its node results and its update results (one fully paginated, consistent Query). */
  async getRunItems(runId: string): Promise<RunItems> {
    const found = await this.queryAll({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': KEYS.partition },
      ExpressionAttributeValues: { ':pk': keys.run(runId).pk },
      ConsistentRead: true,
    });
    let run: RunRecord | undefined;
    const nodes: NodeResultRecord[] = [];
    const updates: StoredUpdateResult[] = [];
    const scripts: ScriptResultRecord[] = [];
    const phases: StoredPhaseVerdict[] = [];
    for (const each of found) {
      if (each.kind === 'run') run = toDomain<RunRecord>(each);
      else if (each.kind === 'nodeResult') nodes.push(toDomain<NodeResultRecord>(each));
      else if (each.kind === 'updateResult') updates.push(toDomain<StoredUpdateResult>(each));
      else if (each.kind === 'scriptResult') scripts.push(toDomain<ScriptResultRecord>(each));
      else if (each.kind === 'phaseVerdict') {
        const { runId: _, ...verdict } = toDomain<StoredPhaseVerdict & { runId: string }>(each);
        phases.push(verdict);
      }
    }
    scripts.sort((a, b) => a.completedAt.localeCompare(b.completedAt));
    phases.sort((a, b) => a.index - b.index);
    return {
      ...(run === undefined ? {} : { run }),
      nodes,
      updates,
      scripts,
      ...(phases.length > 0 ? { phases } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Install ledger

  /**
   * A node's install ledger in install order, validated.
   * @throws LedgerError (core) when the stored entries do not form a valid ledger.
   */
  async getLedger(node: string): Promise<InstallLedger> {
    const found = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: {
        ':pk': keys.ledgerEntry(node, 0).pk,
        ':prefix': LEDGER_SORT_PREFIX,
      },
      ConsistentRead: true,
    });
    const entries = found.map((each) => toDomain<LedgerEntry>(each));
    // The first entry's spelling of the node is the ledger's, so recordInstall keeps it.
    return validateLedger({ node: entries[0]?.node ?? node, entries });
  }

  /**
   * Writes new ledger entries, each only if its sequence is free, so two writers can never both
   * take a sequence. Entries are written in order; a conflict stops at that entry.
   * @throws LedgerConflictError when a sequence is already taken: re-read the ledger and retry.
   */
  async appendLedgerEntries(node: string, entries: readonly LedgerEntry[]): Promise<void> {
    for (const entry of entries) {
      if (!sameNode(entry.node, node)) {
        throw new RunStoreError(
          `ledger entry ${entry.sequence} (${entry.updateId}) is for node ${JSON.stringify(entry.node)}, not ${JSON.stringify(node)}`,
        );
      }
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item(
              { ...keys.ledgerEntry(node, entry.sequence), kind: kind('ledgerEntry') },
              entry,
            ),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': KEYS.partition },
          }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        throw new LedgerConflictError(
          `cannot record ${entry.updateId} on node ${JSON.stringify(node)}: ledger sequence ${entry.sequence} is already taken, another writer recorded an install at the same time; re-read the ledger and record again`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Marks the node's ledger entries installed by the run (and not removed) as
   * `installedPendingReboot` (rebootOption Never left a restart pending); returns how many.
   */
  async markLedgerPendingReboot(node: string, runId: string): Promise<number> {
    const entries = (await this.getLedger(node)).entries.filter(
      (e) => e.runId === runId && e.removedAt === undefined,
    );
    for (const entry of entries) {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.ledgerEntry(node, entry.sequence),
          UpdateExpression: 'SET #pending = :true',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition, '#pending': 'installedPendingReboot' },
          ExpressionAttributeValues: { ':true': true },
        }),
      );
    }
    return entries.length;
  }

  /**
   * Marks an installed ledger entry removed; returns the entry as stored.
   * @throws LedgerConflictError when the entry does not exist or is already removed.
   */
  async markRemoved(
    node: string,
    sequence: number,
    removal: { readonly removedAt: string; readonly removedByRunId?: string },
  ): Promise<LedgerEntry> {
    const byRun = removal.removedByRunId !== undefined;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.ledgerEntry(node, sequence),
          UpdateExpression: `SET #removedAt = :removedAt${byRun ? ', #removedByRunId = :runId' : ''}`,
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#removedAt)',
          ExpressionAttributeNames: {
            '#pk': KEYS.partition,
            '#removedAt': 'removedAt',
            ...(byRun ? { '#removedByRunId': 'removedByRunId' } : {}),
          },
          ExpressionAttributeValues: {
            ':removedAt': removal.removedAt,
            ...(byRun ? { ':runId': removal.removedByRunId } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toDomain<LedgerEntry>(out.Attributes ?? {});
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      throw new LedgerConflictError(
        `cannot mark ledger sequence ${sequence} of node ${JSON.stringify(node)} removed: it does not exist or is already removed`,
        { cause: error },
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Task tokens

  /** Stores the token a workflow waits on until the invocation (commandId, instanceId) ends. */
  async putTaskToken(
    commandId: string,
    instanceId: string,
    token: Omit<TaskTokenRecord, 'commandId' | 'instanceId'>,
  ): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item(
          { ...keys.taskToken(commandId, instanceId), kind: kind('taskToken') },
          { ...token, commandId, instanceId, [KEYS.ttl]: token.expiresAt },
        ),
      }),
    );
  }

  /** The token of an invocation, read consistently (send-command may have stored it just now). */
  async getTaskToken(commandId: string, instanceId: string): Promise<TaskTokenRecord | undefined> {
    const found = await this.get(keys.taskToken(commandId, instanceId));
    return found && toDomain<TaskTokenRecord>(found);
  }

  async deleteTaskToken(commandId: string, instanceId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: keys.taskToken(commandId, instanceId) }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Idempotency (POST /rollouts): the first writer of a key wins; expired records count as free,
  // since TTL deletes them only eventually.

  /**
   * Claims `record.key` for `record.runId`: stores the record unless an unexpired one holds the
   * key. Returns the record that holds the key afterwards, and whether it is the one given.
   */
  async claimIdempotencyKey(
    record: IdempotencyRecord,
    now: Date,
  ): Promise<{ readonly claimed: boolean; readonly record: IdempotencyRecord }> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    // Twice: the holder may expire and be deleted between the failed put and the read.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item(
              { ...keys.idempotency(record.key), kind: kind('idempotency') },
              { ...record, [KEYS.ttl]: record.expiresAt },
            ),
            ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
            ExpressionAttributeNames: { '#pk': KEYS.partition, '#expiresAt': KEYS.ttl },
            ExpressionAttributeValues: { ':now': nowSeconds },
          }),
        );
        return { claimed: true, record };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const holder = await this.getIdempotencyRecord(record.key);
      if (holder !== undefined && holder.expiresAt >= nowSeconds) {
        return { claimed: false, record: holder };
      }
    }
    throw new RunStoreError(
      `idempotency key ${JSON.stringify(record.key)}: claimed by another request that then expired; retry`,
    );
  }

  /** The record of an idempotency key, read consistently; expired ones included. */
  async getIdempotencyRecord(key: string): Promise<IdempotencyRecord | undefined> {
    const found = await this.get(keys.idempotency(key));
    return found && toDomain<IdempotencyRecord>(found);
  }

  /**
   * Gives back a key `runId` claimed but never started (its target was busy), so a retry is
   * judged afresh. Deletes nothing once an execution was recorded or another run holds it.
   */
  async releaseIdempotencyKey(key: string, runId: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.idempotency(key),
          ConditionExpression: '#runId = :runId AND attribute_not_exists(#executionArn)',
          ExpressionAttributeNames: { '#runId': 'runId', '#executionArn': 'executionArn' },
          ExpressionAttributeValues: { ':runId': runId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** Notes the execution a claimed key started, so a retry needs no second start. */
  async recordIdempotentStart(key: string, executionArn: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.idempotency(key),
        UpdateExpression: 'SET #executionArn = :arn',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': KEYS.partition, '#executionArn': 'executionArn' },
        ExpressionAttributeValues: { ':arn': executionArn },
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Approval gates and cancel requests

  /** Stores the gate a run now waits on, replacing any earlier token of the run. */
  async putApproval(record: ApprovalRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item(
          { ...keys.approval(record.runId), kind: kind('approval') },
          { ...record, [KEYS.ttl]: record.expiresAt },
        ),
      }),
    );
  }

  /** The gate a run waits on, read consistently; undefined when none is pending. */
  async getApproval(runId: string): Promise<ApprovalRecord | undefined> {
    const found = await this.get(keys.approval(runId));
    return found && toDomain<ApprovalRecord>(found);
  }

  /**
   * Deletes the run's pending gate if it still holds `taskToken` (a newer gate's token stays).
   * Returns whether it deleted one.
   */
  async deleteApproval(runId: string, taskToken: string): Promise<boolean> {
    return this.deleteIfAttributeIs(keys.approval(runId), 'taskToken', ':token', taskToken);
  }

  /**
   * Sets the run's cancelRequested flag; the workflow stops after the current node. Only a
   * `Running` run can be cancelled; a second request keeps the first one's time, caller and
   * reason. Returns the run as stored after the update.
   * @throws RunNotFoundError when the run does not exist; RunNotRunningError when it has ended.
   */
  async requestCancel(runId: string, request: CancelRequest): Promise<RunRecord> {
    const names: Record<string, string> = {
      '#pk': KEYS.partition,
      '#status': 'status',
      '#cancelRequested': 'cancelRequested',
      '#cancelRequestedAt': 'cancelRequestedAt',
    };
    const values: Record<string, unknown> = {
      ':running': 'Running',
      ':true': true,
      ':at': request.requestedAt,
    };
    const sets = [
      '#cancelRequested = :true',
      '#cancelRequestedAt = if_not_exists(#cancelRequestedAt, :at)',
    ];
    for (const [field, name] of [
      ['requestedBy', 'cancelRequestedBy'],
      ['reason', 'cancelReason'],
    ] as const) {
      const value = request[field];
      if (value === undefined) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      sets.push(`#${name} = if_not_exists(#${name}, :${name})`);
    }
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(runId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk) AND #status = :running',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toDomain<RunRecord>(out.Attributes ?? {});
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const run = await this.getRun(runId);
      if (run === undefined) throw new RunNotFoundError(runId, { cause: error });
      throw new RunNotRunningError(runId, run.status, { cause: error });
    }
  }

  // -------------------------------------------------------------------------------------------

  private async get(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }

  private async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  private async batchPut(items: readonly Item[]): Promise<void> {
    let pending: { PutRequest?: { Item: Item | undefined } }[] = items.map((Item) => ({
      PutRequest: { Item },
    }));
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
      );
      const unprocessed = out.UnprocessedItems?.[this.tableName] ?? [];
      if (unprocessed.length === 0) return;
      if (attempt >= this.batchWriteAttempts) {
        throw new UnprocessedItemsError(unprocessed.length, attempt);
      }
      // Exponential backoff with jitter: unprocessed items mean the partition is throttled.
      const ceiling = Math.min(BATCH_MAX_DELAY_MS, BATCH_BASE_DELAY_MS * 2 ** (attempt - 1));
      await this.sleep(Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
      pending = unprocessed;
    }
  }
}

/**
 * The store of a deployed function: table from `TABLE_NAME`, client traced by X-Ray. Builds
 * nothing until called, so importing this module in a test creates no client.
 */
export function createRunStore(): RunStore {
  const client = DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return new RunStore({ client, tableName: requiredEnv('TABLE_NAME') });
}

// ---------------------------------------------------------------------------------------------

const kind = (value: ItemKind): ItemKind => value;

const leaseEnd = (now: Date, leaseSeconds: number) =>
  new Date(now.getTime() + leaseSeconds * 1000).toISOString();

/** An item: its keys and kind, then the record without undefined values (DynamoDB refuses them). */
function item(keyAttributes: Item, record: object): Item {
  return { ...withoutUndefined(record as Item), ...keyAttributes };
}

function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutUndefined) as T;
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, withoutUndefined(v)]),
    ) as T;
  }
  return value;
}

/** The record in an item: the item without its key attributes and `kind`. */
function toDomain<T>(found: Item): T {
  return Object.fromEntries(
    Object.entries(found).filter(([name]) => !KEY_ATTRIBUTES.has(name)),
  ) as T;
}

function toLock(found: Item): LockRecord {
  const { target, holder, acquiredAt, leaseExpiresAt, execution, takenOverFrom } =
    found as unknown as LockRecord;
  return {
    target,
    holder,
    acquiredAt,
    leaseExpiresAt,
    ...(typeof execution === 'string' ? { execution } : {}),
    ...(typeof takenOverFrom === 'string' ? { takenOverFrom } : {}),
  };
}

function isConditionalCheckFailed(error: unknown): boolean {
  // By name, not instanceof: the document client may come from another copy of the SDK.
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

/** A string attribute of the item returned with a failed condition (ALL_OLD), still marshalled. */
function oldAttribute(error: unknown, name: string): string | undefined {
  const value = (error as { Item?: Record<string, unknown> }).Item?.[name];
  if (typeof value === 'string') return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
}

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, partition: string): Item {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(cursor, 'not a cursor this service returned');
  }
  const expected = [KEYS.partition, KEYS.sort, KEYS.gsi1Partition, KEYS.gsi1Sort];
  if (
    typeof key !== 'object' ||
    key === null ||
    Array.isArray(key) ||
    Object.keys(key).length !== expected.length ||
    !expected.every((name) => typeof (key as Item)[name] === 'string')
  ) {
    throw new InvalidCursorError(cursor, 'not a cursor this service returned');
  }
  if ((key as Item)[KEYS.gsi1Partition] !== partition) {
    throw new InvalidCursorError(cursor, 'it belongs to another target');
  }
  return key as Item;
}
