// Trace fidelity: testdata/trace-fidelity/ is built with tracebuild (traced, --no-cache) while
// a busy loop runs on the host. Its RUN steps perform a known script of actions: execs of
// busybox applets and of a static binary, files created, modified, deleted and renamed
// through the legacy and the *at syscalls, links, chmods, a TCP connect to a server this test
// started on 127.0.0.1, a process that exits at once, a #! script, and (x86-64) file
// operations and connects made through the 32-bit syscall entry, where the kernel takes
// 32-bit syscalls at all (fsops asks it; a PVM guest's does not, and int $0x80 faults
// there: no process can make such a syscall, so there is none to trace and that step
// must hold only its two execs). The trace must hold
// exactly those actions, each in its own step (recall and precision 100%), every exec with
// its sha256, and nothing of the host loop.
//
// What counts as the step's actions: everything the step's command line does, including the
// RUN's own shell (`/bin/sh -c ...`, the process runc starts). Not counted, because the
// trace excludes them by design: runc's container setup before that shell (reported as
// `runcSetupEvents`), read-only opens (not traced without --trace-reads), and syscalls the
// probe does not hook (utimensat of `touch`, socket, send without a destination). Nothing
// else is tolerated: the busybox shell creates no temporary files for these command lines
// (no heredocs, no pipes, no subshells: every command has an explicit path, so each one is
// one fork + exec and no fork-only process appears).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace, TraceBuildStep } from '../../model/index.js';
import {
  ensureCliBuilt,
  integrationGate,
  lastLines,
  removeImage,
  run,
  testdataDir,
  tracebuildBuild,
  uniqueTag,
} from '../helpers/index.js';
import { compareActions, digestCoverage, percent, sha256File, stepActions, tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const caseDir = path.join(testdataDir, 'trace-fidelity');

/** The actions each RUN's command performs (see the header comment and the Dockerfile). */
function expectedRuns(port: number, i386Entry: boolean): Map<number, string[]> {
  const exec = (...argv: string[]): string => `exec ${JSON.stringify(argv)}`;
  const sh = (cmd: string): string => exec('/bin/sh', '-c', cmd);
  const applets =
    '/bin/mkdir /fid && /bin/touch /fid/keep /fid/keep2 /fid/a && /bin/mv /fid/a /fid/b && /bin/ln -s /fid/b /fid/l && ' +
    '/bin/chmod 600 /fid/b && /bin/rm /fid/l && /bin/mkdir /fid/tmp && /bin/rmdir /fid/tmp';
  const w = (name: string): string => `/w/${name}`;
  return new Map([
    [
      9,
      [
        sh(applets),
        exec('/bin/mkdir', '/fid'),
        exec('/bin/touch', '/fid/keep', '/fid/keep2', '/fid/a'),
        exec('/bin/mv', '/fid/a', '/fid/b'),
        exec('/bin/ln', '-s', '/fid/b', '/fid/l'),
        exec('/bin/chmod', '600', '/fid/b'),
        exec('/bin/rm', '/fid/l'),
        exec('/bin/mkdir', '/fid/tmp'),
        exec('/bin/rmdir', '/fid/tmp'),
        // mkdir(2); open(O_CREAT) x3; rename(2) of a file made here: the target is created,
        // the source transient (not deleted); symlink(2); chmod(2); unlink(2); rmdir(2)
        'created /fid',
        'created /fid/keep',
        'created /fid/keep2',
        'created /fid/a',
        'created /fid/b',
        'transient /fid/a',
        'renamed /fid/a -> /fid/b',
        'created /fid/l',
        'symlink /fid/l -> /fid/b',
        'chmod /fid/b 0600',
        'deleted /fid/l',
        'transient /fid/l',
        'created /fid/tmp',
        'deleted /fid/tmp',
        'transient /fid/tmp',
      ],
    ],
    [
      11,
      [
        sh('/usr/local/bin/fsops /w $PORT'),
        exec('/usr/local/bin/fsops', '/w', String(port)),
        // mkdir, mkdirat + unlinkat(AT_REMOVEDIR)
        'created /w',
        `created ${w('sub')}`,
        `deleted ${w('sub')}`,
        `transient ${w('sub')}`,
        // open(O_CREAT), openat(dirfd, O_CREAT), creat; each renamed away (rename, renameat, renameat2)
        `created ${w('open-legacy')}`,
        `created ${w('openat-rel')}`,
        `created ${w('creat-legacy')}`,
        `transient ${w('open-legacy')}`,
        `transient ${w('openat-rel')}`,
        `transient ${w('creat-legacy')}`,
        `renamed ${w('open-legacy')} -> ${w('renamed-legacy')}`,
        `renamed ${w('openat-rel')} -> ${w('renamed-at')}`,
        `renamed ${w('creat-legacy')} -> ${w('renamed-at2')}`,
        `created ${w('renamed-legacy')}`,
        `created ${w('renamed-at')}`,
        `created ${w('renamed-at2')}`,
        // truncate, and openat(O_RDWR) + ftruncate, of files the previous step made
        'modified /fid/keep',
        'modified /fid/keep2',
        // link, linkat (then unlink, unlinkat), symlink, symlinkat
        `created ${w('hard-legacy')}`,
        `created ${w('hard-at')}`,
        `hard ${w('hard-legacy')} -> ${w('renamed-legacy')}`,
        `hard ${w('hard-at')} -> ${w('renamed-at')}`,
        `deleted ${w('hard-legacy')}`,
        `deleted ${w('hard-at')}`,
        `transient ${w('hard-legacy')}`,
        `transient ${w('hard-at')}`,
        `created ${w('sym-legacy')}`,
        `created ${w('sym-at')}`,
        `symlink ${w('sym-legacy')} -> renamed-legacy`,
        `symlink ${w('sym-at')} -> renamed-at`,
        // chmod, fchmodat
        `chmod ${w('renamed-legacy')} 0600`,
        `chmod ${w('renamed-at')} 0640`,
        // mkdir + rmdir
        `created ${w('gone')}`,
        `deleted ${w('gone')}`,
        `transient ${w('gone')}`,
        // connect(2) to the test's server
        `net tcp 127.0.0.1:${port} outbound attempts=1 failures=0`,
      ],
    ],
    [
      14,
      [
        sh('/bin/true && /usr/local/bin/hello.sh && /usr/local/bin/fsops exit-now && { /usr/local/bin/fsops threads || test $? = 7; }'),
        exec('/bin/true'),
        // a #! script: the kernel runs its interpreter with the script's path
        exec('/bin/sh', '/usr/local/bin/hello.sh'),
        exec('/usr/local/bin/fsops', 'exit-now'),
        exec('/usr/local/bin/fsops', 'threads'),
        'created /fid/from-script',
      ],
    ],
    [
      16,
      [
        sh('/usr/local/bin/fsops compat32 /c $PORT'),
        exec('/usr/local/bin/fsops', 'compat32', '/c', String(port)),
        // where the kernel takes them (x86-64): the same kinds of actions through the 32-bit
        // entry (int $0x80, i386 numbers): mkdir, creat, openat(O_CREAT), rename, link +
        // unlink, chmod; connects through socketcall(SYS_CONNECT) and connect(2)
        ...(i386Entry
          ? [
              'created /c',
              'created /c/a',
              'created /c/at',
              'transient /c/a',
              'renamed /c/a -> /c/b',
              'created /c/b',
              'created /c/h',
              'hard /c/h -> /c/b',
              'deleted /c/h',
              'transient /c/h',
              'chmod /c/b 0600',
              `net tcp 127.0.0.1:${port} outbound attempts=2 failures=0`,
            ]
          : []),
      ],
    ],
  ]);
}

describe.skipIf(gate.skip || noTracing !== undefined)('trace fidelity (testdata/trace-fidelity)', () => {
  let work: string;
  let server: net.Server;
  let port = 0;
  let i386Entry = false;
  const received: string[] = [];
  let loop: ChildProcess | undefined;
  let loopStarted = 0;
  let trace: Trace;
  let built: Awaited<ReturnType<typeof tracebuildBuild>>;
  const tag = uniqueTag('trace-fidelity', 'tracebuild');

  beforeAll(async () => {
    await ensureCliBuilt();
    // the case in a temporary folder, with the static binary compiled next to its Dockerfile
    work = mkdtempSync(path.join(tmpdir(), 'tb-fidelity-'));
    cpSync(caseDir, work, { recursive: true });
    chmodSync(path.join(work, 'hello.sh'), 0o755);
    const cc = await run('gcc', ['-static', '-O2', '-Wall', '-o', path.join(work, 'fsops'), path.join(work, 'fsops.c')]);
    expect(cc.exitCode, `${cc.command}\n${cc.stderr}`).toBe(0);
    // the containers run on this kernel: fsops asks it whether int $0x80 works (0 yes, 3 no)
    const entry = await run(path.join(work, 'fsops'), ['i386-entry']);
    expect([0, 3], `${entry.command}: exit code ${entry.exitCode}\n${entry.stderr}`).toContain(entry.exitCode);
    i386Entry = entry.exitCode === 0;
    if (process.arch === 'x64' && !i386Entry)
      console.log('trace-fidelity: this kernel takes no 32-bit syscalls (int $0x80 faults): Dockerfile:16 makes none, and must record none');

    server = net.createServer((sock) => {
      sock.on('data', (d) => received.push(d.toString()));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;

    // a busy loop on the host for the whole build: it must leave no trace
    loop = spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' });
    loopStarted = Date.now();
    built = await tracebuildBuild(work, {
      tag,
      noCache: true,
      buildArgs: { PORT: String(port) },
      extraArgs: ['--trace-out', path.join(work, 'trace.json')],
    });
    if (loop.pid !== undefined) process.kill(loop.pid, 'SIGKILL');
    console.log(`trace-fidelity: the host loop ran for ${Date.now() - loopStarted} ms during the build`);
    expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 60)}`).toBe(0);
    trace = JSON.parse(readFileSync(path.join(work, 'trace.json'), 'utf8')) as Trace;
  });

  afterAll(async () => {
    if (loop?.pid !== undefined && loop.exitCode === null) process.kill(loop.pid, 'SIGKILL');
    server?.close();
    await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const stepAt = (line: number): TraceBuildStep => {
    const s = trace.buildSteps.find((x) => x.line === line);
    if (!s) throw new Error(`no step at Dockerfile:${line} in ${JSON.stringify(trace.buildSteps.map((x) => x.line))}`);
    return s;
  };

  test('prints the table and loses nothing', () => {
    expect(built.stderr).toMatch(/STEP\s+PROCS\s+NEW\s+MOD\s+DEL\s+NET/);
    expect(trace.lostEvents, JSON.stringify(trace.losses)).toBe(0);
    expect(trace.ambiguities).toEqual([]);
    for (const s of trace.buildSteps.filter((x) => x.keyword === 'RUN')) {
      expect(s.status, s.instruction).toBe('done');
      expect(s.cgroup?.attribution, s.instruction).toBe('running');
      expect(s.warnings, s.instruction).toEqual([]);
    }
  });

  test('each RUN holds exactly its actions: recall 100%, precision 100%', () => {
    const expected = expectedRuns(port, i386Entry);
    let e = 0;
    let r = 0;
    let m = 0;
    const report: string[] = [];
    for (const step of trace.buildSteps.filter((x) => x.keyword === 'RUN')) {
      const want = expected.get(step.line);
      expect(want, `an expectation for Dockerfile:${step.line}`).toBeDefined();
      const c = compareActions(want ?? [], stepActions(step));
      e += c.expected;
      r += c.recorded;
      m += c.matched;
      report.push(`  Dockerfile:${step.line}: ${c.matched}/${c.expected} expected recorded, ${c.recorded} recorded`);
      for (const x of c.missing) report.push(`    missing:    ${x}`);
      for (const x of c.unexpected) report.push(`    unexpected: ${x}`);
    }
    expect(m).toBeGreaterThan(0);
    const cov = digestCoverage(trace);
    console.log(
      [
        `trace-fidelity: recall ${percent(m, e)} precision ${percent(m, r)} (${m} of ${e} expected actions, ${r} recorded)`,
        ...report,
        `trace-fidelity: digest coverage ${cov.withDigest}/${cov.execs} execs with a sha256 (${percent(cov.withDigest, cov.execs)})`,
      ].join('\n'),
    );
    expect(report.filter((l) => l.includes('missing:') || l.includes('unexpected:'))).toEqual([]);
    expect(m).toBe(e);
    expect(m).toBe(r);
    expect(received.join('')).toBe('fidelity\n');
  });

  test('every exec has the sha256 of the file that ran; the script its own', () => {
    const busybox = sha256File('/usr/bin/busybox');
    const fsops = sha256File(path.join(work, 'fsops'));
    const script = sha256File(path.join(work, 'hello.sh'));
    const cov = digestCoverage(trace);
    expect(cov.withDigest).toBe(cov.execs);
    for (const p of trace.buildSteps.flatMap((s) => s.processes)) {
      const want = p.exe === '/usr/local/bin/fsops' ? fsops : busybox;
      expect(p.exeSha256, `${p.argv.join(' ')} (${p.exe})`).toBe(want);
      if (p.argv[1] === '/usr/local/bin/hello.sh') {
        expect(p.script).toMatchObject({ path: '/usr/local/bin/hello.sh', sha256: script });
        expect(p.interpreter).toBe('/bin/sh');
      }
    }
    // short-lived processes are complete: exit status and times
    const quick = stepAt(14).processes.filter((p) => p.argv[0] === '/bin/true' || p.argv[1] === 'exit-now');
    expect(quick).toHaveLength(2);
    for (const p of quick) expect(p).toMatchObject({ exitCode: 0, execed: true });
    // a process whose last thread is not its first: one process, with its exit status
    const threads = stepAt(14).processes.filter((p) => p.exe === '/usr/local/bin/fsops' && p.argv[1] === 'threads');
    expect(threads).toHaveLength(1);
    expect(threads[0]).toMatchObject({ exitCode: 7, execed: true });
    expect(threads[0]?.exitMissing).toBeUndefined();
    expect(stepAt(14).processes.filter((p) => !p.execed)).toEqual([]);
  });

  test('COPY records the files the session served, with their sha256', () => {
    const copy = trace.buildSteps.find((s) => s.keyword === 'COPY');
    expect(copy?.copy).toEqual({
      patterns: ['fsops', 'hello.sh'],
      sources: [
        { path: 'fsops', size: readFileSync(path.join(work, 'fsops')).length, sha256: sha256File(path.join(work, 'fsops')) },
        { path: 'hello.sh', size: readFileSync(path.join(work, 'hello.sh')).length, sha256: sha256File(path.join(work, 'hello.sh')) },
      ],
      unmatchedPatterns: [],
      destination: '/usr/local/bin/',
    });
  });

  test('the busy loop on the host left no trace', () => {
    // The loop is in no traced cgroup: nothing of it can be recorded, not even as
    // unattributed. Unattributed cgroups can only be other builds' RUN containers (another
    // build on the same daemon at the same time); say so if there were any.
    const foreign = trace.unattributedCgroups.filter((c) => !c.path.startsWith('/docker/buildkit/'));
    expect(foreign).toEqual([]);
    if (trace.unattributedEvents > 0) {
      console.log(`trace-fidelity: ${trace.unattributedEvents} event(s) of ${trace.unattributedCgroups.length} other build container(s) ran meanwhile`);
    }
    expect(trace.unattributedCgroups.flatMap((c) => c.firstArgv ?? []).filter((a) => a === '/bin/true')).toEqual([]);
    const all = trace.buildSteps.flatMap((s) => s.processes);
    expect(all.filter((p) => p.ppid === loop?.pid || p.pid === loop?.pid)).toEqual([]);
    // the only /bin/true is the one of Dockerfile:14
    expect(all.filter((p) => p.argv[0] === '/bin/true')).toHaveLength(1);
    expect(trace.buildSteps.filter((s) => s.line !== 14).flatMap((s) => s.processes.filter((p) => p.argv[0] === '/bin/true'))).toEqual([]);
  });
});
