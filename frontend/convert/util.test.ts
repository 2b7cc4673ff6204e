import { describe, expect, it } from 'vitest';
import { EnvList, goDuration, goQuote, goQuoteRune, isValidSignal, normalizeImageRef, parseChown, parsePortSpecs, addEnv } from './util.js';

describe('Go-compatible helpers', () => {
  it('formats durations like time.Duration.String', () => {
    expect([0, 500e6, 1e9, 30e9, 90e9, 3600e9, 1.5e9, 1500, 250].map(goDuration)).toEqual(['0s', '500ms', '1s', '30s', '1m30s', '1h0m0s', '1.5s', '1.5µs', '250ns']);
  });

  it('quotes like %q', () => {
    expect(goQuote('a "b"\n\t\\')).toBe('"a \\"b\\"\\n\\t\\\\"');
    expect(goQuote('\x01é')).toBe('"\\x01é"');
    expect([0, 3, 65, 39].map(goQuoteRune)).toEqual(["'\\x00'", "'\\x03'", "'A'", "'\\''"]);
  });

  it('normalizes references like Docker', () => {
    expect(normalizeImageRef('busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeImageRef('busybox:local')).toBe('docker.io/library/busybox:local');
    expect(normalizeImageRef('docker.io/busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeImageRef('index.docker.io/a/b:c')).toBe('docker.io/a/b:c');
    expect(normalizeImageRef('127.0.0.1:5000/x/y@sha256:' + 'a'.repeat(64))).toBe('127.0.0.1:5000/x/y@sha256:' + 'a'.repeat(64));
    expect(normalizeImageRef('Upper')).toBeUndefined();
    expect(normalizeImageRef('a b')).toBeUndefined();
  });

  it('parses EXPOSE specs', () => {
    expect(parsePortSpecs(['80', '53/UDP', '1000-1002/tcp', '127.0.0.1:8080:90'])).toEqual(['80/tcp', '53/udp', '1000/tcp', '1001/tcp', '1002/tcp', '90/tcp']);
    expect(() => parsePortSpecs(['abc'])).toThrow('Invalid containerPort: abc');
    expect(() => parsePortSpecs(['80/xyz'])).toThrow('Invalid proto');
  });

  it('parses --chown like llb.WithUser', () => {
    expect(parseChown('root')).toEqual({ user: 0 });
    expect(parseChown('1000:1000')).toEqual({ user: 1000, group: 1000 });
    expect(parseChown('app:staff')).toEqual({ user: 'app', group: 'staff' });
  });

  it('validates signals', () => {
    expect(['SIGKILL', 'term', '9', 'RTMIN+3'].every(isValidSignal)).toBe(true);
    expect(['NOPE', '0'].some(isValidSignal)).toBe(false);
  });

  it('EnvList moves a replaced key to the end; config env replaces in place', () => {
    const e = EnvList.empty().addOrReplace('A', '1').addOrReplace('B', '2').addOrReplace('A', '3');
    expect(e.toArray()).toEqual(['B=2', 'A=3']);
    expect(addEnv(['A=1', 'B=2'], 'A', '3')).toEqual(['A=3', 'B=2']);
  });
});
