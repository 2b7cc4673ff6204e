// The trace phases of `tracebuild build` (on by default; `--no-trace` leaves them out):
//
//   trace          (before connect) starts the eBPF probe with a generation of its own,
//                  without waiting: it attaches (~0.2 s, the kernel verifying the programs)
//                  while the client connects. Correlates its events as they arrive (the
//                  toolkit's startCorrelation: most of the work is done while the build
//                  runs, not after it; without it the events are kept), and listens to the
//                  solve: Status batches (vertex started/completed in ns, cached, error)
//                  and every context file the session served. Registers the probe's stop
//                  with `defer`, so the probe stops whatever happens (a stopped probe leaves
//                  no traced process SIGSTOPped: the tracer continues any exec still
//                  waiting for its digest).
//   trace-ready    (just before solve) waits until the probe is attached; when it cannot
//                  run (not root, no BPF, probe not built) the build stops here, before
//                  anything is built, with one line that says why and names --no-trace.
//   trace-report   (after solve) finishes the trace: stops adding cgroups, pings (every
//                  event written has arrived), stops the probe (drained, final loss
//                  counters), correlates events + steps + vertices + served files into
//                  `run.trace`, redacts secret values, prints the per-instruction table on
//                  stderr and writes `--trace-out`.
//
// Through a tracebuild agent (DOCKER_HOST or BUILDKIT_HOST=tcp://... names a builder with
// `tracebuild agent` in front of its daemon), the probe is the agent's, on the builder: the
// trace phase asks the address for the agent, names the build's Solve ref beforehand, and
// gets the records of that build's own containers from the agent (agent/ RemoteProbe, the
// same surface as a local probe); everything after is the same. A tcp:// daemon on another
// host without an agent cannot be traced from here: the build stops before it starts.
//
// A gap in the monitoring (the probe's loader died, or stopped answering and was killed:
// tracer/probe.ts; the agent was lost, or withheld a container it could not tell apart)
// makes the trace incomplete. It is marked in the trace (monitorGaps, the
// counters, the affected steps) and fails the build: at once while the solve runs (so no
// image is made), or in trace-report, before anything is pushed or signed. Only
// --allow-incomplete-trace lets such a build finish, with the trace saying what is missing.
//
// A failed solve skips trace-report; the deferred finish then does the same for the failed
// build (its trace is evidence too), says so, and leaves the error to be reported last.
// Cancellation (Ctrl-C) only stops the probe.

import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { jsonPieces, writeFileAtomic } from '../../common/index.js';
import { TracerUnavailableError, mergeVertexReports, unseenRunSteps, type Trace, type TraceMonitor } from '../../model/index.js';
import type { CorrelateVertex, MonitorGap, NetEventData, ProbeExit, TraceEvent } from '../../tracer/index.js';
import type { DaemonInfo, DockerfileAstView, ServedFile } from '../contracts.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import type { AgentToolkit, TraceCorrelation, TraceProbe, TracerToolkit } from '../trace-contracts.js';
import { EnforcementDeniedError, TraceIncompleteError, TraceWriteError } from './errors.js';
import { redactSecrets } from './redact.js';
import { humanStderr, type BuildPhase, type BuildRun } from './types.js';

const NO_TRACE_HINT = 'or build without a trace: --no-trace';

/** What the trace phases keep between the start and the finish of one build (run.traceSession). */
export interface TraceSession {
  toolkit: TracerToolkit;
  /** The probe once attached, or why it could not start (never rejects). */
  starting: Promise<TraceProbe | TracerUnavailableError>;
  /** Set by trace-ready: the solve is about to run with the probe attached. */
  solving: boolean;
  generation: number;
  /** The events, kept for correlate() when the toolkit cannot correlate as they arrive. */
  events: TraceEvent[];
  correlation: TraceCorrelation | undefined;
  served: ServedFile[];
  vertices: Map<string, CorrelateVertex>;
  /** Where the probe stopped watching (at most one: it is not restarted). */
  gaps: MonitorGap[];
  /** Set once the finish started: the probe is stopped at most once. */
  finishing?: Promise<void>;
  /** The tracebuild agent the events come from (its address and builder), when remote. */
  agent?: { address: string; builderId?: string; kernel?: string };
}

