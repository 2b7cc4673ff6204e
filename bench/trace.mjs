#!/usr/bin/env node
// What tracing costs a build, and what the tracer holds up to. Four workloads:
//
//   syscalls (default)  a busybox shell loop that execs, forks, creates, renames, links,
//                       chmods and deletes files: thousands of execs, tens of thousands of
//                       processes and file operations (--iterations K)
//   debian              a realistic build: on a Debian base made once with debootstrap (and
//                       kept as an image), apt-get install gcc make, then make -j2 over
//                       --files N generated C files
//   processes           one RUN of --processes N short-lived processes that never exec
//                       (bench/stress.c): the peak RSS of the CLI and of the probe's loader,
//                       and the time from the solve's end to the trace being written
//   stress              one RUN of --writers W processes making file events as fast as they
//                       can and one forking, for --seconds S (bench/stress.c), --runs N
//                       times: the events per second the trace holds, and the losses; each
//                       run beside an untraced one (--no-trace, order alternating): the
//                       rate the RUN makes when nothing traces it. --scratch tmpfs (the
//                       default) has the writers work in a tmpfs mount of the RUN, rootfs
//                       in the container's overlayfs root, which on these VMs makes far
//                       fewer events per second than the tracer can take: the mode
//                       measures the tracer, so the writers get the fastest file system.
//                       --ops create (the default) has each writer create, chmod, rename
//                       and delete its names (every kind of change the trace lists), chmod
//                       only chmod files made once: the cheapest file event for the kernel
//                       to make, so that the tracer's cost is what limits the rate
//
// syscalls and debian are built three ways, interleaved over N rounds, all --no-cache:
//
//   untraced   tracebuild build --no-trace
//   traced     tracebuild build (the eBPF probe)
//   strace     tracebuild build --no-trace while `strace -f -p <dockerd pid>` follows
//              dockerd and everything it starts (runc, the RUN's processes)
//   enforced   tracebuild build --enforce POLICY (only when --modes names it), POLICY an
//              egress rule that allows every address: every connect and send is checked in
//              the kernel and let through; also compared with `traced` (the cost of
//              enforcement alone)
//
// The order rotates each round. Prints the median wall time of each (the whole CLI run), the
// ratios of the medians and the median of each round's own ratio (steadier when the machine's
// speed drifts) with its interval. Then --cpu-builds untraced and traced builds (untimed,
// interleaved) measure where the CPU goes: the CLI's main thread and its other threads, the
// loader (the CLI's waited-for child), the probe's BPF programs (kernel.bpf_stats_enabled is
// set for the traced ones), and count the probe's records and events. Raw figures go to
// bench/results/. Figures only: nothing here asserts a time.
//
//   node bench/trace.mjs [--workload syscalls|debian|processes|stress] [--rounds N]
//                        [--warmup N] [--modes untraced,traced,strace,enforced] [--cpu-builds N]
//                        [--iterations K] [--files N] [--processes N] [--seconds S]
//                        [--writers W] [--runs N] [--scratch tmpfs|rootfs] [--ops create|chmod]
//                        [--out FILE]
//
// Needs root (the probe, strace -p, bpf_stats); runs scripts/env.sh (dockerd, busybox:local,
// the probe, strace) and builds dist/ when dist/cli/main.js is missing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, prepareMachine, repoRoot, run } from './common.mjs';
import { DEBIAN_BASE, cSources, debianDockerfile, stressDockerfile, syscallHeavyDockerfile } from './workload.mjs';

