// The stage table, as BuildKit's converter builds its dispatch states before it
// dispatches anything: one entry per stage with its base (an earlier stage, an image or
// scratch), the target, what each stage reads from others (COPY --from, RUN --mount
// from=, which may also name images: they get entries of their own), no cycles, and the
// stages the target reaches.
import { mountFrom, OptionError } from '../../dockerfile-parser/index.js';
import type { DockerfileAst, Instruction, Stage } from '../../dockerfile-parser/index.js';
import { ConvertError } from './errors.js';
import type { ConvertErrorCode } from './errors.js';
import type { ImageSpec } from './image.js';
import type { GlobalScope } from './meta-args.js';
import { parsePlatform } from './platform.js';
import type { Platform } from './types.js';
import { normalizeImageRef } from './util.js';

export const SCRATCH = 'scratch';

/** A stage of the stage table (fixed once prepared). */
export interface StageInfo {
  /** Position in the table (Dockerfile stages first, then images named by COPY --from). */
  index: number;
  /** Name for progress prefixes: the AS name or `stage-N`; '' when there is only one. */
  displayName: string;
  /** BuildStep.stage: AS name or the index as a string. */
  stepStage: string;
  /** AS name, lower-cased. */
  name?: string;
  /** Base name after ARG expansion (and normalization for images). */
  baseName: string;
  base?: StageInfo;
  platform?: Platform;
  unregistered: boolean;
  deps: Set<StageInfo>;
  cmdTotal: number;
  /** Instructions (empty for images named by COPY --from). */
  instructions: Instruction[];
  fromLine: number;
  fromEndLine: number;
  fromText: string;
  /** Filled when the base is an image: its config, digest and whether it is empty. */
  resolved?: { image: ImageSpec; digest?: string; scratch: boolean };
  /** COPY --from sources per instruction index. */
  copySources: Map<number, StageInfo>;
  /** RUN --mount from= sources per instruction index, one entry per --mount (undefined: none). */
  mountSources: Map<number, (StageInfo | undefined)[]>;
}

export interface StageTable {
  file: string;
  infos: StageInfo[];
  /** Stages by lower-cased AS name. */
  byName: Map<string, StageInfo>;
}

function failAt(file: string, line: number, code: ConvertErrorCode, what: string): never {
  throw new ConvertError(code, file, line, what);
}

/** Appends an entry; its base is the stage of that name if one stands before it. */
function addInfo(table: StageTable, info: StageInfo, name: string | undefined): void {
  table.infos.push(info);
  const base = table.byName.get(info.baseName);
  if (base) info.base = base;
  if (name) table.byName.set(name.toLowerCase(), info);
}

/** One entry per Dockerfile stage: FROM expanded in the global scope, bases linked. */
export function stageTable(ast: DockerfileAst, scope: GlobalScope): StageTable {
  const file = ast.fileName;
  const table: StageTable = { file, infos: [], byName: new Map() };
  ast.stages.forEach((st: Stage, i) => {
    const line = st.from.range.startLine;
    const baseName = scope.expand(st.from.image, line);
    if (baseName === '') failAt(file, line, 'invalid-base-name', `base name (${st.from.image}) should not be blank`);
    let platform: Platform | undefined;
    if (st.from.platform) {
      const v = scope.expand(st.from.platform, line);
      platform = parsePlatform(v);
      if (!platform) failAt(file, line, 'invalid-platform', `failed to parse platform ${v}`);
    }
    let total = 0;
    for (const inst of st.instructions) if (['ADD', 'COPY', 'RUN', 'WORKDIR'].includes(inst.keyword)) total++;
    const info: StageInfo = {
      index: i,
      displayName: st.name ?? `stage-${i}`,
      stepStage: st.name ?? String(i),
      baseName,
      unregistered: false,
      deps: new Set(),
      cmdTotal: total,
      instructions: st.instructions,
      fromLine: line,
      fromEndLine: st.from.range.endLine,
      fromText: st.from.text,
      copySources: new Map(),
      mountSources: new Map(),
    };
    if (st.name) info.name = st.name.toLowerCase();
    if (platform) info.platform = platform;
    addInfo(table, info, st.name);
    if (baseName !== SCRATCH && !info.base) info.cmdTotal++;
  });

  // FROM <name> only sees the stages before it (Docker then pulls an image of that name);
  // naming a later stage is almost certainly a mistake, so say so.
  for (const info of table.infos) {
    if (info.base || info.unregistered) continue;
    const later = table.byName.get(info.baseName.toLowerCase());
    if (later && later.index > info.index) {
      failAt(
        file,
        info.fromLine,
        'invalid-stage-order',
        `FROM ${info.baseName} refers to stage "${later.name ?? later.displayName}" defined later (line ${later.fromLine}): a stage can only be based on an earlier stage`,
      );
    }
  }
  return table;
}

/** The stage to build: --target by name, else the last one. */
export function findTarget(table: StageTable, target: string | undefined): StageInfo {
  if (!target) return table.infos[table.infos.length - 1] as StageInfo;
  const t = table.byName.get(target.toLowerCase());
  if (!t) throw new ConvertError('target-not-found', table.file, 0, `target stage ${target} could not be found`);
  return t;
}

