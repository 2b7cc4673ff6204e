// Public surface of the attest module (the only import point for other folders).
//
// Pure statement builders, local keys (ours and cosign's), DSSE signing into Sigstore v0.3
// bundles (a local key, a key with its certificate, or keyless through Fulcio; Rekor and TSA
// witnesses), and pure verification with caller-supplied trust (keys, CAs, trusted roots).

export { AttestationError, isAttestationError, type AttestationErrorCode } from './errors.js';
export {
  IN_TOTO_PAYLOAD_TYPE,
  KNOWN_PREDICATE_TYPES,
  RUNTIME_TRACE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  STATEMENT_TYPE_V1,
  STATEMENT_TYPE_V01,
  STATEMENT_TYPES,
  type DigestSet,
  type ImageRef,
  type ResourceDescriptor,
  type Statement,
  type Subject,
  type Timestamp,
} from './statement.js';
export {
  TRACEBUILD_MONITOR_TYPE,
  buildRuntimeTraceStatement,
  traceFromPredicate,
  type MonitorInfo,
  type MonitoredProcessInfo,
  type RuntimeTracePredicate,
  type RuntimeTraceStatement,
  type RuntimeTraceStatementInput,
} from './runtime-trace.js';
export {
  TRACEBUILD_BUILDER_ID,
  TRACEBUILD_BUILD_TYPE,
  buildSlsaProvenanceStatement,
  type BaseImageDependency,
  type ContextFileDependency,
  type SlsaProvenanceInput,
  type SlsaProvenancePredicate,
  type SlsaProvenanceStatement,
} from './provenance.js';
export { keyId, keyIdOfHint } from './keyid.js';
export {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  isEncryptedKeyPem,
  loadPrivateKey,
  privateKeyFileIsEncrypted,
  loadPublicKey,
  parsePrivateKeyPem,
  writeKeyPair,
  type KeyPair,
  type WrittenKeyPair,
} from './keys.js';
export { decryptCosignKey, isCosignKeyPem } from './cosign-key.js';
export {
  DEFAULT_FULCIO_URL,
  DEFAULT_REKOR_URL,
  bundleBuilder,
  createLocalSigner,
  signPayload,
  signStatement,
  signingCertificate,
  type SignOptions,
  type SigningMethod,
} from './sign.js';
export {
  describeSigner,
  verifyBundle,
  type VerifiedAttestation,
  type VerifiedSigner,
  type VerifiedTime,
  type VerifyBundleOptions,
} from './verify.js';
export {
  buildBundleTrust,
  emptyBundleTrust,
  hasIdentity,
  identityMismatch,
  oidcIssuer,
  parseCertificates,
  subjectAlternativeNames,
  type BundleTrust,
  type BundleTrustInput,
  type CertificateIdentityPolicy,
} from './trust.js';
export { preAuthEncoding } from './dsse.js';
export { BUNDLE_V03_MEDIA_TYPE, type SerializedBundle } from '@sigstore/bundle';
export {
  POLICY_RULE_SCOPES,
  PolicyError,
  evaluatePolicy,
  fileChanges,
  formatViolations,
  isPolicyError,
  parsePolicy,
  type Evidence,
  type FileChangeKind,
  type Policy,
  type PolicyErrorCode,
  type PolicyRule,
  type PolicyRuleScope,
  type Violation,
  type ViolationStep,
} from './policy.js';
export { EGRESS_ALLOW_MAX, EGRESS_RULES_MAX, describeRules, parseEgressEntry, parseEnforcement, ruleSetDigest, type EgressAllow, type EgressRule, type EnforceRule, type Enforcement, type ExecPin, type ExecRule, type StepSelector } from './enforce.js';
export { selectSteps, selects, type DockerfileStep, type SelectedStep } from './enforce-steps.js';
export { pathGlob, pathUnder, policyGlob, replaceBounded } from './policy-cel.js';
export { DEFAULT_POLICY_LIMITS, MAX_REGEX_LENGTH, MAX_REPLACED_LENGTH, type PolicyLimits } from './policy-cost.js';
export {
  diffTraces,
  formatDiff,
  type DiffAddedRemoved,
  type DiffDigestChange,
  type DiffFileWrite,
  type DiffPeer,
  type DiffProcess,
  type FormatDiffOptions,
  type StepDiff,
  type TraceDiff,
} from './diff.js';
