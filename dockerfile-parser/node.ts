// One instruction as Docker's parser splits it (the first pass, after lines are joined):
// the keyword, the leading `--flags`, and the arguments split the way each keyword wants
// them (a JSON array or not, key=value words, whitespace lists, ONBUILD's trigger).
import { fail } from './errors.js';
import { isGoSpace } from './expand.js';
import { goQuote, trimLeftSpace, trimSpace } from './gostring.js';
import type { Heredoc } from './types.js';

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


const RE_WHITESPACE = /[\t\v\f\r ]+/;
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

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

export function newNode(line: string, escape: string, startLine: number): RawNode {
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
