// The files a build reads on the user's behalf are read like files of the context: a
// hostile repository's Dockerfile or .dockerignore that links to a host file, a device or a
// FIFO is refused at once, without reading it (common/user-file.ts does the reading).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildInputError } from '../errors.js';
import { loadSecrets, parseSecretFlag } from '../secrets.js';
import { readBuildInputs } from './inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'tb-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOST_SECRET = 'root:$6$host-only-hash:19000:0:99999:7:::';
writeFileSync(join(dir, 'shadow'), `${HOST_SECRET}\n`);

/** A context whose Dockerfile (or other file) is what `make` puts there. */
function context(name: string, make: (ctx: string) => void): string {
  const ctx = join(dir, name);
  mkdirSync(ctx, { recursive: true });
  make(ctx);
  return ctx;
}

function inputError(f: () => unknown): BuildInputError {
  try {
    f();
  } catch (err) {
    if (err instanceof BuildInputError) return err;
    throw err;
  }
  throw new Error('expected a BuildInputError');
}

describe('the Dockerfile and .dockerignore of a hostile context', () => {
  it('a Dockerfile linking out of the context is refused, and no line of the host file is shown', () => {
    const ctx = context('link-out', (c) => symlinkSync(join(dir, 'shadow'), join(c, 'Dockerfile')));
    const err = inputError(() => readBuildInputs({ context: ctx }, dir));
    expect(err.code).toBe('dockerfile-unreadable');
    expect(err.message).toBe('failed to read Dockerfile link-out/Dockerfile is a symbolic link to a file outside the build context: refused');
    expect(err.message).not.toContain('host-only-hash');
  });

  it('a Dockerfile that is /dev/zero or a FIFO is refused at once (it would never end, or block for ever)', () => {
    const zero = context('zero', (c) => symlinkSync('/dev/zero', join(c, 'Dockerfile')));
    expect(inputError(() => readBuildInputs({ context: zero }, dir)).message).toMatch(/^failed to read Dockerfile zero\/Dockerfile is a symbolic link to a file outside the build context/);
    const fifo = context('fifo', (c) => execFileSync('mkfifo', [join(c, 'Dockerfile')]));
    expect(inputError(() => readBuildInputs({ context: fifo }, dir)).message).toBe('failed to read Dockerfile fifo/Dockerfile is a FIFO, not a regular file: refused');
  });

  it('a link inside the context is followed, and -f may name a file outside the context on purpose', () => {
    const ctx = context('link-in', (c) => {
      mkdirSync(join(c, 'docker'));
      writeFileSync(join(c, 'docker', 'app.Dockerfile'), 'FROM busybox:local\n');
      symlinkSync('docker/app.Dockerfile', join(c, 'Dockerfile'));
    });
    expect(readBuildInputs({ context: ctx }, dir).dockerfileText).toBe('FROM busybox:local\n');
    writeFileSync(join(dir, 'elsewhere.Dockerfile'), 'FROM busybox:local\nRUN true\n');
    expect(readBuildInputs({ context: ctx, file: join(dir, 'elsewhere.Dockerfile') }, dir).dockerfileText).toContain('RUN true');
  });

  it('a Dockerfile over 4 MiB is refused with the limit', () => {
    const ctx = context('huge', (c) => writeFileSync(join(c, 'Dockerfile'), `FROM x\n${'#'.repeat(5 << 20)}\n`));
    expect(inputError(() => readBuildInputs({ context: ctx }, dir)).message).toMatch(/^failed to read Dockerfile huge\/Dockerfile is \d+ bytes; the limit is 4194304$/);
  });

  it('a .dockerignore linking out of the context is refused', () => {
    const ctx = context('ignore-out', (c) => {
      writeFileSync(join(c, 'Dockerfile'), 'FROM x\n');
      symlinkSync(join(dir, 'shadow'), join(c, '.dockerignore'));
    });
    const err = inputError(() => readBuildInputs({ context: ctx }, dir));
    expect(err.message).toBe(`failed to read ${join(ctx, '.dockerignore')}: the file is a symbolic link to a file outside the build context: refused`);
  });
});

describe('--secret src=', () => {
  it('must be a regular file no larger than BuildKit takes (500 KiB)', () => {
    execFileSync('mkfifo', [join(dir, 'secret-fifo')]);
    const fifo = () => loadSecrets([parseSecretFlag('id=s,src=secret-fifo', dir)], {});
    expect(inputError(fifo).message).toBe(`secret s: ${join(dir, 'secret-fifo')} is a FIFO, not a regular file: refused`);
    writeFileSync(join(dir, 'big-secret'), Buffer.alloc((500 << 10) + 1));
    const big = () => loadSecrets([parseSecretFlag('id=s,src=big-secret', dir)], {});
    expect(inputError(big).message).toBe(`secret s: ${join(dir, 'big-secret')} is 512001 bytes; the limit is 512000`);
  });
});
