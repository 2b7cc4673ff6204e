// Errors of the Docker Engine API client: each names the reference (or DOCKER_HOST) it was
// about, and exits as common/errors.ts says.
import { TracebuildError, remoteFailureKind, type ExitKind } from '../common/index.js';

export type EngineErrorCode =
  /** DOCKER_HOST names something we cannot speak the Engine API to (npipe://, fd://, a malformed address...). */
  | 'unsupported-docker-host'
  /** dockerd does not answer on its socket (or ssh to its host failed). */
  | 'daemon-unreachable'
  /** dockerd answered the push with an error (HTTP status or an error in the stream). */
  | 'push-failed'
  /** The push stream ended without the manifest digest. */
  | 'no-digest'
  /** dockerd answered a query with an error, or with something that is not its JSON. */
  | 'bad-answer';

const EXIT: Record<EngineErrorCode, ExitKind> = {
  'unsupported-docker-host': 'unreachable',
  'daemon-unreachable': 'unreachable',
  'push-failed': 'remote',
  'no-digest': 'remote',
  'bad-answer': 'remote',
};

export class EngineError extends TracebuildError<EngineErrorCode> {
  override readonly name = 'EngineError';
  readonly exit: ExitKind;
  constructor(
    code: EngineErrorCode,
    /** The reference being pushed or inspected, as the user named it (or the DOCKER_HOST value). */
    readonly reference: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    // dockerd's push errors are the registry's words: a refused login, an unreachable host.
    this.exit = code === 'push-failed' ? (remoteFailureKind(message) ?? EXIT[code]) : EXIT[code];
  }
}
