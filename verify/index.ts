// Verification as a library: what is attached to an image and whether it verifies, with the
// caller's trust (keys, certificate identities, trusted roots). The verify, show and diff commands, the guard and the
// agent call it; it imports attest, oci and the model, never the CLI.
export { ImageReferenceError, TrustOptionError, VerificationFailedError, type VerifyFailureKind } from './errors.js';
export {
  hasAnyTrust,
  hasCertificateTrust,
  keysOnly,
  loadTrust,
  loadTrustedKeys,
  type TrustOptions,
  type TrustedKey,
  type VerifierTrust,
} from './keys.js';
export {
  fetchVerifiedImageTrace,
  newestTraces,
  predicateLabel,
  predicateTypeOf,
  signerLabel,
  verificationError,
  verifyImage,
  verifyImageWithKeys,
  type AttestationCheck,
  type CheckStatus,
  type NotCheckedReason,
  type VerifyOptions,
  type VerifyReport,
} from './image.js';
export { bundleKeyHint, envelopeStatement } from './bundle.js';
export {
  ANNOTATION_BUNDLE_CONTENT,
  ANNOTATION_CREATED,
  ANNOTATION_PREDICATE_TYPE,
  BUNDLE_MEDIA_TYPE,
  bundleLayerOf,
  bundleReferrerManifest,
  type BundleReferrerInput,
} from './referrer-layout.js';
export { dockerConfigPath, dockerCredentials, dockerServerAddress, parseImageArgument, registryClient } from './registry.js';
export { evidenceLine } from './evidence.js';
