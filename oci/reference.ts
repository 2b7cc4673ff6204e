/**
 * Image references, parsed and normalized the way the Docker CLI does:
 * `[host[:port]/]path[:tag][@algorithm:hex]`, Docker Hub by default, `library/` for
 * single-component Hub names, and a first component that has a `.` or a `:` or is
 * `localhost` naming a registry.
 */
import { RegistryError } from './errors.js';

export const DOCKER_HUB = 'docker.io';
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const MAX_NAME_LENGTH = 255;

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
    if (!TAG.test(tag)) throw new RegistryError(`invalid tag ${JSON.stringify(tag)}`, { code: 'bad-reference', operation: 'reference.parse', reference: `${this.name}:${tag}` });
    return new Reference(this.registry, this.repository, tag, undefined);
  }

  /** Same registry, another repository (for cross-repository mounts). */
  withRepository(repository: string): Reference {
    return parseReference(`${this.registry}/${repository}`);
  }

  toString(): string {
    let s = this.name;
    if (this.tag !== undefined) s += `:${this.tag}`;
    if (this.digest !== undefined) s += `@${this.digest}`;
    return s;
  }
}

function badReference(input: string, why: string): RegistryError {
  return new RegistryError(why, { code: 'bad-reference', operation: 'reference.parse', reference: input });
}

function checkDigest(digest: string, input: string): void {
  const m = DIGEST.exec(digest);
  if (!m) throw badReference(input, `invalid digest ${JSON.stringify(digest)}`);
  const alg = m[1] as string;
  const hex = m[2] as string;
  const want = HEX_LENGTH[alg];
  if (want === undefined) throw badReference(input, `unsupported digest algorithm ${JSON.stringify(alg)}`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) throw badReference(input, `digest ${JSON.stringify(digest)} is not ${want} lowercase hex characters`);
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

/** Parses a reference; a bare name gets neither tag nor digest (see `defaultTag`). */
export function parseReference(input: string): Reference {
  if (typeof input !== 'string' || input === '') throw badReference(String(input), 'empty reference');
  if (input !== input.trim() || /\s/.test(input)) throw badReference(input, 'reference contains whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(digest, input);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw badReference(input, `invalid tag ${JSON.stringify(tag)}`);
  }

  let registry = DOCKER_HUB;
  let path = rest;
  const firstSlash = rest.indexOf('/');
  if (firstSlash !== -1) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      registry = first;
      path = rest.slice(firstSlash + 1);
      if (!HOST.test(registry)) throw badReference(input, `invalid registry host ${JSON.stringify(registry)}`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (path === '') throw badReference(input, 'missing repository name');
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;

  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      const hint = /[A-Z]/.test(component) ? ' (repository names must be lowercase)' : '';
      throw badReference(input, `invalid repository path component ${JSON.stringify(component)}${hint}`);
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) throw badReference(input, `name longer than ${MAX_NAME_LENGTH} characters`);

  return new Reference(registry, path, tag, digest);
}

/** Parses and gives a bare name the `latest` tag, as `docker pull` does. */
export function parseReferenceWithDefaultTag(input: string): Reference {
  const ref = parseReference(input);
  return ref.tag === undefined && ref.digest === undefined ? new Reference(ref.registry, ref.repository, 'latest') : ref;
}

export function isDigest(s: string): boolean {
  const m = DIGEST.exec(s);
  if (!m) return false;
  const want = HEX_LENGTH[m[1] as string];
  return want !== undefined && (m[2] as string).length === want && /^[a-f0-9]+$/.test(m[2] as string);
}