/** --trace-out as an absolute path, if given. */
function traceOutPath(run: { request: { traceOut?: string }; io: CliIo }): string | undefined {
  const out = run.request.traceOut;
  return out === undefined || out === '' ? undefined : resolve(run.io.cwd, out);
}

/** A build generation: non-zero, 31 bits, different for every build (the probe stamps it on
 * the cgroups it starts tracing). */
export function newGeneration(): number {
  return randomInt(1, 0x7fffffff);
}

/** A Solve ref like BuildKit's own: 25 lower-case letters and digits. */
export function newSolveRef(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(25)].map((b) => alphabet[b % alphabet.length]).join('');
}

// ---- gaps -------------------------------------------------------------------------------

const ALLOW_INCOMPLETE_HINT = 'pass --allow-incomplete-trace to build anyway, with a trace that says what it lacks';

/** The one line that fails a build whose monitoring had a gap. */
export function incompleteTraceMessage(gap: MonitorGap, when: 'during' | 'after'): string {
  const at = new Date(gap.fromMs).toISOString();
  const what = when === 'during' ? 'the build was stopped: its trace would be incomplete' : 'the trace is incomplete: nothing was pushed or signed';
  const lead =
    gap.kind === 'agent-lost'
      ? `the build's trace from the tracebuild agent broke off at ${at}`
      : gap.kind === 'agent-withheld'
        ? `the tracebuild agent withheld a container that may be the build's, from ${at}`
        : `the eBPF probe stopped watching the build at ${at}`;
  return `${lead} (${gap.reason}); ${what}; ${ALLOW_INCOMPLETE_HINT}`;
}

/** The one line that fails a build with RUN steps that ran while the probe saw none of them. */
export function unseenStepsMessage(trace: Trace): string {
  const where = unseenRunSteps(trace).map((s) => `Dockerfile:${s.line}`).join(', ');
  return (
    `the eBPF probe saw no process of ${where || `${trace.losses.unseenSteps} RUN step(s)`}, which ran` +
    ` (are the daemon's RUN containers under a cgroup the probe watches?);` +
    ` the trace is incomplete: nothing was pushed or signed; ${ALLOW_INCOMPLETE_HINT}`
  );
}

/** How long the loader may be silent before the watchdog gives up on it (ms), from the
 * environment for those who know their builds hash huge executables. */
function stallTimeoutFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.TRACEBUILD_PROBE_STALL_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1000) {
    throw new UsageError('bad-flag', `invalid TRACEBUILD_PROBE_STALL_TIMEOUT_MS "${raw}": a whole number of milliseconds, at least 1000`);
  }
  return n;
}

/** trace.monitor's `daemon` and `buildkit` (model/trace.ts), from what the client learned. */
export function daemonMonitorFields(daemon: DaemonInfo | undefined): Pick<TraceMonitor, 'daemon' | 'buildkit'> {
  if (daemon === undefined) return {};
  return {
    daemon: {
      engine: daemon.engine,
      ...(daemon.version === undefined ? {} : { version: daemon.version }),
      ...(daemon.apiVersion === undefined ? {} : { apiVersion: daemon.apiVersion }),
    },
    buildkit: daemon.buildkitVersion === undefined ? {} : { version: daemon.buildkitVersion },
  };
}

// ---- enforcement ------------------------------------------------------------------------

/** The rule and what it refused: "enforce rule 'NAME' of FILE denied a tcp connection or send to HOST:PORT". */
function deniedAction(
  denied: { deniedRule?: number; address: string; protocol: string; port: number },
  enforcement: { egressRules?: readonly string[]; policy?: string } | undefined,
): string {
  const names = enforcement?.egressRules ?? [];
  const rule = denied.deniedRule === undefined ? 'an egress rule' : `enforce rule '${names[denied.deniedRule] ?? `#${denied.deniedRule}`}'`;
  const host = denied.address.includes(':') ? `[${denied.address}]` : denied.address;
  return `${rule} of ${enforcement?.policy ?? 'the policy'} denied a ${denied.protocol} connection or send to ${host}:${denied.port}`;
}

/** What a denial record says, before the trace knows its step: the rule and the destination. */
export function deniedActionMessage(ev: NetEventData, enforcement: { egressRules: readonly string[]; policy: string }): string {
  return `${deniedAction(ev, enforcement)}: the process was killed and the build stopped`;
}

