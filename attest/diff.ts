// Behavioural diff of two runtime traces, per Dockerfile instruction. Pure: traces in,
// typed result out; formatDiff renders it as text in the spirit of diff(1).
//
// Steps are matched by (stage, instruction text, occurrence): the n-th step with that
// stage and text in A pairs with the n-th in B. Timing, pids, argv and resources are not
// compared (they differ between any two runs); what is compared is what ran (executable
// path and digest), whom it talked to, and what it wrote.

import type { Trace, TraceBuildStep } from '../model/index.js';

/** An executable that ran, identified by path and digest (null: digest unknown). */
export interface DiffProcess {
  readonly exe: string;
  readonly sha256: string | null;
}

/** Same executable path in both traces, different digest sets. */
export interface DiffDigestChange {
  readonly exe: string;
  /** Digests seen only in A. */
  readonly removed: readonly (string | null)[];
  /** Digests seen only in B. */
  readonly added: readonly (string | null)[];
}

export interface DiffPeer {
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
  readonly direction: string;
}

export interface DiffFileWrite {
  readonly change: 'created' | 'modified' | 'deleted' | 'renamed';
  readonly path: string;
  /** Old path, renames only. */
  readonly from?: string;
}

export interface DiffAddedRemoved<T> {
  readonly added: readonly T[];
  readonly removed: readonly T[];
}

export interface StepDiff {
  /** `changed`: matched in both; `only-a` / `only-b`: no partner in the other trace. */
  readonly status: 'changed' | 'only-a' | 'only-b';
  /** Stage name, or its index as a string (model/trace.ts). */
  readonly stage: string;
  readonly instruction: string;
  /** 0-based occurrence of (stage, instruction) in its trace. */
  readonly occurrence: number;
  /** Dockerfile lines; null on the side that lacks the step. */
  readonly lineA: number | null;
  readonly lineB: number | null;
  /** Present when the step was cached in one trace and ran in the other. */
  readonly cached?: { readonly a: boolean; readonly b: boolean };
  /** Present when the number of lost events differs. */
  readonly lostEvents?: { readonly a: number; readonly b: number };
  /** Executables whose path appears in only one trace. */
  readonly processes: DiffAddedRemoved<DiffProcess>;
  /** Executables that ran in both under the same path but with different digests. */
  readonly digests: readonly DiffDigestChange[];
  readonly network: DiffAddedRemoved<DiffPeer>;
  readonly files: DiffAddedRemoved<DiffFileWrite>;
}

export interface TraceDiff {
  readonly identical: boolean;
  /** Only steps that differ, in build order (A's order, B-only steps where B has them). */
  readonly steps: readonly StepDiff[];
}

// ---------------------------------------------------------------------------------------

const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/** Keyed set: one entry per distinct key, in key order. */
function keyed<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  const m = new Map<string, T>();
  for (const it of items) if (!m.has(key(it))) m.set(key(it), it);
  return new Map([...m.entries()].sort(([a], [b]) => compare(a, b)));
}

function addedRemoved<T>(a: readonly T[], b: readonly T[], key: (t: T) => string): DiffAddedRemoved<T> {
  const ka = keyed(a, key);
  const kb = keyed(b, key);
  return {
    added: [...kb].filter(([k]) => !ka.has(k)).map(([, v]) => v),
    removed: [...ka].filter(([k]) => !kb.has(k)).map(([, v]) => v),
  };
}

const peerKey = (p: DiffPeer): string => `${p.protocol}\u0000${p.direction}\u0000${p.address}\u0000${String(p.port).padStart(5, '0')}`;
const fileKey = (f: DiffFileWrite): string => `${f.path}\u0000${f.change}\u0000${f.from ?? ''}`;
const digestKey = (d: string | null): string => d ?? '\uffff';

function peers(step: TraceBuildStep | undefined): DiffPeer[] {
  return (step?.network ?? []).map((n) => ({ protocol: n.protocol, address: n.address, port: n.port, direction: n.direction }));
}

