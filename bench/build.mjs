#!/usr/bin/env node
// Wall time of tracebuild against docker build, on every testdata case.
//
// For each round and case, both builders run interleaved (the order alternates from round
// to round so that neither always goes first), each twice: cold (--no-cache, every step
// runs) and then cached (the same build again, everything from BuildKit's cache). Prints
// the median per case and mode, the tracebuild/docker ratios, the overall figures, and
// the command line that reproduces the run; the raw times go to bench/results/.
//
//   node bench/build.mjs [--rounds N (5)] [--cases a,b] [--modes cold,cached]
//                        [--only tracebuild|docker] [--warmup N] [--out FILE]
//
// Needs root (scripts/env.sh starts dockerd); builds dist/ when dist/cli/main.js is missing.
// Figures only: nothing here asserts a time.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, prepareMachine, repoRoot, run } from './common.mjs';

const testdata = path.join(repoRoot, 'testdata');
// TRACEBUILD_CLI: time another build of the CLI (an installed one) instead of dist/.
const cli = process.env.TRACEBUILD_CLI ? path.resolve(process.env.TRACEBUILD_CLI) : path.join(repoRoot, 'dist', 'cli', 'main.js');
const docker = '/usr/bin/docker';
const builders = ['tracebuild', 'docker'];
const allModes = ['cold', 'cached'];

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error(
    'usage: node bench/build.mjs [--rounds N] [--cases a,b] [--modes cold,cached] ' +
      '[--only tracebuild|docker] [--warmup N] [--out FILE]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { rounds: 5, cases: undefined, modes: allModes, only: undefined, warmup: 0, out: undefined };
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
    else if (a === '--warmup') opts.warmup = count(value(), 0);
    else if (a === '--cases') opts.cases = value().split(',').filter(Boolean);
    else if (a === '--modes') {
      opts.modes = value().split(',').filter(Boolean);
      for (const m of opts.modes) if (!allModes.includes(m)) usage(`unknown mode ${m}`);
    } else if (a === '--only') {
      opts.only = value();
      if (!builders.includes(opts.only)) usage(`--only takes tracebuild or docker, not ${opts.only}`);
    } else if (a === '--out') opts.out = value();
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

/** The passing cases (as the parity test sees them), minus those marked to skip. */
function loadCases(only) {
  const cases = [];
  for (const name of readdirSync(testdata).sort()) {
    const dir = path.join(testdata, name);
    if (name === 'errors' || !statSync(dir).isDirectory() || !existsSync(path.join(dir, 'Dockerfile'))) continue;
    const skip = ['docker-skip', 'parity-skip'].find((f) => existsSync(path.join(dir, f)));
    if (skip && !only?.includes(name)) continue;
    const buildArgs = readLines(path.join(dir, 'build-args')).flatMap((l) => ['--build-arg', l]);
    const raw = readLines(path.join(dir, 'cli-args'));
    const extra = raw.map((a, i) => (raw[i - 1] === '-f' || raw[i - 1] === '--file' ? path.resolve(dir, a) : a));
    // `id=ID,src=FILE` lines, FILE relative to the case folder (as the parity test reads them).
    const secrets = readLines(path.join(dir, 'secrets')).flatMap((l) => [
      '--secret',
      l.replace(/(^|,)src=([^,]+)/, (_m, sep, src) => `${sep}src=${path.resolve(dir, src)}`),
    ]);
    const contextRel = readLines(path.join(dir, 'context-path'))[0] ?? '.';
    cases.push({ name, context: path.resolve(dir, contextRel), args: [...buildArgs, ...secrets, ...extra] });
  }
  if (only) {
    const unknown = only.filter((n) => !cases.some((c) => c.name === n));
    if (unknown.length) usage(`no such case: ${unknown.join(', ')}`);
    return cases.filter((c) => only.includes(c.name));
  }
  return cases;
}

const runId = `${Date.now().toString(36)}-${process.pid.toString(36)}`;
const tagOf = (c, builder) => `tracebuild-bench/${c.name}:${builder}-${runId}`;

function build(builder, c, noCache) {
  const args = ['-t', tagOf(c, builder), ...c.args, '--network', 'host', '--progress', 'plain'];
  if (noCache) args.push('--no-cache');
  return builder === 'docker'
    ? run(docker, ['build', ...args, c.context], { DOCKER_BUILDKIT: '1' })
    : run(process.execPath, [cli, 'build', ...args, c.context]);
}

const fmtMs = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) + ' s' : '-');
const fmtRatio = (r) => (Number.isFinite(r) ? r.toFixed(2) + 'x' : '-');

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r, ri) => {
      const line = r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const active = opts.only ? [opts.only] : builders;
  const cases = loadCases(opts.cases);
  if (cases.length === 0) usage('no cases to run');

  const tracebuild = active.includes('tracebuild');
  if (tracebuild && process.env.TRACEBUILD_CLI && !existsSync(cli)) usage(`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI} does not exist`);
  await prepareMachine(tracebuild ? cli : undefined);

  /** times[case][mode][builder] = [ms, ...] */
  const times = {};
  const failures = [];
  const record = (c, mode, builder, r) => {
    if (r.code !== 0) {
      failures.push({ case: c.name, mode, builder, code: r.code, tail: r.output.trim().split('\n').slice(-10).join('\n') });
      console.error(`  ${builder} ${mode} ${c.name}: FAILED (exit ${r.code})`);
      return;
    }
    ((times[c.name] ??= {})[mode] ??= {})[builder] ??= [];
    times[c.name][mode][builder].push(r.ms);
  };

  const total = opts.warmup + opts.rounds;
  for (let round = 0; round < total; round++) {
    const warm = round < opts.warmup;
    console.error(`round ${round + 1}/${total}${warm ? ' (warm-up, not counted)' : ''}`);
    // Alternate who goes first: A B, then B A, ...
    const order = round % 2 === 0 ? active : [...active].reverse();
    for (const c of cases) {
      for (const builder of order) {
        // The cached build always follows a build of the same thing, so it is fully cached.
        if (opts.modes.includes('cold') || warm) {
          const r = await build(builder, c, true);
          if (!warm) record(c, 'cold', builder, r);
        }
        if (opts.modes.includes('cached') && !warm) {
          if (!opts.modes.includes('cold')) await build(builder, c, false);
          record(c, 'cached', builder, await build(builder, c, false));
        }
        // Untag now: the next cold build would otherwise leave this image dangling.
        await run(docker, ['rmi', '--force', tagOf(c, builder)]);
      }
    }
  }

  // The table.
  const rows = [['case', 'mode', ...active.map((b) => `${b} (median)`), ...(active.length === 2 ? ['ratio tb/docker'] : [])]];
  const overall = {};
  for (const mode of opts.modes) {
    for (const c of cases) {
      const t = times[c.name]?.[mode] ?? {};
      const meds = active.map((b) => median(t[b] ?? []));
      active.forEach((b, i) => ((overall[mode] ??= {})[b] ??= []).push(meds[i]));
      const ratio = active.length === 2 ? meds[0] / meds[1] : NaN;
      if (active.length === 2) ((overall[mode] ??= {}).ratios ??= []).push(ratio);
      rows.push([c.name, mode, ...meds.map(fmtMs), ...(active.length === 2 ? [fmtRatio(ratio)] : [])]);
    }
  }
  const summary = [['overall', 'mode', ...active.map((b) => `${b} (median of medians)`), ...(active.length === 2 ? ['ratio (geo. mean)'] : [])]];
  for (const mode of opts.modes) {
    const o = overall[mode] ?? {};
    const ratios = (o.ratios ?? []).filter(Number.isFinite);
    const geo = ratios.length ? Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length) : NaN;
    summary.push([
      'all cases',
      mode,
      ...active.map((b) => fmtMs(median((o[b] ?? []).filter(Number.isFinite)))),
      ...(active.length === 2 ? [fmtRatio(geo)] : []),
    ]);
  }

  const dockerVersion = (await run(docker, ['version', '--format', '{{.Server.Version}}'])).output.trim();
  const reproduce = [
    ...(process.env.TRACEBUILD_CLI ? [`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI}`] : []),
    'node bench/build.mjs',
    `--rounds ${opts.rounds}`,
    ...(opts.warmup ? [`--warmup ${opts.warmup}`] : []),
    `--modes ${opts.modes.join(',')}`,
    ...(opts.cases ? [`--cases ${opts.cases.join(',')}`] : []),
    ...(opts.only ? [`--only ${opts.only}`] : []),
  ].join(' ');

  console.log(`\ntracebuild vs docker build: wall time, ${opts.rounds} round(s), ${cases.length} case(s)`);
  console.log(`machine: ${os.cpus().length} CPU, ${os.release()}, node ${process.version}, dockerd ${dockerVersion}\n`);
  console.log(table(rows));
  console.log('');
  console.log(table(summary));
  if (failures.length) {
    console.log(`\n${failures.length} build(s) failed (left out of the medians):`);
    for (const f of failures) console.log(`- ${f.builder} ${f.mode} ${f.case}: exit ${f.code}\n    ${f.tail.replace(/\n/g, '\n    ')}`);
  }
  console.log(`\nreproduce: ${reproduce}`);

  const out = opts.out ?? path.join(repoRoot, 'bench', 'results', `build-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ reproduce, date: new Date().toISOString(), dockerVersion, node: process.version, options: opts, times, failures }, null, 2) + '\n',
  );
  console.log(`raw times: ${path.relative(process.cwd(), out) || out}`);
  if (failures.length) process.exitCode = 1;
}

await main();
