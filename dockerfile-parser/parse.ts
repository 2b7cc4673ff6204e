// Dockerfile text -> typed stages and instructions.
//
// Two passes, in the order Docker applies its rules:
//  1. lines -> nodes: parser directives, comments, line continuations, heredoc bodies,
//     the keyword, `--flags`, and each instruction's arguments split the way Docker's
//     parser splits them (JSON array or not, key=value words, whitespace lists). The
//     result is comparable with BuildKit's own AST dump (see `dumpNode`).
//  2. nodes -> typed instructions: argument counts, known flags, HEALTHCHECK durations,
//     FROM/stage names, ONBUILD triggers, and the split into stages.
//
// Line splitting, comments and continuations follow Docker's parser exactly rather than
// dockerfile-ast's, which differs on a few inputs Docker has tests for (e.g. a line ending
// in an escaped escape character, `ENV C trailing\\backslash\\`, is not a continuation).

import { DockerfileError, ExpansionError, type DockerfileErrorCode } from './errors.js';
import { lex, isGoSpace } from './expand.js';
import { parseGoDuration } from './duration.js';
import { KEYWORDS } from './types.js';
import type {
  ArgInstruction,
  CommandForm,
  DockerfileAst,
  FromInstruction,
  HealthcheckInstruction,
  Heredoc,
  Instruction,
  InstructionFlag,
  KeyValue,
  ParserDirectives,
  SourceRange,
  Stage,
} from './types.js';

/** One instruction as Docker's parser sees it, before instruction-level checks. */
export interface RawNode {
  /** The keyword as written (`run`, `RUN`...). */
  keyword: string;
  /** Raw flag words as given, e.g. `--from=build`, quotes already removed. */
  flags: string[];
  /** Arguments; for ENV/LABEL alternating key, value. */
  args: string[];
  /** For ENV/LABEL: per pair, `=` or `''` (legacy `ENV K V` form). */
  kvDelims?: string[];
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  /** The instruction line with continuations joined. */
  original: string;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
  /** ONBUILD's trigger instruction. */
  sub?: RawNode;
  /** The instruction ended with a line continuation at the end of the file. */
  continuedAtEof: boolean;
}

export interface RawParseResult {
  directives: ParserDirectives;
  nodes: RawNode[];
  /** Number of lines in the file. */
  lineCount: number;
}

const KNOWN_INSTRUCTIONS = new Set<string>(KEYWORDS.map((k) => k.toLowerCase()));
const RE_WHITESPACE = /[\t\v\f\r ]+/;
const RE_DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const RE_HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const VALID_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

class ParseFailure extends Error {
  constructor(
    readonly code: DockerfileErrorCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function fail(code: DockerfileErrorCode, detail: string): never {
  throw new ParseFailure(code, detail);
}

// ---------------------------------------------------------------------------------------
// Small string helpers with Go semantics.

function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isGoSpace(s[i] as string)) i++;
  return s.slice(i);
}

