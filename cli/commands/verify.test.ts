// verify and referrers against the in-test registry (loopback, no daemon): every check kind,
// the report, the exit error naming the image, and the image-trace hook.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RUNTIME_TRACE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  exportPublicKeyPem,
  generateKeyPair,
  keyId,
  signStatement,
  type Statement,
} from '../../attest/index.js';
import { MediaType, RegistryClient, parseReference } from '../../oci/index.js';
import { attachBundleBytes, pushTinyImage, sampleTrace, signAndAttach, statementsFor } from '../../test/helpers/attest-fixtures.js';
import { OciTestRegistry } from '../../test/helpers/oci-server.js';
import type { CliIo } from '../io.js';
import { traceFromPredicate } from '../../attest/index.js';
import { ANNOTATION_PREDICATE_TYPE, BUNDLE_MEDIA_TYPE, VerificationFailedError, fetchVerifiedImageTrace, verifyImage } from '../../verify/index.js';
import { formatReferrerTree, listReferrerTree, runReferrers } from './referrers.js';
import { runVerify } from './verify.js';

const signer = generateKeyPair();
const stranger = generateKeyPair();
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

function io(cwd: string): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    stdout: { write: (s: string) => void out.push(s) },
    stderr: { write: (s: string) => void err.push(s) },
    env: {}, cwd, clock: { now: () => 0 }, ticker: () => () => undefined,
  };
}

