// BuildKit's vertex names: what a build's Status stream calls each vertex. BuildKit's own
// Dockerfile frontend (and tracebuild's, which writes the same names) names an
// instruction's vertex `[STAGE I/N] KEYWORD TEXT` (dockerfile2llb prefixCommand): the stage
// (its AS name, `stage-K` for an unnamed one when there are several, none when there is
// one), the platform when several are built, the instruction's number among the stage's
// FROM (when its base is an image), ADD, COPY, RUN and WORKDIR, and its text. For a build
// whose LLB the agent never sees (the frontend runs inside BuildKit) the name is what it
// knows of a RUN's command: it tells it which vertex a container's first exec may start.
import type { ExecEventData } from '../tracer/index.js';

export interface ParsedVertexName {
  platform?: string;
  stage?: string;
  /** 1-based number among the stage's numbered instructions. */
  index: number;
  total: number;
  keyword: string;
  /** The instruction as the name shows it, e.g. `RUN echo hi`. */
  instruction: string;
  /** The text after the keyword. */
  text: string;
}

const NAME = /^\[(?:([A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+(?:->[A-Za-z0-9_./-]+)?)\s+)?(?:([^\s\]]+)\s+)?\s*(\d+)\/(\d+)\]\s+([A-Za-z]+)(?:\s+([\s\S]*))?$/;

export function parseVertexName(name: string): ParsedVertexName | undefined {
  const m = NAME.exec(name.trim());
  if (m === null) return undefined;
  const keyword = (m[5] as string).toUpperCase();
  const text = (m[6] ?? '').trim();
  const out: ParsedVertexName = {
    index: Number(m[3]),
    total: Number(m[4]),
    keyword,
    instruction: text === '' ? keyword : `${keyword} ${text}`,
    text,
  };
  if (m[1] !== undefined) out.platform = m[1];
  if (m[2] !== undefined) out.stage = m[2];
  return out;
}

/** A RUN's command as its name shows it: the JSON (exec) form, or the shell form's text
 * without the instruction's flags. */
export function runCommandOf(parsed: ParsedVertexName): { form: 'exec'; argv: string[] } | { form: 'shell'; text: string } | undefined {
  if (parsed.keyword !== 'RUN') return undefined;
  const text = parsed.text.replace(/^(?:--[A-Za-z-]+(?:=(?:"[^"]*"|\S)*)?\s+)*/, '').trim();
  if (text.startsWith('[')) {
    try {
      const argv: unknown = JSON.parse(text);
      if (Array.isArray(argv) && argv.every((a) => typeof a === 'string')) return { form: 'exec', argv: argv as string[] };
    } catch {
      // not JSON: the shell form
    }
  }
  return { form: 'shell', text };
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * Whether an exec may be a RUN's command, from the RUN's name: 'exact' when it is (the
 * exec form's argv, or a shell running the text the name shows), 'compatible' when the name
 * cannot say (its text has variables BuildKit expanded in the name but not in the command,
 * a heredoc shown by a summary, a shell from SHELL), 'no' when it is not.
 */
export function nameMatchesExec(parsed: ParsedVertexName, exec: Pick<ExecEventData, 'argv'>): 'exact' | 'compatible' | 'no' {
  const cmd = runCommandOf(parsed);
  if (cmd === undefined) return 'no';
  const argv = exec.argv;
  if (cmd.form === 'exec') {
    if (argv.length === cmd.argv.length && argv.every((a, i) => a === cmd.argv[i])) return 'exact';
    // a #! script run in exec form: [interpreter, (arg,) script, args...]
    const at = argv.length - cmd.argv.length;
    const script = argv[at];
    const first = cmd.argv[0] ?? '';
    if (at < 1 || script === undefined || !(script === first || (!first.includes('/') && script.endsWith(`/${first}`)))) return 'no';
    return argv.slice(at + 1).every((a, i) => a === cmd.argv[i + 1]) ? 'compatible' : 'no';
  }
  const c = argv.indexOf('-c');
  if (c < 0 || c !== argv.length - 2) return 'no';
  const script = squash(argv[argv.length - 1] as string);
  if (script === squash(cmd.text)) return 'exact';
  // What the name cannot show exactly: a heredoc, summarised by its first line...
  const heredoc = /^<<-?["']?[A-Za-z_]\w*["']?\s*\((.*?)(?:\.\.\.)?\)$/.exec(squash(cmd.text));
  if (heredoc !== null) return script.startsWith(squash(heredoc[1] ?? '')) ? 'compatible' : 'no';
  // ...and variables BuildKit expanded in the name: each may stand for any text there, the
  // rest of the command must be the name's (another command with a variable is not this).
  if (!VARIABLE.test(script)) return 'no';
  return literalsInOrder(script.split(VARIABLES).filter((_, i) => i % 2 === 0), squash(cmd.text)) ? 'compatible' : 'no';
}

/**
 * Whether `text` is literals[0], anything, literals[1], ..., anything, literals[last]: each
 * middle literal taken at its first place (that leaves the most room for the rest), so the
 * check is one pass whatever the name, never a backtracking pattern.
 */
function literalsInOrder(literals: readonly string[], text: string): boolean {
  const first = literals[0] ?? '';
  const last = literals[literals.length - 1] ?? '';
  if (literals.length < 2 || !text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const lit of literals.slice(1, -1)) {
    const found = text.indexOf(lit, at);
    if (found < 0 || found + lit.length > end) return false;
    at = found + lit.length;
  }
  return true;
}

/** A shell variable reference: $NAME or ${...} (one level of braces). */
const VARIABLE = /\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/;
const VARIABLES = /(\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*))/;
