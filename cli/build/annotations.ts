// `--annotation [TYPE[,TYPE][PLATFORM]:]KEY=VALUE`, read as `docker buildx build` 0.13 reads
// it, and turned into the image exporters' attributes BuildKit takes:
//
//   KEY=VALUE                         annotation.KEY
//   manifest:KEY=VALUE                annotation-manifest.KEY  (also index, manifest-descriptor,
//   manifest[linux/amd64]:KEY=VALUE   annotation-manifest[linux/amd64].KEY   index-descriptor)
//
// dockerd's own BuildKit worker stores the image with its moby exporter and pushes it with
// the Engine API push: neither carries annotations (its pushed manifest is Docker schema 2,
// which has none). buildx 0.13 on the docker driver accepts them there and drops them without
// a word; tracebuild refuses instead, naming the daemon (exports.ts), so that a CI build
// never believes it annotated an image it did not.
import { UsageError } from '../errors.js';

const TYPES = new Set(['manifest', 'index', 'manifest-descriptor', 'index-descriptor']);

/** One `--annotation` value as exporter attributes. */
export function parseAnnotation(value: string): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError('bad-flag', `invalid annotation "${value}": expected [TYPE:]KEY=VALUE`);
  const left = value.slice(0, eq);
  const v = value.slice(eq + 1);
  // A colon in the part before `=` separates the types; keys such as `org.opencontainers...` hold none.
  const colon = left.indexOf(':');
  if (colon < 0) return { [`annotation.${left}`]: v };
  const key = left.slice(colon + 1);
  const spec = /^([a-z,-]+)(\[[^\]]+\])?$/.exec(left.slice(0, colon));
  if (key === '' || spec === null) throw new UsageError('bad-flag', `invalid annotation "${value}": expected [TYPE[PLATFORM]:]KEY=VALUE`);
  const platform = spec[2] ?? '';
  const out: Record<string, string> = {};
  for (const type of spec[1]!.split(',')) {
    if (!TYPES.has(type)) throw new UsageError('bad-flag', `invalid annotation "${value}": unknown type ${type} (use ${[...TYPES].join(', ')})`);
    out[`annotation-${type}${platform}.${key}`] = v;
  }
  return out;
}

/** Every `--annotation`, as one set of exporter attributes. */
export function parseAnnotations(values: readonly string[]): Record<string, string> {
  return Object.assign({}, ...values.map(parseAnnotation)) as Record<string, string>;
}

/** Whether an exporter attribute is an annotation (`annotation.*`, `annotation-*`). */
export function isAnnotationAttr(key: string): boolean {
  return key.startsWith('annotation.') || key.startsWith('annotation-');
}