const cli = process.env.TRACEBUILD_CLI ? path.resolve(process.env.TRACEBUILD_CLI) : path.join(repoRoot, 'dist', 'cli', 'main.js');
const docker = '/usr/bin/docker';
const allModes = ['untraced', 'traced', 'strace', 'enforced'];
const workloads = ['syscalls', 'debian', 'processes', 'stress'];
const preload = path.join(repoRoot, 'bench', 'cpu-preload.cjs');

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error(
    'usage: node bench/trace.mjs [--workload syscalls|debian|processes|stress] [--rounds N] [--warmup N] [--modes untraced,traced,strace,enforced]\n' +
      '                            [--cpu-builds N] [--iterations K] [--files N] [--processes N] [--seconds S] [--writers W] [--runs N] [--scratch tmpfs|rootfs] [--ops create|chmod] [--out FILE]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    workload: 'syscalls',
    rounds: undefined,
    iterations: 3000,
    files: 300,
    processes: 1_000_000,
    seconds: 10,
    scratch: 'tmpfs',
    ops: 'create',
    writers: 4,
    runs: 3,
    warmup: 1,
    modes: undefined,
    cpuBuilds: undefined,
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const count = (v, min) => {
      if (!/^\d+$/.test(v) || Number(v) < min) usage(`${a}: expected a whole number >= ${min}, got ${v}`);
      return Number(v);
    };
    if (a === '--workload') {
      opts.workload = value();
      if (!workloads.includes(opts.workload)) usage(`unknown workload ${opts.workload}`);
    } else if (a === '--rounds') opts.rounds = count(value(), 0);
    else if (a === '--iterations') opts.iterations = count(value(), 1);
    else if (a === '--files') opts.files = count(value(), 1);
    else if (a === '--processes') opts.processes = count(value(), 1);
    else if (a === '--seconds') opts.seconds = count(value(), 1);
    else if (a === '--writers') opts.writers = count(value(), 1);
    else if (a === '--runs') opts.runs = count(value(), 1);
    else if (a === '--scratch') {
      opts.scratch = value();
      if (!['tmpfs', 'rootfs'].includes(opts.scratch)) usage(`--scratch: tmpfs or rootfs, got ${opts.scratch}`);
    } else if (a === '--ops') {
      opts.ops = value();
      if (!['create', 'chmod'].includes(opts.ops)) usage(`--ops: create or chmod, got ${opts.ops}`);
    } else if (a === '--warmup') opts.warmup = count(value(), 0);
    else if (a === '--cpu-builds') opts.cpuBuilds = count(value(), 0);
    else if (a === '--modes') {
      opts.modes = value().split(',').filter(Boolean);
      for (const m of opts.modes) if (!allModes.includes(m)) usage(`unknown mode ${m}`);
      if (!opts.modes.includes('untraced')) usage('--modes needs untraced (the baseline of the ratios)');
    } else if (a === '--out') opts.out = value();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  opts.rounds ??= 5;
  opts.modes ??= opts.workload === 'debian' ? ['untraced', 'traced'] : ['untraced', 'traced', 'strace'];
  opts.cpuBuilds ??= opts.workload === 'debian' ? 1 : 2;
  return opts;
}

/** The RUN vertex's own time from plain progress (`#N [2/2] RUN ...` then `#N DONE 9.1s`):
 * the last RUN's, or the sum over all RUNs. */
function runStepMs(output, all = false) {
  let total = 0;
  let last = NaN;
  for (const m of output.matchAll(/^#(\d+) \[[^\]]*\] RUN /gm)) {
    const done = new RegExp(`^#${m[1]} DONE (\\d+(?:\\.\\d+)?)s$`, 'm').exec(output);
    if (!done) return NaN;
    last = Number(done[1]) * 1000;
    total += last;
  }
  return all ? total : last;
}

/**
 * A confidence interval for the median that assumes nothing of the distribution (the
 * machine's noise is not normal): the sorted values' [x(j), x(n+1-j)] holds the median
 * with probability 1 - 2 P(X <= j-1), X ~ Binomial(n, 1/2). j is the largest whose tail is
 * <= 2.5%, or 1 when n is too small for 95% (the coverage then says how much).
 */
function medianInterval(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  let j = 1;
  let pmf = 1 / 2 ** n; // P(X = j-1)
  let cdf = pmf; // P(X <= j-1)
  for (;;) {
    const nextPmf = (pmf * (n - j + 1)) / j;
    if (cdf + nextPmf > 0.025 || j + 1 > n - j) break;
    j++;
    pmf = nextPmf;
    cdf += nextPmf;
  }
  return { low: s[j - 1], high: s[n - j], coverage: 1 - 2 * cdf };
}

const fmtS = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-');
const fmtRatio = (r) => (Number.isFinite(r) ? `${r.toFixed(3)}x` : '-');
const fmtMs = (ms) => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : '-');
const fmtMiB = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : '-');

function dockerdPid() {
  for (const f of ['/var/run/docker.pid', '/run/docker.pid']) {
    if (existsSync(f)) return Number(readFileSync(f, 'utf8').trim());
  }
  return undefined;
}

