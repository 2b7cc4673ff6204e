// The command line: the commands, registered from one list, and the one place where errors
// become messages and exit codes. `runCli` returns the exit code; `main.ts` sets it.

import { Command, CommanderError } from 'commander';
import type { AnyToolchain } from './contracts.js';
import type { CliApp, CliCommand, CommandContext } from './commands/command.js';
import { describeError, EXIT_CODES, ExitStatus } from './errors.js';
import type { CliIo } from './io.js';

export type { CliApp };

/** A command by name, its module imported only when the command line may need it. */
export interface CommandEntry {
  /** The name its module registers (checked by app.test.ts). */
  name: string;
  load(): Promise<CliCommand>;
}

/** The command run when the first argument names none (`tracebuild .`). */
const DEFAULT_COMMAND = 'build';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'build', load: async () => (await import('./commands/build.js')).buildCommand },
  { name: 'convert', load: async () => (await import('./commands/convert.js')).convertCommand },
  { name: 'keygen', load: async () => (await import('./commands/keygen.js')).keygenCommand },
  { name: 'referrers', load: async () => (await import('./commands/referrers.js')).referrersCommand },
  { name: 'verify', load: async () => (await import('./commands/verify.js')).verifyCommand },
  { name: 'show', load: async () => (await import('./commands/show.js')).showCommand },
  { name: 'diff', load: async () => (await import('./commands/diff.js')).diffCommand },
  { name: 'guard', load: async () => (await import('./commands/guard.js')).guardCommand },
  { name: 'agent', load: async () => (await import('./commands/agent.js')).agentCommand },
  { name: 'agent-trace', load: async () => (await import('./commands/agent-trace.js')).agentTraceCommand },
];

/**
 * The commands a command line can reach, so that a build does not load verify's, the
 * guard's or the tracer's modules just to register their flags (~0.1 s of every start).
 * Commander dispatches on the first argument: a command's name runs that command, anything
 * else the default one. Help and version (`help`, `-h`, `--help`, `-v`, `--version`, also in a
 * cluster of short flags, anywhere before `--`) can print the whole program's help: then
 * every command is registered, as before.
 */
export function commandsFor(argv: readonly string[]): readonly CommandEntry[] {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  const wantsProgram = args[0] === 'help' || args.some((a) => a === '--help' || a === '--version' || /^-[^-]*[hv]/.test(a));
  if (wantsProgram) return COMMANDS;
  const named = COMMANDS.find((c) => c.name === args[0]);
  return named ? [named] : COMMANDS.filter((c) => c.name === DEFAULT_COMMAND);
}

async function createProgram(ctx: CommandContext, commands: readonly CommandEntry[]): Promise<Command> {
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
  const loaded = await Promise.all(commands.map((c) => c.load()));
  for (const command of loaded) command.register(program, ctx);
  return program;
}

/** Runs one command line (argv without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, app: CliApp): Promise<number> {
  let loaded: AnyToolchain | undefined;
  const toolchain = async (): Promise<AnyToolchain> => (loaded ??= await app.loadToolchain());
  try {
    const program = await createProgram({ io, app, toolchain }, commandsFor(argv));
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
