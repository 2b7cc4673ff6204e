// connect: the BuildKit endpoint from the environment, and a client closed at the end.
import type { DockerfileAstView } from '../contracts.js';
import { throwIfAborted, type BuildPhase } from './types.js';

export function connectPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'connect',
    async run(run) {
      throwIfAborted(run);
      const client = await run.toolchain.connectBuildKit(run.toolchain.endpointFromEnv(run.io.env));
      run.client = client;
      run.defer(() => client.close());
    },
  };
}

