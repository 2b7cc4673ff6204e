// Secrets never reach a trace, a log line or a statement: every form a command line, a
// path, a build arg or a step's output can carry a --secret value in is replaced by
// `[secret <id>]`, and the step says so.
//
// The forms, and why each exists:
// - the value itself, without its trailing newlines (a file often ends with one or two;
//   `$(cat file)` drops them all), and trimmed of surrounding blanks;
// - each long line of a multi-line value (a key printed line by line);
// - the value's words as consecutive argv entries: an unquoted `$(cat file)` reaches
//   argv one word at a time (`/bin/echo correct horse battery staple`);
// - the start of the value at the end of a truncated argv (the probe keeps the first
//   4 KiB of a command line; the cut can fall inside the secret).
import type { Trace } from '../../model/index.js';

/** Shorter values are not redacted in text: they would hit innocent paths and words.
 * (A build arg *equal* to a secret is redacted whatever its length.) */
export const MIN_REDACTED_LENGTH = 6;
/** Shortest line of a multi-line value that is redacted on its own. */
const MIN_REDACTED_LINE = 8;

interface SecretForms {
  id: string;
  /** Strings that are the secret wherever they occur, longest first. */
  whole: string[];
  /** The value's words, when it has more than one. */
  words?: string[];
  /** Exact values (any length) a build arg may not equal. */
  exact: string[];
}

function formsOf(id: string, value: Uint8Array): SecretForms {
  const text = new TextDecoder().decode(value);
  const stripped = text.replace(/[\r\n]+$/, '');
  const trimmed = text.trim();
  const whole = new Set<string>();
  for (const s of [stripped, trimmed]) if (s.length >= MIN_REDACTED_LENGTH) whole.add(s);
  if (trimmed.includes('\n')) {
    for (const line of trimmed.split(/\r?\n/)) if (line.trim().length >= MIN_REDACTED_LINE) whole.add(line.trim());
  }
  const words = trimmed.split(/\s+/).filter((w) => w !== '');
  return {
    id,
    whole: [...whole].sort((a, b) => b.length - a.length),
    ...(words.length > 1 && trimmed.length >= MIN_REDACTED_LENGTH ? { words } : {}),
    exact: [...new Set([text, stripped, trimmed])].filter((s) => s !== ''),
  };
}

const marker = (id: string): string => `[secret ${id}]`;

/** Length of the longest suffix of `text` that is a prefix of `needle` (prefix function). */
function suffixPrefixOverlap(text: string, needle: string): number {
  const probe = needle.slice(0, text.length);
  const s = `${probe}\u0000${text}`;
  const pi = new Array<number>(s.length).fill(0);
  for (let i = 1; i < s.length; i++) {
    let k = pi[i - 1]!;
    while (k > 0 && s[i] !== s[k]) k = pi[k - 1]!;
    if (s[i] === s[k]) k++;
    pi[i] = k;
  }
  return pi[s.length - 1] ?? 0;
}

/** Redacts the secrets of one build wherever they show up. `hits` collects the ids found. */
export class SecretRedactor {
  private readonly forms: SecretForms[];

  constructor(secrets: Readonly<Record<string, Uint8Array>>) {
    this.forms = Object.entries(secrets).map(([id, value]) => formsOf(id, value));
  }

  get empty(): boolean {
    return this.forms.every((f) => f.whole.length === 0 && f.exact.length === 0);
  }

  /** `text` with every occurrence of a secret replaced. */
  text(text: string, hits?: Set<string>): string {
    let out = text;
    for (const f of this.forms) {
      for (const needle of f.whole) {
        if (!out.includes(needle)) continue;
        out = out.split(needle).join(marker(f.id));
        hits?.add(f.id);
      }
    }
    return out;
  }

  /** Whether `value` equals a secret or carries one (a build arg, say). */
  carries(value: string): boolean {
    if (value === '') return false;
    return this.forms.some((f) => f.exact.includes(value) || f.whole.some((n) => value.includes(n)));
  }

  /** An argv-like list of words: secrets split over several entries, inside one, or cut
   * off at the end of a truncated list are replaced. Entries stay one-to-one. */
  words(list: readonly string[], truncated: boolean, hits?: Set<string>): string[] {
    const out = [...list];
    for (const f of this.forms) if (f.words !== undefined) this.redactWordRuns(out, f, hits);
    for (let i = 0; i < out.length; i++) out[i] = this.text(out[i]!, hits);
    if (truncated) this.redactCutTail(out, hits);
    return out;
  }