describe.each([
  ['with the referrers API', true],
  ['with the tag-schema fallback', false],
])('verify %s', (_name, api) => {
  const registry = new OciTestRegistry({ referrersApi: api });
  const client = new RegistryClient({ retry: { attempts: 1 } });
  let dir = '';
  let pub = '';
  let strangerPub = '';
  let host = '';
  let n = 0;

  /** A fresh repository holding one tiny image; returns `host/repo`, the ref and the digest. */
  async function image(salt: string): Promise<{ repo: string; ref: string; digest: string; name: string }> {
    const repo = `t/img-${++n}`;
    const d = await pushTinyImage(client, host, repo, 'v1', salt);
    return { repo, ref: `${host}/${repo}:v1`, digest: d.digest, name: `${host}/${repo}` };
  }

  async function attested(salt: string, trace = true) {
    const img = await image(salt);
    for (const s of statementsFor({ name: img.name, digest: img.digest }, trace ? sampleTrace() : undefined)) {
      await signAndAttach(client, host, img.repo, img.digest, s, signer.privateKey);
    }
    return img;
  }

  beforeAll(async () => {
    host = await registry.start();
    dir = mkdtempSync(join(tmpdir(), 'tracebuild-verify-'));
    pub = join(dir, 'signer.pub');
    strangerPub = join(dir, 'stranger.pub');
    writeFileSync(pub, exportPublicKeyPem(signer.publicKey));
    writeFileSync(strangerPub, exportPublicKeyPem(stranger.publicKey));
  });
  afterAll(async () => {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes with a runtime trace and a provenance, and prints the table', async () => {
    const img = await attested('ok');
    const cli = io(dir);
    const report = await runVerify({ image: img.ref, keys: ['signer.pub'], json: false }, cli, client);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.status, c.predicateType, c.keyId])).toEqual([
      ['verified', RUNTIME_TRACE_PREDICATE_TYPE, keyId(signer.publicKey)],
      ['verified', SLSA_PROVENANCE_PREDICATE_TYPE, keyId(signer.publicKey)],
    ]);
    const text = cli.out.join('');
    expect(text).toContain(`Verifying ${img.ref} (${img.digest})`);
    expect(text).toMatch(/Dockerfile:3 RUN echo built > \/built.txt\s+1\s+1\s+0\s+0\s+0/);
    expect(text).toContain('copy: 1 file served, 6 B');
    expect(text).toContain('runc setup events (excluded): 4');
    expect(text).toContain(`Verified: ${img.ref}@${img.digest}: 1 runtime-trace, 1 provenance`);
  });

  it('trusts any of several keys, and prints JSON', async () => {
    const img = await attested('json');
    const cli = io(dir);
    await runVerify({ image: img.ref, keys: [strangerPub, pub], json: true }, cli, client);
    const doc = JSON.parse(cli.out.join('')) as { verified: boolean; digest: string; attestations: { status: string; statement?: Statement }[] };
    expect(doc.verified).toBe(true);
    expect(doc.digest).toBe(img.digest);
    expect(doc.attestations.every((a) => a.status === 'verified' && a.statement !== undefined)).toBe(true);
  });

  it('fails when there is nothing, or only the provenance', async () => {
    const bare = await image('bare');
    const e1 = await runVerify({ image: bare.ref, keys: [pub], json: false }, io(dir), client).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(VerificationFailedError);
    expect(e1).toMatchObject({ kinds: ['no-attestations'], reference: bare.ref });
    expect((e1 as Error).message).toContain(`no signed attestations are attached to ${bare.ref}`);

    const img = await attested('prov-only', false);
    const e2 = await runVerify({ image: img.ref, keys: [pub], json: false }, io(dir), client).catch((e: unknown) => e);
    expect(e2).toMatchObject({ kinds: ['no-runtime-trace'] });
    expect((e2 as Error).message).toBe(`no runtime-trace attestation for ${img.ref} (${img.digest}): found only provenance; was it built with --no-trace?`);
  });

  it('names each failure kind with the image reference', async () => {
    const img = await attested('kinds');
    const [traceStatement] = statementsFor({ name: img.name, digest: img.digest }, sampleTrace());
    // wrong key: signed by a key that is not trusted
    await signAndAttach(client, host, img.repo, img.digest, traceStatement as Statement, stranger.privateKey);
    // altered: payload edited after signing
    const good = JSON.parse(JSON.stringify(await signStatement(traceStatement as Statement, { privateKey: signer.privateKey }))) as { dsseEnvelope: { payload: string } };
    good.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...(traceStatement as Statement), predicate: { injected: true } })).toString('base64');
    await attachBundleBytes(client, host, img.repo, img.digest, enc(good), RUNTIME_TRACE_PREDICATE_TYPE);
    // truncated
    const whole = enc(await signStatement(traceStatement as Statement, { privateKey: signer.privateKey }));
    await attachBundleBytes(client, host, img.repo, img.digest, whole.subarray(0, 100), RUNTIME_TRACE_PREDICATE_TYPE);
    // annotation says provenance, the signed statement is a runtime trace
    await attachBundleBytes(client, host, img.repo, img.digest, whole, SLSA_PROVENANCE_PREDICATE_TYPE);
    // about another digest (that exists nowhere)
    const other = `sha256:${'ee'.repeat(32)}`;
    const [foreign] = statementsFor({ name: img.name, digest: other }, sampleTrace());
    await signAndAttach(client, host, img.repo, img.digest, foreign as Statement, signer.privateKey);
    // copied from another image that exists
    const src = await attested('source');
    const [copied] = statementsFor({ name: src.name, digest: src.digest }, sampleTrace());
    await signAndAttach(client, host, img.repo, img.digest, copied as Statement, signer.privateKey);
    // signed with a trusted key, valid, but another tool's predicate: not selected, not a failure
    await signAndAttach(client, host, img.repo, img.digest, { ...(copied as Statement), subject: [{ name: img.name, digest: { sha256: img.digest.slice(7) } }], predicateType: 'https://example.com/other/v1' }, signer.privateKey);

    const cli = io(dir);
    const err = await runVerify({ image: img.ref, keys: [pub], json: false }, cli, client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationFailedError);
    const report = await verifyImage(client, parseReference(img.ref), [pub], dir);
    const failures = report.checks.filter((c) => c.status === 'failed').map((c) => c.failure?.kind);
    expect(failures).toEqual(['signature-invalid', 'malformed-bundle', 'annotation-mismatch', 'subject-mismatch', 'copied-from-another-image']);
    // somebody else's attestations are listed, not failed: another signer, another type
    expect(report.checks.filter((c) => c.status === 'not-checked').map((c) => [c.notChecked?.reason, c.predicateType])).toEqual([
      ['other-signer', RUNTIME_TRACE_PREDICATE_TYPE],
      ['other-type', 'https://example.com/other/v1'],
    ]);
    expect((err as VerificationFailedError).kinds).toEqual(failures);
    const message = (err as Error).message;
    expect(message).toMatch(new RegExp(`^${img.ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: attestation sha256:[0-9a-f]{12}… \\(runtime-trace\\): its signature does not verify with key ${keyId(signer.publicKey)}: the attestation was altered after it was signed`));
    expect(message).toContain('(and 4 more failed attestation(s), listed above)');
    const text = cli.out.join('');
    expect(text).toMatch(new RegExp(`NOT CHECKED  sha256:[0-9a-f]{64}  runtime-trace: \\[unknown-key\\] it is signed by key ${keyId(stranger.publicKey)}, which is not a trusted key`));
    expect(text).toMatch(/NOT CHECKED {2}sha256:[0-9a-f]{64} {2}https:\/\/example.com\/other\/v1: predicate type https:\/\/example.com\/other\/v1 was not selected \(--type\)/);
    expect(text).toContain('the attestation was altered after it was signed');
    expect(text).toContain('the bundle is not a valid Sigstore bundle (truncated or corrupted)');
    expect(text).toContain(`its manifest annotation says predicate type ${SLSA_PROVENANCE_PREDICATE_TYPE}, but the signed statement is ${RUNTIME_TRACE_PREDICATE_TYPE}`);
    expect(text).toContain(`its statement is about ${img.name}@${other}, not this image's digest ${img.digest}`);
    expect(text).toContain(`it was made for another image (${src.name}@${src.digest}) and copied onto this one (${img.digest})`);
  });

  it("another signer's and another type's attestations are listed as not checked; --require-all fails on them; --type selects", async () => {
    const img = await attested('foreign');
    const [traceStatement] = statementsFor({ name: img.name, digest: img.digest }, sampleTrace());
    // a cosign / GitHub style provenance by someone else, and another tool's predicate
    await signAndAttach(client, host, img.repo, img.digest, { ...(traceStatement as Statement), predicateType: SLSA_PROVENANCE_PREDICATE_TYPE, predicate: { by: 'ci' } }, stranger.privateKey);
    await signAndAttach(client, host, img.repo, img.digest, { ...(traceStatement as Statement), predicateType: 'https://cyclonedx.org/bom', predicate: {} }, stranger.privateKey);
    const report = await verifyImage(client, parseReference(img.ref), [pub], dir);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.status, c.notChecked?.reason])).toEqual([
      ['verified', undefined],
      ['verified', undefined],
      ['not-checked', 'other-signer'],
      ['not-checked', 'other-type'],
    ]);
    const cli = io(dir);
    await runVerify({ image: img.ref, keys: [pub], json: false }, cli, client);
    expect(cli.out.join('')).toContain(`Verified: ${img.ref}@${img.digest}: 1 runtime-trace, 1 provenance (2 referrer(s) not checked)`);

    const all = await runVerify({ image: img.ref, keys: [pub], json: false, requireAll: true }, io(dir), client).catch((e: unknown) => e);
    expect(all).toMatchObject({ kinds: ['not-checked'] });
    expect((all as Error).message).toMatch(/^--require-all: 2 attestation\(s\) on .* were not verified/);

    // --type selects the other type: verified with the stranger's key, required by default
    const strangerTypes = await verifyImage(client, parseReference(img.ref), [strangerPub], dir, { types: ['https://cyclonedx.org/bom'] });
    expect(strangerTypes.ok).toBe(true);
    expect(strangerTypes.checks.filter((c) => c.status === 'verified').map((c) => c.predicateType)).toEqual(['https://cyclonedx.org/bom']);
    const noSuchType = await verifyImage(client, parseReference(img.ref), [pub], dir, { types: ['https://example.com/absent/v1'] });
    expect(noSuchType.ok).toBe(false);
    expect(noSuchType.missing).toEqual(['https://example.com/absent/v1']);
  });

  it('decides from the referrer manifest, never the index: a rewritten artifactType, a wrong size, a deleted provenance', async () => {
    if (api) return; // the tag-schema index is what anyone with push access can rewrite
    const img = await attested('index');
    const tagRef = parseReference(img.name).withTag(`sha256-${img.digest.slice(7)}`);
    const index = await client.getManifest(tagRef, { accept: [MediaType.OciIndex] });
    const entries = index.manifest.manifests as { digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
    const rewrite = async (change: (e: (typeof entries)[number], i: number) => (typeof entries)[number] | undefined): Promise<void> => {
      const manifests = entries.map((e, i) => change({ ...e }, i)).filter((e) => e !== undefined);
      await client.putManifest(tagRef, enc({ ...index.manifest, manifests }), MediaType.OciIndex);
    };

    // cosign 2.5's attest rewrote the entries' artifactType to the empty config type
    await rewrite((e) => ({ ...e, artifactType: MediaType.OciEmpty }));
    const rewritten = await verifyImage(client, parseReference(img.ref), [pub], dir);
    expect(rewritten.ok).toBe(true);
    expect(rewritten.checks.map((c) => c.status)).toEqual(['verified', 'verified']);

    // a wrong size in an entry
    await rewrite((e, i) => (i === 1 ? { ...e, size: e.size + 1 } : e));
    const sized = await verifyImage(client, parseReference(img.ref), [pub], dir);
    expect(sized.ok).toBe(false);
    expect(sized.checks[1]?.failure).toMatchObject({ kind: 'descriptor-mismatch' });
    expect(sized.checks[1]?.failure?.message).toContain('the referrers index says its manifest is');

    // the provenance entry deleted: verify passes by default, says it is missing, and
    // --require-type provenance / --require-all fail
    await rewrite((e) => (e.annotations?.[ANNOTATION_PREDICATE_TYPE] === SLSA_PROVENANCE_PREDICATE_TYPE ? undefined : e));
    const cli = io(dir);
    const gone = await runVerify({ image: img.ref, keys: [pub], json: false }, cli, client);
    expect(gone.ok).toBe(true);
    expect(gone.missing).toEqual([SLSA_PROVENANCE_PREDICATE_TYPE]);
    expect(cli.out.join('')).toContain('MISSING      provenance: no verified attestation of this type (not required: --require-type or --require-all to require it)');
    for (const options of [{ requireTypes: ['provenance'] }, { requireAll: true }]) {
      const err = await runVerify({ image: img.ref, keys: [pub], json: false, ...options }, io(dir), client).catch((e: unknown) => e);
      expect(err).toMatchObject({ kinds: ['missing-type'] });
      expect((err as Error).message).toContain(`has no verified attestation of type provenance (verified: runtime-trace)`);
    }
  });

  it('rejects a referrer whose manifest names another subject', async () => {
    const img = await attested('subject');
    const src = await attested('subject-src');
    // Another image's referrer slipped into this image's list: only possible through the
    // tag-schema index, which anyone with push access can write.
    if (api) return;
    const srcRefs = await client.listReferrers(parseReference(src.ref), { artifactType: BUNDLE_MEDIA_TYPE });
    await client.addToReferrersIndex(parseReference(`${img.name}`), img.digest, srcRefs[0] as never);
    // The referrer manifest lives in src's repository; copy it over so it can be fetched here.
    const fetched = await client.getManifest(parseReference(src.name).withDigest(srcRefs[0]?.digest ?? ''));
    const layer = (fetched.manifest.layers as { digest: string }[])[0]?.digest ?? '';
    const bundle = await client.fetchBlob(parseReference(src.name), layer);
    const at = parseReference(img.name);
    await client.pushBlob(at, new Uint8Array([0x7b, 0x7d]), { mediaType: MediaType.OciEmpty });
    await client.pushBlob(at, bundle, { mediaType: BUNDLE_MEDIA_TYPE });
    await client.putManifest(at.withDigest(fetched.descriptor.digest), fetched.bytes, MediaType.OciManifest);
    const report = await verifyImage(client, parseReference(img.ref), [pub], dir);
    expect(report.checks.find((c) => c.referrer === srcRefs[0]?.digest)?.failure).toMatchObject({
      kind: 'referrer-subject-mismatch',
      message: `its referrer manifest's subject is ${src.digest}, not this image (${img.digest}): it was listed for the wrong image`,
    });
  });

  it('gives the image-trace hook the newest verified runtime trace', async () => {
    const img = await attested('hook');
    const got = await fetchVerifiedImageTrace(img.ref, { keyPaths: [pub], env: {}, cwd: dir });
    expect(got.image).toBe(`${img.name}@${img.digest}`);
    expect(got.keyId).toBe(keyId(signer.publicKey));
    expect((got.statement as Statement).predicateType).toBe(RUNTIME_TRACE_PREDICATE_TYPE);
    await expect(fetchVerifiedImageTrace(img.ref, { keyPaths: [strangerPub], env: {}, cwd: dir })).rejects.toBeInstanceOf(VerificationFailedError);
  });

  it('referrers shows the tree with predicate types and key ids', async () => {
    const img = await attested('tree');
    const foreign = await client.attachArtifact(img.ref, { artifactType: 'application/vnd.example+json', layers: [{ mediaType: 'application/vnd.example+json', data: enc({}) }] });
    // a referrer of a referrer
    const listed = await client.listReferrers(parseReference(img.ref), { artifactType: BUNDLE_MEDIA_TYPE });
    const nested = await client.attachArtifact(`${img.name}@${listed[0]?.digest ?? ''}`, { artifactType: 'application/vnd.example.sig', layers: [{ mediaType: 'application/octet-stream', data: enc('sig') }] });
    const tree = await listReferrerTree(client, parseReference(img.ref));
    expect(tree.digest).toBe(img.digest);
    expect(tree.referrers.map((r) => r.predicateType ?? r.artifactType)).toEqual([RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE, 'application/vnd.example+json']);
    expect(tree.referrers.slice(0, 2).map((r) => r.keyId)).toEqual([keyId(signer.publicKey), keyId(signer.publicKey)]);
    expect(tree.referrers[0]?.referrers.map((r) => r.digest)).toEqual([nested.descriptor.digest]);
    const text = formatReferrerTree(tree);
    expect(text.split('\n')[0]).toBe(`${img.ref}@${img.digest}`);
    expect(text).toContain(`├── ${listed[0]?.digest} ${BUNDLE_MEDIA_TYPE}`);
    expect(text).toContain(`│   predicate type: ${RUNTIME_TRACE_PREDICATE_TYPE}`);
    expect(text).toContain(`│   └── ${nested.descriptor.digest} application/vnd.example.sig`);
    expect(text).toContain(`└── ${foreign.descriptor.digest} application/vnd.example+json`);
    const cli = io(dir);
    await runReferrers({ image: img.ref, json: true }, cli, client);
    expect(JSON.parse(cli.out.join(''))).toEqual(JSON.parse(JSON.stringify(tree)));
  });
});

describe('traceFromPredicate', () => {
  it('fills what an older predicate lacks', () => {
    const t = traceFromPredicate({ monitor: { details: { name: 'p' } }, buildSteps: [], lostEvents: 3 });
    expect(t).toMatchObject({ monitor: { name: 'p' }, lostEvents: 3, unattributedEvents: 0, runcSetupEvents: 0, ambiguities: [] });
    expect(t.losses.unattributedToSteps).toBe(3);
  });
});

describe('verify arguments', () => {
  it('an invalid image reference is a usage error', async () => {
    await expect(runVerify({ image: 'Not Valid', keys: ['x.pub'], json: false }, io('/'), new RegistryClient())).rejects.toMatchObject({ name: 'ImageReferenceError', exit: 'usage' });
  });
  it('a missing key file is a key error', async () => {
    const registry = new OciTestRegistry();
    const host = await registry.start();
    try {
      await expect(runVerify({ image: `${host}/a:b`, keys: ['/nonexistent/k.pub'], json: false }, io('/'), new RegistryClient())).rejects.toMatchObject({ name: 'AttestationError', code: 'key-not-found' });
    } finally {
      await registry.stop();
    }
  });
});
