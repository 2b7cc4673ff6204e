// Go's string functions as Docker's parser applies them: unicode.IsSpace trimming and
// strconv.Quote (for error messages and AST dumps).
import { isGoSpace } from './expand.js';

export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isGoSpace(s[i] as string)) i++;
  return s.slice(i);
}

export function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isGoSpace(s[end - 1] as string)) end--;
  return trimLeftSpace(s.slice(0, end));
}

export function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

/** Go's strconv.Quote, enough for error messages and AST dumps. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}
