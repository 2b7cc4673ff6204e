// The build as the modules see it together: each Dockerfile instruction with the LLB vertex
// it became (the frontend's source map), the states BuildKit reports for those vertices,
// and the context files the session served. The frontend makes these, the tracer and the
// CLI read them.

/** One Dockerfile instruction as converted: the vertex digest it became and where it came from. */
export interface BuildStep {
  /** LLB vertex digest (sha256:...). */
  vertex: string;
  /** Progress name, e.g. "[2/5] RUN echo hi". */
  name: string;
  /** Instruction text. */
  instruction: string;
  keyword: string;
  /** 1-based Dockerfile lines. */
  line: number;
  endLine: number;
  /** Stage name, or its index as a string. */
  stage: string;
  stageIndex: number;
  /** RUN: the exec op's meta.args exactly as sent (the tracer matches a container's first exec against them). */
  execArgs?: string[];
  /** COPY/ADD: the source paths, patterns and URLs with variables expanded (heredoc sources are not listed). */
  copySources?: string[];
  /** COPY/ADD: the destination, absolute (resolved against WORKDIR); a trailing `/` when it names a directory. */
  copyDestination?: string;
  /** COPY --from: the stage name, index or image as given (the sources are not from the context). */
  copyFrom?: string;
}

/**
 * A vertex as BuildKit's Status stream reports it. Each report carries what changed; the
 * state of a vertex is its reports merged (mergeVertexReports). Timestamps are carried twice:
 * as Date (millisecond precision, convenient) and as nanoseconds since the Unix epoch
 * (bigint, exact), because the tracer matches them to kernel events far finer than a ms.
 */
export interface Vertex {
  digest: string;
  inputs?: string[];
  name?: string;
  cached: boolean;
  started?: Date;
  completed?: Date;
  startedNs?: bigint;
  completedNs?: bigint;
  error?: string;
}

/** Merges Status reports into the vertex states (by digest): later values win, `cached` sticks. */
export function mergeVertexReports(states: Map<string, Vertex>, reports: readonly Vertex[]): void {
  for (const u of reports) {
    let v = states.get(u.digest);
    if (v === undefined) {
      v = { digest: u.digest, cached: false };
      states.set(u.digest, v);
    }
    if (u.name !== undefined && u.name !== '') v.name = u.name;
    v.cached = v.cached || u.cached;
    if (u.started !== undefined) v.started = u.started;
    if (u.completed !== undefined) v.completed = u.completed;
    if (u.startedNs !== undefined) v.startedNs = u.startedNs;
    if (u.completedNs !== undefined) v.completedNs = u.completedNs;
    if (u.error !== undefined && u.error !== '') v.error = u.error;
  }
}

/** A regular file the build-context session sent, with the sha256 of the bytes sent. */
export interface ServedFile {
  /** Relative to the context, `/`-separated, as sent. */
  path: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}
