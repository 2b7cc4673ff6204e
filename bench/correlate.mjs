#!/usr/bin/env node
// What correlating a traced build's probe records costs the CLI while the build runs: CPU
// the build's own processes then do not get (on a 2-CPU machine, much of tracing's wall
// time; see bench/trace.mjs for the whole cost).
//
// The records of one traced build of the benchmark workload are captured once; each run
// then replays them in a fresh node process as the CLI receives them (64 KiB reads, 1 ms
// apart) into the Correlation the CLI's toolchain starts (dist/cli/modules.js, so with the
// CLI's V8 settings), and reports the CPU of the whole process over the replay: the
// optimizing compiler's and the garbage collector's threads count, they share the CPUs too.
// Prints the medians, and with --against the same runs of another checkout's dist/,
// interleaved, and the ratio. Figures only: nothing here asserts a time.
//
//   node bench/correlate.mjs [--stream FILE] [--iterations K (3000)] [--runs N (9)]
//                            [--against DIR] [--keep FILE]
//                            [--workload syscalls|stress] [--seconds S (10)] [--writers W (4)]
//
//   --workload     the build captured: the benchmark's shell loop (syscalls, --iterations),
//                  or bench/stress.c's file events (stress, --seconds and --writers), the
//                  RUN bench/trace.mjs --workload stress builds
//   --stream FILE  replay these records (a capture kept with --keep) instead of capturing
//   --against DIR  another checkout (with dist/ built) to compare, e.g. a git worktree
//   --keep FILE    keep the captured records there
//
// Capturing needs root (the probe) and runs scripts/env.sh; replaying needs neither.
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, prepareMachine, repoRoot, run } from './common.mjs';
import { stressDockerfile, syscallHeavyDockerfile } from './workload.mjs';

const READ_BYTES = 64 * 1024;

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error('usage: node bench/correlate.mjs [--stream FILE] [--iterations K] [--runs N] [--against DIR] [--keep FILE] [--workload syscalls|stress] [--seconds S] [--writers W]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { stream: undefined, iterations: 3000, runs: 9, against: undefined, keep: undefined, replay: undefined, root: undefined, workload: 'syscalls', seconds: 10, writers: 4 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    const count = (v) => (/^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : usage(`${a}: expected a whole number >= 1, got ${v}`));
    if (a === '--stream') opts.stream = path.resolve(value());
    else if (a === '--iterations') opts.iterations = count(value());
    else if (a === '--runs') opts.runs = count(value());
    else if (a === '--against') opts.against = path.resolve(value());
    else if (a === '--keep') opts.keep = path.resolve(value());
    else if (a === '--workload') opts.workload = ['syscalls', 'stress'].includes(argv[i + 1]) ? value() : usage(`--workload: syscalls or stress, got ${argv[i + 1]}`);
    else if (a === '--seconds') opts.seconds = count(value());
    else if (a === '--writers') opts.writers = count(value());
    else if (a === '--replay') opts.replay = value();
    else if (a === '--root') opts.root = value();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

/** One replay, in this process (a fresh one per run): prints its figures as JSON. */
async function replay(streamFile, root) {
  const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
  const { toolchain } = await import(dist('cli/modules.js'));
  const { RecordStream } = await import(dist('tracer/index.js'));
  const data = readFileSync(streamFile);
  // the tracer's toolkit is loaded on demand (cli/modules.ts), as a traced build does
  const tracer = typeof toolchain.tracer === 'function' ? await toolchain.tracer() : toolchain.tracer;
  const correlation = tracer.startCorrelation();
  const stream = new RecordStream();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let off = 0; off < data.length; off += READ_BYTES) {
    // a buffer of its own per read, as a pipe's; the build trickles its records in
    const chunk = Buffer.from(data.subarray(off, off + READ_BYTES));
    stream.pushRecords(chunk, true, (buf, base, len, ev) => correlation.pushRecord(buf, base, len, ev));
    await new Promise((r) => setTimeout(r, 1));
  }
  const cpu = process.cpuUsage(cpu0);
  const events = Object.values(correlation.events).reduce((a, b) => a + b, 0);
  // the records file is held whole here (the CLI holds a pipe's chunk at a time): the peak
  // less its size is what the correlator's own memory comes to
  const maxRssMiB = (process.resourceUsage().maxRSS * 1024 - data.length) / 2 ** 20;
  const heapMiB = process.memoryUsage().heapTotal / 2 ** 20;
  console.log(JSON.stringify({ records: correlation.records, events, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0, maxRssMiB, heapMiB }));
}

/** The build context of the workload captured. */
async function writeContext(opts, context) {
  mkdirSync(context);
  if (opts.workload === 'syscalls') {
    writeFileSync(path.join(context, 'Dockerfile'), syscallHeavyDockerfile(opts.iterations));
    return;
  }
  const cc = await run('gcc', ['-static', '-O2', '-o', path.join(context, 'stress'), path.join(repoRoot, 'bench', 'stress.c')]);
  if (cc.code !== 0) throw new Error(`compiling bench/stress.c failed:\n${cc.output}`);
  writeFileSync(path.join(context, 'Dockerfile'), stressDockerfile(`files ${opts.seconds} ${opts.writers}`));
}

