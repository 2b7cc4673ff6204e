// The digests of an exec's file and #! script, from the probe's digest records: what a
// process record says of them, or why it has none.
import { constants as osConstants } from 'node:os';
import type { DigestEventData, ExecEventData } from '../decode/events.js';
import { absolutePath } from '../decode/file.js';
import type { TraceProcess, TraceScript } from '../../model/index.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

function errnoText(e: number): string {
  const n = Math.abs(e);
  const name = ERRNO_NAMES.get(n);
  return name ? `errno ${n} (${name})` : `errno ${n}`;
}

export interface DigestInfo {
  enabled: boolean | undefined;
  /** By tgid (then matched on tsNs): string keys built from bigints cost more than the rest. */
  byExec: Map<number, DigestEventData[]>;
}

/** The first digest record of this kind for one exec (same tgid and tsNs). Plain loops
 * here and below: these run for every process while the build runs, and closures, spreads
 * and short-lived result objects made the optimizing compiler's work (on the build's CPUs)
 * cost more than the records themselves. */
export function digestOf(exec: ExecEventData, d: DigestInfo, kind: DigestEventData['digestKind']): DigestEventData | undefined {
  const list = d.byExec.get(exec.header.tgid);
  if (list === undefined) return undefined;
  const ts = exec.header.tsNs;
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as DigestEventData;
    if (r.header.tsNs === ts && r.digestKind === kind) return r;
  }
  return undefined;
}

function hashFailure(rec: DigestEventData): string {
  return rec.fromPeer
    ? `not hashed: the probe of a concurrent traced build stopped this exec and did not deliver its digest (${errnoText(rec.error)})`
    : `hashing failed: ${errnoText(rec.error)}`;
}

/** Sets exeSha256 from the exec's digest record `rec` (digestOf 'exe'), or says why there is none. */
export function setExeDigest(p: TraceProcess, exec: ExecEventData, rec: DigestEventData | undefined, d: DigestInfo): void {
  if (rec?.sha256) {
    p.exeSha256 = rec.sha256;
    if (rec.identityMismatch) p.digestIdentityMismatch = true;
    return;
  }
  p.exeSha256 = null;
  if (rec) p.digestMissing = hashFailure(rec);
  else if (d.enabled === false) p.digestMissing = 'digests disabled (the probe ran without hashing)';
  else if (exec.digestSkipped) p.digestMissing = 'not hashed: the probe loader was not keeping up (the exec was not stopped)';
  else p.digestMissing = 'no digest record (lost)';
}

export function scriptDigest(exec: ExecEventData, rec: DigestEventData | undefined, d: DigestInfo): TraceScript {
  const path = absolutePath(exec.filename, exec.cwd) ?? exec.filename;
  if (rec?.sha256) return { path, sha256: rec.sha256 };
  let reason: string;
  if (rec) reason = hashFailure(rec);
  else if (d.enabled === false) reason = 'digests disabled (the probe ran without hashing)';
  else reason = 'no digest record (lost)';
  return { path, sha256: null, digestMissing: reason };
}