// Children to stop if the benchmark is interrupted: a strace left attached to dockerd would
// slow every later build on the machine (tests included), and bpf_stats left on costs every
// BPF program a clock read per run.
const liveChildren = new Set();
let bpfStatsToRestore;
function track(child) {
  liveChildren.add(child);
  child.on('close', () => liveChildren.delete(child));
  return child;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    for (const child of liveChildren) child.kill(child.spawnfile === 'strace' ? 'SIGINT' : 'SIGTERM');
    if (bpfStatsToRestore !== undefined) bpfStats(bpfStatsToRestore);
    console.error(`bench: stopped by ${signal}; strace detached, builds stopped`);
    process.exit(130);
  });
}

/** Attaches strace to dockerd (following every child) and resolves once it is attached. */
async function startStrace(pid) {
  const child = track(spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  for (let i = 0; i < 100; i++) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^TracerPid:\s+[1-9]/m.test(status)) return { child, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`strace did not attach to dockerd (pid ${pid}): ${err.trim()}`);
}

/** Like run(), and when each line came (ms since the start): to time the trace's writing. */
function runLines(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = track(spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    const lines = [];
    let partial = '';
    const take = (b) => {
      output += b;
      partial += b;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        lines.push({ at: performance.now() - started, line: partial.slice(0, nl) });
        partial = partial.slice(nl + 1);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => (output += `\n${e.message}`));
    child.on('close', (code) => resolve({ code: code ?? -1, ms: performance.now() - started, output, lines }));
  });
}

/** kernel.bpf_stats_enabled: the BPF programs' run time is counted while it is 1. */
function bpfStats(on) {
  const f = '/proc/sys/kernel/bpf_stats_enabled';
  const before = readFileSync(f, 'utf8').trim();
  writeFileSync(f, on ? '1' : '0');
  return before === '1';
}

// ---- the debootstrap base ---------------------------------------------------------------

