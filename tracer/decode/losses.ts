// The probe's cumulative loss counters: from the raw slots of a loss record (indexed by
// abi.Loss), and what they add up to.
import { Loss } from '../abi.js';

/** Cumulative loss counters (since the probe started). */
export interface LossCounters {
  /** Events lost because the ring buffer was full, per kernel event kind. */
  ringbuf: Record<'cgroup-mkdir' | 'cgroup-rmdir' | 'exec' | 'fork' | 'exit' | 'file' | 'net', bigint>;
  ringbufTotal: bigint;
  /** Syscall entries that could not be remembered (ABI 1; since the probe reads syscalls at
   * their exit only, always 0). */
  pendingFull: bigint;
  /** Cgroups that should have been traced but did not fit the traced map. */
  tracedFull: bigint;
  scratchBusy: bigint;
  /** Execs not stopped for hashing (the loader's heartbeat was stale). */
  digestSkipped: bigint;
  signalFailed: bigint;
  /** Digests the loader could not compute. */
  digestFailed: bigint;
  /** Repeated UDP sends to a known destination, reported once (not a loss). */
  netSuppressed: bigint;
  /** Records the loader could not write. */
  output: bigint;
  /** Syscalls whose arguments the probe could not read (user memory fault; an arm64
   * 32-bit task): their events are lost. */
  argsUnread: bigint;
}

function emptyCounters(): LossCounters {
  return {
    ringbuf: { 'cgroup-mkdir': 0n, 'cgroup-rmdir': 0n, exec: 0n, fork: 0n, exit: 0n, file: 0n, net: 0n },
    ringbufTotal: 0n,
    pendingFull: 0n,
    tracedFull: 0n,
    scratchBusy: 0n,
    digestSkipped: 0n,
    signalFailed: 0n,
    digestFailed: 0n,
    netSuppressed: 0n,
    output: 0n,
    argsUnread: 0n,
  };
}

export function lossCountersFromSlots(raw: readonly bigint[]): LossCounters {
  const c = emptyCounters();
  const at = (i: number): bigint => raw[i] ?? 0n;
  const kinds = ['cgroup-mkdir', 'cgroup-rmdir', 'exec', 'fork', 'exit', 'file', 'net'] as const;
  kinds.forEach((k, i) => {
    c.ringbuf[k] = at(Loss.RingbufFirst + i);
    c.ringbufTotal += c.ringbuf[k];
  });
  c.pendingFull = at(Loss.PendingFull);
  c.tracedFull = at(Loss.TracedFull);
  c.scratchBusy = at(Loss.ScratchBusy);
  c.digestSkipped = at(Loss.DigestSkipped);
  c.signalFailed = at(Loss.SignalFailed);
  c.digestFailed = at(Loss.DigestFailed);
  c.netSuppressed = at(Loss.NetSuppressed);
  c.output = at(Loss.Output);
  c.argsUnread = at(Loss.ArgsUnread);
  return c;
}

/** Events lost for good (everything but netSuppressed, which only folds repeats). */
export function totalLost(c: LossCounters): bigint {
  return c.ringbufTotal + c.pendingFull + c.tracedFull + c.scratchBusy + c.digestSkipped +
    c.signalFailed + c.digestFailed + c.output + c.argsUnread;
}
