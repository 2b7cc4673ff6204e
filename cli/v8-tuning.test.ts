import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { V8_CORRELATION_FLAGS } from './v8-tuning.js';

describe('tuneV8ForCorrelation', () => {
  // V8 prints "Error: unrecognized flag" on stderr (and goes on) for a flag it does not
  // know: a Node whose V8 dropped one must fail here, not in every traced build.
  it('sets flags this node knows', () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    for (const flag of V8_CORRELATION_FLAGS) {
      const name = flag.replace(/^--(no-)?/, '').replace(/=.*$/, '');
      expect(options, flag).toContain(`--${name} `);
    }
  });

  it('gives values of the flags\' own type', () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    for (const flag of V8_CORRELATION_FLAGS) {
      const name = flag.replace(/^--(no-)?/, '').replace(/=.*$/, '');
      const type = new RegExp(`--${name} \\([^)]*\\)\\s+type: (\\w+)`).exec(options)?.[1];
      expect(type, flag).toBe(flag.includes('=') ? 'int' : 'bool');
    }
  });
});
