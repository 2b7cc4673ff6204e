// report: the image ID and names, on stdout (only the ID with -q).
import { familiarImageReference } from '../../common/index.js';
import type { DockerfileAstView } from '../contracts.js';
import type { BuildPhase } from './types.js';

export function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}

export function reportPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'report',
    run(run) {
      const { stdout } = run.io;
      const id = run.imageId;
      if (run.request.quiet) {
        if (id !== undefined) stdout.write(`${id}\n`);
        return;
      }
      // No image (-o type=local|tar|...): nothing was built into the store, nothing tagged.
      if (id === undefined) return;
      let out = `Successfully built ${shortId(id)}\n`;
      for (const tag of run.tags) out += `Successfully tagged ${familiarImageReference(tag)}\n`;
      stdout.write(out);
    },
  };
}

