/**
 * The pwsh fleet: simulated nodes that run the real SSM documents. Each command's script is the
 * text the synthesized `AWS::SSM::Document` carries (`renderDocumentScript`), run in a runspace
 * of a long-lived pwsh process that runs many at once (`sandbox/pwsh-worker.ps1`, `dotnet
 * pwsh`), with the Windows seam of `ssm/_common.ps1` answered here from the simulated node's
 * state, in virtual time. What the script prints is what complete-command and the interpreters
 * read.
 *
 * The model's rules for what Windows does (an installer's exit code per attempt, a drain's
 * length and failure, a resume's failure, a pre-update script's exit code) are the fleet's
 * ({@link NodeScriptContext}); the scripts' own logic (payload checks, deadlines, markers, the
 * 1641 stop, the result lines) is the real PowerShell.
 *
 * Documents run here: all of them. The Windows Update Agent's COM objects are stand-ins in the
 * worker whose search, download and install ask the node (`WU-*` calls).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DOCUMENTS, type DocumentKey, NODE_CONTRACT } from '../lambdas/core/contracts.js';
import { payloadJsonBytes } from '../lambdas/core/payload-encoding.js';
import type { Clock } from './clock.js';
import {
  ENVIRONMENT,
  expandEnvironment,
  type NodeScriptContext,
  type NodeScriptHost,
  SIMULATED_TIMINGS,
  type SimulatedNode,
  storageRepairJobs,
} from './fleet.js';
import type { WindowsUpdateItem } from './scenario.js';
import { windowsUpdateFacts } from './update-selection-model.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WORKER_SCRIPT = join(ROOT, 'sandbox', 'pwsh-worker.ps1');

/** Which fleet answers SendCommand: the real scripts under pwsh, or the TypeScript model. */
export type FleetKind = 'pwsh' | 'model';

/** The documents the pwsh fleet runs; the model answers the rest (see the module comment). */
export const PWSH_DOCUMENTS: readonly DocumentKey[] = [
  'inventory',
  'drain',
  'resume',
  'restart',
  'installHotfixes',
  'runScript',
  'removeUpdates',
  'windowsUpdate',
  'scan',
  'stageUpdates',
];

let available: boolean | undefined;

/** Whether `dotnet pwsh` (npm run pwsh:restore) runs here; asked once per process. */
export function pwshAvailable(): boolean {
  available ??=
    spawnSync('dotnet', ['pwsh', '-NoProfile', '-NonInteractive', '-Command', 'exit 0'], {
      cwd: ROOT,
      stdio: 'ignore',
      timeout: 60_000,
    }).status === 0;
  return available;
}

/** `--fleet` / scenario option value, checked. */
export function parseFleetKind(value: string, field = '--fleet'): FleetKind {
  if (value === 'pwsh' || value === 'model') return value;
  throw new Error(`${field} (${JSON.stringify(value)}): expected pwsh or model`);
}

/** One phrase for the report: which fleet ran. */
export function describeFleet(fleet: FleetKind): string {
  return fleet === 'pwsh'
    ? `pwsh fleet (the SSM documents' scripts run in PowerShell, ${PWSH_DOCUMENTS.length} of ${Object.keys(DOCUMENTS).length} documents)`
    : 'model fleet (the TypeScript model of the SSM documents)';
}

/** The loud line printed where the pwsh fleet was wanted but pwsh is absent. */
export const PWSH_MISSING =
  '!!! pwsh fleet UNAVAILABLE: dotnet pwsh does not run here (npm run pwsh:restore); the TypeScript model answers SendCommand !!!';

// ---------------------------------------------------------------------------------------------
// Workers

type WorkerMessage =
  | { t: 'ready' }
  | { t: 'call'; id: number; name: string; args: Record<string, unknown>; out: string; err: string }
  | {
      t: 'done';
      id: number;
      code: number;
      out: string;
      err: string;
      runspaces?: number;
      ms?: { setup: number; script: number; seam: number; cleanup: number };
    };

/** One job (one command's script) in a worker: its messages, in order. */
export class PwshJob {
  private readonly queue: WorkerMessage[] = [];
  private waiting: ((message: WorkerMessage) => void) | undefined;
  private failed: Error | undefined;

  constructor(
    readonly id: number,
    private readonly worker: PwshWorker,
  ) {}

