// Fixtures for the signing unit tests: a small trace in the tracer's shape, a tiny image
// pushed into a registry, and attestations signed and attached the way `tracebuild build
// --push --key` does (so verify/referrers can be tested without dockerd).
import { createHash, type KeyObject } from 'node:crypto';
import {
  buildRuntimeTraceStatement,
  buildSlsaProvenanceStatement,
  signStatement,
  type SerializedBundle,
  type Statement,
} from '../../attest/index.js';
import { EMPTY_JSON, MediaType, RegistryClient, parseReference, type Descriptor } from '../../oci/index.js';
import type { Trace, TraceBuildStep } from '../../model/index.js';
import { BUNDLE_MEDIA_TYPE, bundleReferrerManifest } from '../../verify/index.js';

export function sampleTrace(): Trace {
  const base = {
    endLine: 0,
    stage: '0',
    cached: false,
    status: 'done',
    startedOn: '2025-01-01T00:00:00.000Z',
    finishedOn: '2025-01-01T00:00:01.000Z',
    durationMs: 1000,
    cgroup: null,
    processes: [],
    files: { created: [], modified: [], deleted: [], renamed: [], transient: [], attributes: [], links: [] },
    network: [],
    resources: null,
    runcSetupEvents: 0,
    lostEvents: 0,
    warnings: [],
  } satisfies Omit<TraceBuildStep, 'instruction' | 'keyword' | 'line' | 'vertex'>;
  return {
    monitor: { name: 'tracebuild-probe', kernel: '6.18.0' },
    metadata: { buildStartedOn: '2025-01-01T00:00:00.000Z', buildFinishedOn: '2025-01-01T00:00:03.000Z' },
    buildSteps: [
      { ...base, instruction: 'FROM busybox:local', keyword: 'FROM', line: 1, endLine: 1, vertex: `sha256:${'01'.repeat(32)}`, durationMs: null },
      {
        ...base,
        instruction: 'COPY hello.txt /hello.txt',
        keyword: 'COPY',
        line: 2,
        endLine: 2,
        vertex: `sha256:${'02'.repeat(32)}`,
        copy: { patterns: ['hello.txt'], sources: [{ path: 'hello.txt', size: 6, sha256: 'aa'.repeat(32) }], unmatchedPatterns: [], destination: '/hello.txt' },
      },
      {
        ...base,
        instruction: 'RUN echo built > /built.txt',
        keyword: 'RUN',
        line: 3,
        endLine: 3,
        vertex: `sha256:${'03'.repeat(32)}`,
        processes: [
          {
            pid: 10, ppid: 1, argv: ['/bin/sh', '-c', 'echo built > /built.txt'], exe: '/bin/busybox', exeSha256: 'bb'.repeat(32),
            execed: true, exitCode: 0, startedOn: '2025-01-01T00:00:01.000Z', finishedOn: '2025-01-01T00:00:02.000Z',
          },
        ],
        files: { created: ['/built.txt'], modified: [], deleted: [], renamed: [], transient: [], attributes: [], links: [] },
        resources: { wallMs: 1000, cpuUserMs: 3, cpuSystemMs: 2, maxRssKb: 900 },
      },
    ],
    complete: true,
    monitorGaps: [],
    lostEvents: 0,
    losses: {
      ringbuf: { 'cgroup-mkdir': 0, 'cgroup-rmdir': 0, exec: 0, fork: 0, exit: 0, file: 0, net: 0 },
      pendingFull: 0, tracedFull: 0, scratchBusy: 0, digestSkipped: 0, signalFailed: 0, digestFailed: 0, output: 0, argsUnread: 0,
      netSuppressed: 0, undecodedRecords: 0, monitorGaps: 0, unseenSteps: 0, attributedToSteps: 0, unattributedToSteps: 0,
    },
    unattributedEvents: 0,
    unattributedCgroups: [],
    untracedCgroups: [],
    runcSetupEvents: 4,
    ambiguities: [],
  };
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

/** Pushes a small OCI image (config + one layer) as `repo:tag`; returns its manifest descriptor. */
export async function pushTinyImage(client: RegistryClient, host: string, repo: string, tag: string, salt = ''): Promise<Descriptor> {
  const ref = parseReference(`${host}/${repo}`);
  const config = await client.pushBlob(ref, json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt }), { mediaType: MediaType.OciConfig });
  const layer = await client.pushBlob(ref, json({ layer: salt }), { mediaType: MediaType.OciLayerTar });
  return (await client.putManifest(ref.withTag(tag), { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] })).descriptor;
}

export function statementsFor(image: { name: string; digest: string }, trace: Trace | undefined): Statement[] {
  const out: Statement[] = [];
  if (trace !== undefined) {
    out.push(buildRuntimeTraceStatement({
      image, trace, monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/test', event: 'inv-1' },
      timestamps: { buildStartedOn: '2025-01-01T00:00:00Z', buildFinishedOn: '2025-01-01T00:00:03Z' },
    }));
  }
  out.push(buildSlsaProvenanceStatement({
    image, dockerfile: { path: 'Dockerfile', sha256: 'cc'.repeat(32) }, context: '.', invocationId: 'inv-1',
    startedOn: '2025-01-01T00:00:00Z', finishedOn: '2025-01-01T00:00:03Z',
  }));
  return out;
}

/** Attaches bundle bytes to `host/repo@digest` in the cosign layout (the annotation may lie). */
export async function attachBundleBytes(client: RegistryClient, host: string, repo: string, digest: string, bytes: Uint8Array, predicateType: string): Promise<Descriptor> {
  const at = parseReference(`${host}/${repo}`).withDigest(digest);
  const subject = await client.resolveManifest(at);
  await client.pushBlob(at, EMPTY_JSON, { mediaType: MediaType.OciEmpty });
  const layer = await client.pushBlob(at, bytes, { mediaType: BUNDLE_MEDIA_TYPE });
  const manifest = bundleReferrerManifest({ subject, bundle: layer, predicateType, created: new Date('2025-01-01T00:00:04Z') });
  return (await client.attachReferrer(at, json(manifest))).descriptor;
}

export async function signAndAttach(
  client: RegistryClient, host: string, repo: string, digest: string, statement: Statement, privateKey: KeyObject,
): Promise<{ bundle: SerializedBundle; referrer: Descriptor }> {
  const bundle = await signStatement(statement, { privateKey });
  const referrer = await attachBundleBytes(client, host, repo, digest, json(bundle), statement.predicateType);
  return { bundle, referrer };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
