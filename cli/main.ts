/**
 * The `rollout` command: subcommands over the rules engine, the sandbox, and the
 * change-management API (deployed, or the sandbox's with --local). Every failure a user can
 * cause prints one line on stderr and exits non-zero; only an internal error prints more, and
 * only with ROLLOUT_DEBUG=1.
 */
import { RolloutRuleError } from '../lambdas/core/errors.js';
import { type CommandSpec, helpText, type Io, UsageError } from './args.js';
import { BackendError } from './backend.js';
import { chaosCommand, runChaos } from './commands/chaos.js';
import { demoCommand, runDemo } from './commands/demo.js';
import { exitCodeCommand, runExitCode } from './commands/exit-code.js';
import { hotpatchCommand, runHotpatch } from './commands/hotpatch.js';
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
  ].join('\n');
}

/** Runs the CLI and returns the exit status. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    io.err(`rollout: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(helpText(command.spec));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof RolloutRuleError) {
      io.err(`rollout ${name}: ${error.message}`);
      return 1;
    }
    // The API refused the request (naming the field), or it did not reach the API.
    if (error instanceof BackendError) {
      io.err(`rollout ${name}: ${error.message}`);
      return 1;
    }
    io.err(
      `rollout ${name}: internal error: ${error instanceof Error ? error.message : String(error)}`,
    );
    if (process.env.ROLLOUT_DEBUG === '1' && error instanceof Error) io.err(error.stack ?? '');
    return 70;
  }
}

function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    cwd: process.cwd(),
  };
}
