// `--iidfile` and `--metadata-file`, written as `docker buildx build` 0.13 writes them, once
// the build (and its push and attestations) succeeded; a failed build writes neither, and
// an old iidfile is removed before the build starts (as buildx does).
//
// The metadata file holds the exporter's response as BuildKit gave it (for the image store:
// containerimage.digest, containerimage.config.digest, image.name), with
// containerimage.digest replaced by the pushed manifest digest after a push, as buildx does;
// and under keys of our own:
//   tracebuild.trace.digest   sha256 of the trace JSON exactly as --trace-out writes it
//   tracebuild.attestations   [{ predicateType, subject: NAME@DIGEST, referrer?, file? }]
// buildx's own `buildx.build.ref` (its builder, node and build ref) is not written: there
// is no buildx builder behind the build.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../common/index.js';
import type { DockerfileAstView } from '../contracts.js';
import { traceJsonPieces } from './trace.js';
import type { BuildPhase, BuildRun } from './types.js';

export const TRACE_DIGEST_KEY = 'tracebuild.trace.digest';
export const ATTESTATIONS_KEY = 'tracebuild.attestations';

/** The image id as buildx writes it to --iidfile: the config digest, else the image digest. */
export function imageIdOf(response: Readonly<Record<string, string>>): string | undefined {
  return response['containerimage.config.digest'] ?? response['containerimage.digest'];
}

export function buildMetadata(run: Pick<BuildRun<DockerfileAstView, unknown, unknown>, 'result' | 'pushed' | 'trace' | 'attestations'>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(run.result?.exporterResponse ?? {}) };
  const pushed = run.pushed?.[0];
  if (pushed !== undefined) out['containerimage.digest'] = pushed.digest;
  if (run.trace !== undefined) {
    const hash = createHash('sha256');
    for (const piece of traceJsonPieces(run.trace)) hash.update(piece);
    out[TRACE_DIGEST_KEY] = `sha256:${hash.digest('hex')}`;
  }
  if (run.attestations !== undefined && run.attestations.length > 0) {
    out[ATTESTATIONS_KEY] = run.attestations.map((r) => ({
      predicateType: r.predicateType,
      subject: `${r.subject.name}@${r.subject.digest}`,
      ...(r.referrer === undefined ? {} : { referrer: r.referrer.descriptor.digest }),
      ...(r.file === undefined ? {} : { file: r.file }),
    }));
  }
  // Sorted keys, two-space indent: the shape buildx writes.
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
}

/** Before the build: an old --iidfile must not pass for this build's result. */
export function metadataPreparePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'metadata-prepare',
    run(run) {
      const { iidfile } = run.request;
      if (iidfile !== undefined && iidfile !== '') rmSync(resolve(run.io.cwd, iidfile), { force: true });
    },
  };
}

export function metadataPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'metadata',
    async run(run) {
      const { iidfile, metadataFile } = run.request;
      const response = run.result?.exporterResponse ?? {};
      if (iidfile !== undefined && iidfile !== '') {
        const id = imageIdOf(response);
        if (id !== undefined) await writeFileAtomic(resolve(run.io.cwd, iidfile), id);
      }
      if (metadataFile !== undefined && metadataFile !== '') {
        const meta = buildMetadata(run as BuildRun<DockerfileAstView, unknown, unknown>);
        await writeFileAtomic(resolve(run.io.cwd, metadataFile), JSON.stringify(meta, null, 2));
      }
    },
  };
}
