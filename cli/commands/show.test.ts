import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliApp } from '../app.js';
import type { CliIo } from '../io.js';

const TRACES = join(import.meta.dirname, '..', '..', 'testdata', 'policies', 'traces');

interface Captured {
  io: CliIo;
  out: () => string;
  err: () => string;
}

function capture(cwd: string): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => void (out += s) },
      stderr: { write: (s: string) => void (err += s) },
      env: {},
      cwd,
      clock: { now: () => Date.UTC(2025, 2, 2, 12, 0, 0) },
      ticker: () => () => undefined,
    },
    out: () => out,
    err: () => err,
  };
}

const app: CliApp = {
  version: '0.0.0-test',
  loadToolchain: () => Promise.reject(new Error('show must not load the build toolchain')),
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'show-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function show(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture(TRACES);
  const code = await runCli(['show', ...args], c.io, app);
  return { code, out: c.out(), err: c.err() };
}

describe('tracebuild show (text)', () => {
  it('prints the header, the table, then every step for clean.json', async () => {
    const r = await show(['clean.json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'trace     clean.json (trace file, unsigned)',
        'monitor   tracebuild-probe 0.1.0, kernel 6.18.0',
        'build     2025-03-01T10:00:00.000Z -> 2025-03-01T10:00:01.400Z (1.40s, from the steps)',
        '',
        'STEP                                            PROCS   NEW   MOD   DEL  NET     CPU     MEM    WALL',
        '----------------------------------------------------------------------------------------------------',
        'Dockerfile:1 FROM busybox:local                 cached',
        'Dockerfile:2 COPY cc /usr/local/bin/cc              0     1     0     0    0     0ms      0K   120ms',
        'Dockerfile:3 WORKDIR /src                           0     1     0     0    0     0ms      0K    10ms',
        'Dockerfile:4 COPY main.c .                          0     1     0     0    0     0ms      0K    40ms',
        'Dockerfile:5 RUN wget -O /tmp/zlib.tar http:/…      2     1     0     0    1    42ms    2.0M   700ms',
        'Dockerfile:6 RUN cc -o /out/app main.c              2     1     0     0    0   250ms    9.0M   400ms',
        '----------------------------------------------------------------------------------------------------',
        'lost events: 0   unattributed events: 0   runc setup events (excluded): 0',
        '',
        'Dockerfile:1 FROM busybox:local',
        '  cached    did not run (vertex sha256:8e021529d7cb7e88fed1ae6fc7bf47b9bb9e8a076df8158d41077d65909f0608)',
        '',
        'Dockerfile:2 COPY cc /usr/local/bin/cc',
        '  created   /usr/local/bin/cc',
        '',
        'Dockerfile:3 WORKDIR /src',
        '  created   /src',
        '',
        'Dockerfile:4 COPY main.c .',
        '  created   /src/main.c',
        '',
        'Dockerfile:5 RUN wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar',
        '  processes',
        "    101 /bin/sh -c 'wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar'  (/bin/busybox sha256:3c26c8e5e75a, exit 0)",
        '    └─ 102 wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar  (/bin/busybox sha256:3c26c8e5e75a, exit 0)',
        '  created   /tmp/zlib.tar',
        '  network   tcp outbound 127.0.0.1:8080',
        '',
        'Dockerfile:6 RUN cc -o /out/app main.c',
        '  processes',
        "    201 /bin/sh -c 'cc -o /out/app main.c'  (/bin/busybox sha256:3c26c8e5e75a, exit 0)",
        '    └─ 202 cc -o /out/app main.c  (/usr/local/bin/cc sha256:2f35a5950941, exit 0)',
        '  created   /out/app',
        '  renamed   /out/.app.tmp -> /out/app.o',
        '',
      ].join('\n'),
    );
  });

  it('shows the trojanized compiler, the implant and the extra peer', async () => {
    const r = await show(['trojanized.json']);
    expect(r.code).toBe(0);
    const step6 = r.out.slice(r.out.lastIndexOf('Dockerfile:6 RUN'));
    expect(step6).toBe(
      [
        'Dockerfile:6 RUN cc -o /out/app main.c',
        '  processes',
        "    201 /bin/sh -c 'cc -o /out/app main.c'  (/bin/busybox sha256:3c26c8e5e75a, exit 0)",
        '    └─ 202 cc -o /out/app main.c  (/usr/local/bin/cc sha256:5b4128b35382, exit 0)',
        '  created   /out/app',
        '            /src/.cc-implant.o',
        '  renamed   /out/.app.tmp -> /out/app.o',
        '  network   tcp outbound 127.0.0.1:9999',
        '',
      ].join('\n'),
    );
  });

  it('draws exec chains, forks, scripts, missing digests and signals; escapes control characters', async () => {
    const t0 = '2025-03-01T10:00:00.000Z';
    const proc = (p: Record<string, unknown>) => ({ exe: '/bin/sh', exeSha256: 'aa'.repeat(32), exitCode: 0, startedOn: t0, ...p });
    const trace = {
      monitor: { name: 'tracebuild-probe' },
      lostEvents: 3,
      losses: { attributedToSteps: 2 },
      unattributedEvents: 5,
      unattributedCgroups: [{ id: '9', path: '/docker/buildkit/x', events: 5, reason: 'no vertex' }],
      buildSteps: [
        {
          instruction: 'RUN ./build.sh \\\n  && make',
          line: 3,
          endLine: 4,
          stage: 'builder',
          vertex: 'sha256:v',
          cached: false,
          status: 'failed',
          error: 'process "/bin/sh -c ./build.sh" did not complete successfully: exit code: 2',
          startedOn: t0,
          finishedOn: '2025-03-01T10:00:02.000Z',
          lostEvents: 2,
          warnings: ['digests were skipped'],
          processes: [
            proc({ pid: 10, ppid: 1, argv: ['/bin/sh', '-c', './build.sh && make'], replacedByExec: true, exitCode: null }),
            proc({ pid: 10, ppid: 1, argv: ['make'], exe: '/usr/bin/make', startedOn: '2025-03-01T10:00:00.100Z', exitCode: 2 }),
            proc({
              pid: 11,
              ppid: 10,
              argv: ['/bin/sh', './build.sh'],
              startedOn: '2025-03-01T10:00:00.200Z',
              script: { path: '/src/build.sh', sha256: 'bb'.repeat(32) },
            }),
            proc({ pid: 12, ppid: 11, argv: ['/bin/sh', './build.sh'], execed: false, startedOn: '2025-03-01T10:00:00.300Z' }),
            proc({
              pid: 13,
              ppid: 11,
              argv: ['evil', '\u001b[31mred\u001b[0m', 'a\nb'],
              exe: '/tmp/evil',
              exeSha256: null,
              digestMissing: 'file deleted before hashing',
              exitCode: null,
              signal: 9,
              startedOn: '2025-03-01T10:00:00.400Z',
            }),
          ],
          files: {
            created: Array.from({ length: 12 }, (_, i) => `/out/f${String(i).padStart(2, '0')}`),
            modified: ['/etc/\u202epasswd'],
            deleted: [],
            renamed: [],
          },
          network: [{ protocol: 'udp', address: '10.0.0.53', port: 53, direction: 'outbound', attempts: 3, failures: 1 }],
          resources: { wallMs: 2000, cpuUserMs: 100, cpuSystemMs: 20, maxRssKb: 4096 },
        },
      ],
    };
    const path = join(dir, 'rich.json');
    writeFileSync(path, JSON.stringify(trace));
    const r = await show([path]);
    expect(r.code).toBe(0);
    const step = r.out.slice(r.out.indexOf('\n\nDockerfile:3-4') + 2);
    expect(step).toBe(
      [
        'Dockerfile:3-4 RUN ./build.sh && make',
        '  status    failed',
        '  error     process "/bin/sh -c ./build.sh" did not complete successfully: exit code: 2',
        "  LOST      2 event(s): this step's record is incomplete",
        '  warning   digests were skipped',
        '  processes',
        "    10 /bin/sh -c './build.sh && make'  (/bin/sh sha256:aaaaaaaaaaaa, exec)",
        '       ↳ exec make  (/usr/bin/make sha256:aaaaaaaaaaaa, exit 2)',
        '    └─ 11 /bin/sh ./build.sh  (/bin/sh sha256:aaaaaaaaaaaa, script /src/build.sh sha256:bbbbbbbbbbbb, exit 0)',
        '       ├─ 12 /bin/sh ./build.sh  (forked, no exec, /bin/sh sha256:aaaaaaaaaaaa, exit 0)',
        "       └─ 13 evil '\\x1b[31mred\\x1b[0m' 'a\\nb'  (/tmp/evil digest missing (file deleted before hashing), killed by signal 9)",
        '  created   /out/f00',
        '            /out/f01',
        '            /out/f02',
        '            /out/f03',
        '            /out/f04',
        '            /out/f05',
        '            /out/f06',
        '            /out/f07',
        '            /out/f08',
        '            /out/f09',
        '            … 2 more (all in --html)',
        '  modified  /etc/\\u202epasswd',
        '  network   udp outbound 10.0.0.53:53 (3 attempts, 1 failed)',
        '',
      ].join('\n'),
    );
    expect(r.out).toContain('WARNING: 3 event(s) lost (2 in steps marked !): the trace is incomplete');
    expect(r.out).toContain('WARNING: 5 event(s) in 1 cgroup(s) matched no step');
    // nothing from the trace reaches the terminal as a control character
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(r.out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
  });

  it('fails with exit 1 and names the file when it is not a trace', async () => {
    writeFileSync(join(dir, 'x.json'), '{"hello": 1}');
    const r = await show([join(dir, 'x.json')]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(`error: ${join(dir, 'x.json')}: not a trace: $.buildSteps is missing\n`);
  });

  it('refuses an image without --key, and without a fetcher', async () => {
    let r = await show(['registry.example/app:1']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: registry.example/app:1: not a file; reading traces from images needs --key PUB or --certificate-identity (the attestation is verified first)\n');
    r = await show(['registry.example/app:1', '--key', 'k.pub']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not wired into this build yet/);
  });

  it('--key means signed: an unsigned trace file is an error (exit 1), and nothing is shown', async () => {
    const r = await show(['trojanized.json', '--key', 'k.pub']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe('error: trojanized.json: a trace file, not a signed Sigstore bundle: --key asks for a signature, and this file has none that can be checked\n');
  });
});

describe('tracebuild show --html', () => {
  it('writes the report atomically, next to nothing else', async () => {
    const out = join(dir, 'html-out');
    mkdirSync(out);
    const r = await show(['trojanized.json', '--html', join(out, 'report.html')]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`report written to ${join(out, 'report.html')}\n`);
    expect(readdirSync(out)).toEqual(['report.html']);
    const page = readFileSync(join(out, 'report.html'), 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).toContain('Made by tracebuild 0.0.0-test on 2025-03-02T12:00:00.000Z.');
    // the text is printed too
    expect(r.out).toContain('Dockerfile:6 RUN cc -o /out/app main.c');
  });

  it('replaces an existing report', async () => {
    const target = join(dir, 'again.html');
    writeFileSync(target, 'old');
    expect((await show(['clean.json', '--html', target])).code).toBe(0);
    expect(readFileSync(target, 'utf8')).toContain('tracebuild report');
  });

  it('fails, naming the path, when OUT is a directory', async () => {
    const r = await show(['clean.json', '--html', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${dir}: is a directory; --html needs a file name\n`);
  });

  it('fails, naming the path, when OUT cannot be written', async () => {
    const target = join(dir, 'no-such-dir', 'r.html');
    const r = await show(['clean.json', '--html', target]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^error: ${target}: cannot write the report: ENOENT`));
  });
});
