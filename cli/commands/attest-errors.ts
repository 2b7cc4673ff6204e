// Typed errors of attesting and verifying. Deliberately free of imports, so that
// cli/errors.ts can classify them without loading the registry or sigstore code. Each
// exits 1 (see the table in cli/errors.ts).

/**
 * The image was pushed but attaching (or signing) its attestations failed: the registry
 * holds an image without the attestations the command line asked for. Never reported as
 * success.
 */
export class NotAttestedError extends Error {
  override readonly name = 'NotAttestedError';
  constructor(
    /** `name@digest` of every image that is in the registry without (all) its attestations. */
    readonly pushed: readonly string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What went wrong with one attestation (or with the image as a whole) during `verify`. */
export type VerifyFailureKind =
  | 'no-attestations'
  | 'no-runtime-trace'
  | 'fetch-failed'
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
  | 'incomplete-trace'
  | 'verification-failed';

/** `tracebuild verify` found a problem: the message names the image reference. */
export class VerificationFailedError extends Error {
  override readonly name = 'VerificationFailedError';
  constructor(
    readonly reference: string,
    readonly kinds: readonly VerifyFailureKind[],
    message: string,
  ) {
    super(message);
  }
}
