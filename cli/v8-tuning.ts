// A V8 setting for the process that correlates a traced build's records while the build
// runs (tracer/correlate.ts). Its work shares the machine's CPUs with the build, so what it
// costs shows up in the build's wall time.
//
// The correlator keeps much of what ~100 000 probe records make (processes, paths, times).
// V8 notices that objects from those allocation sites survive and starts allocating them
// pretenured, deciding site by site over the first GCs; each decision throws away the
// optimized code that allocates there and whatever inlined it. The record path was compiled
// three or four times over, and the optimizing compiler's threads took more CPU than the
// records themselves. Replaying a captured 90 000-record stream: 17-28 such invalidations
// and ~75 compilations with pretenuring, 1-2 and ~50 without; about 0.15 s of CPU less.
//
// The flag is only a GC heuristic (objects are then allocated young and promoted by the
// scavenger, as they were before V8 decided), read at each GC, so setting it once the VM
// runs is safe; setting it again changes nothing.

import { setFlagsFromString } from 'node:v8';

/** Exported for the test that checks this node knows it (an unknown flag is only a line on
 * stderr, in every traced build). */
export const V8_CORRELATION_FLAG = '--no-allocation-site-pretenuring';

export function tuneV8ForCorrelation(): void {
  setFlagsFromString(V8_CORRELATION_FLAG);
}
