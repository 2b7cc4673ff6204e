// Docker's word expansion ("shell-lex" rules): quotes, the escape character and
// `$VAR` / `${VAR...}` substitutions, either into one word (ProcessWord) or into several
// words split at unquoted whitespace (ProcessWords). Pure: the caller supplies the
// variable lookup, so the same code serves ARG/ENV scopes in the converter and the
// parser's own heredoc detection.

import { ExpansionError } from './errors.js';

/** Returns a variable's value, or `undefined` when it is not set (set-but-empty is `''`). */
export type VariableLookup = (name: string) => string | undefined;

/** The escape character of a Dockerfile (`# escape=`). */
export type EscapeChar = '\\' | '`';

export interface LexOptions {
  escape: string;
  /** Keep quote characters in the output (used to find quoted heredoc delimiters). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X}`) instead of ''. */
  skipUnset?: boolean;
  /** Quotes are ordinary characters (Go shell.Lex SkipProcessQuotes: heredoc bodies). */
  skipProcessQuotes?: boolean;
}

export interface ExpansionDetail {
  value: string;
  /** Variables referenced that were set (in first-use order, no duplicates). */
  used: string[];
  /** Variables referenced that were not set. */
  unset: string[];
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!']);
const RE_DIGIT = /^\p{Nd}$/u;
const RE_NAME_CHAR = /^[\p{L}\p{Nd}_]$/u;
const RE_ONLY_DIGITS = /^\p{Nd}+$/u;

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
}

/** Collects words: raw text never splits, "splittable" text (unquoted literals and
 * unquoted variable values) splits at whitespace; empty words are dropped. */
class WordCollector {
  private readonly words: string[] = [];
  private current = '';

  raw(s: string): void {
    this.current += s;
  }

  splittable(s: string): void {
    for (const ch of s) {
      if (isGoSpace(ch)) {
        if (this.current !== '') {
          this.words.push(this.current);
          this.current = '';
        }
      } else {
        this.current += ch;
      }
    }
  }

  finish(): string[] {
    if (this.current !== '') {
      this.words.push(this.current);
      this.current = '';
    }
    return this.words;
  }
}

interface Segment {
  text: string;
  words: string[];
  /** The stop character that ended the segment, or undefined at end of input. */
  stoppedAt: string | undefined;
}

class Lexer {
  private readonly cps: string[];
  private pos = 0;
  readonly used: string[] = [];
  readonly unset: string[] = [];

  constructor(
    private readonly word: string,
    private readonly lookup: VariableLookup,
    private readonly opts: LexOptions,
  ) {
    this.cps = Array.from(word);
  }

  run(): Segment {
    return this.processUntil(undefined);
  }

  private peek(): string | undefined {
    return this.cps[this.pos];
  }

  private next(): string | undefined {
    return this.cps[this.pos++];
  }

  private fail(code: ConstructorParameters<typeof ExpansionError>[0], message: string): never {
    throw new ExpansionError(code, message, this.word);
  }

