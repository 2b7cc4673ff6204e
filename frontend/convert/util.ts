// Small pure helpers mirroring the Go behaviour the Dockerfile frontend relies on:
// ordered env lists, reference normalization, Go's %q / %v / Duration formatting,
// port specs, signals and --chown parsing.
import { formatImageReference, parseImageReferenceWithDefaultTag } from '../../common/index.js';
import type { ChownSpec } from '../llb/index.js';
import { goQuote } from '../../dockerfile-parser/index.js';

// Go's strconv.Quote lives with the parser (its AST dumps need it too).
export { goQuote };

// ---------------------------------------------------------------- env

/** An ordered env list as BuildKit's LLB state keeps it: adding a key that exists
 * removes the old entry and appends the new one at the end. */
export class EnvList {
  /** Built on the first lookup: a stage with thousands of ENVs looks each up in O(1). */
  private index: Map<string, string> | undefined;

  private constructor(private readonly entries: readonly (readonly [string, string])[]) {}

  static empty(): EnvList {
    return new EnvList([]);
  }

  addOrReplace(key: string, value: string): EnvList {
    return new EnvList([...this.entries.filter(([k]) => k !== key), [key, value]]);
  }

  get(key: string): string | undefined {
    this.index ??= new Map(this.entries);
    return this.index.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  toArray(): string[] {
    return this.entries.map(([k, v]) => `${k}=${v}`);
  }

  toMap(): Map<string, string> {
    return new Map(this.entries.map(([k, v]) => [k, v] as [string, string]));
  }
}

export function parseKeyValue(env: string): [string, string] {
  const i = env.indexOf('=');
  return i < 0 ? [env, ''] : [env.slice(0, i), env.slice(i + 1)];
}

/** Replaces KEY in a config Env list in place, or appends (config semantics, unlike EnvList). */
export function addEnv(env: string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((e) => parseKeyValue(e)[0] === key);
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

// ---------------------------------------------------------------- references

/** Docker's reference normalization plus "tag name only": `busybox` ->
 * `docker.io/library/busybox:latest`; digests are kept. Undefined if invalid. */
export function normalizeImageRef(ref: string): string | undefined {
  try {
    return formatImageReference(parseImageReferenceWithDefaultTag(ref));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- Go formatting

export function goQuoteList(list: readonly string[]): string {
  return '[' + list.map(goQuote).join(' ') + ']';
}

/** Go's %v of a []string: `[a b]`. */
export function goList(list: readonly string[]): string {
  return '[' + list.join(' ') + ']';
}

/** Go's %q of an int: a quoted rune literal, e.g. 3 -> '\x03', 65 -> 'A'. */
export function goQuoteRune(n: number): string {
  if (n === 39) return "'\\''";
  if (n === 92) return "'\\\\'";
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
  if (named[n]) return `'${named[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n < 0x10000) return `'\\u${n.toString(16).padStart(4, '0')}'`;
  return `'\\U${n.toString(16).padStart(8, '0')}'`;
}

/** Go's time.Duration.String() for a nanosecond count. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    // Sub-second: ns, µs or ms with a fraction.
    let unit: string;
    let div: number;
    if (u < 1e3) {
      unit = 'ns';
      div = 1;
    } else if (u < 1e6) {
      unit = 'µs';
      div = 1e3;
    } else {
      unit = 'ms';
      div = 1e6;
    }
    out = fraction(u, div) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    out = fraction(u, 1e9) + 's';
    if (h > 0) out = `${h}h${m}m` + out;
    else if (m > 0) out = `${m}m` + out;
  }
  return neg ? '-' + out : out;
}

function fraction(v: number, div: number): string {
  const whole = Math.floor(v / div);
  const frac = v - whole * div;
  if (frac === 0) return String(whole);
  const digits = String(div).length - 1;
  const s = String(frac).padStart(digits, '0').replace(/0+$/, '');
  return `${whole}.${s}`;
}

// ---------------------------------------------------------------- ports, signals, users

/** Docker's nat.ParsePortSpecs for EXPOSE: `80` -> `80/tcp`, ranges expanded. Throws on invalid specs. */
export function parsePortSpecs(specs: string[]): string[] {
  const out = new Set<string>();
  for (const raw of specs) {
    // [ip:][hostPort:]containerPort[/proto]; only the container port matters here.
    let rest = raw;
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      rest = end >= 0 ? rest.slice(end + 1).replace(/^:/, '') : rest;
    }
    const parts = rest.split(':');
    const containerPart = parts[parts.length - 1] ?? '';
    const slash = containerPart.split('/');
    let proto = 'tcp';
    let port = containerPart;
    if (containerPart === '' || (slash[0] ?? '') === '') throw new Error(`No port specified: ${raw}<empty>`);
    if (slash.length > 1) {
      port = slash[0] as string;
      if ((slash[1] ?? '') !== '') proto = slash[1] as string;
    }
    proto = proto.toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`Invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (!m) throw new Error(`Invalid containerPort: ${port}`);
    const start = Number(m[1]);
    const end = m[2] !== undefined ? Number(m[2]) : start;
    if (start > 65535 || end > 65535 || end < start) throw new Error(`Invalid containerPort: ${port}`);
    for (let p = start; p <= end; p++) out.add(`${p}/${proto}`);
  }
  return [...out];
}

const SIGNALS: Record<string, number> = {
  ABRT: 6, ALRM: 14, BUS: 7, CHLD: 17, CLD: 17, CONT: 18, FPE: 8, HUP: 1, ILL: 4, INT: 2, IO: 29, IOT: 6,
  KILL: 9, PIPE: 13, POLL: 29, PROF: 27, PWR: 30, QUIT: 3, SEGV: 11, STKFLT: 16, STOP: 19, SYS: 31,
  TERM: 15, TRAP: 5, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, USR1: 10, USR2: 12, VTALRM: 26, WINCH: 28,
  XCPU: 24, XFSZ: 25,
};

/** Docker's signal.ParseSignal: a number or a name with or without SIG (RTMIN+n too). */
export function isValidSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) !== 0;
  const name = s.toUpperCase().replace(/^SIG/, '');
  if (name in SIGNALS) return true;
  const rt = /^RTMIN(?:\+(\d+))?$|^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return Number(rt[1] ?? rt[2] ?? 0) <= 15;
  return false;
}

function parseUid(s: string): number | undefined {
  if (s === 'root') return 0;
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** --chown / USER for file ops, as BuildKit's llb.WithUser: `user[:group]`, each a name or id. */
export function parseChown(spec: string): ChownSpec {
  const i = spec.indexOf(':');
  const user = i < 0 ? spec : spec.slice(0, i);
  const out: ChownSpec = { user: parseUid(user) ?? user };
  if (i >= 0) {
    const group = spec.slice(i + 1);
    out.group = parseUid(group) ?? group;
  }
  return out;
}

export function isAbsPath(p: string): boolean {
  return p.startsWith('/');
}
