// --add-host, --shm-size, --ulimit, --no-cache-filter and --pull (#18.7), each shown to take
// effect inside a real build on the real daemon: /etc/hosts, the size of /dev/shm, `ulimit
// -n` in a RUN, a filtered stage run again while the other stays cached, and the registry's
// image used over the daemon's own copy of the same name. Docker 20.10's BuildKit (v0.8)
// cannot set ulimits or tmpfs sizes: there the build is refused, naming the daemon.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();
const v08 = currentDaemon().id === 'docker20';

describe.skipIf(gate.skip)(`build flags that reach every RUN (${currentDaemon().name})`, () => {
  let work = '';
  const tag = uniqueTag('build-flags', 'tracebuild');
  const pullRef = `127.0.0.1:5000/tb-pull:${runId}`;
  // A base image of this test's own: BuildKit shares a vertex between concurrent builds, and
  // a --no-cache build of busybox:local elsewhere on the daemon would make every step run again.
  const filterBase = `tracebuild-test/build-flags-base:${runId}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-build-flags-'));
    writeFiles(work, {
      'hosts/Dockerfile': 'FROM busybox:local\nRUN grep tb-added-host /etc/hosts > /hosts-line\n',
      'shm/Dockerfile': 'FROM busybox:local\nRUN df -k /dev/shm | tail -n 1 > /shm\n',
      'ulimit/Dockerfile': 'FROM busybox:local\nRUN ulimit -n > /nofile\n',
      'filter/Dockerfile': [
        `FROM ${filterBase} AS one`,
        'RUN cat /proc/sys/kernel/random/uuid > /one',
        `FROM ${filterBase} AS two`,
        'RUN cat /proc/sys/kernel/random/uuid > /two',
        `FROM ${filterBase}`,
        'COPY --from=one /one /one',
        'COPY --from=two /two /two',
        '',
      ].join('\n'),
      'pull/Dockerfile': `FROM ${pullRef}\nRUN if [ -e /marker ]; then echo daemon-copy; else echo registry-copy; fi > /which\n`,
    });
  });

  afterAll(async () => {
    await removeImage(tag);
    await removeImage(pullRef);
    await removeImage(filterBase);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (args: string[]) => tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '-t', tag, ...args], { cwd: work, timeoutMs: 180_000 });
  const cat = async (file: string): Promise<string> => {
    const r = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', file]);
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  test('--add-host puts the host in /etc/hosts of the RUN', async () => {
    const r = await build(['--add-host', 'tb-added-host:10.11.12.13', 'hosts']);
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(0);
    expect((await cat('/hosts-line')).split(/\s+/)).toEqual(['10.11.12.13', 'tb-added-host']);
  });

  test('--shm-size sizes /dev/shm of the RUN', async () => {
    const r = await build(['--no-cache', '--shm-size', '96m', 'shm']);
    if (v08) {
      expect(r.exitCode, lastLines(r.stderr, 20)).toBe(1);
      expect(r.stderr).toContain('Dockerfile:2: --shm-size needs tmpfs sizes on exec mounts (LLB cap exec.mount.tmpfs.size)');
      return;
    }
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(0);
    // busybox df: Filesystem 1K-blocks Used Available Use% Mounted-on
    expect((await cat('/shm')).split(/\s+/)[1]).toBe(String(96 * 1024));
  });

  test('--ulimit sets the limit inside the RUN', async () => {
    const r = await build(['--no-cache', '--ulimit', 'nofile=777:888', 'ulimit']);
    if (v08) {
      expect(r.exitCode, lastLines(r.stderr, 20)).toBe(1);
      expect(r.stderr).toContain('Dockerfile:2: --ulimit needs ulimits on execs (LLB cap exec.meta.ulimit)');
      return;
    }
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(0);
    expect(await cat('/nofile')).toBe('777');
  });

  test('--no-cache-filter runs the named stage again while the other stage stays cached', async () => {
    const tagged = await run(dockerCli, ['tag', 'busybox:local', filterBase]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    const first = await build(['filter']);
    expect(first.exitCode, lastLines(first.stderr, 20)).toBe(0);
    const [one, two] = [await cat('/one'), await cat('/two')];
    const again = await build(['--no-cache-filter', 'one', 'filter']);
    expect(again.exitCode, lastLines(again.stderr, 20)).toBe(0);
    expect(await cat('/one')).not.toBe(one);
    expect(await cat('/two')).toBe(two);
    // the progress says so: two's RUN is CACHED, one's is not
    const runLine = (stage: string) => again.stderr.split('\n').find((l) => l.includes(`[${stage} 2/2] RUN`)) ?? '';
    const cachedIds = new Set([...again.stderr.matchAll(/^(#\d+) CACHED$/gm)].map((m) => m[1]));
    const idOf = (line: string) => /^(#\d+) /.exec(line)?.[1] ?? '';
    expect(cachedIds.has(idOf(runLine('two'))), again.stderr).toBe(true);
    expect(cachedIds.has(idOf(runLine('one'))), again.stderr).toBe(false);
  });

  test("--pull takes the registry's image over the daemon's copy of the same name", async () => {
    // The registry holds plain busybox:local; the daemon's image of that name has /marker.
    for (const args of [['tag', 'busybox:local', pullRef], ['push', pullRef], ['rmi', pullRef]]) {
      const r = await run(dockerCli, args);
      expect(r.exitCode, `${r.command}\n${r.stderr}`).toBe(0);
    }
    const container = `tb-pull-${runId}`;
    for (const args of [['run', '--name', container, '--network', 'none', 'busybox:local', 'touch', '/marker'], ['commit', container, pullRef], ['rm', container]]) {
      const r = await run(dockerCli, args);
      expect(r.exitCode, `${r.command}\n${r.stderr}`).toBe(0);
    }
    const local = await build(['--no-cache', 'pull']);
    expect(local.exitCode, lastLines(local.stderr, 20)).toBe(0);
    expect(await cat('/which')).toBe('daemon-copy');
    const pulled = await build(['--no-cache', '--pull', 'pull']);
    expect(pulled.exitCode, lastLines(pulled.stderr, 20)).toBe(0);
    expect(await cat('/which')).toBe('registry-copy');
  });
});
