// Text helpers for messages.

/** A message on one line: each line trimmed, blank ones dropped, the rest joined by one
 * space. Daemon, registry and library messages sometimes carry newlines and indentation,
 * which would break the one-line errors and log lines we print. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

// Every string in a trace is influenced by what ran in the build (argv, paths, peers), and
// a trace file or a registry answer can be written by anyone: before it reaches a terminal,
// a log or a page, control characters, ANSI escapes and bidi overrides become escapes.
// C0 controls but tab/newline are handled below too; C1 controls; DEL; bidi controls and
// other invisible formatting characters (zero-width, line/paragraph separators, BOM).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `s` with control, bidi and invisible characters as escapes (`\n`, `\x1b`, `\u202e`). */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
