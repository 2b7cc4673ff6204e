// RUN's option values: `--mount` (BuildKit's instructions.parseMount: the CSV form, key
// names and validation messages follow upstream), `--network` and `--security`.
//
// The parser checks the flags themselves (known, not repeated, with a value) and keeps
// their values as written on the RunInstruction. Their values are decoded here, but only
// when the converter dispatches the RUN, for two reasons:
// - a mount's values expand in the stage's ARG/ENV scope at that point, which only the
//   converter has (`expand`); `from` is the exception (never expanded), so the stage table
//   reads it up front with `mountFrom`;
// - tracebuild checks these values only for the stages the target needs, in the order
//   the RUN is dispatched (BuildKit checks network and security modes at parse time).
// Errors are OptionError, without location: the converter locates them.
//
// Whether the daemon can run a decoded option (`size` on tmpfs, `env` on secrets) is the
// converter's question: it knows the daemon's capabilities.
import { OptionError } from './errors.js';

export type NetworkMode = 'default' | 'host' | 'none';
export type SecurityMode = 'sandbox' | 'insecure';

/** `RUN --network=`: default, host or none. */
export function networkMode(value: string): NetworkMode {
  if (value === 'default' || value === 'host' || value === 'none') return value;
  throw new OptionError(`unsupported network mode "${value}" (use default, host or none)`);
}

/** `RUN --security=`: sandbox or insecure. */
export function securityMode(value: string): SecurityMode {
  if (value === 'sandbox' || value === 'insecure') return value;
  throw new OptionError(`unsupported security mode "${value}" (use sandbox or insecure)`);
}

export type MountKind = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type MountSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountKind;
  from?: string;
  source?: string;
  target?: string;
  readonly: boolean;
  /** `id=`: cache id, secret id or ssh id. */
  id?: string;
  sharing?: MountSharing;
  required: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** tmpfs `size=`, in bytes (docker's RAMInBytes: 64m, 1g, 512k, 100). */
  sizeLimit?: number;
  /** secret `env=`: the environment variable the secret is given as. */
  env?: string;
}

const TYPES: readonly MountKind[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly MountSharing[] = ['shared', 'private', 'locked'];

/** Go's encoding/csv reading of one record (comma separated, `"` quoting, `""` escapes). */
export function parseCsvRecord(value: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = value.length;
  if (n === 0) return [''];
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) throw new OptionError('failed to parse csv mounts: extraneous or missing " in quoted-field');
        const ch = value[i] as string;
        if (ch === '"') {
          if (value[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
      if (i < n && value[i] !== ',') throw new OptionError('failed to parse csv mounts: extraneous or missing " in quoted-field');
    } else {
      while (i < n && value[i] !== ',') {
        if (value[i] === '"') throw new OptionError('failed to parse csv mounts: bare " in non-quoted-field');
        field += value[i];
        i++;
      }
    }
    fields.push(field);
    if (i >= n) break;
    i++; // the comma
    if (i >= n) {
      fields.push('');
      break;
    }
  }
  return fields;
}

function parseBool(key: string, v: string): boolean {
  // Go's strconv.ParseBool.
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new OptionError(`invalid value for ${key}: ${v}`);
}

function parseUint(v: string, base: 8 | 10, what: string): number {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  // strconv.ParseUint(s, 8, 32) also accepts a leading 0o? No: only digits of the base.
  if (!re.test(v)) throw new OptionError(`invalid value ${v} for ${what}`);
  const n = parseInt(v, base);
  if (n > 0xffffffff) throw new OptionError(`invalid value ${v} for ${what}`);
  return n;
}

const RAM_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's units.RAMInBytes: a number with an optional binary unit (k, m, g, t, p, with
 * an optional `b` or `ib`, any case). */
export function ramInBytes(key: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(?:i?b)?$/i.exec(v);
  if (!m) throw new OptionError(`invalid value for ${key}: ${v}`);
  return Math.floor(Number(m[1]) * (RAM_UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
}

/**
 * Parses one --mount value. `expand` substitutes variables in each value (Dockerfile 1.x
 * semantics); `from` is never expanded: a `$` in it is an error, as upstream.
 */
export function parseMount(value: string, expand: (word: string) => string = (w) => w): RunMount {
  const fields = parseCsvRecord(value);
  const m: RunMount = { type: 'bind', readonly: false, required: false };
  let roAuto = true;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readonly = true;
          roAuto = false;
          continue;
        case 'readwrite':
        case 'rw':
          m.readonly = false;
          roAuto = false;
          continue;
        case 'required':
          if (m.type === 'secret' || m.type === 'ssh') {
            m.required = true;
            continue;
          }
          throw new OptionError(`unexpected key '${key}' for mount type '${m.type}'`);
        default:
          throw new OptionError(`invalid field '${field}' must be a key=value pair`);
      }
    }
    const raw = field.slice(eq + 1);
    if (key === 'from') {
      const i = raw.indexOf('$');
      if (i !== -1 && i !== raw.length - 1) {
        throw new OptionError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
      m.from = raw;
      continue;
    }
    const v = expand(raw);
    switch (key) {
      case 'type': {
        const t = v.toLowerCase() as MountKind;
        if (!TYPES.includes(t)) throw new OptionError(`unsupported mount type "${v}"`);
        m.type = t;
        break;
      }
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = parseBool(key, v);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !parseBool(key, v);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new OptionError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, v);
        break;
      case 'id':
        m.id = v;
        break;
      case 'sharing': {
        const s = v.toLowerCase() as MountSharing;
        if (!SHARING.includes(s)) throw new OptionError(`unsupported sharing value "${v}"`);
        m.sharing = s;
        break;
      }
      case 'mode':
        m.mode = parseUint(v, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(v, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(v, 10, 'gid');
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new OptionError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.sizeLimit = ramInBytes(key, v);
        break;
      case 'env':
        if (m.type !== 'secret') throw new OptionError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.env = v;
        break;
      default:
        throw new OptionError(`unexpected key '${key}' in '${field}'`);
    }
  }

  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) throw new OptionError(`mode not allowed for "${m.type}" type mounts`);
    if (m.uid !== undefined) throw new OptionError(`uid not allowed for "${m.type}" type mounts`);
    if (m.gid !== undefined) throw new OptionError(`gid not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readonly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== undefined && m.from !== '') throw new OptionError('secret mount should not have a from');
    if (m.sharing) throw new OptionError('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id) throw new OptionError('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw new OptionError("both source and id can't be set");
  }
  if (m.sharing && m.type !== 'cache') throw new OptionError(`invalid cache sharing set for ${m.type} mount`);
  if (m.type === 'ssh' && m.source) throw new OptionError('ssh does not support source');
  return m;
}

/** The stage or image a mount reads from, as the stage table needs it before any
 * variable is known: only `type` and `from` are looked at (values are checked later). */
export function mountFrom(value: string): string | undefined {
  let type = 'bind';
  let from: string | undefined;
  for (const field of parseCsvRecord(value)) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const key = field.slice(0, eq).toLowerCase();
    const v = field.slice(eq + 1);
    if (key === 'type') type = v.toLowerCase();
    else if (key === 'from') {
      const i = v.indexOf('$');
      if (i !== -1 && i !== v.length - 1) throw new OptionError(`'from' doesn't support variable expansion, define alias stage instead`);
      from = v;
    }
  }
  if (type === 'tmpfs' || type === 'secret' || type === 'ssh') return undefined;
  return from || undefined;
}
