import { describe, expect, it } from 'vitest';
import { parseBuildArgs, parseLabels } from './args.js';
import { UsageError } from './errors.js';

describe('--build-arg', () => {
  it('takes K=V literally, splitting at the first =', () => {
    expect(parseBuildArgs(['A=1', 'B=x=y', 'C='], {})).toEqual({ A: '1', B: 'x=y', C: '' });
  });

  it('takes a bare K from the environment, and skips it when unset', () => {
    expect(parseBuildArgs(['HTTP_PROXY', 'MISSING', 'EMPTY'], { HTTP_PROXY: 'http://127.0.0.1:3128', EMPTY: '' })).toEqual({
      HTTP_PROXY: 'http://127.0.0.1:3128',
      EMPTY: '',
    });
  });

  it('lets later values win', () => {
    expect(parseBuildArgs(['A=1', 'A'], { A: 'env' })).toEqual({ A: 'env' });
  });

  it('rejects an empty name as a usage error', () => {
    expect(() => parseBuildArgs(['=1'], {})).toThrow(UsageError);
  });
});

describe('--label', () => {
  it('takes K=V, and K alone as an empty value', () => {
    expect(parseLabels(['a=1', 'b', 'c=x=y'])).toEqual({ a: '1', b: '', c: 'x=y' });
  });
  it('rejects an empty name', () => {
    expect(() => parseLabels(['=x'])).toThrow(UsageError);
  });
});
