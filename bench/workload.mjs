// What the tracing benchmarks build (bench/trace.mjs, bench/correlate.mjs): the syscall-heavy
// busybox shell loop that execs, forks, creates, renames, links, chmods and deletes files;
// a realistic build (apt-get, then make over generated C files) on a Debian base; and the
// RUNs of bench/stress.c (a million processes, file events as fast as they come).

/** Per iteration: 2 execs (/bin/cat, /bin/true), 7 forks running applets without exec, and
 * 10 traced file operations (open O_CREAT, rename, symlink, chmod, open O_WRONLY of
 * /dev/null, mkdir, rmdir, unlink x2, open O_TRUNC). */
export function syscallHeavyDockerfile(iterations) {
  return [
    'FROM busybox:local',
    `RUN mkdir /w && cd /w && i=0; while [ $i -lt ${iterations} ]; do i=$((i+1)); ` +
      'echo x > f$i; mv f$i g$i; ln -s g$i l$i; chmod 600 g$i; /bin/cat g$i > /dev/null; ' +
      'mkdir d$i; rmdir d$i; rm l$i g$i; /bin/true; : > z; done',
    '',
  ].join('\n');
}

/** The Debian base the realistic workload builds on (bench/trace.mjs makes it once with
 * debootstrap and keeps it as this image). */
export const DEBIAN_BASE = 'tracebuild-bench/debian:bookworm-minbase';

/** A realistic build: apt-get installs gcc and make on the Debian base, then make -j2
 * compiles the generated C files (cSources) into one program. */
export function debianDockerfile() {
  return [
    `FROM ${DEBIAN_BASE}`,
    'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc make libc6-dev && rm -rf /var/lib/apt/lists/*',
    'COPY src /src',
    'RUN make -C /src -j2',
    '',
  ].join('\n');
}

/** `n` C files of a few functions each and the Makefile that builds them: file name -> text. */
export function cSources(n) {
  const files = {};
  const calls = [];
  for (let i = 0; i < n; i++) {
    const fns = [];
    for (let k = 0; k < 8; k++) {
      fns.push(
        `static unsigned f${k}(unsigned x) { for (int i = 0; i < ${3 + k}; i++) x = x * ${2654435761 + k}u + ${i + k}u; return x ^ (x >> ${(k % 7) + 3}); }`,
      );
    }
    files[`u${i}.c`] = `${fns.join('\n')}\nunsigned unit${i}(unsigned x) { return f0(x) + f1(x) + f2(x) + f3(x) + f4(x) + f5(x) + f6(x) + f7(x); }\n`;
    calls.push(`  s += unit${i}(s);`);
  }
  files['main.c'] = [
    '#include <stdio.h>',
    ...Array.from({ length: n }, (_, i) => `unsigned unit${i}(unsigned);`),
    'int main(void) {',
    '  unsigned s = 1;',
    ...calls,
    '  printf("%u\\n", s);',
    '  return 0;',
    '}',
    '',
  ].join('\n');
  files.Makefile = [
    `OBJS := main.o ${Array.from({ length: n }, (_, i) => `u${i}.o`).join(' ')}`,
    'app: $(OBJS)',
    '\t$(CC) -o $@ $(OBJS)',
    '%.o: %.c',
    '\t$(CC) -O2 -c $< -o $@',
    '',
  ].join('\n');
  return files;
}

/** The RUN of the benchmark's other workloads: `stress` (bench/stress.c) copied in; its files
 * under /stress, a tmpfs mount of the RUN with `onTmpfs`, else in the container's root. */
export function stressDockerfile(args, onTmpfs = false) {
  const run = onTmpfs ? 'RUN --mount=type=tmpfs,target=/stress' : 'RUN mkdir -p /stress &&';
  return ['FROM busybox:local', 'COPY stress /usr/local/bin/stress', `${run} /usr/local/bin/stress ${args}`, ''].join('\n');
}
