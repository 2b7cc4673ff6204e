// The trace phases of `tracebuild build` against a fake daemon and a fake probe (no root,
// no BPF): tracing by default, --no-trace, --trace-out, failed and canceled builds, losses,
// secrets.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TracerError, abi, type CgroupEventData, type ExecEventData, type FileEventData, type TraceEvent } from '../../tracer/index.js';
import type { Trace } from '../../model/index.js';
import { FAKE_REALTIME_OFFSET_NS, fakeTracer, type FakeTracerOptions } from '../../test/helpers/fake-tracer.js';
import { TracebuildError, type ExitKind } from '../../common/index.js';
import { runCli } from '../app.js';
import type { BuildKitClient, BuildStep, ConvertOptions, SolveOptions, Toolchain } from '../contracts.js';
import type { CliIo } from '../io.js';

class SolveError extends TracebuildError<'solve-failed'> {
  override readonly name = 'SolveError';
  readonly exit: ExitKind = 'build';
  constructor(message: string) {
    super('solve-failed', message);
  }
}

interface FakeAst {
  stages: { instructions: { keyword: string; text: string; flags: []; range: { startLine: number } }[] }[];
}

const IMAGE_ID = `sha256:${'cd'.repeat(32)}`;
/** Wall clock ns of the build's start; kernel time = wall - FAKE_REALTIME_OFFSET_NS. */
const BASE_NS = FAKE_REALTIME_OFFSET_NS + 10_000_000_000n;
const STEP_NS = 100_000_000n;
const RUN_CGROUP = 777n;

const vertexOf = (line: number): string => `sha256:${String(line).padStart(64, '0')}`;
const startOf = (line: number): bigint => BASE_NS + BigInt(line) * STEP_NS;

function parse(text: string): FakeAst {
  const instructions = text
    .split('\n')
    .map((raw, i) => ({ raw: raw.trim(), line: i + 1 }))
    .filter((x) => x.raw !== '')
    .map((x) => ({ keyword: x.raw.split(/\s+/)[0]?.toUpperCase() ?? '', text: x.raw, flags: [] as [], range: { startLine: x.line } }));
  return { stages: [{ instructions }] };
}

interface Recorder {
  solves: SolveOptions<string>[];
}

