// A tracer for unit tests of the CLI: the real correlator and table (pure), and a fake probe
// that needs no root and no BPF. It delivers a READY record, then whatever events the test
// scripts (`emit`), and records how it was driven.
import {
  Correlation,
  TracerError,
  TracerUnavailableError,
  abi,
  correlate,
  formatTraceTable,
  lossCountersFromSlots,
  newDecodeStats,
  type LossCounters,
  type MonitorGap,
  type ProbeExit,
  type ProbeOptions,
  type ReadyEventData,
  type TraceEvent,
  type TracerUnavailableCode,
} from '../../tracer/index.js';
import type { TraceProbe, TracerToolkit } from '../../cli/trace-contracts.js';

export interface FakeTracerOptions {
  /** startProbe rejects with TracerUnavailableError of this code. */
  unavailable?: TracerUnavailableCode;
  /** startProbe rejects with this error. */
  startError?: Error;
  /** Events delivered after READY when the solve is over (before the ping answers). */
  events?: (ready: ReadyEventData) => TraceEvent[];
  /** Final loss counters reported by stop(). */
  losses?: Partial<Record<keyof LossCounters, bigint>>;
  /** The loader died while being stopped: stop() reports this gap (and calls onGap). */
  gapAtStop?: MonitorGap;
}

export interface FakeTracerRecord {
  started: ProbeOptions[];
  calls: string[];
  /** Whether the probe is running (started and not stopped). */
  running: boolean;
}

const NO_BYTES = Buffer.alloc(0);

export const FAKE_REALTIME_OFFSET_NS = 1_700_000_000_000_000_000n;

export function fakeReady(): ReadyEventData {
  return {
    kind: 'ready',
    header: { type: abi.EventType.Ready, size: 0, tsNs: 1_000n, cgroupId: 0n, pid: 42, tgid: 42 },
    abiVersion: abi.ABI_VERSION,
    ncpus: 2,
    realtimeOffsetNs: FAKE_REALTIME_OFFSET_NS,
    ringbufBytes: 64n << 20n,
    digests: true,
    traceReads: false,
    loaderPid: 42,
  };
}

export function fakeTracer(options: FakeTracerOptions = {}): TracerToolkit & { record: FakeTracerRecord } {
  const record: FakeTracerRecord = { started: [], calls: [], running: false };
  const toolkit: TracerToolkit & { record: FakeTracerRecord } = {
    record,
    async startProbe(o: ProbeOptions): Promise<TraceProbe> {
      record.started.push(o);
      if (options.unavailable !== undefined) {
        throw new TracerUnavailableError(options.unavailable, `fake: tracer unavailable (${options.unavailable})`);
      }
      if (options.startError) throw options.startError;
      const ready = fakeReady();
      // the real probe hands records to onRecord when it is given, events to onEvent
      const emit = (e: TraceEvent): void => (o.onRecord ? o.onRecord(NO_BYTES, 0, 0, e) : o.onEvent?.(e));
      emit(ready);
      record.running = true;
      let delivered = false;
      const deliver = (): void => {
        if (delivered) return;
        delivered = true;
        for (const e of options.events?.(ready) ?? []) emit(e);
      };
      let exit: ProbeExit | undefined;
      return {
        ready,
        async setGeneration(g) {
          record.calls.push(`gen ${g}`);
        },
        async ping() {
          record.calls.push('ping');
          deliver();
        },
        async stop() {
          record.calls.push('stop');
          deliver();
          record.running = false;
          const c = lossCountersFromSlots([]);
          for (const [k, v] of Object.entries(options.losses ?? {})) {
            if (typeof v === 'bigint') (c as unknown as Record<string, bigint>)[k] = v;
          }
          if (exit === undefined && options.gapAtStop !== undefined) {
            o.onGap?.(options.gapAtStop);
            const error = new TracerError('loader-exited', options.gapAtStop.reason);
            exit = { code: null, signal: 'SIGKILL', gap: options.gapAtStop, losses: c, decode: newDecodeStats(), error };
          }
          exit ??= { code: 0, signal: null, gap: undefined, losses: c, decode: newDecodeStats(), error: undefined };
          return exit;
        },
      };
    },
    correlate,
    startCorrelation: () => new Correlation(),
    formatTraceTable,
  };
  return toolkit;
}
