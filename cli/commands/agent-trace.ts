// `tracebuild agent-trace BUILD-REF|IMAGE-DIGEST [--json]`: a trace the tracebuild agent kept,
// from the agent DOCKER_HOST or BUILDKIT_HOST points at (with their TLS settings). Any
// BuildKit client's build is traced there (a plain `docker buildx build` too); its client
// may read it, and so may the readers the agent names (--trace-reader). BUILD-REF is the
// BuildKit ref (buildx's `buildx.build.ref`, its last part, or tracebuild's), IMAGE-DIGEST
// the image id of a loaded image or the manifest digest of a pushed one.
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';

interface AgentTraceFlags {
  json?: boolean;
}

export async function runAgentTrace(query: string, flags: AgentTraceFlags, io: CliIo): Promise<void> {
  const [{ fetchAgentTrace }, { endpointFromEnv }, { formatTraceTable }] = await Promise.all([
    import('../../agent/index.js'),
    import('../../frontend/index.js'),
    import('../../tracer/index.js'),
  ]);
  const endpoint = endpointFromEnv(io.env);
  const found = await fetchAgentTrace(endpoint, query);
  if (flags.json === true) {
    io.stdout.write(`${JSON.stringify(found.trace, null, 2)}\n`);
    return;
  }
  const b = found.build;
  const lines = [
    `build ${found.ref} (${b.frontend === '' ? 'client-side frontend' : b.frontend}) by ${b.owner.name === '' ? '(no CN)' : `CN=${b.owner.name}`}, ${b.startedOn} - ${b.finishedOn}${b.error === undefined ? '' : `, FAILED: ${b.error}`}`,
  ];
  if (b.imageId !== undefined) lines.push(`image id: ${b.imageId}`);
  if (b.manifestDigest !== undefined) lines.push(`pushed as: ${b.names.map((n) => `${n}@${b.manifestDigest}`).join(', ')}`);
  lines.push(`instructions located by: ${b.located === 'source-map' ? "the LLB's source map" : b.located === 'dockerfile' ? `the Dockerfile the session sent (${b.dockerfile ?? 'Dockerfile'})` : 'vertex names only (lines unknown)'}`);
  for (const a of b.attestations) {
    lines.push(
      `signed by the builder (key ${a.keyId.slice(0, 12)}…) about ${a.subject}${a.referrer !== undefined ? `, attached as ${a.referrer}` : ''}${a.attachError !== undefined ? `, NOT attached: ${a.attachError}` : ''}`,
    );
  }
  io.stdout.write(`${lines.join('\n')}\n\n${formatTraceTable(found.trace, { width: io.stderr.columns !== undefined && io.stderr.columns >= 60 ? io.stderr.columns : 100 })}`);
}

export const agentTraceCommand: CliCommand = {
  register(program: Command, { io }) {
    program
      .command('agent-trace')
      .description('show a trace the tracebuild agent kept (the agent DOCKER_HOST or BUILDKIT_HOST points at), by build ref, image id or manifest digest')
      .argument('<BUILD-REF|IMAGE-DIGEST>', 'the build ref (buildx: the last part of buildx.build.ref), the image id of a loaded image, or the manifest digest of a pushed one')
      .option('--json', 'print the trace document (JSON) instead of the table')
      .action(async (query: string, flags: AgentTraceFlags) => {
        await runAgentTrace(query, flags, io);
      });
  },
};
