// Go's time.ParseDuration, as Docker applies it to HEALTHCHECK --interval and friends:
// "300ms", "-1.5h", "2h45m", "1m30s"; units ns, us (µs, μs), ms, s, m, h; a bare "0".

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_INT64 = (1n << 63n) - 1n;

export type DurationResult = { ok: true; ns: bigint } | { ok: false; error: string };

/** Nanoseconds, or Go's error text (`time: invalid duration "x"`, `time: missing unit...`). */
export function parseGoDuration(input: string): DurationResult {
  const quoted = JSON.stringify(input);
  const invalid: DurationResult = { ok: false, error: `time: invalid duration ${quoted}` };
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0n };
  if (s === '') return invalid;
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) return invalid;
    const m = /^(\d*)(?:\.(\d*))?/.exec(s) as RegExpExecArray;
    const intPart = m[1] ?? '';
    const fracPart = m[2];
    const hasDot = m[0].includes('.');
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return invalid;
    s = s.slice(m[0].length);
    const unitMatch = /^[^.0-9]*/.exec(s) as RegExpExecArray;
    const unit = unitMatch[0];
    s = s.slice(unit.length);
    if (unit === '') return { ok: false, error: `time: missing unit in duration ${quoted}` };
    const mult = UNITS[unit];
    if (mult === undefined) return { ok: false, error: `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}` };
    const whole = intPart === '' ? 0n : BigInt(intPart);
    let v = whole * mult;
    if (hasDot && fracPart !== undefined && fracPart !== '') {
      v += (BigInt(fracPart) * mult) / 10n ** BigInt(fracPart.length);
    }
    total += v;
    if (total > MAX_INT64 + (neg ? 1n : 0n)) return invalid;
  }
  return { ok: true, ns: neg ? -total : total };
}
