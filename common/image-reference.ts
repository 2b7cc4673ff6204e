// Image references: the one parser, with the Docker CLI's rules and messages (docker's
// distribution reference grammar, `ParseNormalizedNamed`), for -t names, FROM, and every
// registry call:
//   reference      := name [ ":" tag ] [ "@" digest ]
//   name           := [domain "/"] path-component ["/" path-component]*
//   domain         := host [":" port]; host := domain-name | "[" IPv6 "]"
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*; separator := [._] | "__" | "-"+
//   tag            := [\w][\w.-]{0,127}
//   digest         := sha256:<64 lowercase hex> | sha512:<128 lowercase hex>
// A first component names a registry when it has a `.` or a `:`, is `localhost`, starts an
// IPv6 address, or has upper-case letters; otherwise the registry is Docker Hub, where
// one-component names live under `library/`.
import { TracebuildError, type ExitKind } from './errors.js';

export const DOCKER_HUB = 'docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const MAX_NAME_LENGTH = 255;

/** Not a reference; `reason` is what is wrong ("invalid reference format: ..."). */
export class InvalidReferenceError extends TracebuildError<'bad-reference'> {
  override readonly name = 'InvalidReferenceError';
  readonly exit: ExitKind = 'input';
  constructor(
    readonly reference: string,
    readonly reason: string,
  ) {
    super('bad-reference', reason);
  }
}

/** The parts of a parsed reference. */
export interface ImageReferenceParts {
  /** Registry host as written (with port), normalized: `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, with `library/` added for official Hub images. */
  repository: string;
  tag?: string;
  digest?: string;
}

function invalid(input: string, why: string): InvalidReferenceError {
  return new InvalidReferenceError(input, `invalid reference format: ${why}`);
}

/** Checks a digest (`sha256:<64 hex>`); the message names `input`. */
export function checkDigest(digest: string, input: string): void {
  const m = DIGEST.exec(digest);
  if (!m) throw invalid(input, `invalid digest ${JSON.stringify(digest)}`);
  const alg = m[1] as string;
  const hex = m[2] as string;
  const want = HEX_LENGTH[alg];
  if (want === undefined) throw invalid(input, `unsupported digest algorithm ${JSON.stringify(alg)}`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) throw invalid(input, `digest ${JSON.stringify(digest)} is not ${want} lowercase hex characters`);
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Parses a reference; a bare name gets neither tag nor digest. Throws InvalidReferenceError. */
export function parseImageReference(input: string): ImageReferenceParts {
  if (typeof input !== 'string' || input === '') throw invalid(String(input), 'empty');
  if (input !== input.trim() || /\s/.test(input)) throw invalid(input, 'reference contains whitespace');
  if (/^[a-f0-9]{64}$/.test(input)) {
    throw new InvalidReferenceError(input, `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }

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
    if (!TAG.test(tag)) throw invalid(input, `invalid tag ${JSON.stringify(tag)}`);
  }

  let registry = DOCKER_HUB;
  let path = rest;
  const firstSlash = rest.indexOf('/');
  if (firstSlash !== -1) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first.toLowerCase() !== first) {
      registry = first;
      path = rest.slice(firstSlash + 1);
      if (!HOST.test(registry)) throw invalid(input, `invalid registry host ${JSON.stringify(registry)}`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (path === '') throw invalid(input, 'missing repository name');
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.toLowerCase() !== path) throw invalid(input, `repository name (${path}) must be lowercase`);
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) throw invalid(input, `invalid repository path component ${JSON.stringify(component)}`);
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw invalid(input, `repository name must not be more than ${MAX_NAME_LENGTH} characters`);
  }
  return { registry, repository: path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** As `docker pull` and `docker build -t` read a name: `latest` when it has neither tag nor digest. */
export function parseImageReferenceWithDefaultTag(input: string): ImageReferenceParts {
  const ref = parseImageReference(input);
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** `registry/repository[:tag][@digest]`. */
export function formatImageReference(ref: ImageReferenceParts): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The short form docker prints: `foo:latest` for `docker.io/library/foo:latest`. */
export function familiarImageReference(ref: ImageReferenceParts): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (ref.registry === DOCKER_HUB) {
    const p = ref.repository;
    name = p.startsWith('library/') && p.split('/').length === 2 ? p.slice('library/'.length) : p;
  }
  return `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
