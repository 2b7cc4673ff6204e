// A failed solve, explained: which vertex failed (from the error or the progress state),
// which Dockerfile instruction it came from (from the conversion's steps), its last output
// lines and the Dockerfile around it. The shape follows buildx's error view:
//
//   ------
//    > [2/3] RUN echo hi && exit 3:
//   0.012 hi
//   ------
//   Dockerfile:3
//   --------------------
//      2 |     WORKDIR /app
//      3 | >>> RUN echo hi && exit 3
//      4 |     CMD ["cat", "/app/out.txt"]
//   --------------------
//   Dockerfile:3: process "/bin/sh -c echo hi && exit 3" did not complete successfully: exit code: 3

import type { BuildStep } from './contracts.js';
import { StepFailedError } from './errors.js';
import { logOffset, type ProgressState, type VertexView } from './progress/index.js';
import { oneLine, remoteFailureKind } from '../common/index.js';

export const LOG_TAIL_LINES = 10;
export const CONTEXT_LINES = 2;

export interface FailureContext {
  state: ProgressState;
  /** Undefined when the failure came before the conversion finished. */
  steps: readonly BuildStep[] | undefined;
  /** Name shown in `NAME:LINE` (the Dockerfile's base name, like docker). */
  dockerfileName: string;
  dockerfileText: string;
}


/** The vertex the error names (a `vertex` or `digest` property), else the first vertex that
 * failed on its own in the status stream. */
export function failedVertex(err: unknown, state: ProgressState): VertexView | undefined {
  const named = (err ?? {}) as { vertex?: unknown; digest?: unknown };
  for (const candidate of [named.vertex, named.digest]) {
    if (typeof candidate === 'string') {
      const v = state.get(candidate);
      if (v !== undefined) return v;
    }
  }
  return state.failed()[0];
}

export function logTail(vertex: VertexView, lines = LOG_TAIL_LINES): string[] {
  return vertex.logs.slice(-lines).map((l) => `${logOffset(vertex, l.time)} ${l.text}`);
}

export function dockerfileExcerpt(text: string, startLine: number, endLine: number, context = CONTEXT_LINES): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const from = Math.max(1, startLine - context);
  const to = Math.min(lines.length, endLine + context);
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    const mark = n >= startLine && n <= endLine ? '>>> ' : '    ';
    out.push(`${String(n).padStart(4)} | ${mark}${lines[n - 1] ?? ''}`.trimEnd());
  }
  return out;
}

// BuildKit mounts the build context at a temporary host path; users know it as <context>.
const DAEMON_CONTEXT_MOUNT = /\/\S*?\/buildkit-mount\d+/g;
// How BuildKit says that a COPY/ADD source is missing from the context: v0.8 names the walk
// or the path; v0.13 first names the checksum of the context's ref that failed.
const CHECKSUM_OF_REF = '(?:failed to calculate checksum of ref \\S+: )?';
const MISSING_SOURCE = [
  new RegExp(`^(?:failed to compute cache key: )?${CHECKSUM_OF_REF}failed to walk <context>/(.*?): lstat .*: no such file or directory$`),
  new RegExp(`^(?:failed to compute cache key: )?${CHECKSUM_OF_REF}"/?(.*?)":? not found(?:: not found)?$`),
  /^failed to (?:compute cache key: )?(?:failed to )?walk <context>\/(.*?): lstat .*: no such file or directory$/,
];

/** Says a daemon message in the user's terms: no temporary host paths, and a missing
 * COPY/ADD source named as such. */
export function explainStepError(keyword: string | undefined, message: string): string {
  const what = message.replace(DAEMON_CONTEXT_MOUNT, '<context>');
  if (keyword !== 'COPY' && keyword !== 'ADD') return what;
  for (const pattern of MISSING_SOURCE) {
    const missing = pattern.exec(what)?.[1];
    if (missing !== undefined) return `${keyword} source not found in the build context: ${missing} (${what})`;
  }
  return what;
}

/** The step the vertex belongs to: its own, or else the nearest step that consumes it
 * (a failed http or git source feeds an ADD step). BuildKit's `[internal]` vertices (the
 * build context, image metadata) serve many steps and are reported as themselves. */
export function stepOfVertex(
  digest: string,
  steps: readonly BuildStep[] | undefined,
  state: ProgressState,
): BuildStep | undefined {
  if (steps === undefined) return undefined;
  const byVertex = new Map(steps.map((s) => [s.vertex, s] as const));
  if (!byVertex.has(digest) && state.get(digest)?.name.startsWith('[internal]') === true) return undefined;
  const seen = new Set([digest]);
  let frontier = [digest];
  while (frontier.length > 0) {
    for (const d of frontier) {
      const step = byVertex.get(d);
      if (step !== undefined) return step;
    }
    const next = state
      .vertices()
      .filter((v) => !seen.has(v.digest) && v.inputs.some((i) => frontier.includes(i)))
      .map((v) => v.digest);
    for (const d of next) seen.add(d);
    frontier = next;
  }
  return undefined;
}

/** Turns a solve error into a StepFailedError when the failing step can be told;
 * returns the error unchanged otherwise. */
export function explainSolveFailure(err: unknown, ctx: FailureContext): unknown {
  const vertex = failedVertex(err, ctx.state);
  if (vertex === undefined) return err;
  // The vertex's own error is the daemon's precise word on the step; the solve error
  // usually wraps it.
  const fallback = err instanceof Error && err.message !== '' ? err.message : 'build failed';
  const step = stepOfVertex(vertex.digest, ctx.steps, ctx.state);
  const what = explainStepError(step?.keyword, oneLine(vertex.error ?? fallback));
  // A base image or ADD source the registry refused or could not serve is not the step's fault.
  const exit = remoteFailureKind(what) ?? 'build';
  const details: string[] = ['------', ` > ${vertex.name}:`, ...logTail(vertex), '------'];
  if (step === undefined) {
    return new StepFailedError(`error: ${what}`, `${details.join('\n')}\n`, { cause: err, exit });
  }
  const where = `${ctx.dockerfileName}:${step.line}`;
  details.push(
    where,
    '--------------------',
    ...dockerfileExcerpt(ctx.dockerfileText, step.line, Math.max(step.line, step.endLine)),
    '--------------------',
  );
  return new StepFailedError(`${where}: ${what}`, `${details.join('\n')}\n`, { cause: err, exit });
}
