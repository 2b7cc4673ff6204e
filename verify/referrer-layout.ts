// A signed bundle in the registry, laid out the way cosign (v2.4+ / v3, `--new-bundle-format`,
// pkg/oci/remote/write.go WriteAttestationNewBundleFormat + WriteReferrer) stores it, so that
// cosign, oras and other referrers-aware tools find it:
//
//   {
//     "schemaVersion": 2,
//     "mediaType": "application/vnd.oci.image.manifest.v1+json",
//     "config": {                                   the OCI empty descriptor ({} blob)
//       "mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
//       "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
//       "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"   (cosign sets it too)
//     },
//     "layers": [ { "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
//                   "size": N, "digest": "sha256:<bundle JSON>" } ],
//     "annotations": {
//       "dev.sigstore.bundle.content": "dsse-envelope",
//       "dev.sigstore.bundle.predicateType": "<the statement's predicateType>",
//       "org.opencontainers.image.created": "<RFC 3339, seconds>"
//     },
//     "subject": { "mediaType": <image manifest's>, "size": N, "digest": <image manifest's> },
//     "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"
//   }
//
// Key order follows cosign's Go structs (maps sorted), so the bytes look like cosign's.

import type { Descriptor } from '../oci/index.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, MediaType } from '../oci/index.js';
import { BUNDLE_MEDIA_TYPE } from '../model/index.js';

export { BUNDLE_MEDIA_TYPE };
export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export interface BundleReferrerInput {
  subject: Descriptor;
  bundle: Descriptor;
  predicateType: string;
  created: Date;
}

/** The referrer manifest document (key order as cosign writes it). */
export function bundleReferrerManifest(input: BundleReferrerInput): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciEmpty, size: EMPTY_JSON.byteLength, digest: EMPTY_JSON_DIGEST, artifactType: BUNDLE_MEDIA_TYPE },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: input.bundle.size, digest: input.bundle.digest }],
    annotations: {
      [ANNOTATION_BUNDLE_CONTENT]: 'dsse-envelope',
      [ANNOTATION_PREDICATE_TYPE]: input.predicateType,
      [ANNOTATION_CREATED]: input.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
    subject: { mediaType: input.subject.mediaType, size: input.subject.size, digest: input.subject.digest },
    artifactType: BUNDLE_MEDIA_TYPE,
  };
}

/** The bundle layer of a referrer manifest, when it has exactly one. */
export function bundleLayerOf(manifest: Record<string, unknown>): Descriptor | undefined {
  const layers = Array.isArray(manifest.layers) ? (manifest.layers as unknown[]) : [];
  const bundles = layers.filter(
    (l): l is Descriptor =>
      typeof l === 'object' &&
      l !== null &&
      typeof (l as Descriptor).digest === 'string' &&
      typeof (l as Descriptor).mediaType === 'string' &&
      (l as Descriptor).mediaType.startsWith('application/vnd.dev.sigstore.bundle'),
  );
  return bundles.length === 1 ? bundles[0] : undefined;
}
