// `tracebuild build [PATH]` (the default command: `tracebuild .`): docker build's flags and
// habits, read into a BuildRequest, then the build pipeline (cli/build/pipeline.ts).

import { Option, type Command } from 'commander';
import type { NetworkMode } from '../contracts.js';
import { UsageError } from '../errors.js';
import type { ProgressMode } from '../progress/index.js';
import { runBuild } from '../build/pipeline.js';
import type { BuildRequest } from '../build/types.js';
import { addExecFlags, execDefaults, type ExecFlags } from '../build/exec-flags.js';
import { outputRequest, registerOutputOptions, type OutputFlags } from '../build/output-flags.js';
import { cacheRequest, registerCacheOptions, type CacheFlags } from '../build/cache.js';
import { collect, type CliCommand } from './command.js';

export const NETWORKS: NetworkMode[] = ['default', 'host', 'none'];
export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'rawjson'] as const;
/** What `--progress` and BUILDKIT_PROGRESS accept: the modes, and buildx's `quiet` (= -q). */
const PROGRESS_CHOICES = [...PROGRESS_MODES, 'quiet'] as const;
/** What `--allow` can grant, as buildx names it. */
const ENTITLEMENTS = ['network.host', 'security.insecure'];

/** `--progress`, else docker's BUILDKIT_PROGRESS, else `auto`; `quiet` as buildx takes it:
 * no progress, the image ID on stdout (`-q`). */
export function progressMode(flag: string | undefined, env: NodeJS.ProcessEnv): { mode: ProgressMode; quiet: boolean } {
  const chosen = flag ?? env.BUILDKIT_PROGRESS?.trim();
  if (chosen === undefined || chosen === '') return { mode: 'auto', quiet: false };
  if (chosen === 'quiet') return { mode: 'auto', quiet: true };
  if ((PROGRESS_MODES as readonly string[]).includes(chosen)) return { mode: chosen as ProgressMode, quiet: false };
  throw new UsageError('bad-flag', `invalid BUILDKIT_PROGRESS "${chosen}": allowed are ${PROGRESS_CHOICES.join(', ')}`);
}

const SIGNING_FIELDS = ['push', 'key', 'cert', 'keyless', 'identityToken', 'fulcioUrl', 'rekorUrl', 'tsaUrl', 'attestOut'] as const;

/** The build flags of the signing side, as commander gives them (named as BuildRequest names them). */
export type SigningFlags = Pick<BuildRequest, (typeof SIGNING_FIELDS)[number]>;

/** BuildRequest fields from the flags (only those given). */
export function signingRequest(flags: SigningFlags): SigningFlags {
  const out: SigningFlags = {};
  for (const name of SIGNING_FIELDS) {
    const value = flags[name];
    if (value === undefined || value === false) continue;
    (out as Record<string, string | boolean>)[name] = value;
  }
  return out;
}

export interface BuildFlags extends SigningFlags, ExecFlags, OutputFlags, CacheFlags {
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
  buildContext?: string[];
  ssh?: string[];
  platform?: string[];
  /** false: --no-trace. */
  trace?: boolean;
  traceOut?: string;
  allowIncompleteTrace?: boolean;
  enforce?: string;
}

