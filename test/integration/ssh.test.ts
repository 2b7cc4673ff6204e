// --ssh against the real daemon: a RUN --mount=type=ssh speaks the agent protocol to the
// forwarded socket. busybox has no unix-socket client, so the RUN uses this machine's own
// ssh-add (copied into the image with its shared libraries and run by their loader): it
// lists the agent's keys (REQUEST_IDENTITIES), has the agent sign with the key and checks
// the signature (`ssh-add -T`, SIGN_REQUEST), and tries to delete every key, which the
// read-only forwarding refuses (the agent still holds the key afterwards). A required
// ssh mount (`required=true`; they are optional by default, as in BuildKit) without --ssh
// is named with its line before anything runs. `--ssh ID=KEYFILE`: the key is served by a
// private agent for the build, gone when it ends; a passphrase-protected key is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();
const COMMENT = `tracebuild-ssh-${runId}`;

describe.skipIf(gate.skip)('--ssh agent forwarding', () => {
  let work = '';
  let agent: ChildProcess | undefined;
  let sock = '';
  const tag = uniqueTag('ssh', 'tracebuild');

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-ssh-'));
    sock = path.join(work, 'agent.sock');
    const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', COMMENT, '-f', path.join(work, 'key')]);
    expect(keygen.exitCode, keygen.stderr).toBe(0);
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    // ssh-agent makes its socket before it serves; wait for it to exist.
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    const added = await run('ssh-add', [path.join(work, 'key')], { env: { SSH_AUTH_SOCK: sock } });
    expect(added.exitCode, added.stderr).toBe(0);

    // ssh-add, its libraries and their loader, for a busybox image.
    const t = path.join(work, 'ctx', 't');
    mkdirSync(t, { recursive: true });
    const which = await run('sh', ['-c', 'command -v ssh-add']);
    const sshAdd = which.stdout.trim();
    const ldd = await run('ldd', [sshAdd]);
    expect(ldd.exitCode, ldd.stderr).toBe(0);
    for (const lib of [sshAdd, ...(ldd.stdout.match(/\/\S+/g) ?? [])]) copyFileSync(lib, path.join(t, path.basename(lib)));
    copyFileSync(path.join(work, 'key.pub'), path.join(t, 'key.pub'));
    const sshAddIn = '/t/ld-linux-x86-64.so.2 --library-path /t /t/ssh-add';
    writeFiles(work, {
      'ctx/Dockerfile': [
        'FROM busybox:local',
        'COPY t /t',
        `RUN --mount=type=ssh ${sshAddIn} -L > /keys.txt && ${sshAddIn} -T /t/key.pub && echo signed >> /keys.txt`,
        `RUN --mount=type=ssh,id=other ${sshAddIn} -D; echo "remove all: $?" >> /keys.txt`,
        '',
      ].join('\n'),
      'req/Dockerfile': 'FROM busybox:local\nRUN --mount=type=ssh,required=true true\n',
    });
  });

  afterAll(async () => {
    await removeImage(tag);
    if (agent?.pid !== undefined) agent.kill();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a RUN lists and signs with the forwarded agent, and cannot change it', async () => {
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '-t', tag, '--ssh', 'default', '--ssh', `other=${sock}`, 'ctx'], {
      cwd: work,
      env: { SSH_AUTH_SOCK: sock },
    });
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    const out = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', '/keys.txt']);
    expect(out.exitCode, out.stderr).toBe(0);
    const pub = readFileSync(path.join(work, 'key.pub'), 'utf8').trim();
    expect(out.stdout).toBe(`${pub}\nsigned\nremove all: 1\n`);
    const still = await run('ssh-add', ['-L'], { env: { SSH_AUTH_SOCK: sock } });
    expect(still.stdout.trim()).toBe(pub);
  });

  test('--ssh ID=KEYFILE: a private agent holds the key for the build and is gone after it', async () => {
    const keyTag = uniqueTag('ssh-key', 'tracebuild');
    try {
      const r = await tracebuild(['build', '--no-trace', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', keyTag, '--ssh', 'default=key', '--ssh', 'other=key', 'ctx'], {
        cwd: work,
        env: { SSH_AUTH_SOCK: undefined },
      });
      expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
      const out = await run(dockerCli, ['run', '--rm', '--network', 'none', keyTag, 'cat', '/keys.txt']);
      expect(out.exitCode, out.stderr).toBe(0);
      const pub = readFileSync(path.join(work, 'key.pub'), 'utf8').trim();
      expect(out.stdout).toBe(`${pub}\nsigned\nremove all: 1\n`);
      // no agent of ours outlives the build
      const agents = await run('sh', ['-c', "pgrep -a ssh-agent | grep tracebuild-ssh- || true"]);
      expect(agents.stdout.trim()).toBe('');
    } finally {
      await removeImage(keyTag);
    }

    const locked = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', path.join(work, 'locked')]);
    expect(locked.exitCode, locked.stderr).toBe(0);
    const refused = await tracebuild(['build', '--no-trace', '--network', 'host', '--ssh', 'default=locked', 'ctx'], { cwd: work, env: { SSH_AUTH_SOCK: undefined } });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`error: --ssh default=locked: ssh key ${path.join(work, 'locked')} cannot be used: it is protected by a passphrase`);
    expect(refused.stderr).not.toMatch(/^#\d+ /m);
  });

  test('a required ssh mount without --ssh is named before the build runs', async () => {
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', 'req'], { cwd: work, env: { SSH_AUTH_SOCK: undefined } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Dockerfile:2: ssh agent default is required but not provided: pass --ssh default');
    const noSock = await tracebuild(['build', '--no-trace', '--ssh', 'default', 'ctx'], { cwd: work, env: { SSH_AUTH_SOCK: undefined } });
    expect(noSock.exitCode).toBe(2);
    expect(noSock.stderr).toContain('invalid argument "default" for "--ssh" flag: invalid empty ssh agent socket');
  });
});
