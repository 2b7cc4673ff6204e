// JSON text made in pieces: the same characters as JSON.stringify(value, null, 2), but never
// one string of the whole. A trace of tens of thousands of processes is tens of MB of JSON;
// made at once, that string, the buffer it is written from and the stringifier's own growth
// were most of the CLI's peak memory. Here the containers near the top are walked and
// everything below them is stringified a value at a time, then gathered into pieces of about
// `pieceChars`. Only plain arrays and objects are walked (what the trace model holds); any
// other value is left to JSON.stringify whole, so its meaning does not change.

/** Containers this deep (the value itself is 0) and deeper are stringified whole. */
const WALK_DEPTH = 4;
const INDENT = '  ';

/** JSON.stringify(value, null, 2) in pieces of about `pieceChars` characters (the last may be
 * shorter; nothing for a value JSON.stringify turns into undefined). */
export function* jsonPieces(value: unknown, pieceChars = 1 << 20): Generator<string> {
  let piece = '';
  for (const part of walk(value, '', 0)) {
    piece += part;
    if (piece.length >= pieceChars) {
      yield piece;
      piece = '';
    }
  }
  if (piece.length > 0) yield piece;
}

/** Plain arrays and objects without toJSON: anything else (boxed values, dates) is left to
 * JSON.stringify. */
function walkable(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** What JSON.stringify omits as an object's member (and writes as null in an array). */
function omitted(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

function* walk(value: unknown, indent: string, depth: number): Generator<string> {
  if (depth >= WALK_DEPTH || !walkable(value)) {
    const text = JSON.stringify(value, null, 2) as string | undefined;
    if (text === undefined) return;
    // a nested value's text is its own, each line after the first indented to its depth
    yield indent === '' ? text : text.replace(/\n/g, `\n${indent}`);
    return;
  }
  const inner = indent + INDENT;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield i === 0 ? `\n${inner}` : `,\n${inner}`;
      const item: unknown = value[i];
      if (omitted(item)) yield 'null';
      else yield* walk(item, inner, depth + 1);
    }
    yield `\n${indent}]`;
    return;
  }
  let first = true;
  for (const key of Object.keys(value)) {
    const member: unknown = (value as Record<string, unknown>)[key];
    if (omitted(member)) continue;
    yield `${first ? '{' : ','}\n${inner}${JSON.stringify(key)}: `;
    first = false;
    yield* walk(member, inner, depth + 1);
  }
  yield first ? '{}' : `\n${indent}}`;
}
