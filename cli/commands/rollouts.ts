/**
 * The rollout commands: `start | status | list | report | cancel | approve | scan | ledger |
 * remove`, each a route of the change-management API (api/openapi.json). They talk to the
 * deployed API (SigV4-signed HTTPS, cli/http-backend.ts) or, with `--local`, to the same API
 * handler in the local sandbox (cli/local-backend.ts). Both backends load only when a command
 * runs, so the rules commands start without the AWS SDK or the sandbox.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { InvariantResult } from '../../sandbox/invariants.js';
import {
  type CommandSpec,
  type Io,
  type Options,
  parseFlags,
  required,
  UsageError,
} from '../args.js';
import {
  BackendError,
  type CancelAccepted,
  type DecisionAccepted,
  isTerminal,
  type Ledger,
  type RemovalAccepted,
  type RolloutAccepted,
  type RolloutBackend,
  type RolloutPage,
  type RolloutStatus,
  type RunReport,
  type ScanView,
} from '../backend.js';
import { EXIT } from '../exit-status.js';
import { readJsonFile } from '../files.js';
import type { LocalBackend } from '../local-backend.js';
import {
  type LocalService,
  localDataDir,
  readLocalService,
  serviceBackend,
} from '../local-service.js';
import {
  formatReport,
  REPORT_FORMATS,
  type ReportFormat,
  resolveTimeZone,
} from '../report-format.js';
import { followScan, renderScanView } from '../scan-format.js';

// ---------------------------------------------------------------------------------------------
// Where a command goes: the deployed API or the local sandbox

export const CONNECTION_OPTIONS = {
  local: { type: 'boolean', default: false },
  scenario: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export const CONNECTION_HELP = [
  '',
  'Where it goes (the deployed API unless --local):',
  "  --endpoint <url>   the API's base URL with its stage, e.g.",
  '                     https://abc123.execute-api.eu-west-1.amazonaws.com/v1',
  '                     (default: $ROLLOUT_API_URL). Every request is signed with SigV4 for',
  '                     execute-api, with the AWS credentials chain: environment variables, SSO,',
  '                     ~/.aws/config and credentials, web identity, ECS, EC2 instance metadata',
  '  --region <region>  the region to sign for (default: from the endpoint host, else $AWS_REGION)',
  '  --profile <name>   the ~/.aws/config profile (default: $AWS_PROFILE, else default)',
  '  --local            the local sandbox instead (no AWS account): the same API handler, the',
  "                     synthesized workflows and the real Lambda handlers over the scenario's",
  '                     simulated fleet and hotfix root, in virtual time',
  '  --scenario <file>  with --local: the scenario (default: examples/scenarios/change-management.json)',
];

export const OUTPUT_HELP = [
  '',
  'Output:',
  "  --json             print the API's JSON answer instead of text",
  '  -h, --help         show this help',
];

/**
 * What --local means for the commands that read (every command but start): a sandbox lives only
 * as long as the process, so it first runs the scenario's own rollouts, then answers.
 */
export const LOCAL_READ_HELP = [
  'With --local: the local control plane of rollout local up when one runs (its rollouts live',
  "between commands). Otherwise a one-command sandbox that first runs the scenario's own",
  'rollouts (ids <scenario name>-1, -2, ...; change-management-1 for the default scenario), then',
  'answers against them; a rollout started with start --local then ends with that command.',
];

type ConnectionFlags = {
  readonly local?: boolean;
  readonly scenario?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly profile?: string;
};

/** The flags that choose the backend, checked against each other. */
function checkConnection(command: string, flags: ConnectionFlags): void {
  if (flags.local) {
    for (const flag of ['endpoint', 'region', 'profile'] as const) {
      if (flags[flag] !== undefined) {
        throw new UsageError(
          `rollout ${command}: --${flag} is for the deployed API; --local uses the sandbox (see rollout ${command} --help)`,
        );
      }
    }
  } else if (flags.scenario !== undefined) {
    throw new UsageError(
      `rollout ${command}: --scenario applies only with --local (see rollout ${command} --help)`,
    );
  }
}

/** The deployed API, signed with the credentials chain. */
async function connectHttp(command: string, flags: ConnectionFlags): Promise<RolloutBackend> {
  const endpoint = flags.endpoint ?? process.env.ROLLOUT_API_URL;
  if (endpoint === undefined || endpoint.trim() === '') {
    throw new UsageError(
      `rollout ${command}: --endpoint <url> is required (or set ROLLOUT_API_URL), or use --local for the sandbox (see rollout ${command} --help)`,
    );
  }
  const { createHttpBackend } = await import('../http-backend.js');
  return createHttpBackend({
    endpoint: endpoint.trim(),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  });
}

/**
 * The local control plane of `rollout local up`, when one runs: every --local command talks to
 * it. --scenario belongs to `local up` then.
 */
function runningService(io: Io, command: string, flags: ConnectionFlags): LocalService | undefined {
  const service = readLocalService(localDataDir(io.cwd));
  if (service && flags.scenario !== undefined) {
    throw new UsageError(
      `rollout ${command}: --scenario: the local control plane at ${service.url} already runs scenario ${service.scenario}; give --scenario to rollout local up (or rollout local down first)`,
    );
  }
  return service;
}

/** A sandbox that has run the scenario's own rollouts (every --local command but start). */
async function connectLocalAfterScenario(
  io: Io,
  flags: ConnectionFlags,
  inputs: readonly unknown[] = [],
  runScenarioRollouts = true,
): Promise<LocalBackend> {
  const { openLocalBackend } = await import('../local-backend.js');
  return openLocalBackend({
    cwd: io.cwd,
    ...(flags.scenario === undefined ? {} : { scenario: flags.scenario }),
    runScenarioRollouts,
    inputs,
  });
}

/** Runs `use` against the backend the flags choose, then releases it. */
export async function withBackend<T>(
  command: string,
  io: Io,
  flags: ConnectionFlags,
  use: (backend: RolloutBackend) => Promise<T>,
): Promise<T> {
  checkConnection(command, flags);
  const service = flags.local ? runningService(io, command, flags) : undefined;
  const backend = service
    ? serviceBackend(service)
    : flags.local
      ? await connectLocalAfterScenario(io, flags)
      : await connectHttp(command, flags);
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
}

/**
 * Splits the arguments into flags and positionals (parseFlags takes flags only). A string flag
 * takes the next argument as its value whatever it looks like, so `--reason -x` works.
 */
