// `--build-context NAME=VALUE`, read as buildx reads it: NAME in its short image-name form
// (`docker.io/library/alpine:latest` -> `alpine`); VALUE `docker-image://REF`,
// `oci-layout://DIR[:TAG][@DIGEST]` (tag `latest` by default), or a local directory
// (relative to the current directory), served by the session as `local://NAME` with its
// own .dockerignore. The converter then uses the context wherever the Dockerfile names it
// (frontend/convert/named-contexts.ts).
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { familiarImageReference, parseDockerignore, parseImageReferenceWithDefaultTag } from '../../common/index.js';
import type { NamedContext, Platform } from '../contracts.js';
import { nodeDockerignoreFs } from '../dockerignore.js';
import { BuildInputError, UsageError } from '../errors.js';
import { readLayoutImage } from './oci-layout.js';

export interface BuildContexts {
  /** For the converter, by short name. */
  named: Record<string, NamedContext>;
  /** For the session: local directories by source name. */
  localDirs: Record<string, { dir: string; dockerignore: string[] }>;
  /** For the session: OCI layout directories by store id. */
  ociLayouts: Record<string, string>;
}

const REMOTE = /^(?:https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/i;

function bad(value: string, why: string): never {
  throw new UsageError('invalid-build-context', `invalid argument "${value}" for "--build-context" flag: ${why}`);
}

/** NAME as the frontend looks it up. */
function contextName(value: string, name: string): string {
  let short: string;
  try {
    short = familiarImageReference(parseImageReferenceWithDefaultTag(name));
  } catch (err) {
    return bad(value, `invalid context name ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  short = short.endsWith(':latest') ? short.slice(0, -':latest'.length) : short;
  // The frontend never looks these names up (they are the build's own context and the
  // empty image): a context given for them would be silently unused.
  if (short === 'context' || short === 'scratch') bad(value, `the name ${short} is reserved`);
  return short;
}

function localDockerignore(dir: string): string[] {
  const file = join(dir, '.dockerignore');
  if (!nodeDockerignoreFs.isFile(file)) return [];
  try {
    return parseDockerignore(nodeDockerignoreFs.readText(file));
  } catch (err) {
    throw new BuildInputError('build-context-unreadable', `failed to read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** `DIR[:TAG][@DIGEST]` as buildx splits it (the first `:` starts the tag). */
function splitLayoutRef(spec: string): { path: string; tag?: string; digest?: string } {
  const at = spec.indexOf('@');
  const beforeDigest = at < 0 ? spec : spec.slice(0, at);
  const colon = beforeDigest.indexOf(':');
  return {
    path: colon < 0 ? beforeDigest : beforeDigest.slice(0, colon),
    ...(colon < 0 ? {} : { tag: beforeDigest.slice(colon + 1) }),
    ...(at < 0 ? {} : { digest: spec.slice(at + 1) }),
  };
}

function directory(value: string, path: string, cwd: string): string {
  const dir = resolve(cwd, path);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    throw new BuildInputError('build-context-unreadable', `failed to get build context ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (!isDir) throw new BuildInputError('build-context-unreadable', `build context ${value}: ${path} is not a directory`);
  return dir;
}

export function parseBuildContexts(values: readonly string[], cwd: string, platform: Platform): BuildContexts {
  const out: BuildContexts = { named: {}, localDirs: {}, ociLayouts: {} };
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) bad(value, 'expected NAME=VALUE');
    const name = contextName(value, value.slice(0, eq));
    const source = value.slice(eq + 1);
    if (source === '') bad(value, 'empty value');
    if (source.startsWith('docker-image://')) {
      const ref = source.slice('docker-image://'.length);
      try {
        parseImageReferenceWithDefaultTag(ref);
      } catch (err) {
        bad(value, `invalid image reference ${JSON.stringify(ref)}: ${(err as Error).message}`);
      }
      out.named[name] = { type: 'docker-image', ref };
    } else if (source.startsWith('oci-layout://')) {
      const spec = splitLayoutRef(source.slice('oci-layout://'.length));
      const dir = directory(value, spec.path, cwd);
      const image = readLayoutImage(dir, spec, platform, spec.path);
      // One store per layout directory.
      const storeId = createHash('sha256').update(dir).digest('hex').slice(0, 32);
      out.ociLayouts[storeId] = dir;
      out.named[name] = { type: 'oci-layout', storeId, digest: image.digest, config: image.config };
    } else if (REMOTE.test(source) || /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith('target:')) {
      bad(value, 'only local directories, docker-image:// and oci-layout:// contexts are supported');
    } else {
      const dir = directory(value, source, cwd);
      out.localDirs[name] = { dir, dockerignore: localDockerignore(dir) };
      out.named[name] = { type: 'local', name, excludePatterns: out.localDirs[name].dockerignore };
    }
  }
  return out;
}
