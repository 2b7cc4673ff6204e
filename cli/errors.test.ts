import { describe, expect, it } from 'vitest';
import { FakeConvertError, FakeDockerfileError } from '../test/helpers/cli.js';
import { BuildInputError, CanceledError, describeError, EXIT_CODES, UsageError } from './errors.js';

const DockerfileError = FakeDockerfileError;
const ConvertError = FakeConvertError;
class OddConvertError extends Error {
  readonly file = 'my Dockerfile';
  readonly line = 7;
}
class BuildKitConnectionError extends Error {}
class SolveError extends Error {}
const classes = { DockerfileError, ConvertError, BuildKitConnectionError, SolveError };

describe('exit codes', () => {
  it('has the documented table', () => {
    expect(EXIT_CODES).toEqual({
      usage: 2, dockerfile: 1, convert: 1, connection: 1, solve: 1, input: 1, canceled: 130,
      registry: 1, push: 1, attest: 1, key: 1, verify: 1, trace: 1, guard: 1, internal: 1,
    });
  });

  it.each([
    [new UsageError('invalid-tag', 'bad tag'), 'usage', 2, 'error: bad tag'],
    [new BuildInputError('dockerfile-not-found', 'failed to read Dockerfile: x'), 'input', 1, 'error: failed to read Dockerfile: x'],
    [new CanceledError(), 'canceled', 130, 'error: build canceled'],
    [new DockerfileError('Dockerfile', 3, 'unknown instruction: FORM'), 'dockerfile', 1, 'Dockerfile:3: unknown instruction: FORM'],
    [new ConvertError('Dockerfile', 2, 'base name (${X}) should not be blank'), 'convert', 1, 'Dockerfile:2: base name (${X}) should not be blank'],
    [new ConvertError('Dockerfile', 0, 'target stage "x" could not be found'), 'convert', 1, 'error: Dockerfile: target stage "x" could not be found'],
    [new BuildKitConnectionError('cannot connect to BuildKit at unix:///nope.sock: ENOENT'), 'connection', 1, 'error: cannot connect to BuildKit at unix:///nope.sock: ENOENT'],
    [new SolveError('failed to solve:\n  something'), 'solve', 1, 'error: failed to solve: something'],
    [Object.assign(new Error('the eBPF tracer needs root; build with --no-trace'), { name: 'TraceUnavailableError' }), 'trace', 1, 'error: the eBPF tracer needs root; build with --no-trace'],
    [Object.assign(new Error('the probe loader exited'), { name: 'TracerError' }), 'trace', 1, 'error: the probe loader exited'],
    [Object.assign(new Error('/run/docker/plugins/x.sock is in use'), { name: 'GuardError' }), 'guard', 1, 'error: /run/docker/plugins/x.sock is in use'],
    [new TypeError('boom'), 'internal', 1, 'error: boom'],
    ['a string', 'internal', 1, 'error: a string'],
  ])('%s', (err, kind, exitCode, message) => {
    expect(describeError(err, classes)).toEqual({ kind, exitCode, message });
  });

  it('adds the location when a located error does not say it', () => {
    expect(describeError(Object.assign(new OddConvertError('oops'), { name: 'ConvertError' })).message).toBe('my Dockerfile:7: oops');
  });

  it('recognizes the sibling errors by name before the real classes are wired', () => {
    expect(describeError(new DockerfileError('Dockerfile', 1, 'x')).kind).toBe('dockerfile');
    const e = new Error('down');
    e.name = 'BuildKitConnectionError';
    expect(describeError(e).kind).toBe('connection');
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(describeError(abort)).toEqual({ kind: 'canceled', exitCode: 130, message: 'error: build canceled' });
  });
});
