/**
 * The pwsh fleet: simulated nodes that run the real SSM documents. Each command's script is the
 * text the synthesized `AWS::SSM::Document` carries (`renderDocumentScript`), run by one of a
 * small pool of long-lived pwsh workers (`sandbox/pwsh-worker.ps1`, `dotnet pwsh`), with the
 * Windows seam of `ssm/_common.ps1` answered here from the simulated node's state, in virtual
 * time. What the script prints is what complete-command and the interpreters read.
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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  | { t: 'call'; name: string; args: Record<string, unknown>; out: string; err: string }
  | { t: 'done'; code: number; out: string; err: string };

class PwshWorker {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly queue: WorkerMessage[] = [];
  private waiting: ((message: WorkerMessage) => void) | undefined;
  private failed: Error | undefined;
  private stderr = '';

  constructor(rendered: string) {
    this.process = spawn(
      'dotnet',
      ['pwsh', '-NoProfile', '-NonInteractive', '-File', WORKER_SCRIPT, '-Rendered', rendered],
      { cwd: ROOT, stdio: 'pipe' },
    );
    createInterface({ input: this.process.stdout }).on('line', (line) => {
      let message: WorkerMessage;
      try {
        message = JSON.parse(line) as WorkerMessage;
      } catch {
        this.fail(new Error(`pwsh worker printed a line that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      const waiter = this.waiting;
      this.waiting = undefined;
      if (waiter) waiter(message);
      else this.queue.push(message);
    });
    this.process.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.process.on('exit', (code) =>
      this.fail(new Error(`pwsh worker exited (${code}): ${this.stderr.trim()}`)),
    );
  }

  private fail(error: Error) {
    this.failed ??= error;
    const waiter = this.waiting;
    this.waiting = undefined;
    // The waiter rejects through next(): hand it a message it cannot use.
    if (waiter) waiter({ t: 'done', code: -1, out: '', err: error.message });
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

  send(message: unknown) {
    this.process.stdin.write(`${JSON.stringify(message)}\n`);
  }

  close() {
    this.process.stdin.end();
    this.process.kill();
  }
}

export interface PwshPoolOptions {
  /** Idle pwsh processes kept for the next commands (more run while more commands do). @default 8 */
  readonly maxWorkers?: number;
}

/**
 * Long-lived pwsh workers, started on demand. A script holds its worker while it waits in
 * virtual time, so every command that runs at once has a worker of its own: a command never
 * waits for one. (It did: a command queued behind scripts waiting in virtual time saw the clock
 * move on before it started, and passed its deadline, while a real node runs its command the
 * moment it arrives.) At most `maxWorkers` idle workers are kept; one released past that is
 * closed, so a wide group's burst of processes ends with its commands.
 */
export class PwshWorkerPool {
  private readonly rendered: string;
  private readonly idle: PwshWorker[] = [];
  private readonly all: PwshWorker[] = [];
  private readonly maxWorkers: number;
  /**
   * Commands run, seam calls answered, workers started and the wall ms that took, the most
   * workers alive at once, and `busyMs`: wall ms spent waiting on pwsh (script work and pipe
   * round trips; not the virtual waits).
   */
  readonly stats = {
    commands: 0,
    seamCalls: 0,
    workers: 0,
    peakWorkers: 0,
    startMs: 0,
    busyMs: 0,
    /** Commands run per document. */
    documents: {} as Partial<Record<DocumentKey, number>>,
  };

  constructor(options: PwshPoolOptions = {}) {
    this.maxWorkers = options.maxWorkers ?? 8;
    this.rendered = mkdtempSync(join(tmpdir(), 'rollout-pwsh-fleet-'));
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
   * A free worker, or a new one. `track` wraps the start (real work, during which virtual time
   * must not move), so the command starts at the virtual instant it was sent.
   */
  async acquire(
    track: <T>(work: () => Promise<T>) => Promise<T> = (work) => work(),
  ): Promise<PwshWorker> {
    const free = this.idle.pop();
    if (free) return free;
    const started = performance.now();
    const worker = new PwshWorker(this.rendered);
    this.all.push(worker);
    this.stats.workers++;
    this.stats.peakWorkers = Math.max(this.stats.peakWorkers, this.all.length);
    const ready = await track(() => worker.next());
    if (ready.t !== 'ready') throw new Error(`pwsh worker: expected ready, got ${ready.t}`);
    this.stats.startMs += performance.now() - started;
    return worker;
  }

  /** Workers alive now (busy or idle). */
  get alive(): number {
    return this.all.length;
  }

  /** Drops a broken worker. */
  discard(worker: PwshWorker) {
    worker.close();
    const at = this.all.indexOf(worker);
    if (at >= 0) this.all.splice(at, 1);
  }

  release(worker: PwshWorker) {
    if (this.idle.length < this.maxWorkers) this.idle.push(worker);
    else this.discard(worker);
  }

  close() {
    for (const worker of this.all) worker.close();
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
    const worker = await this.pool.acquire(track);
    this.pool.stats.commands++;
    const runs = this.pool.stats.documents;
    runs[context.document] = (runs[context.document] ?? 0) + 1;
    // Set when the command ended (timeout, cancel) or the seam failed: the script is told to
    // stop, its worker is drained to its end, and this is thrown then.
    let stopped: unknown;
    let healthy = false;
    try {
      worker.send({
        t: 'job',
        key: context.document,
        payload: context.encodedPayload,
        computer: node.name,
        environment: WINDOWS_ENVIRONMENT,
        architecture: ARCHITECTURE[node.spec.os.architecture] ?? node.spec.os.architecture,
      });
      for (;;) {
        const asked = performance.now();
        const message = await track(() => worker.next());
        this.pool.stats.busyMs += performance.now() - asked;
        if (message.t === 'ready') continue;
        if (stopped === undefined) job.print(message.out, message.err);
        if (message.t === 'done') {
          healthy = true;
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
      // A worker that died or lost its place in the protocol is not used again.
      if (healthy) this.pool.release(worker);
      else this.pool.discard(worker);
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
