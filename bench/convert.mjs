#!/usr/bin/env node
// How conversion scales with the Dockerfile: `tracebuild convert` (no daemon) of
// Dockerfiles of 1,000 and 10,000 RUN lines, 10,000 chained stages, and a 4 MiB line,
// interleaved over --rounds. Prints each median (wall and CPU of the process) and the
// 10,000/1,000 ratio: linear conversion gives about 10x, quadratic 100x.
//
//   node bench/convert.mjs [--rounds 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, prepareMachine, repoRoot } from './common.mjs';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
await prepareMachine(cli);

const dir = mkdtempSync(path.join(tmpdir(), 'tb-bench-convert-'));
const runs = (n) => `FROM busybox:local\n${Array.from({ length: n }, (_, i) => `RUN echo ${i}\n`).join('')}`;
const cases = {
  'run-1000': runs(1000),
  'run-10000': runs(10_000),
  'stages-10000': `FROM busybox:local AS s0\n${Array.from({ length: 10_000 }, (_, i) => `FROM s${i} AS s${i + 1}\n`).join('')}RUN echo end\n`,
  'line-4MiB': `FROM busybox:local\nRUN echo ${'a'.repeat((4 << 20) - 40)}\n`,
};
for (const [name, text] of Object.entries(cases)) writeFileSync(path.join(dir, name), text);

/** One conversion: wall ms and the child's user+system CPU ms. */
function convert(name) {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, cli, 'convert', '-f', path.join(dir, name), dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const wall = performance.now() - started;
  if (r.status !== 0) throw new Error(`convert ${name} failed:\n${r.stderr.slice(-2000)}`);
  const [user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: (user + sys) * 1000 };
}

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, { wall: [], cpu: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const name of Object.keys(cases)) {
    const s = convert(name);
    samples[name].wall.push(s.wall);
    samples[name].cpu.push(s.cpu);
  }
}
rmSync(dir, { recursive: true, force: true });

console.log(`tracebuild convert, median of ${rounds} interleaved rounds`);
for (const [name, s] of Object.entries(samples)) {
  console.log(`  ${name.padEnd(14)} wall ${(median(s.wall) / 1000).toFixed(2)} s   cpu ${(median(s.cpu) / 1000).toFixed(2)} s`);
}
const ratio = median(samples['run-10000'].cpu) / median(samples['run-1000'].cpu);
console.log(`  run-10000 / run-1000 (cpu): ${ratio.toFixed(1)}x (linear ~10x; start-up makes it less)`);
