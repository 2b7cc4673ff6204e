// Signing, pushing and verifying against the real daemon and the real registry that
// scripts/env.sh starts on 127.0.0.1:5000 (CNCF distribution: no referrers API, so the
// referrers live in the sha256-<hex> tag-schema index). One build is pushed under several
// repositories (same manifest digest, separate referrers), so that each tamper case gets
// an image of its own.
//
// Tamper cases, each must exit 1 with its own message naming the image:
//   altered payload        a bundle whose statement was edited after signing
//   copied attestation     image A's bundle attached to another image B
//   wrong key              verify with a key that signed nothing here
//   truncated bundle       half a bundle uploaded as a referrer
//   foreign subject        a correctly signed statement about another digest
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  STATEMENT_TYPE_V1,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  loadPrivateKey,
  signStatement,
} from '../../attest/index.js';
import { MediaType, RegistryClient, parseReference, type Descriptor } from '../../oci/index.js';
import {
  BUNDLE_MEDIA_TYPE,
  EMPTY_DIGEST,
  PREDICATE_ANNOTATION,
  RUNTIME_TRACE_PREDICATE,
  SLSA_PREDICATE,
  checkDsseWithNodeCrypto,
  cosignStyleReferrer,
  fetchBlob,
  fetchManifest,
  keyIdOfPem,
  plainReferrers,
  sha256Hex,
  tracebuild,
  writeFiles,
} from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId } from '../helpers/index.js';

const gate = await integrationGate();
const REGISTRY = '127.0.0.1:5000';
const PASSWORD = 'attest-integration';
const env = { TRACEBUILD_KEY_PASSWORD: PASSWORD };

