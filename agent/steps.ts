// The steps of a build the agent traced, for the correlator: one per vertex BuildKit named
// after a Dockerfile instruction (`[STAGE I/N] KEYWORD ...`, vertex-names.ts). Where each
// instruction is in the Dockerfile comes from, in this order:
//   1. the source map of the LLB definition, when the agent saw one that had it;
//   2. the Dockerfile itself, when the session sent it to BuildKit's frontend through the
//      agent: parsed here, the I-th numbered instruction of the stage is the vertex's
//      (BuildKit numbers FROM when its base is an image, then ADD, COPY, RUN and WORKDIR);
//   3. nothing: line 0 (the step is named, not located).
// A RUN step's command is the exec op's args when the agent saw the LLB; otherwise the argv
// of the container the router gave the vertex (what ran is what the step ran).
import { parseDockerfile, type DockerfileAst } from '../dockerfile-parser/index.js';
import type { LlbOpInfo } from '../frontend/index.js';
import type { Vertex } from '../model/index.js';
import type { CorrelateStep } from '../tracer/index.js';
import { parseVertexName, type ParsedVertexName } from './vertex-names.js';

const NUMBERED = new Set(['ADD', 'COPY', 'RUN', 'WORKDIR']);

interface Located {
  line: number;
  endLine: number;
  keyword: string;
}

/** stage key (its name, `stage-K`, or '' for the only one) -> its numbered instructions. */
function numberedInstructions(ast: DockerfileAst): Map<string, Located[][]> {
  const out = new Map<string, Located[][]>();
  const names = new Set<string>();
  const single = ast.stages.length === 1;
  for (const st of ast.stages) {
    const commands = st.instructions.filter((i) => NUMBERED.has(i.keyword)).map((i) => ({ line: i.range.startLine, endLine: i.range.endLine, keyword: i.keyword }));
    const from = { line: st.from.range.startLine, endLine: st.from.range.endLine, keyword: 'FROM' };
    const base = st.from.image.trim().toLowerCase();
    // Both readings, FROM numbered or not (an ARG in FROM may name a stage): the name's
    // total (N) says which one BuildKit used.
    const variants = base === 'scratch' || names.has(base) ? [commands, [from, ...commands]] : [[from, ...commands], commands];
    const keys = [single ? '' : `stage-${st.index}`];
    if (st.name !== undefined) keys.push(st.name);
    for (const k of keys) out.set(k, variants);
    if (st.name !== undefined) names.add(st.name);
  }
  return out;
}

function locate(parsed: ParsedVertexName, table: Map<string, Located[][]> | undefined): Located | undefined {
  if (table === undefined) return undefined;
  const variants = table.get((parsed.stage ?? '').toLowerCase());
  // BuildKit names a FROM before it knows which WORKDIRs will make a directory, so the FROM's
  // total (N) can be lower than its stage's others ([1/3] FROM, [2/4] RUN): a numbered FROM
  // is the first of the reading that numbers it, whatever its total.
  const list = parsed.keyword === 'FROM' ? variants?.find((v) => v[0]?.keyword === 'FROM') : (variants?.find((v) => v.length === parsed.total) ?? variants?.[0]);
  const hit = list?.[parsed.index - 1];
  return hit !== undefined && hit.keyword === parsed.keyword ? hit : undefined;
}

/**
 * BuildKit can report two vertices under one instruction (the image of a FROM as resolved
 * and as pinned, their totals counted at different times: `[1/3] FROM x`, `[1/4] FROM x`):
 * one step each would show the instruction twice. The one that ran (not cached, started)
 * stands for it. An instruction is its stage, its number and its text (the platform, when
 * there are several, is part of the stage).
 */
function oneVertexPerInstruction(vertices: readonly Vertex[]): Vertex[] {
  const keyOf = (v: Vertex): string | undefined => {
    if (v.name === undefined) return undefined;
    const p = parseVertexName(v.name);
    return p === undefined ? v.name : `${p.platform ?? ''}\0${p.stage ?? ''}\0${p.index}\0${p.instruction}`;
  };
  const rank = (v: Vertex): number => (v.cached ? 0 : 2) + (v.startedNs === undefined ? 0 : 1);
  const byKey = new Map<string, Vertex>();
  for (const v of vertices) {
    const k = keyOf(v);
    if (k === undefined) continue;
    const seen = byKey.get(k);
    if (seen === undefined || rank(v) > rank(seen)) byKey.set(k, v);
  }
  return vertices.filter((v) => {
    const k = keyOf(v);
    return k !== undefined && byKey.get(k) === v;
  });
}

export interface StepSources {
  vertices: readonly Vertex[];
  /** Ops of the LLB definitions the build sent, by digest. */
  ops: ReadonlyMap<string, LlbOpInfo>;
  /** The Dockerfile BuildKit's frontend read through the session, when the agent saw it. */
  dockerfile?: { name: string; text: string };
  /** The argv of the container the router gave a vertex. */
  argvOf(digest: string): readonly string[] | undefined;
}

export function agentSteps(src: StepSources): { steps: CorrelateStep[]; located: 'source-map' | 'dockerfile' | 'names' } {
  let table: Map<string, Located[][]> | undefined;
  if (src.dockerfile !== undefined) {
    try {
      table = numberedInstructions(parseDockerfile(src.dockerfile.text, src.dockerfile.name));
    } catch {
      table = undefined; // a Dockerfile our parser refuses: the names alone
    }
  }
  let viaSourceMap = 0;
  let viaDockerfile = 0;
  const out: { step: CorrelateStep; order: [string, number] }[] = [];
  for (const v of oneVertexPerInstruction(src.vertices)) {
    if (v.name === undefined) continue;
    const parsed = parseVertexName(v.name);
    if (parsed === undefined) continue;
    const op = src.ops.get(v.digest);
    let line = 0;
    let endLine = 0;
    if (op?.lines !== undefined) {
      line = op.lines.start;
      endLine = op.lines.end;
      viaSourceMap++;
    } else {
      const hit = locate(parsed, table);
      if (hit !== undefined) {
        line = hit.line;
        endLine = hit.endLine;
        viaDockerfile++;
      }
    }
    const stage = parsed.stage === undefined ? '0' : /^stage-\d+$/.test(parsed.stage) ? parsed.stage.slice('stage-'.length) : parsed.stage;
    const step: CorrelateStep = { vertex: v.digest, instruction: parsed.instruction, keyword: parsed.keyword, line, stage, endLine };
    if (parsed.keyword === 'RUN') {
      const args = op?.execArgs ?? src.argvOf(v.digest);
      if (args !== undefined) step.execArgs = [...args];
    }
    out.push({ step, order: [parsed.stage ?? '', parsed.index] });
  }
  out.sort((a, b) => {
    const sa = a.step.line > 0 && b.step.line > 0 ? a.step.line - b.step.line : 0;
    if (sa !== 0) return sa;
    return a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : a.order[1] - b.order[1];
  });
  const located = viaSourceMap > 0 ? 'source-map' : viaDockerfile > 0 ? 'dockerfile' : 'names';
  return { steps: out.map((o) => o.step), located };
}