  /** A message of this job from the worker. */
  push(message: WorkerMessage) {
    const waiter = this.waiting;
    this.waiting = undefined;
    if (waiter) waiter(message);
    else this.queue.push(message);
  }

  fail(error: Error) {
    this.failed ??= error;
    const waiter = this.waiting;
    this.waiting = undefined;
    // The waiter rejects through next(): hand it a message it cannot use.
    if (waiter) waiter({ t: 'done', id: this.id, code: -1, out: '', err: error.message });
  }

  next(): Promise<WorkerMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting = (message) => {
        if (this.failed && message.t === 'done' && message.code === -1) reject(this.failed);
        else resolve(message);
      };
    });
  }

  /** A message to this job's script (its "t" first, then the job id: the worker routes on them). */
  send(message: { t: string } & Record<string, unknown>) {
    const { t, ...rest } = message;
    this.worker.send({ t, id: this.id, ...rest });
  }
}

/** The job's spec: which rendered script runs, and the node it runs on. */
export interface PwshJobSpec {
  readonly key: string;
  readonly payload: string;
  readonly computer: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly architecture: string;
}

/**
 * One long-lived pwsh process running many jobs at once, each in a runspace of its own
 * (`sandbox/pwsh-worker.ps1`); its pipes carry every job's messages, tagged with the job id.
 */
class PwshWorker {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly jobs = new Map<number, PwshJob>();
  private failed: Error | undefined;
  private stderr = '';
  readonly ready: Promise<void>;
  /** Runspaces the worker has opened (from its last `done`). */
  runspaces = 0;

