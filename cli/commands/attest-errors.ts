// Typed errors of pushing, attesting and verifying. Deliberately free of imports, so that
// cli/errors.ts can classify them without loading the registry or sigstore code. Each
// exits 1 (see the table in cli/errors.ts).

export type PushErrorCode =
  /** DOCKER_HOST names something we cannot speak the Engine API to (ssh://, npipe://...). */
  | 'unsupported-docker-host'
  /** dockerd does not answer on its socket. */
  | 'daemon-unreachable'
  /** dockerd answered the push with an error (HTTP status or an error in the stream). */
  | 'push-failed'
  /** The push stream ended without the manifest digest. */
  | 'no-digest';

/** `docker push` through the Engine API failed; names the reference. */
export class PushError extends Error {
  override readonly name = 'PushError';
  constructor(
    readonly code: PushErrorCode,
    /** The reference being pushed, as the user named it (or the DOCKER_HOST value). */
    readonly reference: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

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
