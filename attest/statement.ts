// in-toto Statement v1 types and the helpers shared by the pure statement builders.
// Nothing here does I/O.

import { STATEMENT_TYPE_V1 } from '../model/index.js';
import { AttestationError } from './errors.js';

export {
  IN_TOTO_PAYLOAD_TYPE,
  KNOWN_PREDICATE_TYPES,
  RUNTIME_TRACE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  STATEMENT_TYPE_V1,
} from '../model/index.js';

/** in-toto Statement v0.1, as cosign still writes it (`cosign attest`); read, never written. */
export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';
/** The statement types a verifier accepts: v1 (what tracebuild writes) and v0.1 (cosign's). */
export const STATEMENT_TYPES: readonly string[] = [STATEMENT_TYPE_V1, STATEMENT_TYPE_V01];

/** in-toto DigestSet: algorithm -> lower-case hex. */
export type DigestSet = Record<string, string>;

/** in-toto ResourceDescriptor (at least one of uri, digest, content must be set). */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: DigestSet;
  content?: string;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: Record<string, unknown>;
}

export interface Subject {
  name: string;
  digest: DigestSet;
}

export interface Statement<P = unknown> {
  /** STATEMENT_TYPE_V1 in what tracebuild signs; STATEMENT_TYPE_V01 in cosign's. */
  _type: string;
  subject: Subject[];
  predicateType: string;
  predicate: P;
}

/** The image an attestation is about: its name and its manifest digest. */
export interface ImageRef {
  /** Repository name, e.g. "127.0.0.1:5000/hello" (cosign uses the name without tag). */
  name: string;
  /** Manifest digest, "sha256:<64 hex>". */
  digest: string;
}

const SHA256_DIGEST = /^sha256:([0-9a-f]{64})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** "sha256:<hex>" -> "<hex>"; throws `invalid-argument` on anything else. */
export function sha256Hex(digest: string, what = 'digest'): string {
  const m = SHA256_DIGEST.exec(digest);
  if (m?.[1] !== undefined) return m[1];
  if (SHA256_HEX.test(digest)) return digest;
  throw new AttestationError('invalid-argument', `${what} must be "sha256:" followed by 64 lower-case hex digits, got ${JSON.stringify(digest)}`);
}

export function imageSubject(image: ImageRef): Subject {
  if (typeof image.name !== 'string' || image.name === '') {
    throw new AttestationError('invalid-argument', 'image name must be a non-empty string');
  }
  if (!SHA256_DIGEST.test(image.digest)) {
    throw new AttestationError('invalid-argument', `image digest must be "sha256:<64 hex>", got ${JSON.stringify(image.digest)}`);
  }
  return { name: image.name, digest: { sha256: sha256Hex(image.digest, 'image digest') } };
}

/** A timestamp as RFC 3339 UTC (the form Date#toISOString gives). */
export type Timestamp = Date | string;

export function rfc3339(value: Timestamp, what: string): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new AttestationError('invalid-argument', `${what} is not a valid timestamp: ${String(value)}`);
  }
  return d.toISOString();
}

/** Copy with keys in Array#sort order (stable JSON whatever the caller's order). */
export function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as T;
  return out;
}

/** Deep copy of plain JSON-like data, so statements never alias caller objects. */
export function copyJson<T>(value: T): T {
  return structuredClone(value);
}
