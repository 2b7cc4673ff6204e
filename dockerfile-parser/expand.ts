// Docker's word expansion ("shell-lex" rules): quotes, the escape character and
// `$VAR` / `${VAR...}` substitutions, either into one word (ProcessWord) or into several
// words split at unquoted whitespace (ProcessWords). Pure: the caller supplies the
// variable lookup, so the same code serves ARG/ENV scopes in the converter and the
// parser's own heredoc detection.

import { Glob, codePoints, type GlobClassItem, type GlobToken } from '../common/index.js';
import { ExpansionError } from './errors.js';

/** How deep `${a:-${b:-...}}` may nest. Real Dockerfiles nest two or three levels; the
 * limit keeps a hostile one from exhausting the stack. */
export const MAX_EXPANSION_DEPTH = 256;
/** The longest value one expansion may make, in characters: the largest Dockerfile
 * tracebuild reads (an expansion without variables never exceeds its file). */
export const MAX_EXPANDED_LENGTH = 4 << 20;

/**
 * What all the expansions of one conversion may make together, in characters. Without it
 * a Dockerfile of lines that each expand a large value (`ARG B1=${A}x`, `ARG B2=${A}y`...)
 * fills the heap one bounded value at a time.
 */
export class ExpansionBudget {
  private spent = 0;
  constructor(readonly limit = 16 * MAX_EXPANDED_LENGTH) {}

  spend(characters: number, word: string): void {
    this.spent += characters;
    if (this.spent > this.limit) {
      throw new ExpansionError('too-large', `variable expansion made more than ${this.limit} characters in all: refused`, word);
    }
  }
}

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
  /** Charged with every value made (the conversion's, across all its words). */
  budget?: ExpansionBudget;
  /** Split the result into words too (ProcessWords); otherwise `words` is empty. */
  words?: boolean;
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