/** Steps: FROM cached; RUN runs `sh -c <rest>` (fails on "exit 3"); COPY serves its sources. */
function toolchain(
  rec: Recorder,
  tracer: FakeTracerOptions | null,
  opts: { abort?: AbortController; connectError?: Error; duringSolve?: (fake: ReturnType<typeof fakeTracer> | undefined) => void } = {},
) {
  let steps: BuildStep[] = [];
  const client: BuildKitClient<string> = {
    async solve(o) {
      rec.solves.push(o);
      await o.frontend({ sessionId: 'test-session', resolveImageConfig: async () => ({ config: {} }) });
      opts.abort?.abort();
      opts.duringSolve?.(fake);
      if (o.signal?.aborted === true) throw new SolveError('context canceled');
      for (const s of steps) {
        const startedNs = startOf(s.line);
        const completedNs = startedNs + STEP_NS;
        const failing = s.instruction.includes('exit 3');
        if (s.keyword === 'COPY') for (const src of s.copySources ?? []) o.onFileServed?.({ path: src, size: 5, sha256: 'ab'.repeat(32) });
        o.onStatus({
          vertexes: [
            {
              digest: s.vertex,
              inputs: [],
              name: s.name,
              cached: s.keyword === 'FROM',
              started: new Date(Number(startedNs / 1_000_000n)),
              completed: new Date(Number(completedNs / 1_000_000n)),
              startedNs,
              completedNs,
              ...(failing ? { error: 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3' } : {}),
            },
          ],
          statuses: [],
          logs: [],
        });
        if (failing) throw new SolveError('process "/bin/sh -c exit 3" did not complete successfully: exit code: 3');
      }
      return { exporterResponse: { 'containerimage.digest': IMAGE_ID } };
    },
    close() {},
  };
  const tc: Toolchain<FakeAst, string, string> = {
    parseDockerfile: (text) => parse(text),
    async convertDockerfile(o: ConvertOptions<FakeAst>) {
      const all = o.dockerfile.stages.flatMap((s) => s.instructions);
      steps = all.map((ins, i) => {
        const rest = ins.text.slice(ins.keyword.length).trim();
        const step: BuildStep = {
          vertex: vertexOf(ins.range.startLine),
          name: `[${i + 1}/${all.length}] ${ins.text}`,
          instruction: ins.text,
          keyword: ins.keyword,
          line: ins.range.startLine,
          endLine: ins.range.startLine,
          stage: '0',
          stageIndex: 0,
        };
        if (ins.keyword === 'RUN') step.execArgs = ['/bin/sh', '-c', rest];
        if (ins.keyword === 'COPY') {
          const words = rest.split(/\s+/);
          step.copySources = words.slice(0, -1);
          step.copyDestination = words[words.length - 1] ?? '';
        }
        return step;
      });
      return { definition: 'llb', imageConfig: {}, steps, baseImages: [], secrets: [] };
    },
    describeConversion: () => ({}),
    endpointFromEnv: () => 'unix:///fake.sock',
    connectBuildKit: async () => {
      if (opts.connectError) throw opts.connectError;
      return client;
    },
  };
  const fake = tracer === null ? undefined : fakeTracer(tracer);
  if (fake) tc.tracer = fake;
  return { tc, fake };
}

// ---- kernel events of a RUN step ----------------------------------------------------------

const hdr = (type: number, tsNs: bigint, cgroupId: bigint, tgid: number) => ({ type, size: 0, tsNs, cgroupId, pid: tgid, tgid });
const kernelTs = (wallNs: bigint): bigint => wallNs - FAKE_REALTIME_OFFSET_NS;

function runEvents(line: number, argv: string[], extra: (ts: bigint) => TraceEvent[] = () => []): TraceEvent[] {
  const t = kernelTs(startOf(line)) + 10_000_000n;
  const mkdir: CgroupEventData = {
    kind: 'cgroup-mkdir',
    header: hdr(abi.EventType.CgroupMkdir, t, 1n, 1),
    id: RUN_CGROUP,
    level: 3,
    generation: 5,
    flags: 1,
    path: '/docker/buildkit/abc',
    auto: true,
    notTraced: false,
    pathTruncated: false,
  };
  const exec: ExecEventData = {
    kind: 'exec',
    header: hdr(abi.EventType.Exec, t + 1_000_000n, RUN_CGROUP, 500),
    ppid: 400,
    oldPid: 500,
    uid: 0,
    gid: 0,
    flags: 0,
    argc: argv.length,
    startBoottimeNs: t,
    exe: { dev: 1, ino: 2n, size: 3n, mtimeSec: 0n, mtimeNsec: 0, ctimeSec: 0n, ctimeNsec: 0, mode: 0o100755 },
    filename: argv[0] ?? '',
    interp: undefined,
    exePath: '/bin/busybox',
    cwd: '/',
    argv,
    argvTruncated: false,
    script: false,
    needsDigest: false,
    digestSkipped: false,
    digestByPeer: false,
    execId: 1n,
  };
  return [mkdir, exec, ...extra(t + 2_000_000n)];
}

function created(ts: bigint, path: string): FileEventData {
  return {
    kind: 'file',
    header: hdr(abi.EventType.File, ts, RUN_CGROUP, 500),
    op: 'open',
    syscall: 'openat',
    ret: 3n,
    flags: 0o101,
    mode: 0o644,
    dirfd1: -100,
    dirfd2: 0,
    uid: 0,
    gid: 0,
    length: 0n,
    result: 0,
    created: true,
    path1: path,
    path2: '',
    dir1: '',
    dir2: '',
    resolved: path,
    absPath1: path,
    absPath2: undefined,
    truncated: false,
  };
}

// ---- harness ------------------------------------------------------------------------------

let dir: string;
let rec: Recorder;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracebuild-trace-phase-'));
  rec = { solves: [] };
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nCOPY a.txt /a.txt\nRUN echo hi > /out\n');
  writeFileSync(join(dir, 'a.txt'), 'hello');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(
  argv: string[],
  tracer: FakeTracerOptions | null = {},
  opts: { abort?: AbortController; env?: NodeJS.ProcessEnv; connectError?: Error; duringSolve?: (fake: ReturnType<typeof fakeTracer> | undefined) => void } = {},
) {
  let stdout = '';
  let stderr = '';
  const { tc, fake } = toolchain(rec, tracer, opts);
  const io: CliIo = {
    stdout: { write: (s) => (stdout += s) },
    stderr: { write: (s) => (stderr += s), isTTY: false },
    env: opts.env ?? {},
    cwd: dir,
    clock: { now: () => 0 },
    ticker: () => () => {},
    ...(opts.abort ? { signal: opts.abort.signal } : {}),
  };
  const code = await runCli(argv, io, { version: '0.0.0', loadToolchain: async () => tc });
  return { code, stdout, stderr, fake };
}

const runOf = (line: number) => (): TraceEvent[] =>
  runEvents(line, ['/bin/sh', '-c', 'echo hi > /out'], (ts) => [created(ts, '/out')]);

describe('tracebuild build: the trace', () => {
  it('traces by default: probe started with a fresh generation before the solve, stopped after it, table on stderr', async () => {
    const r = await cli(['.', '--progress', 'plain'], { events: runOf(3) });
    expect(r.code, r.stderr).toBe(0);
    const fake = r.fake!;
    expect(fake.record.started).toHaveLength(1);
    const generation = fake.record.started[0]?.generation ?? 0;
    expect(generation).toBeGreaterThan(0);
    expect(fake.record.calls).toEqual(['gen 0', 'ping', 'stop']);
    expect(fake.record.running).toBe(false);
    // the table follows the progress, one row per instruction
    const table = r.stderr.slice(r.stderr.indexOf('STEP'));
    expect(r.stderr.indexOf('STEP')).toBeGreaterThan(r.stderr.indexOf('#3 DONE'));
    expect(table).toMatch(/Dockerfile:1 FROM busybox:local\s+cached/);
    expect(table).toMatch(/Dockerfile:2 COPY a\.txt \/a\.txt\s+copy: 1 file served, 5 B/);
    expect(table).toMatch(/Dockerfile:3 RUN echo hi > \/out\s+1\s+1\s+0\s+0\s+0/);
    expect(table).toContain('lost events: 0   unattributed events: 0');
    expect(table).not.toContain('WARNING');
    expect(r.stdout).toBe('Successfully built cdcdcdcdcdcd\n');
    // the solve got the served-file listener
    expect(typeof rec.solves[0]?.onFileServed).toBe('function');

    const again = await cli(['.'], { events: runOf(3) });
    expect(again.fake!.record.started[0]?.generation).not.toBe(generation);
  });

  it('writes --trace-out atomically, with what the table shows', async () => {
    const r = await cli(['.', '--trace-out', 'out/trace.json'], { events: runOf(3) });
    expect(r.code).toBe(2); // out/ does not exist: refused before building
    expect(r.stderr).toContain('--trace-out');
    expect(rec.solves).toHaveLength(0);
    expect(r.fake!.record.started).toHaveLength(0);

    const ok = await cli(['.', '--trace-out', 'trace.json'], { events: runOf(3) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`Trace written to ${join(dir, 'trace.json')}`);
    const trace = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')) as Trace;
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(trace.monitor).toMatchObject({ name: 'tracebuild-probe', generation: ok.fake!.record.started[0]?.generation });
    const steps = trace.buildSteps.map((s) => [s.line, s.keyword, s.status]);
    expect(steps).toEqual([
      [1, 'FROM', 'cached'],
      [2, 'COPY', 'done'],
      [3, 'RUN', 'done'],
    ]);
    const run = trace.buildSteps[2]!;
    expect(run.processes.map((p) => p.argv)).toEqual([['/bin/sh', '-c', 'echo hi > /out']]);
    expect(run.files.created).toEqual(['/out']);
    expect(run.cgroup).toMatchObject({ id: String(RUN_CGROUP), attribution: 'running' });
    expect(trace.buildSteps[1]!.copy).toMatchObject({ patterns: ['a.txt'], sources: [{ path: 'a.txt', size: 5 }], destination: '/a.txt' });
  });

  it('--no-trace builds without the probe and without a table; --trace-out needs the trace', async () => {
    const r = await cli(['.', '--no-trace']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.fake!.record.started).toHaveLength(0);
    expect(r.stderr).not.toContain('STEP');

    const both = await cli(['.', '--no-trace', '--trace-out', 't.json']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('error: --trace-out needs a trace: it cannot be used with --no-trace\n');

    // a toolchain without a tracer can still build with --no-trace
    const bare = await cli(['.', '--no-trace'], null);
    expect(bare.code, bare.stderr).toBe(0);
  });

  it.each(['not-root', 'bpf-unavailable', 'probe-not-built'] as const)(
    'says in one line that tracing is unavailable (%s), mentions --no-trace, exits 1 before building',
    async (code) => {
      const r = await cli(['.'], { unavailable: code });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: fake: tracer unavailable (${code}); or build without a trace: --no-trace\n`);
      expect(rec.solves).toHaveLength(0);
    },
  );

  it('names other start failures of the probe the same way', async () => {
    const r = await cli(['.'], { startError: new TracerError('timeout', 'the probe did not attach within 30000 ms') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: cannot start the eBPF tracer: the probe did not attach within 30000 ms; or build without a trace: --no-trace\n');
    expect(rec.solves).toHaveLength(0);
  });

  it('says so when the toolchain has no tracer at all', async () => {
    const r = await cli(['.'], null);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the eBPF tracer is not available .*--no-trace\n$/);
    expect(rec.solves).toHaveLength(0);
  });

  it('traces a failed build too: table, --trace-out written and said so, the error last', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN exit 3\n');
    const r = await cli(['.', '--trace-out', 'failed.json'], {
      events: () => runEvents(2, ['/bin/sh', '-c', 'exit 3']),
    });
    expect(r.code).toBe(1);
    expect(r.fake!.record.running).toBe(false);
    expect(r.fake!.record.calls).toEqual(['gen 0', 'ping', 'stop']);
    expect(r.stderr).toContain('Trace of the failed build:');
    expect(r.stderr).toContain(`Trace of the failed build written to ${join(dir, 'failed.json')}`);
    expect(r.stderr.trimEnd().split('\n').pop()).toMatch(/^Dockerfile:2: .*exit code: 3/);
    const trace = JSON.parse(readFileSync(join(dir, 'failed.json'), 'utf8')) as Trace;
    expect(trace.buildSteps[1]).toMatchObject({ keyword: 'RUN', status: 'failed', processes: [{ argv: ['/bin/sh', '-c', 'exit 3'] }] });
  });

  it('starts the probe while connecting; a failed connect stops it and prints no trace', async () => {
    const r = await cli(['.', '--trace-out', 'x.json'], {}, { connectError: new Error('cannot connect to BuildKit') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: cannot connect to BuildKit\n');
    expect(r.fake!.record.started).toHaveLength(1);
    expect(r.fake!.record.running).toBe(false);
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
  });

  it('passes TRACEBUILD_PROBE as the loader to start', async () => {
    const r = await cli(['.'], { events: runOf(3) }, { env: { TRACEBUILD_PROBE: '/opt/probe' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.fake!.record.started[0]?.loaderPath).toBe('/opt/probe');
  });

  it('fails a build whose RUN ran with no process seen by the probe, unless --allow-incomplete-trace', async () => {
    const r = await cli(['.', '--trace-out', 'u.json'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: the eBPF probe saw no process of Dockerfile:3, which ran (are the daemon's RUN containers under a cgroup the probe watches?); the trace is incomplete: nothing was pushed or signed",
    );
    const written = JSON.parse(readFileSync(join(dir, 'u.json'), 'utf8')) as Trace;
    expect(written.complete).toBe(false);
    expect(written.losses.unseenSteps).toBe(1);
    const allowed = await cli(['.', '--allow-incomplete-trace'], {});
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('WARNING: 1 RUN step(s) ran with no process seen by the probe (Dockerfile:3): their record is empty');
  });

  it('only stops the probe when the build is canceled', async () => {
    const abort = new AbortController();
    const r = await cli(['.', '--trace-out', 'c.json'], {}, { abort });
    expect(r.code).toBe(130);
    expect(r.fake!.record.running).toBe(false);
    expect(r.stderr).not.toContain('STEP');
    expect(existsSync(join(dir, 'c.json'))).toBe(false);
  });

  it('warns visibly about lost and unattributed events, also with -q (no table then)', async () => {
    const stray = (): TraceEvent[] => [
      ...runOf(3)(),
      ...runEvents(3, ['/bin/other'], () => []).map(
        (e) =>
          (e.kind === 'cgroup-mkdir'
            ? { ...e, id: 999n, path: '/docker/buildkit/zzz' }
            : { ...e, header: { ...e.header!, cgroupId: 999n, tgid: 9 } }) as TraceEvent,
      ),
    ];
    const r = await cli(['.'], { events: stray, losses: { ringbufTotal: 3n, ringbuf: { 'cgroup-mkdir': 0n, 'cgroup-rmdir': 0n, exec: 0n, fork: 0n, exit: 0n, file: 3n, net: 0n } } as never });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('WARNING: 3 event(s) lost');
    expect(r.stderr).toContain('WARNING: 1 event(s) in 1 cgroup(s) matched no step');

    const q = await cli(['-q', '.'], { events: stray, losses: { ringbufTotal: 3n } });
    expect(q.stdout).toBe(`${IMAGE_ID}\n`);
    expect(q.stderr).not.toContain('STEP');
    expect(q.stderr).toContain('WARNING: 3 event(s) lost');
  });

  it('never lets a secret value into the trace', async () => {
    const secret = 'hunter2-s3cr3t-value';
    writeFileSync(join(dir, 'secret.txt'), `${secret}\n`);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN /bin/echo "$(cat /run/secrets/tok)"\n');
    const r = await cli(['.', '--secret', 'id=tok,src=secret.txt', '--trace-out', 't.json'], {
      events: () =>
        runEvents(2, ['/bin/sh', '-c', '/bin/echo "$(cat /run/secrets/tok)"'], (ts) => [
          {
            ...runEvents(2, ['/bin/echo', secret])[1]!,
            header: hdr(abi.EventType.Exec, ts, RUN_CGROUP, 501),
          } as ExecEventData,
        ]),
    });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(dir, 't.json'), 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('hunter2');
    const trace = JSON.parse(text) as Trace;
    expect(trace.buildSteps[1]!.processes.map((p) => p.argv)).toEqual([
      ['/bin/sh', '-c', '/bin/echo "$(cat /run/secrets/tok)"'],
      ['/bin/echo', '[secret tok]'],
    ]);
    expect(trace.buildSteps[1]!.warnings.join('\n')).toContain('values of secret(s) tok appeared');
  });
});

describe('tracebuild build: a gap in the monitoring', () => {
  // the loader's last output was read just after the RUN (line 3) started
  const gap = {
    kind: 'loader-exited' as const,
    fromMs: Number((startOf(3) + 20_000_000n) / 1_000_000n),
    reason: 'the probe loader exited (signal SIGKILL)',
  };
  const killedDuringSolve = (fake: ReturnType<typeof fakeTracer> | undefined): void => fake?.record.started[0]?.onGap?.(gap);

  it('stops the build while it runs: no image, the error says why and how to accept it, the trace says what is missing', async () => {
    const r = await cli(['.', '--trace-out', 't.json', '-t', 'app'], { events: runOf(3) }, { duringSolve: killedDuringSolve });
    expect(r.code).toBe(1);
    const last = r.stderr.trimEnd().split('\n').pop() ?? '';
    expect(last).toMatch(/^error: the eBPF probe stopped watching the build at \S+ \(the probe loader exited \(signal SIGKILL\)\); the build was stopped: its trace would be incomplete; pass --allow-incomplete-trace/);
    // the solve saw the abort, and no image was reported built
    expect(rec.solves[0]?.signal?.aborted).toBe(true);
    expect(r.stdout).not.toContain('Successfully');
    const trace = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as Trace;
    expect(trace.complete).toBe(false);
    expect(trace.monitorGaps).toEqual([{ kind: 'loader-exited', startedOn: new Date(gap.fromMs).toISOString(), reason: gap.reason }]);
  });

  it('with --allow-incomplete-trace, finishes with a trace that says what it lacks, in the counters and the steps', async () => {
    const r = await cli(['.', '--allow-incomplete-trace', '--trace-out', 't.json'], { events: runOf(3) }, { duringSolve: killedDuringSolve });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Successfully built cdcdcdcdcdcd\n');
    expect(r.stderr).toContain(`WARNING: the probe stopped watching at ${new Date(gap.fromMs).toISOString()} (Dockerfile:3 ran unobserved, at least in part)`);
    const trace = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as Trace;
    expect(trace.complete).toBe(false);
    expect(trace.lostEvents).toBe(1);
    expect(trace.losses.monitorGaps).toBe(1);
    const run = trace.buildSteps[2]!;
    expect(run.monitorGaps).toHaveLength(1);
    expect(run.lostEvents).toBe(1);
    expect(run.warnings.join('\n')).toContain('the probe stopped watching at');
    // the COPY step's record is the session's: not affected
    expect(trace.buildSteps[1]!.monitorGaps).toBeUndefined();
  });

  it('fails after the solve, before anything is pushed or signed, when the probe dies while being stopped', async () => {
    const r = await cli(['.', '--trace-out', 't.json'], { events: runOf(3), gapAtStop: gap });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n').pop()).toMatch(/the trace is incomplete: nothing was pushed or signed; pass --allow-incomplete-trace/);
    expect((JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as Trace).monitorGaps).toHaveLength(1);
    const accepted = await cli(['.', '--allow-incomplete-trace'], { events: runOf(3), gapAtStop: gap });
    expect(accepted.code, accepted.stderr).toBe(0);
  });

  it('refuses a watchdog limit that is not a whole number of milliseconds >= 1000', async () => {
    const r = await cli(['.'], { events: runOf(3) }, { env: { TRACEBUILD_PROBE_STALL_TIMEOUT_MS: '5s' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid TRACEBUILD_PROBE_STALL_TIMEOUT_MS "5s"');
    const ok = await cli(['.'], { events: runOf(3) }, { env: { TRACEBUILD_PROBE_STALL_TIMEOUT_MS: '20000' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.fake!.record.started[0]?.stallTimeoutMs).toBe(20_000);
  });
});
