// The solve's exporters from the parsed `-o` outputs (outputs.ts), the places their results
// are written (FileSend targets), and what the daemon's refusal of an exporter means.
import { createWriteStream, promises as fsp, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { formatImageReference, TracebuildError, type ExitKind, type ImageReferenceParts } from '../../common/index.js';
import type { DaemonInfo, ExportFileSink, ExportTarget } from '../contracts.js';
import { UsageError } from '../errors.js';
import { isAnnotationAttr } from './annotations.js';
import { isImageStoreOutput, writesToStdout, type OutputSpec } from './outputs.js';

export interface Exporter {
  type: string;
  attrs: Record<string, string>;
}

export interface SolveExports {
  exporter?: Exporter;
  exporters?: Exporter[];
  exportTargets?: Map<number, ExportTarget>;
}

/** The daemon cannot export what was asked: exit 1, with the daemon named. */
export class ExportNotSupportedError extends TracebuildError<'export-not-supported'> {
  override readonly name = 'ExportNotSupportedError';
  readonly exit: ExitKind = 'build';
  constructor(message: string, options?: { cause?: unknown }) {
    super('export-not-supported', message, options);
  }
}

/** The LLB capability of daemons that take several exporters in one solve (BuildKit v0.13+). */
export const MULTIPLE_EXPORTERS_CAP = 'exporter.multiple';

/**
 * Several exporters need the daemon's `exporter.multiple` capability. The capabilities are
 * only known once the gateway answered its Ping, which is after Control.Solve was sent; so
 * this is checked when the frontend starts, before anything is built (an older daemon
 * ignores the exporter list it does not know, and would export nothing).
 */
export function checkExportCapabilities(exports: SolveExports, llbCaps: readonly string[] | undefined, daemon: DaemonInfo): void {
  const n = exports.exporters?.length ?? 0;
  if (n < 2 || llbCaps === undefined || llbCaps.includes(MULTIPLE_EXPORTERS_CAP)) return;
  throw new ExportNotSupportedError(`${n} outputs need several exporters in one solve (LLB cap ${MULTIPLE_EXPORTERS_CAP}, BuildKit v0.13+); ${daemon.description} exports one at a time: give one -o`);
}

/** A file written whole or not at all: a temporary file beside it, renamed when complete. */
export function fileSink(dest: string): () => Promise<ExportFileSink> {
  return async () => {
    const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tracebuild-${randomBytes(6).toString('hex')}`);
    const fh = await fsp.open(tmp, 'wx', 0o644);
    return {
      write: async (chunk) => void (await fh.write(chunk)),
      close: async () => {
        await fh.close();
        await fsp.rename(tmp, dest);
      },
      abort: async () => {
        await fh.close().catch(() => undefined);
        await fsp.unlink(tmp).catch(() => undefined);
      },
    };
  };
}

/** The exported file on this process's stdout (fd 1), with backpressure. */
export function stdoutSink(): () => Promise<ExportFileSink> {
  return () => {
    const out = createWriteStream('', { fd: 1, autoClose: false });
    const wait = (fn: (cb: (err?: Error | null) => void) => void): Promise<void> =>
      new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
    return Promise.resolve({
      write: (chunk: Uint8Array) => wait((cb) => out.write(chunk, cb)),
      close: () => wait((cb) => out.end(cb)),
      abort: () => wait((cb) => out.end(cb)),
    });
  };
}

/**
 * The exporters for the solve. No `-o`: the image store (moby) with the `-t` names, as
 * before. On dockerd, image outputs are the moby exporter (buildx's docker driver does the
 * same); on a standalone buildkitd they go as given.
 */
/**
 * Annotations (`--annotation`, or `annotation.*` attributes of an -o) on dockerd: refused,
 * since its moby exporter and its push carry none (annotations.ts says more).
 */
function checkAnnotations(outputs: readonly OutputSpec[], annotations: Record<string, string>, daemon: DaemonInfo): void {
  if (daemon.engine !== 'dockerd') return;
  const fromFlag = Object.keys(annotations).length > 0;
  const fromOutput = outputs.find((o) => Object.keys(o.attrs).some(isAnnotationAttr));
  if (!fromFlag && fromOutput === undefined) return;
  const what = fromFlag ? '--annotation' : `-o type=${fromOutput?.type ?? ''} with annotation attributes`;
  throw new ExportNotSupportedError(
    `${what}: ${daemon.description} cannot carry annotations: its own BuildKit worker stores the image with the moby exporter and its push writes a Docker schema 2 manifest, which has none (buildx 0.13 drops them there without a word); use a standalone buildkitd through BUILDKIT_HOST`,
  );
}

export function solveExports(
  outputs: readonly OutputSpec[],
  ctx: { tags: readonly ImageReferenceParts[]; daemon: DaemonInfo; cwd: string; annotations?: Record<string, string> },
): SolveExports {
  const annotations = ctx.annotations ?? {};
  checkAnnotations(outputs, annotations, ctx.daemon);
  const names = ctx.tags.map(formatImageReference).join(',');
  if (outputs.length === 0) return { exporter: { type: 'moby', attrs: names === '' ? {} : { name: names } } };
  // as buildx: the annotations go to every exporter that writes an image
  const imageAnnotations = (type: string): Record<string, string> => (['image', 'oci', 'docker'].includes(type) ? annotations : {});
  const exporters: Exporter[] = [];
  const targets = new Map<number, ExportTarget>();
  outputs.forEach((o, index) => {
    const attrs = { ...o.attrs, ...imageAnnotations(o.type) };
    if (['image', 'oci', 'docker'].includes(o.type) && names !== '') attrs.name = names;
    if (ctx.daemon.engine === 'dockerd' && isImageStoreOutput(o)) {
      // dockerd pushes (push.ts): its moby exporter takes only the names.
      exporters.push({ type: 'moby', attrs: attrs.name === undefined ? {} : { name: attrs.name } });
      return;
    }
    exporters.push({ type: o.type, attrs });
    if (o.type === 'local') {
      const dir = path.resolve(ctx.cwd, o.dest ?? '');
      const st = statSync(dir, { throwIfNoEntry: false });
      if (st !== undefined && !st.isDirectory()) throw new UsageError('bad-flag', `destination directory ${o.dest ?? ''} is a file`);
      targets.set(index, { kind: 'directory', path: dir });
    } else if (['tar', 'oci', 'docker'].includes(o.type)) {
      targets.set(index, { kind: 'file', open: writesToStdout(o) ? stdoutSink() : fileSink(path.resolve(ctx.cwd, o.dest ?? '')) });
    }
  });
  const shape = exporters.length === 1 ? { exporter: exporters[0]! } : { exporters };
  return targets.size > 0 ? { ...shape, exportTargets: targets } : shape;
}

/**
 * The daemon's refusal of an exporter or cache exporter, said precisely: which, which
 * daemon, and what can do it. Undefined when the failure is something else.
 */
export function explainExportRefusal(err: unknown, daemon: DaemonInfo): Error | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const exporter = /exporter "([^"]+)" could not be found/.exec(message);
  if (exporter !== null && !/cache/.test(message.slice(0, exporter.index))) {
    const what = exporter[1]!;
    const moby = daemon.engine === 'dockerd'
      ? ` (dockerd's own BuildKit worker exports to its image store, a local directory or a tar file; oci and docker files need the containerd image store, or a standalone buildkitd through BUILDKIT_HOST)`
      : '';
    return new ExportNotSupportedError(`-o type=${what}: ${daemon.description} has no ${what} exporter${moby}`, { cause: err });
  }
  const cache = /unknown cache (exporter|importer): "?([^"\s]+)"?/.exec(message);
  if (cache !== null) {
    const flag = cache[1] === 'exporter' ? '--cache-to' : '--cache-from';
    const which = cache[2]!;
    const moby = daemon.engine === 'dockerd'
      ? cache[1] === 'exporter'
        ? ` (dockerd's own BuildKit worker exports cache only inline, into the image: --cache-to type=inline; registry and local cache exports need the containerd image store, or a standalone buildkitd through BUILDKIT_HOST)`
        : ` (dockerd's own BuildKit worker imports cache of type registry and local)`
      : '';
    return new ExportNotSupportedError(`${flag} type=${which}: ${daemon.description} has no ${which} cache ${cache[1]}${moby}`, { cause: err });
  }
  return undefined;
}
