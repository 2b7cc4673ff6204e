// Typed errors of the attest module (sigstore-js habit: one string-union `code`, a
// `cause`, and tests that assert codes rather than messages).
import { TracebuildError, type ExitKind } from '../common/index.js';

/**
 * - Arguments: `invalid-argument` (a builder or signer got input it cannot use, e.g. a
 *   digest that is not `sha256:<64 hex>`).
 * - Keys: `key-not-found` (no such file), `key-exists` (refusing to overwrite),
 *   `password-required` (encrypted key, no password given), `wrong-password`,
 *   `malformed-key` (not a PEM key at all), `unsupported-key` (a key, but not ECDSA P-256),
 *   `key-io` (any other file-system failure).
 * - Verification: `malformed-bundle` (not JSON, truncated, not a Sigstore bundle),
 *   `unsupported-bundle` (a valid bundle of a kind we do not verify: not v0.3, not DSSE, or
 *   certificate-based), `unknown-key` (the bundle names a key that is not in the trusted
 *   set), `signature-invalid` (the named key is trusted but the signature does not verify
 *   over the DSSE pre-authentication encoding), `verification-failed` (any other failure
 *   reported by @sigstore/verify), `payload-type` (envelope is not in-toto JSON),
 *   `malformed-statement` (payload is not a JSON object), `statement-type` (`_type` is not
 *   Statement v1), `subject-mismatch` (no subject has the expected digest),
 *   `unsupported-predicate` (predicateType not in the accepted list),
 *   `untrusted-certificate` (a certificate that leads to no trusted CA),
 *   `untrusted-identity` (a trusted CA's certificate for someone the policy does not name),
 *   `certificate-expired` (the certificate was not valid at the signing time, or now when
 *   nothing trusted says when it signed), `sct-failed` (a Fulcio certificate without a
 *   valid SCT), `tlog-failed` (a transparency-log entry that does not verify, or none where
 *   one is required), `timestamp-failed` (an RFC 3161 timestamp that does not verify).
 * - Trust material: `malformed-trust` (a trusted root, CA or TSA file that cannot be read).
 * - Signing: `signing-failed`, `signing-service` (Fulcio, Rekor or the TSA refused or
 *   could not be reached), `certificate-mismatch` (the --cert is not for the --key, or
 *   not valid now), `identity-token` (no identity token, or one Fulcio refuses).
 */
export type AttestationErrorCode =
  | 'invalid-argument'
  | 'key-not-found'
  | 'key-exists'
  | 'password-required'
  | 'wrong-password'
  | 'malformed-key'
  | 'unsupported-key'
  | 'key-io'
  | 'malformed-bundle'
  | 'unsupported-bundle'
  | 'unknown-key'
  | 'signature-invalid'
  | 'verification-failed'
  | 'payload-type'
  | 'malformed-statement'
  | 'statement-type'
  | 'subject-mismatch'
  | 'unsupported-predicate'
  | 'untrusted-certificate'
  | 'untrusted-identity'
  | 'certificate-expired'
  | 'sct-failed'
  | 'tlog-failed'
  | 'timestamp-failed'
  | 'malformed-trust'
  | 'signing-failed'
  | 'signing-service'
  | 'certificate-mismatch'
  | 'identity-token';

/** Key problems are the user's input; a bundle that does not verify is a verification failure. */
const EXIT: Record<AttestationErrorCode, ExitKind> = {
  'invalid-argument': 'internal',
  'key-not-found': 'input',
  'key-exists': 'input',
  'password-required': 'input',
  'wrong-password': 'input',
  'malformed-key': 'input',
  'unsupported-key': 'input',
  'key-io': 'input',
  'malformed-bundle': 'verify',
  'unsupported-bundle': 'verify',
  'unknown-key': 'verify',
  'signature-invalid': 'verify',
  'verification-failed': 'verify',
  'payload-type': 'verify',
  'malformed-statement': 'verify',
  'statement-type': 'verify',
  'subject-mismatch': 'verify',
  'unsupported-predicate': 'verify',
  'untrusted-certificate': 'verify',
  'untrusted-identity': 'verify',
  'certificate-expired': 'verify',
  'sct-failed': 'verify',
  'tlog-failed': 'verify',
  'timestamp-failed': 'verify',
  'malformed-trust': 'input',
  'signing-failed': 'internal',
  'signing-service': 'remote',
  'certificate-mismatch': 'input',
  'identity-token': 'input',
};

export class AttestationError extends TracebuildError<AttestationErrorCode> {
  override readonly name = 'AttestationError';
  readonly exit: ExitKind;

  constructor(code: AttestationErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.exit = EXIT[code];
  }
}

export function isAttestationError(err: unknown, code?: AttestationErrorCode): err is AttestationError {
  return err instanceof AttestationError && (code === undefined || err.code === code);
}
