/**
 * The `rollout` command: subcommands over the rules engine, the sandbox, and the
 * change-management API (deployed, or the sandbox's with --local). Every failure a user can
 * cause prints its whole message on stderr (every problem, one a line; with --json also an error
 * object on stdout) and exits with a status from cli/exit-status.ts; a stack is printed only for
 * an internal error, and only with ROLLOUT_DEBUG=1.
 */
import { type CommandSpec, helpText, type Io, UsageError } from './args.js';
import { EXIT, EXIT_TABLE, errorObject, exitStatusFor } from './exit-status.js';

type Run = (argv: readonly string[], io: Io) => number | Promise<number>;

/**
 * A subcommand. Its module is imported only when the command runs or shows its own help
 * (issue 11 §5): `rollout --help` and `rollout exit-code` no longer load every command's
 * dependencies (zod, the API model, node:http) at start. `summary` repeats the spec's own for
 * the top-level help; test/cli/start.test.ts keeps the two in step.
 */
export interface LazyCommand {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<{ readonly spec: CommandSpec; readonly run: Run }>;
}

const rollouts = () => import('./commands/rollouts.js');

export const COMMANDS: readonly LazyCommand[] = [
  {
    name: 'demo',
    summary: 'run plan, exit-code and hotpatch on the shipped examples (what npm start runs)',
    load: async () => {
      const m = await import('./commands/demo.js');
      return { spec: m.demoCommand, run: m.runDemo };
    },
  },
  {
    name: 'exit-code',
    summary: "classify an installer exit code into CAU's outcomes",
    load: async () => {
      const m = await import('./commands/exit-code.js');
      return { spec: m.exitCodeCommand, run: m.runExitCode };
    },
  },
  {
    name: 'hotpatch',
    summary: 'decide hotpatch eligibility (install without restart) from node and package facts',
    load: async () => {
      const m = await import('./commands/hotpatch.js');
      return { spec: m.hotpatchCommand, run: m.runHotpatch };
    },
  },
  {
    name: 'plan',
    summary: 'plan a hotfix root: the ordered updates each node installs, and what is ignored',
    load: async () => {
      const m = await import('./commands/plan.js');
      return { spec: m.planCommand, run: m.runPlan };
    },
  },
  {
    name: 'sandbox',
    summary: 'run a rollout scenario in the local sandbox (no AWS account needed)',
    load: async () => {
      const m = await import('./commands/sandbox.js');
      return { spec: m.sandboxCommand, run: m.runSandbox };
    },
  },
  {
    name: 'chaos',
    summary: 'run random fault scenarios in the sandbox and check the safety invariants',
    load: async () => {
      const m = await import('./commands/chaos.js');
      return { spec: m.chaosCommand, run: m.runChaos };
    },
  },
  {
    name: 'stage',
    summary: "stage each node's updates before the window (download and verify, install nothing)",
    load: async () => {
      const m = await import('./commands/stage.js');
      return { spec: m.stageCommand, run: m.runStage };
    },
  },
  {
    name: 'local',
    summary: 'start (up) or stop (down) a local control plane that the --local commands share',
    load: async () => {
      const m = await import('./commands/local.js');
      return { spec: m.localCommand, run: m.runLocal };
    },
  },
  {
    name: 'dashboard',
    summary:
      'serve the rollout dashboard on 127.0.0.1 (runs, a run live, reports, ledgers, scans, staging)',
    load: async () => {
      const m = await import('./commands/dashboard.js');
      return { spec: m.dashboardCommand, run: m.runDashboard };
    },
  },
  // The change-management API: the deployed one, or the sandbox's with --local.
  {
    name: 'start',
    summary: 'start a rollout (POST /rollouts); --wait follows it to its end',
    load: async () => {
      const m = await rollouts();
      return { spec: m.startCommand, run: m.runStart };
    },
  },
  {
    name: 'status',
    summary: "a rollout's status, current step and per-node progress (GET /rollouts/{id})",
    load: async () => {
      const m = await rollouts();
      return { spec: m.statusCommand, run: m.runStatus };
    },
  },
  {
    name: 'list',
    summary: "a cluster's or group's rollouts, newest first (GET /rollouts)",
    load: async () => {
      const m = await rollouts();
      return { spec: m.listCommand, run: m.runList };
    },
  },
  {
    name: 'report',
    summary: "a rollout's detailed report as text, JSON, CSV or HTML (like Export-CauReport)",
    load: async () => {
      const m = await rollouts();
      return { spec: m.reportCommand, run: m.runReport };
    },
  },
  {
    name: 'cancel',
    summary: 'cancel a rollout after its current node (POST /rollouts/{id}/cancel)',
    load: async () => {
      const m = await rollouts();
      return { spec: m.cancelCommand, run: m.runCancel };
    },
  },
  {
    name: 'approve',
    summary: 'approve (or --reject) a rollout waiting at its approval gate',
    load: async () => {
      const m = await rollouts();
      return { spec: m.approveCommand, run: m.runApprove };
    },
  },
  {
    name: 'force-recovery',
    summary:
      "break the lock of a cluster or group whose rollout is no longer running (CAU's -ForceRecovery)",
    load: async () => {
      const m = await rollouts();
      return { spec: m.forceRecoveryCommand, run: m.runForceRecovery };
    },
  },
  {
    name: 'scan',
    summary:
      'what a rollout would install where, like Invoke-CauScan (POST /scans); installs nothing',
    load: async () => {
      const m = await rollouts();
      return { spec: m.scanCommand, run: m.runScan };
    },
  },
  {
    name: 'ledger',
    summary: "a node's install ledger, in install order (GET /nodes/{id}/ledger)",
    load: async () => {
      const m = await rollouts();
      return { spec: m.ledgerCommand, run: m.runLedger };
    },
  },
  {
    name: 'remove',
    summary: 'remove updates from a node in the safe reverse order (POST /nodes/{id}/removals)',
    load: async () => {
      const m = await rollouts();
      return { spec: m.removeCommand, run: m.runRemove };
    },
  },
  {
    name: 'compliance',
    summary:
      "a cluster's or group's compliance per node, from its last assessment (GET /compliance)",
    load: async () => {
      const m = await import('./commands/compliance.js');
      return { spec: m.complianceCommand, run: m.runCompliance };
    },
  },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: rollout <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run rollout <command> --help for the options of a command.',
    '',
    'Exit statuses:',
    ...EXIT_TABLE.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`),
  ].join('\n');
}

/** Runs the CLI and returns the exit status. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.err(`rollout: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(helpText(command.spec));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(name, rest, error, io);
  }
}

/**
 * Prints a command's error: on stderr, the whole message (every problem, one a line) and never a
 * stack unless ROLLOUT_DEBUG=1; with --json, also the error object on stdout for scripts.
 */
function reportError(name: string, argv: readonly string[], error: unknown, io: Io): number {
  const status = exitStatusFor(error);
  const text = error instanceof Error ? error.message : String(error);
  // A UsageError already names the command.
  const message =
    error instanceof UsageError
      ? text
      : status === EXIT.internal
        ? `rollout ${name}: internal error: ${text}`
        : `rollout ${name}: ${text}`;
  io.err(message);
  if (argv.includes('--json')) io.out(JSON.stringify(errorObject(error, message), null, 2));
  if (status === EXIT.internal && process.env.ROLLOUT_DEBUG === '1' && error instanceof Error) {
    io.err(error.stack ?? '');
  }
  return status;
}

function processIo(): Io {
  // `rollout report x | head`: the reader left; stop quietly, as cat does, without a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    cwd: process.cwd(),
  };
}
