// `tracebuild guard` where containers start, with the real dockerd: the trojanized-compiler
// scenario (testdata/trojan) built, signed and pushed by tracebuild WHILE the guard is on,
// then `docker run` of the clean image is allowed and of the trojanized one refused with
// the rule, the Dockerfile line and the offending digest. Then what a user sees when the
// guard crashes, hangs, or is gone altogether, and how `scripts/env.sh guard-off` recovers.
// Last, the same decision as a Kubernetes admission webhook, over HTTPS, for real
// AdmissionReview requests.
//
// It runs on a second dockerd that scripts/env.sh starts for it
// (TRACEBUILD_DOCKER_INSTANCE=guard-test), so that turning the guard on never disturbs the
// main daemon the other tests use.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex, tracebuild } from '../helpers/attest.js';
import { ensureCliBuilt, integrationGate, lastLines, repoRoot, run, runId, testdataDir, type RunResult } from '../helpers/index.js';

const gate = await integrationGate();
const INSTANCE = 'guard-test';
const GUARD = `tracebuild-guard-${INSTANCE}`;
const DOCKER_SOCK = `/run/tracebuild/${INSTANCE}/docker.sock`;
const GUARD_SOCK = `/run/docker/plugins/${GUARD}.sock`;
const GUARD_PIDFILE = `/run/tracebuild/${INSTANCE}/guard.pid`;
const GUARD_LOG = `/var/log/tracebuild/guard-${GUARD}.log`;
const REGISTRY = '127.0.0.1:5000';
const PASSWORD = 'guard-test';
const scenario = path.join(testdataDir, 'trojan');
const RUN_LINE = 4;

const instanceEnv = { TRACEBUILD_DOCKER_INSTANCE: INSTANCE };
const docker = (args: readonly string[], timeoutMs = 180_000): Promise<RunResult> =>
  run('/usr/bin/docker', ['-H', `unix://${DOCKER_SOCK}`, ...args], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs });
const envScript = (args: readonly string[]): Promise<RunResult> =>
  run('bash', [path.join(repoRoot, 'scripts', 'env.sh'), ...args], { env: instanceEnv, timeoutMs: 300_000 });
const shown = (r: RunResult): string => `${r.command} (exit ${r.exitCode}, ${Math.round(r.durationMs)} ms)\n${lastLines(r.stdout + r.stderr, 30)}`;

