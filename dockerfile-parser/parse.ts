// Dockerfile text -> typed stages and instructions, in the two passes Docker applies:
//  1. lines -> nodes (lines.ts, heredoc.ts, node.ts): parser directives, comments, line
//     continuations, heredoc bodies, the keyword, `--flags`, and each instruction's
//     arguments split the way Docker's parser splits them; comparable with BuildKit's own
//     AST dump.
//  2. nodes -> typed instructions (instructions.ts, flags.ts), then the split into stages
//     (here): global ARGs before the first FROM, unique stage names.
import { DockerfileError, ParseFailure, fail } from './errors.js';
import { goQuote } from './gostring.js';
import { toInstruction } from './instructions.js';
import type { ParseOptions } from './instructions.js';
import { parseNodes } from './lines.js';
import type { ArgInstruction, DockerfileAst, Instruction, Stage } from './types.js';

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
