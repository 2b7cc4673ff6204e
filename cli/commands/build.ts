// `tracebuild build`: a pipeline of phases over one BuildRun record.
//
//   prepare  flags -> tags, build args, labels; PATH, Dockerfile, .dockerignore read
//   parse    Dockerfile text -> AST; entitlements (network.host)
//   connect  BuildKit endpoint from the environment, client (closed at the end)
//   solve    gateway solve: the frontend callback converts the Dockerfile with the
//            daemon's image resolver; Status batches feed the progress display; a failure
//            is mapped to its Dockerfile line and output tail
//   report   image ID and names to stdout
//   signing-check (after prepare), push, attest (after report): --push/--key, see
//            push.ts and attest.ts
//   trace (before connect), trace-ready (before solve), trace-report (after solve):
//            the eBPF trace (`run.trace`), unless --no-trace, see trace-phase.ts
//
// Later phases slot in by name: a `trace` phase starts the probe between `connect` and
// `solve` (registering its stop with `defer`) and one after `solve` correlates the events
// with `run.conversion.steps` and the progress state; `attest` and `push` go after `solve`
// and read `run.imageId`. Nothing is tagged on failure: the exporter only runs when the
// solve succeeds.

import type {
  BuildKitClient,
  Conversion,
  ConvertOptions,
  DockerfileAstView,
  NetworkMode,
  SolveObserver,
  SolveResult,
  Toolchain,
} from '../contracts.js';
import { parseBuildArgs, parseLabels } from '../args.js';
import { BuildInputError, CanceledError, UsageError } from '../errors.js';
import { explainSolveFailure } from '../failure.js';
import type { CliIo } from '../io.js';
import { createProgress, type ProgressMode, type ProgressSession } from '../progress/index.js';
import { InvalidReferenceError, normalizeTag, type NormalizedReference } from '../reference.js';
import { loadSecrets, parseSecretFlag } from '../secrets.js';
import { readBuildInputs, type BuildInputs } from './inputs.js';
import { contextDirReader } from './convert.js';
import { attestPhase, signingCheckPhase, type SigningSetup } from './attest.js';
import { pushPhase, type PushedImage } from './push.js';
import type { Trace } from '../../model/index.js';
import { tracePhase, traceReadyPhase, traceReportPhase } from './trace-phase.js';

export interface BuildRequest {
  /** PATH as given (default `.`). */
  context: string;
  /** `-f` as given. */
  file?: string;
  tags: string[];
  buildArgs: string[];
  labels: string[];
  network: NetworkMode;
  noCache: boolean;
  progress: ProgressMode;
  target?: string;
  quiet: boolean;
  /** `--secret` values as given. */
  secrets: string[];
  /** `--allow` entitlements. */
  allow: string[];
  /** `--push`: push every -t name (push.ts). */
  push?: boolean;
  /** `--key FILE`: sign attestations with this private key (attest.ts). */
  key?: string;
  /** `--attest-out DIR`: also write the signed bundles there. */
  attestOut?: string;
  /** false: `--no-trace` (default: traced). */
  trace?: boolean;
  /** `--trace-out FILE`: write the trace JSON there. */
  traceOut?: string;
  /** `--allow-incomplete-trace`: a gap in the monitoring does not fail the build. */
  allowIncompleteTrace?: boolean;
}

