// The guard's decision without dockerd: which Engine API calls are judged, the verdict
// cache, the image gate against an in-test registry with signed attestations, the plugin's
// answers (with a fake dockerd on a unix socket) and AdmissionReview handling.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, keyId, parsePolicy, type Policy } from '../../attest/index.js';
import { RegistryClient } from '../../oci/index.js';
import { pushTinyImage, sampleTrace, signAndAttach, statementsFor } from '../../test/helpers/attest-fixtures.js';
import { OciTestRegistry } from '../../test/helpers/oci-server.js';
import type { TrustedKey } from '../../verify/index.js';
import { reviewAdmission } from './admission.js';
import { decide } from './authz-plugin.js';
import { classifyRequest, routedPath, type AuthzRequest } from './docker-request.js';
import { ImageGate, refusalMessage, type ImageGateOptions } from './image-gate.js';
import { VerdictCache } from './verdict-cache.js';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');
/** An AuthZReq as dockerd sends it; `null`: no body shown to the plugin. */
const create = (uri: string, body: unknown = { Image: 'app:v1' }, method = 'POST'): AuthzRequest => ({
  RequestMethod: method,
  RequestUri: uri,
  RequestBody: body === null ? null : b64(body),
});

describe('which Engine API calls the guard judges', () => {
  it('sees the path dockerd routes on', () => {
    expect(routedPath('/v1.41/containers/create?name=x')).toBe('/containers/create');
    expect(routedPath('//v1.41//containers/./create/')).toBe('/containers/create');
    expect(routedPath('/containers%2Fcreate')).toBe('/containers/create');
    expect(routedPath('/v1.41/containers/../containers/create')).toBe('/containers/create');
    expect(routedPath('/_ping')).toBe('/_ping');
    expect(routedPath('/v1.41')).toBe('/');
    // dockerd's version pattern is [0-9.]+, and Go's server takes the absolute form.
    expect(routedPath('/v1.41./containers/create')).toBe('/containers/create');
    expect(routedPath('/v.../containers/create')).toBe('/containers/create');
    expect(routedPath('http://x/v1.41/containers/create?name=a')).toBe('/containers/create');
  });

  it('judges creates by the image in the body, whatever the spelling of the path', () => {
    for (const uri of ['/containers/create', '/v1.41/containers/create?name=web', '/v1.24//containers/create/', '/containers%2fcreate', '/v1.41./containers/create', 'http://x/v1.41/containers/create']) {
      expect(classifyRequest(create(uri))).toEqual({ kind: 'create-container', image: 'app:v1', path: '/containers/create' });
    }
    expect(classifyRequest({ ...create('/containers/create'), RequestMethod: 'post' }).kind).toBe('create-container');
  });

  it('refuses to guess when the body is missing or says nothing', () => {
    expect(classifyRequest(create('/v1.41/containers/create', null)).kind).toBe('refuse');
    expect(classifyRequest({ ...create('/containers/create'), RequestBody: Buffer.from('not json').toString('base64') })).toMatchObject({ kind: 'refuse', problem: 'the request body is not JSON' });
    expect(classifyRequest(create('/containers/create', { Cmd: ['sh'] }))).toMatchObject({ kind: 'refuse', problem: 'the request names no image' });
  });

  it('reads the image key as Go does (any case), and refuses two of them', () => {
    expect(classifyRequest(create('/containers/create', { image: 'lower:v1' }))).toMatchObject({ kind: 'create-container', image: 'lower:v1' });
    expect(classifyRequest(create('/containers/create', { Image: 'trusted:v1', image: 'evil:v1' }))).toMatchObject({
      kind: 'refuse',
      problem: 'the request body has 2 keys that dockerd reads as image (Image, image)',
    });
  });

  it('judges swarm services by their task image, refuses managed plugins', () => {
    const spec = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'app:v1' } } };
    expect(classifyRequest(create('/v1.41/services/create', spec))).toMatchObject({ kind: 'service', image: 'app:v1' });
    expect(classifyRequest(create('/v1.41/services/abc/update?version=3', spec))).toMatchObject({ kind: 'service', image: 'app:v1' });
    for (const uri of ['/v1.41/plugins/pull?remote=x', '/plugins/create?name=x', '/v1.41/plugins/vieux/sshfs:latest/enable', '/plugins/x/upgrade']) {
      expect(classifyRequest(create(uri, null)).kind, uri).toBe('refuse');
    }
  });

  it('judges starts and restarts by container, lets everything else through', () => {
    expect(classifyRequest(create('/v1.41/containers/abc123/start', null))).toEqual({ kind: 'start-container', container: 'abc123', path: '/containers/abc123/start' });
    expect(classifyRequest(create('/containers/web/restart?t=1', null)).kind).toBe('start-container');
    // A link alias is a container name with a slash.
    expect(classifyRequest(create('/v1.41/containers/web/db/start', null))).toMatchObject({ kind: 'start-container', container: 'web/db' });
    for (const [method, uri] of [
      ['GET', '/v1.41/containers/create'],
      ['POST', '/v1.41/build?t=x'],
      ['POST', '/grpc'],
      ['POST', '/session'],
      ['POST', '/v1.41/images/127.0.0.1:5000/app/push?tag=v1'],
      ['POST', '/v1.41/containers/abc/stop'],
      ['GET', '/v1.41/containers/json'],
      ['POST', '/v1.41/containers/abc/update'],
      ['POST', '/v1.41/exec/abc/start'],
      ['POST', '/v1.41/images/create?fromImage=x'],
      ['POST', '/v1.41/volumes/create'],
    ] as const) {
      expect(classifyRequest(create(uri, null, method)).kind, `${method} ${uri}`).toBe('other');
    }
  });
});

