/**
 * The `rollout` command: subcommands over the rules engine, the sandbox, and the
 * change-management API (deployed, or the sandbox's with --local). Every failure a user can
 * cause prints its whole message on stderr (every problem, one a line; with --json also an error
 * object on stdout) and exits with a status from cli/exit-status.ts; a stack is printed only for
 * an internal error, and only with ROLLOUT_DEBUG=1.
 */
import { type CommandSpec, helpText, type Io, UsageError } from './args.js';
import { chaosCommand, runChaos } from './commands/chaos.js';
import { dashboardCommand, runDashboard } from './commands/dashboard.js';
import { demoCommand, runDemo } from './commands/demo.js';
import { exitCodeCommand, runExitCode } from './commands/exit-code.js';
import { hotpatchCommand, runHotpatch } from './commands/hotpatch.js';
import { localCommand, runLocal } from './commands/local.js';
import { planCommand, runPlan } from './commands/plan.js';
import {
  approveCommand,
  cancelCommand,
  forceRecoveryCommand,
  ledgerCommand,
  listCommand,
  removeCommand,
  reportCommand,
  runApprove,
  runCancel,
  runForceRecovery,
  runLedger,
  runList,
  runRemove,
  runReport,
  runScan,
  runStart,
  runStatus,
  scanCommand,
  startCommand,
  statusCommand,
} from './commands/rollouts.js';
import { runSandbox, sandboxCommand } from './commands/sandbox.js';
import { runStage, stageCommand } from './commands/stage.js';
import { EXIT, EXIT_TABLE, errorObject, exitStatusFor } from './exit-status.js';

interface Command {
  readonly spec: CommandSpec;
  readonly run: (argv: readonly string[], io: Io) => number | Promise<number>;
}

const COMMANDS: readonly Command[] = [
  { spec: demoCommand, run: runDemo },
  { spec: exitCodeCommand, run: runExitCode },
  { spec: hotpatchCommand, run: runHotpatch },
  { spec: planCommand, run: runPlan },
  { spec: sandboxCommand, run: runSandbox },
  { spec: chaosCommand, run: runChaos },
  { spec: stageCommand, run: runStage },
  { spec: localCommand, run: runLocal },
  { spec: dashboardCommand, run: runDashboard },
  // The change-management API: the deployed one, or the sandbox's with --local.
  { spec: startCommand, run: runStart },
  { spec: statusCommand, run: runStatus },
  { spec: listCommand, run: runList },
  { spec: reportCommand, run: runReport },
  { spec: cancelCommand, run: runCancel },
  { spec: approveCommand, run: runApprove },
  { spec: forceRecoveryCommand, run: runForceRecovery },
  { spec: scanCommand, run: runScan },
  { spec: ledgerCommand, run: runLedger },
  { spec: removeCommand, run: runRemove },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return [
    'Usage: rollout <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
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
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    io.err(`rollout: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
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