function fileWrites(step: TraceBuildStep | undefined): DiffFileWrite[] {
  const f = step?.files;
  const out: DiffFileWrite[] = [];
  for (const change of ['created', 'modified', 'deleted'] as const) for (const path of f?.[change] ?? []) out.push({ change, path });
  for (const r of f?.renamed ?? []) out.push({ change: 'renamed', path: r.to, from: r.from });
  return out;
}

/** exe path -> sorted distinct digests. */
function executables(step: TraceBuildStep | undefined): Map<string, (string | null)[]> {
  const m = new Map<string, Set<string | null>>();
  for (const p of step?.processes ?? []) {
    const set = m.get(p.exe) ?? new Set<string | null>();
    set.add(p.exeSha256 ?? null);
    m.set(p.exe, set);
  }
  return new Map(
    [...m.entries()].sort(([a], [b]) => compare(a, b)).map(([exe, set]) => [exe, [...set].sort((x, y) => compare(digestKey(x), digestKey(y)))]),
  );
}

function compareSteps(
  a: TraceBuildStep | undefined,
  b: TraceBuildStep | undefined,
  occurrence: number,
): StepDiff {
  const ref = (a ?? b) as TraceBuildStep;
  const ea = executables(a);
  const eb = executables(b);
  const added: DiffProcess[] = [];
  const removed: DiffProcess[] = [];
  const digests: DiffDigestChange[] = [];
  for (const exe of [...new Set([...ea.keys(), ...eb.keys()])].sort(compare)) {
    const da = ea.get(exe);
    const db = eb.get(exe);
    if (da === undefined) for (const sha256 of db ?? []) added.push({ exe, sha256 });
    else if (db === undefined) for (const sha256 of da) removed.push({ exe, sha256 });
    else {
      const onlyA = da.filter((d) => !db.includes(d));
      const onlyB = db.filter((d) => !da.includes(d));
      if (onlyA.length > 0 || onlyB.length > 0) digests.push({ exe, removed: onlyA, added: onlyB });
    }
  }
  const status = a === undefined ? 'only-b' : b === undefined ? 'only-a' : 'changed';
  const out: StepDiff = {
    status,
    stage: ref.stage,
    instruction: ref.instruction,
    occurrence,
    lineA: a?.line ?? null,
    lineB: b?.line ?? null,
    ...(a !== undefined && b !== undefined && a.cached !== b.cached ? { cached: { a: a.cached, b: b.cached } } : {}),
    ...(a !== undefined && b !== undefined && (a.lostEvents ?? 0) !== (b.lostEvents ?? 0)
      ? { lostEvents: { a: a.lostEvents ?? 0, b: b.lostEvents ?? 0 } }
      : {}),
    processes: { added, removed },
    digests,
    network: addedRemoved(peers(a), peers(b), peerKey),
    files: addedRemoved(fileWrites(a), fileWrites(b), fileKey),
  };
  return out;
}

function isEmpty(d: StepDiff): boolean {
  return (
    d.status === 'changed' &&
    d.cached === undefined &&
    d.lostEvents === undefined &&
    d.processes.added.length === 0 &&
    d.processes.removed.length === 0 &&
    d.digests.length === 0 &&
    d.network.added.length === 0 &&
    d.network.removed.length === 0 &&
    d.files.added.length === 0 &&
    d.files.removed.length === 0
  );
}

/** (stage, instruction, occurrence) key of every step, in trace order. */
function stepKeys(steps: readonly TraceBuildStep[]): { key: string; occurrence: number }[] {
  const counts = new Map<string, number>();
  return steps.map((s) => {
    const base = `${String(s.stage)}\u0000${s.instruction}`;
    const occurrence = counts.get(base) ?? 0;
    counts.set(base, occurrence + 1);
    return { key: `${base}\u0000${occurrence}`, occurrence };
  });
}

