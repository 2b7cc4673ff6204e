// The first pass, lines -> nodes, as Docker's parser does it: parser directives, comments,
// line continuations, heredoc bodies, then each joined instruction line split by node.ts.
// Its result compares with BuildKit's own AST dumps (see `dumpNode`).
//
// Line splitting, comments and continuations follow Docker's parser exactly, including
// inputs Docker has tests for (e.g. a line ending in an escaped escape character,
// `ENV C trailing\\backslash\\`, is not a continuation).
import { DockerfileError, ParseFailure, fail } from './errors.js';
import { goQuote, trimLeftSpace, trimNewline } from './gostring.js';
import { canContainHeredoc, chompContent, heredocMarkersInLine } from './heredoc.js';
import { newNode } from './node.js';
import type { RawNode } from './node.js';
import type { ParserDirectives } from './types.js';

export interface RawParseResult {
  directives: ParserDirectives;
  nodes: RawNode[];
  /** Number of lines in the file. */
  lineCount: number;
}

const RE_DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
// BuildKit v0.13's parser knows these two; a `# check=` line (Dockerfile 1.8's lint
// settings) is a comment to it, which ends the directives: so it is here, its value kept.
const VALID_DIRECTIVES = new Set(['escape', 'syntax']);

function isCommentLine(s: string): boolean {
  return trimLeftSpace(trimNewline(s)).startsWith('#');
}

class DirectiveState {
  escape: '\\' | '`' = '\\';
  syntax: string | undefined;
  syntaxLine: number | undefined;
  checkValue: string | undefined;
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
      if (key === 'check') this.checkValue = value;
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
  if (d.checkValue !== undefined) directives.check = d.checkValue;
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