async function guardStatus(): Promise<{ pid: number; requests: number; judged: number; refused: number; cachedDigests: number }> {
  const r = await run('curl', ['-fsS', '--max-time', '2', '--unix-socket', GUARD_SOCK, 'http://guard/tracebuild/status']);
  expect(r.exitCode, shown(r)).toBe(0);
  return JSON.parse(r.stdout) as { pid: number; requests: number; judged: number; refused: number; cachedDigests: number };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe.skipIf(gate.skip)('tracebuild guard: dockerd refuses to run what the policy refuses', () => {
  let work = '';
  let server: net.Server | undefined;
  let port = 0;
  const sha = { clean: '', trojan: '' };
  const bases = { clean: `guard-test/cc-clean:${runId}`, trojan: `guard-test/cc-trojan:${runId}` };
  const images = {
    clean: `${REGISTRY}/tracebuild-test/guard-${runId}-clean:v1`,
    trojan: `${REGISTRY}/tracebuild-test/guard-${runId}-trojan:v1`,
  };
  /** Created before the guard was on: its start is judged all the same. */
  const precreated = `guard-test-precreated-${runId}`;
  const pub = (): string => path.join(work, 'signer.pub');
  const policyFile = (): string => path.join(work, 'policy.yaml');

  async function buildBase(kind: 'clean' | 'trojan'): Promise<void> {
    const dir = path.join(work, `base-${kind}`);
    await run('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(scenario, 'base', 'Dockerfile')));
    const defines = kind === 'trojan' ? ['-DTROJAN', `-DIMPLANT_PORT=${port}`] : [];
    const cc = await run('gcc', ['-static', '-O2', ...defines, '-o', path.join(dir, 'cc'), path.join(scenario, 'cc.c')]);
    expect(cc.exitCode, shown(cc)).toBe(0);
    sha[kind] = sha256Hex(readFileSync(path.join(dir, 'cc')));
    const built = await docker(['build', '--network', 'host', '-q', '-t', bases[kind], dir]);
    expect(built.exitCode, shown(built)).toBe(0);
  }

  /** tracebuild build --key --push on the guarded daemon. */
  function buildApp(kind: 'clean' | 'trojan'): Promise<RunResult> {
    return tracebuild(
      [
        'build', '--network', 'host', '--progress', 'plain', '--no-cache', '--build-arg', `BASE=${bases[kind]}`,
        '--trace-out', path.join(work, `trace-${kind}.json`), '--key', path.join(work, 'signer.key'), '--push', '-t', images[kind],
        path.join(scenario, 'app'),
      ],
      { env: { TRACEBUILD_KEY_PASSWORD: PASSWORD, DOCKER_HOST: `unix://${DOCKER_SOCK}` } },
    );
  }

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-guard-'));
    server = net.createServer((socket) => {
      socket.resume();
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as net.AddressInfo).port;

    // A guard left on by an earlier, interrupted run would refuse the base builds' setup.
    const off = await envScript(['guard-off']);
    const up = await envScript([]);
    expect(up.exitCode, `${shown(off)}\n${shown(up)}`).toBe(0);
    const keygen = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env: { TRACEBUILD_KEY_PASSWORD: PASSWORD } });
    expect(keygen.exitCode, shown(keygen)).toBe(0);
    await buildBase('clean');
    await buildBase('trojan');
    writeFileSync(policyFile(), readFileSync(path.join(scenario, 'policy.yaml.in'), 'utf8').replace('@CLEAN_SHA256@', sha.clean));
    const created = await docker(['create', '--name', precreated, bases.clean, 'true']);
    expect(created.exitCode, shown(created)).toBe(0);

    const on = await envScript(['guard-on', '--key', pub(), '--policy', policyFile()]);
    expect(on.exitCode, shown(on)).toBe(0);
    expect(on.stderr).toContain(`guard on: dockerd on ${DOCKER_SOCK} asks ${GUARD} before every call`);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    const off = await envScript(['guard-off']);
    if (off.exitCode !== 0) console.warn(shown(off));
    await docker(['rm', '-f', precreated]);
    for (const image of [...Object.values(images), ...Object.values(bases)]) await docker(['image', 'rm', '-f', image]);
    await envScript(['stop-dockerd']);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('tracebuild builds, signs and pushes while the guard is on', async () => {
    for (const kind of ['clean', 'trojan'] as const) {
      const r = await buildApp(kind);
      expect(r.exitCode, shown(r)).toBe(0);
      expect(r.stdout).toContain(`Attested ${images[kind].replace(/:v1$/, '')}@sha256:`);
    }
    const status = await guardStatus();
    expect(status.requests, 'the builds went through the guard').toBeGreaterThan(10);
  });

  test('docker run of the clean image is allowed, and the second run is answered from the cache', async () => {
    const r = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app']);
    expect(r.exitCode, shown(r)).toBe(0);
    expect(r.stdout, 'the "compiled" app is its source, copied by the stand-in compiler').toContain('hello from the app');
    const before = await guardStatus();
    const again = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app']);
    expect(again.exitCode, shown(again)).toBe(0);
    expect(before.cachedDigests).toBeGreaterThanOrEqual(1);
    const log = readFileSync(GUARD_LOG, 'utf8');
    expect(log).toMatch(new RegExp(`allow ${images.clean.replace(/[.]/g, '\\.')} \\(\\S+@sha256:[0-9a-f]{64}\\): cached`));
  });

  test('docker run of the trojanized image is refused with the rule, the Dockerfile line and the digest', async () => {
    const r = await docker(['run', '--rm', '--network', 'host', images.trojan, 'cat', '/out/app']);
    expect(r.exitCode, shown(r)).toBe(125);
    const stderr = r.stderr.replace(/\s+/g, ' ');
    expect(stderr).toContain(`authorization denied by plugin ${GUARD}: tracebuild guard refused ${images.trojan} (`);
    expect(stderr).toContain(
      `policy trojan-compiler: rule compiler-digest-pinned at Dockerfile:${RUN_LINE} RUN cc -o /out/app /src/main.c: /usr/local/bin/cc ran with sha256 ${sha.trojan}, which is not one of the pinned digests`,
    );
    expect(stderr).toContain(`[process /usr/local/bin/cc sha256:${sha.trojan}`);
    expect(stderr).toContain('and 1 more violation(s): egress-not-allowlisted');
    // No container was made.
    const ps = await docker(['ps', '-a', '--filter', `ancestor=${images.trojan}`, '-q']);
    expect(ps.stdout.trim()).toBe('');
  });

  test('spellings and bodies that try to get past the guard are refused by dockerd', async () => {
    const body = JSON.stringify({ Image: images.trojan, Cmd: ['true'] });
    const attempts: Array<[string, string[]]> = [
      ['a chunked body, which dockerd does not show the plugin', ['-H', 'Transfer-Encoding: chunked', 'http://docker/v1.41/containers/create']],
      ['a version prefix ending in a dot', ['http://docker/v1.41./containers/create']],
      ['two Image keys', ['http://docker/v1.41/containers/create']],
    ];
    for (const [what, args] of attempts) {
      const data = what === 'two Image keys' ? JSON.stringify({ Image: images.clean, image: images.trojan, Cmd: ['true'] }) : body;
      const r = await run('curl', ['-sS', '--unix-socket', DOCKER_SOCK, '-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', data, '-w', '\n%{http_code}', ...args]);
      expect(r.stdout.trim().split('\n').pop(), `${what}: ${r.stdout}`).toBe('403');
      expect(r.stdout, what).toContain(`authorization denied by plugin ${GUARD}: tracebuild guard refused`);
    }
    const ps = await docker(['ps', '-a', '--filter', `ancestor=${images.trojan}`, '-q']);
    expect(ps.stdout.trim(), 'no container was made').toBe('');
  });

  test('docker run of an image that is not local yet pulls it, then the guard judges it', async () => {
    const rm = await docker(['image', 'rm', images.clean]);
    expect(rm.exitCode, shown(rm)).toBe(0);
    const r = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app']);
    expect(r.exitCode, shown(r)).toBe(0);
    expect(r.stderr).toContain(`Unable to find image '${images.clean}' locally`);
    expect(r.stdout).toContain('hello from the app');
  });

  test('an image that never went through a registry is refused; pulls, inspects and the like pass', async () => {
    const r = await docker(['run', '--rm', bases.clean, 'true']);
    expect(r.exitCode, shown(r)).toBe(125);
    expect(r.stderr).toContain(`tracebuild guard refused ${bases.clean}: ${bases.clean} has no registry digest`);
    expect(r.stderr).toContain('see --allow-unattested');
    for (const args of [['pull', '-q', images.trojan], ['image', 'inspect', images.trojan], ['ps', '-a'], ['version']]) {
      const ok = await docker(args);
      expect(ok.exitCode, shown(ok)).toBe(0);
    }
  });

  test('a container created before the guard was on is refused when it starts', async () => {
    const r = await docker(['start', precreated]);
    expect(r.exitCode, shown(r)).toBe(1);
    expect(r.stderr).toContain(`authorization denied by plugin ${GUARD}: tracebuild guard refused ${bases.clean}: ${bases.clean} has no registry digest`);
  });

  test('a crashed worker is restarted by the supervisor: the user sees a short delay', async () => {
    const { pid } = await guardStatus();
    process.kill(pid, 'SIGKILL');
    const r = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app']);
    expect(r.exitCode, shown(r)).toBe(0);
    console.info(`guard: docker run right after the worker was killed took ${Math.round(r.durationMs)} ms`);
    expect((await guardStatus()).pid).not.toBe(pid);
  });

  test('a hung worker is killed by the watchdog and replaced: the call waits, then completes', async () => {
    const { pid } = await guardStatus();
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app'], 120_000);
      console.info(`guard: docker run while the worker was hung took ${Math.round(r.durationMs)} ms`);
      // dockerd retries after the connection drops; the retry reaches the new worker.
      expect(r.exitCode === 0 || r.stderr.includes('empty authorization request'), shown(r)).toBe(true);
      expect(r.durationMs).toBeLessThan(60_000);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // killed by the watchdog, as expected
      }
    }
    const log = readFileSync(GUARD_LOG, 'utf8');
    expect(log).toContain(`guard worker (pid ${pid}) did not answer 3 health probes in a row: killing it and starting another`);
    const again = await docker(['run', '--rm', '--network', 'host', images.clean, 'cat', '/out/app']);
    expect(again.exitCode, shown(again)).toBe(0);
  });

  test('a guard that is gone makes dockerd refuse every call with its name; guard-off recovers', async () => {
    const guardPid = Number(readFileSync(GUARD_PIDFILE, 'utf8').trim());
    process.kill(-guardPid, 'SIGKILL'); // the supervisor and its worker
    const r = await docker(['ps'], 120_000);
    console.info(`guard: docker ps with the guard gone failed after ${Math.round(r.durationMs)} ms: ${r.stderr.trim()}`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`plugin ${GUARD} failed with error`);
    const status = await envScript(['--status']);
    expect(status.stdout).toContain(`guard: configured but NOT answering (${GUARD}): scripts/env.sh guard-off`);

    const off = await envScript(['guard-off']);
    expect(off.exitCode, shown(off)).toBe(0);
    const ps = await docker(['ps']);
    expect(ps.exitCode, shown(ps)).toBe(0);
    const trojan = await docker(['run', '--rm', '--network', 'host', images.trojan, 'cat', '/out/app']);
    expect(trojan.exitCode, 'with the guard off, nothing is refused').toBe(0);
  });

  describe('as a Kubernetes validating admission webhook', () => {
    let webhookPort = 0;
    let ca = '';
    let guardProcess: ReturnType<typeof import('node:child_process').spawn> | undefined;

    function review(uid: string, image: string): Promise<{ status: number; body: Record<string, unknown> }> {
      const doc = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid,
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: 'default',
          operation: 'CREATE',
          userInfo: { username: 'test' },
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `app-${uid}` }, spec: { containers: [{ name: 'app', image }] } },
          dryRun: false,
        },
      };
      return new Promise((resolve, reject) => {
        const body = JSON.stringify(doc);
        const req = httpsRequest(
          { host: '127.0.0.1', port: webhookPort, path: '/validate?timeout=10s', method: 'POST', ca, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (b: Buffer) => parts.push(b));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown> }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    }

    beforeAll(async () => {
      // A certificate for 127.0.0.1, as a cluster's webhook Service would have one for its DNS name.
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=tracebuild-guard', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', path.join(work, 'webhook.key'), '-out', path.join(work, 'webhook.crt'),
      ], { stdio: 'ignore' });
      ca = readFileSync(path.join(work, 'webhook.crt'), 'utf8');
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
      webhookPort = (probe.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const { spawn } = await import('node:child_process');
      guardProcess = spawn(process.execPath, [
        path.join(repoRoot, 'dist', 'cli', 'main.js'), 'guard', '--no-docker-plugin', '--webhook', `127.0.0.1:${webhookPort}`,
        '--tls-cert', path.join(work, 'webhook.crt'), '--tls-key', path.join(work, 'webhook.key'),
        '--key', pub(), '--policy', policyFile(),
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      guardProcess.stderr?.on('data', (b: Buffer) => (log += b.toString()));
      await waitFor(`the webhook to listen (log: ${log})`, async () => log.includes('admission webhook listening'), 30_000);
    });

    afterAll(() => {
      guardProcess?.kill('SIGTERM');
    });

    test('allows a Pod with the clean image and refuses one with the trojanized image, over HTTPS', async () => {
      const allowed = await review('uid-clean', images.clean);
      expect(allowed.status).toBe(200);
      expect(allowed.body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-clean', allowed: true } });
      expect((allowed.body.response as { warnings?: string[] }).warnings?.[0]).toContain(`image ${images.clean} is referenced by tag`);

      const refused = await review('uid-trojan', images.trojan);
      expect(refused.status).toBe(200);
      const response = refused.body.response as { uid: string; allowed: boolean; status: { code: number; message: string } };
      expect(response).toMatchObject({ uid: 'uid-trojan', allowed: false, status: { code: 403 } });
      expect(response.status.message).toContain(`container "app": tracebuild guard refused ${images.trojan}`);
      expect(response.status.message).toContain(`rule compiler-digest-pinned at Dockerfile:${RUN_LINE}`);
      expect(response.status.message).toContain(sha.trojan);
    });
  });
});
