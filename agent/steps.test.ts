import { describe, expect, it } from 'vitest';
import type { Vertex } from '../model/index.js';
import { agentSteps } from './steps.js';

const v = (n: number, name: string): Vertex => ({ digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, name, cached: false });

describe('agentSteps: the steps of a build the agent traced', () => {
  const DOCKERFILE = [
    'FROM busybox:local AS base', // 1
    'ARG X=1', // 2
    'WORKDIR /w', // 3
    'RUN echo one \\', // 4
    '  two', // 5
    '',
    'FROM base', // 7 (a stage: not numbered)
    'ENV A=b', // 8
    'COPY f /f', // 9
    'RUN make', // 10
    '',
  ].join('\n');

  it('places each vertex at its instruction of the Dockerfile the session sent', () => {
    const vertices = [
      v(1, '[base 1/3] FROM docker.io/library/busybox:local'),
      v(2, '[base 2/3] WORKDIR /w'),
      v(3, '[base 3/3] RUN echo one   two'),
      v(4, '[stage-1 1/2] COPY f /f'),
      v(5, '[stage-1 2/2] RUN make'),
      v(6, '[internal] load build context'),
    ];
    const { steps, located } = agentSteps({ vertices, ops: new Map(), dockerfile: { name: 'Dockerfile', text: DOCKERFILE }, argvOf: (d) => (d === vertices[4]!.digest ? ['/bin/sh', '-c', 'make'] : undefined) });
    expect(located).toBe('dockerfile');
    expect(steps.map((s) => [s.keyword, s.line, s.endLine, s.stage])).toEqual([
      ['FROM', 1, 1, 'base'],
      ['WORKDIR', 3, 3, 'base'],
      ['RUN', 4, 5, 'base'],
      ['COPY', 9, 9, '1'],
      ['RUN', 10, 10, '1'],
    ]);
    expect(steps[4]?.execArgs).toEqual(['/bin/sh', '-c', 'make']);
  });

  it('places a FROM whose total BuildKit counted before its WORKDIRs ([1/3] FROM, [2/4] RUN)', () => {
    const vertices = [v(1, '[1/3] FROM docker.io/library/busybox:local'), v(2, '[2/4] RUN echo a'), v(3, '[3/4] WORKDIR /w'), v(4, '[4/4] RUN ls')];
    const text = 'FROM busybox:local\nRUN echo a\nWORKDIR /w\nRUN ls\n';
    const { steps } = agentSteps({ vertices, ops: new Map(), dockerfile: { name: 'Dockerfile', text }, argvOf: () => undefined });
    expect(steps.map((s) => [s.keyword, s.line])).toEqual([
      ['FROM', 1],
      ['RUN', 2],
      ['WORKDIR', 3],
      ['RUN', 4],
    ]);
  });

  it('makes one step of two vertices of one instruction (totals counted apart), the one that ran', () => {
    const pinned = { ...v(2, '[1/3] FROM docker.io/library/busybox:local'), startedNs: 5n };
    const vertices = [{ ...v(1, '[1/2] FROM docker.io/library/busybox:local'), cached: true }, pinned, v(3, '[2/2] RUN ls')];
    const { steps } = agentSteps({ vertices, ops: new Map(), dockerfile: { name: 'Dockerfile', text: 'FROM busybox:local\nRUN ls\n' }, argvOf: () => undefined });
    expect(steps.map((s) => [s.keyword, s.line, s.vertex])).toEqual([
      ['FROM', 1, pinned.digest],
      ['RUN', 2, vertices[2]!.digest],
    ]);
  });

  it("prefers the LLB's source map and exec args; without either, the names alone (line 0)", () => {
    const vertices = [v(1, '[2/2] RUN make'), v(2, '[1/2] FROM x')];
    const ops = new Map([[vertices[0]!.digest, { digest: vertices[0]!.digest, execArgs: ['make'], lines: { start: 7, end: 8 } }]]);
    const { steps, located } = agentSteps({ vertices, ops, argvOf: () => undefined });
    expect(located).toBe('source-map');
    expect(steps.find((s) => s.keyword === 'RUN')).toMatchObject({ line: 7, endLine: 8, execArgs: ['make'], stage: '0' });
    expect(steps.find((s) => s.keyword === 'FROM')).toMatchObject({ line: 0, instruction: 'FROM x' });
  });

  it('does not place a vertex at an instruction of another kind (a Dockerfile that is not the one built)', () => {
    const { steps } = agentSteps({ vertices: [v(1, '[2/2] RUN make')], ops: new Map(), dockerfile: { name: 'Dockerfile', text: 'FROM x\nCOPY a b\n' }, argvOf: () => undefined });
    expect(steps[0]?.line).toBe(0);
  });
});
