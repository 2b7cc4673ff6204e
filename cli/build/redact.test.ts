import { describe, expect, it } from 'vitest';
import type { Trace } from '../../model/index.js';
import { SecretRedactor, redactSecrets } from './redact.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('redactSecrets', () => {
  const trace = (argv: string[], extra: Record<string, unknown> = {}): Trace =>
    ({
      monitor: { name: 'x' },
      buildSteps: [{ instruction: 'RUN x', processes: [{ argv, ...extra }], warnings: [] as string[] }],
      unattributedCgroups: [{ firstArgv: argv }],
    }) as unknown as Trace;

  it('redacts whole values and the long lines of multi-line values, not short ones', () => {
    const t = trace(['a', 'x-longsecret-y', 'line-of-a-key-1234', 'abc']);
    const n = redactSecrets(t, {
      long: enc('longsecret\n'),
      key: enc('-----BEGIN-----\nline-of-a-key-1234\n-----END-----\n'),
      short: enc('abc'),
    });
    expect(n).toBeGreaterThan(0);
    expect(t.buildSteps[0]!.processes[0]!.argv).toEqual(['a', 'x-[secret long]-y', '[secret key]', 'abc']);
    expect((t.unattributedCgroups[0] as { firstArgv: string[] }).firstArgv[1]).toBe('x-[secret long]-y');
    expect(t.buildSteps[0]!.warnings).toHaveLength(2);
  });

  it('redacts a multi-word secret that reached argv one word at a time', () => {
    const t = trace(['/bin/echo', 'correct', 'horse', 'battery', 'staple', 'after']);
    redactSecrets(t, { pw: enc('correct horse battery staple\n') });
    expect(t.buildSteps[0]!.processes[0]!.argv).toEqual(['/bin/echo', '[secret pw]', '[secret pw]', '[secret pw]', '[secret pw]', 'after']);
    expect(t.buildSteps[0]!.warnings.join()).toContain('pw');
  });

  it('redacts a word run glued to its neighbours (pre-correct horse staple-post)', () => {
    const t = trace(['sh', 'pre-correct', 'horse', 'staple-post']);
    redactSecrets(t, { pw: enc('correct horse staple') });
    expect(t.buildSteps[0]!.processes[0]!.argv).toEqual(['sh', 'pre-[secret pw]', '[secret pw]', '[secret pw]-post']);
  });

  it('leaves the words alone when they are not all there, in order', () => {
    const t = trace(['/bin/echo', 'correct', 'horse', 'staple', 'battery']);
    redactSecrets(t, { pw: enc('correct horse battery staple') });
    expect(t.buildSteps[0]!.processes[0]!.argv).toEqual(['/bin/echo', 'correct', 'horse', 'staple', 'battery']);
  });

  it('recognises a secret file that ends in two newlines (or CRLFs)', () => {
    for (const value of ['tb-secret-value\n\n', 'tb-secret-value\r\n\r\n', '  tb-secret-value  \n']) {
      const t = trace(['/bin/echo', 'tb-secret-value']);
      redactSecrets(t, { s: enc(value) });
      expect(t.buildSteps[0]!.processes[0]!.argv, JSON.stringify(value)).toEqual(['/bin/echo', '[secret s]']);
    }
  });

  it('redacts the start of a secret where the probe cut a long command line', () => {
    const secret = 'tb-secret-0123456789abcdef';
    const cut = trace(['/bin/echo', 'x'.repeat(40), secret.slice(0, 12)], { argvTruncated: true });
    redactSecrets(cut, { s: enc(secret) });
    expect(cut.buildSteps[0]!.processes[0]!.argv).toEqual(['/bin/echo', 'x'.repeat(40), '[secret s]']);
    const words = trace(['/bin/echo', 'correct', 'horse', 'bat'], { argvTruncated: true });
    redactSecrets(words, { pw: enc('correct horse battery staple') });
    expect(words.buildSteps[0]!.processes[0]!.argv).toEqual(['/bin/echo', '[secret pw]', '[secret pw]', '[secret pw]']);
    // an argv that was not cut keeps a word that merely starts like a secret
    const whole = trace(['/bin/echo', secret.slice(0, 12)]);
    redactSecrets(whole, { s: enc(secret) });
    expect(whole.buildSteps[0]!.processes[0]!.argv).toEqual(['/bin/echo', secret.slice(0, 12)]);
  });

  it('redacts $0, file names, working directories and link targets', () => {
    const secret = 'tb-secret-0123456789';
    const t = {
      monitor: { name: 'x' },
      buildSteps: [{
        instruction: 'RUN x',
        processes: [{ argv: [secret, '-c', 'true'], cwd: `/work/${secret}` }],
        files: { created: [`/tmp/${secret}.txt`], modified: [], deleted: [] },
        symlinks: [{ path: '/tmp/l', target: `/opt/${secret}` }],
        warnings: [] as string[],
      }],
    } as unknown as Trace;
    redactSecrets(t, { s: enc(`${secret}\n`) });
    expect(JSON.stringify(t)).not.toContain(secret);
    expect(JSON.stringify(t)).toContain('/tmp/[secret s].txt');
  });

  it('leaves a trace without secrets alone', () => {
    const t = trace(['a']);
    expect(redactSecrets(t, {})).toBe(0);
    expect(t.buildSteps[0]!.warnings).toEqual([]);
  });
});

describe('SecretRedactor', () => {
  it('redacts text (a log line) and tells whether a value carries a secret', () => {
    const r = new SecretRedactor({ a: enc('hunter2-long\n'), short: enc('pw') });
    const hits = new Set<string>();
    expect(r.text('the password is hunter2-long, really', hits)).toBe('the password is [secret a], really');
    expect([...hits]).toEqual(['a']);
    expect(r.text('pw is short: left alone')).toBe('pw is short: left alone');
    expect(r.carries('pw')).toBe(true);
    expect(r.carries('x-hunter2-long')).toBe(true);
    expect(r.carries('pwd')).toBe(false);
    expect(r.carries('')).toBe(false);
    expect(new SecretRedactor({}).empty).toBe(true);
  });
});
