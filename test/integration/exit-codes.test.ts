// The exit codes a script can tell apart (#18.8; README "Exit codes"), each from a real
// failure on the real daemon: 1 a failed build, 2 a usage error, 3 an unreachable daemon or
// registry, 130 an interrupted build. (4, a refused registry login, is shown against a real
// htpasswd registry in registry-auth.test.ts.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { ensureCliBuilt, imageExists, integrationGate, lastLines, removeImage, tracebuildCli, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(gate.skip)('exit codes', () => {
  let work = '';
  const tag = uniqueTag('exit-codes', 'tracebuild');

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-exit-codes-'));
    writeFiles(work, {
      'fails/Dockerfile': 'FROM busybox:local\nRUN echo unauthorized connection refused && exit 3\n',
      'slow/Dockerfile': `FROM busybox:local\nRUN echo sleeping-${Date.now()} && sleep 60\n`,
      'ok/Dockerfile': 'FROM busybox:local\n',
    });
  });

  afterAll(async () => {
    await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (args: string[], env: Record<string, string> = {}) =>
    tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', ...args], { cwd: work, env, timeoutMs: 120_000 });

  test('1: a failed RUN, whatever its output and command line say', async () => {
    const r = await build(['fails']);
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(1);
    expect(r.stderr).toContain('Dockerfile:2:');
  });

  test('2: a usage error', async () => {
    const r = await build(['--no-such-flag', 'ok']);
    expect(r.exitCode, r.stderr).toBe(2);
  });

  test('3: a daemon that is not there', async () => {
    const r = await build(['ok'], { DOCKER_HOST: `unix://${path.join(work, 'no-daemon.sock')}` });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('cannot connect to BuildKit');
  });

  test('3: a base image registry nothing listens on, named with the FROM line', async () => {
    const registry = `127.0.0.1:${await closedPort()}`;
    writeFiles(work, { 'unreachable/Dockerfile': `FROM ${registry}/base:1\n` });
    const r = await build(['unreachable']);
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(3);
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^Dockerfile:1: /);
    expect(last).toContain(registry);
    expect(last).toContain('connection refused');
  });

  test('130: a build interrupted with SIGINT while a RUN runs; nothing is tagged', async () => {
    const child = spawn(process.execPath, [tracebuildCli, 'build', '--no-trace', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', tag, 'slow'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupt once the RUN is running (its echo is in the progress), not at a guessed time.
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString('utf8');
        if (/sleeping-\d+\n/.test(stderr.replace(/^#\d+ [\d.]+ /gm, ''))) resolve();
      });
      void exited.then(() => resolve());
    });
    child.kill('SIGINT');
    const code = await exited;
    expect(code, lastLines(stderr, 20)).toBe(130);
    expect(await imageExists(tag)).toBe(false);
  });
});
