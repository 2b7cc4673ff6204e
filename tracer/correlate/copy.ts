// COPY/ADD run inside the daemon: their record is the served context files matching their
// source patterns (Docker's rules: `*`, `?`, `[...]` per path segment, a matched directory
// includes everything under it).
import { posix } from 'node:path';
import { goMatch } from '../../common/index.js';
import type { TraceCopy, TraceCopySource } from '../../model/index.js';
import type { CorrelateServedFile, CorrelateStep } from './input.js';
import { byString } from './order.js';

// ---- Docker's source patterns (Go filepath.Match per segment: common/patterns.ts) ----

function cleanContextPath(p: string): string {
  const n = posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '.' ? '' : n;
}

/**
 * Does the context file `file` fall under the COPY/ADD source `pattern`? Both relative to
 * the context root. Wildcards match within one path segment, and a segment `**` matches
 * any number of segments (as BuildKit's copy patterns do); a pattern naming (or matching)
 * a directory includes every file below it; "." is the whole context.
 */
export function matchesCopySource(pattern: string, file: string): boolean {
  const p = cleanContextPath(pattern);
  if (p === '') return true;
  const f = cleanContextPath(file);
  return matchSegments(p.split('/'), 0, f === '' ? [] : f.split('/'), 0);
}

function matchSegments(ps: readonly string[], i: number, fs: readonly string[], j: number): boolean {
  if (i === ps.length) return true; // the rest of the file is below what matched
  const seg = ps[i] as string;
  if (seg === '**') {
    for (let k = j; k <= fs.length; k++) if (matchSegments(ps, i + 1, fs, k)) return true;
    return false;
  }
  if (j === fs.length) return false;
  const name = fs[j] as string;
  return segmentMatches(seg, name) && matchSegments(ps, i + 1, fs, j + 1);
}

/** filepath.Match of one segment; a malformed pattern only matches itself (BuildKit copies it literally). */
function segmentMatches(pattern: string, name: string): boolean {
  try {
    return goMatch(pattern, name);
  } catch {
    return pattern === name;
  }
}

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

export function copyRecord(step: CorrelateStep, served: readonly CorrelateServedFile[], cached: boolean): TraceCopy {
  const patterns = [...(step.copySources ?? [])];
  const out: TraceCopy = { patterns, sources: [], unmatchedPatterns: [], destination: step.copyDestination ?? '' };
  if (step.copyFrom !== undefined) {
    out.from = step.copyFrom;
    return out;
  }
  const remote = patterns.filter((p) => REMOTE.test(p));
  if (remote.length) out.remote = remote;
  if (cached) return out;
  const local = patterns.filter((p) => !REMOTE.test(p));
  const byPath = new Map<string, TraceCopySource>();
  for (const pat of local) {
    let any = false;
    for (const f of served) {
      if (!matchesCopySource(pat, f.path)) continue;
      any = true;
      const path = cleanContextPath(f.path);
      byPath.set(path, { path, size: f.size, sha256: f.sha256 });
    }
    if (!any) out.unmatchedPatterns.push(pat);
  }
  out.sources = [...byPath.values()].sort((a, b) => byString(a.path, b.path));
  return out;
}
