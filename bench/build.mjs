#!/usr/bin/env node
// Wall time of `tracebuild --no-trace` against BuildKit's own Dockerfile frontend on the
// same daemon: `docker buildx build` on Docker 26, `DOCKER_BUILDKIT=1 docker build` (Docker
// 20.10's own client) on Docker 20.10. Same Dockerfile, context, flags and daemon.
//
// Workloads:
//   testdata     every passing testdata case (as the parity test sees them), summed per round
//   small-300    a two-stage Dockerfile over a 300-file context (generated)
//   files-10k    a context of 10,000 small files, COPY'd and counted (generated)
//   files-50k    the same with 50,000 files (#24.10: the context transfer's own cost)
// Modes: cold (--no-cache: every step runs) and cached (the same build again, everything
// from BuildKit's cache). Each round runs both builders on every workload, the order
// alternating from round to round (A B, then B A), each cold and then cached.
//
// Prints, per daemon, workload and mode: the median wall time of each builder, the
// tracebuild/oracle ratio (median of the per-round ratios: each round's pair ran back to
// back), the median CPU (user+sys, children included) of each builder's client process
// and their ratio (the client's CPU depends far less on the machine's load), then the per-case table of the testdata cases, and the command line that
// reproduces the run; the raw times go to bench/results/. Figures only: nothing here
// asserts a time.
//
//   node bench/build.mjs [--rounds N (7)] [--daemons docker26,docker20] [--cases a,b]
//                        [--modes cold,cached] [--only tracebuild|docker] [--warmup N]
//                        [--trace] [--out FILE]
//
//   --cases    testdata case names and/or small-300, files-10k, files-50k, testdata (all
//              cases); default: all of them. A quick run: --cases small-300,files-10k
//   --only     run one builder (docker = the daemon's oracle), no ratios
//   --trace    build with the eBPF trace (until 2026-12 this benchmark always traced; it
//              now compares untraced builds, the oracle having no trace)
//
// Needs root (scripts/env.sh starts both daemons); builds dist/ when dist/cli/main.js is
// missing. TRACEBUILD_CLI=FILE times another build of the CLI.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, prepareMachine, repoRoot, run } from './common.mjs';

const testdata = path.join(repoRoot, 'testdata');
const cli = process.env.TRACEBUILD_CLI ? path.resolve(process.env.TRACEBUILD_CLI) : path.join(repoRoot, 'dist', 'cli', 'main.js');
const docker = '/usr/bin/docker';
const builders = ['tracebuild', 'docker'];
const allModes = ['cold', 'cached'];
const GENERATED = ['small-300', 'files-10k', 'files-50k'];

