// Spawns and supervises the probe loader (tracer/bpf/.output/tracebuild-probe), turns its
// stdout into events, sends it commands, and surfaces its losses and failures.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { TracebuildError, type ExitKind } from '../common/index.js';
import { TracerUnavailableError, type TracerUnavailableCode } from '../model/index.js';
import { ABI_VERSION } from './abi.js';
import type { ReadyEventData, TraceEvent } from './decode/events.js';
import { lossCountersFromSlots, type LossCounters } from './decode/losses.js';
import { RecordStream, type DecodeStats } from './decode/stream.js';

/** The command that builds the probe, relative to the repository root. */
export const PROBE_BUILD_COMMAND = 'bash tracer/bpf/build.sh';

// The tracer cannot run here: model/tracing-errors.ts (the CLI raises it too).
export { TracerUnavailableError, type TracerUnavailableCode };

export type TracerErrorCode =
  | 'loader-exited'
  | 'loader-stalled'
  | 'command-failed'
  | 'abi-mismatch'
  | 'timeout'
  | 'stopped'
  | 'stream-corrupt'
  | 'consumer-failed'
  | 'enforce-failed';

/** The tracer ran but failed. */
export class TracerError extends TracebuildError<TracerErrorCode> {
  override readonly name = 'TracerError';
  readonly exit: ExitKind = 'trace';
  constructor(code: TracerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A time from which the probe did not watch: the loader died, or stopped answering and was
 * killed. Events of traced cgroups after `fromMs` may be missing, and how many is unknown.
 * It never ends: a loader is not restarted within a build.
 */
export interface MonitorGap {
  /** The loader's (this file), or a tracebuild agent's: model/trace.ts TraceMonitorGap. */
  kind: 'loader-exited' | 'loader-stalled' | 'agent-lost' | 'agent-withheld';
  /** Wall clock (ms since the epoch) of the last output read from the loader: anything
   * later may be lost. */
  fromMs: number;
  /** One line: what happened, and what was done about the execs it had stopped. */
  reason: string;
}

/** How long the loader may be silent and leave a ping unanswered before it counts as
 * stalled (stopped or wedged). The kernel side stops no exec once the loader's heartbeat
 * is 2 s old, so only execs already stopped wait this long. */
export const DEFAULT_STALL_TIMEOUT_MS = 5_000;
/** How often the watchdog pings the loader. */
const WATCHDOG_INTERVAL_MS = 1_000;

/** Exit codes of tracebuild-probe (bpf/loader.h). */
export const LOADER_EXIT = { ok: 0, usage: 2, notRoot: 3, bpfUnavailable: 4, runtime: 5, enforce: 6 } as const;

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
   * else needs events (no onEvent, no subscriber), file, process and batch records come
   * undecoded (`event` undefined): the consumer reads what it needs from the bytes. Else a
   * batch's records come one by one, decoded.
   */
  onRecord?: (buf: Buffer, base: number, len: number, event: TraceEvent | undefined) => void;
  /** Called with the loader's stderr lines. */
  onLog?: (line: string) => void;
  /** How long to wait for the loader to attach (default 30 s). */
  startTimeoutMs?: number;
  /** The user id to check for root before spawning the loader (default: this process's). */
  effectiveUid?: number;
  /** Silence, with a ping unanswered, after which the loader is declared stalled, its
   * stopped execs continued and the loader killed (default DEFAULT_STALL_TIMEOUT_MS; 0: no
   * watchdog). */
  stallTimeoutMs?: number;
  /** Called once when the probe stops watching before stop() was asked for (see MonitorGap). */
  onGap?: (gap: MonitorGap) => void;
  /** build --enforce: the loader creates these cgroup parents (names below the unified
   * hierarchy's root), attaches the egress programs to them before it reports ready, and
   * removes them when it exits (bpf/enforce.c). */
  enforce?: LoaderEnforcement;
}

/** What the loader enforces (tracer/enforce-args.ts makes it from a policy's rules). */
export interface LoaderEnforcement {
  /** Each cgroup parent and the egress rules in force below it (one bit per rule). */
  parents: readonly { cgroupName: string; egressRules: number }[];
  /** `RULE,ADDR32HEX,PREFIX,PORTLOW,PORTHIGH,PROTO` each. */
  egressAllow: readonly string[];
}

export interface ProbeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the probe stopped watching before it was asked to stop. */
  gap: MonitorGap | undefined;
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
  if (o.enforce !== undefined) {
    for (const p of o.enforce.parents) args.push('--enforce-cgroup', `${p.cgroupName}=${p.egressRules}`);
    for (const a of o.enforce.egressAllow) args.push('--egress-allow', a);
  }
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
  /** Wall clock of the last output read from the loader (the start of a gap, if one comes). */
  private lastOutputAt = Date.now();
  /** The watchdog's ping in flight: when it was sent. */
  private pingSentAt: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** Set when the watchdog gave up on the loader: what it found and did. */
  private stall: { note: string; released: number } | undefined;
  /** The cgroups of this probe's builds (their generations), by id: the ones whose stopped
   * tasks must be continued if the loader is gone. */
  private readonly ownCgroups = new Map<bigint, string>();
  private readonly generations = new Set<number>();
  readonly exited: Promise<ProbeExit>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly options: ProbeOptions,
    private readonly loaderPath: string,
  ) {
    if (options.generation === undefined || options.generation !== 0) this.generations.add(options.generation ?? 1);
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
      this.lastOutputAt = Date.now();
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
        void this.closed(code, signal).then(resolve);
      });
    });
  }

  /** How the loader ended: the error, the gap (unless it was a clean stop), and no traced
   * process left stopped behind. */
  private async closed(code: number | null, signal: NodeJS.Signals | null): Promise<ProbeExit> {
    clearInterval(this.watchdog);
    const clean = this.stopRequested && code === LOADER_EXIT.ok && this.stall === undefined;
    let error = clean
      ? undefined
      : this.stall !== undefined
        ? new TracerError('loader-stalled', this.stall.note)
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
    // Never leave a traced process stopped behind us: the execs this loader claimed (through
    // the maps the probes share, while any probe holds them), those whose record arrived,
    // and any stopped task in this build's cgroups (a record that never arrived).
    let continued = this.stall?.released ?? 0;
    if (!clean && this.stall === undefined) continued += await this.releaseClaims();
    for (const tgid of this.awaitingDigest.values()) if (continueTask(tgid)) continued++;
    this.awaitingDigest.clear();
    if (!clean) continued += continueStoppedIn(this.ownCgroups.values());
    let gap: MonitorGap | undefined;
    if (!clean && error !== undefined && (error.code === 'loader-exited' || error.code === 'loader-stalled')) {
      gap = {
        kind: error.code,
        fromMs: this.lastOutputAt,
        reason: `${error.message}${continued > 0 ? `; ${continued} exec(s) it had stopped were continued without a digest` : ''}`,
      };
      try {
        this.options.onGap?.(gap);
      } catch {
        // the listener's failure must not leave the exit unreported
      }
    }
    for (const c of this.commands.values()) c.reject(error ?? new TracerError('stopped', 'the probe stopped'));
    this.commands.clear();
    this.exitInfo = { code, signal, gap, losses: this.lastLosses, decode: this.stream.stats, error };
    return this.exitInfo;
  }

  /** Pings the loader every second; when it has been silent, with a ping unanswered, for
   * the stall timeout, it is stopped or wedged: continue the execs it stopped and kill it. */
  private startWatchdog(): void {
    const stallMs = this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    if (stallMs <= 0) return;
    const overdue = (): boolean =>
      this.pingSentAt !== undefined && Date.now() - this.pingSentAt >= stallMs && Date.now() - this.lastOutputAt >= stallMs;
    const gone = (): boolean => this.exitInfo !== undefined || this.stopRequested || this.stall !== undefined;
    this.watchdog = setInterval(() => {
      if (gone()) return;
      if (this.pingSentAt === undefined) {
        this.pingSentAt = Date.now();
        this.command('ping').then(
          () => (this.pingSentAt = undefined),
          () => undefined,
        );
        return;
      }
      // This process may itself have been busy: output already waiting in the pipe is read
      // in the poll phase, before setImmediate runs.
      if (overdue()) setImmediate(() => void (!gone() && overdue() && this.giveUp(stallMs)));
    }, Math.min(WATCHDOG_INTERVAL_MS, stallMs));
    this.watchdog.unref();
  }

  private async giveUp(stallMs: number): Promise<void> {
    const silentS = ((Date.now() - this.lastOutputAt) / 1000).toFixed(1);
    this.stall = { note: '', released: 0 };
    // While the loader is stopped its maps live: its claims can be released precisely.
    this.stall.released = await this.releaseClaims();
    this.stall.note = `the probe loader (pid ${this.child.pid}) stopped answering: no output and no answer to a ping for ${silentS} s (the limit is ${stallMs / 1000} s; stopped or wedged), so it was killed`;
    this.child.kill('SIGKILL');
  }

  /** Runs `tracebuild-probe --release-claims-of <pid>`: how many execs it continued. */
  private releaseClaims(): Promise<number> {
    const pid = this.child.pid;
    if (pid === undefined || this.options.digests === false) return Promise.resolve(0);
    return new Promise((resolve) => {
      execFile(this.loaderPath, ['--release-claims-of', String(pid)], { timeout: 5_000 }, (err, stdout) => {
        const n = Number.parseInt(String(stdout).trim(), 10);
        resolve(err || !Number.isFinite(n) ? 0 : n);
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
    const probe = new Probe(child, options, loader);
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
    probe.startWatchdog();
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
    if (exit.code === LOADER_EXIT.enforce) {
      return new TracerError('enforce-failed', `the enforcement could not be set up, so the build was not started${detail}`);
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
      case 'cgroup-mkdir':
        if (this.generations.has(ev.generation)) this.ownCgroups.set(ev.id, ev.path);
        break;
      case 'cgroup-rmdir':
        this.ownCgroups.delete(ev.id);
        break;
      case 'exec':
        // stopped for hashing, and its digests not with it (a loader before ABI 3)
        if (ev.needsDigest && ev.digests === undefined) this.awaitingDigest.set(`${ev.header.tgid}:${ev.header.tsNs}`, ev.header.tgid);
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
    if (generation !== 0) this.generations.add(generation >>> 0);
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
    clearInterval(this.watchdog);
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

/** SIGCONT to a task; false when it is gone. */
function continueTask(tgid: number): boolean {
  try {
    process.kill(tgid, 'SIGCONT');
    return true;
  } catch {
    return false;
  }
}

/** The cgroup v2 hierarchy: unified, or the v1 machines' /sys/fs/cgroup/unified. */
function cgroup2Root(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
}

/** Continues every task stopped by a signal (state T) in these cgroups and their children:
 * with the loader gone nobody else will. Returns how many. */
function continueStoppedIn(paths: Iterable<string>): number {
  const root = cgroup2Root();
  let n = 0;
  const visit = (dir: string, depth: number): void => {
    let procs: string;
    try {
      procs = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8');
    } catch {
      return; // removed meanwhile
    }
    for (const line of procs.split('\n')) {
      const pid = Number.parseInt(line, 10);
      if (pid > 0 && taskState(pid) === 'T' && continueTask(pid)) n++;
    }
    if (depth > 8) return;
    try {
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) visit(path.join(dir, d.name), depth + 1);
    } catch {
      // removed meanwhile
    }
  };
  for (const p of paths) if (p.startsWith('/') && !p.includes('..')) visit(path.join(root, p), 0);
  return n;
}

/** The state letter of /proc/<pid>/stat (after the command name, which may hold anything). */
function taskState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
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
