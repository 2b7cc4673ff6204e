// A reference as the registry client uses it: common/image-reference.ts parses it (the one
// parser, with docker's rules); a failure is a RegistryError of code bad-reference here.
import {
  DOCKER_HUB,
  InvalidReferenceError,
  checkDigest as checkDigestParts,
  familiarImageReference,
  formatImageReference,
  isValidTag,
  parseImageReference,
  parseImageReferenceWithDefaultTag,
} from '../common/index.js';
import { RegistryError } from './errors.js';

export { DOCKER_HUB };
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export class Reference {
  /** Registry host as written (with port), normalized: `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path, with `library/` added for official Hub images. */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  constructor(registry: string, repository: string, tag?: string, digest?: string) {
    this.registry = registry;
    this.repository = repository;
    this.tag = tag;
    this.digest = digest;
  }

  /** `registry/repository`, the key for per-repository state. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** What goes in `/v2/<name>/manifests/<reference>`: the digest if there is one, else the tag. */
  get manifestReference(): string {
    const r = this.digest ?? this.tag;
    if (r === undefined) throw new RegistryError('has neither a tag nor a digest', { code: 'bad-reference', operation: 'reference.parse', reference: this.toString() });
    return r;
  }

  withDigest(digest: string): Reference {
    checkDigest(digest, `${this.name}@${digest}`);
    return new Reference(this.registry, this.repository, undefined, digest);
  }

  withTag(tag: string): Reference {
    if (!isValidTag(tag)) throw new RegistryError(`invalid tag ${JSON.stringify(tag)}`, { code: 'bad-reference', operation: 'reference.parse', reference: `${this.name}:${tag}` });
    return new Reference(this.registry, this.repository, tag, undefined);
  }

  /** Same registry, another repository (for cross-repository mounts). */
  withRepository(repository: string): Reference {
    return parseReference(`${this.registry}/${repository}`);
  }

  toString(): string {
    return formatImageReference(this);
  }

  /** The short form docker prints: `foo:latest` for `docker.io/library/foo:latest`. */
  get familiar(): string {
    return familiarImageReference(this);
  }
}

function badReference(err: InvalidReferenceError): RegistryError {
  return new RegistryError(err.reason, { code: 'bad-reference', operation: 'reference.parse', reference: err.reference, cause: err });
}

/** Runs a parse of common/image-reference.ts, its failure as a RegistryError. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw badReference(err);
    throw err;
  }
}

function checkDigest(digest: string, input: string): void {
  parsed(() => checkDigestParts(digest, input));
}

/** True when a `host[:port]` must be spoken to over plain http by default. */
export function isLocalHost(host: string): boolean {
  const h = hostWithoutPort(host).toLowerCase();
  return h === 'localhost' || h === '127.0.0.1' || h === '[::1]' || h === '::1';
}

export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Parses a reference; a bare name gets neither tag nor digest (see parseReferenceWithDefaultTag). */
export function parseReference(input: string): Reference {
  const p = parsed(() => parseImageReference(input));
  return new Reference(p.registry, p.repository, p.tag, p.digest);
}

/** Parses and gives a bare name the `latest` tag, as `docker pull` does. */
export function parseReferenceWithDefaultTag(input: string): Reference {
  const p = parsed(() => parseImageReferenceWithDefaultTag(input));
  return new Reference(p.registry, p.repository, p.tag, p.digest);
}
