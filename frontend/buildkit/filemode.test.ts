import { describe, expect, it } from 'vitest';
import { canRequestData, devMajor, devMinor, fsutilStatMode, goFileMode, GoMode, isDirMode } from './filemode.js';

describe('goFileMode (Unix st_mode -> Go os.FileMode)', () => {
  it('keeps permission bits and puts the type in the high bits', () => {
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o040755)).toBe((0x80000000 | 0o755) >>> 0);
    expect(goFileMode(0o040755)).toBe(2147484141);
    expect(goFileMode(0o120777)).toBe(((1 << 27) | 0o777) >>> 0);
    expect(goFileMode(0o010644)).toBe(((1 << 25) | 0o644) >>> 0);
    expect(goFileMode(0o060660)).toBe(((1 << 26) | 0o660) >>> 0);
    expect(goFileMode(0o020620)).toBe(((1 << 26) | (1 << 21) | 0o620) >>> 0);
    expect(goFileMode(0o140755)).toBe(((1 << 24) | 0o755) >>> 0);
  });

  it('moves setuid, setgid and sticky to Go bits', () => {
    expect(goFileMode(0o104755)).toBe(((1 << 23) | 0o755) >>> 0);
    expect(goFileMode(0o102755)).toBe(((1 << 22) | 0o755) >>> 0);
    expect(goFileMode(0o041777)).toBe((GoMode.Dir | (1 << 20) | 0o777) >>> 0);
  });

  it('clears the socket bit the way fsutil sends it', () => {
    expect(fsutilStatMode(0o140755)).toBe(0o755);
    expect(fsutilStatMode(0o120777)).toBe(((1 << 27) | 0o777) >>> 0);
  });

  it('allows data requests for regular files only', () => {
    expect(canRequestData(goFileMode(0o100644))).toBe(true);
    expect(canRequestData(goFileMode(0o104755))).toBe(true);
    expect(canRequestData(goFileMode(0o040755))).toBe(false);
    expect(canRequestData(goFileMode(0o120777))).toBe(false);
    expect(canRequestData(goFileMode(0o010644))).toBe(false);
    expect(canRequestData(goFileMode(0o020644))).toBe(false);
    expect(isDirMode(goFileMode(0o040700))).toBe(true);
    expect(isDirMode(goFileMode(0o100700))).toBe(false);
  });

  it('splits a dev_t like fsutil', () => {
    // /dev/null: major 1, minor 3 -> rdev 0x103
    expect(devMajor(0x103n)).toBe(1n);
    expect(devMinor(0x103n)).toBe(3n);
    // glibc makedev(8, 0x1234): the minor's high bits sit above the major
    const rdev = 0x34n | (8n << 8n) | (0x1200n << 12n);
    expect(devMajor(rdev)).toBe(8n);
    expect(devMinor(rdev)).toBe(0x1234n);
  });
});