describe.skipIf(gate.skip)('signed attestations on the real registry (referrers tag schema)', () => {
  let work = '';
  let signerPub = '';
  let otherPub = '';
  let digest = '';
  const client = new RegistryClient({ retry: { attempts: 3, baseDelayMs: 50 } });
  const base = `tracebuild-test/attest-${runId}`;
  const repos = {
    main: `${base}-main`,
    altered: `${base}-altered`,
    truncated: `${base}-truncated`,
    foreignSubject: `${base}-foreign-subject`,
    copied: `${base}-copied`,
    twice: `${base}-twice`,
    untraced: `${base}-untraced`,
  };
  const image = (repo: string): string => `${REGISTRY}/${repo}:v1`;
  const pushedTags = [repos.main, repos.altered, repos.truncated, repos.foreignSubject].map(image);

  const build = (tags: readonly string[], extra: readonly string[] = [], context = 'ctx') =>
    tracebuild(
      ['build', '--network', 'host', '--progress', 'plain', ...tags.flatMap((t) => ['-t', t]), ...extra, path.join(work, context)],
      { env },
    );
  const verify = (ref: string, key = signerPub, extra: readonly string[] = []) => tracebuild(['verify', ref, '--key', key, ...extra]);

  /** The descriptor of the bundle referrer of `predicateType` on an image, and its bundle bytes. */
  async function bundleOf(repo: string, predicateType: string): Promise<{ entry: Descriptor; bytes: Buffer }> {
    const listed = await plainReferrers(REGISTRY, repo, digest, false);
    const entry = listed.find((d) => d.annotations?.[PREDICATE_ANNOTATION] === predicateType);
    if (entry === undefined) throw new Error(`no ${predicateType} referrer on ${repo}`);
    const m = await fetchManifest(REGISTRY, repo, entry.digest);
    const layer = (m?.json.layers as { digest: string }[])[0];
    return { entry, bytes: await fetchBlob(REGISTRY, repo, layer?.digest ?? '') };
  }

  /** Attaches raw bundle bytes to an image of `repo` as a cosign-style referrer. */
  async function attachBundle(repo: string, bytes: Uint8Array, predicateType: string): Promise<void> {
    const ref = parseReference(`${REGISTRY}/${repo}:v1`);
    const subject = await client.resolveManifest(ref);
    const at = ref.withDigest(subject.digest);
    await client.pushBlob(at, new Uint8Array([0x7b, 0x7d]), { mediaType: MediaType.OciEmpty });
    const layer = await client.pushBlob(at, bytes, { mediaType: BUNDLE_MEDIA_TYPE });
    const manifest = cosignStyleReferrer(subject, layer, predicateType);
    await client.attachReferrer(at, new TextEncoder().encode(JSON.stringify(manifest)));
  }

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-attest-'));
    writeFiles(path.join(work, 'ctx'), {
      'Dockerfile': 'FROM busybox:local\nCOPY hello.txt /hello.txt\nRUN echo built > /built.txt && cat /hello.txt\n',
      'hello.txt': `hello ${runId}\n`,
    });
    // Rebuilding gives the same image whether or not the build cache is used: no layer and
    // no history entry of its own (so no build time in the config).
    writeFiles(path.join(work, 'same'), { 'Dockerfile': 'FROM busybox:local\n' });
  });

  afterAll(async () => {
    for (const tag of [...pushedTags, image(repos.copied), image(repos.twice), image(repos.untraced)]) await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('keygen writes an encrypted 0600 private key and a public key, prints the key id, refuses to overwrite', async () => {
    const r = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    signerPub = path.join(work, 'signer.pub');
    const keyFile = path.join(work, 'signer.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    expect(r.stdout.trim()).toBe(keyIdOfPem(readFileSync(signerPub, 'utf8')));

    const again = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('already exists; refusing to overwrite it');

    const other = await tracebuild(['keygen', '--out', path.join(work, 'other')], { env: { TRACEBUILD_KEY_PASSWORD: undefined } });
    expect(other.exitCode, other.stderr).toBe(0);
    otherPub = path.join(work, 'other.pub');
    expect(readFileSync(path.join(work, 'other.key'), 'utf8')).toContain('-----BEGIN PRIVATE KEY-----');
  });

  test('--push without -t is a usage error, and a wrong key password fails before building', async () => {
    const noTag = await build([], ['--push', '--key', path.join(work, 'signer.key')]);
    expect(noTag.exitCode).toBe(2);
    expect(noTag.stderr).toContain('--push needs at least one -t NAME');
    const wrong = await tracebuild(
      ['build', '--network', 'host', '-t', image(repos.main), '--push', '--key', path.join(work, 'signer.key'), path.join(work, 'ctx')],
      { env: { TRACEBUILD_KEY_PASSWORD: 'not the password' } },
    );
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain('wrong password');
    expect(wrong.stdout).not.toContain('Successfully built');
  });

  test('build --push --key pushes every -t name and attaches signed bundles to each', async () => {
    const r = await build(pushedTags, ['--push', '--key', path.join(work, 'signer.key')]);
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).toBe(0);
    const digests = [...r.stdout.matchAll(/^Pushed \S+ as \S+@(sha256:[0-9a-f]{64})$/gm)].map((m) => m[1]);
    expect(digests.length, shown).toBe(pushedTags.length);
    expect(new Set(digests).size, 'one image, one manifest digest').toBe(1);
    digest = digests[0] ?? '';
    for (const repo of [repos.main, repos.altered, repos.truncated, repos.foreignSubject]) {
      expect(r.stdout).toContain(`Attested ${REGISTRY}/${repo}@${digest}`);
      expect((await fetchManifest(REGISTRY, repo, 'v1'))?.digest).toBe(digest);
    }
    expect(r.stdout).toContain('referrers via tag-schema');
    expect(r.stderr).not.toContain('only the SLSA provenance is signed');
  });

  test('the referrer is an OCI manifest in the cosign layout, and its DSSE signature verifies with node:crypto', async () => {
    const listed = await plainReferrers(REGISTRY, repos.main, digest, false);
    const types = listed.map((d) => d.annotations?.[PREDICATE_ANNOTATION]).sort();
    expect(types).toEqual([RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE]);
    const publicPem = readFileSync(signerPub, 'utf8');
    for (const entry of listed) {
      expect(entry).toMatchObject({ mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: BUNDLE_MEDIA_TYPE });
      const m = await fetchManifest(REGISTRY, repos.main, entry.digest);
      const doc = m?.json as Record<string, unknown>;
      expect(doc.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(doc.artifactType).toBe(BUNDLE_MEDIA_TYPE);
      expect(doc.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_DIGEST, artifactType: BUNDLE_MEDIA_TYPE });
      expect(doc.subject).toMatchObject({ digest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
      expect(doc.annotations).toMatchObject({ 'dev.sigstore.bundle.content': 'dsse-envelope', [PREDICATE_ANNOTATION]: entry.annotations?.[PREDICATE_ANNOTATION] });
      const layers = doc.layers as { mediaType: string; digest: string; size: number }[];
      expect(layers).toHaveLength(1);
      expect(layers[0]?.mediaType).toBe(BUNDLE_MEDIA_TYPE);
      const bytes = await fetchBlob(REGISTRY, repos.main, layers[0]?.digest ?? '');
      expect(bytes.length).toBe(layers[0]?.size);

      const checked = checkDsseWithNodeCrypto(bytes, publicPem);
      expect(checked.payloadType).toBe('application/vnd.in-toto+json');
      expect(checked.keyHint).toBe(keyIdOfPem(publicPem));
      // the DSSE signature carries no keyid (cosign skips signatures whose keyid is not its own)
      expect((JSON.parse(bytes.toString('utf8')) as { dsseEnvelope: { signatures: { keyid?: string }[] } }).dsseEnvelope.signatures[0]?.keyid ?? '').toBe('');
      expect(checked.statement.subject).toEqual([{ name: `${REGISTRY}/${repos.main}`, digest: { sha256: digest.slice(7) } }]);
      expect(checked.statement.predicateType).toBe(entry.annotations?.[PREDICATE_ANNOTATION]);
      if (checked.statement.predicateType === SLSA_PREDICATE) {
        const def = checked.statement.predicate.buildDefinition as { externalParameters: { dockerfile: { path: string } }; resolvedDependencies: { name: string }[] };
        expect(def.externalParameters.dockerfile.path).toBe('Dockerfile');
        expect(def.resolvedDependencies.map((d) => d.name)).toContain('docker.io/library/busybox:local');
        // the context file COPY was served, with its sha256, from the trace
        expect(def.resolvedDependencies).toContainEqual({ name: 'hello.txt', uri: 'local://context/hello.txt', digest: { sha256: sha256Hex(`hello ${runId}\n`) } });
      }
    }
    // A signature over different bytes does not verify: the check is real.
    const tampered = JSON.parse((await bundleOf(repos.main, SLSA_PREDICATE)).bytes.toString('utf8')) as { dsseEnvelope: { payload: string } };
    tampered.dsseEnvelope.payload = Buffer.from('{"_type":"x"}').toString('base64');
    expect(() => checkDsseWithNodeCrypto(Buffer.from(JSON.stringify(tampered)), publicPem)).toThrow(/does not verify/);
  });

  test('referrers shows the attestations with predicate type and signing key', async () => {
    const r = await tracebuild(['referrers', image(repos.main)]);
    expect(r.exitCode, r.stderr).toBe(0);
    const keyId = keyIdOfPem(readFileSync(signerPub, 'utf8'));
    expect(r.stdout).toContain(`${REGISTRY}/${repos.main}:v1@${digest}`);
    expect(r.stdout).toContain(`predicate type: ${SLSA_PREDICATE}`);
    expect(r.stdout).toContain(`predicate type: ${RUNTIME_TRACE_PREDICATE}`);
    expect(r.stdout).toContain(`signing key:    ${keyId}`);
  });

  test('verify passes with the signing key and shows the per-instruction summary', async () => {
    const r = await verify(image(repos.main));
    const shown = `${r.command}\n${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, shown).toBe(0);
    expect(r.stdout).toContain(`Verified: ${REGISTRY}/${repos.main}:v1@${digest}: 1 runtime-trace, 1 provenance`);
    expect(r.stdout).toMatch(/Dockerfile:3 RUN echo built/);
    expect(r.stdout).toMatch(/Dockerfile:2 COPY hello.txt \/hello.txt\s+copy: 1 file served/);
    const json = await verify(image(repos.main), signerPub, ['--json']);
    expect(json.exitCode, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { verified: boolean; attestations: { status: string; predicateType: string }[] };
    expect(report.verified).toBe(true);
    expect(report.attestations.map((a) => a.predicateType).sort()).toEqual([RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE]);
  });

  test('--no-trace: only the provenance is signed (with a warning), and verify says no runtime trace was found', async () => {
    const r = await build([image(repos.untraced)], ['--no-trace', '--push', '--key', path.join(work, 'signer.key')], 'same');
    expect(r.exitCode, lastLines(r.stdout + r.stderr, 30)).toBe(0);
    expect(r.stderr).toContain('warning: no runtime trace was recorded (--no-trace, or tracing was unavailable): only the SLSA provenance is signed');
    expect(r.stdout).toMatch(/Attested \S+: provenance sha256:[0-9a-f]{64} \(/);
    const v = await verify(image(repos.untraced));
    expect(v.exitCode, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toMatch(/OK +sha256:[0-9a-f]{64} +provenance/);
    expect(v.stderr).toContain(`error: no runtime-trace attestation for ${image(repos.untraced)} (sha256:`);
    expect(v.stderr).toContain('found only provenance; was it built with --no-trace?');
  });

  test("pushing the same image again adds referrers and keeps everyone else's", async () => {
    const key = ['--push', '--key', path.join(work, 'signer.key')];
    const first = await build([image(repos.twice)], key, 'same');
    expect(first.exitCode, lastLines(first.stdout + first.stderr, 30)).toBe(0);
    const twiceDigest = /^Pushed \S+ as \S+@(sha256:[0-9a-f]{64})$/m.exec(first.stdout)?.[1] ?? '';
    expect(twiceDigest).not.toBe('');

    // Another tool attached something in between.
    const foreign = await client.attachArtifact(`${REGISTRY}/${repos.twice}:v1`, {
      artifactType: 'application/vnd.example.sbom+json',
      layers: [{ mediaType: 'application/vnd.example.sbom+json', data: new TextEncoder().encode(JSON.stringify({ sbom: runId })) }],
      annotations: { 'org.example.tool': 'other' },
    });
    const before = (await plainReferrers(REGISTRY, repos.twice, twiceDigest, false)).map((d) => d.digest);
    expect(before).toHaveLength(3);
    expect(before).toContain(foreign.descriptor.digest);

    const second = await build([image(repos.twice)], key, 'same');
    expect(second.exitCode, lastLines(second.stdout + second.stderr, 30)).toBe(0);
    expect(second.stdout, 'the same image, pushed again').toContain(`as ${REGISTRY}/${repos.twice}@${twiceDigest}`);

    const after = await plainReferrers(REGISTRY, repos.twice, twiceDigest, false);
    const afterDigests = after.map((d) => d.digest);
    for (const d of before) expect(afterDigests).toContain(d);
    expect(after.length).toBe(before.length + 2);
    expect(after.find((d) => d.digest === foreign.descriptor.digest)).toMatchObject({
      artifactType: 'application/vnd.example.sbom+json',
      annotations: { 'org.example.tool': 'other' },
    });

    const listing = await tracebuild(['referrers', image(repos.twice)]);
    expect(listing.stdout).toContain(`${foreign.descriptor.digest} application/vnd.example.sbom+json`);
    const v = await verify(image(repos.twice));
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('1 older runtime-trace attestation(s) of this image also verified');
    expect(v.stdout).toContain(`Verified: ${image(repos.twice)}@${twiceDigest}: 2 runtime-trace, 2 provenance`);
  });

  test('tamper: an altered payload fails as altered', async () => {
    const { bytes } = await bundleOf(repos.altered, RUNTIME_TRACE_PREDICATE);
    const bundle = JSON.parse(bytes.toString('utf8')) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: Record<string, unknown> };
    statement.predicate.injected = 'evil';
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    await attachBundle(repos.altered, Buffer.from(JSON.stringify(bundle)), RUNTIME_TRACE_PREDICATE);

    const r = await verify(image(repos.altered));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: ${image(repos.altered)}: attestation`);
    expect(r.stderr).toContain('the attestation was altered after it was signed');
    expect(r.stdout).toContain('[signature-invalid]');
  });

  test('tamper: an attestation copied onto another image fails as copied', async () => {
    // Image B: the base image alone, pushed by docker (no attestations of its own).
    const tagged = await run(dockerCli, ['tag', 'busybox:local', image(repos.copied)]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    const pushed = await run(dockerCli, ['push', image(repos.copied)], { timeoutMs: 120_000 });
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    const { bytes } = await bundleOf(repos.main, RUNTIME_TRACE_PREDICATE);
    await attachBundle(repos.copied, bytes, RUNTIME_TRACE_PREDICATE);

    const r = await verify(image(repos.copied));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: ${image(repos.copied)}: attestation`);
    expect(r.stderr).toContain(`it was made for another image (${REGISTRY}/${repos.main}@${digest}) and copied onto this one`);
    expect(r.stdout).toContain('[copied-from-another-image]');
  });

  test('tamper: the wrong key fails: nothing is signed by a trusted key, and the output says who signed', async () => {
    const r = await verify(image(repos.main), otherPub);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    const signerId = keyIdOfPem(readFileSync(signerPub, 'utf8'));
    expect(r.stderr).toContain(`error: no attestation of ${image(repos.main)} (${digest}) is signed by a trusted signer`);
    expect(r.stderr).toContain(`it is signed by key ${signerId}, which is not a trusted key`);
    expect(r.stdout).toContain('[unknown-key]');
  });

  test('tamper: a truncated bundle fails as not a valid bundle', async () => {
    const { bytes } = await bundleOf(repos.truncated, RUNTIME_TRACE_PREDICATE);
    await attachBundle(repos.truncated, bytes.subarray(0, Math.floor(bytes.length / 2)), RUNTIME_TRACE_PREDICATE);
    const r = await verify(image(repos.truncated));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: ${image(repos.truncated)}: attestation`);
    expect(r.stderr).toContain('the bundle is not a valid Sigstore bundle (truncated or corrupted)');
    expect(r.stdout).toContain('[malformed-bundle]');
  });

  test('tamper: a correctly signed statement about another digest fails as a subject mismatch', async () => {
    const other = `sha256:${randomBytes(32).toString('hex')}`;
    const privateKey = await loadPrivateKey(path.join(work, 'signer.key'), PASSWORD);
    const bundle = await signStatement(
      {
        _type: STATEMENT_TYPE_V1,
        subject: [{ name: `${REGISTRY}/${repos.foreignSubject}`, digest: { sha256: other.slice(7) } }],
        predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
        predicate: { buildDefinition: { buildType: 'x', externalParameters: {} }, runDetails: { builder: { id: 'x' } } },
      },
      { privateKey },
    );
    await attachBundle(repos.foreignSubject, Buffer.from(JSON.stringify(bundle)), SLSA_PROVENANCE_PREDICATE_TYPE);
    const r = await verify(image(repos.foreignSubject));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: ${image(repos.foreignSubject)}: attestation`);
    expect(r.stderr).toContain(`its statement is about ${REGISTRY}/${repos.foreignSubject}@${other}, not this image's digest ${digest}`);
    expect(r.stdout).toContain('[subject-mismatch]');
  });
});