/** What each stage reads from other stages or images (COPY --from and RUN --mount from=);
 * an image named there gets an entry of its own. Then no stage may depend on itself. */
export function addDependencies(table: StageTable): void {
  const { file, infos, byName } = table;
  const stageCount = infos.length; // the Dockerfile's stages: image entries come after them
  // COPY --from and RUN --mount=from=: a stage index (COPY only), a stage name, or else an image.
  const imageSource = (name: string, inst: Instruction): StageInfo => {
    const src: StageInfo = {
      index: infos.length,
      displayName: `stage-${infos.length}`,
      stepStage: String(infos.length),
      baseName: name,
      unregistered: true,
      deps: new Set(),
      cmdTotal: 0,
      instructions: [],
      fromLine: inst.range.startLine,
      fromEndLine: inst.range.endLine,
      fromText: inst.text,
      copySources: new Map(),
      mountSources: new Map(),
    };
    addInfo(table, src, undefined);
    return src;
  };
  for (const info of [...infos]) {
    info.instructions.forEach((inst, i) => {
      const line = inst.range.startLine;
      if (inst.keyword === 'COPY') {
        const v = inst.from;
        if (v === undefined) return;
        if (v === '') failAt(file, line, 'invalid-flag', 'missing a value on flag: --from');
        let src: StageInfo | undefined;
        if (/^-?\d+$/.test(v)) {
          const n = Number(v);
          src = n >= 0 && n < stageCount ? infos[n] : undefined;
          if (!src) {
            failAt(file, line, 'invalid-stage-index', `invalid stage index ${v}: the Dockerfile has ${stageCount} stage${stageCount === 1 ? '' : 's'} (0-${stageCount - 1})`);
          }
        } else {
          src = byName.get(v.toLowerCase());
          if (!src) {
            if (v.includes('$')) {
              failAt(file, line, 'invalid-flag', `variable expansion is not supported for --from=${v}: define a stage with FROM using a global ARG instead`);
            }
            if (!normalizeImageRef(v)) {
              failAt(file, line, 'invalid-reference', `COPY --from=${v}: no stage is named ${JSON.stringify(v)} and it is not a valid image reference`);
            }
            src = imageSource(v, inst);
          }
        }
        if (src === info) failAt(file, line, 'circular-dependency', `COPY --from=${v} refers to its own stage ${info.displayName}: a stage cannot copy from itself`);
        info.copySources.set(i, src);
        info.deps.add(src);
      } else if (inst.keyword === 'RUN') {
        const list: (StageInfo | undefined)[] = [];
        let any = false;
        for (const value of inst.mounts) {
          let from: string | undefined;
          try {
            from = mountFrom(value);
          } catch (e) {
            if (e instanceof OptionError) failAt(file, line, 'invalid-flag', `invalid --mount=${value}: ${e.message}`);
            throw e;
          }
          let src: StageInfo | undefined;
          if (from !== undefined) {
            src = byName.get(from.toLowerCase());
            if (!src) {
              if (!normalizeImageRef(from)) {
                failAt(file, line, 'invalid-reference', `RUN --mount from=${from}: no stage is named ${JSON.stringify(from)} and it is not a valid image reference`);
              }
              src = imageSource(from, inst);
            }
            if (src === info) failAt(file, line, 'circular-dependency', `RUN --mount from=${from} refers to its own stage ${info.displayName}: a stage cannot mount itself`);
            info.deps.add(src);
            any = true;
          }
          list.push(src);
        }
        if (any) info.mountSources.set(i, list);
      }
    });
  }

  // Circular dependencies: a depth-first walk kept on a stack of its own (10,000
  // chained stages are 10,000 deep).
  const visiting = new Set<StageInfo>();
  const done = new Set<StageInfo>();
  for (const root of infos) {
    if (done.has(root)) continue;
    const stack: { stage: StageInfo; deps: Iterator<StageInfo> }[] = [];
    const enter = (stage: StageInfo): void => {
      if (visiting.has(stage)) failAt(file, stage.fromLine, 'circular-dependency', `circular dependency detected on stage: ${stage.displayName}`);
      visiting.add(stage);
      stack.push({ stage, deps: stage.deps.values() });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = top.deps.next();
      if (next.done === true) {
        stack.pop();
        visiting.delete(top.stage);
        done.add(top.stage);
      } else if (!done.has(next.value)) {
        enter(next.value);
      }
    }
  }

  // A table of one entry (no image either) gives progress names without a stage name.
  if (infos.length === 1) (infos[0] as StageInfo).displayName = '';
}

/** The target and every stage or image it needs, through bases and dependencies. */
export function reachableFrom(target: StageInfo): Set<StageInfo> {
  const out = new Set<StageInfo>([target]);
  const pending = [target];
  while (pending.length > 0) {
    const s = pending.pop()!;
    for (const next of s.base === undefined ? s.deps : [s.base, ...s.deps]) {
      if (out.has(next)) continue;
      out.add(next);
      pending.push(next);
    }
  }
  return out;
}
