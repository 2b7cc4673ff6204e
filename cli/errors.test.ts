import { describe, expect, it } from 'vitest';
import { TracebuildError, type ExitKind } from '../common/index.js';
import { BuildKitConnectionError, SolveError } from '../frontend/index.js';
import { FakeConvertError, FakeDockerfileError } from '../test/helpers/cli.js';
import { BuildInputError, CanceledError, describeError, EXIT_CODES, UsageError } from './errors.js';

const DockerfileError = FakeDockerfileError;
const ConvertError = FakeConvertError;
/** A located error whose message does not start with its location. */
class OddConvertError extends TracebuildError<'x'> {
  readonly exit: ExitKind = 'input';
  constructor(message: string) {
    super('x', message, { location: { file: 'my Dockerfile', line: 7 } });
  }
}
/** Any module's error: the kind it carries decides. */
class ModuleError extends TracebuildError<'x'> {
  constructor(
    readonly exit: ExitKind,
    message: string,
  ) {
    super('x', message);
  }
}

describe('exit codes', () => {
  it('has the documented table', () => {
    expect(EXIT_CODES).toEqual({
      usage: 2, input: 1, build: 1, unreachable: 3, auth: 4, remote: 1, trace: 1, verify: 1, canceled: 130, internal: 1,
    });
  });

  it.each([
    [new UsageError('invalid-tag', 'bad tag'), 'usage', 2, 'error: bad tag'],
    [new BuildInputError('dockerfile-not-found', 'failed to read Dockerfile: x'), 'input', 1, 'error: failed to read Dockerfile: x'],
    [new BuildInputError('secret-not-provided', 'secret x is required', { file: 'Dockerfile', line: 4 }), 'input', 1, 'Dockerfile:4: secret x is required'],
    [new CanceledError(), 'canceled', 130, 'error: build canceled'],
    [new DockerfileError('Dockerfile', 3, 'unknown instruction: FORM'), 'input', 1, 'Dockerfile:3: unknown instruction: FORM'],
    [new ConvertError('Dockerfile', 2, 'base name (${X}) should not be blank'), 'input', 1, 'Dockerfile:2: base name (${X}) should not be blank'],
    [new ConvertError('Dockerfile', 0, 'target stage "x" could not be found'), 'input', 1, 'error: Dockerfile: target stage "x" could not be found'],
    [new BuildKitConnectionError('unreachable', 'unix:///nope.sock', 'ENOENT'), 'unreachable', 3, 'error: cannot connect to BuildKit at unix:///nope.sock: ENOENT'],
    [new SolveError('solve-failed', 'failed to solve:\n  something'), 'build', 1, 'error: failed to solve: something'],
    [new SolveError('cancelled', 'build cancelled'), 'canceled', 130, 'error: build cancelled'],
    [new SolveError('connection-lost', 'lost the connection to BuildKit: EPIPE'), 'unreachable', 3, 'error: lost the connection to BuildKit: EPIPE'],
    [
      new SolveError('gateway-failed', 'resolve image config for 127.0.0.1:5001/x:1: pulling from host 127.0.0.1:5001 failed with status code [manifests 1]: 401 Unauthorized'),
      'auth', 4,
      'error: resolve image config for 127.0.0.1:5001/x:1: pulling from host 127.0.0.1:5001 failed with status code [manifests 1]: 401 Unauthorized',
    ],
    [
      new SolveError('solve-failed', 'failed to do request: Head "http://127.0.0.1:5009/v2/x/manifests/1": dial tcp 127.0.0.1:5009: connect: connection refused'),
      'unreachable', 3,
      'error: failed to do request: Head "http://127.0.0.1:5009/v2/x/manifests/1": dial tcp 127.0.0.1:5009: connect: connection refused',
    ],
    // a RUN that failed is a failed build, whatever its command line says
    [
      new SolveError('solve-failed', 'process "/bin/sh -c echo unauthorized; curl http://x" did not complete successfully: exit code: 7'),
      'build', 1,
      'error: process "/bin/sh -c echo unauthorized; curl http://x" did not complete successfully: exit code: 7',
    ],
    [new ModuleError('trace', 'the eBPF tracer needs root; build with --no-trace'), 'trace', 1, 'error: the eBPF tracer needs root; build with --no-trace'],
    [new ModuleError('verify', 'not verified'), 'verify', 1, 'error: not verified'],
    [new TypeError('boom'), 'internal', 1, 'error: boom'],
    ['a string', 'internal', 1, 'error: a string'],
  ])('%s', (err, kind, exitCode, message) => {
    expect(describeError(err)).toEqual({ kind, exitCode, message });
  });

  it('adds the location when a located error does not say it', () => {
    expect(describeError(new OddConvertError('oops')).message).toBe('my Dockerfile:7: oops');
  });

  it('takes an aborted fetch or stream as a cancellation', () => {
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(describeError(abort)).toEqual({ kind: 'canceled', exitCode: 130, message: 'error: build canceled' });
  });
});
