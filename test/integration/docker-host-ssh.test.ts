// DOCKER_HOST=ssh://root@127.0.0.1:PORT against a real sshd this test starts (its own host
// key, authorized_keys and config in a temp dir; `sshd -D` as a child), whose sessions run
// `docker system dial-stdio` against this run's daemon. A traced build and its push go
// through it: the /grpc and /session upgrades and the Engine API push all ride ssh.
//
// The system ssh client reads its settings from the user's real ~/.ssh, whatever HOME says,
// so the test puts an `ssh` first in PATH that adds `-F CONFIG`: a known_hosts file the
// test made (strict host key checking stays on) and the test's client key.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import { fetchManifest, tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, dockerCli } from '../helpers/daemons.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const REGISTRY = '127.0.0.1:5000';

/** A port nothing listens on (for sshd, and for the unreachable case). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(gate.skip || noTracing !== undefined)('DOCKER_HOST=ssh://', () => {
  let work = '';
  let sshd: ChildProcess | undefined;
  let sshdLog = '';
  let port = 0;
  let env: Record<string, string> = {};
  const repo = `tracebuild-test/ssh-host-${currentDaemon().id}`;
  const image = `${REGISTRY}/${repo}:${runId}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-ssh-host-'));
    for (const key of ['host_key', 'client_key']) {
      const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `tracebuild-${key}-${runId}`, '-f', path.join(work, key)]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    writeFileSync(path.join(work, 'authorized_keys'), readFileSync(path.join(work, 'client_key.pub')));
    port = await freePort();
    writeFileSync(
      path.join(work, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(work, 'host_key')}`,
        `AuthorizedKeysFile ${path.join(work, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // the files are in a temp dir under /tmp, which is world-writable
        'StrictModes no',
        'PidFile none',
        // the remote `docker system dial-stdio` dials this run's daemon
        `SetEnv DOCKER_HOST=${currentDaemon().dockerHost}`,
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege separation directory
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(work, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      sshd?.stderr?.on('data', (b: Buffer) => {
        sshdLog += b.toString('utf8');
        if (sshdLog.includes(`Server listening on 127.0.0.1 port ${port}`)) resolve();
      });
      sshd?.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${sshdLog}`)));
    });

    const hostKey = readFileSync(path.join(work, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(path.join(work, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
    writeFileSync(
      path.join(work, 'ssh_config'),
      [
        'Host 127.0.0.1',
        `  UserKnownHostsFile ${path.join(work, 'known_hosts')}`,
        '  StrictHostKeyChecking yes',
        `  IdentityFile ${path.join(work, 'client_key')}`,
        '  IdentitiesOnly yes',
        '  BatchMode yes',
        '',
      ].join('\n'),
    );
    const bin = path.join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${path.join(work, 'ssh_config')} "$@"\n`);
    chmodSync(path.join(bin, 'ssh'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH ?? ''}`, DOCKER_HOST: `ssh://root@127.0.0.1:${port}` };

    writeFiles(path.join(work, 'ctx'), {
      Dockerfile: `FROM busybox:local\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copied.txt && echo ${runId} >> /copied.txt\n`,
      'hello.txt': `hello over ssh ${runId}\n`,
    });
  });

  afterAll(async () => {
    await removeImage(image);
    if (sshd?.pid !== undefined) sshd.kill();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a traced build and its push go through ssh ... docker system dial-stdio', async () => {
    const traceOut = path.join(work, 'trace.json');
    const r = await tracebuild(['build', '--network', 'host', '--progress', 'plain', '-t', image, '--push', '--trace-out', traceOut, path.join(work, 'ctx')], {
      env,
      timeoutMs: 240_000,
    });
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    // it came through this sshd, with the test's key
    expect(sshdLog).toMatch(/Accepted publickey for root from 127\.0\.0\.1/);

    // the push went through the Engine API over ssh, and the registry has what it reported
    const pushed = new RegExp(`Pushed ${image.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} as ${REGISTRY}/${repo}@(sha256:[0-9a-f]{64})`).exec(r.stdout);
    expect(pushed, r.stdout).not.toBeNull();
    const manifest = await fetchManifest(REGISTRY, repo, runId);
    expect(manifest?.digest).toBe(pushed?.[1]);

    // the image is in the daemon the ssh sessions dial (this run's daemon)
    const inspected = await run(dockerCli, ['image', 'inspect', '--format', '{{json .RepoDigests}}', image]);
    expect(inspected.exitCode, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain(`${REGISTRY}/${repo}@${pushed?.[1]}`);

    // traced: the RUN's cat ran, with its sha256
    const trace = JSON.parse(readFileSync(traceOut, 'utf8')) as Trace;
    const runStep = trace.buildSteps.find((s) => s.keyword.toUpperCase() === 'RUN');
    expect(runStep?.cached).toBe(false);
    const cat = runStep?.processes.find((p) => p.argv[0] === 'cat' && p.argv[1] === '/hello.txt');
    expect(cat, JSON.stringify(runStep?.processes.map((p) => p.argv))).toBeDefined();
    expect(cat?.exeSha256).toMatch(/^[0-9a-f]{64}$/);
    // and the context file COPY sent over the /session upgrade is in the image
    const out = await run(dockerCli, ['run', '--rm', '--network', 'none', image, 'cat', '/copied.txt']);
    expect(out.stdout).toBe(`hello over ssh ${runId}\n${runId}\n`);
  });

  test('an ssh host nothing answers on: exit 3, the address named', async () => {
    const closed = await freePort();
    const address = `ssh://root@127.0.0.1:${closed}`;
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', path.join(work, 'ctx')], {
      env: { ...env, DOCKER_HOST: address },
      timeoutMs: 120_000,
    });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain(address);
    expect(r.stderr).toContain(`connect to host 127.0.0.1 port ${closed}: Connection refused`);
  });
});
