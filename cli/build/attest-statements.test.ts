import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildRuntimeTraceStatement, buildSlsaProvenanceStatement } from '../../attest/index.js';
import { sampleTrace } from '../../test/helpers/attest-fixtures.js';
import { bundleLayerOf, bundleReferrerManifest } from '../../verify/index.js';
import {
  REDACTED_VALUE,
  contextFilesFromTrace,
  contextRecordPath,
  dockerfileRecordPath,
  provenanceInput,
  redactBuildArgs,
  runtimeTraceInput,
  type BuildFacts,
} from './attest-statements.js';

const IMAGE = { name: '127.0.0.1:5000/app', digest: `sha256:${'ab'.repeat(32)}` };
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function facts(p: Partial<BuildFacts> = {}): BuildFacts {
  return {
    cwd: '/w',
    contextDir: '/w/ctx',
    dockerfilePath: '/w/ctx/Dockerfile',
    dockerfileText: 'FROM busybox:local\n',
    buildArgs: { VERSION: '1.2', TOKEN_COPY: 's3cret' },
    secrets: { token: enc('s3cret\n') , other: enc('') },
    network: 'host',
    noCache: false,
    baseImages: [{ ref: 'docker.io/library/busybox:local', digest: `sha256:${'cd'.repeat(32)}` }, { ref: 'example.com/unresolved:1' }],
    localBaseImages: ['docker.io/library/busybox:local'],
    imageId: `sha256:${'ef'.repeat(32)}`,
    trace: sampleTrace(),
    invocationId: 'inv-1',
    hostId: 'https://tracebuild.dev/hosts/h',
    startedOn: new Date('2030-01-01T00:00:00Z'),
    finishedOn: new Date('2030-01-01T00:00:09Z'),
    ...p,
  };
}

describe('provenance from a build', () => {
  it('records the Dockerfile, build args (secrets redacted), base images and served context files', () => {
    const input = provenanceInput(facts(), IMAGE);
    const statement = buildSlsaProvenanceStatement(input);
    const def = statement.predicate.buildDefinition;
    expect(def.externalParameters).toEqual({
      dockerfile: { path: 'Dockerfile', digest: { sha256: createHash('sha256').update('FROM busybox:local\n').digest('hex') } },
      context: 'ctx',
      buildArgs: { TOKEN_COPY: REDACTED_VALUE, VERSION: '1.2' },
    });
    expect(def.internalParameters).toEqual({
      frontend: 'tracebuild', network: 'host', noCache: false, runtimeTrace: true, imageId: `sha256:${'ef'.repeat(32)}`,
      unresolvedBaseImages: ['example.com/unresolved:1'], localBaseImages: ['docker.io/library/busybox:local'], redactedBuildArgs: ['TOKEN_COPY'],
    });
    expect(def.resolvedDependencies.map((d) => d.name)).toEqual(['docker.io/library/busybox:local', 'hello.txt']);
    expect(def.resolvedDependencies[1]).toEqual({ name: 'hello.txt', uri: 'local://context/hello.txt', digest: { sha256: 'aa'.repeat(32) } });
    // the trace's times win over the CLI's
    expect(statement.predicate.runDetails.metadata).toEqual({ invocationId: 'inv-1', startedOn: '2025-01-01T00:00:00.000Z', finishedOn: '2025-01-01T00:00:03.000Z' });
    expect(JSON.stringify(statement)).not.toContain('s3cret');
  });

  it('hashes the Dockerfile bytes', () => {
    const input = provenanceInput(facts({ dockerfileText: 'FROM x\n' }), IMAGE);
    expect(input.dockerfile.sha256).toBe(createHash('sha256').update('FROM x\n').digest('hex'));
  });

  it('without a trace: no context files, the CLI times, and no runtime-trace input', () => {
    const f = facts({ trace: undefined });
    const input = provenanceInput(f, IMAGE);
    expect(input.contextFiles).toEqual([]);
    expect(input.startedOn).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(input.internalParameters?.runtimeTrace).toBe(false);
    expect(runtimeTraceInput(f, IMAGE)).toBeUndefined();
  });

  it('records a Dockerfile relative to the context, else to the working directory, else by its name', () => {
    expect(dockerfileRecordPath({ cwd: '/w', contextDir: '/w/ctx', dockerfilePath: '/w/ctx/sub/Dockerfile' })).toBe('sub/Dockerfile');
    expect(dockerfileRecordPath({ cwd: '/w', contextDir: '/w/ctx', dockerfilePath: '/w/other/Dockerfile.dev' })).toBe('other/Dockerfile.dev');
    expect(dockerfileRecordPath({ cwd: '/w/ctx', contextDir: '/w/ctx', dockerfilePath: '/home/ci/Dockerfile.dev' })).toBe('Dockerfile.dev');
  });

  it('records the context relative to the working directory, and leaves a host path out', () => {
    expect(contextRecordPath({ cwd: '/w', contextDir: '/w/ctx' })).toBe('ctx');
    expect(contextRecordPath({ cwd: '/w/ctx', contextDir: '/w/ctx' })).toBe('.');
    expect(contextRecordPath({ cwd: '/w', contextDir: '/home/ci/work/ctx' })).toBeUndefined();
    const outside = buildSlsaProvenanceStatement(provenanceInput(facts({ cwd: '/elsewhere' }), IMAGE));
    expect(outside.predicate.buildDefinition.externalParameters).not.toHaveProperty('context');
    expect(JSON.stringify(outside)).not.toContain('/w/ctx');
  });
});

