// The build pipeline's shapes: what the command asked for (BuildRequest), the record every
// phase reads and fills (BuildRun), and a phase. pipeline.ts lists the phases in order;
// each phase is a file of this folder and imports only these types (and what it uses), so
// no phase imports the pipeline.

import type { BuildExecDefaults, BuildKitClient, CacheEntry, Conversion, DockerfileAstView, NetworkMode, Platform, SolveObserver, SolveResult, Toolchain } from '../contracts.js';
import { CanceledError } from '../errors.js';
import type { CliIo } from '../io.js';
import type { ProgressMode, ProgressSession } from '../progress/index.js';
import type { ImageReferenceParts } from '../../common/index.js';
import type { Trace } from '../../model/index.js';
import type { AttestationRecord, SigningSetup } from './attest.js';
import type { BuildContexts } from './build-contexts.js';
import type { OutputSpec } from './outputs.js';
import type { BuildInputs } from './inputs.js';
import type { PushedImage } from './push.js';
import type { TraceSession } from './trace.js';
import type { BuildEnforcement } from './enforce-args.js';

export interface BuildRequest {
  /** --pull, --add-host, --shm-size, --ulimit, --no-cache-filter (exec-flags.ts). */
  execDefaults?: BuildExecDefaults;
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
  /** `--build-context NAME=VALUE` values as given (build-contexts.ts). */
  buildContexts?: string[];
  /** `--ssh default|ID[=SOCKET|KEYFILE[,KEYFILE]]` values as given (ssh.ts). */
  ssh?: string[];
  /** `--platform` values as given (platforms.ts). */
  platforms?: string[];
  /** `--push`: push every -t name (push.ts). */
  push?: boolean;
  /** `--key FILE`: sign attestations with this private key (ours, or cosign.key) (attest.ts). */
  key?: string;
  /** `--cert FILE`: with --key, the key's certificate chain (PEM, leaf first). */
  cert?: string;
  /** `--keyless`: sign with a Fulcio certificate for an OIDC identity. */
  keyless?: boolean;
  /** `--identity-token TOKEN|FILE`: the OIDC token for --keyless (else the ambient CI token). */
  identityToken?: string;
  /** `--fulcio-url URL` (keyless). */
  fulcioUrl?: string;
  /** `--rekor-url URL`: record the signatures in this transparency log (keyless: the default one). */
  rekorUrl?: string;
  /** `--tsa-url URL`: timestamp the signatures with this timestamp authority. */
  tsaUrl?: string;
  /** `--attest-out DIR`: also write the signed bundles there. */
  attestOut?: string;
  /** false: `--no-trace` (default: traced). */
  trace?: boolean;
  /** `--trace-out FILE`: write the trace JSON there. */
  traceOut?: string;
  /** `--allow-incomplete-trace`: a gap in the monitoring does not fail the build. */
  allowIncompleteTrace?: boolean;
  /** `--enforce FILE`: the policy whose enforce rules apply while the build runs (enforce.ts). */
  enforce?: string;
  /** `-o/--output`, parsed (outputs.ts); none: the image store, as `docker build`. */
  outputs?: OutputSpec[];
  /** `--annotation`, as exporter attributes (annotations.ts). */
  annotations?: Record<string, string>;
  /** `--iidfile FILE`: write the image id there. */
  iidfile?: string;
  /** `--metadata-file FILE`: write the build's result metadata there (metadata.ts). */
  metadataFile?: string;
  /** `--cache-from` / `--cache-to`, parsed (cache.ts). */
  cache?: { imports: CacheEntry[]; exports: CacheEntry[] };
}

export interface BuildRun<Ast extends DockerfileAstView, Def, E> {
  readonly request: BuildRequest;
  readonly io: CliIo;
  readonly toolchain: Toolchain<Ast, Def, E>;
  tags: ImageReferenceParts[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  inputs?: BuildInputs;
  /** `--build-context`: for the converter and the session. */
  buildContexts?: BuildContexts;
  /** `--ssh`: agent sockets by id, forwarded by the session. */
  sshAgents?: Record<string, string>;
  /** `--cache-from` / `--cache-to` as sent: a local import's layout found (cache.ts). */
  cache?: { imports: CacheEntry[]; exports: CacheEntry[] };
  /** `--platform`: the platform to build for (absent: the daemon's own). */
  platform?: Platform;
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
  /** Set by the attest phase: the signed statements, and where they went. */
  attestations?: AttestationRecord[];
  /** Set by the push phase: each -t name with its manifest digest in the registry. */
  pushed?: PushedImage[];
  /** Listeners of the solve besides the progress display (the trace phase's). */
  solveObservers?: SolveObserver[];
  /** The per-instruction trace, set after the solve (also a failed one) unless --no-trace. */
  trace?: Trace;
  /** What the trace phases keep between the start and the finish of the build (trace.ts). */
  traceSession?: TraceSession;
  /** Set by the enforce phase (--enforce): the rules, and what the probe's loader gets. */
  enforcement?: BuildEnforcement;
  /** The Solve's ref, when it must be known before the solve (a tracebuild agent traces the build by it). */
  solveRef?: string;
  /** gRPC metadata sent with the Solve (to a tracebuild agent). */
  solveMetadata?: Record<string, string>;
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

export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is not ready (phase order)`);
  return value;
}

/** Why the build's signal fired: Ctrl-C, or the reason given to run.abort(). */
export function abortReason(run: { io: CliIo; signal: AbortSignal }): Error {
  if (run.io.signal?.aborted === true) return new CanceledError();
  return run.signal.reason instanceof Error ? run.signal.reason : new CanceledError();
}

export function throwIfAborted(run: { io: CliIo; signal: AbortSignal }): void {
  if (run.signal.aborted) throw abortReason(run);
}

/** Whether the build writes its human text on stderr (the trace's table, notes): not under
 * -q, nor under --progress rawjson, whose stderr a program reads as a stream of JSON
 * objects (warnings and errors still come, as buildx's do). */
export function humanStderr(request: Pick<BuildRequest, 'quiet' | 'progress'>): boolean {
  return !request.quiet && request.progress !== 'rawjson';
}