/** The daemons, as test/helpers/daemons.ts knows them, with their oracle. */
const DAEMONS = {
  docker26: { name: 'Docker 26', host: 'unix:///var/run/docker.sock', oracle: { cmd: docker, args: ['buildx', 'build'], env: {}, label: 'docker buildx build' } },
  docker20: {
    name: 'Docker 20.10',
    host: 'unix:///run/tracebuild/docker20/docker.sock',
    oracle: { cmd: '/opt/tracebuild/docker-20.10/usr/bin/docker', args: ['build'], env: { DOCKER_BUILDKIT: '1' }, label: 'DOCKER_BUILDKIT=1 docker build' },
  },
};

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error(
    'usage: node bench/build.mjs [--rounds N] [--daemons docker26,docker20] [--cases a,b] [--modes cold,cached] ' +
      '[--only tracebuild|docker] [--warmup N] [--trace] [--out FILE]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { rounds: 7, daemons: Object.keys(DAEMONS), cases: undefined, modes: allModes, only: undefined, warmup: 0, trace: false, out: undefined };
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
    const list = (v) => v.split(',').filter(Boolean);
    if (a === '--rounds') opts.rounds = count(value(), 1);
    else if (a === '--warmup') opts.warmup = count(value(), 0);
    else if (a === '--cases') opts.cases = list(value());
    else if (a === '--daemons') {
      opts.daemons = list(value());
      for (const d of opts.daemons) if (!DAEMONS[d]) usage(`unknown daemon ${d} (${Object.keys(DAEMONS).join(', ')})`);
    } else if (a === '--modes') {
      opts.modes = list(value());
      for (const m of opts.modes) if (!allModes.includes(m)) usage(`unknown mode ${m}`);
    } else if (a === '--only') {
      opts.only = value();
      if (!builders.includes(opts.only)) usage(`--only takes tracebuild or docker, not ${opts.only}`);
    } else if (a === '--trace') opts.trace = true;
    else if (a === '--out') opts.out = value();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

function readLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** The passing testdata cases (as the parity test sees them), minus those marked to skip. */
function testdataCases(named) {
  const cases = [];
  for (const name of readdirSync(testdata).sort()) {
    const dir = path.join(testdata, name);
    if (name === 'errors' || !statSync(dir).isDirectory() || !existsSync(path.join(dir, 'Dockerfile'))) continue;
    const skip = ['docker-skip', 'parity-skip'].find((f) => existsSync(path.join(dir, f)));
    if (skip && !named?.includes(name)) continue;
    const buildArgs = readLines(path.join(dir, 'build-args')).flatMap((l) => ['--build-arg', l]);
    const raw = readLines(path.join(dir, 'cli-args'));
    const extra = raw.map((a, i) => (raw[i - 1] === '-f' || raw[i - 1] === '--file' ? path.resolve(dir, a) : a));
    // `id=ID,src=FILE` lines, FILE relative to the case folder (as the parity test reads them).
    const secrets = readLines(path.join(dir, 'secrets')).flatMap((l) => [
      '--secret',
      l.replace(/(^|,)src=([^,]+)/, (_m, sep, src) => `${sep}src=${path.resolve(dir, src)}`),
    ]);
    const contextRel = readLines(path.join(dir, 'context-path'))[0] ?? '.';
    cases.push({ name, workload: 'testdata', context: path.resolve(dir, contextRel), args: [...buildArgs, ...secrets, ...extra] });
  }
  return cases;
}

const runId = `${Date.now().toString(36)}-${process.pid.toString(36)}`;
const tagOf = (c, builder) => `tracebuild-bench/${c.name}:${builder}-${runId}`;
// The generated workloads build FROM busybox:local under a tag of this run's own. BuildKit
// shares a vertex between the builds on a daemon, so a --no-cache build of busybox:local
// elsewhere (another engineer's tests) makes every step of a cached build run again, and
// it hits tracebuild's builds, not buildx's (the two write the image source differently).
const BASE = `tracebuild-bench/base:${runId}`;

/** Writes the generated workloads into `dir`. */
function generate(name, dir) {
  const context = path.join(dir, name);
  const file = (rel, text) => {
    mkdirSync(path.dirname(path.join(context, rel)), { recursive: true });
    writeFileSync(path.join(context, rel), text);
  };
  if (name === 'small-300') {
    for (let i = 0; i < 300; i++) file(`src/d${i % 10}/f${i}.txt`, `file ${i}\n`);
    file(
      'Dockerfile',
      [
        `FROM ${BASE} AS build`,
        'WORKDIR /src',
        'COPY src/ ./',
        'RUN find . -type f | sort | xargs cat | wc -l > /count.txt',
        '',
        `FROM ${BASE}`,
        'COPY --from=build /count.txt /count.txt',
        'CMD ["cat", "/count.txt"]',
        '',
      ].join('\n'),
    );
  } else {
    const count = name === 'files-50k' ? 50_000 : 10_000;
    for (let i = 0; i < count; i++) file(`ctx/d${String(i % 100).padStart(2, '0')}/f${String(i).padStart(5, '0')}.txt`, `file ${i}\n`);
    file('Dockerfile', [`FROM ${BASE}`, 'COPY ctx/ /ctx/', 'RUN find /ctx -type f | wc -l > /count.txt', ''].join('\n'));
  }
  return { name, workload: name, context, args: [] };
}

/** The cases to run; the generated ones are written under a temporary directory (`tmp()`). */
function loadCases(named, tmp) {
  const wanted = named ?? ['testdata', ...GENERATED];
  const all = testdataCases(named);
  const unknown = wanted.filter((n) => n !== 'testdata' && !GENERATED.includes(n) && !all.some((c) => c.name === n));
  if (unknown.length) usage(`no such case: ${unknown.join(', ')}`);
  const cases = [];
  for (const n of GENERATED) if (wanted.includes(n)) cases.push(generate(n, tmp()));
  if (wanted.includes('testdata')) cases.push(...all);
  else cases.push(...all.filter((c) => wanted.includes(c.name)));
  return cases;
}

function build(daemonId, builder, c, noCache, trace) {
  const d = DAEMONS[daemonId];
  const args = ['-t', tagOf(c, builder), ...c.args, '--network', 'host', '--progress', 'plain'];
  if (noCache) args.push('--no-cache');
  const env = { DOCKER_HOST: d.host };
  if (builder === 'docker') return run(d.oracle.cmd, [...d.oracle.args, ...args, c.context], { ...env, ...d.oracle.env }, { cpu: true });
  return run(process.execPath, [cli, 'build', ...(trace ? [] : ['--no-trace']), ...args, c.context], env, { cpu: true });
}

const fmtMs = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) + ' s' : '-');
const fmtRatio = (r) => (Number.isFinite(r) ? r.toFixed(2) + 'x' : '-');

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r, ri) => {
      const line = r.map((cell, i) => (i <= 2 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** Per round: [tracebuild ms, oracle ms] summed over `cases` (a case counts in a round only
 * when both builders succeeded in it), or undefined when nothing did. `times` holds wall
 * times or client CPU times (the same shape). */
function roundPairs(times, daemon, cases, mode, rounds) {
  const pairs = [];
  for (let r = 0; r < rounds; r++) {
    let tb = 0;
    let dk = 0;
    let n = 0;
    for (const c of cases) {
      const t = times[daemon]?.[c.name]?.[mode];
      const a = t?.tracebuild?.[r];
      const b = t?.docker?.[r];
      if (a == null || b == null) continue;
      tb += a;
      dk += b;
      n++;
    }
    if (n > 0) pairs.push([tb, dk]);
  }
  return pairs;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const active = opts.only ? [opts.only] : builders;
  let tmp;
  try {
    const cases = loadCases(opts.cases, () => (tmp ??= mkdtempSync(path.join(os.tmpdir(), 'tracebuild-bench-'))));
    if (cases.length === 0) usage('no cases to run');
    const tracebuild = active.includes('tracebuild');
    if (tracebuild && process.env.TRACEBUILD_CLI && !existsSync(cli)) usage(`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI} does not exist`);
    await prepareMachine(tracebuild ? cli : undefined);
    for (const daemon of opts.daemons) {
      const tagged = await run(docker, ['tag', 'busybox:local', BASE], { DOCKER_HOST: DAEMONS[daemon].host });
      if (tagged.code !== 0) throw new Error(`cannot tag busybox:local as ${BASE} on ${daemon}: ${tagged.output.trim()}`);
    }

    /** times[daemon][case][mode][builder][round] = ms (null: failed); cpu: the same, the
     * client's user+sys CPU */
    const times = {};
    const cpu = {};
    const failures = [];
    const record = (daemon, c, mode, builder, round, r) => {
      const slot = ((((times[daemon] ??= {})[c.name] ??= {})[mode] ??= {})[builder] ??= []);
      const cpuSlot = ((((cpu[daemon] ??= {})[c.name] ??= {})[mode] ??= {})[builder] ??= []);
      cpuSlot[round] = r.code === 0 ? (r.cpuMs ?? null) : null;
      if (r.code !== 0) {
        slot[round] = null;
        failures.push({ daemon, case: c.name, mode, builder, round, code: r.code, tail: r.output.trim().split('\n').slice(-10).join('\n') });
        console.error(`  ${daemon} ${builder} ${mode} ${c.name}: FAILED (exit ${r.code})`);
        return;
      }
      slot[round] = r.ms;
    };

    const total = opts.warmup + opts.rounds;
    for (let round = 0; round < total; round++) {
      const warm = round < opts.warmup;
      const counted = round - opts.warmup;
      console.error(`round ${round + 1}/${total}${warm ? ' (warm-up, not counted)' : ''}`);
      // Alternate who goes first: A B, then B A, ...
      const order = round % 2 === 0 ? active : [...active].reverse();
      for (const daemon of opts.daemons) {
        for (const c of cases) {
          for (const builder of order) {
            // The cached build always follows a build of the same thing, so it is fully cached.
            if (opts.modes.includes('cold') || warm) {
              const r = await build(daemon, builder, c, true, opts.trace);
              if (!warm) record(daemon, c, 'cold', builder, counted, r);
            }
            if (opts.modes.includes('cached') && !warm) {
              if (!opts.modes.includes('cold')) await build(daemon, builder, c, false, opts.trace);
              record(daemon, c, 'cached', builder, counted, await build(daemon, builder, c, false, opts.trace));
            }
            // Untag now: the next cold build would otherwise leave this image dangling.
            await run(docker, ['rmi', '--force', tagOf(c, builder)], { DOCKER_HOST: DAEMONS[daemon].host });
          }
        }
      }
    }

    // The summary: per daemon, workload and mode.
    const two = active.length === 2;
    const workloads = [
      ['small-300', 'two-stage, 300 files'],
      ['files-10k', '10,000 files'],
      ['files-50k', '50,000 files'],
      ['testdata', `testdata (${cases.filter((c) => c.workload === 'testdata').length} cases, summed)`],
    ].filter(([w]) => cases.some((c) => c.workload === w));
    const head = [
      'daemon',
      'workload',
      'mode',
      ...active.map((b) => `${b === 'docker' ? 'oracle' : b} (median)`),
      ...(two ? ['ratio (median of pairs)', 'pairs'] : []),
      ...active.map((b) => `${b === 'docker' ? 'oracle' : b} CPU`),
      ...(two ? ['CPU ratio'] : []),
    ];
    const rows = [head];
    const summary = [];
    for (const daemon of opts.daemons) {
      for (const [w, label] of workloads) {
        for (const mode of opts.modes) {
          const pairs = roundPairs(times, daemon, cases.filter((c) => c.workload === w), mode, opts.rounds);
          const meds = active.map((b) => {
            if (two) return median(pairs.map((p) => p[b === 'tracebuild' ? 0 : 1]));
            const sums = [];
            for (let r = 0; r < opts.rounds; r++) {
              const xs = cases.filter((c) => c.workload === w).map((c) => times[daemon]?.[c.name]?.[mode]?.[b]?.[r]);
              if (xs.every((x) => x != null)) sums.push(xs.reduce((s, x) => s + x, 0));
            }
            return median(sums);
          });
          const ratio = two ? median(pairs.map(([a, b]) => a / b)) : NaN;
          // The client's CPU, summed over the workload's cases per round like the wall times.
          const cpuMeds = active.map((b) => {
            const sums = [];
            for (let r = 0; r < opts.rounds; r++) {
              const xs = cases.filter((c) => c.workload === w).map((c) => cpu[daemon]?.[c.name]?.[mode]?.[b]?.[r]);
              if (xs.every((x) => x != null)) sums.push(xs.reduce((s, x) => s + x, 0));
            }
            return median(sums);
          });
          const cpuRatio = two ? median(roundPairs(cpu, daemon, cases.filter((c) => c.workload === w), mode, opts.rounds).map(([a, b]) => a / b)) : NaN;
          summary.push({
            daemon,
            workload: w,
            mode,
            medians: Object.fromEntries(active.map((b, i) => [b, meds[i]])),
            ratio,
            pairs: pairs.length,
            cpuMedians: Object.fromEntries(active.map((b, i) => [b, cpuMeds[i]])),
            cpuRatio,
          });
          rows.push([
            DAEMONS[daemon].name,
            label,
            mode,
            ...meds.map(fmtMs),
            ...(two ? [fmtRatio(ratio), String(pairs.length)] : []),
            ...cpuMeds.map(fmtMs),
            ...(two ? [fmtRatio(cpuRatio)] : []),
          ]);
        }
      }
    }

    // The testdata cases one by one.
    const perCase = [['daemon', 'case', 'mode', ...active.map((b) => `${b === 'docker' ? 'oracle' : b} (median)`), ...(two ? ['ratio (median of pairs)'] : [])]];
    for (const daemon of opts.daemons) {
      for (const c of cases.filter((k) => k.workload === 'testdata')) {
        for (const mode of opts.modes) {
          const t = times[daemon]?.[c.name]?.[mode] ?? {};
          const meds = active.map((b) => median((t[b] ?? []).filter((x) => x != null)));
          const ratio = two ? median(roundPairs(times, daemon, [c], mode, opts.rounds).map(([a, b]) => a / b)) : NaN;
          perCase.push([DAEMONS[daemon].name, c.name, mode, ...meds.map(fmtMs), ...(two ? [fmtRatio(ratio)] : [])]);
        }
      }
    }

    const versions = {};
    for (const daemon of opts.daemons) {
      versions[daemon] = (await run(docker, ['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: DAEMONS[daemon].host })).output.trim();
    }
    const reproduce = [
      ...(process.env.TRACEBUILD_CLI ? [`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI}`] : []),
      'node bench/build.mjs',
      `--rounds ${opts.rounds}`,
      ...(opts.warmup ? [`--warmup ${opts.warmup}`] : []),
      `--daemons ${opts.daemons.join(',')}`,
      `--modes ${opts.modes.join(',')}`,
      ...(opts.cases ? [`--cases ${opts.cases.join(',')}`] : []),
      ...(opts.only ? [`--only ${opts.only}`] : []),
      ...(opts.trace ? ['--trace'] : []),
    ].join(' ');

    console.log(`\ntracebuild ${opts.trace ? '(traced)' : '--no-trace'} vs the daemon's own frontend: wall time and client CPU, ${opts.rounds} round(s)`);
    console.log(`oracles: ${opts.daemons.map((d) => `${DAEMONS[d].name} ${versions[d]}: ${DAEMONS[d].oracle.label}`).join('; ')}`);
    console.log(`machine: ${os.cpus().length} CPU, ${os.release()}, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    console.log(table(rows));
    if (perCase.length > 1) {
      console.log('');
      console.log(table(perCase));
    }
    if (failures.length) {
      console.log(`\n${failures.length} build(s) failed (left out, with their pair):`);
      for (const f of failures) console.log(`- ${f.daemon} ${f.builder} ${f.mode} ${f.case} (round ${f.round + 1}): exit ${f.code}\n    ${f.tail.replace(/\n/g, '\n    ')}`);
    }
    console.log(`\nreproduce: ${reproduce}`);

    const out = opts.out ?? path.join(repoRoot, 'bench', 'results', `build-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(
      out,
      JSON.stringify({ reproduce, date: new Date().toISOString(), versions, node: process.version, options: opts, summary, times, cpu, failures }, null, 2) + '\n',
    );
    console.log(`raw times: ${path.relative(process.cwd(), out) || out}`);
    if (failures.length) process.exitCode = 1;
  } finally {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    for (const daemon of opts.daemons) await run(docker, ['rmi', BASE], { DOCKER_HOST: DAEMONS[daemon].host });
  }
}

await main();
