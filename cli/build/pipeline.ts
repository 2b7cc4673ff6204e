// `tracebuild build`: a pipeline of phases over one BuildRun record (types.ts), in this order:
//
//   prepare        flags -> tags, build args, labels; PATH, Dockerfile, .dockerignore read
//   signing-check  --push/--key: the key is loaded before anything is built (attest.ts)
//   parse          Dockerfile text -> AST; entitlements (network.host)
//   enforce        --enforce: the policy's enforce rules read and checked (enforce.ts)
//   trace          the eBPF probe starts while the client connects (trace.ts)
//   connect        BuildKit endpoint from the environment, client (closed at the end)
//   trace-ready    the probe is attached, or the build stops here saying why
//   solve          gateway solve; the frontend callback converts the Dockerfile (convert.ts)
//   enforce-report --enforce: a rule whose steps the build did not run (the target skips
//                  their stages) is named in a warning (enforce.ts)
//   trace-report   the trace: correlated, redacted, printed, written
//   report         image ID and names to stdout
//   push, attest   --push / --key: push every -t name, then sign and attach the attestations
//   metadata       --iidfile, --metadata-file (metadata.ts; an old iidfile is removed first)
//
// Cleanups registered with `defer` run after the last phase, most recent first, whatever
// happened. Nothing is tagged on failure: the exporter only runs when the solve succeeds.

import type { DockerfileAstView, Toolchain } from '../contracts.js';
import type { CliIo } from '../io.js';
import { connectPhase } from './connect.js';
import { metadataPhase, metadataPreparePhase } from './metadata.js';
import { parsePhase } from './parse.js';
import { preparePhase } from './prepare.js';
import { reportPhase } from './report.js';
import { solvePhase } from './solve.js';
import { tracePhase, traceReadyPhase, traceReportPhase } from './trace.js';
import type { BuildPhase, BuildRequest, BuildRun } from './types.js';

/**
 * A phase whose module is imported only when `wanted(run)` says the phase has something to
 * do: signing-check, push and attest bring the registry, Engine API and verify modules
 * (~25 files), which only --push, --key and --attest-out use.
 */
function onDemand<Ast extends DockerfileAstView, Def, E>(
  name: string,
  wanted: (run: BuildRun<Ast, Def, E>) => boolean,
  load: () => Promise<BuildPhase<Ast, Def, E>>,
): BuildPhase<Ast, Def, E> {
  return {
    name,
    async run(run) {
      if (wanted(run)) await (await load()).run(run);
    },
  };
}

export function defaultBuildPhases<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E>[] {
  // What the signing phases look at first: without any of these flags they do nothing.
  const signingFlags = ({ request }: BuildRun<Ast, Def, E>): boolean =>
    request.push === true || request.key !== undefined || request.attestOut !== undefined;
  return [
    preparePhase(),
    metadataPreparePhase(),
    onDemand('signing-check', signingFlags, async () => (await import('./attest.js')).signingCheckPhase()),
    parsePhase(),
    onDemand('enforce', (run) => run.request.enforce !== undefined, async () => (await import('./enforce.js')).enforcePhase()),
    tracePhase(),
    connectPhase(),
    traceReadyPhase(),
    solvePhase(),
    onDemand('enforce-report', (run) => run.enforcement !== undefined, async () => (await import('./enforce.js')).enforceReportPhase()),
    traceReportPhase(),
    reportPhase(),
    onDemand('push', (run) => run.request.push === true, async () => (await import('./push.js')).pushPhase()),
    onDemand('attest', (run) => run.signing !== undefined, async () => (await import('./attest.js')).attestPhase()),
    metadataPhase(),
  ];
}

/** Runs the phases in order; cleanups run last, whatever happened. Throws the first error. */
export async function runBuild<Ast extends DockerfileAstView, Def, E>(
  request: BuildRequest,
  io: CliIo,
  toolchain: Toolchain<Ast, Def, E>,
  phases: readonly BuildPhase<Ast, Def, E>[] = defaultBuildPhases(),
): Promise<BuildRun<Ast, Def, E>> {
  const cleanups: (() => unknown)[] = [];
  const internal = new AbortController();
  const run: BuildRun<Ast, Def, E> = {
    request,
    io,
    toolchain,
    tags: [],
    buildArgs: {},
    labels: {},
    entitlements: [],
    secrets: {},
    defer: (fn) => cleanups.push(fn),
    signal: io.signal === undefined ? internal.signal : AbortSignal.any([io.signal, internal.signal]),
    abort: (reason) => internal.abort(reason),
  };
  try {
    for (const phase of phases) await phase.run(run);
    return run;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // A failing cleanup (e.g. closing a broken connection) must not hide the build's result.
      }
    }
  }
}
