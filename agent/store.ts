// The traces the agent keeps: one file per build in its state directory (0700; files 0600,
// written whole or not at all), the newest `keep` of them; an index in memory to find a
// build by its ref, the image id it produced, or the manifest digest it was pushed as.
// Who may read one: the client that ran the build (its certificate), and the readers the
// agent was started with (--trace-reader CN).
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../common/index.js';
import { normalizeTrace, type Trace } from '../model/index.js';

/** What is kept about a build besides its trace (also what `agent-trace` shows). */
export interface StoredBuildSummary {
  ref: string;
  /** The client that ran it: its certificate's fingerprint and CN. */
  owner: { fingerprint: string; name: string };
  startedOn: string;
  finishedOn: string;
  /** `dockerfile.v0` for BuildKit's own Dockerfile frontend (buildx), '' for a client's LLB (tracebuild). */
  frontend: string;
  /** How the steps were placed in the Dockerfile: the LLB's source map, the Dockerfile the session sent, or the vertex names alone. */
  located: 'source-map' | 'dockerfile' | 'names';
  dockerfile?: string;
  /** The exporter and the names it was asked to give the image. */
  exporter: string;
  names: string[];
  pushed: boolean;
  /** The image id (config digest), when the exporter reported it. */
  imageId?: string;
  /** The manifest digest in the registry, when the build pushed. */
  manifestDigest?: string;
  /** Every `repository@digest` the image was pushed as (by the exporter, or through the agent's Engine API by the build's client). */
  pushedAs?: string[];
  /** BuildKit's error when the build failed. */
  error?: string;
  /** The builder's signed runtime-trace statements. */
  attestations: {
    subject: string;
    keyId: string;
    /** Where it was attached, when it was: `name@digest` of the referrer manifest. */
    referrer?: string;
    /** Why it could not be attached. */
    attachError?: string;
    bundle: unknown;
  }[];
}

export interface StoredBuild extends StoredBuildSummary {
  trace: Trace;
}

/** What `agent-trace` asks for: an image by digest, or a build by its ref. */
export type TraceQuery = { kind: 'digest'; digest: string } | { kind: 'ref'; ref: string };

/**
 * A query as clients write it: an image id or manifest digest (`sha256:...`, also as
 * `name@sha256:...`), else a build ref, bare or as buildx prints it (`builder/node/ref`).
 */
export function parseTraceQuery(query: string): TraceQuery {
  const q = query.trim();
  const digest = /(sha256:[0-9a-f]{64})$/.exec(q)?.[1];
  if (digest !== undefined) return { kind: 'digest', digest };
  return { kind: 'ref', ref: q.slice(q.lastIndexOf('/') + 1) };
}

export class TraceStore {
  private readonly index = new Map<string, StoredBuildSummary>();
  private readonly dir: string;

  constructor(
    stateDir: string,
    private readonly keep: number,
  ) {
    this.dir = path.join(stateDir, 'builds');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
    chmodSync(this.dir, 0o700);
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const b = JSON.parse(readFileSync(path.join(this.dir, f), 'utf8')) as StoredBuild;
        if (typeof b.ref === 'string') this.index.set(b.ref, summary(b));
      } catch {
        // a file that is not a build: left alone
      }
    }
  }

  private file(ref: string): string {
    return path.join(this.dir, `${ref.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }

  async save(build: StoredBuild): Promise<void> {
    await writeFileAtomic(this.file(build.ref), `${JSON.stringify(build)}\n`, 0o600);
    this.index.set(build.ref, summary(build));
    this.prune();
  }

  /** Only the newest `keep` builds are kept. */
  private prune(): void {
    if (this.index.size <= this.keep) return;
    const byAge = [...this.index.values()].sort((a, b) => (a.finishedOn < b.finishedOn ? -1 : a.finishedOn > b.finishedOn ? 1 : 0));
    for (const b of byAge.slice(0, this.index.size - this.keep)) {
      this.index.delete(b.ref);
      rmSync(this.file(b.ref), { force: true });
    }
  }

  /**
   * The newest build `query` names that `mayRead` allows: a build ref (or a buildx
   * `builder/node/ref`), an image id, a manifest digest (`sha256:...`, or `name@sha256:...`).
   */
  find(query: string, mayRead: (b: StoredBuildSummary) => boolean): StoredBuild | undefined {
    const q = parseTraceQuery(query);
    const matches = [...this.index.values()]
      .filter((b) =>
        q.kind === 'digest'
          ? b.imageId === q.digest || b.manifestDigest === q.digest || (b.pushedAs ?? []).some((p) => p.endsWith(`@${q.digest}`))
          : b.ref === q.ref,
      )
      .filter(mayRead)
      .sort((a, b) => (a.finishedOn < b.finishedOn ? 1 : a.finishedOn > b.finishedOn ? -1 : 0));
    for (const m of matches) {
      try {
        const b = JSON.parse(readFileSync(this.file(m.ref), 'utf8')) as StoredBuild;
        b.trace = normalizeTrace(b.trace);
        return b;
      } catch {
        continue;
      }
    }
    return undefined;
  }

  get size(): number {
    return this.index.size;
  }

  /** Bytes on disk, for the agent's log. */
  bytes(): number {
    let n = 0;
    for (const r of this.index.keys()) {
      try {
        n += statSync(this.file(r)).size;
      } catch {
        // pruned meanwhile
      }
    }
    return n;
  }
}

function summary(b: StoredBuild | StoredBuildSummary): StoredBuildSummary {
  const { trace: _trace, ...rest } = b as StoredBuild;
  return rest;
}
