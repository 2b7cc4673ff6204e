// `-o/--output`, read as `docker buildx build` 0.13 reads it, and turned into the solve's
// exporters and the places their results are written.
//
//   -o DIR                 type=local,dest=DIR (a value that is one field and does not
//                          start with `type=` is a directory, whatever it looks like)
//   -o -                   type=tar,dest=- (the tar on stdout)
//   -o type=T[,K=V]...     T: local (dest=DIR), tar | oci | docker (dest=FILE, `-` or none:
//                          stdout, refused on a terminal), image [name=...][,push=true],
//                          registry (= image,push=true); other types go to the daemon as given
//
// On dockerd (its moby worker) `image`, `registry` and `docker` without dest are the
// image store: the moby exporter, then, with push, dockerd pushes each name (push.ts), as
// buildx does on its docker driver. The names of an image output are its `name=` when no
// `-t` is given (with `-t`, the tags, as buildx).
import { isatty } from 'node:tty';
import { UsageError } from '../errors.js';

export interface OutputSpec {
  type: string;
  attrs: Record<string, string>;
  /** `dest=`: a directory (local), a file or `-` (tar, oci, docker). */
  dest?: string;
}

/** What the outputs add to the request: the outputs, and names and push from an image output. */
export interface ParsedOutputs {
  outputs: OutputSpec[];
  /** Names an image output gave with `name=` (used when there is no -t). */
  names: string[];
  /** An image output asked to push (`push=true`, `type=registry`). */
  push: boolean;
}

/** One `-o` value as buildx splits it: CSV fields `key=value`, `type` apart, `dest` apart. */
export function parseOutput(value: string): OutputSpec {
  const fields = splitCsv(value);
  if (fields.length === 1 && fields[0] === value && !value.startsWith('type=')) {
    return value === '-' ? { type: 'tar', attrs: {}, dest: '-' } : { type: 'local', attrs: {}, dest: value };
  }
  let type = '';
  const attrs: Record<string, string> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new UsageError('bad-flag', `invalid argument "${value}" for "-o, --output" flag: invalid value ${field}`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const v = field.slice(eq + 1);
    if (key === 'type') type = v;
    else attrs[key] = v;
  }
  if (type === '') throw new UsageError('bad-flag', `invalid argument "${value}" for "-o, --output" flag: type is required for output`);
  if (type === 'registry') {
    type = 'image';
    attrs.push ??= 'true';
  }
  const out: OutputSpec = { type, attrs };
  if (attrs.dest !== undefined) {
    out.dest = attrs.dest;
    delete attrs.dest;
  }
  return out;
}

/** A CSV record as Go's encoding/csv reads one line (quotes around a field, "" inside). */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new UsageError('bad-flag', `invalid argument "${line}": unterminated quote`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new UsageError('bad-flag', `invalid argument "${line}": extraneous text after a quoted field`);
    } else {
      const end = line.indexOf(',', i);
      field = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v);
}

/**
 * All `-o` values with `--push` folded in as buildx 0.13 does it: `--push` adds an image
 * output that pushes (or makes the one image output push).
 */
export function parseOutputs(values: readonly string[], flags: { push?: boolean; tags: readonly string[]; iidfile?: string }): ParsedOutputs {
  const outputs = values.map(parseOutput);
  if (flags.push === true) {
    const image = outputs.find((o) => o.type === 'image');
    if (image !== undefined) image.attrs.push = 'true';
    else if (outputs.length > 0) outputs.push({ type: 'image', attrs: { push: 'true' } });
  }
  const names: string[] = [];
  let push = flags.push === true;
  for (const o of outputs) {
    if (o.type === 'local' && (o.dest === undefined || o.dest === '')) throw new UsageError('bad-flag', 'dest is required for local exporter');
    if ((o.type === 'local' || o.type === 'tar') && flags.iidfile !== undefined) {
      throw new UsageError('bad-flag', 'local and tar exporters are incompatible with image ID file');
    }
    if (o.type !== 'image') continue;
    if (flags.tags.length === 0 && o.attrs.name !== undefined && o.attrs.name !== '') names.push(...o.attrs.name.split(',').filter((n) => n !== ''));
    if (truthy(o.attrs.push)) {
      if (flags.tags.length === 0 && names.length === 0) throw new UsageError('bad-flag', 'tag is needed when pushing to registry');
      push = true;
    }
  }
  return { outputs, names, push };
}

/** Whether a file output goes to stdout: `dest=-`, or no dest (refused on a terminal). */
export function writesToStdout(o: OutputSpec, stdoutIsTerminal = isatty(1)): boolean {
  if (o.dest !== undefined && o.dest !== '-' && o.dest !== '') return false;
  if (stdoutIsTerminal) throw new UsageError('bad-flag', `dest file is required for ${o.type} exporter. refusing to write to console`);
  return true;
}

/** The outputs that leave the image in dockerd's store (the moby exporter). */
export function isImageStoreOutput(o: OutputSpec): boolean {
  return o.type === 'image' || o.type === 'moby' || (o.type === 'docker' && o.dest === undefined);
}
