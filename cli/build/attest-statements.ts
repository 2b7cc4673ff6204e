// Pure: what a finished build knows -> the inputs of attest's two statement builders
// (SLSA provenance and runtime trace). No I/O, no clock: the caller passes the times and
// the invocation id, so the result is a function of its arguments (and unit-testable).
//
// What goes into the provenance, and what never does:
// - the Dockerfile path (relative to the context when inside it, else as given with -f) and
//   the sha256 of its bytes;
// - the build args as resolved (`--build-arg K=V`, or K from the environment), except
//   that a value that equals or contains any `--secret` value is replaced by
//   REDACTED_VALUE: a secret must not reach the statement even when it was also passed
//   (or embedded, `pre-<secret>`) as a build arg;
// - the context as a path relative to the working directory when it is inside it, else
//   not at all: a host's absolute paths (`/home/ci/work/ctx`) are no business of a
//   statement anyone can read;
//   `--secret` values themselves are never read here;
// - the target stage, the base images that have a digest (the others are listed by name
//   in internalParameters.unresolvedBaseImages; those whose digest is a local image id
//   rather than a registry manifest digest, in internalParameters.localBaseImages), and
//   the context files the trace phase saw served for COPY/ADD, with their sha256.

import { relative, isAbsolute, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import type {
  BaseImageDependency,
  ContextFileDependency,
  ImageRef,
  RuntimeTraceStatementInput,
  SlsaProvenanceInput,
} from '../../attest/index.js';
import type { Trace } from '../../model/index.js';
import { SecretRedactor } from './redact.js';

export const REDACTED_VALUE = '<redacted: carries a --secret value>';

export interface BuildFacts {
  /** The working directory the user gave PATH (and -f) from. */
  cwd: string;
  /** Absolute. */
  contextDir: string;
  /** Absolute. */
  dockerfilePath: string;
  dockerfileText: string;
  buildArgs: Readonly<Record<string, string>>;
  /** Only compared against, never copied. */
  secrets: Readonly<Record<string, Uint8Array>>;
  target?: string;
  network: string;
  noCache: boolean;
  baseImages: readonly { ref: string; digest?: string }[];
  /** Base images whose digest is the local image id (no registry digest known). */
  localBaseImages?: readonly string[];
  /** The local image id (`sha256:` of the config), when the exporter reported it. */
  imageId?: string;
  trace?: Trace;
  invocationId: string;
  /** URI of the host, for the runtime-trace predicate's monitoredProcess.hostID. */
  hostId: string;
  startedOn: Date;
  finishedOn: Date;
}

/** `path` relative to `base` when it is inside it ("." for base itself), else undefined. */
function inside(base: string, path: string): string | undefined {
  const rel = relative(base, path);
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel === '' ? '.' : rel.split(sep).join('/');
}

/** The context to record: relative to the working directory when inside it, else
 * undefined (left out). */
export function contextRecordPath(facts: Pick<BuildFacts, 'cwd' | 'contextDir'>): string | undefined {
  return inside(facts.cwd, resolve(facts.cwd, facts.contextDir));
}

/** The Dockerfile path to record: relative to the context when inside it, else relative to
 * the working directory when inside that, else its file name only. */
export function dockerfileRecordPath(facts: Pick<BuildFacts, 'cwd' | 'contextDir' | 'dockerfilePath'>): string {
  const inContext = inside(facts.contextDir, facts.dockerfilePath);
  if (inContext !== undefined && inContext !== '.') return inContext;
  return inside(facts.cwd, facts.dockerfilePath) ?? facts.dockerfilePath.split(sep).pop()!;
}

/** Build args with any value that equals or carries a secret's value redacted; the
 * redacted names. */
export function redactBuildArgs(
  buildArgs: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, Uint8Array>>,
): { buildArgs: Record<string, string>; redacted: string[] } {
  const redactor = new SecretRedactor(secrets);
  const out: Record<string, string> = {};
  const redacted: string[] = [];
  for (const [name, value] of Object.entries(buildArgs)) {
    if (redactor.carries(value)) {
      out[name] = REDACTED_VALUE;
      redacted.push(name);
    } else {
      out[name] = value;
    }
  }
  return { buildArgs: out, redacted };
}

/** The context files COPY/ADD were served (path -> sha256), from the trace; sorted, unique. */
export function contextFilesFromTrace(trace: Trace | undefined): ContextFileDependency[] {
  const byPath = new Map<string, string>();
  for (const step of trace?.buildSteps ?? []) {
    for (const source of step.copy?.sources ?? []) {
      if (typeof source.sha256 !== 'string' || !/^(sha256:)?[0-9a-f]{64}$/.test(source.sha256)) continue;
      if (!byPath.has(source.path)) byPath.set(source.path, source.sha256);
    }
  }
  return [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, sha256]) => ({ path, sha256 }));
}

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

export function provenanceInput(facts: BuildFacts, image: ImageRef): SlsaProvenanceInput {
  const { buildArgs, redacted } = redactBuildArgs(facts.buildArgs, facts.secrets);
  const baseImages: BaseImageDependency[] = [];
  const unresolved: string[] = [];
  for (const b of facts.baseImages) {
    if (b.digest !== undefined && SHA256_DIGEST.test(b.digest)) baseImages.push({ name: b.ref, digest: b.digest });
    else unresolved.push(b.ref);
  }
  const internalParameters: Record<string, unknown> = {
    frontend: 'tracebuild',
    network: facts.network,
    noCache: facts.noCache,
    runtimeTrace: facts.trace !== undefined,
  };
  if (facts.imageId !== undefined) internalParameters.imageId = facts.imageId;
  if (unresolved.length > 0) internalParameters.unresolvedBaseImages = unresolved;
  if (facts.localBaseImages !== undefined && facts.localBaseImages.length > 0) {
    internalParameters.localBaseImages = [...facts.localBaseImages];
  }
  if (redacted.length > 0) internalParameters.redactedBuildArgs = redacted;
  return {
    image,
    dockerfile: {
      path: dockerfileRecordPath(facts),
      sha256: createHash('sha256').update(facts.dockerfileText, 'utf8').digest('hex'),
    },
    ...(contextRecordPath(facts) === undefined ? {} : { context: contextRecordPath(facts)! }),
    buildArgs,
    ...(facts.target === undefined ? {} : { target: facts.target }),
    internalParameters,
    baseImages,
    contextFiles: contextFilesFromTrace(facts.trace),
    invocationId: facts.invocationId,
    startedOn: buildTime(facts.trace?.metadata?.buildStartedOn, facts.startedOn),
    finishedOn: buildTime(facts.trace?.metadata?.buildFinishedOn, facts.finishedOn),
  };
}

/** undefined when the build has no trace (`--no-trace`). */
export function runtimeTraceInput(facts: BuildFacts, image: ImageRef): RuntimeTraceStatementInput | undefined {
  if (facts.trace === undefined) return undefined;
  return {
    image,
    trace: facts.trace,
    monitoredProcess: { hostID: facts.hostId, event: facts.invocationId },
    timestamps: {
      buildStartedOn: buildTime(facts.trace.metadata?.buildStartedOn, facts.startedOn),
      buildFinishedOn: buildTime(facts.trace.metadata?.buildFinishedOn, facts.finishedOn),
    },
  };
}

function buildTime(fromTrace: string | null | undefined, fallback: Date): Date {
  if (typeof fromTrace === 'string') {
    const d = new Date(fromTrace);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return fallback;
}
