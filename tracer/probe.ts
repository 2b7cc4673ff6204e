// Spawns and supervises the probe loader (tracer/bpf/.output/tracebuild-probe), turns its
// stdout into events, sends it commands, and surfaces its losses and failures.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ABI_VERSION } from './abi.js';
import {
  RecordStream,
  lossCountersFromSlots,
  type DecodeStats,
  type LossCounters,
  type ReadyEventData,
  type TraceEvent,
} from './decode.js';

/** The command that builds the probe, relative to the repository root. */
export const PROBE_BUILD_COMMAND = 'bash tracer/bpf/build.sh';

export type TracerUnavailableCode = 'not-root' | 'bpf-unavailable' | 'probe-not-built';

/** The tracer cannot run here; the message says why and what to do. */
export class TracerUnavailableError extends Error {
  override readonly name = 'TracerUnavailableError';
  constructor(
    readonly code: TracerUnavailableCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type TracerErrorCode =
  | 'loader-exited'
  | 'command-failed'
  | 'abi-mismatch'
  | 'timeout'
  | 'stopped'
  | 'stream-corrupt'
  | 'consumer-failed';

/** The tracer ran but failed. */
export class TracerError extends Error {
  override readonly name = 'TracerError';
  constructor(
    readonly code: TracerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Exit codes of tracebuild-probe (loader.c). */
export const LOADER_EXIT = { ok: 0, usage: 2, notRoot: 3, bpfUnavailable: 4, runtime: 5 } as const;

export interface ProbeOptions {
  /** The loader binary; default: $TRACEBUILD_PROBE, else tracer/bpf/.output/tracebuild-probe. */
  loaderPath?: string;
  /** Cgroup v2 path prefixes traced automatically (default ['/docker/buildkit/']); [] for none. */
  prefixes?: readonly string[];
  /** Cgroup v2 ids traced from the start. */
  cgroups?: readonly bigint[];
  /** Ring buffer size in MiB (default 64). */
  ringbufMiB?: number;
  /** Stop new executables until hashed (default true). */
  digests?: boolean;
  /** Report read-only opens too (default false). */
  traceReads?: boolean;
  /** Initial build generation (default 1; 0 = do not add new cgroups until setGeneration). */
  generation?: number;
  /** Loss report period (default 1000 ms). */
  statsIntervalMs?: number;
  /** Called for every event, in stream order. */
  onEvent?: (event: TraceEvent) => void;
  /**
   * Called for every record, in stream order, with where it is (at `base` in `buf`, its u32
   * length just before; the probe never writes `buf` again) and its event. While nothing
   * else needs events (no onEvent, no subscriber), file, fork and exit records come
   * undecoded (`event` undefined): the consumer reads what it needs from the bytes.
   */
  onRecord?: (buf: Buffer, base: number, len: number, event: TraceEvent | undefined) => void;
  /** Called with the loader's stderr lines. */
  onLog?: (line: string) => void;
  /** How long to wait for the loader to attach (default 30 s). */
  startTimeoutMs?: number;
  /** The user id to check for root before spawning the loader (default: this process's). */
  effectiveUid?: number;
}

export interface ProbeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last loss counters reported. */
  losses: LossCounters;
  decode: DecodeStats;
  /** Why it ended, when not by stop(). */
  error: TracerError | undefined;
}

function here(): string {
  return path.dirname(fileURLToPath(import.meta.url));
}

/** Where the loader binary is looked for. */
export function defaultLoaderPath(): string {
  if (process.env.TRACEBUILD_PROBE) return process.env.TRACEBUILD_PROBE;
  const candidates = [
    path.join(here(), 'bpf', '.output', 'tracebuild-probe'),
    // compiled into dist/tracer/: the sources' build output
    path.join(here(), '..', '..', 'tracer', 'bpf', '.output', 'tracebuild-probe'),
  ];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

function loaderArgs(o: ProbeOptions): string[] {
  const args: string[] = [];
  const prefixes = o.prefixes ?? ['/docker/buildkit/'];
  if (prefixes.length === 0) args.push('--no-prefix');
  for (const p of prefixes) args.push('--prefix', p);
  for (const c of o.cgroups ?? []) args.push('--cgroup', c.toString());
  if (o.ringbufMiB !== undefined) args.push('--ringbuf-mib', String(o.ringbufMiB));
  if (o.digests === false) args.push('--no-digests');
  if (o.traceReads) args.push('--trace-reads');
  if (o.generation !== undefined) args.push('--generation', String(o.generation));
  if (o.statsIntervalMs !== undefined) args.push('--stats-interval-ms', String(o.statsIntervalMs));
  return args;
}

interface PendingCommand {
  resolve: (value: bigint) => void;
  reject: (err: Error) => void;
  verb: string;
}

/** A running probe. Create with startProbe(). */
export class Probe {
  private readonly stream = new RecordStream();
  private readonly commands = new Map<number, PendingCommand>();
  private readonly listeners = new Set<(e: TraceEvent) => void>();
  /** Execs stopped for hashing whose digest has not arrived: "tgid:ts" -> tgid. */
  private readonly awaitingDigest = new Map<string, number>();
  private seq = 0;
  private stderrTail = '';
  private stopRequested = false;
  private exitInfo: ProbeExit | undefined;
  /** The first error a record consumer (onRecord, onEvent, a subscriber) threw: from then on
   * they get nothing (what they built is incomplete), and what they missed is counted. */
  private consumerError: unknown;
  private undelivered = 0;
  private lastLosses: LossCounters = lossCountersFromSlots([]);
  private readyEvent: ReadyEventData | undefined;
  readonly exited: Promise<ProbeExit>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly options: ProbeOptions,
  ) {
    if (options.onEvent) this.listeners.add(options.onEvent);
    let lineBuf = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-8192);
      lineBuf += s;
      let nl: number;
      while ((nl = lineBuf.indexOf('\n')) >= 0) {
        options.onLog?.(lineBuf.slice(0, nl));
        lineBuf = lineBuf.slice(nl + 1);
      }
    });
    const onRecord = options.onRecord;
    child.stdout.on('data', (chunk: Buffer) => {
      const wasCorrupt = this.stream.corrupt;
      // Lazy records only while a consumer takes them: after a failure, records are
      // still read (acknowledgements, loss reports), for nobody.
      const lazy = onRecord !== undefined && this.listeners.size === 0 && this.consumerError === undefined;
      this.stream.pushRecords(chunk, lazy, (buf, base, len, ev) => {
        if (ev) this.dispatch(ev);
        if (this.consumerError === undefined) {
          try {
            if (ev) this.deliver(ev);
            onRecord?.(buf, base, len, ev);
            return;
          } catch (err) {
            // Not thrown on: out of this stream handler it would end the process, leaving
            // the build and its probe without an owner. Said at the exit, and counted.
            this.consumerError = err;
          }
        }
        if (ev?.kind !== 'ack' && ev?.kind !== 'loss') this.undelivered++; // those carry no trace
      });
      // No acknowledgement can be read any more: fail the commands waiting for one (and,
      // in command(), later ones) instead of leaving them waiting for ever.
      if (this.stream.corrupt && !wasCorrupt) {
        for (const c of this.commands.values()) c.reject(this.framingLost(c.verb));
        this.commands.clear();
      }
    });
    child.stdin.on('error', () => {
      /* the loader went away; its exit is reported below */
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        let error = this.stopRequested && code === LOADER_EXIT.ok
          ? undefined
          : new TracerError('loader-exited', `the probe loader exited (${describeExit(code, signal)})${this.stderrSuffix()}`);
        if (this.consumerError !== undefined) {
          this.lastLosses = { ...this.lastLosses, output: this.lastLosses.output + BigInt(this.undelivered) };
          const why = this.consumerError instanceof Error ? this.consumerError.message : String(this.consumerError);
          error ??= new TracerError(
            'consumer-failed',
            `the trace's consumer of probe records failed (${why}); ${this.undelivered} records were not delivered`,
            { cause: this.consumerError },
          );
        }
        // Records that never came whole: at least one is lost (counted with what the loader
        // could not write), and said.
        const { corrupt, buffered } = this.stream;
        if (corrupt || buffered > 0) {
          this.lastLosses = { ...this.lastLosses, output: this.lastLosses.output + 1n };
          const what = corrupt
            ? `the probe's output lost its framing (a record length no loader writes; ${this.stream.stats.discardedBytes} bytes discarded)`
            : `the probe's output ended inside a record (${buffered} bytes)`;
          error ??= new TracerError('stream-corrupt', what);
        }
        // Never leave a traced process stopped behind us.
        for (const tgid of this.awaitingDigest.values()) {
          try {
            process.kill(tgid, 'SIGCONT');
          } catch {
            /* gone */
          }
        }
        this.awaitingDigest.clear();
        for (const c of this.commands.values()) c.reject(error ?? new TracerError('stopped', 'the probe stopped'));
        this.commands.clear();
        this.exitInfo = { code, signal, losses: this.lastLosses, decode: this.stream.stats, error };
        resolve(this.exitInfo);
      });
    });
  }

  /** @internal use startProbe() */
  static async start(options: ProbeOptions = {}): Promise<Probe> {
    const loader = options.loaderPath ?? defaultLoaderPath();
    if (!existsSync(loader)) {
      throw new TracerUnavailableError(
        'probe-not-built',
        `the eBPF probe is not built (${loader} is missing): run "${PROBE_BUILD_COMMAND}" from the repository root`,
      );
    }
    const uid = options.effectiveUid ?? process.getuid?.();
    if (uid !== undefined && uid !== 0) {
      throw new TracerUnavailableError(
        'not-root',
        'the eBPF tracer needs root (loading BPF programs, stopping traced processes to hash them): run tracebuild as root',
      );
    }
    const child = spawn(loader, loaderArgs(options), { stdio: ['pipe', 'pipe', 'pipe'] });
    const probe = new Probe(child, options);
    const spawnError = new Promise<never>((_, reject) => {
      child.on('error', (err) => reject(new TracerUnavailableError('bpf-unavailable', `cannot run ${loader}: ${err.message}`, { cause: err })));
    });
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe.waitReady(),
        spawnError,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TracerError('timeout', `the probe did not attach within ${timeoutMs} ms`)), timeoutMs);
        }),
        probe.exited.then((exit) => {
          throw probe.startFailure(exit);
        }),
      ]);
    } catch (err) {
      if (probe.exitInfo === undefined) {
        child.kill('SIGTERM');
        await probe.exited;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    const ready = probe.readyEvent as ReadyEventData;
    if (ready.abiVersion !== ABI_VERSION) {
      await probe.stop();
      throw new TracerError('abi-mismatch', `the probe speaks ABI ${ready.abiVersion}, this code ${ABI_VERSION}: rebuild it with "${PROBE_BUILD_COMMAND}"`);
    }
    return probe;
  }

  private waitReady(): Promise<void> {
    return new Promise((resolve) => {
      const fn = (e: TraceEvent): void => {
        if (e.kind === 'ready') {
          this.listeners.delete(fn);
          resolve();
        }
      };
      this.listeners.add(fn);
    });
  }

  private startFailure(exit: ProbeExit): Error {
    const detail = this.stderrSuffix();
    if (exit.code === LOADER_EXIT.notRoot) {
      return new TracerUnavailableError('not-root', `the eBPF tracer needs root: the probe loader was not permitted to load its programs${detail}`);
    }
    if (exit.code === LOADER_EXIT.bpfUnavailable) {
      return new TracerUnavailableError('bpf-unavailable', `eBPF tracing is unavailable on this machine${detail}`);
    }
    return exit.error ?? new TracerError('loader-exited', `the probe loader exited before attaching (${describeExit(exit.code, exit.signal)})${detail}`);
  }

  private stderrSuffix(): string {
    const t = this.stderrTail.trim();
    return t ? `: ${t}` : '';
  }

  private dispatch(ev: TraceEvent): void {
    switch (ev.kind) {
      case 'ready':
        this.readyEvent = ev;
        break;
      case 'loss':
        this.lastLosses = ev.counters;
        break;
      case 'exec':
        if (ev.needsDigest) this.awaitingDigest.set(`${ev.header.tgid}:${ev.header.tsNs}`, ev.header.tgid);
        break;
      case 'digest':
        if (ev.digestKind === 'exe' && this.awaitingDigest.size > 0) this.awaitingDigest.delete(`${ev.header.tgid}:${ev.header.tsNs}`);
        break;
      case 'ack': {
        const c = this.commands.get(ev.seq);
        if (c) {
          this.commands.delete(ev.seq);
          if (ev.error === 0) c.resolve(ev.value);
          else c.reject(new TracerError('command-failed', `probe command "${c.verb}" failed: errno ${ev.error}`));
        }
        break;
      }
      default:
        break;
    }
  }

  /** To onEvent and the subscribers. */
  private deliver(ev: TraceEvent): void {
    // a copy only when there is more than one listener (one may unsubscribe another)
    if (this.listeners.size === 1) for (const fn of this.listeners) fn(ev);
    else if (this.listeners.size > 1) for (const fn of [...this.listeners]) fn(ev);
  }

  /** The READY record: ABI version, clocks, ring buffer size. */
  get ready(): ReadyEventData {
    return this.readyEvent as ReadyEventData;
  }

  /** Latest cumulative loss counters reported by the loader. */
  get losses(): LossCounters {
    return this.lastLosses;
  }

  get decodeStats(): DecodeStats {
    return this.stream.stats;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(fn: (e: TraceEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private command(verb: string, arg?: string): Promise<bigint> {
    if (this.exitInfo || this.stopRequested) {
      return Promise.reject(new TracerError('stopped', `probe command "${verb}": the probe is not running`));
    }
    if (this.stream.corrupt) return Promise.reject(this.framingLost(verb));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.commands.set(seq, { resolve, reject, verb });
      this.child.stdin.write(`${seq} ${verb}${arg === undefined ? '' : ` ${arg}`}\n`);
    });
  }

  private framingLost(verb: string): TracerError {
    return new TracerError('stream-corrupt', `probe command "${verb}": the probe's output lost its framing (a record length no loader writes)`);
  }

  /** Traces a cgroup by its v2 id. */
  async addCgroup(id: bigint): Promise<void> {
    await this.command('add', id.toString());
  }

  /** Traces the cgroup at a path below the cgroup v2 root; returns its id. */
  addCgroupPath(cgroupPath: string): Promise<bigint> {
    if (/[\n\r]/.test(cgroupPath)) return Promise.reject(new TracerError('command-failed', 'cgroup path with a newline'));
    return this.command('addpath', cgroupPath);
  }

  async removeCgroup(id: bigint): Promise<void> {
    await this.command('remove', id.toString());
  }

  /** Sets the build generation stamped on new cgroups; 0 stops adding new ones. */
  async setGeneration(generation: number): Promise<void> {
    await this.command('gen', String(generation >>> 0));
  }

  /** Asks for a loss report now and returns the counters. */
  async stats(): Promise<LossCounters> {
    await this.command('stats');
    return this.lastLosses;
  }

  /** A round trip through the loader: every event written before it has been dispatched. */
  async ping(): Promise<void> {
    await this.command('ping');
  }

  /** Stops the loader (drains the ring buffer first) and resolves with how it ended. */
  async stop(timeoutMs = 10_000): Promise<ProbeExit> {
    if (this.exitInfo) return this.exitInfo;
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.child.stdin.end(`${++this.seq} stop\n`);
    }
    const timer = setTimeout(() => this.child.kill('SIGTERM'), timeoutMs);
    const killer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs * 2);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      clearTimeout(killer);
    }
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

/**
 * Starts the probe and resolves once it is attached (READY received).
 * Throws TracerUnavailableError (not root, BPF unavailable, probe not built) or TracerError.
 */
export function startProbe(options: ProbeOptions = {}): Promise<Probe> {
  return Probe.start(options);
}
