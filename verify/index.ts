// Verification as a library: what is attached to an image and whether it verifies, offline,
// with the caller's trusted keys. The verify, show and diff commands, the guard and the
// agent call it; it imports attest, oci and the model, never the CLI.
export { ImageReferenceError, VerificationFailedError, type VerifyFailureKind } from './errors.js';
export { loadTrustedKeys, type TrustedKey } from './keys.js';
export {
  fetchVerifiedImageTrace,
  newestTraces,
  predicateLabel,
  verificationError,
  verifyImage,
  verifyImageWithKeys,
  type AttestationCheck,
  type CheckStatus,
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
