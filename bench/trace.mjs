#!/usr/bin/env node
// What tracing costs a build: a syscall-heavy Dockerfile (a busybox shell loop that execs,
// forks, creates, renames, links, chmods and deletes files: thousands of execs, tens of
// thousands of file operations) built three ways, interleaved over N rounds, all --no-cache:
//
//   untraced   tracebuild build --no-trace
//   traced     tracebuild build (the eBPF probe; --trace-out to read its counters)
//   strace     tracebuild build --no-trace while `strace -f -p <dockerd pid>` follows
//              dockerd and everything it starts (runc, the RUN's processes)
//
// The order rotates each round. Prints the median wall time of each (the whole CLI run),
// the traced/untraced and strace/untraced ratios of the medians (and the median of each
// round's own ratio, steadier when the machine's speed drifts), the probe's records per
// second and lost events, and the command that reproduces the run; raw figures go to
// bench/results/. Figures only: nothing here asserts a time.
//
//   node bench/trace.mjs [--rounds N (5)] [--iterations K (3000)] [--warmup N (1)]
//                        [--modes untraced,traced,strace] [--out FILE]
//
// Needs root (the probe, strace -p); runs scripts/env.sh (dockerd, busybox:local, the probe,
// strace) and builds dist/ when dist/cli/main.js is missing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, prepareMachine, repoRoot, run } from './common.mjs';
import { syscallHeavyDockerfile } from './workload.mjs';

