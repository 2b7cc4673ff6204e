import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Trace } from '../../model/index.js';
import type { AttestationRecord } from './attest.js';
import { ATTESTATIONS_KEY, TRACE_DIGEST_KEY, buildMetadata, imageIdOf } from './metadata.js';
import { traceJson } from './trace.js';

const CONFIG = `sha256:${'c'.repeat(64)}`;
const MANIFEST = `sha256:${'a'.repeat(64)}`;

describe('--metadata-file and --iidfile contents', () => {
  it('the image id is the config digest where the exporter gives one, else the image digest (BuildKit v0.8)', () => {
    expect(imageIdOf({ 'containerimage.digest': MANIFEST, 'containerimage.config.digest': CONFIG })).toBe(CONFIG);
    expect(imageIdOf({ 'containerimage.digest': CONFIG })).toBe(CONFIG);
    expect(imageIdOf({})).toBeUndefined();
  });

  it("the exporter's response, sorted; after a push containerimage.digest is the manifest digest", () => {
    const meta = buildMetadata({
      result: { exporterResponse: { 'image.name': 'docker.io/library/a:1', 'containerimage.digest': CONFIG, 'containerimage.config.digest': CONFIG } },
      pushed: [{ reference: { registry: '127.0.0.1:5000', repository: 'a', tag: '1' }, repository: '127.0.0.1:5000/a', digest: MANIFEST }],
    });
    expect(Object.keys(meta)).toEqual(['containerimage.config.digest', 'containerimage.digest', 'image.name']);
    expect(meta['containerimage.digest']).toBe(MANIFEST);
    expect(meta['containerimage.config.digest']).toBe(CONFIG);
  });

  it('our keys: the digest of the trace as --trace-out writes it, and each attestation and where it went', () => {
    const trace = { buildSteps: [], complete: true } as unknown as Trace;
    const records = [
      {
        kind: 'runtime-trace',
        predicateType: 'https://in-toto.io/attestation/runtime-trace/v0.1',
        subject: { name: '127.0.0.1:5000/a', digest: MANIFEST },
        bundle: {},
        referrer: { descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 10 }, subject: { mediaType: 'x', digest: MANIFEST, size: 1 }, via: 'referrers-api' },
      },
      { kind: 'provenance', predicateType: 'https://slsa.dev/provenance/v1', subject: { name: 'image', digest: CONFIG }, bundle: {}, file: 'out/provenance.json' },
    ] as unknown as AttestationRecord[];
    const meta = buildMetadata({ result: { exporterResponse: {} }, trace, attestations: records });
    expect(meta[TRACE_DIGEST_KEY]).toBe(`sha256:${createHash('sha256').update(traceJson(trace)).digest('hex')}`);
    expect(meta[ATTESTATIONS_KEY]).toEqual([
      { predicateType: 'https://in-toto.io/attestation/runtime-trace/v0.1', subject: `127.0.0.1:5000/a@${MANIFEST}`, referrer: `sha256:${'1'.repeat(64)}` },
      { predicateType: 'https://slsa.dev/provenance/v1', subject: `image@${CONFIG}`, file: 'out/provenance.json' },
    ]);
  });
});
