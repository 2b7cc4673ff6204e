// The error of attaching attestations after a push.
import { TracebuildError, type ExitKind } from '../../common/index.js';

/**
 * The image was pushed but attaching (or signing) its attestations failed: the registry
 * holds an image without the attestations the command line asked for. Never reported as
 * success.
 */
export class NotAttestedError extends TracebuildError<'not-attested'> {
  override readonly name = 'NotAttestedError';
  readonly exit: ExitKind = 'remote';
  constructor(
    /** `name@digest` of every image that is in the registry without (all) its attestations. */
    readonly pushed: readonly string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super('not-attested', message, options);
  }
}