/** One line per refused destination: the Dockerfile line, the rule, what was refused. */
export function denialLines(trace: Trace): string[] {
  const lines: string[] = [];
  for (const step of trace.buildSteps) {
    for (const peer of step.network) {
      if (peer.verdict !== 'denied') continue;
      lines.push(`error: Dockerfile:${step.line}: ${deniedAction(peer, trace.enforcement)}; the process was killed and the step failed`);
    }
  }
  return lines;
}

// ---- output -----------------------------------------------------------------------------

/** The trace as written by --trace-out: JSON, two-space indented. */
export function traceJson(trace: Trace): string {
  return `${JSON.stringify(trace, null, 2)}\n`;
}

/** traceJson in pieces, never joined: a trace of many processes is tens of MB of text, which
 * the CLI would hold two or three times over while writing it whole (common/json-text.ts). */
export function* traceJsonPieces(trace: Trace): Generator<string> {
  yield* jsonPieces(trace);
  yield '\n';
}

/** Writes the file whole or not at all (common/atomic-write.ts). */
export async function writeTraceFile(path: string, trace: Trace): Promise<void> {
  try {
    await writeFileAtomic(path, traceJsonPieces(trace));
  } catch (err) {
    throw new TraceWriteError(`cannot write the trace to ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

/** The lines a reader must not miss, also under -q. */
function warningLines(table: string): string {
  return table
    .split('\n')
    .filter((l) => l.startsWith('WARNING:'))
    .map((l) => `${l}\n`)
    .join('');
}

// ---- phases -----------------------------------------------------------------------------

/** Tracing is on unless --no-trace. */
export function tracingRequested(request: { trace?: boolean }): boolean {
  return request.trace !== false;
}

export function tracePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'trace',
    async run(run) {
      const out = traceOutPath(run);
      const agentSource = run.toolchain.agent;
      const agentKit = typeof agentSource === 'function' ? await agentSource() : agentSource;
      const endpoint = agentKit === undefined ? undefined : run.toolchain.endpointFromEnv(run.io.env);
      const viaAgent = agentKit !== undefined && endpoint !== undefined && agentKit.mayBeAgent(endpoint);
      if (!tracingRequested(run.request)) {
        if (out !== undefined) throw new UsageError('bad-flag', '--trace-out needs a trace: it cannot be used with --no-trace');
        // an agent that cannot trace lets a build that asks for no trace through
        if (viaAgent) run.solveMetadata = { [agentKit.noTraceMetadata]: '1' };
        return;
      }
      if (out !== undefined) {
        const dir = dirname(out);
        if (!existsSync(dir) || !statSync(dir).isDirectory()) {
          throw new UsageError('bad-flag', `invalid argument "${run.request.traceOut ?? ''}" for "--trace-out" flag: ${dir} is not a directory`);
        }
      }
      const tracer = run.toolchain.tracer;
      const toolkit = typeof tracer === 'function' ? await tracer() : tracer;
      if (toolkit === undefined) {
        throw new TracerUnavailableError('no-tracer', `the eBPF tracer is not available in this tracebuild (no tracer module); ${NO_TRACE_HINT}`);
      }
      const generation = newGeneration();
      const events: TraceEvent[] = [];
      // --enforce: a refused action stops the build at once, whatever the step's command
      // does next (a shell may go on after its killed child), so that no image is exported.
      const onDenied = (ev: NetEventData): void => {
        const rules = run.enforcement?.trace;
        if (rules === undefined || !session.solving || session.finishing !== undefined) return;
        run.abort(new EnforcementDeniedError(deniedActionMessage(ev, rules)));
      };
      const correlation = toolkit.startCorrelation?.({ onDenied });
      const loaderPath = run.io.env.TRACEBUILD_PROBE;
      const stallTimeoutMs = stallTimeoutFromEnv(run.io.env);
      const gaps: MonitorGap[] = [];
      const onGap = (gap: MonitorGap): void => {
        gaps.push(gap);
        // While the solve runs, stop it: what it builds could not be vouched for.
        if (session.solving && session.finishing === undefined && run.request.allowIncompleteTrace !== true) {
          run.abort(new TraceIncompleteError(incompleteTraceMessage(gap, 'during')));
        }
      };
      const enforce = run.enforcement;
      if (enforce !== undefined && viaAgent) {
        throw new UsageError('bad-flag', '--enforce is not supported through a tracebuild agent yet: the rules must be attached on the builder');
      }
      const startLocal = (): Promise<TraceProbe> =>
        toolkit.startProbe({
          generation,
          onGap,
          // --enforce: the loader attaches the rules to the build's cgroup parent before it
          // reports ready, and the RUN containers below it are traced like Docker's own.
          ...(enforce === undefined || enforce.loader.parents.length === 0 ? {} : { enforce: enforce.loader, prefixes: ['/docker/buildkit/', ...enforce.tracePrefixes] }),
          ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
          ...(correlation
            ? { onRecord: (buf: Buffer, base: number, len: number, e: TraceEvent | undefined) => correlation.pushRecord(buf, base, len, e) }
            : {
                onEvent: (e: TraceEvent) => {
                  events.push(e);
                  if (e.kind === 'net' && e.deniedRule !== undefined) onDenied(e);
                },
              }),
          ...(loaderPath !== undefined && loaderPath !== '' ? { loaderPath } : {}),
        });
      let agent: TraceSession['agent'];
      const startRemote = async (kit: AgentToolkit<E>, at: E): Promise<TraceProbe> => {
        const address = (at as { address?: string }).address ?? 'the daemon';
        const info = await kit.agentInfo(at);
        if (info === undefined) {
          // a plain daemon: on this host the local probe sees its containers, elsewhere nothing does
          if (kit.isLoopback(at)) return startLocal();
          throw new TracerUnavailableError(
            'remote-daemon',
            `${address} is a daemon on another host with no tracebuild agent in front of it: the eBPF probe must run where the RUN containers run (run \`tracebuild agent\` there and point DOCKER_HOST or BUILDKIT_HOST at it)`,
          );
        }
        const ref = newSolveRef();
        run.solveRef = ref;
        agent = { address, ...(info.builderId ? { builderId: info.builderId } : {}), ...(info.kernel ? { kernel: info.kernel } : {}) };
        return kit.startRemoteProbe(at, ref, {
          onGap,
          onRecord: (buf: Buffer, base: number, len: number, e: TraceEvent | undefined) => {
            if (correlation) correlation.pushRecord(buf, base, len, e);
            else if (e !== undefined) events.push(e);
          },
        });
      };
      const starting = (viaAgent ? startRemote(agentKit, endpoint as E) : startLocal())
        .then((probe) => {
          if (agent !== undefined) session.agent = agent;
          return probe;
        })
        .catch((err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof TracerUnavailableError) return new TracerUnavailableError(err.code, `${message}; ${NO_TRACE_HINT}`, { cause: err });
          // --enforce needs the probe: building without a trace is no way out
          if ((err as { code?: unknown }).code === 'enforce-failed') return new TracerUnavailableError('start-failed', `--enforce: ${message}`, { cause: err });
          return new TracerUnavailableError('start-failed', `cannot start the eBPF tracer: ${message}; ${NO_TRACE_HINT}`, { cause: err });
        });
      const session: TraceSession = { toolkit, starting, solving: false, generation, events, correlation, served: [], vertices: new Map(), gaps };
      run.traceSession = session;
      (run.solveObservers ??= []).push({
        onStatus: (batch) => mergeVertexReports(session.vertices, batch.vertexes),
        onFileServed: (file) => session.served.push(file),
      });
      run.defer(() => finishTrace(run, 'deferred'));
    },
  };
}