  /** Processes until one of `stops` (unquoted, unescaped) or the end of input. */
  private processUntil(stops: string | undefined): Segment {
    const esc = this.opts.escape;
    let text = '';
    const words = new WordCollector();
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (stops !== undefined && stops.includes(ch)) {
        this.next();
        return { text, words: words.finish(), stoppedAt: ch };
      }
      if (ch === '$') {
        const v = this.processDollar();
        text += v;
        words.splittable(v);
        continue;
      }
      if ((ch === "'" || ch === '"') && this.opts.skipProcessQuotes) {
        this.next();
        text += ch;
        words.splittable(ch);
        continue;
      }
      if (ch === "'") {
        const v = this.processSingleQuote();
        text += v;
        words.raw(v);
        continue;
      }
      if (ch === '"') {
        const v = this.processDoubleQuote();
        text += v;
        words.raw(v);
        continue;
      }
      this.next();
      if (ch === esc) {
        if (this.opts.rawEscapes) {
          text += ch;
          words.raw(ch);
        }
        const escaped = this.next();
        // An escape character at the very end is dropped.
        if (escaped === undefined) break;
        text += escaped;
        words.raw(escaped);
        continue;
      }
      text += ch;
      words.splittable(ch);
    }
    if (stops !== undefined) this.fail('missing-brace', "syntax error: missing '}'");
    return { text, words: words.finish(), stoppedAt: undefined };
  }

  private processSingleQuote(): string {
    this.next(); // opening '
    let s = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) {
        this.fail('unterminated-quote', 'unexpected end of statement while looking for matching single-quote');
      }
      if (ch === "'") break;
      s += ch;
    }
    return this.opts.rawQuotes ? `'${s}'` : s;
  }

  private processDoubleQuote(): string {
    const esc = this.opts.escape;
    this.next(); // opening "
    let s = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        this.fail('unterminated-quote', 'unexpected end of statement while looking for matching double-quote');
      }
      if (ch === '"') {
        this.next();
        break;
      }
      if (ch === '$') {
        s += this.processDollar();
        continue;
      }
      this.next();
      if (ch === esc) {
        const nx = this.peek();
        if (nx === undefined) {
          // Dropped; the loop then reports the missing closing quote.
          if (this.opts.rawEscapes) s += ch;
          continue;
        }
        if (nx === '"' || nx === '$' || nx === esc) {
          this.next();
          s += this.opts.rawEscapes ? ch + nx : nx;
          continue;
        }
        // Any other escape stays as written inside double quotes.
        s += ch;
        continue;
      }
      s += ch;
    }
    return this.opts.rawQuotes ? `"${s}"` : s;
  }

  /** A variable name: all digits (positional), one special character, or letters/digits/_ . */
  private processName(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (name === '' && RE_DIGIT.test(ch)) {
        while (this.peek() !== undefined && RE_DIGIT.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.next();
        return ch;
      }
      if (!RE_NAME_CHAR.test(ch)) break;
      name += ch;
      this.next();
    }
    return name;
  }

  private getVar(name: string): string | undefined {
    // Positional and special parameters are never set in a Dockerfile.
    if (RE_ONLY_DIGITS.test(name) || SPECIAL_PARAMS.has(name)) return undefined;
    const v = this.lookup(name);
    const list = v === undefined ? this.unset : this.used;
    if (!list.includes(name)) list.push(name);
    return v;
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = this.getVar(name);
      if (v === undefined && this.opts.skipUnset) return '$' + name;
      return v ?? '';
    }
    this.next(); // {
    const first = this.peek();
    if (first === undefined) this.fail('missing-brace', "syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') {
      this.fail('bad-substitution', 'syntax error: bad substitution');
    }
    const name = this.processName();
    const op = this.next();
    switch (op) {
      case undefined:
        return this.fail('missing-brace', "syntax error: missing '}'");
      case '}': {
        const v = this.getVar(name);
        if (v === undefined && this.opts.skipUnset) return '${' + name + '}';
        return v ?? '';
      }
      case '-':
      case '+':
      case '?':
        return this.applyDefault(name, op, false);
      case ':': {
        const mod = this.next();
        if (mod === '-' || mod === '+' || mod === '?') return this.applyDefault(name, mod, true);
        if (mod === undefined) return this.fail('missing-brace', "syntax error: missing '}'");
        return this.fail('unsupported-modifier', `unsupported modifier (:${mod}) in substitution`);
      }
      case '#':
      case '%': {
        let longest = false;
        if (this.peek() === op) {
          this.next();
          longest = true;
        }
        const pattern = this.processUntil('}').text;
        const value = this.getVar(name) ?? '';
        return op === '#' ? removePrefix(value, pattern, longest) : removeSuffix(value, pattern, longest);
      }
      case '/': {
        let all = false;
        if (this.peek() === '/') {
          this.next();
          all = true;
        }
        const pat = this.processUntil('/}');
        const replacement = pat.stoppedAt === '/' ? this.processUntil('}').text : '';
        const value = this.getVar(name) ?? '';
        return replacePattern(value, pat.text, replacement, all);
      }
      default:
        if (name === '') return this.fail('bad-substitution', 'syntax error: bad substitution');
        return this.fail('unsupported-modifier', `unsupported modifier (${op}) in substitution`);
    }
  }

  /** `${X-w}` `${X+w}` `${X?w}`, and with `:` (colon: empty counts as unset). */
  private applyDefault(name: string, mod: '-' | '+' | '?', colon: boolean): string {
    const word = this.processUntil('}').text;
    const v = this.getVar(name);
    const missing = v === undefined || (colon && v === '');
    switch (mod) {
      case '-':
        return missing ? word : (v as string);
      case '+':
        return missing ? '' : word;
      case '?':
        if (missing) {
          const what = v === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty';
          return this.fail('required-variable', `${name}: ${word !== '' ? word : what}`);
        }
        return v as string;
    }
  }
}

