// The step fields the tracer relies on: RUN's execArgs must be exactly the exec op's
// meta.args (the correlator matches a container's first exec against them), COPY/ADD's
// sources/destination/from as the instruction means them (variables expanded).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convertOptions as opts } from '../../test/helpers/convert.js';
import { decodeDefinition } from '../llb/index.js';
import { convertDockerfile } from './index.js';
import type { Conversion } from './index.js';

/** vertex digest -> the exec op's meta.args, for every exec op in the definition. */
function execArgsByVertex(c: Conversion): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const o of decodeDefinition(c.definition)) {
    const exec = o.op['exec'] as { meta: { args: string[] } } | undefined;
    if (exec) out.set(o.digest, exec.meta.args);
  }
  return out;
}

describe('BuildStep fields for the tracer', () => {
  it('RUN: execArgs are the exec op meta.args (shell form, exec form, SHELL, heredoc, build args)', async () => {
    const c = await convertDockerfile(
      opts(
        [
          'FROM busybox:local',
          'ARG WHO=world',
          'RUN echo "hello $WHO" > /tmp/x',
          'RUN ["/bin/echo", "exec", "form"]',
          'SHELL ["/bin/sh", "-e", "-c"]',
          'RUN echo shell changed',
          'RUN <<EOF',
          'echo heredoc',
          'EOF',
          'COPY a.txt /a',
        ].join('\n'),
        { buildArgs: { WHO: 'you' } },
      ),
    );
    const byVertex = execArgsByVertex(c);
    const runs = c.steps.filter((s) => s.keyword === 'RUN');
    expect(runs).toHaveLength(4);
    for (const s of runs) expect(s.execArgs, s.instruction).toEqual(byVertex.get(s.vertex));
    expect(runs.map((s) => s.execArgs)).toEqual([
      ['/bin/sh', '-c', 'echo "hello $WHO" > /tmp/x'],
      ['/bin/echo', 'exec', 'form'],
      ['/bin/sh', '-e', '-c', 'echo shell changed'],
      ['/bin/sh', '-e', '-c', expect.stringContaining('echo heredoc') as unknown as string],
    ]);
    for (const s of c.steps.filter((x) => x.keyword !== 'RUN')) expect(s.execArgs).toBeUndefined();
  });

  it('COPY/ADD: sources expanded, destination resolved against WORKDIR, --from as given', async () => {
    const c = await convertDockerfile(
      opts(
        [
          'FROM busybox:local AS build',
          'RUN echo b > /out',
          'FROM busybox:local',
          'ARG SRC=dir',
          'ENV DEST=sub',
          'WORKDIR /app',
          'COPY ${SRC}/*.txt other.md $DEST/',
          'ADD archive.tar https://example.com/x.tgz ./',
          'COPY --from=build /out /final',
          'COPY --from=0 /etc/passwd /copied',
          'COPY <<EOF /inline.txt',
          'inline',
          'EOF',
        ].join('\n'),
      ),
    );
    const copies = c.steps
      .filter((s) => s.keyword === 'COPY' || s.keyword === 'ADD')
      .map((s) => ({ line: s.line, copySources: s.copySources, copyDestination: s.copyDestination, copyFrom: s.copyFrom }));
    expect(copies).toEqual([
      { line: 7, copySources: ['dir/*.txt', 'other.md'], copyDestination: '/app/sub/', copyFrom: undefined },
      { line: 8, copySources: ['archive.tar', 'https://example.com/x.tgz'], copyDestination: '/app/', copyFrom: undefined },
      { line: 9, copySources: ['/out'], copyDestination: '/final', copyFrom: 'build' },
      { line: 10, copySources: ['/etc/passwd'], copyDestination: '/copied', copyFrom: '0' },
      { line: 11, copySources: [], copyDestination: '/inline.txt', copyFrom: undefined },
    ]);
    for (const s of c.steps.filter((x) => x.keyword === 'RUN' || x.keyword === 'FROM' || x.keyword === 'WORKDIR')) {
      expect(s.copySources, s.instruction).toBeUndefined();
    }
  });

  it('every RUN of every testdata case carries the exec args its vertex has', async () => {
    const testdata = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'testdata');
    let checked = 0;
    for (const name of readdirSync(testdata).sort()) {
      const df = join(testdata, name, 'Dockerfile');
      if (!statSync(join(testdata, name)).isDirectory() || !existsSync(df)) continue;
      let c: Conversion;
      try {
        c = await convertDockerfile(opts(readFileSync(df, 'utf8')));
      } catch {
        continue; // cases that need build args or a target are covered by the golden test
      }
      const byVertex = execArgsByVertex(c);
      for (const s of c.steps.filter((x) => x.keyword === 'RUN')) {
        expect(s.execArgs, `${name}:${s.line}`).toEqual(byVertex.get(s.vertex));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
