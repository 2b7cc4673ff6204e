// Pure builder: a per-instruction build trace -> in-toto Statement v1 with the
// runtime-trace v0.1 predicate (in-toto/attestation spec/predicates/runtime-trace.md).
//
// Mapping:
// - monitor          {type, configSource?, tracePolicy?, details: trace.monitor}
//                    `details` is an extension field carrying the tracer's own monitor info.
// - monitoredProcess {hostID, type, event}; `type` is our SLSA buildType (the spec says
//                    producers SHOULD reuse it) and `event` the build's invocation id, the
//                    same value as the provenance's runDetails.metadata.invocationId, so the
//                    two attestations of one build can be tied together.
// - monitorLog       flattened across steps; every entry carries `buildStep`, the index of
//                    its step in `buildSteps`.
//   .process         the trace's process records (format is monitor-dependent in v0.1).
//   .network         {ip | hostname, port, protocol, direction, bytes...}; v0.1 leaves the
//                    format to the monitor, so we use the field names v0.2 later recommends.
//   .fileAccess      ResourceDescriptors: name = path, uri = file:// URI of the path (a
//                    descriptor needs a uri, digest or content, and a deleted file has no
//                    digest), annotations {access: created|modified|deleted|renamed-from|
//                    renamed-to|read, buildStep}.
// - metadata         {buildStartedOn, buildFinishedOn}
// - buildSteps       extension: the trace's steps, copied unchanged.
// - lostEvents       extension: events lost or not attributed to any step.
// - complete, monitorGaps, losses, unattributedEvents, unattributedCgroups,
//   untracedCgroups, runcSetupEvents, ambiguities, enforcement
//                    extensions, only when the trace has them: copied unchanged
//                    (enforcement: the rules build --enforce applied while it ran).

import { isIP } from 'node:net';
import {
  RUNTIME_TRACE_PREDICATE_TYPE,
  STATEMENT_TYPE_V1,
  copyJson,
  imageSubject,
  rfc3339,
  type ImageRef,
  type ResourceDescriptor,
  type Statement,
  type Timestamp,
} from './statement.js';
import { TRACEBUILD_BUILD_TYPE } from './provenance.js';
import { isObject, normalizeTrace, type Trace, type TraceBuildStep, type TraceMonitor, type TraceProcess } from '../model/index.js';

/** The trace's completeness records, carried into the predicate unchanged, so that a reader of
 * the attestation sees the same loss and attribution figures as the build did. */
const TRACE_COMPLETENESS_FIELDS = [
  'complete',
  'monitorGaps',
  'losses',
  'unattributedEvents',
  'unattributedCgroups',
  'untracedCgroups',
  'runcSetupEvents',
  'ambiguities',
  // not completeness, but carried the same way: the rules build --enforce applied
  'enforcement',
] as const;

/** Default `monitor.type`: tracebuild's eBPF monitor. */
export const TRACEBUILD_MONITOR_TYPE = 'https://tracebuild.dev/monitors/ebpf/v1';

export interface MonitorInfo {
  /** TypeURI of the monitor; defaults to TRACEBUILD_MONITOR_TYPE. */
  type?: string;
  configSource?: ResourceDescriptor;
  tracePolicy?: Record<string, unknown>;
}

export interface MonitoredProcessInfo {
  /** URI of the host that ran the build, e.g. "https://tracebuild.dev/hosts/<hostname>". */
  hostID: string;
  /** Build invocation id (same as the provenance's invocationId). */
  event: string;
  /** Defaults to TRACEBUILD_BUILD_TYPE. */
  type?: string;
}

export interface RuntimeTraceStatementInput {
  image: ImageRef;
  trace: Trace;
  monitor?: MonitorInfo;
  monitoredProcess: MonitoredProcessInfo;
  timestamps: { buildStartedOn: Timestamp; buildFinishedOn: Timestamp };
}

export interface RuntimeTraceProcessEntry extends TraceProcess {
  buildStep: number;
}

export interface RuntimeTraceNetworkEntry {
  ip?: string;
  hostname?: string;
  port: number;
  protocol: string;
  direction: string;
  bytesSent?: number;
  bytesReceived?: number;
  /** 'denied': refused while the build ran (build --enforce). */
  verdict?: 'denied';
  buildStep: number;
}

