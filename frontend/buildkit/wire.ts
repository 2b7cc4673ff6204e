// What a proxy in front of BuildKit reads of the messages it forwards (the tracebuild agent:
// agent/): the Control and LLBBridge calls that say what a build is (its ref, session,
// frontend, exporter, LLB definitions) and how it went (the Status stream, the exporter's
// response), and the FileSync packets of a session. Pure decoders of protobuf bytes; the
// messages are the ones this package's clients send and read, so they are decoded by the
// same definitions (frontend/proto).
import { createHash } from 'node:crypto';
import type { StatusBatch } from './types.js';
import { decode, messageType, type Msg } from './rpc.js';
import { toStatusBatch } from './status.js';

/** The gRPC paths the decoders below are for. */
export const BUILDKIT_PATHS = {
  controlSolve: '/moby.buildkit.v1.Control/Solve',
  controlStatus: '/moby.buildkit.v1.Control/Status',
  controlSession: '/moby.buildkit.v1.Control/Session',
  bridgeSolve: '/moby.buildkit.v1.frontend.LLBBridge/Solve',
  fileSyncDiffCopy: '/moby.filesync.v1.FileSync/DiffCopy',
} as const;

/** The gRPC metadata key that names the build of an LLBBridge call. */
export const BUILD_ID_METADATA = 'buildkit-controlapi-buildid';

/** One op of an LLB definition, as a reader of the build needs it. */
export interface LlbOpInfo {
  /** sha256 of the marshalled op: the vertex digest. */
  digest: string;
  /** An exec op: its command exactly as sent (meta.args). */
  execArgs?: string[];
  /** `llb.customname`, the name the Status stream shows. */
  name?: string;
  /** Dockerfile lines from the definition's source map (1-based), when it has one. */
  lines?: { start: number; end: number };
}

export interface DefinitionInfo {
  ops: LlbOpInfo[];
}

export interface ControlSolveInfo {
  ref: string;
  session: string;
  /** '' when the client runs its frontend through the gateway (buildx, tracebuild). */
  frontend: string;
  frontendAttrs: Record<string, string>;
  exporter: string;
  exporterAttrs: Record<string, string>;
  entitlements: string[];
  definition?: DefinitionInfo;
}

export interface BridgeSolveInfo {
  /** e.g. `dockerfile.v0` (BuildKit's own Dockerfile frontend), '' for a definition. */
  frontend: string;
  frontendOpt: Record<string, string>;
  definition?: DefinitionInfo;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** The ops of a pb.Definition (plain object), with their digests, exec args, names and lines. */
export function definitionInfo(def: Msg): DefinitionInfo {
  const opType = messageType('pb.Op');
  const metadata = (def.metadata ?? {}) as Record<string, Msg>;
  const source = def.Source as Msg | undefined;
  const locations = (source?.locations ?? {}) as Record<string, Msg>;
  const ops: LlbOpInfo[] = [];
  for (const raw of Array.isArray(def.def) ? (def.def as Uint8Array[]) : []) {
    const bytes = raw instanceof Uint8Array ? raw : new Uint8Array();
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const info: LlbOpInfo = { digest };
    let op: Msg;
    try {
      op = decode(opType, bytes);
    } catch {
      ops.push(info);
      continue;
    }
    const exec = op.exec as Msg | undefined;
    const meta = exec?.meta as Msg | undefined;
    if (exec !== undefined) info.execArgs = Array.isArray(meta?.args) ? (meta.args as string[]).map(String) : [];
    const description = (metadata[digest]?.description ?? {}) as Record<string, unknown>;
    const name = str(description['llb.customname']);
    if (name !== '') info.name = name;
    const lines = linesOf(locations[digest]);
    if (lines !== undefined) info.lines = lines;
    ops.push(info);
  }
  return { ops };
}

/** The first and last line of a vertex's source locations. */
function linesOf(locs: Msg | undefined): { start: number; end: number } | undefined {
  let start = Infinity;
  let end = 0;
  for (const loc of Array.isArray(locs?.locations) ? (locs.locations as Msg[]) : []) {
    for (const r of Array.isArray(loc.ranges) ? (loc.ranges as Msg[]) : []) {
      const s = Number((r.start as Msg | undefined)?.Line ?? 0);
      const e = Number((r.end as Msg | undefined)?.Line ?? s);
      if (s > 0) start = Math.min(start, s);
      end = Math.max(end, e, s);
    }
  }
  return Number.isFinite(start) ? { start, end: Math.max(end, start) } : undefined;
}

export function decodeControlSolveRequest(bytes: Uint8Array): ControlSolveInfo {
  const m = decode(messageType('moby.buildkit.v1.SolveRequest'), bytes);
  const info: ControlSolveInfo = {
    ref: str(m.Ref),
    session: str(m.Session),
    frontend: str(m.Frontend),
    frontendAttrs: strMap(m.FrontendAttrs),
    exporter: str(m.Exporter),
    exporterAttrs: strMap(m.ExporterAttrs),
    entitlements: Array.isArray(m.Entitlements) ? (m.Entitlements as unknown[]).map(String) : [],
  };
  if (m.Definition && typeof m.Definition === 'object') info.definition = definitionInfo(m.Definition as Msg);
  return info;
}

/** Control.Solve's answer: the exporter's response (image digests, names). */
export function decodeControlSolveResponse(bytes: Uint8Array): Record<string, string> {
  return strMap(decode(messageType('moby.buildkit.v1.SolveResponse'), bytes).ExporterResponse);
}

export function decodeStatusRequest(bytes: Uint8Array): string {
  return str(decode(messageType('moby.buildkit.v1.StatusRequest'), bytes).Ref);
}

export function decodeStatusResponse(bytes: Uint8Array): StatusBatch {
  return toStatusBatch(decode(messageType('moby.buildkit.v1.StatusResponse'), bytes));
}

export function decodeBridgeSolveRequest(bytes: Uint8Array): BridgeSolveInfo {
  const m = decode(messageType('moby.buildkit.v1.frontend.SolveRequest'), bytes);
  const info: BridgeSolveInfo = { frontend: str(m.Frontend), frontendOpt: strMap(m.FrontendOpt) };
  if (m.Definition && typeof m.Definition === 'object') info.definition = definitionInfo(m.Definition as Msg);
  return info;
}

/** A FileSync DiffCopy packet (fsutil.types.Packet): what a session sends and receives. */
export interface FileSyncPacket {
  /** 0 STAT, 1 REQ, 2 DATA, 3 FIN, 4 ERR. */
  type: number;
  path?: string;
  /** Go's os.FileMode of a STAT (type bits high). */
  mode?: number;
  id: number;
  data?: Uint8Array;
}

export function decodeFileSyncPacket(bytes: Uint8Array): FileSyncPacket {
  const m = decode(messageType('fsutil.types.Packet'), bytes);
  const stat = m.stat as Msg | undefined;
  const p: FileSyncPacket = { type: Number(m.type ?? 0), id: Number(m.ID ?? 0) };
  if (stat !== undefined) {
    p.path = str(stat.path);
    p.mode = Number(stat.mode ?? 0);
  }
  if (m.data instanceof Uint8Array) p.data = m.data;
  return p;
}
