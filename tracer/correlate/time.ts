// Times: boot-clock and wall-clock ns -> the trace's milliseconds and ISO strings.
import type { CorrelateVertex } from './input.js';

/** ns -> ms with microsecond precision. */
export function ms(ns: bigint | number): number {
  return Math.round(Number(ns) / 1e3) / 1e3;
}

export function vertexTimes(v: CorrelateVertex | undefined): { start?: bigint; end?: bigint } {
  if (!v) return {};
  const start = v.startedNs ?? (v.started ? BigInt(v.started.getTime()) * 1_000_000n : undefined);
  const end = v.completedNs ?? (v.completed ? BigInt(v.completed.getTime()) * 1_000_000n : undefined);
  return { start, end };
}

/** Wall-clock ns since the epoch -> ISO 8601 (ms precision). */
export function isoWall(ns: bigint): string {
  const msFloor = Number(ns >= 0n ? ns / 1_000_000n : (ns - 999_999n) / 1_000_000n);
  // Tens of thousands of timestamps, mostly within a few seconds: the date and time up to
  // the second are formatted once per second, and each millisecond's string once (the
  // records of a build share them: fewer strings for the garbage collector to keep). Two
  // seconds are kept: a record's start and end times often lie on either side of one.
  const sec = Math.floor(msFloor / 1000);
  let slot = isoSeconds[0] as IsoSecond;
  if (slot.sec !== sec) {
    slot = isoSeconds[1] as IsoSecond;
    if (slot.sec !== sec) {
      slot = { sec, prefix: isoPrefix(sec), byMs: new Array<string | undefined>(1000) };
    }
    // the one used last first
    isoSeconds[1] = isoSeconds[0] as IsoSecond;
    isoSeconds[0] = slot;
  }
  if (slot.prefix === undefined) return new Date(msFloor).toISOString();
  const m = msFloor - sec * 1000;
  let iso = slot.byMs[m];
  if (iso === undefined) {
    iso = `${slot.prefix}${String(m).padStart(3, '0')}Z`;
    slot.byMs[m] = iso;
  }
  return iso;
}

interface IsoSecond {
  sec: number;
  /** "YYYY-MM-DDTHH:MM:SS.", or undefined for a year toISOString writes otherwise. */
  prefix: string | undefined;
  byMs: Array<string | undefined>;
}

function isoPrefix(sec: number): string | undefined {
  const full = new Date(sec * 1000).toISOString();
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/.test(full) ? full.slice(0, 20) : undefined;
}

// placeholders until the first two seconds are seen (NaN equals no second)
const isoSeconds: IsoSecond[] = [
  { sec: NaN, prefix: undefined, byMs: [] },
  { sec: NaN, prefix: undefined, byMs: [] },
];