export function traceReadyPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'trace-ready',
    async run(run) {
      const session = run.traceSession;
      if (session === undefined) return;
      const probe = await session.starting;
      if (probe instanceof Error) throw probe;
      session.solving = true;
    },
  };
}

export function traceReportPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'trace-report',
    async run(run) {
      await finishTrace(run, 'solved');
    },
  };
}

/**
 * Stops the probe and, unless the build was canceled, correlates, prints and writes the
 * trace. 'solved': called by trace-report after a successful solve (errors propagate:
 * --trace-out that cannot be written fails the command). 'deferred': the cleanup after
 * any failure; nothing it does may throw.
 */
async function finishTrace<Ast extends DockerfileAstView, Def, E>(run: BuildRun<Ast, Def, E>, how: 'solved' | 'deferred'): Promise<void> {
  const session = run.traceSession;
  if (session === undefined) return;
  session.finishing ??= complete(run, session, how);
  if (how === 'deferred') await session.finishing.catch(() => undefined);
  else await session.finishing;
}

async function complete<Ast extends DockerfileAstView, Def, E>(
  run: BuildRun<Ast, Def, E>,
  session: TraceSession,
  how: 'solved' | 'deferred',
): Promise<void> {
  const { io } = run;
  const { toolkit } = session;
  const probe = await session.starting;
  if (probe instanceof Error) return; // never started: nothing to stop, nothing traced
  const notes: string[] = [];
  const quiet = !humanStderr(run.request);
  // No new cgroups from now on (another build's), then every event of ours has arrived.
  await probe.setGeneration(0).catch(() => undefined);
  await probe.ping().catch(() => undefined);
  let exit: ProbeExit | undefined;
  try {
    exit = await probe.stop();
  } catch (err) {
    notes.push(`WARNING: the eBPF probe did not stop cleanly (${(err as Error).message}): the trace may be incomplete`);
  }
  // A gap is said by the trace itself (its table's WARNING lines); other failures here.
  if (exit?.error !== undefined && exit.gap === undefined) notes.push(`WARNING: ${exit.error.message}: the trace may be incomplete`);
  if (exit?.gap !== undefined && !session.gaps.includes(exit.gap)) session.gaps.push(exit.gap);
  // Canceled, or failed before the solve (e.g. the daemon could not be reached): no trace.
  if (io.signal?.aborted === true || !session.solving) return;

  const failed = how === 'deferred';
  let trace: Trace;
  try {
    const input = {
      steps: run.conversion?.steps ?? [], // ConversionStep carries what CorrelateStep needs
      vertices: [...session.vertices.values()],
      servedFiles: session.served,
      ...(exit === undefined ? {} : { losses: exit.losses }),
      monitorGaps: session.gaps,
      // records: everything the probe delivered (kernel events, digests, loss reports)
      monitor: {
        name: 'tracebuild-probe',
        kernel: session.agent?.kernel ?? release(),
        generation: session.generation,
        records: session.correlation?.records ?? session.events.length,
        // through a tracebuild agent: the probe was the builder's
        ...(session.agent === undefined ? {} : { agent: { address: session.agent.address, ...(session.agent.builderId === undefined ? {} : { builderId: session.agent.builderId }) } }),
        ...daemonMonitorFields(run.client?.daemon),
      },
    };
    trace = session.correlation ? session.correlation.finish(input) : toolkit.correlate({ events: session.events, ...input });
  } catch (err) {
    if (!failed) throw err;
    io.stderr.write(`warning: the trace of the failed build could not be made: ${(err as Error).message}\n`);
    return;
  }
  redactSecrets(trace, run.secrets);
  if (run.enforcement !== undefined) trace.enforcement = run.enforcement.trace;
  run.trace = trace;

  const table = toolkit.formatTraceTable(trace, { width: io.stderr.isTTY === true && (io.stderr.columns ?? 0) >= 60 ? io.stderr.columns : 100 });
  let text = quiet ? warningLines(table) : `${failed ? '\nTrace of the failed build:\n' : '\n'}${table}`;
  for (const n of notes) text += `${n}\n`;
  // What --enforce refused, also under -q: the reason the step failed.
  for (const line of denialLines(trace)) text += `${line}\n`;
  io.stderr.write(text);

  const out = traceOutPath(run);
  if (out !== undefined) {
    try {
      await writeTraceFile(out, trace);
      if (!quiet || failed) io.stderr.write(failed ? `Trace of the failed build written to ${out}\n` : `Trace written to ${out}\n`);
    } catch (err) {
      if (!failed) throw err;
      io.stderr.write(`warning: ${(err as Error).message}\n`);
    }
  }
  const gap = session.gaps[0];
  if (!failed && gap !== undefined && run.request.allowIncompleteTrace !== true) {
    throw new TraceIncompleteError(incompleteTraceMessage(gap, 'after'));
  }
  if (!failed && trace.losses.unseenSteps > 0 && run.request.allowIncompleteTrace !== true) {
    throw new TraceIncompleteError(unseenStepsMessage(trace));
  }
  // A denial whose record came after the solve had ended still fails the build before
  // anything is pushed or signed (one that came while it ran stopped it: onDenied).
  const denied = denialLines(trace);
  if (!failed && denied.length > 0) {
    throw new EnforcementDeniedError(`${denied.length} action(s) refused by --enforce (above): nothing was pushed or signed`);
  }
}