export function buildRequest(path: string, flags: BuildFlags, env: NodeJS.ProcessEnv): BuildRequest {
  const progress = progressMode(flags.progress, env);
  const request: BuildRequest = {
    context: path,
    ...(flags.file === undefined ? {} : { file: flags.file }),
    tags: flags.tag ?? [],
    buildArgs: flags.buildArg ?? [],
    labels: flags.label ?? [],
    network: flags.network,
    noCache: !flags.cache,
    progress: progress.mode,
    ...(flags.target === undefined ? {} : { target: flags.target }),
    quiet: flags.quiet === true || progress.quiet,
    secrets: flags.secret ?? [],
    allow: (flags.allow ?? []).map((value) => {
      if (!ENTITLEMENTS.includes(value)) {
        throw new UsageError('invalid-entitlement', `invalid argument "${value}" for "--allow" flag: expected ${ENTITLEMENTS.join(' or ')}`);
      }
      return value;
    }),
    ...(flags.buildContext === undefined ? {} : { buildContexts: flags.buildContext }),
    ...(flags.ssh === undefined ? {} : { ssh: flags.ssh }),
    ...(flags.platform === undefined ? {} : { platforms: flags.platform }),
    ...signingRequest(flags),
    trace: flags.trace !== false,
    ...(flags.traceOut === undefined ? {} : { traceOut: flags.traceOut }),
    ...(flags.allowIncompleteTrace === true ? { allowIncompleteTrace: true } : {}),
    ...(flags.enforce === undefined ? {} : { enforce: flags.enforce }),
    ...optional('execDefaults', execDefaults(flags)),
  };
  return { ...request, ...outputRequest(flags, request), ...cacheRequest(flags) };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** The --network flag, as build and convert take it. */
export function networkOption(): Option {
  return new Option('--network <mode>', 'networking mode for RUN instructions').choices(NETWORKS).default('default');
}

export const buildCommand: CliCommand = {
  register(program: Command, { io, toolchain }) {
    const build = program
      .command('build', { isDefault: true })
      .description('build an image from a Dockerfile (the default command: `tracebuild .`)')
      .argument('[PATH]', 'build context directory', '.')
      .option('-f, --file <FILE>', "name of the Dockerfile (default: 'PATH/Dockerfile')")
      .option('-t, --tag <NAME>', "name and optionally a tag in the 'name:tag' format (repeatable)", collect)
      .option('--build-arg <K=V>', 'set a build-time variable; `K` alone takes it from the environment (repeatable)', collect)
      .addOption(networkOption())
      .option('--no-cache', 'do not use cache when building the image')
      .addOption(new Option('--progress <mode>', 'progress output: auto, tty, plain, rawjson (a JSON object per status update, as buildx), or quiet (as -q) (default: auto, or $BUILDKIT_PROGRESS)').choices(PROGRESS_CHOICES))
      .option('--label <K=V>', 'set metadata for an image (repeatable)', collect)
      .option('--target <STAGE>', 'set the target build stage to build')
      .option('-q, --quiet', 'suppress the build output and print the image ID on success')
      .option('--secret <id=ID[,src=FILE|env=VAR]>', 'a secret for RUN --mount=type=secret (repeatable; id=ID alone: the variable ID if set, else the file ID); never stored in the image or the trace', collect)
      .option('--build-context <NAME=VALUE>', 'an additional build context a FROM or COPY --from NAME uses: a directory, docker-image://REF or oci-layout://DIR[:TAG][@DIGEST] (repeatable)', collect)
      .option('--ssh <default|ID[=SOCKET|KEYFILE[,KEYFILE]]>', 'forward an SSH agent, or private key files in an agent of the build, to RUN --mount=type=ssh (read-only; default: $SSH_AUTH_SOCK) (repeatable)', collect)
      .option('--platform <os/arch[/variant]>', "the platform to build for (default: the daemon's own); one per build", collect)
      .option('--allow <ENTITLEMENT>', `allow an extra privilege: ${ENTITLEMENTS.join(' or ')} (repeatable)`, collect)
      .option('--no-trace', 'build without the eBPF trace (tracing needs root)')
      .option('--trace-out <FILE>', 'write the per-instruction trace as JSON to FILE (also for a failed build)')
      .option(
        '--allow-incomplete-trace',
        'finish, push and sign the build even when the probe stops watching part of it (the trace then says so); by default the build fails',
      )
      .option('--enforce <POLICY>', "apply the policy file's enforce rules while the build runs (egress allowlists in the kernel: a refused connect or send kills the step); needs the trace and BuildKit v0.10+")
      .option('--push', 'push every -t name to its registry (through dockerd); with --key, attach the signed attestations to it')
      .option('--key <FILE>', 'sign the runtime trace and SLSA provenance with this private key, ours or cosign.key (password: $TRACEBUILD_KEY_PASSWORD, $COSIGN_PASSWORD, else asked on a terminal)')
      .option('--cert <FILE>', "with --key: the key's X.509 certificate (PEM, leaf first; e.g. a SPIFFE identity from your CA): the bundles carry the certificate")
      .option('--keyless', 'sign with a short-lived Fulcio certificate for your OIDC identity (Sigstore keyless); recorded in Rekor')
      .option('--identity-token <TOKEN|FILE>', 'with --keyless: the OIDC identity token, or a file holding it (default: the ambient CI token, e.g. $SIGSTORE_ID_TOKEN or GitHub Actions)')
      .option('--fulcio-url <URL>', 'with --keyless: the Fulcio CA (default https://fulcio.sigstore.dev)')
      .option('--rekor-url <URL>', 'record the signatures in this Rekor transparency log (--keyless: default https://rekor.sigstore.dev)')
      .option('--tsa-url <URL>', 'timestamp the signatures with this RFC 3161 timestamp authority (Sigstore TSA API)')
      .option('--attest-out <DIR>', 'also write the signed bundles there; needed for --key without --push');
    registerOutputOptions(build);
    registerCacheOptions(build);
    addExecFlags(build)
      .action(async (path: string, flags: BuildFlags) => {
        await runBuild(buildRequest(path, flags, io.env), io, await toolchain());
      });
  },
};