const GO_SPACES = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const GO_SPACE = new RegExp(`^[${GO_SPACES}]$`, 'u');
const GO_SPACE_RUN = new RegExp(`[${GO_SPACES}]+`, 'u');

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string): boolean {
  return GO_SPACE.test(ch);
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
    // each run of spaces ends the current word; the text between runs starts the next
    const parts = s.split(GO_SPACE_RUN);
    this.current += parts[0]!;
    for (let i = 1; i < parts.length; i++) {
      if (this.current !== '') this.words.push(this.current);
      this.current = parts[i]!;
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

/** For text nobody splits (ProcessWord, and the words inside `${x:-...}`): splitting a
 * large value character by character is most of an expansion's cost. */
const NO_WORDS = {
  raw(): void {},
  splittable(): void {},
  finish: (): string[] => [],
};

interface Segment {
  text: string;
  words: string[];
  /** The stop character that ended the segment, or undefined at end of input. */
  stoppedAt: string | undefined;
}

/** A character class of `chars`, for a RegExp. */
function classOf(chars: string): string {
  return [...new Set(chars)].map((c) => `\\${c}`).join('');
}

class Lexer {
  /** Index into `word` (UTF-16 units; peek and next move by code points). */
  private pos = 0;
  /** Per set of stop characters: where the next character that is not plain text is. */
  private readonly specials = new Map<string, RegExp>();
  private depth = 0;
  readonly used: string[] = [];
  readonly unset: string[] = [];

  constructor(
    private readonly word: string,
    private readonly lookup: VariableLookup,
    private readonly opts: LexOptions,
  ) {}

  run(): Segment {
    return this.processUntil(undefined, this.opts.words === true);
  }

  private peek(): string | undefined {
    const unit = this.word.charCodeAt(this.pos);
    if (Number.isNaN(unit)) return undefined;
    if (unit < 0xd800 || unit > 0xdbff) return this.word[this.pos];
    return String.fromCodePoint(this.word.codePointAt(this.pos)!);
  }

  private next(): string | undefined {
    const ch = this.peek();
    if (ch !== undefined) this.pos += ch.length;
    return ch;
  }

  /** The end of the plain text that starts here: text without `$`, quotes (unless they
   * are plain), the escape character or a stop. Copied as one slice, not character by
   * character: a 4 MiB line is mostly plain text. */
  private plainEnd(stops: string | undefined): number {
    const key = stops ?? '';
    let re = this.specials.get(key);
    if (re === undefined) {
      const quotes = this.opts.skipProcessQuotes ? '' : `'"`;
      re = new RegExp(`[${classOf(`$${quotes}${this.opts.escape}${key}`)}]`, 'g');
      this.specials.set(key, re);
    }
    re.lastIndex = this.pos;
    const m = re.exec(this.word);
    return m === null ? this.word.length : m.index;
  }

  private fail(code: ConstructorParameters<typeof ExpansionError>[0], message: string): never {
    throw new ExpansionError(code, message, this.word);
  }

  /** `text` grown by a substitution: within MAX_EXPANDED_LENGTH. */
  private bounded(text: string): string {
    if (text.length > MAX_EXPANDED_LENGTH) {
      this.fail('too-large', `variable expansion makes a value of more than ${MAX_EXPANDED_LENGTH} characters: refused`);
    }
    return text;
  }

  /** Processes until one of `stops` (unquoted, unescaped) or the end of input. */
  private processUntil(stops: string | undefined, splitWords = false): Segment {
    const esc = this.opts.escape;
    let text = '';
    const words = splitWords ? new WordCollector() : NO_WORDS;
    for (;;) {
      const plain = this.plainEnd(stops);
      if (plain > this.pos) {
        const chunk = this.word.slice(this.pos, plain);
        this.pos = plain;
        text += chunk;
        words.splittable(chunk);
        continue;
      }
      const ch = this.peek();
      if (ch === undefined) break;
      if (stops !== undefined && stops.includes(ch)) {
        this.next();
        return { text, words: words.finish(), stoppedAt: ch };
      }
      if (ch === '$') {
        const v = this.processDollar();
        text = this.bounded(text + v);
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
    const close = this.word.indexOf("'", this.pos);
    if (close < 0) this.fail('unterminated-quote', 'unexpected end of statement while looking for matching single-quote');
    const s = this.word.slice(this.pos, close);
    this.pos = close + 1;
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
        s = this.bounded(s + this.processDollar());
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
    if (++this.depth > MAX_EXPANSION_DEPTH) {
      this.fail('too-deep', `variable substitutions nested more than ${MAX_EXPANSION_DEPTH} deep: refused`);
    }
    try {
      return this.processBraced();
    } finally {
      this.depth--;
    }
  }

  /** After `${`: the name, the operator and its word, up to the closing `}`. */
  private processBraced(): string {
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
        return replacePattern(value, pat.text, replacement, all, (why) => this.fail('too-large', why));
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

const SHELL_STAR = 0x2a;
const SHELL_QUESTION = 0x3f;
const SHELL_ESCAPE = 0x5c;
const SHELL_OPEN = 0x5b;
const SHELL_CLOSE = 0x5d;
const SHELL_NOT = 0x21;
const SHELL_CARET = 0x5e;
const SHELL_DASH = 0x2d;

const shellGlobs = new Map<string, Glob>();

/** A shell pattern (`*`, `?`, `[...]` with `!` or `^` negation and ranges, `\x`) as a glob
 * (common/glob.ts: linear time; the pattern and the value may both be hostile). */
function shellGlob(pattern: string, reversed = false): Glob {
  const key = `${reversed ? 'r' : 'f'}${pattern}`;
  const cached = shellGlobs.get(key);
  if (cached !== undefined) return cached;
  const cps = codePoints(pattern);
  const tokens: GlobToken[] = [];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === SHELL_STAR) tokens.push({ kind: 'star', slash: true });
    else if (c === SHELL_QUESTION) tokens.push({ kind: 'any', slash: true });
    else if (c === SHELL_ESCAPE && i + 1 < cps.length) tokens.push({ kind: 'char', cp: cps[++i]! });
    else if (c === SHELL_OPEN) {
      // `]` right after `[` is a member, so the class closes at the first `]` after that
      const close = cps.indexOf(SHELL_CLOSE, i + 2);
      if (close < 0) {
        tokens.push({ kind: 'char', cp: c });
        continue;
      }
      let body = cps.slice(i + 1, close);
      const negated = body[0] === SHELL_NOT || body[0] === SHELL_CARET;
      if (negated) body = body.slice(1);
      const items: GlobClassItem[] = [];
      for (let j = 0; j < body.length; j++) {
        const from = body[j]!;
        if (body[j + 1] === SHELL_DASH && j + 2 < body.length) {
          items.push({ from, to: body[j + 2]! });
          j += 2;
        } else {
          items.push({ from, to: from });
        }
      }
      tokens.push({ kind: 'class', negated, items, slash: true });
      i = close;
    } else tokens.push({ kind: 'char', cp: c });
  }
  const glob = reversed ? new Glob(tokens).reversed() : new Glob(tokens);
  if (shellGlobs.size > 1000) shellGlobs.clear();
  shellGlobs.set(key, glob);
  return glob;
}

function fromCodePoints(cps: readonly number[], from = 0, to = cps.length): string {
  let out = '';
  for (let i = from; i < to; i++) out += String.fromCodePoint(cps[i]!);
  return out;
}

function removePrefix(value: string, pattern: string, longest: boolean): string {
  const cps = codePoints(value);
  const end = shellGlob(pattern).prefixEnd(cps, 0, longest);
  return end < 0 ? value : fromCodePoints(cps, end);
}

function removeSuffix(value: string, pattern: string, longest: boolean): string {
  const cps = codePoints(value);
  const removed = shellGlob(pattern, true).prefixEnd([...cps].reverse(), 0, longest);
  return removed < 0 ? value : fromCodePoints(cps, 0, cps.length - removed);
}

/** Code points a `${v/pattern/replacement}` may read while matching: a pattern that
 * starts with `*` reads to the end of the value from every position. */
const MAX_PATTERN_WORK = 16 << 20;

function replacePattern(value: string, pattern: string, replacement: string, all: boolean, refuse: (why: string) => never): string {
  if (pattern === '') return value;
  const glob = shellGlob(pattern);
  const cps = codePoints(value);
  const parts: string[] = [];
  let size = 0;
  let work = 0;
  let from = 0;
  let i = 0;
  while (i < cps.length) {
    const end = glob.prefixEnd(cps, i, true);
    work += glob.lastRead;
    if (work > MAX_PATTERN_WORK) refuse(`pattern substitution on a value of ${cps.length} characters is too costly: refused`);
    if (end <= i) {
      i++;
      continue;
    }
    size += i - from + replacement.length;
    if (size > MAX_EXPANDED_LENGTH) refuse(`variable expansion makes a value of more than ${MAX_EXPANDED_LENGTH} characters: refused`);
    parts.push(fromCodePoints(cps, from, i), replacement);
    i = from = end;
    if (!all) break;
  }
  parts.push(fromCodePoints(cps, from));
  return parts.join('');
}

/** Low-level entry point shared with the parser (heredoc detection). */
export function lex(word: string, lookup: VariableLookup, opts: LexOptions): { value: string; words: string[]; used: string[]; unset: string[] } {
  const lexer = new Lexer(word, lookup, opts);
  const seg = lexer.run();
  opts.budget?.spend(seg.text.length, word);
  return { value: seg.text, words: seg.words, used: lexer.used, unset: lexer.unset };
}

/** Docker's ProcessWord: expands variables, removes quotes and processes escapes, giving
 * one string. Throws ExpansionError on an unterminated quote, a missing `}`, a bad or
 * unsupported substitution, or a failed `${X?msg}`. */
export function expandWord(word: string, lookup: VariableLookup, escape: EscapeChar = '\\', budget?: ExpansionBudget): string {
  return lex(word, lookup, budget === undefined ? { escape } : { escape, budget }).value;
}

/** Like expandWord, and also reports which variables were referenced (set and unset). */
export function expandWordDetailed(word: string, lookup: VariableLookup, escape: EscapeChar = '\\', budget?: ExpansionBudget): ExpansionDetail {
  const r = lex(word, lookup, budget === undefined ? { escape } : { escape, budget });
  return { value: r.value, used: r.used, unset: r.unset };
}

/** Docker's ProcessWords: as expandWord, then split into words at whitespace that was
 * neither quoted nor escaped (whitespace coming from an unquoted variable value splits too). */
export function expandWords(word: string, lookup: VariableLookup, escape: EscapeChar = '\\', budget?: ExpansionBudget): string[] {
  return lex(word, lookup, budget === undefined ? { escape, words: true } : { escape, words: true, budget }).words;
}

/** Quotes removed and escapes processed, variable references left as written (`$X`,
 * `${X}`). For display only: `\$X` and `$X` both come out as `$X`. */
/** Expands a COPY/ADD heredoc body as BuildKit does (`ExpandRaw`): escape `\\`, quotes
 * kept as ordinary characters, `$VAR` substituted. */
export function expandHeredoc(content: string, lookup: VariableLookup, budget?: ExpansionBudget): string {
  return lex(content, lookup, { escape: '\\', skipProcessQuotes: true, ...(budget === undefined ? {} : { budget }) }).value;
}

export function unquoteWord(word: string, escape: EscapeChar = '\\'): string {
  return lex(word, () => undefined, { escape, skipUnset: true }).value;
}
