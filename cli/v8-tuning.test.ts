import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { V8_CORRELATION_FLAG } from './v8-tuning.js';

describe('tuneV8ForCorrelation', () => {
  // V8 prints "Error: unrecognized flag" on stderr (and goes on) for a flag it does not
  // know: a Node whose V8 dropped this one must fail here, not in every traced build.
  it('sets a flag this node knows', () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    expect(V8_CORRELATION_FLAG.startsWith('--no-')).toBe(true);
    expect(options).toContain(`--${V8_CORRELATION_FLAG.slice('--no-'.length)} `);
  });
});
