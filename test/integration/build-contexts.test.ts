// --build-context against the real daemon: a FROM and a COPY --from that name a context
// use it, for each form: a local directory (served by the session, its own .dockerignore
// applied), docker-image:// (an image of the daemon's store, resolved and pinned), and
// oci-layout:// (an OCI layout written by `docker save` on Docker 26, read here, then
// refused at the FROM's line: neither dockerd's BuildKit has an OCI layout source, v0.13's
// announces the cap but fails the same way under buildx). A stage of the context's name is
// replaced by it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();

/** A file of an image, read by running it (no network). */
async function catInImage(tag: string, file: string): Promise<string> {
  const r = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', file]);
  expect(r.exitCode, `${r.command}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describe.skipIf(gate.skip)('--build-context', () => {
  let work = '';
  const baseTag = uniqueTag('ctx-base', 'docker');
  const tags: string[] = [];
  const newTag = (what: string): string => {
    const t = uniqueTag(what, 'tracebuild');
    tags.push(t);
    return t;
  };

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-build-contexts-'));
    writeFiles(work, {
      'base/Dockerfile': 'FROM busybox:local\nRUN echo from-the-image-context > /marker\n',
      'extra/hello.txt': 'hello from the local context\n',
      'extra/ignored.txt': 'the .dockerignore of the context leaves this out\n',
      'extra/.dockerignore': 'ignored.txt\n',
      'ctx/Dockerfile': [
        'FROM base',
        'COPY --from=extra / /extra/',
        'RUN cat /marker /extra/hello.txt > /out.txt && test ! -e /extra/ignored.txt && echo ok >> /out.txt',
        '',
      ].join('\n'),
      'stage/Dockerfile': [
        'FROM busybox:local AS deps',
        'RUN echo this stage is replaced && exit 1',
        'FROM busybox:local',
        'COPY --from=deps /hello.txt /deps-hello.txt',
        '',
      ].join('\n'),
      'oci/Dockerfile': 'FROM busybox:local\nFROM layoutbase\nRUN cat /marker > /out.txt\n',
    });
    // The image context: an image of the daemon's own store, made by the daemon.
    const b = await run(dockerCli, ['build', '-q', '--network', 'host', '-t', baseTag, path.join(work, 'base')], { env: { DOCKER_BUILDKIT: '1' } });
    expect(b.exitCode, `${b.command}\n${b.stderr}`).toBe(0);
  });

  afterAll(async () => {
    for (const t of [...tags, baseTag]) await removeImage(t);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a local directory and a docker-image:// context, named by FROM and COPY --from', async () => {
    const tag = newTag('ctx-local-image');
    const r = await tracebuild(
      ['build', '--no-trace', '--network', 'host', '--progress', 'plain', '-t', tag, '--build-context', `base=docker-image://${baseTag}`, '--build-context', 'extra=../extra', '.'],
      { cwd: path.join(work, 'ctx') },
    );
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    expect(r.stderr).toContain('[context base] docker.io/');
    expect(r.stderr).toContain('[context extra] load from client');
    expect(await catInImage(tag, '/out.txt')).toBe('from-the-image-context\nhello from the local context\nok\n');
  });

  test('a stage of the context name is replaced by the context', async () => {
    const tag = newTag('ctx-stage');
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '-t', tag, '--build-context', 'deps=extra', 'stage'], { cwd: work });
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    expect(r.stderr).not.toContain('this stage is replaced');
    expect(await catInImage(tag, '/deps-hello.txt')).toBe('hello from the local context\n');
  });

  test('an oci-layout:// context is read, and refused at its line: dockerd has no OCI layout source', async () => {
    // `docker save` of Docker 25+ writes an OCI layout (index.json tags the image by its
    // tag); Docker 26 saves it even when the build runs on 20.10.
    const layout = path.join(work, 'layout');
    mkdirSync(layout);
    const tarFile = path.join(work, 'layout.tar');
    const docker26 = ['-H', 'unix:///var/run/docker.sock'];
    const layoutTag = `layout-${runId}`;
    const tagged = await run(dockerCli, [...docker26, 'tag', 'busybox:local', `busybox:${layoutTag}`]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    const saved = await run(dockerCli, [...docker26, 'save', '-o', tarFile, `busybox:${layoutTag}`]);
    await run(dockerCli, [...docker26, 'rmi', `busybox:${layoutTag}`]);
    expect(saved.exitCode, `${saved.command}\n${saved.stderr}`).toBe(0);
    const untar = await run('tar', ['-xf', tarFile, '-C', layout]);
    expect(untar.exitCode, untar.stderr).toBe(0);

    const tag = newTag('ctx-oci');
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '-t', tag, '--build-context', `layoutbase=oci-layout://layout:${layoutTag}`, 'oci'], {
      cwd: work,
    });
    // The layout was read (a wrong tag would fail before the daemon is asked); then the
    // converter refuses the source the daemon cannot run, at the FROM that names it.
    expect(r.exitCode, `${r.command}\n${r.stderr}`).toBe(1);
    expect(r.stderr).toContain('Dockerfile:2: build context layoutbase is an OCI layout, which needs OCI layout sources (LLB cap source.ocilayout); dockerd ');
    const wrongTag = await tracebuild(['build', '--no-trace', '--build-context', 'layoutbase=oci-layout://layout:nope', 'oci'], { cwd: work });
    expect(wrongTag.exitCode).toBe(1);
    expect(wrongTag.stderr).toContain(`OCI layout layout: no image tagged "nope" in index.json (tags: ${layoutTag})`);
  });

  test('a missing directory or a bad value is named', async () => {
    const missing = await tracebuild(['build', '--no-trace', '--build-context', 'extra=no-such-dir', 'ctx'], { cwd: work });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('failed to get build context extra=no-such-dir: ENOENT');
    const bad = await tracebuild(['build', '--no-trace', '--build-context', 'extra', 'ctx'], { cwd: work });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('invalid argument "extra" for "--build-context" flag: expected NAME=VALUE');
  });
});