function splitArguments(spec: CommandSpec, argv: readonly string[]) {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const name = arg.startsWith('--') ? arg.slice(2) : undefined;
      const next = argv[i + 1];
      if (
        name !== undefined &&
        !name.includes('=') &&
        spec.options[name]?.type === 'string' &&
        next !== undefined
      ) {
        flags.push(`${arg}=${next}`);
        i++;
      } else flags.push(arg);
      continue;
    }
    positionals.push(arg);
  }
  return { flags, positionals };
}

/** The flags and the one positional argument (`what`: "rollout id", "node name") of a command. */
function parseWithArgument<O extends Options>(
  spec: CommandSpec<O>,
  argv: readonly string[],
  what: string,
) {
  const { flags, positionals } = splitArguments(spec, argv);
  const values = parseFlags(spec, flags);
  const [value, extra] = positionals;
  if (extra !== undefined) {
    throw new UsageError(
      `rollout ${spec.name}: unexpected argument ${JSON.stringify(extra)}; expected one ${what} (see rollout ${spec.name} --help)`,
    );
  }
  if (value === undefined || value.trim() === '') {
    throw new UsageError(
      `rollout ${spec.name}: the ${what} is required: ${spec.usage.split('\n')[0]} (see rollout ${spec.name} --help)`,
    );
  }
  return { flags: values, argument: value.trim() };
}

const printJson = (io: Io, value: unknown) => io.out(JSON.stringify(value, null, 2));

// ---------------------------------------------------------------------------------------------
// Following a rollout (start --wait, status --wait)

/**
 * The default seconds between two GET /rollouts/{id} while following a run. Only the CLI polls:
 * it is a client showing a person how a run goes, and the API has no push channel to a terminal.
 * The control plane itself never polls (every wait in the workflows is a task token that an
 * event completes). A node's steps take minutes, so a 15-second view is current for a person,
 * and one GET per 15 s (a DynamoDB query and a DescribeExecution) stays far below the API's and
 * Step Functions' throttles even with many people watching.
 */
export const DEFAULT_INTERVAL_SECONDS = 15;
/** Consecutive transient failures (throttling, network) tolerated while following. */
const MAX_TRANSIENT_FAILURES = 5;

const TRANSIENT_STATUSES = new Set([0, 429, 502, 503, 504]);

