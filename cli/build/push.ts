// The push phase of `tracebuild build --push`: every `-t` name is pushed by dockerd (the
// image is in its store: the moby exporter put it there), through the Engine API on
// DOCKER_HOST with the credentials docker would use for that registry. The manifest digest
// each push reports is what the attest phase signs and attaches referrers to.

import type { DockerfileAstView } from '../contracts.js';
import { familiarImageReference, type ImageReferenceParts } from '../../common/index.js';
import { NotAttestedError } from './errors.js';
import { dockerCredentials, dockerServerAddress } from '../../verify/index.js';
import type { BuildPhase } from './types.js';
import { enginePush, engineTarget, registryAuthHeader, type PushMessage } from '../../engine/index.js';

export interface PushedImage {
  /** The `-t` name. */
  reference: ImageReferenceParts;
  /** `registry/path`, the repository as the registry and the attestation subject name it. */
  repository: string;
  /** Manifest digest in the registry, `sha256:...`. */
  digest: string;
  size?: number;
}

/** Statuses worth a line: a layer is done, or a message about the whole push. */
const FINAL_LAYER_STATUS = /^(Pushed|Layer already exists|Mounted from .*)$/;

function progressLine(display: string, m: PushMessage): string | undefined {
  if (typeof m.status !== 'string' || m.status === '') return undefined;
  if (m.id === undefined) return `#push ${display}: ${m.status}\n`;
  return FINAL_LAYER_STATUS.test(m.status) ? `#push ${display}: ${m.id}: ${m.status}\n` : undefined;
}

export function pushPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'push',
    async run(run) {
      if (run.request.push !== true) return;
      if (run.imageId === undefined) throw new Error('internal: no image to push (phase order)');
      const { io } = run;
      const target = engineTarget(io.env);
      const credentials = dockerCredentials(io.env);
      const pushed: PushedImage[] = [];
      run.pushed = pushed;
      for (const ref of run.tags) {
        const repository = `${ref.registry}/${ref.repository}`;
        const tag = ref.tag ?? 'latest';
        const familiar = familiarImageReference(ref);
        try {
          const credential = await credentials.get(ref.registry);
          const result = await enginePush({
            target,
            repository,
            tag,
            registryAuth: registryAuthHeader(credential, dockerServerAddress(ref.registry)),
            display: familiar,
            onMessage: (m) => {
              if (run.request.quiet) return;
              const line = progressLine(familiar, m);
              if (line !== undefined) io.stderr.write(line);
            },
            ...(io.signal === undefined ? {} : { signal: io.signal }),
          });
          pushed.push({ reference: ref, repository, digest: result.digest, ...(result.size === undefined ? {} : { size: result.size }) });
          if (!run.request.quiet) io.stdout.write(`Pushed ${familiar} as ${repository}@${result.digest}\n`);
        } catch (err) {
          // An earlier name is already in the registry: when attestations were asked for,
          // say that it stays there without them.
          if (pushed.length > 0 && run.signing !== undefined) {
            const done = pushed.map((p) => `${p.repository}@${p.digest}`);
            const why = err instanceof Error ? err.message : String(err);
            throw new NotAttestedError(done, `image pushed as ${done.join(', ')} but not attested: ${why}`, { cause: err });
          }
          throw err;
        }
      }
    },
  };
}
