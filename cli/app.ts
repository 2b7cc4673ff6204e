// The command line: the commands, registered from one list, and the one place where errors
// become messages and exit codes. `runCli` returns the exit code; `main.ts` sets it.

import { Command, CommanderError } from 'commander';
import type { AnyToolchain } from './contracts.js';
import { agentCommand } from './commands/agent.js';
import { agentTraceCommand } from './commands/agent-trace.js';
import { buildCommand } from './commands/build.js';
import type { CliApp, CliCommand, CommandContext } from './commands/command.js';
import { convertCommand } from './commands/convert.js';
import { diffCommand } from './commands/diff.js';
import { guardCommand } from './commands/guard.js';
import { keygenCommand } from './commands/keygen.js';
import { referrersCommand } from './commands/referrers.js';
import { showCommand } from './commands/show.js';
import { verifyCommand } from './commands/verify.js';
import { describeError, EXIT_CODES, ExitStatus } from './errors.js';
import type { CliIo } from './io.js';

export type { CliApp };

/** Every command, in the order `--help` lists them. */
const COMMANDS: readonly CliCommand[] = [
  buildCommand,
  convertCommand,
  keygenCommand,
  referrersCommand,
  verifyCommand,
  showCommand,
  diffCommand,
  guardCommand,
  agentCommand,
  agentTraceCommand,
];

function createProgram(ctx: CommandContext): Command {
  const { io, app } = ctx;
  const program = new Command('tracebuild')
    .description('Build a Docker image with BuildKit and record what every Dockerfile instruction did')
    .version(app.version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const command of COMMANDS) command.register(program, ctx);
  return program;
}

/** Runs one command line (argv without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, app: CliApp): Promise<number> {
  let loaded: AnyToolchain | undefined;
  const toolchain = async (): Promise<AnyToolchain> => (loaded ??= await app.loadToolchain());
  const program = createProgram({ io, app, toolchain });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its message (or the help/version text).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    if (err instanceof ExitStatus) {
      if (err.message !== '') io.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    const report = describeError(err);
    if (report.details !== undefined) io.stderr.write(report.details);
    io.stderr.write(`${report.message}\n`);
    if (report.kind === 'internal' && io.env.TRACEBUILD_DEBUG && err instanceof Error && err.stack) {
      io.stderr.write(`${err.stack}\n`);
    }
    return report.exitCode;
  }
}
