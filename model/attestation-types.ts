// The identifiers of tracebuild's attestations, which its writers and every reader (verify,
// show, the guard, trace files) must agree on: plain constants, so that naming them loads
// no signing code.

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const RUNTIME_TRACE_PREDICATE_TYPE = 'https://in-toto.io/attestation/runtime-trace/v0.1';
export const SLSA_PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';

/** Predicate types tracebuild produces and, by default, accepts when verifying. */
export const KNOWN_PREDICATE_TYPES: readonly string[] = [RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE];

/** The Sigstore bundle v0.3 media type: a bundle's own `mediaType`, and the OCI artifactType of its referrer. */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
