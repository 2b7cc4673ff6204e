// Image references as docker normalizes them (`foo` -> `docker.io/library/foo:latest`),
// written from the distribution reference grammar:
//   reference      := name [ ":" tag ] [ "@" digest ]
//   name           := [domain "/"] path-component ["/" path-component]*
//   domain         := host [":" port]; host := domain-name | "[" IPv6 "]"
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*; separator := [._] | "__" | "-"+
//   tag            := [\w][\w.-]{0,127}
//   digest         := algorithm ":" hex{32,}
// A first component counts as a registry when it has a `.` or `:`, is `localhost`, or has
// upper-case letters; otherwise the registry is docker.io, where one-component names live
// under `library/`.

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|-+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`;
const domain = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const referencePattern = new RegExp(`^((?:${domain}/)?${pathComponent}(?:/${pathComponent})*)(?::(${tag}))?(?:@(${digest}))?$`);
const NAME_MAX = 255;

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

export interface NormalizedReference {
  /** `docker.io` */
  domain: string;
  /** `library/foo` */
  path: string;
  tag?: string;
  digest?: string;
  /** Fully qualified, tag defaulted: `docker.io/library/foo:latest`. */
  normalized: string;
  /** The short form docker prints: `foo:latest`. */
  familiar: string;
}

export class InvalidReferenceError extends Error {
  override readonly name = 'InvalidReference';
}

function splitDomain(ref: string): { domain: string; remainder: string } {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  let d: string;
  let remainder: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    d = DEFAULT_DOMAIN;
    remainder = ref;
  } else {
    d = first;
    remainder = ref.slice(slash + 1);
  }
  if (d === 'index.docker.io') d = DEFAULT_DOMAIN;
  if (d === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { domain: d, remainder };
}

/** Normalizes like docker's `-t`: registry and `latest` filled in. Throws InvalidReferenceError. */
export function normalizeReference(ref: string): NormalizedReference {
  if (ref === '') throw new InvalidReferenceError('invalid reference format: empty');
  if (/^[a-f0-9]{64}$/.test(ref)) {
    throw new InvalidReferenceError(`invalid repository name (${ref}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain: d, remainder } = splitDomain(ref);
  const colon = remainder.search(/[:@]/);
  const repo = colon === -1 ? remainder : remainder.slice(0, colon);
  if (repo.toLowerCase() !== repo) {
    throw new InvalidReferenceError(`invalid reference format: repository name (${repo}) must be lowercase`);
  }
  const m = referencePattern.exec(`${d}/${remainder}`);
  if (m === null) throw new InvalidReferenceError('invalid reference format');
  const name = m[1] ?? '';
  if (name.length > NAME_MAX) {
    throw new InvalidReferenceError(`invalid reference format: repository name must not be more than ${NAME_MAX} characters`);
  }
  const path = name.slice(d.length + 1);
  const t = m[2] ?? (m[3] === undefined ? DEFAULT_TAG : undefined);
  const dg = m[3];
  const suffix = `${t === undefined ? '' : `:${t}`}${dg === undefined ? '' : `@${dg}`}`;
  let short = name;
  if (d === DEFAULT_DOMAIN) {
    short = path.startsWith('library/') && path.split('/').length === 2 ? path.slice('library/'.length) : path;
  }
  return {
    domain: d,
    path,
    ...(t === undefined ? {} : { tag: t }),
    ...(dg === undefined ? {} : { digest: dg }),
    normalized: `${name}${suffix}`,
    familiar: `${short}${suffix}`,
  };
}

/** A `-t` value: a valid reference without a digest (a digest cannot be a new name). */
export function normalizeTag(ref: string): NormalizedReference {
  const n = normalizeReference(ref);
  if (n.digest !== undefined) throw new InvalidReferenceError('invalid reference format: a tag cannot contain a digest');
  return n;
}
