// Loaded into the CLI by bench/trace.mjs (NODE_OPTIONS=--require): when the process exits,
// writes to $TRACEBUILD_BENCH_CPU_OUT what it took, read from /proc: the CPU of its main
// thread and of its other threads (V8's compiler and garbage collector, libuv's pool), the
// CPU of the children it waited for (the probe's loader), and its peak resident set size.
'use strict';
// getBuiltinModule, not require(): the file is CommonJS only to be --require'd before the CLI
const fs = process.getBuiltinModule('node:fs');

const out = process.env.TRACEBUILD_BENCH_CPU_OUT;
if (out) {
  const ticksMs = 1000 / 100; // USER_HZ
  /** utime, stime (and cutime, cstime) of a /proc stat line, after the command name. */
  const fields = (text) => text.slice(text.lastIndexOf(')') + 2).split(' ');
  process.on('exit', () => {
    try {
      const self = fields(fs.readFileSync('/proc/self/stat', 'utf8'));
      const main = fields(fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8'));
      // after the name: state is field 3, so utime (14) is at index 11
      const total = (Number(self[11]) + Number(self[12])) * ticksMs;
      const mainMs = (Number(main[11]) + Number(main[12])) * ticksMs;
      const childrenMs = (Number(self[13]) + Number(self[14])) * ticksMs;
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
      fs.writeFileSync(
        out,
        JSON.stringify({ mainMs, otherThreadsMs: total - mainMs, childrenMs, maxRssKiB: hwm ? Number(hwm[1]) : null }) + '\n',
      );
    } catch {
      // figures only: a failure here must not change how the CLI exits
    }
  });
}