  private redactWordRuns(out: string[], f: SecretForms, hits?: Set<string>): void {
    const words = f.words!;
    const n = words.length;
    const first = words[0]!;
    const last = words[n - 1]!;
    for (let i = 0; i + n <= out.length; i++) {
      if (!out[i]!.endsWith(first) || !out[i + n - 1]!.startsWith(last)) continue;
      let middle = true;
      for (let k = 1; k < n - 1 && middle; k++) middle = out[i + k] === words[k];
      if (!middle) continue;
      out[i] = out[i]!.slice(0, out[i]!.length - first.length) + marker(f.id);
      for (let k = 1; k < n - 1; k++) out[i + k] = marker(f.id);
      out[i + n - 1] = marker(f.id) + out[i + n - 1]!.slice(last.length);
      hits?.add(f.id);
      i += n - 1;
    }
  }

  /** The probe cut the list: its last characters may be the start of a secret. */
  private redactCutTail(out: string[], hits?: Set<string>): void {
    if (out.length === 0) return;
    for (const f of this.forms) {
      const candidates = [...f.whole, ...(f.words === undefined ? [] : [f.words.join(' ')])];
      for (const needle of candidates) {
        // an argv entry may be cut inside the secret's words: compare with single spaces
        const joined = out.join(' ');
        const overlap = suffixPrefixOverlap(joined.slice(-Math.max(needle.length, 1)), needle);
        if (overlap < Math.min(MIN_REDACTED_LENGTH, needle.length)) continue;
        let remaining = overlap;
        for (let i = out.length - 1; i >= 0 && remaining > 0; i--) {
          const entry = out[i]!;
          if (entry.length <= remaining) {
            out[i] = marker(f.id);
            remaining -= entry.length + 1; // and the space that joined it
          } else {
            out[i] = entry.slice(0, entry.length - remaining) + marker(f.id);
            remaining = 0;
          }
        }
        hits?.add(f.id);
      }
    }
  }
}

/** A mask for the build's output lines and errors. */
export function secretMask(secrets: Readonly<Record<string, Uint8Array>>): (text: string) => string {
  const redactor = new SecretRedactor(secrets);
  return redactor.empty ? (text) => text : (text) => redactor.text(text);
}

/**
 * Replaces every occurrence of a secret's value in the trace's strings with
 * `[secret <id>]`, and says so in the step (or, outside the steps, in every step). The
 * probe never reads file contents or environments; a secret can only get into a trace
 * through a command line (e.g. `RUN /bin/echo "$(cat /run/secrets/x)"`), a path or the
 * Dockerfile's own text. Returns how many strings were changed.
 */
export function redactSecrets(trace: Trace, secrets: Readonly<Record<string, Uint8Array>>): number {
  const redactor = new SecretRedactor(secrets);
  if (redactor.empty) return 0;
  const scrub = (value: unknown, hits: Set<string>, truncated = false): unknown => {
    if (typeof value === 'string') return redactor.text(value, hits);
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every((x) => typeof x === 'string')) return redactor.words(value as string[], truncated, hits);
      return value.map((x) => scrub(x, hits));
    }
    if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = scrub(o[k], hits, k === 'argv' && o.argvTruncated === true);
      return o;
    }
    return value;
  };
  let total = 0;
  for (const step of trace.buildSteps) {
    const hits = new Set<string>();
    scrub(step, hits);
    if (hits.size > 0) {
      total += hits.size;
      step.warnings.push(`values of secret(s) ${[...hits].sort().join(', ')} appeared in this step's record and were redacted`);
    }
  }
  const rest = new Set<string>();
  for (const key of Object.keys(trace) as (keyof Trace)[]) {
    if (key === 'buildSteps') continue;
    (trace as unknown as Record<string, unknown>)[key] = scrub(trace[key], rest);
  }
  if (rest.size > 0) {
    total += rest.size;
    for (const step of trace.buildSteps) {
      step.warnings.push(`values of secret(s) ${[...rest].sort().join(', ')} appeared outside the steps' records and were redacted`);
    }
  }
  return total;
}
