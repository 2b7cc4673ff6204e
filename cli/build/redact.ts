// Secrets never reach a trace: every form a command line, a path or the Dockerfile's own text
// can carry a --secret value in is replaced by `[secret <id>]`, and the step says so.
import type { Trace } from '../../model/index.js';

/** Shorter values are not redacted: they would hit innocent paths and words. */
export const MIN_REDACTED_LENGTH = 6;

/** The strings a secret's value can show up as: the value (without a final newline) and,
 * for multi-line values (keys), each long line. */
function secretNeedles(value: Uint8Array): string[] {
  const text = new TextDecoder().decode(value).replace(/\r?\n$/, '');
  const out = new Set<string>();
  if (text.length >= MIN_REDACTED_LENGTH) out.add(text);
  if (text.includes('\n')) {
    for (const line of text.split(/\r?\n/)) if (line.trim().length >= Math.max(8, MIN_REDACTED_LENGTH)) out.add(line.trim());
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of a secret's value in the trace's strings with
 * `[secret <id>]`, and says so in the step (or, outside the steps, in every step). The
 * probe never reads file contents or environments; a secret can only get into a trace
 * through a command line (e.g. `RUN /bin/echo "$(cat /run/secrets/x)"`), a path or the
 * Dockerfile's own text. Returns how many strings were changed.
 */
export function redactSecrets(trace: Trace, secrets: Readonly<Record<string, Uint8Array>>): number {
  const needles = Object.entries(secrets).flatMap(([id, value]) => secretNeedles(value).map((n) => ({ id, n })));
  if (needles.length === 0) return 0;
  const scrub = (value: unknown, hits: Set<string>): unknown => {
    if (typeof value === 'string') {
      let s = value;
      for (const { id, n } of needles) {
        if (s.includes(n)) {
          s = s.split(n).join(`[secret ${id}]`);
          hits.add(id);
        }
      }
      return s;
    }
    if (Array.isArray(value)) return value.map((x) => scrub(x, hits));
    if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = scrub(o[k], hits);
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

