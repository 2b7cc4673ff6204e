// The errors of verification: an image whose attestations do not verify (exit kind
// 'verify'), and an image argument that is not a reference (a usage error).
import { TracebuildError, type ExitKind } from '../common/index.js';

export type VerifyFailureKind =
  | 'no-attestations'
  | 'no-runtime-trace'
  | 'no-trusted-attestation'
  | 'missing-type'
  | 'not-checked'
  | 'fetch-failed'
  | 'descriptor-mismatch'
  | 'not-a-bundle-referrer'
  | 'referrer-subject-mismatch'
  | 'annotation-mismatch'
  | 'malformed-bundle'
  | 'unsupported-bundle'
  | 'unknown-key'
  | 'signature-invalid'
  | 'not-a-statement'
  | 'copied-from-another-image'
  | 'subject-mismatch'
  | 'certificate-expired'
  | 'tlog-failed'
  | 'timestamp-failed'
  | 'not-signed'
  | 'incomplete-trace'
  | 'verification-failed';

/** An image did not verify: the message names the image reference; `kinds` lists every failure found. */
export class VerificationFailedError extends TracebuildError<VerifyFailureKind> {
  override readonly name = 'VerificationFailedError';
  readonly exit: ExitKind = 'verify';
  constructor(
    readonly reference: string,
    readonly kinds: readonly VerifyFailureKind[],
    message: string,
  ) {
    super(kinds[0] ?? 'verification-failed', message);
  }
}

/** An image argument that is not a valid reference. */
export class ImageReferenceError extends TracebuildError<'bad-reference'> {
  override readonly name = 'ImageReferenceError';
  readonly exit: ExitKind = 'usage';
  constructor(
    readonly reference: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('bad-reference', message, options);
  }
}

/** Trust options that cannot work together, or a trust file that cannot be read. */
export class TrustOptionError extends TracebuildError<'bad-trust-option'> {
  override readonly name = 'TrustOptionError';
  readonly exit: ExitKind;
  constructor(message: string, exit: ExitKind = 'usage') {
    super('bad-trust-option', message);
    this.exit = exit;
  }
}
