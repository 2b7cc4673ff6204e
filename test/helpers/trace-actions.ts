// A trace step as a set of actions, each one comparable line: what the fidelity test
// expects and what the trace recorded are both turned into these, then compared as sets.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Trace, TraceBuildStep } from '../../model/index.js';
import { inCI } from './environment.js';

/** `exec ["/bin/sh","-c","..."]`, `created /a`, `renamed /a -> /b`, `net tcp 127.0.0.1:80 outbound`... */
export function stepActions(step: TraceBuildStep): string[] {
  const out: string[] = [];
  for (const p of step.processes) out.push(`${p.execed ? 'exec' : 'fork'} ${JSON.stringify(p.argv)}`);
  const f = step.files;
  for (const x of f.created) out.push(`created ${x}`);
  for (const x of f.modified) out.push(`modified ${x}`);
  for (const x of f.deleted) out.push(`deleted ${x}`);
  for (const x of f.transient) out.push(`transient ${x}`);
  for (const r of f.renamed) out.push(`renamed ${r.from} -> ${r.to}${r.exchange ? ' (exchange)' : ''}`);
  for (const a of f.attributes) out.push(a.op === 'chmod' ? `chmod ${a.path} ${a.mode}` : `chown ${a.path} ${a.uid}:${a.gid}`);
  for (const l of f.links) out.push(`${l.kind} ${l.path} -> ${l.target}`);
  for (const n of step.network) {
    out.push(`net ${n.protocol} ${n.address}:${n.port} ${n.direction} attempts=${n.attempts} failures=${n.failures}`);
  }
  return out;
}

export interface SetComparison {
  expected: number;
  recorded: number;
  matched: number;
  /** Expected but not recorded. */
  missing: string[];
  /** Recorded but not expected. */
  unexpected: string[];
}

export function compareActions(expected: readonly string[], recorded: readonly string[]): SetComparison {
  const e = new Set(expected);
  const r = new Set(recorded);
  const matched = [...e].filter((x) => r.has(x)).length;
  return {
    expected: e.size,
    recorded: r.size,
    matched,
    missing: [...e].filter((x) => !r.has(x)).sort(),
    unexpected: [...r].filter((x) => !e.has(x)).sort(),
  };
}

export function percent(n: number, d: number): string {
  return d === 0 ? '100%' : `${Math.floor((1000 * n) / d) / 10}%`;
}

/** Execs that carry a digest / all execs, over the whole trace. */
export function digestCoverage(trace: Trace): { withDigest: number; execs: number } {
  const execs = trace.buildSteps.flatMap((s) => s.processes.filter((p) => p.execed));
  return { withDigest: execs.filter((p) => p.exeSha256 !== null).length, execs: execs.length };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Why a traced build cannot run here (the probe needs root), or undefined. In CI: throws. */
export function tracingUnavailable(): string | undefined {
  const why = process.getuid?.() !== 0 ? 'the eBPF tracer needs root' : undefined;
  if (why !== undefined && inCI()) throw new Error(`${why} (CI=${process.env.CI})`);
  if (why !== undefined) console.warn(`skipping traced builds: ${why}`);
  return why;
}