export interface RuntimeTracePredicate {
  monitor: {
    type: string;
    configSource?: ResourceDescriptor;
    tracePolicy?: Record<string, unknown>;
    details: TraceMonitor;
  };
  monitoredProcess: { hostID: string; type: string; event: string };
  monitorLog: {
    process: RuntimeTraceProcessEntry[];
    network: RuntimeTraceNetworkEntry[];
    fileAccess: ResourceDescriptor[];
  };
  metadata: { buildStartedOn: string; buildFinishedOn: string };
  buildSteps: TraceBuildStep[];
  lostEvents: number;
  complete?: boolean;
  monitorGaps?: object[];
  losses?: object;
  unattributedEvents?: number;
  unattributedCgroups?: object[];
  untracedCgroups?: object[];
  runcSetupEvents?: number;
  ambiguities?: object[];
  enforcement?: object;
}

export type RuntimeTraceStatement = Statement<RuntimeTracePredicate>;

export function buildRuntimeTraceStatement(input: RuntimeTraceStatementInput): RuntimeTraceStatement {
  const { trace } = input;
  const steps = trace.buildSteps;

  const monitor: RuntimeTracePredicate['monitor'] = { type: input.monitor?.type ?? TRACEBUILD_MONITOR_TYPE, details: copyJson(trace.monitor) };
  if (input.monitor?.configSource !== undefined) monitor.configSource = copyJson(input.monitor.configSource);
  if (input.monitor?.tracePolicy !== undefined) monitor.tracePolicy = copyJson(input.monitor.tracePolicy);

  return {
    _type: STATEMENT_TYPE_V1,
    subject: [imageSubject(input.image)],
    predicateType: RUNTIME_TRACE_PREDICATE_TYPE,
    predicate: {
      monitor,
      monitoredProcess: {
        hostID: input.monitoredProcess.hostID,
        type: input.monitoredProcess.type ?? TRACEBUILD_BUILD_TYPE,
        event: input.monitoredProcess.event,
      },
      monitorLog: {
        process: steps.flatMap((step, i) => step.processes.map((p) => ({ ...copyJson(p), buildStep: i }))),
        network: steps.flatMap((step, i) => step.network.map((n) => networkEntry(n, i))),
        fileAccess: steps.flatMap((step, i) => fileAccess(step, i)),
      },
      metadata: {
        buildStartedOn: rfc3339(input.timestamps.buildStartedOn, 'buildStartedOn'),
        buildFinishedOn: rfc3339(input.timestamps.buildFinishedOn, 'buildFinishedOn'),
      },
      buildSteps: copyJson(steps) as TraceBuildStep[],
      lostEvents: trace.lostEvents,
      ...completeness(trace),
    },
  };
}

function completeness(trace: Trace): Partial<RuntimeTracePredicate> {
  const out: Record<string, unknown> = {};
  for (const field of TRACE_COMPLETENESS_FIELDS) {
    if (trace[field] !== undefined) out[field] = copyJson(trace[field]);
  }
  return out as Partial<RuntimeTracePredicate>;
}

function networkEntry(n: TraceBuildStep['network'][number], buildStep: number): RuntimeTraceNetworkEntry {
  return {
    ...(isIP(n.address) !== 0 ? { ip: n.address } : { hostname: n.address }),
    port: n.port,
    protocol: n.protocol.toLowerCase(),
    direction: n.direction,
    ...(n.verdict === undefined ? {} : { verdict: n.verdict }),
    buildStep,
  };
}

type FileAccessKind = 'created' | 'modified' | 'deleted' | 'renamed-from' | 'renamed-to' | 'read';

function fileAccess(step: TraceBuildStep, buildStep: number): ResourceDescriptor[] {
  const out: ResourceDescriptor[] = [];
  const add = (path: string, access: FileAccessKind): void => {
    out.push({ name: path, uri: fileUri(path), annotations: { access, buildStep } });
  };
  for (const p of step.files.created) add(p, 'created');
  for (const p of step.files.modified) add(p, 'modified');
  for (const p of step.files.deleted) add(p, 'deleted');
  for (const r of step.files.renamed) {
    add(r.from, 'renamed-from');
    add(r.to, 'renamed-to');
  }
  for (const p of step.files.read ?? []) add(p, 'read');
  return out;
}

/** file:// URI of a container path, each segment percent-encoded. */
export function fileUri(path: string): string {
  const absolute = path.startsWith('/') ? path : `/${path}`;
  return `file://${absolute.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A runtime-trace predicate read back as the trace it was made from: the predicate is the
 * trace, its monitor under `details`. Checked and completed like any trace JSON
 * (model/trace-schema.ts); throws TraceShapeError, with a `$.predicate...` path, when it is
 * not one.
 */
export function traceFromPredicate(predicate: unknown): Trace {
  if (!isObject(predicate)) return normalizeTrace(predicate, '$.predicate');
  const monitor = isObject(predicate.monitor) && isObject(predicate.monitor.details) ? predicate.monitor.details : predicate.monitor;
  return normalizeTrace({ ...predicate, monitor }, '$.predicate');
}