  constructor(rendered: string) {
    this.process = spawn(
      'dotnet',
      ['pwsh', '-NoProfile', '-NonInteractive', '-File', WORKER_SCRIPT, '-Rendered', rendered],
      { cwd: ROOT, stdio: 'pipe' },
    );
    let started: () => void = () => {};
    let broke: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      broke = reject;
    });
    // Not every caller waits for ready: a failure reaches them through the jobs.
    this.ready.catch(() => {});
    createInterface({ input: this.process.stdout }).on('line', (line) => {
      let message: WorkerMessage;
      try {
        message = JSON.parse(line) as WorkerMessage;
      } catch {
        this.fail(new Error(`pwsh worker printed a line that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      if (message.t === 'ready') {
        started();
        return;
      }
      if (message.t === 'done' && message.runspaces !== undefined) {
        this.runspaces = message.runspaces;
      }
      const job = this.jobs.get(message.id);
      if (job) job.push(message);
      else
        this.fail(new Error(`pwsh worker: a message for job ${message.id}, which is not running`));
    });
    this.process.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.process.on('exit', (code) => {
      const error = new Error(`pwsh worker exited (${code}): ${this.stderr.trim()}`);
      broke(error);
      this.fail(error);
    });
  }

  get broken(): boolean {
    return this.failed !== undefined;
  }

  /**
   * CPU seconds this worker has used, its descendants included (`dotnet pwsh` starts the pwsh
   * that runs the jobs as a grandchild), from Linux's /proc; undefined where that is not readable.
   */
  cpuSeconds(): number | undefined {
    const pid = this.process.pid;
    if (pid === undefined) return undefined;
    try {
      return processTreeCpuSeconds(pid);
    } catch {
      return undefined;
    }
  }

  /** Jobs running now. */
  get running(): number {
    return this.jobs.size;
  }

  private fail(error: Error) {
    this.failed ??= error;
    for (const job of this.jobs.values()) job.fail(this.failed);
  }

  start(id: number, spec: PwshJobSpec): PwshJob {
    const job = new PwshJob(id, this);
    this.jobs.set(id, job);
    if (this.failed) job.fail(this.failed);
    else job.send({ t: 'job', ...spec });
    return job;
  }

  /** The job ended (or is given up): its messages are no longer expected. */
  end(job: PwshJob) {
    this.jobs.delete(job.id);
  }

  send(message: unknown) {
    if (!this.failed) this.process.stdin.write(`${JSON.stringify(message)}\n`);
  }

  close() {
    this.process.stdin.end();
    this.process.kill();
  }
}

/** utime + stime of a process and its live descendants, in seconds (Linux's /proc). */
function processTreeCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields 14 and 15 (utime, stime), in clock ticks (USER_HZ, 100 on Linux), counted after the
  // command name, which is in parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let seconds = (Number(fields[11]) + Number(fields[12])) / 100;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children === '' ? [] : children.split(' ')) {
      seconds += processTreeCpuSeconds(Number(child));
    }
  }
  return seconds;
}

export interface PwshPoolOptions {
  /**
   * pwsh processes, each running many scripts at once in runspaces; a job goes to the one
   * running the fewest. @default 1
   */
  readonly processes?: number;
}

/**
 * Long-lived pwsh processes, each running many jobs at once, one runspace per job
 * (`sandbox/pwsh-worker.ps1`). A script holds its runspace while it waits in virtual time, and a
 * job that finds no idle runspace gets a new one, so a command never waits for a worker. (It
 * did: a command queued behind scripts waiting in virtual time saw the clock move on before it
 * started, and passed its deadline, while a real node runs its command the moment it arrives.)
 * The cost of a concurrent command is a runspace (a thread), not a pwsh process.
 */
export class PwshWorkerPool {
  private readonly rendered: string;
  private readonly workers: PwshWorker[] = [];
  private readonly processes: number;
  private readonly owners = new WeakMap<PwshJob, PwshWorker>();
  private nextJob = 1;
  private running = 0;
  /**
   * Commands run, seam calls answered, pwsh processes started and the wall ms that took, the
   * most jobs running at once and the most runspaces a process opened, and `busyMs`: wall ms
   * spent waiting on pwsh (script work and pipe round trips; not the virtual waits).
   */
  readonly stats = {
    commands: 0,
    seamCalls: 0,
    workers: 0,
    peakJobs: 0,
    runspaces: 0,
    startMs: 0,
    busyMs: 0,
    /**
     * Inside the worker, wall ms per part of a job: its setup (environment), its script (seam
     * round trips included) and its cleanup (dropping globals).
     */
    jobSetupMs: 0,
    scriptMs: 0,
    /**
     * Of scriptMs: the seam calls, from asking to the answer. An answer that waits in virtual
     * time comes when the clock gets there, so this includes wall time the sandbox spends on
     * other nodes meanwhile.
     */
    seamMs: 0,
    jobCleanupMs: 0,
    /** Commands run per document. */
    documents: {} as Partial<Record<DocumentKey, number>>,
  };

  constructor(options: PwshPoolOptions = {}) {
    const processes = options.processes ?? 1;
    if (!Number.isInteger(processes) || processes < 1) {
      throw new Error(`processes (${processes}): expected a whole number of at least 1`);
    }
    this.processes = processes;
    this.rendered = mkdtempSync(join(tmpdir(), 'rollout-pwsh-fleet-'));
  }

  /** The folder the scripts are rendered to (`<key>.ps1`). */
  get folder(): string {
    return this.rendered;
  }

  /** Writes each document's script as the synthesized document carries it. */
  async render(): Promise<void> {
    // Loaded here: it brings the CDK, which the model fleet does not need.
    const { renderDocumentScript } = await import('../lib/windows-documents.js');
    for (const key of Object.keys(DOCUMENTS) as DocumentKey[]) {
      writeFileSync(join(this.rendered, `${key}.ps1`), `${renderDocumentScript(key).join('\n')}\n`);
    }
    writeFileSync(join(this.rendered, 'node-contract.json'), JSON.stringify(NODE_CONTRACT));
  }

  /**
   * Starts a job in the process running the fewest (starting a process while fewer than
   * `processes` run). `track` wraps the start (real work, during which virtual time must not
   * move), so the command starts at the virtual instant it was sent.
   */
  async start(
    spec: PwshJobSpec,
    track: <T>(work: () => Promise<T>) => Promise<T> = (work) => work(),
  ): Promise<PwshJob> {
    let worker: PwshWorker | undefined;
    if (this.workers.length < this.processes) {
      const began = performance.now();
      worker = new PwshWorker(this.rendered);
      this.workers.push(worker);
      this.stats.workers++;
      await track(() => worker?.ready ?? Promise.resolve());
      this.stats.startMs += performance.now() - began;
    } else {
      worker = this.workers.reduce((a, b) => (b.running < a.running ? b : a));
    }
    const job = worker.start(this.nextJob++, spec);
    this.owners.set(job, worker);
    this.running++;
    this.stats.peakJobs = Math.max(this.stats.peakJobs, this.running);
    return job;
  }

  /** CPU seconds the live pwsh processes have used (Linux), or undefined. */
  cpuSeconds(): number | undefined {
    let total = 0;
    for (const worker of this.workers) {
      const seconds = worker.cpuSeconds();
      if (seconds === undefined) return undefined;
      total += seconds;
    }
    return total;
  }

  /** Processes alive now. */
  get alive(): number {
    return this.workers.length;
  }

  /**
   * The job ended. `healthy` false: it lost its place in the protocol (its process died, or
   * the sandbox gave up on it): a live process is told to stop its script, and a dead one is
   * dropped so that the next job starts a new one.
   */
  finish(job: PwshJob, healthy: boolean) {
    this.running--;
    const worker = this.owners.get(job);
    if (!worker) return;
    if (!healthy && !worker.broken) job.send({ t: 'abort' });
    worker.end(job);
    this.stats.runspaces = Math.max(this.stats.runspaces, worker.runspaces);
    const at = this.workers.indexOf(worker);
    if (worker.broken && at >= 0) {
      worker.close();
      this.workers.splice(at, 1);
    }
  }

  close() {
    for (const worker of this.workers) worker.close();
    rmSync(this.rendered, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The seam, answered from the simulated node

interface TrackingClock extends Clock {
  track<T>(work: () => Promise<T>): Promise<T>;
}

const canTrack = (clock: Clock): clock is TrackingClock =>
  typeof (clock as Partial<TrackingClock>).track === 'function';

/** What the pwsh fleet keeps per node beside the model's state: the registry markers. */
interface NodeExtras {
  readonly markers: Map<string, string>;
  /** The last installer stopped at its timeout left servicing busy. */
  servicingBusy: boolean;
}

/** The variables the scripts expand, with Windows's spelling (Linux's are case-sensitive). */
const WINDOWS_ENVIRONMENT: Readonly<Record<string, string>> = {
  windir: ENVIRONMENT.windir as string,
  SystemRoot: ENVIRONMENT.systemroot as string,
  SystemDrive: ENVIRONMENT.systemdrive as string,
  ProgramData: ENVIRONMENT.programdata as string,
  ProgramFiles: ENVIRONMENT.programfiles as string,
  'ProgramFiles(x86)': ENVIRONMENT['programfiles(x86)'] as string,
  TEMP: ENVIRONMENT.temp as string,
  TMP: ENVIRONMENT.tmp as string,
};

const ARCHITECTURE: Readonly<Record<string, string>> = {
  x64: 'AMD64',
  x86: 'x86',
  arm64: 'ARM64',
  ia64: 'IA64',
};

/** The {@link NodeScriptHost} that runs the real scripts in pwsh workers. */
export class PwshNodeScripts implements NodeScriptHost {
  private readonly extras = new WeakMap<SimulatedNode, NodeExtras>();

  constructor(
    private readonly pool: PwshWorkerPool,
    private readonly clock: Clock,
  ) {}

  runs(document: DocumentKey): boolean {
    return PWSH_DOCUMENTS.includes(document);
  }

  async run(context: NodeScriptContext): Promise<number> {
    const track = <T>(work: () => Promise<T>) =>
      canTrack(this.clock) ? this.clock.track(work) : work();
    const node = context.node;
    if (context.document === 'installHotfixes' && hasUpdates(context.encodedPayload)) {
      context.startInstallDropOff();
    }
    const job = new ScriptJob(context, this.extrasOf(node), this.clock);
    const worker = await this.pool.start(
      {
        key: context.document,
        payload: context.encodedPayload,
        computer: node.name,
        environment: WINDOWS_ENVIRONMENT,
        architecture: ARCHITECTURE[node.spec.os.architecture] ?? node.spec.os.architecture,
      },
      track,
    );
    this.pool.stats.commands++;
    const runs = this.pool.stats.documents;
    runs[context.document] = (runs[context.document] ?? 0) + 1;
    // Set when the command ended (timeout, cancel) or the seam failed: the script is told to
    // stop, its job is drained to its end, and this is thrown then.
    let stopped: unknown;
    let healthy = false;
    try {
      for (;;) {
        const asked = performance.now();
        const message = await track(() => worker.next());
        this.pool.stats.busyMs += performance.now() - asked;
        if (message.t === 'ready') continue;
        if (stopped === undefined) job.print(message.out, message.err);
        if (message.t === 'done') {
          healthy = true;
          if (message.ms) {
            this.pool.stats.jobSetupMs += message.ms.setup;
            this.pool.stats.scriptMs += message.ms.script;
            this.pool.stats.seamMs += message.ms.seam;
            this.pool.stats.jobCleanupMs += message.ms.cleanup;
          }
          if (stopped !== undefined) throw stopped;
          job.finished();
          return message.code;
        }
        this.pool.stats.seamCalls++;
        if (stopped !== undefined) {
          worker.send({ t: 'abort' });
          continue;
        }
        try {
          worker.send({ t: 'reply', value: await job.answer(message.name, message.args) });
        } catch (error) {
          stopped = error;
          worker.send({ t: 'abort' });
        }
      }
    } finally {
      // A job whose process died or that lost its place in the protocol is stopped there.
      this.pool.finish(worker, healthy);
    }
  }

  private extrasOf(node: SimulatedNode): NodeExtras {
    let extras = this.extras.get(node);
    if (!extras) {
      extras = { markers: new Map(), servicingBusy: false };
      this.extras.set(node, extras);
    }
    return extras;
  }
}

function hasUpdates(encoded: string): boolean {
  try {
    const payload = JSON.parse(
      payloadJsonBytes(Buffer.from(encoded, 'base64')).toString('utf8'),
    ) as {
      updates?: unknown;
    };
    return Array.isArray(payload.updates) && payload.updates.length > 0;
  } catch {
    return false;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const windowsPath = (path: string) => expandEnvironment(path).replace(/\//g, '\\').toLowerCase();

/**
 * One offered update as the worker builds a WUA IUpdate of it (New-WindowsUpdateSession's
 * searcher): the facts updateSelection reads, as the model reads them (windowsUpdateFacts).
 */
function searchedUpdateFacts(update: WindowsUpdateItem) {
  const facts = windowsUpdateFacts(update);
  return {
    categoryIds: facts.classificationIds,
    msrcSeverity: facts.msrcSeverity ?? '',
    published: facts.published,
    rebootBehavior: facts.rebootBehavior,
  };
}

/** One run of a script: the answers to its seam calls. */
class ScriptJob {
  private readonly payloadItems: Record<string, unknown>[];
  private drainTimer: (() => void) | undefined;
  private drainStarted = false;

  /** run-script.ps1's phase. */
  private readonly phase: 'pre' | 'post' = 'pre';

  constructor(
    private readonly context: NodeScriptContext,
    private readonly extras: NodeExtras,
    private readonly clock: Clock,
  ) {
    let items: Record<string, unknown>[] = [];
    try {
      const payload = JSON.parse(
        payloadJsonBytes(Buffer.from(context.encodedPayload, 'base64')).toString('utf8'),
      ) as { updates?: unknown; phase?: unknown };
      if (payload.phase === 'post') this.phase = 'post';
      if (Array.isArray(payload.updates)) {
        items = payload.updates.filter(
          (item): item is Record<string, unknown> => typeof item === 'object' && item !== null,
        );
      }
    } catch {
      // The script reports a bad payload itself.
    }
    this.payloadItems = items;
  }

  private get node() {
    return this.context.node;
  }

  print(out: string, err: string) {
    for (const line of out.split(/\r?\n/)) if (line.length > 0) this.context.stdout.push(line);
    for (const line of err.split(/\r?\n/)) if (line.length > 0) this.context.stderr.push(line);
  }

  /** The script exited: what the model does when its drain script ends. */
  finished() {
    if (this.drainStarted) {
      // A drain the script stopped waiting for does not finish later (as in the model).
      this.drainTimer?.();
      const node = this.node;
      const ok = node.clusterState === 'Paused' && node.drainStatus === 'Completed';
      if (ok) node.drainedCount++;
      this.context.note('drain', ok);
    }
  }

  /** The update of the payload whose local path is `path`. */
  private itemFor(path: string): { file: string; item: unknown } | undefined {
    const key = windowsPath(path);
    for (const item of this.payloadItems) {
      if (typeof item.localPath === 'string' && windowsPath(item.localPath) === key) {
        return { file: String(item.file), item };
      }
    }
    return undefined;
  }

  /** Receive-S3File into the staging cache (StageUpdates): the planned item of that digest. */
  private async receiveStaged(
    at: { sha256: string; leaf: string },
    bucket: string,
    key: string,
  ): Promise<string | null> {
    const item = this.payloadItems.find(
      (each) => typeof each.sha256 === 'string' && each.sha256.toLowerCase() === at.sha256,
    );
    const stored = item ? this.context.storedFile(String(item.file)) : undefined;
    if (!item || !stored) {
      await this.context.sleep(SIMULATED_TIMINGS.downloadMs * 3);
      return `download of s3://${bucket}/${key} failed after 3 tries: The specified key does not exist.`;
    }
    await this.context.sleep(SIMULATED_TIMINGS.downloadMs);
    this.node.stagingCache.set(at.sha256, {
      file: String(item.file),
      bytes: stored.sizeBytes,
      actualSha256: stored.deliveredSha256.toLowerCase(),
    });
    return null;
  }

  private clusterNode() {
    const node = this.node;
    return { name: node.name, state: node.clusterState, drainStatus: node.drainStatus };
  }

  async answer(name: string, args: Record<string, unknown>): Promise<unknown> {
    const context = this.context;
    const node = this.node;
    const text = (field: string) => String(args[field] ?? '');
    switch (name) {
      case 'Get-RolloutUtcNow':
        return iso(context.now());
      case 'Wait-RolloutSeconds':
        await context.sleep(Number(args.seconds) * 1000);
        return null;
      case 'Test-FileExists': {
        const path = windowsPath(text('path'));
        if (context.document === 'runScript') return true;
        return node.downloaded.has(expandEnvironment(text('path'))) || node.downloaded.has(path);
      }
      case 'Open-LockedFile': {
        const found = this.itemFor(text('path'));
        const stored = found ? context.storedFile(found.file) : undefined;
        return stored ? stored.deliveredSha256.toUpperCase() : '';
      }
      case 'Get-StagedFile': {
        const at = stagedPath(text('path'));
        const copy = at ? node.stagingCache.get(at.sha256) : undefined;
        if (!at || !copy || leafOf(copy.file) !== at.leaf) return null;
        return { sha256: copy.actualSha256, bytes: copy.bytes };
      }
      case 'Remove-StagedFile': {
        const at = stagedPath(text('path'));
        if (at) node.stagingCache.delete(at.sha256);
        return null;
      }
      case 'Copy-UpdateFile':
        node.downloaded.add(expandEnvironment(text('destination')));
        return null;
      case 'Receive-S3File': {
        const staging = stagedPath(text('destination'));
        if (staging) return this.receiveStaged(staging, text('bucket'), text('key'));
        const found = this.itemFor(text('destination'));
        const stored = found ? context.storedFile(found.file) : undefined;
        if (!stored) {
          // Receive-S3File: three tries, 5 and 10 s apart.
          await context.sleep(SIMULATED_TIMINGS.downloadMs * 3);
          return `download of s3://${text('bucket')}/${text('key')} failed after 3 tries: The specified key does not exist.`;
        }
        await context.sleep(SIMULATED_TIMINGS.downloadMs);
        node.downloaded.add(
          expandEnvironment(
            String(found?.item && (found.item as Record<string, unknown>).localPath),
          ),
        );
        return null;
      }
      case 'Get-RegistryValue':
        return this.registryValue(text('name'));
      case 'Test-RegistryKey':
        return /RebootPending$/.test(text('path')) && node.pendingReboot;
      case 'Get-RolloutMarker':
        return this.extras.markers.get(`${text('key')}\\${text('name')}`) ?? null;
      case 'Set-RolloutMarker':
        this.extras.markers.set(`${text('key')}\\${text('name')}`, text('value'));
        return null;
      case 'Remove-RolloutMarker':
        this.extras.markers.delete(`${text('key')}\\${text('name')}`);
        return null;
      case 'Clear-RolloutMarkers':
        for (const key of [...this.extras.markers.keys()]) {
          if (key.startsWith(`${text('key')}\\`)) this.extras.markers.delete(key);
        }
        return null;
      case 'Get-BootSessionId':
        return `boot-${node.bootSession}`;
      case 'Get-LastBootTime':
        return iso(node.lastBootTime);
      case 'Get-OperatingSystem': {
        // The CIM queries are the slow part of an inventory.
        await context.sleep(SIMULATED_TIMINGS.inventoryMs);
        const os = node.spec.os;
        return {
          caption: os.caption,
          version: os.version,
          buildNumber: os.build,
          servicePack: os.servicePack,
          lastBootTime: iso(node.lastBootTime),
        };
      }
      case 'Get-ServiceStatus':
        return this.serviceStatus(text('name'));
      case 'Get-ServiceStartMode':
        return node.cluster ? 'Auto' : 'Manual';
      case 'Get-DeviceGuardStatus':
        return node.spec.hotpatch.vbsEnabled ? 2 : 0;
      case 'Test-SecureBoot':
        return node.spec.hotpatch.secureBoot;
      case 'Get-InstalledHotFixIds':
        return [...node.installed];
      case 'Get-FileVersion': {
        const key = windowsPath(text('path'));
        for (const binary of node.binaries.values()) {
          if (windowsPath(binary.path) === key) return binary.version;
        }
        return null;
      }
      case 'Get-InstalledPackageNames':
        return [];
      case 'Invoke-Installer':
        return this.installer(
          text('filePath'),
          text('arguments'),
          Number(args.timeoutMilliseconds),
        );
      case 'Test-ServicingBusy':
        return this.extras.servicingBusy;
      case 'WU-Search':
        return this.windowsUpdateSearch();
      case 'WU-Download':
        return { resultCode: 2, hResult: 0 };
      case 'WU-Install':
        return this.windowsUpdateInstall(text('updateId'));
      case 'Get-Cluster':
        return node.cluster ?? '';
      case 'Get-ClusterNode':
        return text('name') === '' ? this.context.clusterMembers() : this.clusterNode();
      case 'Get-ClusterGroup':
        // Every group of the cluster, as the real cmdlet lists them (the model decides).
        return context.clusterGroups();
      case 'Suspend-ClusterNode':
        return this.suspend();
      case 'Resume-ClusterNode':
        return this.resume(text('failback'));
      case 'Get-StorageRepairJobs':
        return storageRepairJobs(node, context.now());
      default:
        throw new Error(`pwsh fleet: the seam function ${name} is not simulated`);
    }
  }

  /** IUpdateSearcher.Search: what the node is offered and lacks, as WUA describes it. */
  private async windowsUpdateSearch() {
    await this.context.sleep(SIMULATED_TIMINGS.windowsUpdateSearchMs);
    return {
      resultCode: 2,
      updates: this.context.windowsUpdatesFound().map((u) => ({
        updateId: u.updateId,
        title: u.title,
        kbDigits: u.kb.replace(/^KB/i, ''),
        // WUA marks important updates AutoSelectOnWebSites; recommended ones are the others.
        autoSelect: !u.recommended,
        browseOnly: false,
        eulaAccepted: true,
        canRequestUserInput: false,
        isDownloaded: false,
        // What update selection reads (issue 13, item 2): classification, severity, dates.
        ...searchedUpdateFacts(u),
      })),
    };
  }

  /** IUpdateInstaller.Install of one update: its minutes pass, then the model's rule. */
  private async windowsUpdateInstall(updateId: string) {
    const update = this.context.windowsUpdatesFound().find((u) => u.updateId === updateId);
    if (!update) throw new Error(`pwsh fleet: WUA install of ${updateId}: no such update offered`);
    await this.context.sleep(update.minutes * 60_000);
    return this.context.installWindowsUpdate(update);
  }

  private registryValue(name: string): unknown {
    const node = this.node;
    if (name === 'EditionID') return node.spec.os.editionId;
    if (name === 'HotPatchTableSize') return node.spec.hotpatch.enrolled ? 4096 : null;
    return null;
  }

  private serviceStatus(name: string): string | null {
    const node = this.node;
    switch (name.toLowerCase()) {
      case 'clussvc':
        return node.cluster ? 'Running' : null;
      case 'himds':
        return node.spec.hotpatch.azureArcConnected ? 'Running' : null;
      default:
        return null;
    }
  }

  private suspend() {
    const node = this.node;
    const context = this.context;
    this.drainStarted = true;
    node.clusterState = 'Paused';
    node.drainStatus = 'InProgress';
    const fails = context.nextDrainFails();
    const settle = () => {
      if (node.drainStatus === 'InProgress') node.drainStatus = fails ? 'Failed' : 'Completed';
    };
    this.drainTimer = this.clock.schedule(context.now() + node.spec.drain.minutes * 60_000, settle);
    return this.clusterNode();
  }

  private async resume(failback: string) {
    const node = this.node;
    const context = this.context;
    await context.sleep(SIMULATED_TIMINGS.resumeMs);
    if (context.nextResumeFails()) {
      context.note('resume', false);
      return this.clusterNode();
    }
    node.clusterState = 'Up';
    node.drainStatus = 'NotInitiated';
    node.resumedCount++;
    // The roles come back as the model says (failbackMinutes; issue 13 item 6).
    context.failedBack(failback);
    context.note('resume', true);
    return this.clusterNode();
  }

  private async installer(filePath: string, args: string, timeoutMs: number) {
    const context = this.context;
    if (context.document === 'runScript') return this.updateScript(timeoutMs);
    if (context.document === 'removeUpdates') return this.removal(filePath, args);
    if (context.document !== 'installHotfixes') {
      throw new Error(`pwsh fleet: Invoke-Installer in ${context.document} is not simulated`);
    }
    const found = this.payloadItems
      .map((item) => ({ item, path: typeof item.localPath === 'string' ? item.localPath : '' }))
      .find(
        ({ path }) =>
          (path !== '' && args.toLowerCase().includes(windowsPath(path))) ||
          filePath.toLowerCase() === windowsPath(path),
      );
    if (!found)
      throw new Error(`pwsh fleet: Invoke-Installer ${filePath} ${args}: no update of the payload`);
    const file = String(found.item.file);
    const attempt = context.countAttempt(file);
    const behaviour = context.behaviourFor(file);
    const rule = context.ruleFor(found.item, file);
    const duration = behaviour.minutes * 60_000;
    if (behaviour.hangs || duration > timeoutMs) {
      await context.sleep(timeoutMs);
      this.extras.servicingBusy = behaviour.servicingBusy;
      return { exited: false, exitCode: null, output: [] };
    }
    this.extras.servicingBusy = false;
    await context.sleep(duration);
    const code = context.exitCodeFor(file, behaviour, attempt, rule);
    context.applyInstall(file, code, behaviour, rule);
    if (code === 1641) context.restartAfterExit();
    return { exited: true, exitCode: code, output: [] };
  }

  /**
   * remove-updates.ps1's `wusa.exe /uninstall /kb:<n>` or `Dism.exe /Remove-Package
   * /PackageName:<name>`: the update of the payload it names, removed by the model's rule.
   */
  private async removal(filePath: string, args: string) {
    const context = this.context;
    const tool = filePath.split('\\').pop()?.toLowerCase();
    let method: 'wusa' | 'dism';
    let item: Record<string, unknown> | undefined;
    if (tool === 'wusa.exe') {
      method = 'wusa';
      const kb = /\/kb:(\d+)/i.exec(args)?.[1];
      item = this.payloadItems.find(
        (i) => i.updateId === `KB${kb}` && (i.method ?? 'wusa') === 'wusa',
      );
    } else if (tool === 'dism.exe') {
      method = 'dism';
      const name = /\/PackageName:(\S+)/i.exec(args)?.[1];
      item = this.payloadItems.find((i) => i.method === 'dism' && i.packageName === name);
    } else {
      throw new Error(`pwsh fleet: RemoveUpdates ran ${filePath}, not wusa.exe or Dism.exe`);
    }
    if (!item || typeof item.updateId !== 'string') {
      throw new Error(`pwsh fleet: ${filePath} ${args}: no update of the payload`);
    }
    await context.sleep(SIMULATED_TIMINGS.removalMs);
    return { exited: true, exitCode: context.removeUpdate(item.updateId, method), output: [] };
  }

  private async updateScript(timeoutMs: number) {
    const context = this.context;
    const { exitCode, minutes } = context.nextUpdateScript(this.phase);
    const ms = minutes * 60_000;
    if (ms > timeoutMs) {
      await context.sleep(timeoutMs);
      return { exited: false, exitCode: null, output: [] };
    }
    await context.sleep(ms);
    return {
      exited: true,
      exitCode,
      output: [exitCode === 0 ? 'done' : `exiting with code ${exitCode}`],
    };
  }
}

/** `<cache root>\<sha256>\<leaf>` of the staging cache (either separator), or undefined. */
function stagedPath(path: string): { sha256: string; leaf: string } | undefined {
  const match = /[\\/]RolloutControlPlane[\\/]Staging[\\/]([0-9a-fA-F]{64})[\\/]([^\\/]+)$/.exec(
    path,
  );
  if (!match) return undefined;
  return { sha256: (match[1] as string).toLowerCase(), leaf: match[2] as string };
}

function leafOf(file: string): string {
  return file.split(/[\\/]/).at(-1) ?? '';
}
