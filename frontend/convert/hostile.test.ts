// A hostile Dockerfile costs bounded time and memory: long, deep and chained Dockerfiles
// convert (no recursion as deep as the file is long), and what cannot be bounded is
// refused with its Dockerfile line. Times are not asserted (bench/ measures); a return
// to quadratic or recursive conversion shows as a timeout or a stack overflow here.
import { describe, expect, it } from 'vitest';
import { convertError, convertText } from '../../test/helpers/convert.js';

// The generous timeout is for loaded CI machines: quadratic conversion of 10,000 lines took
// minutes, linear takes seconds.
describe('hostile Dockerfiles', { timeout: 120_000 }, () => {
  it('converts 10,000 RUN lines, each its own step', async () => {
    const text = `FROM busybox:local\n${Array.from({ length: 10_000 }, (_, i) => `RUN echo ${i}\n`).join('')}`;
    const c = await convertText(text);
    const runs = c.steps.filter((s) => s.keyword === 'RUN');
    expect(runs).toHaveLength(10_000);
    expect(new Set(runs.map((s) => s.vertex)).size).toBe(10_000);
    expect(runs[9_999]?.line).toBe(10_001);
  });

  it('converts 10,000 chained stages and a 3,000-long COPY --from chain', async () => {
    const stages = `FROM busybox:local AS s0\n${Array.from({ length: 10_000 }, (_, i) => `FROM s${i} AS s${i + 1}\n`).join('')}RUN echo end\n`;
    expect((await convertText(stages)).steps.filter((s) => s.keyword === 'RUN')).toHaveLength(1);
    const chain = `FROM busybox:local AS s0\n${Array.from({ length: 3_000 }, (_, i) => `FROM busybox:local AS s${i + 1}\nCOPY --from=s${i} /bin/sh /x${i}\n`).join('')}`;
    expect((await convertText(chain)).steps.filter((s) => s.keyword === 'COPY')).toHaveLength(3_000);
  });

  it('names the line of substitutions nested 5,000 deep', async () => {
    const err = await convertError(`FROM busybox:local\nARG a\nENV x=${'${a:-'.repeat(5000)}x${'}'.repeat(5000)}\n`);
    expect(err.message).toBe('Dockerfile:3: variable substitutions nested more than 256 deep: refused');
  });

  it('names the line where ARGs that double each other pass the size limit', async () => {
    const text = `FROM busybox:local\nARG A0=ab\n${Array.from({ length: 39 }, (_, i) => `ARG A${i + 1}=\${A${i}}\${A${i}}\n`).join('')}RUN echo $A39\n`;
    const err = await convertError(text);
    expect(err.message).toMatch(/^Dockerfile:24: variable expansion makes a value of more than 4194304 characters: refused$/);
  });

  it('keeps a RUN name unexpanded when expanding it would pass the size limit', async () => {
    const text = `FROM busybox:local\nARG A0=ab\n${Array.from({ length: 20 }, (_, i) => `ARG A${i + 1}=\${A${i}}\${A${i}}\n`).join('')}RUN ${'$A20'.repeat(100)}\n`;
    const c = await convertText(text);
    expect(c.steps.find((s) => s.keyword === 'RUN')?.name).toContain('$A20$A20');
  });
});
