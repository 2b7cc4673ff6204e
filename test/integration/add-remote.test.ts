// ADD of remote sources on the real daemon: an http(s) URL (with and without --checksum) and
// a git repository, both served by this test on 127.0.0.1 (the git one over git's "dumb"
// HTTP protocol: a bare repository as static files).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, tracebuildBuild, uniqueTag } from '../helpers/index.js';
import { run } from '../helpers/process.js';

const gate = await integrationGate();

const remoteContent = 'served over http to an ADD instruction\n';
const remoteSha = createHash('sha256').update(remoteContent).digest('hex');

/** A bare repository with one commit on `main`, laid out for the dumb HTTP protocol. */
function makeGitRepo(root: string): string {
  const work = path.join(root, 'work');
  const bare = path.join(root, 'site', 'repo.git');
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' },
    });
  execFileSync('mkdir', ['-p', work, path.dirname(bare)]);
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(path.join(work, 'README'), 'from the git repository\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  git(root, 'clone', '-q', '--bare', work, bare);
  git(bare, 'update-server-info');
  return path.join(root, 'site');
}

function serveFiles(site: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/file.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(remoteContent);
      return;
    }
    const file = path.join(site, path.normalize(decodeURIComponent(url.pathname)));
    if (!file.startsWith(site + path.sep)) return void res.writeHead(403).end();
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200).end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(gate.skip)('ADD of remote sources', () => {
  let root: string;
  let server: Server;
  let base: string;
  const tags: string[] = [];

  beforeAll(async () => {
    await ensureCliBuilt();
    root = mkdtempSync(path.join(tmpdir(), 'tb-add-remote-'));
    server = await serveFiles(makeGitRepo(root));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    for (const tag of tags) await removeImage(tag);
    rmSync(root, { recursive: true, force: true });
  });

  function contextWith(name: string, dockerfile: string): string {
    const dir = path.join(root, name);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  async function catInImage(tag: string, ...files: string[]): Promise<string> {
    const out = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', ...files]);
    expect(out.exitCode, out.stderr).toBe(0);
    return out.stdout;
  }

  test('a URL with a matching --checksum and a git repository are added', async () => {
    const dir = contextWith(
      'ok',
      [
        'FROM busybox:local',
        `ADD --checksum=sha256:${remoteSha} ${base}/file.txt /remote.txt`,
        `ADD ${base}/file.txt /unchecked.txt`,
        `ADD ${base}/repo.git#main /src`,
        '',
      ].join('\n'),
    );
    const tag = uniqueTag('add-remote', 'tracebuild');
    tags.push(tag);
    const built = await tracebuildBuild(dir, { tag, noCache: true });
    expect(built.exitCode, lastLines(built.stdout + built.stderr, 30)).toBe(0);
    expect(await catInImage(tag, '/remote.txt', '/unchecked.txt', '/src/README')).toBe(
      remoteContent + remoteContent + 'from the git repository\n',
    );
  });

  test('a URL whose content does not match --checksum fails at its line', async () => {
    const wrong = 'sha256:' + '0'.repeat(64);
    const dir = contextWith('bad', ['FROM busybox:local', `ADD --checksum=${wrong} ${base}/file.txt /remote.txt`, ''].join('\n'));
    const tag = uniqueTag('add-remote-bad', 'tracebuild');
    tags.push(tag);
    const built = await tracebuildBuild(dir, { tag, noCache: true });
    const output = built.stdout + built.stderr;
    expect(built.exitCode, lastLines(output, 30)).toBe(1);
    expect(output).toMatch(/Dockerfile:2: .*digest mismatch|Dockerfile:2: .*checksum/i);
    const exists = await run(dockerCli, ['image', 'inspect', tag]);
    expect(exists.exitCode, 'no image may be tagged after a failed build').not.toBe(0);
  });
});
