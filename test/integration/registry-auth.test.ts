// Registry credentials through the build session (#18.1), against the real daemon and a
// second real registry (Debian's docker-registry) on 127.0.0.1 with htpasswd (bcrypt)
// authentication that holds the base image:
//   without credentials the build fails naming the registry and saying "unauthorized",
//   at once (no anonymous pull, no hang);
//   with the credentials in $DOCKER_CONFIG/config.json, FROM that image builds;
//   the password appears nowhere: not in the output, the trace or the signed attestations.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const KEY_PASSWORD = 'registry-auth-integration';

/** A port nothing listens on now (the registry binds it right after). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function answers401(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 401;
  } catch {
    return false;
  }
}

describe.skipIf(gate.skip || noTracing !== undefined)('registry credentials through the session (htpasswd registry)', () => {
  let work = '';
  let registry: ChildProcess | undefined;
  let host = '';
  const user = 'tb-user';
  const password = `tb-pw-${randomBytes(12).toString('hex')}`;
  const base = () => `${host}/tb-auth-base:${runId}`;
  const tag = uniqueTag('registry-auth', 'tracebuild');

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-registry-auth-'));
    const htpasswd = await run('htpasswd', ['-Bbn', user, password]);
    expect(htpasswd.exitCode, htpasswd.stderr).toBe(0);
    writeFileSync(path.join(work, 'htpasswd'), htpasswd.stdout);
    host = `127.0.0.1:${await freePort()}`;
    mkdirSync(path.join(work, 'storage'));
    writeFileSync(
      path.join(work, 'registry.yml'),
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${path.join(work, 'storage')}`,
        'http:',
        `  addr: ${host}`,
        'auth:',
        '  htpasswd:',
        '    realm: tracebuild-test',
        `    path: ${path.join(work, 'htpasswd')}`,
        '',
      ].join('\n'),
    );
    registry = spawn('docker-registry', ['serve', path.join(work, 'registry.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let registryLog = '';
    registry.stderr?.on('data', (b: Buffer) => (registryLog += b.toString('utf8')));
    // Started, not flaky: wait for it to answer before anything uses it.
    for (let i = 0; i < 100 && !(await answers401(`http://${host}/v2/`)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await answers401(`http://${host}/v2/`), `registry on ${host} did not start: ${registryLog}`).toBe(true);

    // The base image goes in with the docker CLI's own login, then leaves the daemon's store
    // (a tagged local image would be used without asking the registry).
    const pushConfig = path.join(work, 'push-config');
    mkdirSync(pushConfig);
    writeFileSync(path.join(pushConfig, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
    for (const args of [['tag', 'busybox:local', base()], ['push', base()], ['rmi', base()]]) {
      const r = await run(dockerCli, ['--config', pushConfig, ...args]);
      expect(r.exitCode, `${r.command}\n${r.stderr}`).toBe(0);
    }
    const keys = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env: { TRACEBUILD_KEY_PASSWORD: KEY_PASSWORD } });
    expect(keys.exitCode, keys.stderr).toBe(0);
    writeFiles(work, { 'ctx/Dockerfile': `FROM ${base()}\nRUN echo built-from-private > /built\n` });
    // Docker configs: one without an entry for the registry, one with the credentials.
    writeFiles(work, {
      'no-creds/config.json': JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('someone:else').toString('base64') } } }),
      'creds/config.json': JSON.stringify({ auths: { [`http://${host}/v2/`]: { username: user, password } } }),
    });
  }, 120_000);

  afterAll(async () => {
    registry?.kill('SIGTERM');
    await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (config: string, extra: string[] = []) =>
    tracebuild(['build', '--network', 'host', '--progress', 'plain', '-t', tag, ...extra, 'ctx'], {
      cwd: work,
      env: { DOCKER_CONFIG: path.join(work, config), TRACEBUILD_KEY_PASSWORD: KEY_PASSWORD },
      timeoutMs: 180_000,
    });

  test('without credentials the build fails: the registry named, "unauthorized", nothing pulled anonymously', async () => {
    const r = await build('no-creds');
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.timedOut, shown).toBe(false);
    expect(r.exitCode, shown).toBe(4); // authentication (README: Exit codes)
    const lastLine = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(lastLine, shown).toContain(host);
    expect(lastLine.toLowerCase(), shown).toContain('unauthorized');
    expect(r.stderr, shown).not.toContain('built-from-private');
  });

  test('with the credentials in the Docker config FROM the private image builds; the password is nowhere in output, trace or attestations', async () => {
    const traceOut = path.join(work, 'trace.json');
    const attestOut = path.join(work, 'attest');
    const r = await build('creds', ['--no-cache', '--trace-out', traceOut, '--key', 'signer.key', '--attest-out', attestOut]);
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).toBe(0);
    const check = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', '/built']);
    expect(check.stdout.trim(), check.stderr).toBe('built-from-private');

    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    const leaks = [password, basic];
    for (const leaked of leaks) expect(r.stdout + r.stderr, 'password in the output').not.toContain(leaked);
    const trace = readFileSync(traceOut, 'utf8');
    expect(trace).toContain(base()); // the trace names the base image it came from...
    for (const leaked of leaks) expect(trace, 'password in the trace').not.toContain(leaked); // ...never its password
    const bundles = readdirSync(attestOut).map((f) => readFileSync(path.join(attestOut, f), 'utf8'));
    expect(bundles.length).toBeGreaterThanOrEqual(2);
    for (const b of bundles) {
      const payload = Buffer.from((JSON.parse(b) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString('utf8');
      expect(payload).toContain(`tb-auth-base`);
      for (const leaked of leaks) expect(payload, 'password in an attestation').not.toContain(leaked);
    }
  });

  test('after a build with credentials, one without still fails: the daemon does not hand the credentials on', async () => {
    const r = await build('no-creds');
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).toBe(4);
    expect(r.stderr.toLowerCase(), shown).toContain('unauthorized');
  });
});
