// solve: the gateway solve. The frontend callback converts the Dockerfile with the daemon's
// image resolver (convert.ts); Status batches feed the progress display and the solve's
// other observers; a failure is mapped to its Dockerfile line and output tail. Nothing is
// tagged on failure: the exporter only runs when the solve succeeds.
import type { DockerfileAstView, ServedFile } from '../contracts.js';
import { explainSolveFailure } from '../failure.js';
import { createProgress } from '../progress/index.js';
import { formatImageReference, type ImageReferenceParts } from '../../common/index.js';
import { convertInGateway } from './convert.js';
import { imageIdOf } from './metadata.js';
import { secretMask } from './redact.js';
import { dockerConfigRegistryAuth } from './registry-auth.js';
import { checkCacheExports } from './cache.js';
import { checkExportCapabilities, explainExportRefusal, solveExports } from './exports.js';
import { abortReason, required, throwIfAborted, type BuildPhase } from './types.js';

/** A client that did not say which daemon it reached (a test's fake). */
const UNKNOWN_DAEMON = { engine: 'dockerd', description: 'the daemon' } as const;

export function moby(tags: readonly ImageReferenceParts[]): { type: 'moby'; attrs: Record<string, string> } {
  return { type: 'moby', attrs: tags.length > 0 ? { name: tags.map(formatImageReference).join(',') } : {} };
}

export function solvePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'solve',
    async run(run) {
      const inputs = required(run.inputs, 'inputs');
      const client = required(run.client, 'client');
      const { request, io } = run;
      const progress = createProgress(request.quiet ? 'quiet' : request.progress, {
        sink: io.stderr,
        clock: io.clock,
        ticker: io.ticker,
        // a step may print a secret: the progress output masks it
        redact: secretMask(run.secrets),
      });
      run.progress = progress;
      run.defer(() => progress.finish());
      throwIfAborted(run);
      // An error of our own frontend callback (a ConvertError) is reported as itself, however
      // the client wraps it.
      let frontendError: { err: unknown } | undefined;
      const daemon = client.daemon ?? UNKNOWN_DAEMON;
      const exports = solveExports(request.outputs ?? [], { tags: run.tags, daemon, cwd: io.cwd, ...(request.annotations === undefined ? {} : { annotations: request.annotations }) });
      checkCacheExports(run.cache, daemon);
      try {
        run.result = await client.solve({
          contextDir: inputs.contextDir,
          dockerignore: inputs.dockerignore.patterns,
          ...exports,
          ...(run.cache === undefined ? {} : { cache: run.cache }),
          entitlements: run.entitlements,
          // An error of our own callback (a ConvertError) is kept to be reported as itself.
          frontend: (gateway) =>
            Promise.resolve()
              .then(() => checkExportCapabilities(exports, gateway.capabilities?.llb, daemon))
              .then(() => convertInGateway(run, gateway))
              .catch((err: unknown) => {
                frontendError = { err };
                throw err;
              }),
          onStatus: (batch) => {
            progress.update(batch);
            for (const o of run.solveObservers ?? []) o.onStatus?.(batch);
          },
          // Only when someone records the served files (the trace): asking for them makes
          // the daemon fetch every file instead of reusing its copy of the context.
          ...((run.solveObservers ?? []).some((o) => o.onFileServed !== undefined)
            ? {
                onFileServed: (file: ServedFile) => {
                  for (const o of run.solveObservers ?? []) o.onFileServed?.(file);
                },
              }
            : {}),
          secrets: run.secrets,
          ...(run.buildContexts === undefined ? {} : { localDirs: run.buildContexts.localDirs, ociLayouts: run.buildContexts.ociLayouts }),
          ...(run.sshAgents === undefined ? {} : { sshAgents: run.sshAgents }),
          registryAuth: dockerConfigRegistryAuth(io.env),
          signal: run.signal,
          ...(run.solveRef === undefined ? {} : { ref: run.solveRef }),
          ...(run.solveMetadata === undefined ? {} : { solveMetadata: run.solveMetadata }),
        });
      } catch (err) {
        progress.finish();
        if (run.signal.aborted) throw abortReason(run);
        if (frontendError !== undefined) throw frontendError.err;
        const refused = explainExportRefusal(err, daemon);
        if (refused !== undefined) throw refused;
        throw explainSolveFailure(err, {
          state: progress.state,
          steps: run.conversion?.steps,
          dockerfileName: inputs.dockerfileName,
          dockerfileText: inputs.dockerfileText,
        });
      }
      progress.finish();
      run.imageId = imageIdOf(run.result.exporterResponse);
    },
  };
}