describe('redactBuildArgs', () => {
  it('redacts values equal to a secret (also with the trailing newline of a file), nothing else', () => {
    expect(redactBuildArgs({ A: 'x', B: 'pw', C: 'pw2' }, { s: enc('pw\n') })).toEqual({ buildArgs: { A: 'x', B: REDACTED_VALUE, C: 'pw2' }, redacted: ['B'] });
    expect(redactBuildArgs({ B: 'pw' }, { s: enc('pw\n\n') }).redacted).toEqual(['B']);
  });

  it('redacts values that carry a secret inside them', () => {
    const secret = enc('correct horse battery staple\n\n');
    expect(redactBuildArgs({ A: 'pre-correct horse battery staple', B: 'correct horse', C: 'x' }, { s: secret })).toEqual({
      buildArgs: { A: REDACTED_VALUE, B: 'correct horse', C: 'x' },
      redacted: ['A'],
    });
    const statement = buildSlsaProvenanceStatement(provenanceInput(facts({ buildArgs: { TOKEN: 'pre-s3cret-post' } }), IMAGE));
    expect(JSON.stringify(statement)).not.toContain('s3cret');
    expect(statement.predicate.buildDefinition.internalParameters).toMatchObject({ redactedBuildArgs: ['TOKEN'] });
    expect(redactBuildArgs({ EMPTY: '' }, { s: enc('') })).toEqual({ buildArgs: { EMPTY: '' }, redacted: [] });
  });
});

describe('contextFilesFromTrace', () => {
  it('collects served files once, sorted', () => {
    const t = sampleTrace();
    const steps = [...t.buildSteps, { ...t.buildSteps[1]!, copy: { patterns: ['.'], sources: [{ path: 'b', size: 1, sha256: '11'.repeat(32) }, { path: 'hello.txt', size: 6, sha256: 'aa'.repeat(32) }], unmatchedPatterns: [], destination: '/' } }];
    expect(contextFilesFromTrace({ ...t, buildSteps: steps })).toEqual([{ path: 'b', sha256: '11'.repeat(32) }, { path: 'hello.txt', sha256: 'aa'.repeat(32) }]);
  });
});

describe('runtime trace from a build', () => {
  it('carries the trace, its completeness figures, and ties the invocation to the provenance', () => {
    const input = runtimeTraceInput(facts(), IMAGE);
    expect(input).toBeDefined();
    const statement = buildRuntimeTraceStatement(input!);
    expect(statement.predicate.monitoredProcess).toEqual({ hostID: 'https://tracebuild.dev/hosts/h', type: 'https://tracebuild.dev/buildtypes/dockerfile/v1', event: 'inv-1' });
    expect(statement.predicate.buildSteps).toHaveLength(3);
    expect(statement.predicate.runcSetupEvents).toBe(4);
    expect(statement.predicate.losses).toMatchObject({ attributedToSteps: 0 });
    expect(statement.predicate.unattributedCgroups).toEqual([]);
  });
});

describe('the referrer manifest', () => {
  it('is laid out as cosign stores a bundle', () => {
    const m = bundleReferrerManifest({
      subject: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: IMAGE.digest, size: 941, annotations: { dropped: 'yes' } },
      bundle: { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: `sha256:${'12'.repeat(32)}`, size: 1801 },
      predicateType: 'https://in-toto.io/attestation/runtime-trace/v0.1',
      created: new Date('2025-01-24T20:47:58.951Z'),
    });
    expect(JSON.stringify(m)).toBe(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json', size: 2,
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      },
      layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', size: 1801, digest: `sha256:${'12'.repeat(32)}` }],
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://in-toto.io/attestation/runtime-trace/v0.1',
        'org.opencontainers.image.created': '2025-01-24T20:47:58Z',
      },
      subject: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 941, digest: IMAGE.digest },
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    }));
    expect(bundleLayerOf(m)?.digest).toBe(`sha256:${'12'.repeat(32)}`);
    expect(bundleLayerOf({ layers: [] })).toBeUndefined();
  });
});