export interface FollowOptions {
  readonly intervalMs: number;
  readonly onStatus?: (status: RolloutStatus) => void;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Polls the rollout until its status is terminal; returns the last status. */
export async function followRollout(
  backend: RolloutBackend,
  rolloutId: string,
  options: FollowOptions,
): Promise<RolloutStatus> {
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  let failures = 0;
  for (;;) {
    let status: RolloutStatus;
    try {
      status = await backend.getRollout(rolloutId);
      failures = 0;
    } catch (error) {
      const transient = error instanceof BackendError && TRANSIENT_STATUSES.has(error.status);
      if (!transient || error.code === 'NoCredentials' || ++failures > MAX_TRANSIENT_FAILURES) {
        throw error;
      }
      await sleep(options.intervalMs);
      continue;
    }
    options.onStatus?.(status);
    if (isTerminal(status)) return status;
    await sleep(options.intervalMs);
  }
}

/** A node's line: its status, or "updating" for the node the run is at. */
function nodeLabel(status: RolloutStatus, node: RolloutStatus['nodes'][number]): string {
  if (node.status === 'Pending') {
    const current =
      status.currentStep.phase === 'UpdatingNodes' && status.currentStep.nodes.includes(node.name);
    if (!current) return 'pending';
    return status.target?.kind === 'group' ? 'in flight or queued' : 'updating';
  }
  const facts = [
    node.restarts ? `${node.restarts} restart${node.restarts === 1 ? '' : 's'}` : '',
    node.attempts && node.attempts > 1 ? `${node.attempts} attempts` : '',
  ].filter(Boolean);
  return `${node.status}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}${node.detail ? `: ${node.detail}` : ''}`;
}

const clockTime = (at: Date) => at.toISOString().slice(11, 19);

export interface StatusDisplay {
  update(status: RolloutStatus, at?: Date): void;
}

/**
 * The live view of a followed rollout: on a terminal, the step and one line per node, redrawn in
 * place (as `rollout sandbox` shows a run); on a pipe, a line each time the step or a node changes.
 */
export function createStatusDisplay(write: (text: string) => void, live: boolean): StatusDisplay {
  let drawn = 0;
  let step = '';
  const shown = new Map<string, string>();
  return {
    update(status, at = new Date()) {
      const head = `${status.status}: ${status.currentStep.description}`;
      if (live) {
        const lines = [
          `  ${clockTime(at)}  ${head}`,
          ...status.nodes.map((n) => `  ${n.name.padEnd(16)} ${nodeLabel(status, n)}`),
        ];
        const up = drawn > 0 ? `\u001b[${drawn}A` : '';
        write(`${up}${lines.map((l) => `\u001b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
        return;
      }
      const lines: string[] = [];
      if (head !== step) {
        step = head;
        lines.push(`  ${clockTime(at)}  ${head}`);
      }
      for (const node of status.nodes) {
        const label = nodeLabel(status, node);
        if (shown.get(node.name) === label) continue;
        shown.set(node.name, label);
        lines.push(`  ${clockTime(at)}  ${node.name.padEnd(16)} ${label}`);
      }
      if (lines.length > 0) write(`${lines.join('\n')}\n`);
    },
  };
}

/** The display for the CLI's stdout: live on a terminal, else a line per change through io.out. */
function displayFor(io: Io): StatusDisplay {
  const live = process.stdout.isTTY === true;
  return createStatusDisplay(
    live ? (text) => process.stdout.write(text) : (text) => io.out(text.replace(/\n$/, '')),
    live,
  );
}

/** --interval: seconds, 1 to 3600. */
function intervalMs(value: string | undefined, command: string): number {
  if (value === undefined) return DEFAULT_INTERVAL_SECONDS * 1000;
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(seconds >= 1 && seconds <= 3600)) {
    throw new UsageError(
      `rollout ${command}: --interval ${JSON.stringify(value)}: expected seconds from 1 to 3600 (default ${DEFAULT_INTERVAL_SECONDS})`,
    );
  }
  return seconds * 1000;
}

// ---------------------------------------------------------------------------------------------
// Text output

function renderStatus(s: RolloutStatus): string {
  const target = s.target ? `${s.target.kind ?? 'target'} ${s.target.name}` : '(not recorded yet)';
  const lines = [
    `Rollout ${s.rolloutId} on ${target}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`,
    `  ${s.currentStep.description}`,
  ];
  if (s.startedAt) {
    lines.push(
      `  started ${s.startedAt}${s.finishedAt ? `, finished ${s.finishedAt}` : ''}${s.stopAt ? `; stops starting nodes at ${s.stopAt}` : ''}`,
    );
  }
  const who = [
    s.changeTicket ? `change ticket ${s.changeTicket.system} ${s.changeTicket.id}` : '',
    s.requestedBy ? `requested by ${s.requestedBy}` : '',
    s.cancelRequested ? 'CANCEL REQUESTED' : '',
  ].filter(Boolean);
  if (who.length > 0) lines.push(`  ${who.join('; ')}`);
  if (s.approval) {
    lines.push(
      `  waiting for approval: ${s.approval.waitingFor ?? `the pilot (${s.approval.afterNodes} node(s)) is done`}, until ${s.approval.decideBy}: rollout approve ${s.rolloutId} [--reject]`,
    );
  }
  const p = s.progress;
  if (p.total > 0) {
    lines.push(
      `  ${p.finished} of ${p.total} nodes finished: ${p.succeeded} succeeded, ${p.failed} failed, ${p.nothingToInstall} nothing to install, ${p.skipped} skipped${p.installedPendingReboot > 0 ? `, ${p.installedPendingReboot} installed pending reboot` : ''}`,
      '',
      ...s.nodes.map((n) => `  ${n.name.padEnd(16)} ${nodeLabel(s, n)}`),
    );
  }
  return lines.join('\n');
}

function renderAccepted(a: RolloutAccepted): string {
  return [
    `Started rollout ${a.rolloutId} (${a.status}); execution ${a.executionArn}`,
    ...(a.idempotencyKey ? [`  a retry under ${a.idempotencyKey} returns this rollout`] : []),
  ].join('\n');
}

function renderList(page: RolloutPage, target: string, flag: string): string {
  if (page.rollouts.length === 0) return `No rollout is recorded for ${target}.`;
  const rows = page.rollouts.map((r) => [
    r.rolloutId,
    `${r.status}${r.cancelRequested && r.status === 'Running' ? ' (cancelling)' : ''}`,
    r.startedAt,
    r.finishedAt ?? '-',
    String(r.nodes),
    r.changeTicket ? `${r.changeTicket.system} ${r.changeTicket.id}` : '-',
  ]);
  const head = ['ROLLOUT', 'STATUS', 'STARTED', 'FINISHED', 'NODES', 'CHANGE TICKET'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [
    `Rollouts of ${page.target}, newest first:`,
    line(head),
    ...rows.map(line),
    ...(page.cursor ? ['', `Next page: rollout list ${flag} --cursor ${page.cursor}`] : []),
  ].join('\n');
}

function renderCancel(c: CancelAccepted): string {
  return `Cancel of rollout ${c.rolloutId} requested at ${c.cancelRequestedAt}: ${c.message}`;
}

function renderDecision(d: DecisionAccepted): string {
  // An older API sends no message: fall back to what the decision alone means.
  const next =
    d.message ??
    (d.decision === 'approved' ? 'the remaining nodes are updated' : 'no further node is updated');
  return `Rollout ${d.rolloutId} ${d.decision} at ${d.decidedAt} by ${d.decidedBy}${d.comment ? `: ${d.comment}` : ''}; ${next}`;
}

function renderLedger(ledger: Ledger): string {
  if (ledger.entries.length === 0) return `No install is recorded for ${ledger.node}.`;
  return [
    `Install ledger of ${ledger.node}, in install order:`,
    ...ledger.entries.map(
      (e) =>
        `  ${String(e.sequence).padStart(3)}. ${e.updateId.padEnd(12)} ${e.installedAt}${e.runId ? `  rollout ${e.runId}` : ''}${e.hotpatched ? '  hotpatch' : ''}${e.removedAt ? `  REMOVED ${e.removedAt}` : ''}`,
    ),
    '',
    `Installed now: ${ledger.installed.join(', ') || 'nothing'}`,
    `Safe removal order: ${ledger.removalOrder.join(', ') || '-'}`,
  ].join('\n');
}

function renderRemoval(r: RemovalAccepted): string {
  const lines = [
    `Removing from ${r.node} in this order: ${r.order.join(', ')}, then restarting (removal ${r.removalId})`,
  ];
  if (r.addedDependents.length > 0) {
    lines.push(
      `  added (later updates that replaced the same files): ${r.addedDependents.join(', ')}`,
    );
  }
  if (r.forced) {
    lines.push('  FORCED out of order (KB823836); these may break:');
    for (const w of r.warnings) {
      lines.push(
        `    ${w.updateId}: ${w.laterUpdatesSharingFiles.map((l) => `${l.updateId} [${l.files.join(', ')}]`).join('; ')}`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// start

export const startCommand = {
  name: 'start',
  summary: 'start a rollout (POST /rollouts); --wait follows it to its end',
  usage:
    'rollout start --input <rollout.json> [--idempotency-key <key>] [--wait [--interval <s>]] [--json]\n' +
    '       rollout start --local [--scenario <file>] [--input <rollout.json>] [--approve | --reject]\n' +
    '                     [--comment <text>] [--cancel-after <minutes>] [--fleet pwsh|model] [--json]',
  details: [
    'Starts the rollout workflow with the input (the API answers 202 with the rollout id). Without',
    '--wait it prints the id and returns; with --wait it follows the run (GET /rollouts/{id} every',
    '--interval seconds: the step and a line per node, redrawn in place on a terminal) until it',
    'ends. Ctrl-C stops following, not the rollout. Exit status with --wait and with --local: 0 when',
    'the rollout Succeeded, 1 otherwise.',
    '',
    'Options:',
    '  --input <file>           the rollout: { target, plugins?, policy?, changeTicket?, requestedBy?,',
    '                           approvalGate?: { afterNodes, timeoutMinutes }, phases?: [...],',
    '                           rebootOption?: IfRequired | Never | Always,',
    '                           healthGates?: { alarmNames?, alarmTag?: { key, value },',
    '                           onAlarm?: stop | approve, checkEveryMinutes? } } (the workflow input;',
    '                           phases: a count, percent or named nodes each, with bakeMinutes or',
    '                           approval; see the README). Required unless --local',
    '  --idempotency-key <key>  a retry with the same key and input returns the same rollout, never a',
    '                           second one (without it the change ticket plays that part)',
    '  --wait                   follow the rollout until it ends',
    `  --interval <s>           seconds between two status reads with --wait (default ${DEFAULT_INTERVAL_SECONDS})`,
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    'With --local the sandbox lives only as long as this command, so the rollout always runs to its',
    'end here, in virtual time, with the live per-node display; then the status, the report and the',
    'safety invariants (README "Safety"; a broken one exits 1) are printed (--json: { accepted,',
    'decision, cancel, status, report, invariants }). --input defaults to the',
    "scenario's own rollout, and may leave out target.nodes (the scenario's nodes are used).",
    '  --approve | --reject     decide the approval gate when the run reaches it (without either, the',
    '                           gate times out, which counts as rejected); --approve approves every',
    '                           phase approval of a phased run',
    '  --comment <text>         the comment of that decision',
    '  --cancel-after <min>     cancel the rollout after that many simulated minutes (it stops after',
    '                           the current node, leaving no node drained)',
    "  --fleet <kind>           pwsh: each node runs the real SSM documents' scripts (dotnet pwsh);",
    '                           model: the TypeScript model of them (default: fast, no pwsh needed)',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    input: { type: 'string' },
    'idempotency-key': { type: 'string' },
    wait: { type: 'boolean', default: false },
    interval: { type: 'string' },
    approve: { type: 'boolean', default: false },
    reject: { type: 'boolean', default: false },
    comment: { type: 'string' },
    'cancel-after': { type: 'string' },
    fleet: { type: 'string' },
  },
} satisfies CommandSpec;

export async function runStart(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(startCommand, argv);
  const name = startCommand.name;
  checkConnection(name, flags);
  if (flags.approve && flags.reject) {
    throw new UsageError(`rollout start: give --approve or --reject, not both`);
  }
  if (!flags.local) {
    for (const flag of ['approve', 'reject'] as const) {
      if (flags[flag]) {
        throw new UsageError(
          `rollout start: --${flag} applies to start --local, where the sandbox decides the gate itself; for a deployed rollout run rollout approve <id>${flag === 'reject' ? ' --reject' : ''} when it waits at its gate`,
        );
      }
    }
    if (flags['cancel-after'] !== undefined) {
      throw new UsageError(
        'rollout start: --cancel-after applies to start --local; for a deployed rollout run rollout cancel <id>',
      );
    }
    if (flags.fleet !== undefined) {
      throw new UsageError(
        'rollout start: --fleet applies to start --local; a deployed rollout runs on your nodes',
      );
    }
    if (flags.interval !== undefined && !flags.wait) {
      throw new UsageError('rollout start: --interval applies with --wait');
    }
  }
  if (flags.comment !== undefined && !flags.approve && !flags.reject) {
    throw new UsageError('rollout start: --comment goes with --approve or --reject');
  }
  const interval = intervalMs(flags.interval, name);
  const input =
    flags.input === undefined
      ? undefined
      : readJsonFile(io.cwd, required(flags.input, 'input', name), 'input');
  const key = flags['idempotency-key'];
  const service = flags.local ? runningService(io, name, flags) : undefined;
  if (service) {
    for (const flag of ['approve', 'reject', 'cancel-after'] as const) {
      if (flags[flag]) {
        throw new UsageError(
          `rollout start: --${flag} is for a one-process sandbox; the local control plane at ${service.url} runs: use rollout ${flag === 'cancel-after' ? 'cancel' : 'approve'} <id> --local${flag === 'reject' ? ' --reject' : ''}`,
        );
      }
    }
    if (flags.fleet !== undefined) {
      throw new UsageError(
        `rollout start: --fleet is for a one-process sandbox; the local control plane at ${service.url} runs with its own fleet`,
      );
    }
  } else if (flags.local) return startLocal(io, flags, input, key);

  if (input === undefined && !service?.defaultInput) required(undefined, 'input', name);
  const backend = service ? serviceBackend(service) : await connectHttp(name, flags);
  try {
    const accepted = await backend.startRollout(input ?? service?.defaultInput, key);
    if (!flags.wait) {
      if (flags.json) printJson(io, accepted);
      else {
        io.out(renderAccepted(accepted));
        io.out(`  follow it: rollout status ${accepted.rolloutId} --wait`);
      }
      return 0;
    }
    if (!flags.json) io.out(renderAccepted(accepted));
    const display = flags.json ? undefined : displayFor(io);
    const status = await followRollout(backend, accepted.rolloutId, {
      intervalMs: interval,
      ...(display ? { onStatus: (s: RolloutStatus) => display.update(s) } : {}),
    });
    if (flags.json) printJson(io, { accepted, status });
    else {
      io.out('');
      io.out(renderStatus(status));
      io.out(`  report: rollout report ${status.rolloutId} [--format csv|html]`);
    }
    return status.status === 'Succeeded' ? 0 : 1;
  } finally {
    await backend.close();
  }
}

/** --cancel-after: simulated minutes, 1 to a week. */
function cancelAfterMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const minutes = /^[0-9]{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(minutes >= 1 && minutes <= 10_080)) {
    throw new UsageError(
      `rollout start: --cancel-after ${JSON.stringify(value)}: expected whole simulated minutes from 1 to 10080`,
    );
  }
  return minutes * 60_000;
}

/**
 * start --local --fleet: checked as `rollout sandbox` checks it; without the flag the model (the
 * many --local commands of a session stay fast), not pwsh as `rollout sandbox` defaults.
 */
async function localFleet(flag: string | undefined, io: Io): Promise<'pwsh' | 'model'> {
  if (flag === undefined) return 'model';
  const [{ chooseFleet }, pwshFleet] = await Promise.all([
    import('./sandbox.js'),
    import('../../sandbox/pwsh-fleet.js'),
  ]);
  return chooseFleet(flag, pwshFleet, io);
}

/** start --local: start through the sandbox's API, run to the end, print status and report. */
async function startLocal(
  io: Io,
  flags: {
    readonly json: boolean;
    readonly scenario?: string;
    readonly approve: boolean;
    readonly reject: boolean;
    readonly comment?: string;
    readonly 'cancel-after'?: string;
    readonly fleet?: string;
  },
  input: unknown,
  key: string | undefined,
): Promise<number> {
  const cancelAfter = cancelAfterMs(flags['cancel-after']);
  const fleet = await localFleet(flags.fleet, io);
  const [{ openLocalBackend }, { createProgressDisplay }] = await Promise.all([
    import('../local-backend.js'),
    import('../../sandbox/progress.js'),
  ]);
  const live = !flags.json && process.stdout.isTTY === true;
  const display = createProgressDisplay(
    live ? (text) => process.stdout.write(text) : (text) => io.out(text.replace(/\n$/, '')),
    live,
  );
  const backend = await openLocalBackend({
    cwd: io.cwd,
    ...(flags.scenario === undefined ? {} : { scenario: flags.scenario }),
    runScenarioRollouts: false,
    inputs: input === undefined ? [] : [input],
    ...(flags.json ? {} : { onProgress: display.onProgress }),
    fleet,
  });
  try {
    const body = input === undefined ? backend.defaultInput() : backend.completeInput(input);
    const accepted = await backend.startRollout(body, key);
    const id = accepted.rolloutId;
    if (!flags.json) {
      io.out(`Started rollout ${id} in ${backend.description}; running it to its end`);
    }
    const decide = flags.approve || flags.reject;
    const { decision, cancel } = await runLocally(backend, id, {
      ...(decide
        ? {
            decide: {
              decision: flags.approve ? 'approve' : 'reject',
              ...(flags.comment === undefined ? {} : { comment: flags.comment }),
            },
          }
        : {}),
      ...(cancelAfter === undefined ? {} : { cancelAfterMs: cancelAfter }),
    });
    display.finish();
    const status = await backend.getRollout(id);
    let report: RunReport | null = null;
    try {
      report = await backend.getReport(id, 'json');
    } catch (error) {
      if (!(error instanceof BackendError && error.status === 404)) throw error;
    }
    // Checked as the sandbox command checks a scenario's runs: this is a sandbox run too.
    const invariants = (await backend.invariantsOf(id)) ?? [];
    const broken = invariants.filter((i) => !i.ok);
    if (flags.json) {
      printJson(io, {
        accepted,
        decision,
        cancel,
        status,
        report,
        invariants: invariants.map(({ name, ok, detail }) => ({ name, ok, detail })),
      });
    } else {
      if (decide) {
        io.out(
          decision
            ? renderDecision(decision)
            : `The rollout ended without reaching an approval gate; --${flags.approve ? 'approve' : 'reject'} was not used.`,
        );
      }
      if (cancelAfter !== undefined) {
        io.out(
          cancel
            ? renderCancel(cancel)
            : 'The rollout ended before --cancel-after; nothing was cancelled.',
        );
      }
      io.out('');
      io.out(report ? formatReport(report, 'text') : renderStatus(status));
      io.out('');
      io.out(renderInvariants(invariants));
    }
    return status.status === 'Succeeded' && broken.length === 0 ? 0 : 1;
  } finally {
    await backend.close();
  }
}

/** The safety invariants' line (and one line per broken invariant) of a local run. */
function renderInvariants(invariants: readonly InvariantResult[]): string {
  if (invariants.length === 0)
    return 'Safety invariants: not checked (no execution of this rollout ended here)';
  const broken = invariants.filter((i) => !i.ok);
  if (broken.length === 0) return `Safety invariants: all ${invariants.length} hold`;
  return [
    `Safety invariants: ${broken.length} of ${invariants.length} VIOLATED`,
    ...broken.map((i) => `  ${i.name}: ${i.detail}`),
  ].join('\n');
}

/**
 * Runs a local rollout to its end. Without --cancel-after, LocalBackend.runToEnd (which decides
 * the gate when the run reaches it). With it, virtual time advances a simulated minute at a time:
 * the gate is decided when it is reached, and the cancel is requested at its minute.
 */
async function runLocally(
  backend: LocalBackend,
  id: string,
  options: {
    readonly decide?: { readonly decision: 'approve' | 'reject'; readonly comment?: string };
    readonly cancelAfterMs?: number;
  },
): Promise<{ decision: DecisionAccepted | null; cancel: CancelAccepted | null }> {
  if (options.cancelAfterMs === undefined) {
    return { ...(await backend.runToEnd(id, options.decide)), cancel: null };
  }
  const clock = backend.sandbox.clock;
  const cancelAt = clock.now().getTime() + options.cancelAfterMs;
  let decision: DecisionAccepted | null = null;
  let cancel: CancelAccepted | null = null;
  for (;;) {
    const status = await backend.getRollout(id);
    if (isTerminal(status)) break;
    if (options.decide && decision === null && status.approval !== null) {
      decision = await backend.decide(id, options.decide.decision, options.decide.comment);
      continue;
    }
    const now = clock.now().getTime();
    if (now >= cancelAt) {
      cancel = await backend.cancel(id, 'rollout start --local --cancel-after');
      break;
    }
    await backend.sandbox.advance(Math.min(60_000, cancelAt - now));
  }
  await backend.sandbox.settle();
  return { decision, cancel };
}

// ---------------------------------------------------------------------------------------------
// status

export const statusCommand = {
  name: 'status',
  summary: "a rollout's status, current step and per-node progress (GET /rollouts/{id})",
  usage:
    'rollout status <rollout-id> [--wait [--interval <s>]] [--json] [--local | --endpoint <url>]',
  details: [
    'Prints the status (Pending, Running, Succeeded, Failed, Stopped, Cancelled), the current step',
    '(updating a node, waiting for approval, finishing), a pending approval gate, and each node.',
    '',
    'Options:',
    '  --wait            follow the rollout until it ends (exit status 0 when it Succeeded, else 1)',
    `  --interval <s>    seconds between two reads with --wait (default ${DEFAULT_INTERVAL_SECONDS})`,
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    'Example: rollout status --local change-management-1',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    wait: { type: 'boolean', default: false },
    interval: { type: 'string' },
  },
} satisfies CommandSpec;

export async function runStatus(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: id } = parseWithArgument(statusCommand, argv, 'rollout id');
  if (flags.interval !== undefined && !flags.wait) {
    throw new UsageError('rollout status: --interval applies with --wait');
  }
  const interval = intervalMs(flags.interval, statusCommand.name);
  // A one-command sandbox's runs have ended by now: there is nothing to follow. The local
  // control plane's (rollout local up) run on.
  const follow =
    flags.wait && (!flags.local || readLocalService(localDataDir(io.cwd)) !== undefined);
  return withBackend(statusCommand.name, io, flags, async (backend) => {
    const status = follow
      ? await followRollout(backend, id, {
          intervalMs: interval,
          ...(flags.json ? {} : { onStatus: displayFor(io).update }),
        })
      : await backend.getRollout(id);
    if (flags.json) printJson(io, status);
    else {
      if (follow) io.out('');
      io.out(renderStatus(status));
    }
    return flags.wait && status.status !== 'Succeeded' ? 1 : 0;
  });
}

// ---------------------------------------------------------------------------------------------
// list

export const listCommand = {
  name: 'list',
  summary: "a cluster's or group's rollouts, newest first (GET /rollouts)",
  usage:
    'rollout list --cluster <name> | --group <name> [--limit <n>] [--cursor <c>] [--json] [--local | --endpoint <url>]',
  details: [
    'Options:',
    '  --cluster <name>  a failover cluster (exactly one of --cluster and --group)',
    '  --group <name>    a group of standalone servers',
    '  --limit <n>       rollouts per page, 1 to 100 (default 20)',
    '  --cursor <c>      the next page: the cursor the previous page printed',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    'Example: rollout list --local --cluster CLUSTER1',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    cluster: { type: 'string' },
    group: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
} satisfies CommandSpec;

export async function runList(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(listCommand, argv);
  if ((flags.cluster === undefined) === (flags.group === undefined)) {
    throw new UsageError(
      `rollout list: give exactly one of --cluster <name> and --group <name> (see rollout list --help)`,
    );
  }
  const target = flags.cluster
    ? { kind: 'cluster' as const, name: flags.cluster }
    : { kind: 'group' as const, name: flags.group as string };
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    limit = /^[0-9]{1,3}$/.test(flags.limit.trim()) ? Number(flags.limit) : Number.NaN;
    if (!(limit >= 1 && limit <= 100)) {
      throw new UsageError(
        `rollout list: --limit ${JSON.stringify(flags.limit)}: expected a whole number from 1 to 100`,
      );
    }
  }
  return withBackend(listCommand.name, io, flags, async (backend) => {
    const page = await backend.listRollouts(target, {
      ...(limit === undefined ? {} : { limit }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
    });
    if (flags.json) printJson(io, page);
    else {
      const flag = `--${target.kind} ${target.name}${limit === undefined ? '' : ` --limit ${limit}`}`;
      io.out(renderList(page, `${target.kind} ${target.name}`, flag));
    }
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// report

export const reportCommand = {
  name: 'report',
  summary: "a rollout's detailed report as text, JSON, CSV or HTML (like Export-CauReport)",
  usage:
    'rollout report <rollout-id> [--format text|json|csv|html] [--out <file>] [--tz <zone>] [--local | --endpoint <url>]',
  details: [
    'The report of GET /rollouts/{id}/report, like Get-CauReport -Detailed: per node its result',
    '(drained, restarts, attempts), per update the outcome, exit code, restart and duration, and',
    'the ledger entries the rollout installed.',
    '',
    'Options:',
    "  --format <f>      text (default), json (the API's), csv (one row per update, RFC 4180, as",
    '                    Accept: text/csv gives it) or html (a self-contained page, like',
    '                    Export-CauReport -Format HTML; every value is escaped, nothing is loaded)',
    '  --out <file>      write the report to the file instead of stdout',
    '  --tz <zone>       the time zone of the times in text and html, an IANA name such as',
    "                    Europe/Berlin or UTC (default: this machine's); json and csv stay UTC",
    ...CONNECTION_HELP,
    '',
    'Output:',
    '  --json             the same as --format json',
    '  -h, --help         show this help',
    '',
    ...LOCAL_READ_HELP,
    'Example: rollout report --local change-management-1 --format html --out report.html',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    format: { type: 'string' },
    out: { type: 'string' },
    tz: { type: 'string' },
  },
} satisfies CommandSpec;

export async function runReport(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: id } = parseWithArgument(reportCommand, argv, 'rollout id');
  const given = flags.format?.trim().toLowerCase();
  if (given !== undefined && !(REPORT_FORMATS as readonly string[]).includes(given)) {
    throw new UsageError(
      `rollout report: --format ${JSON.stringify(flags.format)}: expected one of ${REPORT_FORMATS.join(', ')}`,
    );
  }
  if (flags.json && given !== undefined && given !== 'json') {
    throw new UsageError(`rollout report: --json and --format ${given} disagree; give one`);
  }
  const format = (flags.json ? 'json' : (given ?? 'text')) as ReportFormat;
  let timeZone: string | undefined;
  if (flags.tz !== undefined) {
    const zone = resolveTimeZone(flags.tz);
    if ('problem' in zone) {
      throw new UsageError(`rollout report: --tz ${JSON.stringify(flags.tz)}: ${zone.problem}`);
    }
    timeZone = zone.timeZone;
  }
  return withBackend(reportCommand.name, io, flags, async (backend) => {
    const text = formatReport(
      await backend.getReport(id, 'json'),
      format,
      timeZone === undefined ? {} : { timeZone },
    );
    if (flags.out === undefined) {
      io.out(text);
      return 0;
    }
    const path = resolve(io.cwd, flags.out);
    try {
      writeFileSync(path, `${text}${format === 'csv' ? '\r\n' : '\n'}`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        `rollout report: --out ${JSON.stringify(flags.out)}: cannot write the file (${code ?? (error as Error).message})`,
        { cause: error },
      );
    }
    io.out(`Wrote the ${format} report of rollout ${id} to ${path}`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// cancel and approve: a running rollout, which a local sandbox never has between commands

const notLocal = (command: string, instead: string) =>
  new UsageError(
    `rollout ${command}: --local has no running rollout to ${command}: a sandbox lives only as long as one command, and its rollouts have ended when the next command starts. ${command === 'cancel' ? 'Cancelling' : 'Deciding an approval gate'} only makes sense inside start --local: ${instead}`,
  );

export const cancelCommand = {
  name: 'cancel',
  summary: 'cancel a rollout after its current node (POST /rollouts/{id}/cancel)',
  usage: 'rollout cancel <rollout-id> [--reason <text>] [--json] [--endpoint <url>]',
  details: [
    'The rollout stops after the current node has left its safe state: no node is left drained, no',
    'further node is updated, and the run ends Cancelled. A rollout waiting at its approval gate',
    'stops there. 409 when the rollout is not running.',
    '',
    'Options:',
    '  --reason <text>   why, recorded with the cancel and sent with the lifecycle event',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    'With --local: cancels a rollout of the local control plane (rollout local up). Without one',
    'running, use rollout start --local --cancel-after <minutes> (exit status 2 otherwise).',
  ],
  options: { ...CONNECTION_OPTIONS, reason: { type: 'string' } },
} satisfies CommandSpec;

export async function runCancel(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: id } = parseWithArgument(cancelCommand, argv, 'rollout id');
  checkConnection(cancelCommand.name, flags);
  if (flags.local && !runningService(io, cancelCommand.name, flags)) {
    throw notLocal('cancel', 'rollout start --local --cancel-after <minutes>');
  }
  return withBackend(cancelCommand.name, io, flags, async (backend) => {
    const answer = await backend.cancel(id, flags.reason);
    if (flags.json) printJson(io, answer);
    else io.out(renderCancel(answer));
    return 0;
  });
}

export const approveCommand = {
  name: 'approve',
  summary: 'approve (or --reject) a rollout waiting at its approval gate',
  usage: 'rollout approve <rollout-id> [--reject] [--comment <text>] [--json] [--endpoint <url>]',
  details: [
    'A rollout with an approvalGate updates its pilot nodes, then waits. Approve: the remaining',
    'nodes are updated (POST /rollouts/{id}/approve). --reject: they are not, and the run ends',
    'Cancelled (POST /rollouts/{id}/reject). 409 when the rollout is not waiting for approval.',
    '',
    'Options:',
    '  --reject          reject instead of approve',
    '  --comment <text>  why; recorded with the decision',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    'With --local: decides a gate of the local control plane (rollout local up). Without one',
    'running, use rollout start --local --input <with approvalGate> --approve (or --reject).',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    reject: { type: 'boolean', default: false },
    comment: { type: 'string' },
  },
} satisfies CommandSpec;

export async function runApprove(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: id } = parseWithArgument(approveCommand, argv, 'rollout id');
  checkConnection(approveCommand.name, flags);
  if (flags.local && !runningService(io, approveCommand.name, flags)) {
    throw notLocal(
      'approve',
      'rollout start --local --input <rollout with approvalGate> --approve',
    );
  }
  return withBackend(approveCommand.name, io, flags, async (backend) => {
    const answer = await backend.decide(id, flags.reject ? 'reject' : 'approve', flags.comment);
    if (flags.json) printJson(io, answer);
    else io.out(renderDecision(answer));
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// force-recovery: CAU's -ForceRecovery

export const forceRecoveryCommand = {
  name: 'force-recovery',
  summary:
    "break the lock of a cluster or group whose rollout is no longer running (CAU's -ForceRecovery)",
  usage: 'rollout force-recovery <cluster-or-group> --reason <text> [--json] [--endpoint <url>]',
  details: [
    "A rollout holds its target's lock for as long as its execution runs, and releases it on every",
    'way out. A run killed where it could not release it leaves the lock behind; this breaks it so a',
    'new rollout may start (POST /targets/{id}/force-recovery). It never breaks the lock of a live',
    'rollout: 409 names its execution (cancel that rollout instead). Who, why and when are recorded',
    'on the run, which ends Failed if it was still recorded Running, and published as the',
    'lifecycle event Rollout Lock Force Recovered. 404 when the target is not locked.',
    '',
    'Options:',
    '  --reason <text>   why (required); recorded on the run and in the event',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    'With --local: not available (exit status 2). A local sandbox lives only as long as one',
    'command, so it never has a lock left behind.',
  ],
  options: { ...CONNECTION_OPTIONS, reason: { type: 'string' } },
} satisfies CommandSpec;

export async function runForceRecovery(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: target } = parseWithArgument(
    forceRecoveryCommand,
    argv,
    'cluster or group name',
  );
  checkConnection(forceRecoveryCommand.name, flags);
  // The local control plane keeps its store across local down + up (a lock of a run that was
  // under way at down is left held): it can recover. A one-command sandbox has nothing to.
  if (flags.local && !readLocalService(localDataDir(io.cwd))) {
    throw new UsageError(
      'rollout force-recovery: --local has no lock to recover: a sandbox lives only as long as one command, and its rollouts release their locks before it ends',
    );
  }
  if (flags.reason === undefined || flags.reason.trim() === '') {
    throw new UsageError(
      `rollout force-recovery: --reason ${JSON.stringify(flags.reason ?? '')}: expected why the lock is broken (it is recorded on the run and in the lifecycle event)`,
    );
  }
  const reason = flags.reason;
  return withBackend(forceRecoveryCommand.name, io, flags, async (backend) => {
    const answer = await backend.forceRecovery(target, reason);
    if (flags.json) printJson(io, answer);
    else
      io.out(
        `The lock of ${answer.target} held by rollout ${answer.rolloutId} (execution ${answer.executionArn ?? 'none'}, ${answer.executionStatus}) was broken at ${answer.recoveredAt} by ${answer.recoveredBy}: ${answer.reason}${answer.runMarkedFailed ? `; rollout ${answer.rolloutId} is now Failed` : ''}. A new rollout may start.`,
      );
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// scan

/** Seconds between two GET /scans/{id} while a scan runs: a node's search takes a minute or so. */
const SCAN_INTERVAL_SECONDS = 5;

export const scanCommand = {
  name: 'scan',
  summary:
    'what a rollout would install where, like Invoke-CauScan (POST /scans); installs nothing',
  usage:
    'rollout scan --input <rollout.json> [--json] [--local [--scenario <file>] | --endpoint <url>]',
  details: [
    'Starts the scan workflow (POST /scans) and waits for it (GET /scans/{id}). Each node searches',
    "Windows Update with the run's QueryString, IncludeRecommendedUpdates and updateSelection",
    '(document ScanUpdates) and gets its hotfix plan. Per node: each update that would install',
    '(KB, title, classification, severity, restart expected and why, hotpatch candidate and why),',
    'each update left out with its rule, a pending restart. Installs, drains and restarts nothing.',
    'Exit status 1 when the scan failed (its reason is printed).',
    '',
    'Options:',
    '  --input <file>    the rollout input, as for rollout start (required unless --local)',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    "With --local, --input defaults to the scenario's own rollout and may leave out target.nodes.",
  ],
  options: { ...CONNECTION_OPTIONS, input: { type: 'string' } },
} satisfies CommandSpec;

export async function runScan(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(scanCommand, argv);
  checkConnection(scanCommand.name, flags);
  if (!flags.local) required(flags.input, 'input', scanCommand.name);
  const input = flags.input === undefined ? undefined : readJsonFile(io.cwd, flags.input, 'input');
  const intervalMs = SCAN_INTERVAL_SECONDS * 1000;
  const print = (view: ScanView) => {
    if (flags.json) printJson(io, view);
    else io.out(renderScanView(view));
    return view.status === 'Succeeded' ? EXIT.ok : EXIT.failed;
  };
  const service = flags.local ? runningService(io, scanCommand.name, flags) : undefined;
  if (!flags.local || service) {
    return withBackend(scanCommand.name, io, flags, async (backend) => {
      const started = await backend.scan(input ?? service?.defaultInput);
      return print(await followScan(backend, started.scanId, { intervalMs }));
    });
  }
  // A scan installs nothing and previews the fleet as it is: the scenario's rollouts do not run
  // first (issue 12 point 4).
  const backend = await connectLocalAfterScenario(
    io,
    flags,
    input === undefined ? [] : [input],
    false,
  );
  try {
    const body = input === undefined ? backend.defaultInput() : backend.completeInput(input);
    const started = await backend.scan(body);
    // In-process: virtual time runs the scan to its end.
    await backend.sandbox.settle();
    return print(await followScan(backend, started.scanId, { intervalMs }));
  } finally {
    await backend.close();
  }
}

// ---------------------------------------------------------------------------------------------
// ledger and remove

export const ledgerCommand = {
  name: 'ledger',
  summary: "a node's install ledger, in install order (GET /nodes/{id}/ledger)",
  usage: 'rollout ledger <node> [--json] [--local | --endpoint <url>]',
  details: [
    'Every update installed on the node, in install order, with the rollout that installed it;',
    'removed ones marked. Then what is installed now and the safe removal order (the reverse).',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    'Example: rollout ledger --local NODE1',
  ],
  options: { ...CONNECTION_OPTIONS },
} satisfies CommandSpec;

export async function runLedger(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: node } = parseWithArgument(ledgerCommand, argv, 'node name');
  return withBackend(ledgerCommand.name, io, flags, async (backend) => {
    const ledger = await backend.getLedger(node);
    if (flags.json) printJson(io, ledger);
    else io.out(renderLedger(ledger));
    return 0;
  });
}

export const removeCommand = {
  name: 'remove',
  summary: 'remove updates from a node in the safe reverse order (POST /nodes/{id}/removals)',
  usage:
    'rollout remove <node> --updates <KB1,KB2,...> [--include-dependents | --force]\n' +
    '       [--cluster <name> | --group <name>] [--instance-id <id>]\n' +
    '       [--change-ticket <system>:<id>] [--requested-by <name>] [--json] [--endpoint <url>]',
  details: [
    'Removes the named updates in reverse install order, then restarts the node. Removing an',
    'update while a later one that replaced the same files stays installed is out of order',
    '(KB823836): the API refuses it (409, naming what would break) unless --include-dependents or',
    '--force. An update that is not installed is refused (422).',
    '',
    'Options:',
    '  --updates <KB,...>            the updates to remove (KB numbers, comma-separated)',
    '  --include-dependents          also remove the later updates that replaced the same files',
    '  --force                       remove out of order despite the KB823836 warnings',
    '  --cluster <name>              the failover cluster of the node: the removal runs as a',
    '                                rollout of it, under its lock (drain, remove, restart, resume)',
    '  --group <name>                the group of a standalone server, instead of --cluster',
    '  --instance-id <id>            the SSM managed node that is the node (i-... or mi-...)',
    '  --change-ticket <system:id>   the change ticket, e.g. ServiceNow:CHG0031337',
    '  --requested-by <name>         who asks (default: the IAM caller)',
    ...CONNECTION_HELP,
    ...OUTPUT_HELP,
    '',
    ...LOCAL_READ_HELP,
    'Starting a removal needs --cluster (or --group) and --instance-id; without them the API',
    'answers 400. A deployment without the removal workflow plans it and answers 501 with the',
    'order it would use; nothing is started.',
  ],
  options: {
    ...CONNECTION_OPTIONS,
    updates: { type: 'string' },
    'include-dependents': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    'change-ticket': { type: 'string' },
    'requested-by': { type: 'string' },
    cluster: { type: 'string' },
    group: { type: 'string' },
    'instance-id': { type: 'string' },
  },
} satisfies CommandSpec;

export async function runRemove(argv: readonly string[], io: Io): Promise<number> {
  const { flags, argument: node } = parseWithArgument(removeCommand, argv, 'node name');
  const updates = required(flags.updates, 'updates', removeCommand.name)
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  let changeTicket: { system: string; id: string } | undefined;
  if (flags['change-ticket'] !== undefined) {
    const text = flags['change-ticket'];
    const colon = text.indexOf(':');
    if (colon <= 0 || colon === text.length - 1) {
      throw new UsageError(
        `rollout remove: --change-ticket ${JSON.stringify(text)}: expected <system>:<id>, e.g. ServiceNow:CHG0031337`,
      );
    }
    changeTicket = { system: text.slice(0, colon), id: text.slice(colon + 1) };
  }
  if (flags.cluster !== undefined && flags.group !== undefined) {
    throw new UsageError('rollout remove: give --cluster or --group, not both');
  }
  const target =
    flags.cluster !== undefined
      ? { kind: 'cluster' as const, name: flags.cluster }
      : flags.group !== undefined
        ? { kind: 'group' as const, name: flags.group }
        : undefined;
  return withBackend(removeCommand.name, io, flags, async (backend) => {
    const answer = await backend.requestRemoval(node, {
      updates,
      ...(target ? { target } : {}),
      ...(flags['instance-id'] === undefined ? {} : { instanceId: flags['instance-id'] }),
      ...(flags['include-dependents'] ? { includeDependents: true } : {}),
      ...(flags.force ? { force: true } : {}),
      ...(changeTicket ? { changeTicket } : {}),
      ...(flags['requested-by'] === undefined ? {} : { requestedBy: flags['requested-by'] }),
    });
    // --local: wait for the removal and say how it ended (cli/commands/removal-wait.ts).
    if (flags.local && answer.executionArn !== null) {
      if (!flags.json) io.out(renderRemoval(answer));
      const { waitForRemoval, renderRemovalEnd } = await import('./removal-wait.js');
      const ended = await waitForRemoval(backend, answer.removalId);
      if (flags.json) printJson(io, { ...answer, result: ended });
      else io.out(renderRemovalEnd(ended));
      return ended.status === 'Succeeded' ? 0 : ended.status === 'Running' ? 0 : 1;
    }
    if (flags.json) printJson(io, answer);
    else io.out(renderRemoval(answer));
    return 0;
  });
}
