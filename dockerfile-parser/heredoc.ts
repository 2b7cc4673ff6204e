// Heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`): which words open one, and which instructions
// can have them. The first pass reads their bodies; COPY/ADD tell heredoc sources from
// files; the converter finds RUN's lone `<<EOF`.
import { ExpansionError } from './errors.js';
import { lex } from './expand.js';
import type { RawNode } from './node.js';

const RE_HEREDOC = /^(\d*)<<(-?)([^<]*)$/;

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
    const plain = lex(rest, () => undefined, { escape: '\\', skipUnset: true, words: true }).words;
    if (plain.length !== 1) return undefined;
    const raw = lex(rest, () => undefined, { escape: '\\', skipUnset: true, rawQuotes: true, words: true }).words;
    const quotes = (s: string | undefined) => (s ?? '').split('').filter((c) => c === '"' || c === "'").length;
    return { name: plain[0] as string, expand: quotes(plain[0]) === quotes(raw[0]), chomp: m[2] === '-' };
  } catch (e) {
    if (e instanceof ExpansionError) return undefined;
    throw e;
  }
}

export function heredocMarkersInLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = lex(line, () => undefined, { escape: '\\', rawQuotes: true, rawEscapes: true, skipUnset: true, words: true }).words;
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

export function canContainHeredoc(node: RawNode): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.sub ? node.sub : node;
  return HEREDOC_INSTRUCTIONS.has(target.keyword.toLowerCase()) && !target.json;
}

export function chompContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}
