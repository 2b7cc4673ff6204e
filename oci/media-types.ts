/** Media types and the JSON shapes of OCI image-spec / Docker schema 2 documents. */

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerTarGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The manifest media types this client asks for and understands. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
];

export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

/** The empty JSON blob `{}` used as the config of artifacts. */
export const EMPTY_JSON = new Uint8Array([0x7b, 0x7d]);
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Shape check of a descriptor read from the wire; `undefined` when it is not one. */
export function asDescriptor(v: unknown): Descriptor | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || typeof d.digest !== 'string') return undefined;
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) return undefined;
  if (d.artifactType !== undefined && typeof d.artifactType !== 'string') return undefined;
  if (d.annotations !== undefined && !isStringRecord(d.annotations)) return undefined;
  return d as unknown as Descriptor;
}

/** The descriptor fields that belong in a referrers list entry, in a stable order. */
export function referrerDescriptor(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  if (d.annotations !== undefined && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  return out;
}
