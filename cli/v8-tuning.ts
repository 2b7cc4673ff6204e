// V8 settings for the process that correlates a traced build's records while the build
// runs (tracer/correlate/). Its work shares the machine's CPUs with the build, so what it
// costs shows up in the build's wall time.
//
// Pretenuring. The correlator keeps much of what ~100 000 probe records make (processes,
// paths, times). V8 notices that objects from those allocation sites survive and starts
// allocating them pretenured, deciding site by site over the first GCs; each decision
// throws away the optimized code that allocates there and whatever inlined it. The record
// path was compiled three or four times over, and the optimizing compiler's threads took
// more CPU than the records themselves. Replaying a captured 90 000-record stream: 17-28
// such invalidations and ~75 compilations with pretenuring, 1-2 and ~50 without; about
// 0.15 s of CPU less.
//
// Inlining. What is left of the compiler's work is mostly inlining: each hot function of
// the record path (pushRecords, pushRecord, readFileRecord, makeExited...) is compiled
// with its callees inlined, and the same callees again into each caller (~0.3 s of compile
// jobs per build, `--trace-opt`). A smaller cumulative inlining budget per function (920
// bytes of bytecode by default) compiles less and runs the records about as fast:
// replaying 90 000 records (bench/correlate.mjs) took 12-13% less CPU with 250, and 11%
// less for 360 000 records; 150 and 80 gained no more, and turning inlining off cost the
// main thread more than it saved.
//
// Both are read when V8 collects garbage or compiles a function, so setting them once the
// VM runs is safe; setting them again changes nothing. They apply to the whole CLI, which
// only correlates when it traces (this is called when a correlation starts).

import { setFlagsFromString } from 'node:v8';

/** Exported for the test that checks this node knows them (an unknown flag is only a line
 * on stderr, in every traced build). */
export const V8_CORRELATION_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring', '--max-inlined-bytecode-size-cumulative=250'];

export function tuneV8ForCorrelation(): void {
  for (const flag of V8_CORRELATION_FLAGS) setFlagsFromString(flag);
}
