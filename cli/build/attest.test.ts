// The signing phases of the build pipeline, run on hand-made BuildRun records (no daemon):
// flag checks and key loading before the build, attaching to a registry after the push,
// --key without --push writing bundle files, and the "pushed but not attested" failure.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyId, verifyBundle, writeKeyPair, RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE } from '../../attest/index.js';
import { RegistryClient, parseReference } from '../../oci/index.js';
import { pushTinyImage, sampleTrace } from '../../test/helpers/attest-fixtures.js';
import { OciTestRegistry } from '../../test/helpers/oci-server.js';
import type { DockerfileAstView } from '../contracts.js';
import { describeError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { parseTag } from './prepare.js';
import { NotAttestedError } from './errors.js';
import { BUNDLE_MEDIA_TYPE } from '../../verify/index.js';
import { attestPhase, signingCheckPhase } from './attest.js';
import type { BuildRequest, BuildRun } from './types.js';

type Run = BuildRun<DockerfileAstView, unknown, unknown>;

let dir = '';
const out: string[] = [];
const err: string[] = [];

function io(env: NodeJS.ProcessEnv = {}): CliIo {
  return {
    stdout: { write: (s: string) => void out.push(s) },
    stderr: { write: (s: string) => void err.push(s) },
    env: { HOME: dir, ...env },
    cwd: dir,
    clock: { now: () => Date.parse('2030-01-01T00:00:00Z') },
    ticker: () => () => undefined,
  };
}

function makeRun(request: Partial<BuildRequest>, tags: string[], env: NodeJS.ProcessEnv = {}): Run {
  return {
    request: { context: 'ctx', tags, buildArgs: [], labels: [], network: 'host', noCache: false, progress: 'plain', quiet: false, secrets: [], allow: [], ...request },
    io: io(env),
    toolchain: undefined as never,
    tags: tags.map(parseTag),
    buildArgs: { V: '1' },
    labels: {},
    inputs: { contextDir: join(dir, 'ctx'), dockerfilePath: join(dir, 'ctx', 'Dockerfile'), dockerfileName: 'Dockerfile', dockerfileText: 'FROM busybox:local\n', dockerignore: { patterns: [] } as never },
    entitlements: [],
    secrets: {},
    conversion: { definition: undefined, imageConfig: {}, steps: [], baseImages: [{ ref: 'docker.io/library/busybox:local', digest: `sha256:${'cd'.repeat(32)}` }] },
    imageId: `sha256:${'ef'.repeat(32)}`,
    defer: () => undefined,
    signal: new AbortController().signal,
    abort: () => undefined,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tracebuild-attest-phase-'));
  await writeKeyPair(join(dir, 'plain'));
  await writeKeyPair(join(dir, 'locked'), { password: 'pw' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('signing-check', () => {
  const check = signingCheckPhase<DockerfileAstView, unknown, unknown>();
  it('rejects --push without -t, --attest-out without --key, and --key alone (usage errors)', async () => {
    await expect(check.run(makeRun({ push: true, key: 'plain.key' }, []))).rejects.toThrow('--push needs at least one -t NAME');
    await expect(check.run(makeRun({ attestOut: 'out' }, ['a']))).rejects.toThrow('--attest-out needs --key FILE');
    const alone = await Promise.resolve(check.run(makeRun({ key: 'plain.key' }, ['a']))).catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(UsageError);
    expect(describeError(alone).exitCode).toBe(2);
    expect((alone as Error).message).toContain('--key without --push signs the local image id and needs --attest-out DIR (or --trace-out FILE)');
  });

  it('loads the key before the build, with the password from TRACEBUILD_KEY_PASSWORD', async () => {
    const run = makeRun({ push: true, key: 'locked.key' }, ['127.0.0.1:5000/a'], { TRACEBUILD_KEY_PASSWORD: 'pw' });
    await check.run(run);
    expect(run.signing?.keyId).toBe(keyId(readFileSync(join(dir, 'locked.pub'), 'utf8')));
    for (const [env, code] of [[{}, 'password-required'], [{ TRACEBUILD_KEY_PASSWORD: 'nope' }, 'wrong-password']] as const) {
      const e = await Promise.resolve(check.run(makeRun({ push: true, key: 'locked.key' }, ['127.0.0.1:5000/a'], env))).catch((x: unknown) => x);
      expect(e).toMatchObject({ name: 'AttestationError', code });
      expect(describeError(e)).toMatchObject({ kind: 'input', exitCode: 1 });
    }
    const missing = await Promise.resolve(check.run(makeRun({ push: true, key: 'none.key' }, ['x/y']))).catch((x: unknown) => x);
    expect(describeError(missing)).toMatchObject({ kind: 'input', exitCode: 1, message: `error: key file ${join(dir, 'none.key')} does not exist` });
  });

  it('warns when pushing without a key', async () => {
    err.length = 0;
    await check.run(makeRun({ push: true }, ['x/y']));
    expect(err.join('')).toContain('warning: --push without --key');
  });
});

describe('attest after push', () => {
  const registry = new OciTestRegistry({ referrersApi: false });
  let host = '';
  beforeAll(async () => {
    host = await registry.start();
  });
  afterAll(() => registry.stop());

  it('signs both statements per pushed repository and attaches them; writes them to --attest-out too', async () => {
    const client = new RegistryClient();
    const image = await pushTinyImage(client, host, 'app/one', 'v1');
    await pushTinyImage(client, host, 'app/two', 'v1');
    const run = makeRun({ push: true, key: 'plain.key', attestOut: 'bundles' }, [`${host}/app/one:v1`, `${host}/app/one:latest`, `${host}/app/two:v1`]);
    run.trace = sampleTrace();
    await signingCheckPhase<DockerfileAstView, unknown, unknown>().run(run);
    run.pushed = run.tags.map((reference) => ({ reference, repository: `${reference.registry}/${reference.repository}`, digest: image.digest }));
    out.length = 0;
    await attestPhase<DockerfileAstView, unknown, unknown>().run(run);

    // one image per repository (two tags of app/one are one subject)
    const printed = out.join('');
    expect(printed.match(/^Attested /gm)).toHaveLength(2);
    expect(printed).toContain(`Attested ${host}/app/one@${image.digest}: runtime-trace sha256:`);
    expect(printed).toContain('referrers via tag-schema');
    for (const repo of ['app/one', 'app/two']) {
      const listed = await client.listReferrers(parseReference(`${host}/${repo}`).withDigest(image.digest), { artifactType: BUNDLE_MEDIA_TYPE });
      expect(listed.map((d) => d.annotations?.['dev.sigstore.bundle.predicateType'])).toEqual([RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE]);
    }
    const files = readdirSync(join(dir, 'bundles')).sort();
    expect(files).toHaveLength(4);
    expect(files[0]).toMatch(/^127\.0\.0\.1_\d+_app_one\.sha256-[0-9a-f]{12}\.provenance\.sigstore\.json$/);
    const pub = readFileSync(join(dir, 'plain.pub'), 'utf8');
    for (const f of files) {
      const v = verifyBundle(readFileSync(join(dir, 'bundles', f), 'utf8'), { publicKeys: [pub], expectedSubjectDigest: image.digest });
      expect(v.statement.subject[0]?.name).toMatch(/app\/(one|two)$/);
    }
  });

  it('says the image was pushed but not attested when the registry fails', async () => {
    const down = new OciTestRegistry();
    const downHost = await down.start();
    const image = await pushTinyImage(new RegistryClient(), downHost, 'gone', 'v1');
    await down.stop();
    const run = makeRun({ push: true, key: 'plain.key' }, [`${downHost}/gone:v1`]);
    await signingCheckPhase<DockerfileAstView, unknown, unknown>().run(run);
    run.pushed = [{ reference: run.tags[0]!, repository: `${downHost}/gone`, digest: image.digest }];
    err.length = 0;
    const e = await Promise.resolve(attestPhase<DockerfileAstView, unknown, unknown>().run(run)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotAttestedError);
    expect((e as NotAttestedError).pushed).toEqual([`${downHost}/gone@${image.digest}`]);
    const report = describeError(e);
    expect(report).toMatchObject({ kind: 'remote', exitCode: 1 });
    expect(report.message).toMatch(new RegExp(`^error: image pushed as ${downHost.replace(/\./g, '\\.')}/gone@${image.digest} but not attested: `));
    expect(err.join('')).toContain('warning: no runtime trace was recorded');
  }, 60_000);
});

describe('--key without --push', () => {
  it('signs the local image id and writes the bundles next to --trace-out', async () => {
    const run = makeRun({ key: 'plain.key' }, ['example.com/app:v1']);
    run.request.traceOut = 'traces/trace.json';
    run.trace = sampleTrace();
    await signingCheckPhase<DockerfileAstView, unknown, unknown>().run(run);
    out.length = 0;
    await attestPhase<DockerfileAstView, unknown, unknown>().run(run);
    const files = readdirSync(join(dir, 'traces')).sort();
    expect(files).toEqual([
      `example.com_app.sha256-${'ef'.repeat(6)}.provenance.sigstore.json`,
      `example.com_app.sha256-${'ef'.repeat(6)}.runtime-trace.sigstore.json`,
    ]);
    const v = verifyBundle(readFileSync(join(dir, 'traces', files[1]!), 'utf8'), {
      publicKeys: [readFileSync(join(dir, 'plain.pub'), 'utf8')],
      expectedSubjectDigest: `sha256:${'ef'.repeat(32)}`,
    });
    expect(v.predicateType).toBe(RUNTIME_TRACE_PREDICATE_TYPE);
    expect(out.join('')).toContain('(image id)');
  });
});