describe('VerdictCache', () => {
  it('forgets entries after the TTL', () => {
    let now = 1000;
    const cache = new VerdictCache<string>({ ttlMs: 100, maxEntries: 10, now: () => now });
    cache.set('a', 'yes');
    now = 1099;
    expect(cache.get('a')).toBe('yes');
    now = 1100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new VerdictCache<number>({ ttlMs: 60_000, maxEntries: 2 });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // b is now the least recently used
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
  });

  it('a TTL of 0 disables it', () => {
    const cache = new VerdictCache<number>({ ttlMs: 0, maxEntries: 2 });
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });
});

const PASSING = parsePolicy(
  `name: passing
rules:
  - name: no-etc-writes
    each: files
    deny: file.path.startsWith("/etc/")
    message: writes under /etc
`,
  'passing.yaml',
);
const FAILING = parsePolicy(
  `name: pinned-shell
rules:
  - name: shell-digest-pinned
    each: processes
    deny: process.exe == "/bin/busybox" && process.exeSha256 != "${'cd'.repeat(32)}"
    message: the shell is not the pinned build
`,
  'failing.yaml',
);

describe('ImageGate, against a registry with signed attestations', () => {
  const registry = new OciTestRegistry();
  const client = new RegistryClient({ retry: { attempts: 1 } });
  const signer = generateKeyPair();
  const stranger = generateKeyPair();
  const trusted: TrustedKey[] = [{ id: keyId(signer.publicKey), key: signer.publicKey, path: 'signer.pub' }];
  let host = '';
  let n = 0;
  const logs: string[] = [];

  async function image(options: { attest?: 'signer' | 'stranger' | 'none' } = {}): Promise<{ tagRef: string; digestRef: string }> {
    const repo = `guard/img-${++n}`;
    const d = await pushTinyImage(client, host, repo, 'v1', `salt-${n}`);
    const name = `${host}/${repo}`;
    const who = options.attest ?? 'signer';
    if (who !== 'none') {
      for (const s of statementsFor({ name, digest: d.digest }, sampleTrace())) {
        await signAndAttach(client, host, repo, d.digest, s, (who === 'signer' ? signer : stranger).privateKey);
      }
    }
    return { tagRef: `${name}:v1`, digestRef: `${name}@${d.digest}` };
  }

  function gate(overrides: Partial<ImageGateOptions> & { policy?: Policy } = {}): ImageGate {
    return new ImageGate({
      client,
      trusted,
      policy: PASSING,
      allowUnattested: false,
      cacheTtlMs: 60_000,
      cacheSize: 10,
      timeoutMs: 10_000,
      log: (line) => logs.push(line),
      ...overrides,
    });
  }

  beforeAll(async () => {
    host = await registry.start();
  });
  afterAll(async () => {
    await registry.stop();
  });

  it('allows an image whose attestations verify and pass, and answers the second time from the cache', async () => {
    const img = await image();
    const g = gate();
    const first = await g.checkDigests(img.tagRef, [img.digestRef]);
    expect(first).toMatchObject({ allowed: true, digestRef: img.digestRef });
    const before = registry.log.length;
    const second = await g.checkDigests(img.tagRef, [img.digestRef]);
    expect(second).toMatchObject({ allowed: true, cached: true });
    expect(registry.log.length, 'a cached digest is not fetched again').toBe(before);
  });

  it('refuses a policy violation, naming the image, the rule, the Dockerfile line and the event', async () => {
    const img = await image();
    const v = await gate({ policy: FAILING, allowUnattested: true }).checkDigests(img.tagRef, [img.digestRef]);
    expect(v).toMatchObject({ allowed: false, refusal: 'untrusted', violation: { rule: 'shell-digest-pinned', line: 3 } });
    const message = refusalMessage(v);
    expect(message).toContain(`tracebuild guard refused ${img.tagRef} (${img.digestRef.slice(0, img.digestRef.indexOf('@sha256:') + 20)}`);
    expect(message).toContain('policy pinned-shell: rule shell-digest-pinned at Dockerfile:3 RUN echo built > /built.txt: the shell is not the pinned build');
    expect(message).toContain(`[process /bin/busybox sha256:${'bb'.repeat(32)} (pid 10: /bin/sh -c echo built > /built.txt)]`);
  });

  it('refuses, rather than stalls, when the policy exceeds its evaluation limits', async () => {
    const img = await image();
    const hostile = parsePolicy(
      `params:\n  l: [${Array.from({ length: 1000 }, (_, i) => i).join(', ')}]\nrules:\n  - name: hostile\n    deny: params.l.all(a, params.l.all(b, params.l.all(c, true)))\n    message: m\n`,
      'hostile.yaml',
    );
    const v = await gate({ policy: hostile }).checkDigests(img.tagRef, [img.digestRef]);
    expect(v).toMatchObject({ allowed: false, refusal: 'untrusted' });
    expect(v.reason).toMatch(/^the policy could not be evaluated on its trace: hostile\.yaml: rule 'hostile': deny: evaluation exceeded its cost limit/);
  });

  it("allows an image that also carries somebody else's attestations (another signer, another type)", async () => {
    const img = await image();
    const name = img.digestRef.slice(0, img.digestRef.indexOf('@'));
    const digest = img.digestRef.slice(img.digestRef.indexOf('@') + 1);
    const repo = name.slice(host.length + 1);
    const [trace] = statementsFor({ name, digest }, sampleTrace());
    if (trace === undefined) throw new Error('no statement');
    await signAndAttach(client, host, repo, digest, { ...trace, predicateType: 'https://slsa.dev/provenance/v1', predicate: { by: 'github' } }, stranger.privateKey);
    await signAndAttach(client, host, repo, digest, { ...trace, predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1', predicate: {} }, stranger.privateKey);
    const v = await gate().checkDigests(img.tagRef, [img.digestRef]);
    expect(v).toMatchObject({ allowed: true });
    expect(v.reason).toContain(`signed by key ${keyId(signer.publicKey)}`);
  });

  it('refuses attestations signed by an unknown key, even with --allow-unattested', async () => {
    const img = await image({ attest: 'stranger' });
    const v = await gate({ allowUnattested: true }).checkDigests(img.tagRef, [img.digestRef]);
    expect(v).toMatchObject({ allowed: false, refusal: 'untrusted' });
    expect(v.reason).toMatch(/^its attestations do not verify: .*not a trusted key/);
  });

  it('refuses unattested images by default; --allow-unattested lets them through, loudly', async () => {
    const img = await image({ attest: 'none' });
    const refused = await gate().checkDigests(img.tagRef, [img.digestRef]);
    expect(refused).toMatchObject({ allowed: false, refusal: 'unattested' });
    expect(refused.reason).toContain('has no signed attestations attached');
    expect(refused.reason).toContain('see --allow-unattested');

    logs.length = 0;
    const escaped = await gate({ allowUnattested: true }).checkDigests(img.tagRef, [img.digestRef]);
    expect(escaped).toMatchObject({ allowed: true, escaped: true });
    expect(logs.join('\n')).toContain(`WARNING: ALLOWING UNATTESTED IMAGE ${img.tagRef}`);

    const noDigest = await gate().checkDigests('local-only:v1', []);
    expect(noDigest).toMatchObject({ allowed: false, refusal: 'unattested' });
    expect(noDigest.reason).toContain('has no registry digest');
  });

  it('refuses when the registry cannot be reached or is too slow', async () => {
    const gone = await gate().checkDigests('x:v1', ['127.0.0.1:1/x@sha256:' + 'ab'.repeat(32)]);
    expect(gone).toMatchObject({ allowed: false, refusal: 'unattested' });
    expect(gone.reason).toMatch(/^cannot fetch the attestations of 127\.0\.0\.1:1\/x@sha256:/);

    const slow = gate({ timeoutMs: 50, verify: () => new Promise(() => undefined) });
    const v = await slow.checkDigests('x:v1', [`${host}/x@sha256:${'ab'.repeat(32)}`]);
    expect(v.reason).toContain('no answer within 0.05 s');
  });

  it('shares one verification between concurrent checks, and caches one that outlives the deadline', async () => {
    const img = await image();
    let calls = 0;
    let release: () => void = () => undefined;
    const gated = new Promise<void>((resolve) => (release = resolve));
    const { verifyImageWithKeys } = await import('../../verify/index.js');
    const g = gate({
      timeoutMs: 100,
      verify: async (c, ref, keys) => {
        calls++;
        await gated;
        return verifyImageWithKeys(c, ref, keys);
      },
    });
    const [a, b] = await Promise.all([g.checkDigests(img.tagRef, [img.digestRef]), g.checkDigests(img.tagRef, [img.digestRef])]);
    expect(calls, 'one verification for both').toBe(1);
    expect([a.allowed, b.allowed]).toEqual([false, false]);
    expect(a.reason).toContain(`verifying ${img.tagRef} took too long: no answer within 0.1 s`);
    release();
    await new Promise((r) => setTimeout(r, 300));
    expect(await g.checkDigests(img.tagRef, [img.digestRef]), 'the late result was cached').toMatchObject({ allowed: true, cached: true });
    expect(calls).toBe(1);
  });

  it('tries every RepoDigest, the named repository first', async () => {
    const bad = await image({ attest: 'none' });
    const good = await image();
    const v = await gate().checkDigests(bad.tagRef, [bad.digestRef, good.digestRef]);
    expect(v).toMatchObject({ allowed: true, digestRef: good.digestRef });
    const both = await gate().checkDigests(good.tagRef, [bad.digestRef, `${good.digestRef.split('@')[0]}@sha256:${'00'.repeat(32)}`]);
    expect(both.allowed).toBe(false);
    expect(both.digestRef, 'the refusal shown is that of the repository the user named').toContain(good.digestRef.split('@')[0]);
  });

  it('resolves a tag in the registry for references (Kubernetes)', async () => {
    const img = await image();
    expect(await gate().checkReference(img.tagRef)).toMatchObject({ allowed: true, digestRef: img.digestRef });
    expect(await gate().checkReference(img.digestRef)).toMatchObject({ allowed: true, digestRef: img.digestRef });
    expect(await gate().checkReference('Not A Reference')).toMatchObject({ allowed: false, refusal: 'untrusted' });
  });

  describe('the plugin, with a fake dockerd', () => {
    let dir = '';
    let fake: Server;
    const images = new Map<string, { Id: string; RepoDigests: string[] }>();
    const containers = new Map<string, { Image: string; Config: { Image: string } }>();
    const asked: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'guard-engine-'));
      fake = createServer((req, res) => {
        const path = decodeURIComponent(req.url ?? '');
        asked.push(path);
        const image = /^\/images\/(.+)\/json$/.exec(path)?.[1];
        const container = /^\/containers\/(.+)\/json$/.exec(path)?.[1];
        const doc = image !== undefined ? images.get(image) : container !== undefined ? containers.get(container) : undefined;
        res.writeHead(doc === undefined ? 404 : 200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(doc ?? { message: 'No such object' }));
      });
      await new Promise<void>((resolve) => fake.listen(join(dir, 'docker.sock'), resolve));
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('allows a verified image, refuses the others with the reason, judges starts by the container', async () => {
      const good = await image();
      const bad = await image();
      images.set(good.tagRef, { Id: 'sha256:1111', RepoDigests: [good.digestRef] });
      images.set('sha256:1111', { Id: 'sha256:1111', RepoDigests: [good.digestRef] });
      images.set(bad.tagRef, { Id: 'sha256:2222', RepoDigests: [bad.digestRef] });
      images.set('sha256:2222', { Id: 'sha256:2222', RepoDigests: [bad.digestRef] });
      containers.set('web', { Image: 'sha256:2222', Config: { Image: bad.tagRef } });
      const engine = { kind: 'unix' as const, path: join(dir, 'docker.sock') };
      const options = { gate: gate({ policy: FAILING }), engine, log: () => undefined };
      const okGate = { ...options, gate: gate() };

      expect(await decide(create('/v1.41/containers/create', { Image: good.tagRef }), okGate)).toMatchObject({ allow: true, judged: true });
      const refused = await decide(create('/v1.41/containers/create', { Image: bad.tagRef }), options);
      expect(refused).toMatchObject({ allow: false });
      expect(refused.msg).toContain(`tracebuild guard refused ${bad.tagRef}`);
      expect(refused.msg).toContain('rule shell-digest-pinned at Dockerfile:3');

      const start = await decide(create('/v1.41/containers/web/start', null), options);
      expect(start.allow).toBe(false);
      expect(start.msg).toContain(`refused ${bad.tagRef}`);

      // Not present locally: dockerd answers 404 and docker run pulls; the start check follows.
      expect(await decide(create('/containers/create', { Image: 'elsewhere:v1' }), options)).toMatchObject({ allow: true });
      // A create it cannot read, or an empty request (a retry after a restart): refused.
      expect((await decide(create('/containers/create', null), options)).msg).toContain('did not show the guard the request body');
      expect((await decide(undefined, options)).msg).toContain('empty authorization request');

      // A start of a container dockerd does not know: refused (it would 404 anyway).
      expect((await decide(create('/containers/nope/start', null), options)).msg).toContain('refused to start container nope: dockerd at unix://');

      asked.length = 0;
      expect(await decide(create('/v1.41/build?t=x', null), options)).toEqual({ allow: true, judged: false, msg: '' });
      expect(asked, 'other calls are answered without asking dockerd').toEqual([]);
    });

    it('refuses when dockerd cannot be asked', async () => {
      const options = { gate: gate(), engine: { kind: 'unix' as const, path: join(dir, 'nobody.sock') }, log: () => undefined };
      const d = await decide(create('/containers/create'), options);
      expect(d.allow).toBe(false);
      expect(d.msg).toMatch(/could not judge POST \/containers\/create: cannot reach dockerd/);
    });
  });

  describe('AdmissionReview', () => {
    const review = (object: unknown, extra: Record<string, unknown> = {}): unknown => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'uid-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object, ...extra },
    });
    const pod = (...images: string[]): unknown => ({
      spec: { initContainers: [{ name: 'init', image: images[0] }], containers: images.slice(1).map((image, i) => ({ name: `c${i}`, image })) },
    });

    it('allows a Pod whose images all pass, warning about tags', async () => {
      const a = await image();
      const b = await image();
      const answer = await reviewAdmission(review(pod(a.digestRef, b.tagRef)), gate());
      expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-1', allowed: true } });
      expect(answer.response.warnings).toEqual([expect.stringContaining(`image ${b.tagRef} is referenced by tag; verified ${b.digestRef}`)]);
    });

    it('refuses a Pod with one bad image, with a 403 naming the container and the rule', async () => {
      const a = await image();
      const answer = await reviewAdmission(review(pod(a.digestRef, a.tagRef)), gate({ policy: FAILING }));
      expect(answer.response.allowed).toBe(false);
      expect(answer.response.status?.code).toBe(403);
      expect(answer.response.status?.message).toContain('initContainer "init": tracebuild guard refused');
      expect(answer.response.status?.message).toContain('container "c0": tracebuild guard refused');
      expect(answer.response.status?.message).toContain('rule shell-digest-pinned at Dockerfile:3');
    });

    it('judges UPDATEs and ephemeral containers too', async () => {
      const a = await image();
      const update = await reviewAdmission(review(pod(a.digestRef, a.digestRef), { operation: 'UPDATE' }), gate({ policy: FAILING }));
      expect(update.response.allowed).toBe(false);
      const debug = await reviewAdmission(
        review({ ephemeralContainers: [{ name: 'debugger', image: a.digestRef }] }, { kind: { group: '', version: 'v1', kind: 'EphemeralContainers' } }),
        gate({ policy: FAILING }),
      );
      expect(debug.response.status?.message).toContain('ephemeralContainer "debugger": tracebuild guard refused');
      const pinned = await reviewAdmission(review(pod(a.digestRef, a.digestRef)), gate());
      expect(pinned.response).toEqual({ uid: 'uid-1', allowed: true });
    });

    it('lets other kinds and operations through, rejects what is not a review', async () => {
      expect((await reviewAdmission(review({}, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), gate())).response.allowed).toBe(true);
      expect((await reviewAdmission(review({}, { operation: 'DELETE' }), gate())).response.allowed).toBe(true);
      await expect(reviewAdmission({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1' }, gate())).rejects.toThrow(/admission\.k8s\.io\/v1/);
      await expect(reviewAdmission(review({}, { uid: 7 }), gate())).rejects.toThrow(/request\.uid/);
    });
  });
});