/** The records of one traced build of the workload, as the loader wrote them. */
async function capture(opts, out) {
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
  await prepareMachine(cli);
  const { startProbe } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'tracer', 'index.js')).href);
  const work = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-correlate-'));
  const file = createWriteStream(out);
  const tag = `tracebuild-bench/correlate:${Date.now().toString(36)}`;
  try {
    await writeContext(opts, path.join(work, 'context'));
    const lengthPrefix = Buffer.alloc(4);
    const probe = await startProbe({
      onRecord: (buf, base, len) => {
        lengthPrefix.writeUInt32LE(len);
        file.write(Buffer.from(lengthPrefix));
        file.write(Buffer.from(buf.subarray(base, base + len)));
      },
    });
    const build = await run(process.execPath, [cli, 'build', '--no-trace', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', tag, path.join(work, 'context')]);
    await probe.ping();
    const exit = await probe.stop();
    if (build.code !== 0) throw new Error(`the build failed (exit ${build.code}):\n${build.output.trim().split('\n').slice(-10).join('\n')}`);
    if (exit.error) throw new Error(`the probe failed: ${exit.error.message}`);
  } finally {
    await new Promise((r) => file.end(r));
    await run('/usr/bin/docker', ['rmi', '--force', tag]);
    rmSync(work, { recursive: true, force: true });
  }
}

/** The options that say which build was captured. */
function captureArgs(opts) {
  return opts.workload === 'stress' ? ['--workload stress', `--seconds ${opts.seconds}`, `--writers ${opts.writers}`] : [`--iterations ${opts.iterations}`];
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.replay) return replay(opts.replay, opts.root ?? repoRoot);
  if (opts.against && !existsSync(path.join(opts.against, 'dist', 'cli', 'modules.js'))) usage(`${opts.against}/dist/cli/modules.js is missing: build that checkout first`);

  let stream = opts.stream;
  let tmp;
  if (!stream) {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-records-'));
    stream = opts.keep ?? path.join(tmp, 'records.bin');
    console.error(`capturing the records of a traced build (${captureArgs(opts).join(' ')})...`);
    await capture(opts, stream);
  }
  const trees = { this: repoRoot, ...(opts.against ? { against: opts.against } : {}) };
  const results = Object.fromEntries(Object.keys(trees).map((k) => [k, []]));
  try {
    for (let i = 0; i < opts.runs; i++) {
      const names = Object.keys(trees);
      const order = i % 2 ? names.reverse() : names; // alternate which goes first
      for (const name of order) {
        const r = await run(process.execPath, [fileURLToPath(import.meta.url), '--replay', stream, '--root', trees[name]]);
        const line = r.output.trim().split('\n').pop() ?? '';
        if (r.code !== 0 || !line.startsWith('{')) throw new Error(`replay with ${trees[name]} failed (exit ${r.code}):\n${r.output.trim()}`);
        results[name].push(JSON.parse(line));
      }
      console.error(`run ${i + 1}/${opts.runs}: ${Object.entries(results).map(([k, v]) => `${k} ${v[v.length - 1].cpuMs.toFixed(0)} ms CPU`).join(', ')}`);
    }
  } finally {
    if (tmp && !opts.keep) rmSync(tmp, { recursive: true, force: true });
  }

  const records = results.this[0].records;
  const events = results.this[0].events;
  const what = opts.stream
    ? `from ${opts.stream}`
    : opts.workload === 'stress'
      ? `of one traced build, a RUN of bench/stress.c: ${opts.writers} writers for ${opts.seconds} s`
      : `of one traced build, a RUN looping ${opts.iterations} times`;
  console.log(`\ncorrelating ${records} records holding ${events} kernel events (${what}), ${opts.runs} replays each, medians`);
  console.log(`machine: ${os.cpus().length} CPU, ${os.release()}, node ${process.version}\n`);
  for (const [name, rs] of Object.entries(results)) {
    const cpu = median(rs.map((r) => r.cpuMs));
    const rss = median(rs.map((r) => r.maxRssMiB));
    const heap = median(rs.map((r) => r.heapMiB));
    console.log(
      `${`${name} (${trees[name]})`.padEnd(44)} CPU ${cpu.toFixed(0).padStart(5)} ms   ${((cpu * 1000) / records).toFixed(2)} µs/record   ${((cpu * 1000) / events).toFixed(2)} µs/event   peak RSS less the records file ${rss.toFixed(0)} MiB, JS heap at the end ${heap.toFixed(0)} MiB`,
    );
  }
  if (opts.against) {
    const ratios = results.this.map((r, i) => r.cpuMs / results.against[i].cpuMs);
    console.log(`\nthis/against CPU: ${(median(results.this.map((r) => r.cpuMs)) / median(results.against.map((r) => r.cpuMs))).toFixed(3)}x (median of the per-run ratios ${median(ratios).toFixed(3)}x)`);
  }
  const reproduce = ['node bench/correlate.mjs', ...(opts.stream ? [`--stream ${opts.stream}`] : captureArgs(opts)), `--runs ${opts.runs}`, ...(opts.against ? [`--against ${opts.against}`] : [])];
  console.log(`\nreproduce: ${reproduce.join(' ')}`);
}

await main();
