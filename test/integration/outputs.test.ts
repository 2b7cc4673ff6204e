// -o/--output, --iidfile and --metadata-file against the real daemon: the result leaves the
// daemon through the session (FileSend) into a directory, a tar file or stdout, exactly as
// the daemon sent it; the image store's id is what docker reports; a push records the
// manifest digest the registry serves; what the daemon cannot export is refused naming it.
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon } from '../helpers/daemons.js';
import { tracebuildCli } from '../helpers/environment.js';
import { ensureCliBuilt, imageId, integrationGate, lastLines, removeImage, run, uniqueTag } from '../helpers/index.js';
import protobuf from 'protobufjs';
import { connectBuildKit, endpointFromEnv, type ExportTarget } from '../../frontend/buildkit/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const REGISTRY = '127.0.0.1:5000';

/** The exported tree: a second stage holds only what the test checks. */
const DOCKERFILE = [
  'FROM busybox:local AS build',
  'RUN mkdir -p /out/sub && echo hello > /out/a.txt && chmod 0750 /out/a.txt && \\',
  '    ln -s a.txt /out/link && ln /out/a.txt /out/hard && echo deep > /out/sub/b.txt',
  'FROM scratch',
  'COPY --from=build /out/ /',
  '',
].join('\n');

const EXPECTED_TAR = ['a.txt', 'hard', 'link', 'sub/', 'sub/b.txt'];

function tarListing(file: string): Promise<string[]> {
  return run('tar', ['tf', file]).then((r) => {
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.replace(/^\.\//, ''))
      .sort();
  });
}

describe.skipIf(gate.skip)('build outputs (-o, --iidfile, --metadata-file)', () => {
  let work = '';
  const tag = uniqueTag('outputs', 'tracebuild');
  const pushName = `${REGISTRY}/tracebuild-test/outputs:${tag.split(':')[1]}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-outputs-'));
    writeFiles(work, { 'ctx/Dockerfile': DOCKERFILE });
  });

  afterAll(async () => {
    await removeImage(tag);
    await removeImage(pushName);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (args: string[]) => tracebuild(['build', '--network', 'host', '--progress', 'plain', '--no-trace', ...args, 'ctx'], { cwd: work });

  test('type=local and plain -o DIR write the tree the daemon sent: contents, modes, links', async () => {
    for (const [flag, dir] of [['type=local,dest=local-out', 'local-out'], ['plain-out', 'plain-out']] as const) {
      const r = await build(['-o', flag]);
      expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
      const out = path.join(work, dir);
      expect(readdirSync(out).sort()).toEqual(['a.txt', 'hard', 'link', 'sub']);
      expect(readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('hello\n');
      expect(statSync(path.join(out, 'a.txt')).mode & 0o7777).toBe(0o750);
      expect(lstatSync(path.join(out, 'link')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path.join(out, 'link'))).toBe('a.txt');
      expect(statSync(path.join(out, 'hard')).ino).toBe(statSync(path.join(out, 'a.txt')).ino);
      expect(readFileSync(path.join(out, 'sub', 'b.txt'), 'utf8')).toBe('deep\n');
      // no image: nothing reported as built or tagged
      expect(r.stdout).not.toContain('Successfully built');
    }
  });

  test('type=tar,dest=FILE and -o - (stdout) give the same tar', async () => {
    const r = await build(['-o', 'type=tar,dest=out.tar']);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
    expect(await tarListing(path.join(work, 'out.tar'))).toEqual(EXPECTED_TAR);
    const content = await run('tar', ['xOf', path.join(work, 'out.tar'), 'sub/b.txt']);
    expect(content.stdout).toBe('deep\n');

    const piped = await run('/bin/sh', ['-c', 'cd "$1" && shift && "$@" > stdout.tar', 'sh', work, process.execPath, tracebuildCli, 'build', '--network', 'host', '--progress', 'plain', '--no-trace', '-o', '-', 'ctx']);
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(await tarListing(path.join(work, 'stdout.tar'))).toEqual(EXPECTED_TAR);
  });

  test('--iidfile and --metadata-file hold what docker reports for the image, and the trace digest', async () => {
    // Traced where the probe can run (root): the trace digest is then in the metadata.
    const traced = tracingUnavailable() === undefined;
    const r = await tracebuild(
      ['build', '--network', 'host', '--progress', 'plain', ...(traced ? ['--trace-out', 'trace.json'] : ['--no-trace']), '-t', tag, '--iidfile', 'iid', '--metadata-file', 'meta.json', 'ctx'],
      { cwd: work },
    );
    expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
    const id = await imageId(tag);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readFileSync(path.join(work, 'iid'), 'utf8')).toBe(id);
    const meta = JSON.parse(readFileSync(path.join(work, 'meta.json'), 'utf8')) as Record<string, unknown>;
    // BuildKit v0.8's moby exporter answers the image id only, as containerimage.digest
    const v08 = currentDaemon().id === 'docker20';
    expect(meta['containerimage.config.digest']).toBe(v08 ? undefined : id);
    expect(meta['containerimage.digest']).toBe(id);
    expect(meta['image.name']).toBe(v08 ? undefined : `docker.io/${tag}`);
    if (traced) {
      const digest = `sha256:${createHash('sha256').update(readFileSync(path.join(work, 'trace.json'))).digest('hex')}`;
      expect(meta['tracebuild.trace.digest']).toBe(digest);
    } else {
      expect(meta['tracebuild.trace.digest']).toBeUndefined();
    }
  });

  test('type=image,name=...,push=true pushes through dockerd; the metadata carries the manifest digest the registry serves', async () => {
    const r = await build(['-o', `type=image,name=${pushName},push=true`, '--metadata-file', 'push-meta.json']);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
    const meta = JSON.parse(readFileSync(path.join(work, 'push-meta.json'), 'utf8')) as Record<string, string>;
    const [, tagPart] = pushName.split(':5000/')[1]!.split(':');
    const head = await fetch(`http://${REGISTRY}/v2/tracebuild-test/outputs/manifests/${tagPart}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    expect(head.status).toBe(200);
    expect(meta['containerimage.digest']).toBe(head.headers.get('docker-content-digest'));
    expect(meta['containerimage.config.digest']).toBe(currentDaemon().id === 'docker20' ? undefined : await imageId(pushName));
  });

  test('what cannot work together is a usage error, as buildx says it', async () => {
    const iid = await build(['-o', 'type=local,dest=x', '--iidfile', 'iid2']);
    expect(iid.exitCode).toBe(2);
    expect(iid.stderr).toContain('local and tar exporters are incompatible with image ID file');
    const noDest = await build(['-o', 'type=local']);
    expect(noDest.exitCode).toBe(2);
    expect(noDest.stderr).toContain('dest is required for local exporter');
    const noTag = await build(['-o', 'type=registry']);
    expect(noTag.exitCode).toBe(2);
    expect(noTag.stderr).toContain('tag is needed when pushing to registry');
  });

  test("an exporter the daemon's worker lacks is refused, naming the daemon", async () => {
    const r = await build(['-o', 'type=oci,dest=out.oci.tar']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/-o type=oci: dockerd \S+'s BuildKit .*has no oci exporter/);
    expect(r.stderr).toContain('containerd image store');
    expect(readdirSync(work)).not.toContain('out.oci.tar');
  });

  test('several outputs at once where the daemon can (BuildKit v0.13), a clear refusal where it cannot', async () => {
    const r = await build(['-o', 'type=local,dest=multi-dir', '-o', 'type=tar,dest=multi.tar']);
    if (currentDaemon().id === 'docker20') {
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/2 outputs need several exporters in one solve \(LLB cap exporter\.multiple, BuildKit v0\.13\+\); dockerd 20\.10\.\S+'s BuildKit/);
      return;
    }
    expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
    expect(readdirSync(path.join(work, 'multi-dir')).sort()).toEqual(['a.txt', 'hard', 'link', 'sub']);
    expect(await tarListing(path.join(work, 'multi.tar'))).toEqual(EXPECTED_TAR);
  });
});