function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isGoSpace(s[end - 1] as string)) end--;
  return trimLeftSpace(s.slice(0, end));
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function isCommentLine(s: string): boolean {
  return trimLeftSpace(trimNewline(s)).startsWith('#');
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

// ---------------------------------------------------------------------------------------
// Pass 1: lines -> nodes.

class DirectiveState {
  escape: '\\' | '`' = '\\';
  syntax: string | undefined;
  syntaxLine: number | undefined;
  private done = false;
  private readonly seen = new Set<string>();

  /** Looks at one line (newline trimmed; left-trimmed for an instruction's first line). */
  check(line: string, lineNo = 0): void {
    if (this.done) return;
    const m = RE_DIRECTIVE.exec(line);
    if (!m) {
      this.done = true;
      return;
    }
    const key = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (!VALID_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    if (this.seen.has(key)) fail('invalid-directive', `only one ${key} parser directive can be used`);
    this.seen.add(key);
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') fail('invalid-directive', `invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
    } else if (key === 'syntax') {
      this.syntax = value;
      this.syntaxLine = lineNo;
    }
  }

  /** Removes a trailing continuation (escape char, then only blanks); false at end of line. */
  trimContinuation(line: string): { line: string; continues: boolean } {
    const e = this.escape;
    const stripped = line.replace(/[ \t]*$/, '');
    if (stripped.endsWith(e)) {
      const before = stripped.slice(0, -1);
      if (before === '' || !before.endsWith(e)) return { line: before, continues: true };
    }
    return { line, continues: false };
  }
}

/** Splits after each "\n", keeping line endings (Docker's scanner). */
function splitLines(text: string): string[] {
  if (text === '') return [];
  return text.split(/(?<=\n)/);
}

/** Docker's `--flag` extraction: leading words starting with `--`, quotes removed,
 * backslash escapes processed; a bare `--` ends the flags. */
function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  const n = line.length;
  for (;;) {
    while (pos < n && isGoSpace(line[pos] as string)) pos++;
    if (pos >= n) return { rest: '', flags };
    if (!(line[pos] === '-' && line[pos + 1] === '-')) return { rest: line.slice(pos), flags };
    let word = '';
    let quoted = false;
    let quote: string | undefined;
    while (pos < n) {
      const ch = line[pos] as string;
      if (quote === undefined) {
        if (isGoSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          quoted = true;
          pos++;
          continue;
        }
      } else if (ch === quote) {
        quote = undefined;
        pos++;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === n) {
          pos++;
          continue;
        }
        pos++;
        word += line[pos];
        pos++;
        continue;
      }
      word += ch;
      pos++;
    }
    if (pos >= n) {
      if (word !== '--' && (quoted || word !== '')) flags.push(word);
      return { rest: '', flags };
    }
    if (word === '--') return { rest: line.slice(pos), flags };
    if (quoted || word !== '') flags.push(word);
  }
}

/** Docker's parseWords: whitespace-separated words, quotes and escapes kept as written. */
function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const cps = Array.from(rest);
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  let blankOK = false;
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i] as string;
    if (!inWord) {
      if (isGoSpace(ch)) continue;
      inWord = true;
    }
    if (quote === undefined) {
      if (isGoSpace(ch)) {
        if (blankOK || word !== '') words.push(word);
        word = '';
        blankOK = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      }
      if (ch === escape) {
        if (i + 1 === cps.length) continue;
        word += ch + cps[++i];
        continue;
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = undefined;
    if (ch === escape && quote !== "'") {
      if (i + 1 === cps.length) {
        quote = undefined;
        continue;
      }
      word += ch + cps[++i];
      continue;
    }
    word += ch;
  }
  if (inWord && (blankOK || word !== '')) words.push(word);
  return words;
}

/** The end index (exclusive) of the JSON value starting at `s[0]` ('['), or -1. */
function jsonValueEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Docker decodes the first JSON value of the arguments (trailing text is ignored): a
 * string array is the exec form; any other valid JSON array is an error; anything that
 * is not valid JSON falls back to the shell form (undefined). */
