// The trojan-compiler scenario (README "Policies", testdata/trojan/): two base images with
// a `/usr/local/bin/cc` at the same path that produce the same output, one of them
// trojanized (it also writes /tmp/.implant and connects to a TCP server this test runs on
// 127.0.0.1). The same application is built on each with tracebuild, signed and pushed;
// then
//   - `verify IMAGE --key --policy` with the clean compiler's digest pinned passes the
//     clean image and fails the trojanized one, naming the Dockerfile line, the changed
//     digest and the connection;
//   - `diff CLEAN TROJAN --key` shows exactly the changed digest, the added file write and
//     the added network peer (pids, timings and the like are not compared).
// Runs against the real dockerd, registry and probe (scripts/env.sh); never skips in CI.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex, tracebuild } from '../helpers/attest.js';
import { dockerBuild, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, testdataDir } from '../helpers/index.js';

const gate = await integrationGate();
const REGISTRY = '127.0.0.1:5000';
const PASSWORD = 'trojan-compiler';
const env = { TRACEBUILD_KEY_PASSWORD: PASSWORD };
const scenario = path.join(testdataDir, 'trojan');
const RUN_LINE = 4;

describe.skipIf(gate.skip)('trojan compiler: verify --policy and diff catch a trojanized base image', () => {
  let work = '';
  let server: net.Server | undefined;
  let port = 0;
  let connections = 0;
  const sha = { clean: '', trojan: '' };
  const bases = { clean: `tracebuild-test/cc-clean:${runId}`, trojan: `tracebuild-test/cc-trojan:${runId}` };
  const images = {
    clean: `${REGISTRY}/tracebuild-test/trojan-app-${runId}-clean:v1`,
    trojan: `${REGISTRY}/tracebuild-test/trojan-app-${runId}-trojan:v1`,
  };
  const pub = (): string => path.join(work, 'signer.pub');
  const policyFile = (): string => path.join(work, 'policy.yaml');

  async function buildBase(kind: 'clean' | 'trojan'): Promise<void> {
    const dir = path.join(work, `base-${kind}`);
    rmSync(dir, { recursive: true, force: true });
    await run('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(scenario, 'base', 'Dockerfile')));
    const defines = kind === 'trojan' ? ['-DTROJAN', `-DIMPLANT_PORT=${port}`] : [];
    const cc = await run('gcc', ['-static', '-O2', ...defines, '-o', path.join(dir, 'cc'), path.join(scenario, 'cc.c')]);
    expect(cc.exitCode, `${cc.command}\n${cc.stderr}`).toBe(0);
    sha[kind] = sha256Hex(readFileSync(path.join(dir, 'cc')));
    const built = await dockerBuild(dir, { tag: bases[kind] });
    expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 30)}`).toBe(0);
  }

  /** Builds, signs and pushes the application on a base. The scenario compares complete
   * traces: the build's trace must have lost no kernel event. */
  async function buildApp(kind: 'clean' | 'trojan'): Promise<void> {
    const traceOut = path.join(work, `trace-${kind}.json`);
    const r = await tracebuild(
      [
        'build', '--network', 'host', '--progress', 'plain', '--no-cache',
        '--build-arg', `BASE=${bases[kind]}`, '--trace-out', traceOut,
        '--key', path.join(work, 'signer.key'), '--push', '-t', images[kind],
        path.join(scenario, 'app'),
      ],
      { env },
    );
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    expect(r.stdout).toContain(`Attested ${images[kind].replace(/:v1$/, '')}@sha256:`);
    const trace = JSON.parse(readFileSync(traceOut, 'utf8')) as { lostEvents: number; losses: unknown };
    expect({ kind, lostEvents: trace.lostEvents, losses: trace.losses }).toMatchObject({ kind, lostEvents: 0 });
  }

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-trojan-'));
    server = net.createServer((socket) => {
      connections++;
      socket.resume();
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;

    const keygen = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env });
    expect(keygen.exitCode, keygen.stderr).toBe(0);
    await buildBase('clean');
    await buildBase('trojan');
    expect(sha.clean).not.toBe(sha.trojan);
    writeFileSync(policyFile(), readFileSync(path.join(scenario, 'policy.yaml.in'), 'utf8').replace('@CLEAN_SHA256@', sha.clean));
    await buildApp('clean');
    const before = connections;
    await buildApp('trojan');
    expect(connections, 'the trojanized compiler connected to the test server while building').toBeGreaterThan(before);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    for (const tag of [...Object.values(images), ...Object.values(bases)]) await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('verify --policy passes the image built with the pinned compiler', async () => {
    const r = await tracebuild(['verify', images.clean, '--key', pub(), '--policy', policyFile()]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`Verified: ${images.clean}@sha256:`);
    expect(r.stdout).toContain(`Policy passed: ${policyFile()} (trojan-compiler)`);
    expect(r.stdout).not.toContain('VIOLATION');
  });

  test('verify --policy fails the trojanized image: the RUN line, the new digest, the connection', async () => {
    const r = await tracebuild(['verify', images.trojan, '--key', pub(), '--policy', policyFile()]);
    const shown = `${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, shown).toBe(1);
    expect(r.stdout).toContain(`Verified: ${images.trojan}@sha256:`);
    expect(r.stdout).toContain(`VIOLATION  compiler-digest-pinned: /usr/local/bin/cc ran with sha256 ${sha.trojan}, which is not one of the pinned digests`);
    expect(r.stdout).toContain(`VIOLATION  egress-not-allowlisted: connection to tcp 127.0.0.1:${port} is not in the egress allowlist`);
    expect(r.stdout).toContain(`at Dockerfile:${RUN_LINE} RUN cc -o /out/app /src/main.c`);
    expect(r.stdout).toContain(`process /usr/local/bin/cc sha256:${sha.trojan}`);
    expect(r.stdout).toContain(`network tcp outbound 127.0.0.1:${port}`);
    expect(r.stdout).toContain('Policy FAILED');
    expect(r.stderr).toContain(`error: ${images.trojan}@sha256:`);
    expect(r.stderr).toContain(`2 violation(s) of policy ${policyFile()}`);

    const json = await tracebuild(['verify', images.trojan, '--key', pub(), '--policy', policyFile(), '--json']);
    expect(json.exitCode).toBe(1);
    const doc = JSON.parse(json.stdout) as { verified: boolean; policy: { passed: boolean; violations: { rule: string; step: { line: number } }[] } };
    expect(doc.verified).toBe(true);
    expect(doc.policy.passed).toBe(false);
    expect(doc.policy.violations.map((v) => [v.rule, v.step.line])).toEqual([
      ['compiler-digest-pinned', RUN_LINE],
      ['egress-not-allowlisted', RUN_LINE],
    ]);
  });

  test('diff CLEAN TROJAN shows exactly the changed digest, the implant and the connection', async () => {
    const r = await tracebuild(['diff', images.clean, images.trojan, '--key', pub(), '--json']);
    expect(r.exitCode, r.stderr).toBe(1);
    const diff = JSON.parse(r.stdout) as { identical: boolean; steps: Record<string, unknown>[] };
    expect(diff.identical).toBe(false);
    expect(diff.steps).toEqual([
      {
        status: 'changed',
        stage: expect.anything() as unknown,
        instruction: 'RUN cc -o /out/app /src/main.c',
        occurrence: 0,
        lineA: RUN_LINE,
        lineB: RUN_LINE,
        processes: { added: [], removed: [] },
        digests: [{ exe: '/usr/local/bin/cc', removed: [sha.clean], added: [sha.trojan] }],
        network: { added: [{ protocol: 'tcp', address: '127.0.0.1', port, direction: 'outbound' }], removed: [] },
        files: { added: [{ change: 'created', path: '/tmp/.implant' }], removed: [] },
      },
    ]);

    const text = await tracebuild(['diff', images.clean, images.trojan, '--key', pub()]);
    expect(text.exitCode, text.stderr).toBe(1);
    expect(text.stdout).toContain(sha.trojan);
    expect(text.stdout).toContain('/tmp/.implant');
    expect(text.stdout).toContain(`127.0.0.1:${port}`);
  });
});