const cli = process.env.TRACEBUILD_CLI ? path.resolve(process.env.TRACEBUILD_CLI) : path.join(repoRoot, 'dist', 'cli', 'main.js');
const docker = '/usr/bin/docker';
const allModes = ['untraced', 'traced', 'strace'];

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error('usage: node bench/trace.mjs [--rounds N] [--iterations K] [--warmup N] [--modes untraced,traced,strace] [--out FILE]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { rounds: 5, iterations: 3000, warmup: 1, modes: allModes, out: undefined };
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
    if (a === '--rounds') opts.rounds = count(value(), 1);
    else if (a === '--iterations') opts.iterations = count(value(), 1);
    else if (a === '--warmup') opts.warmup = count(value(), 0);
    else if (a === '--modes') {
      opts.modes = value().split(',').filter(Boolean);
      for (const m of opts.modes) if (!allModes.includes(m)) usage(`unknown mode ${m}`);
      if (!opts.modes.includes('untraced')) usage('--modes needs untraced (the baseline of the ratios)');
    } else if (a === '--out') opts.out = value();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

/** The RUN vertex's own time from plain progress (`#N [2/2] RUN ...` then `#N DONE 9.1s`). */
function runStepMs(output) {
  const id = /^#(\d+) \[\d+\/\d+\] RUN /m.exec(output)?.[1];
  const done = id === undefined ? null : new RegExp(`^#${id} DONE (\\d+(?:\\.\\d+)?)s$`, 'm').exec(output);
  return done ? Number(done[1]) * 1000 : NaN;
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

function dockerdPid() {
  for (const f of ['/var/run/docker.pid', '/run/docker.pid']) {
    if (existsSync(f)) return Number(readFileSync(f, 'utf8').trim());
  }
  return undefined;
}

/** Attaches strace to dockerd (following every child) and resolves once it is attached. */
async function startStrace(pid) {
  const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
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

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.env.TRACEBUILD_CLI && !existsSync(cli)) usage(`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI} does not exist`);
  await prepareMachine(cli);
  const dpid = dockerdPid();
  if (opts.modes.includes('strace') && dpid === undefined) usage('strace mode: dockerd pid file not found');

  const work = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-trace-'));
  const context = path.join(work, 'context');
  mkdirSync(context);
  writeFileSync(path.join(context, 'Dockerfile'), syscallHeavyDockerfile(opts.iterations));
  const traceOut = path.join(work, 'trace.json');
  const tag = `tracebuild-bench/trace:${Date.now().toString(36)}`;

  // The traced build is the default one (table on stderr, no --trace-out); its counters
  // come from the table's footer, and the number of probe records from one traced build
  // with --trace-out after the timed rounds (the workload is deterministic).
  const build = async (mode, withTraceOut = false) => {
    const args = [cli, 'build', '--progress', 'plain', '--no-cache', '--network', 'host', '-t', tag];
    if (withTraceOut) args.push('--trace-out', traceOut);
    if (mode !== 'traced') args.push('--no-trace');
    let strace;
    if (mode === 'strace') strace = await startStrace(dpid);
    rmSync(traceOut, { force: true });
    const r = await run(process.execPath, [...args, context]);
    if (strace) {
      strace.child.kill('SIGINT'); // detaches from dockerd and its children
      await strace.exited;
    }
    const out = { mode, code: r.code, ms: r.ms, runStepMs: runStepMs(r.output) };
    if (r.code !== 0) out.tail = r.output.trim().split('\n').slice(-10).join('\n');
    if (mode === 'traced' && r.code === 0) {
      const footer = /lost events: (\d+)\s+unattributed events: (\d+)/.exec(r.output);
      out.lostEvents = footer ? Number(footer[1]) : NaN;
      out.unattributedEvents = footer ? Number(footer[2]) : NaN;
    }
    if (withTraceOut && r.code === 0) {
      const t = JSON.parse(readFileSync(traceOut, 'utf8'));
      const runStep = t.buildSteps.find((s) => s.keyword === 'RUN');
      out.records = Number(t.monitor?.records ?? NaN);
      out.execs = runStep?.processes.filter((p) => p.execed).length ?? 0;
      out.processes = runStep?.processes.length ?? 0;
      out.fileOps = runStep ? Object.values(runStep.files).reduce((n, l) => n + (Array.isArray(l) ? l.length : 0), 0) : 0;
      out.digests = runStep?.processes.filter((p) => p.execed && p.exeSha256 !== null).length ?? 0;
    }
    return out;
  };

  const results = [];
  let counts;
  const total = opts.warmup + opts.rounds;
  try {
    for (let round = 0; round < total; round++) {
      const warm = round < opts.warmup;
      // rotate the order: A B C, B C A, C A B, ...
      const order = opts.modes.map((_, i) => opts.modes[(i + round) % opts.modes.length]);
      const line = [];
      for (const mode of order) {
        const r = await build(mode);
        line.push(`${mode} ${fmtS(r.ms)}${r.code === 0 ? '' : ` FAILED (exit ${r.code})`}`);
        if (r.code !== 0) console.error(`  ${mode}: ${r.tail}`);
        if (!warm) results.push({ round: round - opts.warmup, ...r });
      }
      console.error(`round ${round + 1}/${total}${warm ? ' (warm-up, not counted)' : ''}: ${line.join(', ')}`);
    }
    // one more traced build, with --trace-out, for the probe's counts (not timed)
    if (opts.modes.includes('traced')) counts = await build('traced', true);
  } finally {
    await run(docker, ['rmi', '--force', tag]);
    rmSync(work, { recursive: true, force: true });
  }

  const ok = (mode) => results.filter((r) => r.mode === mode && r.code === 0);
  const med = Object.fromEntries(opts.modes.map((m) => [m, median(ok(m).map((r) => r.ms))]));
  const runMed = Object.fromEntries(opts.modes.map((m) => [m, median(ok(m).map((r) => r.runStepMs).filter(Number.isFinite))]));
  const traced = ok('traced');
  const rows = [['build', 'wall', 'ratio', 'RUN step', 'ratio']];
  const row = (label, m) => [label, fmtS(med[m]), fmtRatio(med[m] / med.untraced), fmtS(runMed[m]), fmtRatio(runMed[m] / runMed.untraced)];
  rows.push(row('untraced (--no-trace)', 'untraced'));
  if (opts.modes.includes('traced')) rows.push(row('traced (eBPF probe)', 'traced'));
  if (opts.modes.includes('strace')) rows.push(row('strace -f -p dockerd', 'strace'));

  const dockerVersion = (await run(docker, ['version', '--format', '{{.Server.Version}}'])).output.trim();
  const reproduce = [
    ...(process.env.TRACEBUILD_CLI ? [`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI}`] : []),
    'node bench/trace.mjs',
    `--rounds ${opts.rounds}`,
    `--iterations ${opts.iterations}`,
    `--warmup ${opts.warmup}`,
    `--modes ${opts.modes.join(',')}`,
  ].join(' ');

  console.log(`\nthe cost of tracing: ${opts.rounds} round(s), a RUN looping ${opts.iterations} times, --no-cache, medians of the whole CLI run`);
  console.log(`machine: ${os.cpus().length} CPU, ${os.release()}, node ${process.version}, dockerd ${dockerVersion}\n`);
  const widths = [22, 9, 8, 10, 8];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i] + 2))).join(''));
  console.log('(wall: the whole `tracebuild build` command; RUN step: the RUN vertex as BuildKit timed it)');
  // The ratio of the medians mixes rounds; on a shared machine whose speed drifts, the
  // median of each round's own ratio (builds seconds apart) is the steadier figure.
  const paired = (m) => {
    const byRound = new Map();
    for (const r of results) if (r.code === 0) byRound.set(r.round, { ...byRound.get(r.round), [r.mode]: r });
    const wall = [];
    const step = [];
    for (const o of byRound.values()) {
      if (!o[m] || !o.untraced) continue;
      wall.push(o[m].ms / o.untraced.ms);
      if (Number.isFinite(o[m].runStepMs / o.untraced.runStepMs)) step.push(o[m].runStepMs / o.untraced.runStepMs);
    }
    const ci = medianInterval(wall);
    return (
      `${fmtRatio(median(wall))} (RUN step ${fmtRatio(median(step))}); ` +
      `${Math.round(ci.coverage * 100)}% interval of the wall ratio's median ${fmtRatio(ci.low)}-${fmtRatio(ci.high)}`
    );
  };
  for (const m of opts.modes.filter((x) => x !== 'untraced')) console.log(`${m}/untraced, median of the per-round ratios: ${paired(m)}`);
  if (traced.length) {
    const lost = traced.reduce((n, r) => n + r.lostEvents, 0);
    const unattributed = traced.reduce((n, r) => n + r.unattributedEvents, 0);
    if (counts?.code === 0) {
      console.log(
        `\nper traced build: ${counts.records} probe records (${counts.execs} execs, ${counts.processes} processes, ` +
          `${counts.fileOps} file entries in the RUN; ${counts.digests}/${counts.execs} execs with a digest); ` +
          `${Math.round(counts.records / (med.traced / 1000))} records/s over the build, ` +
          `${Math.round(counts.records / (runMed.traced / 1000))} records/s while the RUN ran`,
      );
    }
    console.log(`lost events: ${lost} over ${traced.length} traced build(s) (and ${counts?.lostEvents ?? '?'} in the counting build); unattributed events: ${unattributed}`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length) console.log(`\n${failed.length} build(s) failed (left out of the medians)`);
  console.log(`\nreproduce: ${reproduce}`);

  const out = opts.out ?? path.join(repoRoot, 'bench', 'results', `trace-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ reproduce, date: new Date().toISOString(), dockerVersion, node: process.version, options: opts, results, counts }, null, 2) + '\n');
  console.log(`raw figures: ${path.relative(process.cwd(), out) || out}`);
  if (failed.length) process.exitCode = 1;
}

await main();