function tryJsonArray(rest: string): string[] | undefined {
  const s = trimLeftSpace(rest);
  if (!s.startsWith('[')) return undefined;
  const end = jsonValueEnd(s);
  if (end < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(s.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) fail('invalid-json', NOT_STRING_ARRAY);
  return value as string[];
}

interface Dispatched {
  args: string[];
  json: boolean;
  kvDelims?: string[];
  sub?: RawNode;
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(RE_WHITESPACE);
}

function maybeJson(rest: string): Dispatched {
  if (rest === '') return { args: [], json: false };
  const arr = tryJsonArray(rest);
  return arr ? { args: arr, json: true } : { args: [rest], json: false };
}

function maybeJsonToList(rest: string): Dispatched {
  const arr = tryJsonArray(rest);
  return arr ? { args: arr, json: true } : { args: splitWhitespace(rest), json: false };
}

function nameVal(rest: string, keyword: string, escape: string): Dispatched {
  const words = parseWords(rest, escape);
  if (words.length === 0) return { args: [], json: false, kvDelims: [] };
  if (!(words[0] as string).includes('=')) {
    const m = RE_WHITESPACE.exec(rest);
    if (!m) fail('missing-arguments', `${keyword} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length)], json: false, kvDelims: [''] };
  }
  const args: string[] = [];
  const kvDelims: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) fail('missing-arguments', `Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    args.push(w.slice(0, eq), w.slice(eq + 1));
    kvDelims.push('=');
  }
  return { args, json: false, kvDelims };
}

function healthConfig(rest: string): Dispatched {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest[sep] as string)) sep++;
  let next = sep;
  while (next < rest.length && isGoSpace(rest[next] as string)) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

function newNode(line: string, escape: string, startLine: number): RawNode {
  const trimmed = trimSpace(line);
  const m = RE_WHITESPACE.exec(trimmed);
  const keyword = m ? trimmed.slice(0, m.index) : trimmed;
  let rest = '';
  let flags: string[] = [];
  if (m) ({ rest, flags } = extractFlags(trimmed.slice(m.index + m[0].length)));
  rest = trimSpace(rest);
  let d: Dispatched;
  switch (keyword.toLowerCase()) {
    case 'add':
    case 'copy':
    case 'volume':
      d = maybeJsonToList(rest);
      break;
    case 'run':
    case 'cmd':
    case 'entrypoint':
    case 'shell':
      d = maybeJson(rest);
      break;
    case 'arg':
      d = { args: parseWords(rest, escape), json: false };
      break;
    case 'env':
    case 'label':
      d = nameVal(rest, keyword.toUpperCase(), escape);
      break;
    case 'expose':
    case 'from':
      d = { args: splitWhitespace(rest), json: false };
      break;
    case 'healthcheck':
      d = healthConfig(rest);
      break;
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      d = { args: rest === '' ? [] : [rest], json: false };
      break;
    case 'onbuild':
      d = rest === '' ? { args: [], json: false } : { args: [], json: false, sub: newNode(rest, escape, startLine) };
      break;
    default:
      d = { args: [], json: false };
  }
  const node: RawNode = {
    keyword,
    flags,
    args: d.args,
    json: d.json,
    original: line,
    startLine,
    endLine: startLine,
    heredocs: [],
    continuedAtEof: false,
  };
  if (d.kvDelims) node.kvDelims = d.kvDelims;
  if (d.sub) node.sub = d.sub;
  return node;
}

interface HeredocMarker {
  name: string;
  expand: boolean;
  chomp: boolean;
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`: the heredoc a word opens, if any. */
export function parseHeredocMarker(word: string): HeredocMarker | undefined {
  const m = RE_HEREDOC.exec(word);
  if (!m || !m[3]) return undefined;
  const rest = m[3];
  try {
    const plain = lex(rest, () => undefined, { escape: '\\', skipUnset: true }).words;
    if (plain.length !== 1) return undefined;
    const raw = lex(rest, () => undefined, { escape: '\\', skipUnset: true, rawQuotes: true }).words;
    const quotes = (s: string | undefined) => (s ?? '').split('').filter((c) => c === '"' || c === "'").length;
    return { name: plain[0] as string, expand: quotes(plain[0]) === quotes(raw[0]), chomp: m[2] === '-' };
  } catch (e) {
    if (e instanceof ExpansionError) return undefined;
    throw e;
  }
}

function heredocMarkersInLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = lex(line, () => undefined, { escape: '\\', rawQuotes: true, rawEscapes: true, skipUnset: true }).words;
  } catch (e) {
    if (e instanceof ExpansionError) return [];
    throw e;
  }
  const out: HeredocMarker[] = [];
  for (const w of words) {
    const h = parseHeredocMarker(w);
    if (h) out.push(h);
  }
  return out;
}

const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

function canContainHeredoc(node: RawNode): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.sub ? node.sub : node;
  return HEREDOC_INSTRUCTIONS.has(target.keyword.toLowerCase()) && !target.json;
}

function chompContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** Pass 1 alone: Docker's parser view of the file (exported for tests and tools). */
export function parseNodes(text: string, fileName: string): RawParseResult {
  const lines = splitLines(text);
  const d = new DirectiveState();
  const nodes: RawNode[] = [];
  let i = 0;
  let lineNo = 0;
  const located = (e: unknown, line: number): never => {
    if (e instanceof ParseFailure) {
      throw new DockerfileError({ code: e.code, file: fileName, line: Math.max(1, line), detail: e.detail });
    }
    throw e;
  };

  while (i < lines.length) {
    let raw = lines[i++] as string;
    if (i === 1 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    const first = trimLeftSpace(trimNewline(raw));
    try {
      d.check(first, lineNo + 1);
    } catch (e) {
      located(e, lineNo + 1);
    }
    lineNo++;
    const startLine = lineNo;
    const processed = first.startsWith('#') ? '' : first;
    let { line, continues } = d.trimContinuation(processed);
    if (!continues && line === '') continue;

    while (continues && i < lines.length) {
      const next = trimNewline(lines[i++] as string);
      try {
        d.check(next, lineNo + 1);
      } catch (e) {
        located(e, lineNo + 1);
      }
      lineNo++;
      if (isCommentLine(next)) continue;
      if (trimLeftSpace(next) === '') continue; // empty continuation line (Docker warns)
      const t = d.trimContinuation(next);
      line += t.line;
      continues = t.continues;
    }

    let node: RawNode;
    try {
      node = newNode(line, d.escape, startLine);
    } catch (e) {
      return located(e, startLine);
    }
    node.continuedAtEof = continues;

    if (canContainHeredoc(node)) {
      for (const marker of heredocMarkersInLine(line)) {
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const body = lines[i++] as string;
          lineNo++;
          let candidate = trimNewline(body);
          if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === marker.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) {
          throw new DockerfileError({
            code: 'unterminated-heredoc',
            file: fileName,
            line: startLine,
            detail: `unterminated heredoc ${marker.name}`,
          });
        }
        node.heredocs.push({
          name: marker.name,
          content: marker.chomp ? chompContent(content) : content,
          expand: marker.expand,
          chomp: marker.chomp,
        });
      }
    }
    node.endLine = lineNo;
    nodes.push(node);
  }

  const directives: ParserDirectives = { escape: d.escape };
  if (d.syntax !== undefined) directives.syntax = d.syntax;
  if (d.syntaxLine !== undefined) directives.syntaxLine = d.syntaxLine;
  return { directives, nodes, lineCount: lineNo };
}

/** BuildKit's AST dump of one node, e.g. `(copy ["--from=a"] "x" "/y")`. */
export function dumpNode(node: RawNode): string {
  return `(${dumpInner(node)})`;
}

function dumpInner(node: RawNode): string {
  let s = node.keyword.toLowerCase();
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.sub) return `${s} (${dumpInner(node.sub)})`;
  if (node.kvDelims) {
    for (let j = 0; j < node.kvDelims.length; j++) {
      s += ` ${goQuote(node.args[2 * j] as string)} ${goQuote(node.args[2 * j + 1] as string)} ${goQuote(node.kvDelims[j] as string)}`;
    }
    return s;
  }
  for (const a of node.args) s += ` ${goQuote(a)}`;
  return s;
}

// ---------------------------------------------------------------------------------------
// Pass 2: nodes -> typed instructions.

type FlagKind = 'string' | 'bool' | 'array';

const FLAG_SPECS: Record<string, Record<string, FlagKind>> = {
  from: { platform: 'string' },
  run: { mount: 'array', network: 'string', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'array' },
  add: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    unpack: 'bool',
    exclude: 'array',
  },
  healthcheck: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

function parseFlags(node: RawNode, range: SourceRange): InstructionFlag[] {
  const spec = FLAG_SPECS[node.keyword.toLowerCase()] ?? {};
  const seen = new Set<string>();
  const out: InstructionFlag[] = [];
  for (const word of node.flags) {
    if (!word.startsWith('--')) fail('invalid-flag', `Arg ${goQuote(word)} must start with "--"`);
    let name = word.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (kind === undefined) fail('invalid-flag', `unknown flag: ${name}`);
    if (kind !== 'array' && seen.has(name)) fail('invalid-flag', `duplicate flag specified: ${name}`);
    seen.add(name);
    if (kind === 'bool') {
      if (value !== undefined && !['', 'true', 'false'].includes(value.toLowerCase())) {
        fail('invalid-flag', `expecting boolean value for flag ${name}, not: ${value}`);
      }
    } else if (value === undefined) {
      fail('invalid-flag', `missing a value on flag: ${name}`);
    }
    out.push({ name, value: value ?? true, range: { ...range } });
  }
  return out;
}

function flagValue(flags: InstructionFlag[], name: string): string | undefined {
  const f = flags.find((x) => x.name === name);
  return f === undefined || f.value === true ? undefined : f.value;
}

function commandForm(node: RawNode): CommandForm {
  return node.json ? { form: 'exec', args: [...node.args] } : { form: 'shell', command: node.args[0] ?? '' };
}

/** Rejects an unterminated quote in a word that the converter will expand later. */
function checkQuotes(word: string, escape: string): void {
  try {
    lex(word, () => undefined, { escape, skipUnset: true });
  } catch (e) {
    if (e instanceof ExpansionError && e.code === 'unterminated-quote') fail('unterminated-quote', e.message);
  }
}

const RE_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const MIN_INTERVAL_NS = 1_000_000n;

function parseInterval(flags: InstructionFlag[], name: string): number | undefined {
  const v = flagValue(flags, name);
  if (v === undefined || v === '') return undefined;
  const r = parseGoDuration(v);
  if (!r.ok) fail('invalid-duration', r.error);
  if (r.ns !== 0n && r.ns < MIN_INTERVAL_NS) fail('invalid-duration', `Interval ${goQuote(name)} cannot be less than 1ms`);
  return Number(r.ns);
}

function toHealthcheck(node: RawNode, base: Omit<HealthcheckInstruction, 'keyword' | 'check'>): HealthcheckInstruction {
  if (node.args.length === 0) fail('missing-arguments', 'HEALTHCHECK requires at least one argument');
  const typ = (node.args[0] as string).toUpperCase();
  const rest = node.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) fail('too-many-arguments', 'HEALTHCHECK NONE takes no arguments');
    return { ...base, keyword: 'HEALTHCHECK', check: { kind: 'none' } };
  }
  if (typ !== 'CMD') fail('invalid-instruction', `Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  if (rest.length === 0 || (!node.json && rest[0] === '')) fail('missing-arguments', 'Missing command after HEALTHCHECK CMD');
  const command: CommandForm = node.json ? { form: 'exec', args: rest } : { form: 'shell', command: rest[0] as string };
  const check: HealthcheckInstruction['check'] & { kind: 'cmd' } = { kind: 'cmd', command };
  const interval = parseInterval(base.flags, 'interval');
  const timeout = parseInterval(base.flags, 'timeout');
  const startPeriod = parseInterval(base.flags, 'start-period');
  const startInterval = parseInterval(base.flags, 'start-interval');
  if (interval !== undefined) check.intervalNs = interval;
  if (timeout !== undefined) check.timeoutNs = timeout;
  if (startPeriod !== undefined) check.startPeriodNs = startPeriod;
  if (startInterval !== undefined) check.startIntervalNs = startInterval;
  const retries = flagValue(base.flags, 'retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) fail('invalid-flag', `invalid value for --retries: ${goQuote(retries)}`);
    const n = Number(retries);
    if (n > 2147483647 || n < -2147483648) fail('invalid-flag', `--retries value out of range: ${goQuote(retries)}`);
    if (n < 0) fail('invalid-flag', `--retries cannot be negative (${n})`);
    check.retries = n;
  }
  return { ...base, keyword: 'HEALTHCHECK', check };
}

function toInstruction(node: RawNode, escape: string, opts: ParseOptions): Instruction {
  const lower = node.keyword.toLowerCase();
  if (!KNOWN_INSTRUCTIONS.has(lower)) fail('unknown-instruction', `unknown instruction: ${node.keyword}`);
  const keyword = lower.toUpperCase();
  const range: SourceRange = { startLine: node.startLine, endLine: node.endLine };
  if (node.continuedAtEof && node.args.length === 0 && !node.sub) {
    fail('unterminated-continuation', `${keyword} ends with a line continuation at the end of the file and has no arguments`);
  }
  const flags = parseFlags(node, range);
  const base = { text: trimSpace(node.original), range, flags };
  const args = node.args;
  const exactlyOne = (): string => {
    if (args.length !== 1) fail(args.length === 0 ? 'missing-arguments' : 'too-many-arguments', `${keyword} requires exactly one argument`);
    return args[0] as string;
  };

  switch (lower) {
    case 'from': {
      let stageName: string | undefined;
      if (args.length === 3 && (args[1] as string).toLowerCase() === 'as') {
        stageName = (args[2] as string).toLowerCase();
        if (!RE_STAGE_NAME.test(stageName)) {
          fail('invalid-stage-name', `invalid name for build stage: ${goQuote(args[2] as string)}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        fail(args.length === 0 ? 'missing-arguments' : 'too-many-arguments', 'FROM requires either one or three arguments');
      }
      const from: FromInstruction = { ...base, keyword: 'FROM', image: args[0] as string };
      if (stageName !== undefined) from.stageName = stageName;
      const platform = flagValue(flags, 'platform');
      if (platform !== undefined) from.platform = platform;
      return from;
    }
    case 'run':
      return { ...base, keyword: 'RUN', command: commandForm(node), heredocs: node.heredocs };
    case 'cmd':
      return { ...base, keyword: 'CMD', command: commandForm(node) };
    case 'entrypoint':
      return { ...base, keyword: 'ENTRYPOINT', command: commandForm(node) };
    case 'shell':
      if (args.length === 0) fail('missing-arguments', 'SHELL requires at least one argument');
      if (!node.json) fail('invalid-json', 'SHELL requires the arguments to be in JSON form');
      return { ...base, keyword: 'SHELL', args: [...args] };
    case 'copy':
    case 'add': {
      if (args.length < 2) {
        fail('missing-arguments', `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
      }
      const destination = args[args.length - 1] as string;
      if (!node.json && parseHeredocMarker(destination)) fail('invalid-instruction', `${keyword} cannot accept a heredoc as a destination`);
      const sources: string[] = [];
      const heredocs: Heredoc[] = [];
      for (const src of args.slice(0, -1)) {
        const marker = node.json ? undefined : parseHeredocMarker(src);
        const doc = marker && node.heredocs.find((h) => h.name === marker.name);
        if (doc) heredocs.push(doc);
        else sources.push(src);
      }
      return { ...base, keyword: keyword as 'COPY' | 'ADD', sources, destination, heredocs };
    }
    case 'env':
    case 'label': {
      if (args.length === 0) fail('missing-arguments', `${keyword} requires at least one argument`);
      const pairs: KeyValue[] = [];
      for (let j = 0; j + 1 < args.length; j += 2) {
        const key = args[j] as string;
        const value = args[j + 1] as string;
        if (key === '') fail('missing-arguments', `${keyword} names can not be blank`);
        if (opts.checkQuotes) {
          checkQuotes(key, escape);
          checkQuotes(value, escape);
        }
        pairs.push({ key, value });
      }
      return lower === 'env' ? { ...base, keyword: 'ENV', pairs } : { ...base, keyword: 'LABEL', pairs };
    }
    case 'arg': {
      if (args.length === 0) fail('missing-arguments', 'ARG requires at least one argument');
      const out: ArgInstruction['args'] = [];
      for (const a of args) {
        const eq = a.indexOf('=');
        if (eq < 0) {
          out.push({ name: a });
          continue;
        }
        if (eq === 0) fail('missing-arguments', 'ARG names can not be blank');
        const defaultValue = a.slice(eq + 1);
        if (opts.checkQuotes) checkQuotes(defaultValue, escape);
        out.push({ name: a.slice(0, eq), defaultValue });
      }
      return { ...base, keyword: 'ARG', args: out };
    }
    case 'workdir':
      return { ...base, keyword: 'WORKDIR', path: exactlyOne() };
    case 'user':
      return { ...base, keyword: 'USER', user: exactlyOne() };
    case 'stopsignal':
      return { ...base, keyword: 'STOPSIGNAL', signal: exactlyOne() };
    case 'maintainer':
      return { ...base, keyword: 'MAINTAINER', maintainer: exactlyOne() };
    case 'expose':
      if (args.length === 0) fail('missing-arguments', 'EXPOSE requires at least one argument');
      return { ...base, keyword: 'EXPOSE', ports: [...args] };
    case 'volume': {
      if (args.length === 0) fail('missing-arguments', 'VOLUME requires at least one argument');
      const paths = args.map((v) => trimSpace(v));
      if (paths.some((p) => p === '')) fail('missing-arguments', 'VOLUME specified can not be an empty string');
      return { ...base, keyword: 'VOLUME', paths };
    }
    case 'healthcheck':
      return toHealthcheck(node, base);
    case 'onbuild': {
      if (!node.sub) fail('missing-arguments', 'ONBUILD requires at least one argument');
      const trigger = node.sub.keyword.toUpperCase();
      if (trigger === 'ONBUILD') fail('invalid-instruction', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') fail('invalid-instruction', `${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += '\n' + h.content + h.name;
      return { ...base, keyword: 'ONBUILD', trigger: expression };
    }
    default:
      return fail('unknown-instruction', `unknown instruction: ${node.keyword}`);
  }
}

export interface ParseOptions {
  /** Reject an unterminated quote in ENV/LABEL keys and values and ARG defaults
   * (`unterminated-quote`). Docker's parser accepts them and only fails when the
   * instruction is expanded during the build, so the default is false: BuildKit's own
   * parser test file `testfiles/env` has `ENV name='a\'b'`, which parses but cannot build. */
  checkQuotes?: boolean;
}

/** Parses a Dockerfile into stages. Throws DockerfileError (message `file:line: ...`). */
export function parseDockerfile(text: string, fileName: string, options: ParseOptions = {}): DockerfileAst {
  const raw = parseNodes(text, fileName);
  if (raw.nodes.length === 0) {
    throw new DockerfileError({
      code: 'empty-dockerfile',
      file: fileName,
      line: Math.max(1, raw.lineCount),
      // A zero-byte file is refused by the docker CLI before parsing, with this wording.
      detail: text.length === 0 ? 'the Dockerfile cannot be empty' : 'file with no instructions',
    });
  }
  const escape = raw.directives.escape;
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const stageLines = new Map<string, number>();

  for (const node of raw.nodes) {
    let ins: Instruction;
    try {
      ins = toInstruction(node, escape, options);
      if (ins.keyword === 'FROM') {
        if (ins.stageName !== undefined) {
          if (stageLines.has(ins.stageName)) fail('invalid-stage-name', `duplicate stage name ${goQuote(ins.stageName)}`);
          stageLines.set(ins.stageName, ins.range.startLine);
        }
      } else if (stages.length === 0 && ins.keyword !== 'ARG') {
        fail('instruction-before-from', 'no build stage in current context');
      }
    } catch (e) {
      if (e instanceof ParseFailure) {
        throw new DockerfileError({ code: e.code, file: fileName, line: node.startLine, detail: e.detail });
      }
      throw e;
    }
    if (ins.keyword === 'FROM') {
      const stage: Stage = { index: stages.length, from: ins, instructions: [] };
      if (ins.stageName !== undefined) stage.name = ins.stageName;
      stages.push(stage);
    } else if (stages.length === 0) {
      globalArgs.push(ins as ArgInstruction);
    } else {
      (stages[stages.length - 1] as Stage).instructions.push(ins);
    }
  }

  if (stages.length === 0) {
    throw new DockerfileError({
      code: 'no-from',
      file: fileName,
      line: raw.nodes[0]?.startLine ?? 1,
      detail: 'dockerfile contains no stages to build',
    });
  }
  return { fileName, directives: raw.directives, globalArgs, stages };
}
