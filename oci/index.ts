/**
 * tracebuild's OCI distribution client: references, authentication (anonymous, basic,
 * bearer token, docker config credentials), blobs, manifests, and referrers with the
 * tag-schema fallback. Imports no sibling module.
 */
export { RegistryClient } from './client.js';
export type {
  RegistryClientOptions, RefLike, FetchedManifest, PushedManifest, PushBlobOptions, AttachResult, ArtifactLayer,
  ManifestStore, BlobStore, ReferrerAttacher,
} from './client.js';
export {
  Reference, parseReference, parseReferenceWithDefaultTag, isLocalHost, DOCKER_HUB, DOCKER_HUB_API_HOST,
} from './reference.js';
export { RegistryError, isRegistryError } from './errors.js';
export type { RegistryErrorCode, RegistryOperation } from './errors.js';
export {
  DockerConfigCredentials, StaticCredentials, anonymous, defaultDockerConfigPath, normalizeServerKey,
} from './credentials.js';
export type { Credential, CredentialStore, DockerConfigOptions, HelperRunner } from './credentials.js';
export { parseChallenges } from './auth.js';
export { fetchBearerToken } from './token.js';
export type { BearerToken, BearerTokenRequest } from './token.js';
export type { Challenge } from './auth.js';
export { MediaType, MANIFEST_MEDIA_TYPES, EMPTY_JSON, EMPTY_JSON_DIGEST } from './media-types.js';
export type { Descriptor, ImageManifest, ImageIndex, Platform } from './media-types.js';
export { digestOf, matchesDigest } from './digest.js';
export { referrersTag, mergeReferrer, artifactTypeOf } from './referrers.js';
export type { ReferrerLister, ReferrersCapability } from './referrers.js';
export { DEFAULT_RETRY } from './transport.js';
export type { RetryPolicy, TransportOptions } from './transport.js';