export interface BuildRun<Ast extends DockerfileAstView, Def, E> {
  readonly request: BuildRequest;
  readonly io: CliIo;
  readonly toolchain: Toolchain<Ast, Def, E>;
  tags: NormalizedReference[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  inputs?: BuildInputs;
  ast?: Ast;
  entitlements: string[];
  /** Secret values by id; never printed, never put in the LLB or a trace. */
  secrets: Record<string, Uint8Array>;
  client?: BuildKitClient<Def>;
  progress?: ProgressSession;
  /** Set by the frontend callback during the solve. */
  conversion?: Conversion<Def>;
  result?: SolveResult;
  /** `sha256:...` from the exporter. */
  imageId?: string;
  /** Set by signing-check when --key is given. */
  signing?: SigningSetup;
  /** Set by the push phase: each -t name with its manifest digest in the registry. */
  pushed?: PushedImage[];
  /** Listeners of the solve besides the progress display (the trace phase's). */
  solveObservers?: SolveObserver[];
  /** The per-instruction trace, set after the solve (also a failed one) unless --no-trace. */
  trace?: Trace;
  /** Registers cleanup run after the last phase, most recent first, failure or not. */
  defer(cleanup: () => unknown): void;
  /** Aborted by Ctrl-C (io.signal) or by `abort`: what the solve and the pushes listen to. */
  readonly signal: AbortSignal;
  /** Stops the build from inside (e.g. the probe stopped watching): the running phase
   * fails with `reason`. */
  abort(reason: Error): void;
}

export interface BuildPhase<Ast extends DockerfileAstView, Def, E> {
  readonly name: string;
  run(run: BuildRun<Ast, Def, E>): Promise<void> | void;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is not ready (phase order)`);
  return value;
}

/** Tags validated and normalized like `docker build -t` (duplicates dropped). */
export function normalizeTags(tags: readonly string[]): NormalizedReference[] {
  const out: NormalizedReference[] = [];
  for (const tag of tags) {
    let ref: NormalizedReference;
    try {
      ref = normalizeTag(tag);
    } catch (err) {
      if (err instanceof InvalidReferenceError) {
        throw new UsageError('invalid-tag', `invalid argument "${tag}" for "-t, --tag" flag: ${err.message}`);
      }
      throw err;
    }
    if (!out.some((r) => r.normalized === ref.normalized)) out.push(ref);
  }
  return out;
}

function runsWithFlag(ast: DockerfileAstView, flag: string, value: string): { range: { startLine: number } }[] {
  return ast.stages.flatMap((stage) =>
    stage.instructions.filter(
      (ins) =>
        ins.keyword.toUpperCase() === 'RUN' &&
        ins.flags.some((f) => f.name.replace(/^--/, '') === flag && f.value === value),
    ),
  );
}

/** The entitlements the solve must ask for: `network.host` when the build or any RUN
 * (`RUN --network=host`) uses the host network, which dockerd grants by default;
 * `security.insecure` only when `--allow` grants it, as buildx does. */
export function entitlementsFor(
  network: NetworkMode,
  ast: DockerfileAstView,
  allow: readonly string[] = [],
  dockerfileName = 'Dockerfile',
): string[] {
  const out: string[] = [];
  if (network === 'host' || runsWithFlag(ast, 'network', 'host').length > 0) out.push('network.host');
  const insecure = runsWithFlag(ast, 'security', 'insecure')[0];
  if (insecure !== undefined) {
    if (!allow.includes('security.insecure')) {
      const line = insecure.range.startLine;
      throw new BuildInputError(
        'entitlement-not-allowed',
        `${dockerfileName}:${line}: RUN --security=insecure needs the security.insecure entitlement: pass --allow security.insecure`,
        { file: dockerfileName, line },
      );
    }
    out.push('security.insecure');
  }
  return out;
}

/** A required secret the Dockerfile mounts but `--secret` did not give: named with its line
 * before anything runs. */
export function checkSecretsProvided(
  wanted: readonly { id: string; required: boolean; line: number }[] | undefined,
  given: Readonly<Record<string, Uint8Array>>,
  dockerfileName: string,
): void {
  const missing = (wanted ?? []).find((s) => s.required && !Object.hasOwn(given, s.id));
  if (missing === undefined) return;
  throw new BuildInputError(
    'secret-not-provided',
    `${dockerfileName}:${missing.line}: secret ${missing.id} is required but not provided: pass --secret id=${missing.id},src=FILE`,
    { file: dockerfileName, line: missing.line },
  );
}

export function moby(tags: readonly NormalizedReference[]): { type: 'moby'; attrs: Record<string, string> } {
  return { type: 'moby', attrs: tags.length > 0 ? { name: tags.map((t) => t.normalized).join(',') } : {} };
}

export function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}

/** Why the build's signal fired: Ctrl-C, or the reason given to run.abort(). */
function abortReason(run: { io: CliIo; signal: AbortSignal }): Error {
  if (run.io.signal?.aborted === true) return new CanceledError();
  return run.signal.reason instanceof Error ? run.signal.reason : new CanceledError();
}

function throwIfAborted(run: { io: CliIo; signal: AbortSignal }): void {
  if (run.signal.aborted) throw abortReason(run);
}

export function preparePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'prepare',
    run(run) {
      run.tags = normalizeTags(run.request.tags);
      run.buildArgs = parseBuildArgs(run.request.buildArgs, run.io.env);
      run.labels = parseLabels(run.request.labels);
      run.inputs = readBuildInputs(run.request, run.io.cwd);
      const sources = run.request.secrets.map((value) => parseSecretFlag(value, run.io.cwd));
      run.secrets = loadSecrets(sources, run.io.env);
    },
  };
}

export function parsePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'parse',
    run(run) {
      const inputs = required(run.inputs, 'inputs');
      run.ast = run.toolchain.parseDockerfile(inputs.dockerfileText, inputs.dockerfileName);
      run.entitlements = entitlementsFor(run.request.network, run.ast, run.request.allow, inputs.dockerfileName);
    },
  };
}

export function connectPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'connect',
    async run(run) {
      throwIfAborted(run);
      const client = await run.toolchain.connectBuildKit(run.toolchain.endpointFromEnv(run.io.env));
      run.client = client;
      run.defer(() => client.close());
    },
  };
}

export function solvePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'solve',
    async run(run) {
      const inputs = required(run.inputs, 'inputs');
      const ast = required(run.ast, 'ast');
      const client = required(run.client, 'client');
      const { request, io, toolchain } = run;
      const progress = createProgress(request.quiet ? 'quiet' : request.progress, {
        sink: io.stderr,
        clock: io.clock,
        ticker: io.ticker,
      });
      run.progress = progress;
      run.defer(() => progress.finish());
      throwIfAborted(run);
      // An error of our own frontend callback (a ConvertError) is reported as itself, however
      // the client wraps it.
      let frontendError: { err: unknown } | undefined;
      try {
        run.result = await client.solve({
          contextDir: inputs.contextDir,
          dockerignore: inputs.dockerignore.patterns,
          exporter: moby(run.tags),
          entitlements: run.entitlements,
          frontend: async (gateway) => {
            const options: ConvertOptions<Ast> = {
              dockerfile: ast,
              buildArgs: run.buildArgs,
              labels: run.labels,
              ...(request.target === undefined ? {} : { target: request.target }),
              network: request.network,
              noCache: request.noCache,
              excludePatterns: inputs.dockerignore.patterns,
              sessionId: gateway.sessionId,
              resolveImageConfig: (ref, platform) => gateway.resolveImageConfig(ref, platform),
              // COPY --parents wildcards are expanded against the context (see convert.ts).
              readContextDir: contextDirReader(inputs.contextDir),
            };
            const conversion = await toolchain
              .convertDockerfile(options)
              .catch((err: unknown) => {
                frontendError = { err };
                throw err;
              });
            run.conversion = conversion;
            try {
              checkSecretsProvided(conversion.secrets, run.secrets, inputs.dockerfileName);
            } catch (err) {
              frontendError = { err };
              throw err;
            }
            return { definition: conversion.definition, imageConfig: conversion.imageConfig };
          },
          onStatus: (batch) => {
            progress.update(batch);
            for (const o of run.solveObservers ?? []) o.onStatus?.(batch);
          },
          onFileServed: (file) => {
            for (const o of run.solveObservers ?? []) o.onFileServed?.(file);
          },
          secrets: run.secrets,
          signal: run.signal,
        });
      } catch (err) {
        progress.finish();
        if (run.signal.aborted) throw abortReason(run);
        if (frontendError !== undefined) throw frontendError.err;
        throw explainSolveFailure(err, {
          state: progress.state,
          steps: run.conversion?.steps,
          dockerfileName: inputs.dockerfileName,
          dockerfileText: inputs.dockerfileText,
        });
      }
      progress.finish();
      run.imageId = run.result.exporterResponse['containerimage.digest'];
    },
  };
}

export function reportPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'report',
    run(run) {
      const { stdout } = run.io;
      const id = run.imageId;
      if (run.request.quiet) {
        if (id !== undefined) stdout.write(`${id}\n`);
        return;
      }
      let out = id === undefined ? '' : `Successfully built ${shortId(id)}\n`;
      for (const tag of run.tags) out += `Successfully tagged ${tag.familiar}\n`;
      if (out !== '') stdout.write(out);
    },
  };
}

export function defaultBuildPhases<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E>[] {
  return [preparePhase(), signingCheckPhase(), parsePhase(), tracePhase(), connectPhase(), traceReadyPhase(), solvePhase(), traceReportPhase(), reportPhase(), pushPhase(), attestPhase()];
}

/** Runs the phases in order; cleanups run last, whatever happened. Throws the first error. */
export async function runBuild<Ast extends DockerfileAstView, Def, E>(
  request: BuildRequest,
  io: CliIo,
  toolchain: Toolchain<Ast, Def, E>,
  phases: readonly BuildPhase<Ast, Def, E>[] = defaultBuildPhases(),
): Promise<BuildRun<Ast, Def, E>> {
  const cleanups: (() => unknown)[] = [];
  const internal = new AbortController();
  const run: BuildRun<Ast, Def, E> = {
    request,
    io,
    toolchain,
    tags: [],
    buildArgs: {},
    labels: {},
    entitlements: [],
    secrets: {},
    defer: (fn) => cleanups.push(fn),
    signal: io.signal === undefined ? internal.signal : AbortSignal.any([io.signal, internal.signal]),
    abort: (reason) => internal.abort(reason),
  };
  try {
    for (const phase of phases) await phase.run(run);
    return run;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // A failing cleanup (e.g. closing a broken connection) must not hide the build's result.
      }
    }
  }
}