/** Shell pattern (`*`, `?`, `[...]`, `\x`) to an anchored RegExp source. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  const cps = Array.from(pattern);
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i] as string;
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else if (ch === '\\' && i + 1 < cps.length) re += escapeRe(cps[++i] as string);
    else if (ch === '[') {
      const close = cps.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
      } else {
        let body = cps.slice(i + 1, close).join('');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += escapeRe(ch);
  }
  return new RegExp(`^(?:${re})$`, 'u');
}

function escapeRe(ch: string): string {
  return /[\\^$.*+?()[\]{}|]/.test(ch) ? '\\' + ch : ch;
}

function removePrefix(value: string, pattern: string, longest: boolean): string {
  const re = globToRegExp(pattern);
  const cps = Array.from(value);
  const order = [...Array(cps.length + 1).keys()];
  if (longest) order.reverse();
  for (const n of order) {
    if (re.test(cps.slice(0, n).join(''))) return cps.slice(n).join('');
  }
  return value;
}

function removeSuffix(value: string, pattern: string, longest: boolean): string {
  const re = globToRegExp(pattern);
  const cps = Array.from(value);
  const order = [...Array(cps.length + 1).keys()]; // n = length of the removed suffix
  if (longest) order.reverse();
  for (const n of order) {
    if (re.test(cps.slice(cps.length - n).join(''))) return cps.slice(0, cps.length - n).join('');
  }
  return value;
}

function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === '') return value;
  const re = globToRegExp(pattern);
  const cps = Array.from(value);
  let out = '';
  let i = 0;
  while (i < cps.length) {
    let matched = -1;
    for (let end = cps.length; end > i; end--) {
      if (re.test(cps.slice(i, end).join(''))) {
        matched = end;
        break;
      }
    }
    if (matched < 0) {
      out += cps[i];
      i++;
      continue;
    }
    out += replacement;
    i = matched;
    if (!all) return out + cps.slice(i).join('');
  }
  return out;
}

/** Low-level entry point shared with the parser (heredoc detection). */
export function lex(word: string, lookup: VariableLookup, opts: LexOptions): { value: string; words: string[]; used: string[]; unset: string[] } {
  const lexer = new Lexer(word, lookup, opts);
  const seg = lexer.run();
  return { value: seg.text, words: seg.words, used: lexer.used, unset: lexer.unset };
}

/** Docker's ProcessWord: expands variables, removes quotes and processes escapes, giving
 * one string. Throws ExpansionError on an unterminated quote, a missing `}`, a bad or
 * unsupported substitution, or a failed `${X?msg}`. */
export function expandWord(word: string, lookup: VariableLookup, escape: EscapeChar = '\\'): string {
  return lex(word, lookup, { escape }).value;
}

/** Like expandWord, and also reports which variables were referenced (set and unset). */
export function expandWordDetailed(word: string, lookup: VariableLookup, escape: EscapeChar = '\\'): ExpansionDetail {
  const r = lex(word, lookup, { escape });
  return { value: r.value, used: r.used, unset: r.unset };
}

/** Docker's ProcessWords: as expandWord, then split into words at whitespace that was
 * neither quoted nor escaped (whitespace coming from an unquoted variable value splits too). */
export function expandWords(word: string, lookup: VariableLookup, escape: EscapeChar = '\\'): string[] {
  return lex(word, lookup, { escape }).words;
}

/** Quotes removed and escapes processed, variable references left as written (`$X`,
 * `${X}`). For display only: `\$X` and `$X` both come out as `$X`. */
/** Expands a COPY/ADD heredoc body as BuildKit does (`ExpandRaw`): escape `\\`, quotes
 * kept as ordinary characters, `$VAR` substituted. */
export function expandHeredoc(content: string, lookup: VariableLookup): string {
  return lex(content, lookup, { escape: '\\', skipProcessQuotes: true }).value;
}

export function unquoteWord(word: string, escape: EscapeChar = '\\'): string {
  return lex(word, () => undefined, { escape, skipUnset: true }).value;
}