/** Compares two traces step by step. The result lists only differing steps. */
export function diffTraces(a: Trace, b: Trace): TraceDiff {
  const stepsA = a.buildSteps ?? [];
  const stepsB = b.buildSteps ?? [];
  const keysA = stepKeys(stepsA);
  const keysB = stepKeys(stepsB);
  const indexA = new Map(keysA.map((k, i) => [k.key, i]));
  const indexB = new Map(keysB.map((k, i) => [k.key, i]));

  // Walk B; before each matched pair, emit A's unmatched steps that precede its partner.
  const result: StepDiff[] = [];
  const emitted = new Set<number>();
  let nextA = 0;
  const flushA = (upTo: number) => {
    for (; nextA < upTo; nextA++) {
      const k = keysA[nextA];
      if (k !== undefined && !indexB.has(k.key) && !emitted.has(nextA)) {
        emitted.add(nextA);
        result.push(compareSteps(stepsA[nextA], undefined, k.occurrence));
      }
    }
  };
  keysB.forEach((kb, j) => {
    const i = indexA.get(kb.key);
    if (i === undefined) {
      result.push(compareSteps(undefined, stepsB[j], kb.occurrence));
      return;
    }
    flushA(i);
    nextA = Math.max(nextA, i + 1);
    result.push(compareSteps(stepsA[i], stepsB[j], kb.occurrence));
  });
  flushA(stepsA.length);

  const steps = result.filter((d) => !isEmpty(d));
  return { identical: steps.length === 0, steps };
}

// ---------------------------------------------------------------------------------------

export interface FormatDiffOptions {
  /** When given, the output starts with `--- labelA` / `+++ labelB`, like diff -u. */
  readonly labelA?: string;
  readonly labelB?: string;
}

const sha = (d: string | null): string => (d === null ? 'sha256:(unknown)' : `sha256:${d}`);
const peerText = (p: DiffPeer): string => `${p.protocol} ${p.direction} ${p.address}:${p.port}`;
const fileText = (f: DiffFileWrite): string => (f.from === undefined ? `${f.change} ${f.path}` : `renamed ${f.from} -> ${f.path}`);

/**
 * Renders a TraceDiff: one `Dockerfile:LINE INSTRUCTION` header per differing step, then
 * `- ` lines for what only A did and `+ ` lines for what only B did. Identical traces
 * render as the empty string.
 */
export function formatDiff(diff: TraceDiff, options: FormatDiffOptions = {}): string {
  if (diff.identical) return '';
  const lines: string[] = [];
  if (options.labelA !== undefined || options.labelB !== undefined) {
    lines.push(`--- ${options.labelA ?? 'a'}`, `+++ ${options.labelB ?? 'b'}`);
  }
  for (const s of diff.steps) {
    const line = s.lineB ?? s.lineA;
    const moved = s.lineA !== null && s.lineB !== null && s.lineA !== s.lineB ? ` (line ${s.lineA} in A)` : '';
    // an index as it is; a name quoted (names can hold anything)
    const stage = /^\d+$/.test(s.stage) ? `stage ${s.stage}` : `stage ${JSON.stringify(s.stage)}`;
    lines.push(`Dockerfile:${line} ${s.instruction}  [${stage}]${moved}`);
    if (s.status === 'only-a') lines.push('- step only in A');
    if (s.status === 'only-b') lines.push('+ step only in B');
    if (s.cached !== undefined) lines.push(`- cached: ${s.cached.a}`, `+ cached: ${s.cached.b}`);
    if (s.lostEvents !== undefined) lines.push(`- lost events: ${s.lostEvents.a}`, `+ lost events: ${s.lostEvents.b}`);
    for (const d of s.digests) {
      for (const x of d.removed) lines.push(`- exec ${d.exe} ${sha(x)}`);
      for (const x of d.added) lines.push(`+ exec ${d.exe} ${sha(x)}  (digest changed)`);
    }
    for (const p of s.processes.removed) lines.push(`- exec ${p.exe} ${sha(p.sha256)}`);
    for (const p of s.processes.added) lines.push(`+ exec ${p.exe} ${sha(p.sha256)}`);
    for (const n of s.network.removed) lines.push(`- connect ${peerText(n)}`);
    for (const n of s.network.added) lines.push(`+ connect ${peerText(n)}`);
    for (const f of s.files.removed) lines.push(`- write ${fileText(f)}`);
    for (const f of s.files.added) lines.push(`+ write ${fileText(f)}`);
  }
  return `${lines.join('\n')}\n`;
}