// The session path a standalone buildkitd uses (Control.Session carrying the session's
// HTTP/2 connection), driven against dockerd, whose /grpc serves Control.Session too: the
// exports come back through FileSend on that path as well. (No buildkitd runs here.)
const llb = protobuf.parse(
  `syntax = "proto3"; package t;
  message Op { repeated Input inputs = 1; oneof op { SourceOp source = 3; } Platform platform = 10; }
  message Platform { string Architecture = 1; string OS = 2; }
  message Input { string digest = 1; int64 index = 2; }
  message SourceOp { string identifier = 1; }`,
  { keepCase: true },
).root.lookupType('t.Op');

function op(value: Record<string, unknown>): { bytes: Uint8Array; digest: string } {
  const bytes = llb.encode(llb.fromObject(value)).finish();
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

describe.skipIf(gate.skip)('exports over Control.Session (the buildkitd session path)', () => {
  test('a local and a tar export reach their targets', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'tb-outputs-ctl-'));
    const client = await connectBuildKit(endpointFromEnv(process.env), { sessionTransport: 'control-stream' });
    try {
      const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform: { Architecture: 'amd64', OS: 'linux' } });
      const terminal = op({ inputs: [{ digest: image.digest, index: 0 }] });
      const chunks: Uint8Array[] = [];
      const tarTarget: ExportTarget = {
        kind: 'file',
        open: () => Promise.resolve({ write: async (c: Uint8Array) => void chunks.push(Buffer.from(c)), close: async () => undefined, abort: async () => undefined }),
      };
      const solveWith = (exporter: { type: string; attrs: Record<string, string> }, target: ExportTarget) =>
        client.solve({
          contextDir: work,
          dockerignore: [],
          entitlements: [],
          exporter,
          exportTargets: new Map([[0, target]]),
          onStatus: () => undefined,
          frontend: async () => ({ definition: { def: [image.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
        });
      await solveWith({ type: 'local', attrs: {} }, { kind: 'directory', path: path.join(work, 'dir') });
      expect(readFileSync(path.join(work, 'dir', 'bin', 'busybox')).length).toBeGreaterThan(100_000);
      expect(readlinkSync(path.join(work, 'dir', 'bin', 'sh'))).toBe('/bin/busybox');
      await solveWith({ type: 'tar', attrs: {} }, tarTarget);
      const tar = Buffer.concat(chunks);
      // a tar's first header names its first entry and ends in the ustar magic at 257
      expect(tar.subarray(257, 262).toString('latin1')).toBe('ustar');
      expect(tar.length % 512).toBe(0);
    } finally {
      client.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
