// --platform against the real daemon: an arm64 image built on this amd64 machine, its RUN
// executed by qemu-user-static through binfmt_misc (scripts/env.sh registers qemu-aarch64
// and keeps Debian's arm64 busybox-static); the platform ARGs, the image config's platform
// and the binary's own `uname -m` say arm64. A RUN for a platform the daemon has no
// emulator for fails at its line before anything runs, and several platforms at once (an
// image index) are refused, saying why.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();
const ARM64_BUSYBOX = '/var/lib/tracebuild/arm64/busybox';

describe.skipIf(gate.skip)('--platform', () => {
  let work = '';
  const tag = uniqueTag('platform-arm64', 'tracebuild');

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-platform-'));
    expect(existsSync(ARM64_BUSYBOX), `${ARM64_BUSYBOX} is missing: scripts/env.sh fetches it (see its log for why not)`).toBe(true);
    expect(existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64'), 'qemu-aarch64 is not registered with binfmt_misc: scripts/env.sh registers it').toBe(true);
    writeFiles(work, {
      'arm/Dockerfile': [
        'FROM scratch',
        'ARG TARGETPLATFORM',
        'ARG TARGETARCH',
        'ARG BUILDPLATFORM',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch && echo $TARGETPLATFORM $TARGETARCH $BUILDPLATFORM >> /arch"]',
        '',
      ].join('\n'),
    });
    copyFileSync(ARM64_BUSYBOX, path.join(work, 'arm', 'busybox'));
  });

  afterAll(async () => {
    await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('an arm64 image, its RUN executed under emulation', async () => {
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '--platform', 'linux/aarch64', '-t', tag, 'arm'], { cwd: work });
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    const inspect = await run(dockerCli, ['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', tag]);
    expect(inspect.stdout.trim()).toBe('linux/arm64');
    const out = await run(dockerCli, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', tag, '/bin/busybox', 'cat', '/arch']);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toBe('aarch64\nlinux/arm64 arm64 linux/amd64\n');
  });

  test('a RUN for a platform without an emulator fails at its line, before it runs', async () => {
    const r = await tracebuild(['build', '--no-trace', '--network', 'host', '--progress', 'plain', '--platform', 'linux/s390x', 'arm'], { cwd: work });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Dockerfile:6: RUN for linux\/s390x cannot run on dockerd [^:]+: it executes linux\/amd64, .*linux\/arm64.*; an emulator for linux\/s390x \(qemu-user-static registered with binfmt_misc\) would let it/);
    expect(r.stderr).not.toContain('COPY busybox');
  });

  test('several platforms at once are refused, saying why', async () => {
    const r = await tracebuild(['build', '--no-trace', '--platform', 'linux/amd64,linux/arm64', 'arm'], { cwd: work });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--platform linux/amd64, linux/arm64: a multi-platform image (an image index) is not supported');
  });
});
