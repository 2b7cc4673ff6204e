// The command line: commander definitions, docker's flag habits, and the one place where
// errors become messages and exit codes. `runCli` returns the exit code; `main.ts` sets it.

import { Command, CommanderError, Option } from 'commander';
import type { AnyToolchain, NetworkMode } from './contracts.js';
import { runBuild, type BuildRequest } from './commands/build.js';
import { runConvert } from './commands/convert.js';
import { addDiffCommand } from './commands/diff.js';
import { addShowCommand } from './commands/show.js';
import { registerGuardCommand } from './commands/guard.js';
import { registerSigningCommands, signingRequest, type SigningFlags } from './commands/attest-cli.js';
import { describeError, EXIT_CODES, ExitStatus, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import type { ProgressMode } from './progress/index.js';
import type { ImageTraceFetcher } from './trace-input.js';

export interface CliApp {
  version: string;
  /** Loaded on first use, so `--help` and usage errors never load the gRPC stack. */
  loadToolchain(): Promise<AnyToolchain>;
  /** Reads an image's verified runtime-trace attestation for `show`/`diff` (see cli/trace-input.ts); absent: images are refused. */
  fetchImageTrace?: ImageTraceFetcher;
}

const NETWORKS: NetworkMode[] = ['default', 'host', 'none'];
const PROGRESS_MODES = ['auto', 'tty', 'plain'] as const;
/** What `--allow` can grant, as buildx names it. */
const ENTITLEMENTS = ['network.host', 'security.insecure'];

/** Repeatable flags; no default given to commander so that help shows none. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `--progress`, else docker's BUILDKIT_PROGRESS, else `auto`. */
export function progressMode(flag: string | undefined, env: NodeJS.ProcessEnv): ProgressMode {
  if (flag !== undefined) return flag as ProgressMode;
  const fromEnv = env.BUILDKIT_PROGRESS?.trim();
  if (fromEnv === undefined || fromEnv === '') return 'auto';
  if ((PROGRESS_MODES as readonly string[]).includes(fromEnv)) return fromEnv as ProgressMode;
  throw new UsageError('bad-flag', `invalid BUILDKIT_PROGRESS "${fromEnv}": allowed are ${PROGRESS_MODES.join(', ')}`);
}

interface BuildFlags extends SigningFlags {
  file?: string;
  tag?: string[];
  buildArg?: string[];
  network: NetworkMode;
  cache: boolean;
  progress?: string;
  label?: string[];
  target?: string;
  quiet?: boolean;
  secret?: string[];
  allow?: string[];
  /** false: --no-trace. */
  trace?: boolean;
  traceOut?: string;
  allowIncompleteTrace?: boolean;
}

interface ConvertFlags {
  file?: string;
  buildArg?: string[];
  label?: string[];
  network: NetworkMode;
  target?: string;
}

export function buildRequest(path: string, flags: BuildFlags, env: NodeJS.ProcessEnv): BuildRequest {
  return {
    context: path,
    ...(flags.file === undefined ? {} : { file: flags.file }),
    tags: flags.tag ?? [],
    buildArgs: flags.buildArg ?? [],
    labels: flags.label ?? [],
    network: flags.network,
    noCache: !flags.cache,
    progress: progressMode(flags.progress, env),
    ...(flags.target === undefined ? {} : { target: flags.target }),
    quiet: flags.quiet === true,
    secrets: flags.secret ?? [],
    allow: (flags.allow ?? []).map((value) => {
      if (!ENTITLEMENTS.includes(value)) {
        throw new UsageError('invalid-entitlement', `invalid argument "${value}" for "--allow" flag: expected ${ENTITLEMENTS.join(' or ')}`);
      }
      return value;
    }),
    ...signingRequest(flags),
    trace: flags.trace !== false,
    ...(flags.traceOut === undefined ? {} : { traceOut: flags.traceOut }),
    ...(flags.allowIncompleteTrace === true ? { allowIncompleteTrace: true } : {}),
  };
}

function createProgram(io: CliIo, app: CliApp, toolchain: () => Promise<AnyToolchain>): Command {
  const program = new Command('tracebuild')
    .description('Build a Docker image with BuildKit and record what every Dockerfile instruction did')
    .version(app.version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const network = () =>
    new Option('--network <mode>', 'networking mode for RUN instructions').choices(NETWORKS).default('default');

  program
    .command('build', { isDefault: true })
    .description('build an image from a Dockerfile (the default command: `tracebuild .`)')
    .argument('[PATH]', 'build context directory', '.')
    .option('-f, --file <FILE>', "name of the Dockerfile (default: 'PATH/Dockerfile')")
    .option('-t, --tag <NAME>', "name and optionally a tag in the 'name:tag' format (repeatable)", collect)
    .option('--build-arg <K=V>', 'set a build-time variable; `K` alone takes it from the environment (repeatable)', collect)
    .addOption(network())
    .option('--no-cache', 'do not use cache when building the image')
    .addOption(new Option('--progress <mode>', 'progress output: auto, tty or plain (default: auto, or $BUILDKIT_PROGRESS)').choices(PROGRESS_MODES))
    .option('--label <K=V>', 'set metadata for an image (repeatable)', collect)
    .option('--target <STAGE>', 'set the target build stage to build')
    .option('-q, --quiet', 'suppress the build output and print the image ID on success')
    .option('--secret <id=ID,src=FILE|env=VAR>', 'a secret for RUN --mount=type=secret (repeatable); never stored in the image or the trace', collect)
    .option('--allow <ENTITLEMENT>', `allow an extra privilege: ${ENTITLEMENTS.join(' or ')} (repeatable)`, collect)
    .option('--no-trace', 'build without the eBPF trace (tracing needs root)')
    .option('--trace-out <FILE>', 'write the per-instruction trace as JSON to FILE (also for a failed build)')
    .option(
      '--allow-incomplete-trace',
      'finish, push and sign the build even when the probe stops watching part of it (the trace then says so); by default the build fails',
    )
    .option('--push', 'push every -t name to its registry (through dockerd); with --key, attach the signed attestations to it')
    .option('--key <FILE>', 'sign the runtime trace and SLSA provenance with this private key (password: $TRACEBUILD_KEY_PASSWORD)')
    .option('--attest-out <DIR>', 'also write the signed bundles there; needed for --key without --push')
    .action(async (path: string, flags: BuildFlags) => {
      const request = buildRequest(path, flags, io.env);
      await runBuild(request, io, await toolchain());
    });

  program
    .command('convert')
    .description('print the LLB a Dockerfile converts to, as JSON (no daemon contacted)')
    .argument('[PATH]', 'build context directory', '.')
    .option('-f, --file <FILE>', "name of the Dockerfile (default: 'PATH/Dockerfile')")
    .option('--build-arg <K=V>', 'set a build-time variable; `K` alone takes it from the environment (repeatable)', collect)
    .option('--label <K=V>', 'set metadata for an image (repeatable)', collect)
    .addOption(network())
    .option('--target <STAGE>', 'set the target build stage to convert')
    .action(async (path: string, flags: ConvertFlags) => {
      await runConvert(
        {
          context: path,
          ...(flags.file === undefined ? {} : { file: flags.file }),
          buildArgs: flags.buildArg ?? [],
          labels: flags.label ?? [],
          network: flags.network,
          ...(flags.target === undefined ? {} : { target: flags.target }),
        },
        io,
        await toolchain(),
      );
    });

  registerSigningCommands(program, io);
  addShowCommand(program, io, app);
  addDiffCommand(program, io, app);
  registerGuardCommand(program, io);
  return program;
}

/** Runs one command line (argv without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, app: CliApp): Promise<number> {
  let loaded: AnyToolchain | undefined;
  const toolchain = async (): Promise<AnyToolchain> => (loaded ??= await app.loadToolchain());
  const program = createProgram(io, app, toolchain);
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
