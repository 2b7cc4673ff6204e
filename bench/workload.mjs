// The syscall-heavy Dockerfile the tracing benchmarks build (bench/trace.mjs,
// bench/correlate.mjs): a busybox shell loop that execs, forks, creates, renames, links,
// chmods and deletes files.

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