/** The Debian base image, made once (debootstrap, then docker import) and kept. */
async function ensureDebianBase() {
  if ((await run(docker, ['image', 'inspect', DEBIAN_BASE])).code === 0) return { made: false, ms: 0 };
  const sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const mirror = /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? 'http://deb.debian.org/debian';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-debian-'));
  console.error(`bench: making ${DEBIAN_BASE} with debootstrap (minbase, bookworm, ${mirror}); kept for later runs`);
  const t0 = performance.now();
  try {
    const boot = await run('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror]);
    if (boot.code !== 0) throw new Error(`debootstrap failed (exit ${boot.code}):\n${boot.output.trim().split('\n').slice(-20).join('\n')}`);
    writeFileSync(path.join(dir, 'etc', 'apt', 'sources.list'), `deb ${mirror} bookworm main\n`);
    const imported = await run('bash', ['-c', `tar -C ${JSON.stringify(dir)} -c . | ${docker} import - ${DEBIAN_BASE}`]);
    if (imported.code !== 0) throw new Error(`docker import failed:\n${imported.output.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { made: true, ms: performance.now() - t0 };
}

// ---- the build context ------------------------------------------------------------------

async function makeContext(opts, context) {
  mkdirSync(context, { recursive: true });
  if (opts.workload === 'syscalls') {
    writeFileSync(path.join(context, 'Dockerfile'), syscallHeavyDockerfile(opts.iterations));
    return;
  }
  if (opts.workload === 'debian') {
    writeFileSync(path.join(context, 'Dockerfile'), debianDockerfile());
    mkdirSync(path.join(context, 'src'));
    for (const [name, text] of Object.entries(cSources(opts.files))) writeFileSync(path.join(context, 'src', name), text);
    return;
  }
  const cc = await run('gcc', ['-static', '-O2', '-o', path.join(context, 'stress'), path.join(repoRoot, 'bench', 'stress.c')]);
  if (cc.code !== 0) throw new Error(`compiling bench/stress.c failed:\n${cc.output}`);
  const args = opts.workload === 'processes' ? `fork ${opts.processes} 2` : `files ${opts.seconds} ${opts.writers} ${opts.ops}`;
  writeFileSync(path.join(context, 'Dockerfile'), stressDockerfile(args, opts.workload === 'stress' && opts.scratch === 'tmpfs'));
}

// ---- one build --------------------------------------------------------------------------

/**
 * One `tracebuild build` of the context. `account`: with the CPU preload (and, traced, the
 * loader's figures and the trace file); returns what they said.
 */
async function build(ctx, mode, account = false) {
  const { context, work, tag, dpid } = ctx;
  const traceOut = path.join(work, 'trace.json');
  const cpuOut = path.join(work, 'cpu.json');
  const statsOut = path.join(work, 'probe-stats.json');
  const args = [cli, 'build', '--progress', 'plain', '--no-cache', '--network', 'host', '-t', tag];
  if (mode === 'traced' && account) args.push('--trace-out', traceOut);
  if (mode === 'enforced') {
    // every destination allowed: the programs check every connect and send, refuse none
    const policy = path.join(work, 'enforce-all.yaml');
    if (!existsSync(policy)) writeFileSync(policy, 'enforce:\n  - name: allow-all\n    egress: { allow: ["0.0.0.0/0", "::/0"] }\n');
    args.push('--enforce', policy);
  } else if (mode !== 'traced') args.push('--no-trace');
  const env = {};
  if (account) {
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim();
    env.TRACEBUILD_BENCH_CPU_OUT = cpuOut;
    if (mode === 'traced') env.TRACEBUILD_PROBE_STATS = statsOut;
  }
  for (const f of [traceOut, cpuOut, statsOut]) rmSync(f, { force: true });
  let strace;
  if (mode === 'strace') strace = await startStrace(dpid);
  const statsWas = account && mode === 'traced' ? bpfStats(true) : undefined;
  bpfStatsToRestore = statsWas;
  const r = await runLines(process.execPath, [...args, context], env);
  bpfStatsToRestore = undefined;
  if (statsWas === false) bpfStats(false);
  if (strace) {
    strace.child.kill('SIGINT'); // detaches from dockerd and its children
    await strace.exited;
  }
  const out = { mode, code: r.code, ms: r.ms, runStepMs: runStepMs(r.output), runStepsMs: runStepMs(r.output, true) };
  if (r.code !== 0) out.tail = r.output.trim().split('\n').slice(-15).join('\n');
  if ((mode === 'traced' || mode === 'enforced') && r.code === 0) {
    const footer = /lost events: (\d+)\s+unattributed events: (\d+)/.exec(r.output);
    out.lostEvents = footer ? Number(footer[1]) : NaN;
    out.unattributedEvents = footer ? Number(footer[2]) : NaN;
  }
  const stressLine = /stress (?:fork|files): .*/.exec(r.output);
  if (stressLine) out.stress = stressLine[0];
  if (!account || r.code !== 0) return out;
  if (existsSync(cpuOut)) out.cli = JSON.parse(readFileSync(cpuOut, 'utf8'));
  if (existsSync(statsOut)) out.probe = JSON.parse(readFileSync(statsOut, 'utf8'));
  // from the solve's end (its last progress line) to "Trace written to"
  const written = r.lines.find((l) => l.line.startsWith('Trace written to'));
  const lastProgress = [...r.lines].reverse().find((l) => /^#\d+ /.test(l.line) && l.at <= (written?.at ?? Infinity));
  if (written && lastProgress) out.traceWrittenAfterSolveMs = written.at - lastProgress.at;
  if (existsSync(traceOut)) {
    const t = JSON.parse(readFileSync(traceOut, 'utf8'));
    const runs = t.buildSteps.filter((s) => s.keyword === 'RUN');
    out.records = Number(t.monitor?.records ?? NaN);
    out.events = t.monitor?.events;
    out.execs = runs.reduce((n, s) => n + s.processes.filter((p) => p.execed).length, 0);
    out.processes = runs.reduce((n, s) => n + s.processes.length + (s.unlistedProcesses?.count ?? 0), 0);
    out.unlistedProcesses = runs.reduce((n, s) => n + (s.unlistedProcesses?.count ?? 0), 0);
    out.fileOps = runs.reduce((n, s) => n + Object.values(s.files).reduce((k, l) => k + (Array.isArray(l) ? l.length : 0), 0), 0);
    out.digests = runs.reduce((n, s) => n + s.processes.filter((p) => p.execed && p.exeSha256 !== null).length, 0);
    out.traceLost = t.lostEvents;
    out.losses = t.losses;
    out.ringbufBytes = t.monitor?.probe?.ringbufBytes;
    out.traceBytes = readFileSync(traceOut).length;
  }
  return out;
}

// ---- reports ----------------------------------------------------------------------------

function cpuReport(cpu) {
  const ok = (mode) => cpu.filter((r) => r.mode === mode && r.code === 0 && r.cli);
  const med = (rs, f) => median(rs.map(f).filter(Number.isFinite));
  const untraced = ok('untraced');
  const traced = ok('traced');
  if (traced.length === 0) return;
  const prog = (r, name) => (r.probe?.programs?.[name]?.runTimeNs ?? NaN) / 1e6;
  const progCount = (r, name) => r.probe?.programs?.[name]?.runCount ?? NaN;
  const programs = Object.keys(traced[0].probe?.programs ?? {});
  const bpfTotal = (r) => programs.reduce((n, p) => n + prog(r, p), 0);
  console.log(`\nwhere the CPU goes (medians of ${traced.length} traced and ${untraced.length} untraced builds, untimed; thread times from /proc):`);
  const row = (label, t, u) => console.log(`  ${label.padEnd(40)} traced ${fmtMs(t).padStart(8)}   untraced ${fmtMs(u).padStart(8)}   +${fmtMs(t - u)}`);
  row('CLI main thread', med(traced, (r) => r.cli.mainMs), med(untraced, (r) => r.cli.mainMs));
  row('CLI other threads (V8 compiler, GC, ...)', med(traced, (r) => r.cli.otherThreadsMs), med(untraced, (r) => r.cli.otherThreadsMs));
  console.log(`  ${'loader (tracebuild-probe)'.padEnd(40)} ${fmtMs(med(traced, (r) => (r.probe ? (r.probe.loader.userUs + r.probe.loader.systemUs) / 1000 : r.cli.childrenMs)))}`);
  console.log(`  ${'BPF programs in the kernel (bpf_stats)'.padEnd(40)} ${fmtMs(med(traced, bpfTotal))}`);
  for (const p of programs) {
    console.log(`    ${p.padEnd(38)} ${fmtMs(med(traced, (r) => prog(r, p)))} over ${Math.round(med(traced, (r) => progCount(r, p)))} runs`);
  }
  console.log(
    `  peak RSS: CLI ${fmtMiB(med(traced, (r) => r.cli.maxRssKiB))} traced, ${fmtMiB(med(untraced, (r) => r.cli.maxRssKiB))} untraced; ` +
      `loader ${fmtMiB(med(traced, (r) => r.probe?.loader.maxRssKiB))}`,
  );
  const t = traced[traced.length - 1];
  if (t.probe) {
    console.log(
      `  the loader read ${t.probe.in.kernelRecords} kernel records (${t.probe.in.forks} forks, ${t.probe.in.execs} execs, ${t.probe.in.exits} exits) ` +
        `and wrote ${t.probe.out.records} records (${t.probe.out.processRecords} process records; ${t.probe.out.batches} batches holding ` +
        `${t.probe.out.batched} records), ${(t.probe.out.bytes / 1e6).toFixed(1)} MB`,
    );
  }
}

function countsReport(counts, seconds) {
  if (!counts) return;
  const ev = counts.events ?? {};
  const events = Object.values(ev).reduce((n, x) => n + x, 0);
  console.log(
    `\nper traced build: ${counts.records} probe records carrying ${events} events (${Object.entries(ev)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}); ${counts.execs} execs, ${counts.processes} processes${counts.unlistedProcesses ? ` (${counts.unlistedProcesses} counted, not listed)` : ''}, ` +
      `${counts.fileOps} file entries in the RUN(s); ${counts.digests}/${counts.execs} execs with a digest; ` +
      `${Math.round(counts.records / (seconds / 1000))} records/s over the build; trace ${(counts.traceBytes / 1e6).toFixed(1)} MB; lost events ${counts.traceLost}`,
  );
}

// ---- the workloads ----------------------------------------------------------------------

async function timedRounds(opts, ctx) {
  const results = [];
  const total = opts.warmup + opts.rounds;
  for (let round = 0; round < total; round++) {
    const warm = round < opts.warmup;
    // rotate the order: A B C, B C A, C A B, ...
    const order = opts.modes.map((_, i) => opts.modes[(i + round) % opts.modes.length]);
    const line = [];
    for (const mode of order) {
      const r = await build(ctx, mode);
      line.push(`${mode} ${fmtS(r.ms)}${r.code === 0 ? '' : ` FAILED (exit ${r.code})`}`);
      if (r.code !== 0) console.error(`  ${mode}: ${r.tail}`);
      if (!warm) results.push({ round: round - opts.warmup, ...r });
    }
    console.error(`round ${round + 1}/${total}${warm ? ' (warm-up, not counted)' : ''}: ${line.join(', ')}`);
  }
  return results;
}

async function cpuBuilds(opts, ctx) {
  const cpu = [];
  for (let i = 0; i < opts.cpuBuilds; i++) {
    for (const mode of i % 2 ? ['traced', 'untraced'] : ['untraced', 'traced']) {
      const r = await build(ctx, mode, true);
      console.error(`cpu build ${i + 1}/${opts.cpuBuilds} ${mode}: ${fmtS(r.ms)}${r.code === 0 ? '' : ` FAILED (exit ${r.code})\n${r.tail}`}`);
      cpu.push(r);
    }
  }
  return cpu;
}

function ratioReport(opts, results) {
  const ok = (mode) => results.filter((r) => r.mode === mode && r.code === 0);
  const med = Object.fromEntries(opts.modes.map((m) => [m, median(ok(m).map((r) => r.ms))]));
  const runMed = Object.fromEntries(opts.modes.map((m) => [m, median(ok(m).map((r) => r.runStepsMs).filter(Number.isFinite))]));
  const rows = [['build', 'wall', 'ratio', 'RUN steps', 'ratio']];
  const row = (label, m) => [label, fmtS(med[m]), fmtRatio(med[m] / med.untraced), fmtS(runMed[m]), fmtRatio(runMed[m] / runMed.untraced)];
  rows.push(row('untraced (--no-trace)', 'untraced'));
  if (opts.modes.includes('traced')) rows.push(row('traced (eBPF probe)', 'traced'));
  if (opts.modes.includes('strace')) rows.push(row('strace -f -p dockerd', 'strace'));
  if (opts.modes.includes('enforced')) rows.push(row('enforced (--enforce)', 'enforced'));
  const widths = [22, 9, 8, 10, 8];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i] + 2))).join(''));
  console.log('(wall: the whole `tracebuild build` command; RUN steps: the RUN vertices as BuildKit timed them)');
  // The ratio of the medians mixes rounds; on a shared machine whose speed drifts, the
  // median of each round's own ratio (builds seconds apart) is the steadier figure.
  const paired = (m, base = 'untraced') => {
    const byRound = new Map();
    for (const r of results) if (r.code === 0) byRound.set(r.round, { ...byRound.get(r.round), [r.mode]: r });
    const wall = [];
    const step = [];
    for (const o of byRound.values()) {
      if (!o[m] || !o[base]) continue;
      wall.push(o[m].ms / o[base].ms);
      if (Number.isFinite(o[m].runStepsMs / o[base].runStepsMs)) step.push(o[m].runStepsMs / o[base].runStepsMs);
    }
    const ci = medianInterval(wall);
    return (
      `${fmtRatio(median(wall))} (RUN steps ${fmtRatio(median(step))}); ` +
      `${Math.round(ci.coverage * 100)}% interval of the wall ratio's median ${fmtRatio(ci.low)}-${fmtRatio(ci.high)}; ` +
      `rounds: ${wall.map((x) => x.toFixed(3)).join(' ')}`
    );
  };
  for (const m of opts.modes.filter((x) => x !== 'untraced')) console.log(`${m}/untraced, median of the per-round ratios: ${paired(m)}`);
  if (opts.modes.includes('enforced') && opts.modes.includes('traced')) console.log(`enforced/traced, median of the per-round ratios: ${paired('enforced', 'traced')}`);
  const traced = ok('traced');
  if (traced.length) {
    const lost = traced.reduce((n, r) => n + r.lostEvents, 0);
    const unattributed = traced.reduce((n, r) => n + r.unattributedEvents, 0);
    console.log(`lost events: ${lost} over ${traced.length} traced build(s); unattributed events: ${unattributed} (other builds on the daemon)`);
  }
  return med;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.env.TRACEBUILD_CLI && !existsSync(cli)) usage(`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI} does not exist`);
  await prepareMachine(cli);
  const dpid = dockerdPid();
  if (opts.modes.includes('strace') && dpid === undefined) usage('strace mode: dockerd pid file not found');
  const base = opts.workload === 'debian' ? await ensureDebianBase() : undefined;
  if (base?.made) console.error(`bench: ${DEBIAN_BASE} made in ${fmtS(base.ms)}`);

  const work = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-trace-'));
  const ctx = { context: path.join(work, 'context'), work, tag: `tracebuild-bench/trace:${Date.now().toString(36)}`, dpid };
  await makeContext(opts, ctx.context);

  const dockerVersion = (await run(docker, ['version', '--format', '{{.Server.Version}}'])).output.trim();
  const reproduce = [
    ...(process.env.TRACEBUILD_CLI ? [`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI}`] : []),
    'node bench/trace.mjs',
    `--workload ${opts.workload}`,
    ...(opts.workload === 'syscalls' || opts.workload === 'debian'
      ? [`--rounds ${opts.rounds}`, `--warmup ${opts.warmup}`, `--modes ${opts.modes.join(',')}`, `--cpu-builds ${opts.cpuBuilds}`]
      : []),
    ...(opts.workload === 'syscalls' ? [`--iterations ${opts.iterations}`] : []),
    ...(opts.workload === 'debian' ? [`--files ${opts.files}`] : []),
    ...(opts.workload === 'processes' ? [`--processes ${opts.processes}`] : []),
    ...(opts.workload === 'stress' ? [`--seconds ${opts.seconds}`, `--writers ${opts.writers}`, `--runs ${opts.runs}`, `--scratch ${opts.scratch}`, `--ops ${opts.ops}`] : []),
  ].join(' ');
  const raw = { reproduce, date: new Date().toISOString(), dockerVersion, node: process.version, options: opts, debianBase: base };
  const machine = `machine: ${os.cpus().length} CPU, ${os.release()}, node ${process.version}, dockerd ${dockerVersion}`;
  let failed = 0;
  try {
    if (opts.workload === 'syscalls' || opts.workload === 'debian') {
      const results = await timedRounds(opts, ctx);
      const cpu = await cpuBuilds(opts, ctx);
      raw.results = results;
      raw.cpu = cpu;
      failed = [...results, ...cpu].filter((r) => r.code !== 0).length;
      const what =
        opts.workload === 'syscalls'
          ? `a RUN looping ${opts.iterations} times`
          : `${DEBIAN_BASE}: apt-get install gcc make, then make -j2 over ${opts.files} C files`;
      console.log(`\nthe cost of tracing: ${opts.rounds} round(s) of ${what}, --no-cache, medians of the whole CLI run`);
      console.log(`${machine}\n`);
      const med = results.length ? ratioReport(opts, results) : { traced: median(cpu.filter((r) => r.mode === 'traced').map((r) => r.ms)) };
      countsReport(cpu.filter((r) => r.mode === 'traced' && r.code === 0).pop(), med.traced);
      cpuReport(cpu);
    } else if (opts.workload === 'processes') {
      const r = await build(ctx, 'traced', true);
      raw.results = [r];
      failed = r.code !== 0 ? 1 : 0;
      console.log(`\n${opts.processes} short-lived processes in one RUN (bench/stress.c, 2 forking at a time), traced`);
      console.log(`${machine}\n`);
      if (r.code !== 0) console.log(`the build failed (exit ${r.code}):\n${r.tail}`);
      else {
        console.log(`${r.stress ?? '(no figures from the RUN)'}`);
        console.log(`build ${fmtS(r.ms)}, RUN step ${fmtS(r.runStepMs)}`);
        console.log(
          `peak RSS: CLI ${fmtMiB(r.cli?.maxRssKiB)}, loader ${fmtMiB(r.probe?.loader.maxRssKiB)}; ` +
            `from the solve's end to the trace written: ${fmtMs(r.traceWrittenAfterSolveMs)}`,
        );
        console.log(
          `CPU: CLI main thread ${fmtMs(r.cli?.mainMs)}, its other threads ${fmtMs(r.cli?.otherThreadsMs)}, loader ` +
            `${fmtMs(r.probe ? (r.probe.loader.userUs + r.probe.loader.systemUs) / 1000 : NaN)}`,
        );
        countsReport(r, r.ms);
      }
    } else {
      // each traced run beside an untraced one (the order alternating): the rate the RUN
      // makes when nothing traces it, on the machine as it is at that moment
      const runs = [];
      const untracedRuns = [];
      for (let i = 0; i < opts.runs; i++) {
        for (const mode of i % 2 ? ['traced', 'untraced'] : ['untraced', 'traced']) {
          const r = await build(ctx, mode, true);
          (mode === 'traced' ? runs : untracedRuns).push(r);
          console.error(`stress run ${i + 1}/${opts.runs} ${mode}: ${fmtS(r.ms)}${r.code === 0 ? '' : ` FAILED (exit ${r.code})\n${r.tail}`}`);
        }
      }
      raw.results = runs;
      raw.untraced = untracedRuns;
      failed = [...runs, ...untracedRuns].filter((r) => r.code !== 0).length;
      console.log(`\nstress: ${opts.writers} writers making file events (${opts.ops}) and one process forking, for ${opts.seconds} s in one RUN (${opts.scratch === 'tmpfs' ? 'in a tmpfs mount' : 'in the overlayfs root'}), traced; ${opts.runs} run(s)`);
      console.log(`${machine}\n`);
      for (const r of runs.filter((x) => x.code === 0)) {
        const seconds = Number(/, ([\d.]+) s:/.exec(r.stress ?? '')?.[1] ?? NaN);
        const made = Number(/: (\d+) events,/.exec(r.stress ?? '')?.[1] ?? NaN);
        const ev = r.events ?? {};
        const traced = (ev.file ?? 0) + (ev.fork ?? 0) + (ev.exit ?? 0);
        console.log(`RUN: ${r.stress}`);
        console.log(
          `  the trace holds ${traced} file and process events (${ev.file} file, ${ev.fork} fork, ${ev.exit} exit, with the RUN's shell's): ` +
            `${Math.round(traced / seconds)} events/s sustained over the RUN's ${seconds} s; the RUN made ${made}`,
        );
        console.log(
          `  lost events: ${r.traceLost} (${JSON.stringify(r.losses?.ringbuf)}; output ${r.losses?.output}); ring buffer ${fmtMiB(r.ringbufBytes / 1024)}; ` +
            `${r.records} records; peak RSS CLI ${fmtMiB(r.cli?.maxRssKiB)}, loader ${fmtMiB(r.probe?.loader.maxRssKiB)}; ` +
            `CPU: CLI ${fmtMs((r.cli?.mainMs ?? NaN) + (r.cli?.otherThreadsMs ?? NaN))}, loader ${fmtMs(r.probe ? (r.probe.loader.userUs + r.probe.loader.systemUs) / 1000 : NaN)}`,
        );
        const cliMs = (r.cli?.mainMs ?? NaN) + (r.cli?.otherThreadsMs ?? NaN);
        const bpfMs = Object.values(r.probe?.programs ?? {}).reduce((n, p) => n + (p.runTimeNs ?? NaN) / 1e6, 0);
        console.log(
          `  CLI main thread ${fmtMs(r.cli?.mainMs)}, other threads ${fmtMs(r.cli?.otherThreadsMs)} (${((cliMs * 1000) / traced).toFixed(2)} µs per traced event, fixed costs included); ` +
            `BPF programs ${fmtMs(bpfMs)} (${((bpfMs * 1e6) / traced).toFixed(0)} ns per traced event, every syscall exit of the machine included)`,
        );
        if (r.traceLost !== 0) console.log('  LOST EVENTS: see losses above');
      }
      for (const r of untracedRuns.filter((x) => x.code === 0)) {
        console.log(`untraced RUN: ${r.stress}; CLI CPU ${fmtMs((r.cli?.mainMs ?? NaN) + (r.cli?.otherThreadsMs ?? NaN))}`);
      }
    }
  } finally {
    await run(docker, ['rmi', '--force', ctx.tag]);
    rmSync(work, { recursive: true, force: true });
  }
  if (failed) console.log(`\n${failed} build(s) failed (left out of the figures)`);
  console.log(`\nreproduce: ${reproduce}`);
  const out = opts.out ?? path.join(repoRoot, 'bench', 'results', `trace-${opts.workload}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(raw, null, 2) + '\n');
  console.log(`raw figures: ${path.relative(process.cwd(), out) || out}`);
  if (failed) process.exitCode = 1;
}

await main();
