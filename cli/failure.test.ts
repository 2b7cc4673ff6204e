import { describe, expect, it } from 'vitest';
import type { BuildStep, StatusBatch } from './contracts.js';
import { StepFailedError, describeError } from './errors.js';
import { dockerfileExcerpt, explainSolveFailure, explainStepError } from './failure.js';
import { ProgressState } from './progress/index.js';

const T0 = Date.UTC(2024, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const bytes = (s: string) => new TextEncoder().encode(s);

const DOCKERFILE = [
  'FROM busybox:local',
  'WORKDIR /app',
  'RUN echo start \\',
  '  && for i in $(seq 1 12); do echo line $i; done \\',
  '  && exit 3',
  'CMD ["true"]',
  '',
].join('\n');

const steps: BuildStep[] = [
  { vertex: 'sha256:from', name: '[1/3] FROM docker.io/library/busybox:local', instruction: 'FROM busybox:local', keyword: 'FROM', line: 1, endLine: 1, stage: '0', stageIndex: 0 },
  { vertex: 'sha256:workdir', name: '[2/3] WORKDIR /app', instruction: 'WORKDIR /app', keyword: 'WORKDIR', line: 2, endLine: 2, stage: '0', stageIndex: 0 },
  { vertex: 'sha256:run', name: '[3/3] RUN echo start ...', instruction: 'RUN echo start && ... && exit 3', keyword: 'RUN', line: 3, endLine: 5, stage: '0', stageIndex: 0 },
];

const ERROR = 'process "/bin/sh -c echo start && ... && exit 3" did not complete successfully: exit code: 3';

function failedState(): ProgressState {
  const state = new ProgressState({ now: () => T0 });
  const batch: StatusBatch = {
    vertexes: [
      { digest: 'sha256:from', inputs: [], name: '[1/3] FROM docker.io/library/busybox:local', cached: true, started: at(0), completed: at(0) },
      { digest: 'sha256:run', inputs: [], name: '[3/3] RUN echo start ...', cached: false, started: at(100) },
    ],
    statuses: [],
    logs: [{ vertex: 'sha256:run', stream: 1, timestamp: at(150), data: bytes('start\n') }],
  };
  state.apply(batch);
  const lines = Array.from({ length: 12 }, (_, i) => `line ${i + 1}\n`).join('');
  state.apply({
    vertexes: [{ digest: 'sha256:run', inputs: [], name: '[3/3] RUN echo start ...', cached: false, started: at(100), completed: at(400), error: ERROR }],
    statuses: [],
    logs: [{ vertex: 'sha256:run', stream: 1, timestamp: at(300), data: bytes(lines) }],
  });
  return state;
}

class SolveError extends Error {
  override readonly name = 'SolveError';
}

describe('explainSolveFailure', () => {
  it.each([
    ['failed to copy: httpReadSeeker: failed open: unexpected status code http://127.0.0.1:5001/v2/base/blobs/sha256:ab: 401 Unauthorized', 4],
    ['failed to do request: Head "http://127.0.0.1:5009/v2/base/manifests/1": dial tcp 127.0.0.1:5009: connect: connection refused', 3],
  ])('gives a FROM whose pull the registry refused or could not serve the exit code of that: %s', (error, exitCode) => {
    const state = new ProgressState({ now: () => T0 });
    state.apply({
      vertexes: [{ digest: 'sha256:from', inputs: [], name: '[1/3] FROM docker.io/library/busybox:local', cached: false, started: at(0), completed: at(10), error }],
      statuses: [],
      logs: [],
    });
    const report = describeError(explainSolveFailure(new SolveError(`failed to solve: ${error}`), { state, steps, dockerfileName: 'Dockerfile', dockerfileText: DOCKERFILE }));
    expect(report.exitCode).toBe(exitCode);
    expect(report.message).toBe(`Dockerfile:1: ${error}`);
  });

  it('maps the failed vertex to its Dockerfile lines and shows the output tail', () => {
    const err = explainSolveFailure(new SolveError(`failed to solve: ${ERROR}`), {
      state: failedState(),
      steps,
      dockerfileName: 'Dockerfile',
      dockerfileText: DOCKERFILE,
    });
    expect(err).toBeInstanceOf(StepFailedError);
    const report = describeError(err);
    expect(report.exitCode).toBe(1);
    expect(report.message).toBe(`Dockerfile:3: ${ERROR}`);
    expect(report.details).toBe(
      [
        '------',
        ' > [3/3] RUN echo start ...:',
        ...[3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => `0.200 line ${i}`),
        '------',
        'Dockerfile:3',
        '--------------------',
        '   1 |     FROM busybox:local',
        '   2 |     WORKDIR /app',
        '   3 | >>> RUN echo start \\',
        '   4 | >>>   && for i in $(seq 1 12); do echo line $i; done \\',
        '   5 | >>>   && exit 3',
        '   6 |     CMD ["true"]',
        '--------------------',
        '',
      ].join('\n'),
    );
    expect((err as Error).cause).toBeInstanceOf(SolveError);
  });

  it('prefers the vertex the error names', () => {
    const state = failedState();
    state.apply({
      vertexes: [{ digest: 'sha256:workdir', inputs: [], name: '[2/3] WORKDIR /app', cached: false, started: at(0), completed: at(500), error: 'mkdir failed' }],
      statuses: [],
      logs: [],
    });
    const err = Object.assign(new SolveError('x'), { vertex: 'sha256:workdir' });
    const out = explainSolveFailure(err, { state, steps, dockerfileName: 'app.Dockerfile', dockerfileText: DOCKERFILE }) as StepFailedError;
    expect(out.message).toBe('app.Dockerfile:2: mkdir failed');
  });

  it('shows the output without a location when the vertex is not a Dockerfile step', () => {
    const state = new ProgressState({ now: () => T0 });
    state.apply({
      vertexes: [{ digest: 'sha256:ctx', inputs: [], name: '[internal] load build context', cached: false, started: at(0), completed: at(1), error: 'no such file' }],
      statuses: [],
      logs: [],
    });
    const out = explainSolveFailure(new SolveError('failed'), { state, steps, dockerfileName: 'Dockerfile', dockerfileText: DOCKERFILE });
    const report = describeError(out);
    expect(report.message).toBe('error: no such file');
    expect(report.details).toBe('------\n > [internal] load build context:\n------\n');
  });

  it('names the step that consumes a failed source vertex (ADD of a URL)', () => {
    const state = new ProgressState({ now: () => T0 });
    state.apply({
      vertexes: [
        { digest: 'sha256:http', inputs: [], name: 'https://example.test/f', cached: false, started: at(0), completed: at(1), error: 'digest mismatch' },
        { digest: 'sha256:mid', inputs: ['sha256:http'], name: 'helper', cached: false },
        { digest: 'sha256:run', inputs: ['sha256:workdir', 'sha256:mid'], name: '[3/3] RUN echo start ...', cached: false },
      ],
      statuses: [],
      logs: [],
    });
    const report = describeError(explainSolveFailure(new SolveError('failed'), { state, steps, dockerfileName: 'Dockerfile', dockerfileText: DOCKERFILE }));
    expect(report.message).toBe('Dockerfile:3: digest mismatch');
  });

  it('reports a failed [internal] vertex as itself even when steps consume it', () => {
    const state = new ProgressState({ now: () => T0 });
    state.apply({
      vertexes: [
        { digest: 'sha256:ctx', inputs: [], name: '[internal] load build context', cached: false, started: at(0), completed: at(1), error: 'no such file' },
        { digest: 'sha256:run', inputs: ['sha256:ctx'], name: '[3/3] RUN echo start ...', cached: false },
      ],
      statuses: [],
      logs: [],
    });
    const report = describeError(explainSolveFailure(new SolveError('failed'), { state, steps, dockerfileName: 'Dockerfile', dockerfileText: DOCKERFILE }));
    expect(report.message).toBe('error: no such file');
  });

  it('leaves the error alone when no vertex failed', () => {
    const err = new SolveError('daemon went away');
    const state = new ProgressState({ now: () => T0 });
    expect(explainSolveFailure(err, { state, steps: undefined, dockerfileName: 'Dockerfile', dockerfileText: '' })).toBe(err);
  });
});

describe('dockerfileExcerpt', () => {
  it('clamps the context at the ends of the file', () => {
    expect(dockerfileExcerpt('FROM a\nRUN b\n', 1, 1)).toEqual(['   1 | >>> FROM a', '   2 |     RUN b']);
    expect(dockerfileExcerpt('FROM a\n\nRUN b', 3, 3)).toEqual(['   1 |     FROM a', '   2 |', '   3 | >>> RUN b']);
  });
});

describe('explainStepError', () => {
  it('names a missing COPY source and hides the daemon mount path', () => {
    expect(
      explainStepError(
        'COPY',
        'failed to walk /var/lib/docker/tmp/buildkit-mount207/etc: lstat /var/lib/docker/tmp/buildkit-mount207/etc: no such file or directory',
      ),
    ).toBe(
      'COPY source not found in the build context: etc (failed to walk <context>/etc: lstat <context>/etc: no such file or directory)',
    );
    expect(explainStepError('ADD', 'failed to compute cache key: "/nothere.txt" not found: not found')).toBe(
      'ADD source not found in the build context: nothere.txt (failed to compute cache key: "/nothere.txt" not found: not found)',
    );
  });

  it('reads BuildKit v0.13, which first names the checksum of the context it could not compute', () => {
    const ref = '71b2c7c1-9222-4a17-b38a-bff6457c0f12::qbd9o31n64x34ub1dx9qc521i';
    expect(
      explainStepError(
        'COPY',
        `failed to calculate checksum of ref ${ref}: failed to walk /var/lib/docker/tmp/buildkit-mount185/etc: lstat /var/lib/docker/tmp/buildkit-mount185/etc: no such file or directory`,
      ),
    ).toBe(
      `COPY source not found in the build context: etc (failed to calculate checksum of ref ${ref}: failed to walk <context>/etc: lstat <context>/etc: no such file or directory)`,
    );
    expect(explainStepError('COPY', `failed to compute cache key: failed to calculate checksum of ref ${ref}: "/missing.txt": not found`)).toBe(
      `COPY source not found in the build context: missing.txt (failed to compute cache key: failed to calculate checksum of ref ${ref}: "/missing.txt": not found)`,
    );
  });

  it('leaves other steps and other messages as the daemon said them', () => {
    expect(explainStepError('RUN', 'process "/bin/sh -c false" did not complete successfully: exit code: 1')).toBe(
      'process "/bin/sh -c false" did not complete successfully: exit code: 1',
    );
    expect(explainStepError('COPY', 'permission denied')).toBe('permission denied');
  });
});
