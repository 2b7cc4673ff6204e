// One build passing through the agent, from its Control.Solve (or, for a tracebuild client,
// the Trace stream it opens just before) to the trace the agent keeps: what the build is
// (its owner, the Solve, the LLB the agent saw, the Dockerfile its session sent), what
// BuildKit said about it (its vertices), and its records (router.ts), fed to a correlator
// of its own and to the client's Trace stream when there is one.
import type { ControlSolveInfo, LlbOpInfo } from '../frontend/index.js';
import { mergeVertexReports, type Vertex } from '../model/index.js';
import { Correlation, type MonitorGap, type TraceEvent } from '../tracer/index.js';
import type { ClientIdentity } from './identity.js';
import type { BuildSink } from './router.js';
import type { TraceSubscriber } from './subscriber.js';

/** Bytes of Dockerfile (and .dockerignore) kept from a session. */
const MAX_CAPTURED_BYTES = 1 << 20;

export class AgentBuild {
  readonly createdAt = new Date();
  solve: ControlSolveInfo | undefined;
  readonly vertices = new Map<string, Vertex>();
  readonly ops = new Map<string, LlbOpInfo>();
  /** LLBBridge.Solve's frontend (`dockerfile.v0` for buildx) and its options. */
  frontend = '';
  frontendOpt: Record<string, string> = {};
  /** Files of the session's `dockerfile` directory, by path. */
  readonly dockerfiles = new Map<string, string>();
  private capturedBytes = 0;
  exporterResponse: Record<string, string> | undefined;
  solveEnded: { code: number | undefined; message: string } | undefined;
  statusEnded = false;
  readonly gaps: MonitorGap[] = [];
  readonly correlation = new Correlation();
  subscriber: TraceSubscriber | undefined;
  /** Set when the finish has started (at most once). */
  finishing: Promise<void> | undefined;
  /** Resolves when the build's trace is kept (or the build is dropped without one). */
  readonly finished: Promise<void>;
  markFinished: () => void = () => undefined;
  /** The agent's parts of the build that have let go of it (the finish, the Trace stream). */
  retired = false;

  constructor(
    readonly ref: string,
    readonly owner: ClientIdentity,
    /** The probe watched from the start: the build gets a trace. */
    readonly traced: boolean,
  ) {
    this.finished = new Promise<void>((resolve) => (this.markFinished = resolve));
  }

  readonly sink: BuildSink = {
    record: (buf: Buffer, base: number, len: number, ev: TraceEvent | undefined) => {
      this.correlation.pushRecord(buf, base, len, ev);
      this.subscriber?.record(buf, base, len, ev);
    },
    gap: (gap: MonitorGap) => {
      this.gaps.push(gap);
      this.subscriber?.gap(gap);
    },
  };

  addVertices(reports: readonly Vertex[]): void {
    mergeVertexReports(this.vertices, reports);
  }

  addOps(ops: readonly LlbOpInfo[]): void {
    for (const op of ops) this.ops.set(op.digest, op);
  }

  captureFile(path: string, bytes: Buffer): void {
    if (this.capturedBytes + bytes.length > MAX_CAPTURED_BYTES) return;
    this.capturedBytes += bytes.length;
    this.dockerfiles.set(path, bytes.toString('utf8'));
  }

  /** The Dockerfile BuildKit's frontend read, as the frontend options name it. */
  dockerfile(): { name: string; text: string } | undefined {
    const name = this.frontendOpt.filename ?? this.solve?.frontendAttrs.filename ?? 'Dockerfile';
    const base = name.slice(name.lastIndexOf('/') + 1);
    for (const candidate of [name, base]) {
      const text = this.dockerfiles.get(candidate);
      if (text !== undefined) return { name: candidate, text };
    }
    return undefined;
  }

  /** The names the exporter was asked to give the image. */
  names(): string[] {
    const fromAttrs = this.solve?.exporterAttrs.name ?? '';
    const fromResponse = this.exporterResponse?.['image.name'] ?? '';
    return [...new Set([...fromAttrs.split(','), ...fromResponse.split(',')].map((n) => n.trim()).filter((n) => n !== ''))];
  }

  pushed(): boolean {
    return this.solve?.exporterAttrs.push === 'true';
  }
}
