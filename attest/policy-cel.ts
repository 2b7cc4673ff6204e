// The CEL side of trace policies: the environment (standard library, the `strings`
// extension and tracebuild's path functions), JSON -> CEL value conversion, and a static
// type checker.
//
// Why a checker here: @bufbuild/cel parses and evaluates CEL, but (as of 0.6.x) it has no
// public type checker; an undeclared variable, an unknown function or `1 + "x"` would only
// surface when a rule is first evaluated, possibly on a build that never exercises it.
// This checker walks the parsed AST against the variable declarations below and the
// overload table of the very environment that evaluates the rule, so parse time and
// evaluation time agree on which functions exist. It is gradual: `dyn` fits anything,
// and only definite mistakes are reported.

import { posix } from 'node:path';
import {
  CelScalar,
  celEnv,
  celFunc,
  celMethod,
  isCelList,
  listType,
  parse,
  type CelEnv,
  type CelInput,
  type CelType,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { Glob, codePoints, type GlobToken } from '../common/index.js';
import { RE2JS } from '@bufbuild/re2';
import { COST_FUNCS, MAX_REGEX_LENGTH, MAX_REPLACED_LENGTH, chargeActiveMeter } from './policy-cost.js';

// ---------------------------------------------------------------------------------------
// Custom functions

function normalizePath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when `path` is `dir` itself or lies below it (textual, after normalization). */
export function pathUnder(path: string, dir: string): boolean {
  const p = normalizePath(path);
  const d = normalizePath(dir);
  if (d === '/') return p.startsWith('/');
  return p === d || p.startsWith(`${d}/`);
}

const globCache = new Map<string, Glob>();

/**
 * A policy glob over `/`-separated paths: `*` matches within one segment, `?` one
 * character of a segment, `**` any number of characters across segments (as a whole
 * segment, `**` also matches zero segments: `/src/**\/*.c` matches `/src/a.c`). Everything
 * else is literal. Matching takes linear time (common/glob.ts): the patterns of a policy
 * meet paths an attacker chose.
 */
export function policyGlob(pattern: string): Glob {
  const cached = globCache.get(pattern);
  if (cached !== undefined) return cached;
  const tokens: GlobToken[] = [];
  const cps = codePoints(pattern);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === STAR && cps[i + 1] === STAR) {
      const segmentStart = i === 0 || cps[i - 1] === SLASH_CP;
      i++;
      if (segmentStart && cps[i + 1] === SLASH_CP) {
        tokens.push({ kind: 'dirs' });
        i++;
      } else {
        tokens.push({ kind: 'star', slash: true });
      }
    } else if (c === STAR) {
      tokens.push({ kind: 'star', slash: false });
    } else if (c === QUESTION) {
      tokens.push({ kind: 'any', slash: false });
    } else {
      tokens.push({ kind: 'char', cp: c });
    }
  }
  const glob = new Glob(tokens);
  if (globCache.size > 1000) globCache.clear();
  globCache.set(pattern, glob);
  return glob;
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const SLASH_CP = 0x2f;

export function pathGlob(path: string, pattern: string): boolean {
  const normalized = normalizePath(path);
  // matching costs (path length x pattern length) steps at worst
  chargeActiveMeter(Math.ceil(((normalized.length + 1) * (pattern.length + 1)) / 64));
  return policyGlob(pattern).matches(normalized);
}

function stringsOf(list: unknown, fn: string): string[] {
  const out: string[] = [];
  if (!isCelList(list)) throw new Error(`${fn}: expected a list of strings`);
  for (const v of list) {
    if (typeof v !== 'string') throw new Error(`${fn}: expected a list of strings, found ${typeof v}`);
    out.push(v);
  }
  return out;
}

const { BOOL, INT, STRING } = CelScalar;
const LIST_STRING = listType(STRING);

/** Functions tracebuild adds to CEL (documented in POLICY.md). */
export const TRACEBUILD_CEL_FUNCS = [
  celFunc('pathUnder', [STRING, STRING], BOOL, (p, d) => pathUnder(p, d)),
  celFunc('pathUnder', [STRING, LIST_STRING], BOOL, (p, ds) => stringsOf(ds, 'pathUnder').some((d) => pathUnder(p, d))),
  celFunc('pathGlob', [STRING, STRING], BOOL, (p, g) => pathGlob(p, g)),
  celFunc('pathGlob', [STRING, LIST_STRING], BOOL, (p, gs) => stringsOf(gs, 'pathGlob').some((g) => pathGlob(p, g))),
];

const regexCache = new Map<string, RE2JS>();

/** `text.matches(pattern)`: RE2 syntax (as CEL specifies), linear time, each pattern
 * compiled once, its size bounded and its cost charged. */
function matchesRe2(text: string, pattern: string): boolean {
  if (pattern.length > MAX_REGEX_LENGTH) {
    throw new Error(`matches: the pattern is ${pattern.length} characters long; at most ${MAX_REGEX_LENGTH} are allowed`);
  }
  let re = regexCache.get(pattern);
  if (re === undefined) {
    chargeActiveMeter(pattern.length); // compiling
    re = RE2JS.compile(pattern);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  chargeActiveMeter(Math.ceil(((text.length + 1) * (pattern.length + 1)) / 64));
  return re.test(text);
}

/**
 * `s.replace(old, new[, n])` in linear time, with the size of the result checked before it
 * is built (the strings extension's replace rescans the growing result: quadratic, and
 * chained calls double a string each time). Semantics of cel-go's strings extension: n < 0
 * (or absent) replaces every occurrence; an empty `old` matches before every code point
 * and at the end.
 */
export function replaceBounded(s: string, old: string, repl: string, n?: bigint): string {
  const limit = n === undefined || n < 0n ? Infinity : Number(n);
  const positions: number[] = [];
  if (old === '') {
    let i = 0;
    for (const ch of s) {
      if (positions.length >= limit) break;
      positions.push(i);
      i += ch.length;
    }
    if (positions.length < limit) positions.push(s.length);
  } else {
    for (let at = s.indexOf(old); at !== -1 && positions.length < limit; at = s.indexOf(old, at + old.length)) positions.push(at);
  }
  const size = s.length + positions.length * (repl.length - old.length);
  if (size > MAX_REPLACED_LENGTH) {
    throw new Error(`replace: the result would be ${size} characters long; at most ${MAX_REPLACED_LENGTH} are allowed`);
  }
  chargeActiveMeter(1 + Math.floor((s.length + size) / 10));
  let out = '';
  let from = 0;
  for (const at of positions) {
    out += s.slice(from, at) + repl;
    from = at + old.length;
  }
  return out + s.slice(from);
}

/** Overrides of standard and extension functions whose cost their values do not show. */
export const BOUNDED_CEL_FUNCS = [
  celMethod('matches', STRING, [STRING], BOOL, function (this: string, pattern: string) {
    return matchesRe2(this, pattern);
  }),
  celFunc('matches', [STRING, STRING], BOOL, (text, pattern) => matchesRe2(text, pattern)),
  celMethod('replace', STRING, [STRING, STRING], STRING, function (this: string, old: string, repl: string) {
    return replaceBounded(this, old, repl);
  }),
  celMethod('replace', STRING, [STRING, STRING, INT], STRING, function (this: string, old: string, repl: string, n: bigint) {
    return replaceBounded(this, old, repl, n);
  }),
];

// ---------------------------------------------------------------------------------------
// Static types

/** Types seen by the checker. `record` is a JSON object with a known set of fields. */
export type Ty =
  | { readonly kind: 'dyn' }
  | { readonly kind: 'scalar'; readonly name: string }
  | { readonly kind: 'list'; readonly elem: Ty }
  | { readonly kind: 'map'; readonly key: Ty; readonly value: Ty }
  | { readonly kind: 'object'; readonly name: string }
  | { readonly kind: 'nullable'; readonly of: Ty }
  | { readonly kind: 'record'; readonly name: string; readonly fields: ReadonlyMap<string, Ty> };

export const T = {
  dyn: { kind: 'dyn' } as Ty,
  bool: { kind: 'scalar', name: 'bool' } as Ty,
  int: { kind: 'scalar', name: 'int' } as Ty,
  uint: { kind: 'scalar', name: 'uint' } as Ty,
  double: { kind: 'scalar', name: 'double' } as Ty,
  string: { kind: 'scalar', name: 'string' } as Ty,
  bytes: { kind: 'scalar', name: 'bytes' } as Ty,
  null: { kind: 'scalar', name: 'null_type' } as Ty,
  type: { kind: 'scalar', name: 'type' } as Ty,
  list: (elem: Ty): Ty => ({ kind: 'list', elem }),
  map: (key: Ty, value: Ty): Ty => ({ kind: 'map', key, value }),
  nullable: (of: Ty): Ty => ({ kind: 'nullable', of }),
  record: (name: string, fields: Record<string, Ty>): Ty => ({ kind: 'record', name, fields: new Map(Object.entries(fields)) }),
};

export function tyToString(t: Ty): string {
  switch (t.kind) {
    case 'dyn':
      return 'dyn';
    case 'scalar':
    case 'object':
    case 'record':
      return t.name;
    case 'list':
      return `list(${tyToString(t.elem)})`;
    case 'map':
      return `map(${tyToString(t.key)}, ${tyToString(t.value)})`;
    case 'nullable':
      return `${tyToString(t.of)}?`;
  }
}

function fromCelType(t: CelType): Ty {
  switch (t.kind) {
    case 'scalar':
      return t.scalar === 'dyn' ? T.dyn : { kind: 'scalar', name: t.scalar };
    case 'list':
      return T.list(fromCelType(t.element));
    case 'map':
      return T.map(fromCelType(t.key), fromCelType(t.value));
    case 'object':
      return { kind: 'object', name: t.name };
  }
}

const NUMERIC = new Set(['int', 'uint', 'double']);

/** Can a value of type `actual` be passed where `param` is expected? */
export function fits(actual: Ty, param: Ty): boolean {
  if (param.kind === 'dyn' || actual.kind === 'dyn') return true;
  if (actual.kind === 'nullable') return fits(actual.of, param) || fits(T.null, param);
  if (param.kind === 'nullable') return fits(actual, param.of) || fits(actual, T.null);
  switch (param.kind) {
    case 'scalar':
      return actual.kind === 'scalar' && actual.name === param.name;
    case 'object':
      return actual.kind === 'object' && actual.name === param.name;
    case 'list':
      return actual.kind === 'list' && fits(actual.elem, param.elem);
    case 'map':
      if (actual.kind === 'record') return fits(T.string, param.key);
      return actual.kind === 'map' && fits(actual.key, param.key) && fits(actual.value, param.value);
    case 'record':
      return actual.kind === 'record' && actual.name === param.name;
  }
}

/** Could values of these two types ever be equal (CEL heterogeneous equality)? */
function comparable(a: Ty, b: Ty): boolean {
  if (a.kind === 'dyn' || b.kind === 'dyn') return true;
  if (a.kind === 'nullable') return comparable(a.of, b) || comparable(T.null, b);
  if (b.kind === 'nullable') return comparable(a, b.of) || comparable(a, T.null);
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    return a.name === b.name || (NUMERIC.has(a.name) && NUMERIC.has(b.name));
  }
  if (a.kind === 'list' && b.kind === 'list') return comparable(a.elem, b.elem);
  const mapLike = (t: Ty) => t.kind === 'map' || t.kind === 'record';
  if (mapLike(a) && mapLike(b)) return true;
  if (a.kind === 'object' && b.kind === 'object') return a.name === b.name;
  // null compares (unequal) with messages and wrappers; be lenient with objects.
  if ((a.kind === 'scalar' && a.name === 'null_type') || (b.kind === 'scalar' && b.name === 'null_type')) {
    return a.kind === 'object' || b.kind === 'object';
  }
  return false;
}

function join(a: Ty, b: Ty): Ty {
  if (tyToString(a) === tyToString(b)) return a;
  if (a.kind === 'scalar' && a.name === 'null_type') return b.kind === 'nullable' || b.kind === 'dyn' ? b : T.nullable(b);
  if (b.kind === 'scalar' && b.name === 'null_type') return a.kind === 'nullable' || a.kind === 'dyn' ? a : T.nullable(a);
  return T.dyn;
}

// ---------------------------------------------------------------------------------------
// Checker

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr['expr'];

/** A static error in a CEL expression, with a 1-based position inside the expression. */
export class CelCheckError extends Error {
  override readonly name = 'CelCheckError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${line}:${column}: ${message}`);
  }
}

interface Overload {
  readonly target: Ty | undefined;
  readonly args: readonly Ty[];
  readonly result: Ty;
}

class Checker {
  private readonly scopes: Map<string, Ty>[];

  constructor(
    private readonly source: string,
    private readonly positions: Readonly<Record<string, number>>,
    private readonly overloads: ReadonlyMap<string, readonly Overload[]>,
    variables: ReadonlyMap<string, Ty>,
  ) {
    this.scopes = [new Map(variables)];
  }

  private fail(e: Expr, message: string): never {
    const offset = this.positions[String(e.id)] ?? 0;
    const before = this.source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new CelCheckError(message, line, column);
  }

  private lookup(name: string): Ty | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const t = this.scopes[i]?.get(name);
      if (t !== undefined) return t;
    }
    return undefined;
  }

  check(e: Expr): Ty {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        switch (k.value.constantKind.case) {
          case 'boolValue':
            return T.bool;
          case 'int64Value':
            return T.int;
          case 'uint64Value':
            return T.uint;
          case 'doubleValue':
            return T.double;
          case 'stringValue':
            return T.string;
          case 'bytesValue':
            return T.bytes;
          case 'nullValue':
            return T.null;
          default:
            return T.dyn;
        }
      case 'identExpr': {
        const t = this.lookup(k.value.name);
        if (t === undefined) this.fail(e, `undeclared reference to '${k.value.name}'${this.declaredHint()}`);
        return t;
      }
      case 'selectExpr': {
        const operand = k.value.operand;
        if (operand === undefined) this.fail(e, 'select without operand');
        return this.select(e, this.check(operand), k.value.field, k.value.testOnly);
      }
      case 'callExpr':
        return this.call(e, k.value.function, k.value.target, k.value.args);
      case 'listExpr': {
        let elem: Ty | undefined;
        for (const el of k.value.elements) {
          const t = this.check(el);
          elem = elem === undefined ? t : join(elem, t);
        }
        return T.list(elem ?? T.dyn);
      }
      case 'structExpr': {
        if (k.value.messageName !== '') this.fail(e, `message construction is not supported ('${k.value.messageName}')`);
        let key: Ty | undefined;
        let value: Ty | undefined;
        for (const entry of k.value.entries) {
          if (entry.keyKind.case !== 'mapKey') this.fail(e, 'map literal with a field key');
          const kt = this.check(entry.keyKind.value);
          if (entry.value === undefined) this.fail(e, 'map entry without value');
          const vt = this.check(entry.value);
          key = key === undefined ? kt : join(key, kt);
          value = value === undefined ? vt : join(value, vt);
        }
        return T.map(key ?? T.dyn, value ?? T.dyn);
      }
      case 'comprehensionExpr': {
        const c = k.value;
        if (c.iterRange === undefined || c.accuInit === undefined || c.loopCondition === undefined || c.loopStep === undefined || c.result === undefined) {
          this.fail(e, 'incomplete comprehension');
        }
        const range = this.check(c.iterRange);
        const [iterT, iter2T] = this.iteration(c.iterRange, range);
        const accuT = this.check(c.accuInit);
        const loop = new Map<string, Ty>([[c.accuVar, accuT], [c.iterVar, iterT]]);
        if (c.iterVar2 !== '') loop.set(c.iterVar2, iter2T);
        this.scopes.push(loop);
        try {
          this.expectBool(c.loopCondition, this.check(c.loopCondition), 'loop condition');
          this.check(c.loopStep);
        } finally {
          this.scopes.pop();
        }
        this.scopes.push(new Map([[c.accuVar, accuT]]));
        try {
          return this.check(c.result);
        } finally {
          this.scopes.pop();
        }
      }
      default:
        this.fail(e, 'empty expression');
    }
  }

  private declaredHint(): string {
    const names = [...(this.scopes[0]?.keys() ?? [])].sort();
    return names.length > 0 ? ` (declared: ${names.join(', ')})` : '';
  }

  private iteration(e: Expr, range: Ty): [Ty, Ty] {
    const r = range.kind === 'nullable' ? range.of : range;
    switch (r.kind) {
      case 'dyn':
        return [T.dyn, T.dyn];
      case 'list':
        return [r.elem, r.elem];
      case 'map':
        return [r.key, r.value];
      case 'record':
        return [T.string, T.dyn];
      default:
        this.fail(e, `cannot iterate over '${tyToString(range)}' (a list or map is needed)`);
    }
  }

  private expectBool(e: Expr, t: Ty, what: string): void {
    if (!fits(t, T.bool)) this.fail(e, `${what} must be bool, found '${tyToString(t)}'`);
  }

  private select(e: Expr, operand: Ty, field: string, testOnly: boolean): Ty {
    const o = operand.kind === 'nullable' ? operand.of : operand;
    switch (o.kind) {
      case 'dyn':
        return testOnly ? T.bool : T.dyn;
      case 'record': {
        const f = o.fields.get(field);
        if (testOnly) return T.bool;
        if (f === undefined) {
          this.fail(e, `undefined field '${field}' on ${o.name} (fields: ${[...o.fields.keys()].join(', ')}; use has() and ["${field}"] for fields outside the fixed trace shape)`);
        }
        return f;
      }
      case 'map':
        if (!fits(T.string, o.key)) this.fail(e, `map with key '${tyToString(o.key)}' has no fields`);
        return testOnly ? T.bool : o.value;
      default:
        this.fail(e, `type '${tyToString(operand)}' has no field '${field}'`);
    }
  }

  private call(e: Expr, fn: string, target: Expr | undefined, argExprs: readonly Expr[]): Ty {
    // Namespaced global functions (`strings.quote(x)`) parse as a call on an identifier.
    if (target !== undefined && target.exprKind.case === 'identExpr' && this.lookup(target.exprKind.value.name) === undefined) {
      const qualified = `${target.exprKind.value.name}.${fn}`;
      if (this.overloads.has(qualified)) return this.call(e, qualified, undefined, argExprs);
    }
    const targetT = target === undefined ? undefined : this.check(target);
    const args = argExprs.map((a) => this.check(a));
    const at = (i: number): Expr => argExprs[i] ?? e;
    switch (fn) {
      case '_&&_':
      case '_||_':
        args.forEach((t, i) => this.expectBool(at(i), t, `operand of ${fn === '_&&_' ? '&&' : '||'}`));
        return T.bool;
      case '@not_strictly_false':
        return T.bool;
      case '_?_:_': {
        const [c, a, b] = args;
        if (c === undefined || a === undefined || b === undefined) this.fail(e, 'malformed conditional');
        this.expectBool(at(0), c, 'condition of ?:');
        return join(a, b);
      }
      case '_[_]': {
        const [c, i] = args;
        if (c === undefined || i === undefined) this.fail(e, 'malformed index');
        return this.index(e, c, i, argExprs[1]);
      }
      case '_==_':
      case '_!=_': {
        const [a, b] = args;
        if (a !== undefined && b !== undefined && !comparable(a, b)) {
          this.fail(e, `found no matching overload for '${fn}' applied to '(${tyToString(a)}, ${tyToString(b)})'`);
        }
        return T.bool;
      }
      case '@in': {
        const [a, c] = args;
        if (a !== undefined && c !== undefined) {
          const cc = c.kind === 'nullable' ? c.of : c;
          const ok =
            cc.kind === 'dyn' ||
            (cc.kind === 'list' && comparable(a, cc.elem)) ||
            (cc.kind === 'map' && comparable(a, cc.key)) ||
            (cc.kind === 'record' && comparable(a, T.string));
          if (!ok) this.fail(e, `found no matching overload for 'in' applied to '(${tyToString(a)}, ${tyToString(c)})'`);
        }
        return T.bool;
      }
    }
    const candidates = (this.overloads.get(fn) ?? []).filter((o) => (o.target !== undefined) === (targetT !== undefined));
    if (candidates.length === 0) {
      const other = (this.overloads.get(fn) ?? []).length > 0;
      if (other) this.fail(e, targetT === undefined ? `'${fn}' is a method, call it as x.${fn}(...)` : `'${fn}' is a function, call it as ${fn}(...)`);
      this.fail(e, `undeclared reference to function '${fn}'`);
    }
    const sameArity = candidates.filter((o) => o.args.length === args.length);
    const matching = sameArity.filter(
      (o) => (o.target === undefined || targetT === undefined || fits(targetT, o.target)) && o.args.every((p, i) => fits(args[i] ?? T.dyn, p)),
    );
    if (matching.length === 0) {
      const shown = [targetT, ...args].filter((t): t is Ty => t !== undefined).map(tyToString).join(', ');
      this.fail(e, `found no matching overload for '${displayName(fn)}' applied to '(${shown})'`);
    }
    const first = matching[0];
    if (first === undefined) this.fail(e, 'unreachable');
    return matching.every((o) => tyToString(o.result) === tyToString(first.result)) ? first.result : T.dyn;
  }

  private index(e: Expr, container: Ty, idx: Ty, idxExpr: Expr | undefined): Ty {
    const c = container.kind === 'nullable' ? container.of : container;
    switch (c.kind) {
      case 'dyn':
        return T.dyn;
      case 'list':
        if (!fits(idx, T.int) && !fits(idx, T.uint)) this.fail(e, `list index must be int, found '${tyToString(idx)}'`);
        return c.elem;
      case 'map':
        if (!comparable(idx, c.key)) this.fail(e, `map key must be '${tyToString(c.key)}', found '${tyToString(idx)}'`);
        return c.value;
      case 'record': {
        if (!fits(idx, T.string)) this.fail(e, `${c.name} key must be string, found '${tyToString(idx)}'`);
        // A constant key naming a declared field keeps the field's type; any other key is dyn.
        const k = idxExpr?.exprKind;
        if (k?.case === 'constExpr' && k.value.constantKind.case === 'stringValue') {
          return c.fields.get(k.value.constantKind.value) ?? T.dyn;
        }
        return T.dyn;
      }
      default:
        this.fail(e, `type '${tyToString(container)}' cannot be indexed`);
    }
  }
}

function displayName(fn: string): string {
  const ops: Record<string, string> = {
    '_+_': '+',
    '_-_': '-',
    '_*_': '*',
    '_/_': '/',
    '_%_': '%',
    '-_': 'unary -',
    '!_': '!',
    '_<_': '<',
    '_<=_': '<=',
    '_>_': '>',
    '_>=_': '>=',
  };
  return ops[fn] ?? fn;
}

// ---------------------------------------------------------------------------------------
// Compilation

export interface CompiledExpr {
  readonly source: string;
  readonly parsed: ParsedExpr;
  readonly type: Ty;
}

export interface PolicyEnv {
  readonly env: CelEnv;
  readonly overloads: ReadonlyMap<string, readonly Overload[]>;
}

/** The environment every policy expression is checked against and evaluated in. */
export function createPolicyEnv(): PolicyEnv {
  const env = celEnv({ funcs: [...strings, ...TRACEBUILD_CEL_FUNCS, ...BOUNDED_CEL_FUNCS, ...COST_FUNCS] });
  const overloads = new Map<string, Overload[]>();
  for (const f of env.funcs) {
    const list = overloads.get(f.name) ?? [];
    list.push({ target: f.target === undefined ? undefined : fromCelType(f.target), args: f.arguments.map(fromCelType), result: fromCelType(f.result) });
    overloads.set(f.name, list);
  }
  return { env, overloads };
}

/**
 * Parses and type-checks one expression. Throws `Error` (syntax, from @bufbuild/cel) or
 * `CelCheckError` (types); callers wrap either into a PolicyError.
 */
export function compileExpr(penv: PolicyEnv, source: string, variables: ReadonlyMap<string, Ty>): CompiledExpr {
  const parsed = parse(source);
  const positions = (parsed.sourceInfo?.positions ?? {}) as Readonly<Record<string, number>>;
  const type = new Checker(source, positions, penv.overloads, variables).check(parsed.expr);
  return { source, parsed, type };
}

// ---------------------------------------------------------------------------------------
// Values

/**
 * JSON value -> CEL input. Integral numbers become CEL `int` (bigint) so that `line == 3`
 * and `lostEvents + 1` behave as integers; other numbers stay `double`. Undefined object
 * members are dropped (absent, as in JSON).
 */
export function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object': {
      if (Array.isArray(value)) return value.map(toCel);
      const out: { [key: string]: CelInput } = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined) out[k] = toCel(v);
      }
      return out;
    }
    default:
      return null;
  }
}

/** The static type of a JSON value (used for policy `params`). */
export function inferTy(value: unknown, name: string): Ty {
  if (value === null || value === undefined) return T.null;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? T.int : T.double;
    case 'string':
      return T.string;
    case 'boolean':
      return T.bool;
    case 'object': {
      if (Array.isArray(value)) {
        let elem: Ty | undefined;
        value.forEach((v, i) => {
          const t = inferTy(v, `${name}[${i}]`);
          elem = elem === undefined ? t : join(elem, t);
        });
        return T.list(elem ?? T.dyn);
      }
      const fields: Record<string, Ty> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) fields[k] = inferTy(v, `${name}.${k}`);
      return T.record(name, fields);
    }
    default:
      return T.dyn;
  }
}

// ---------------------------------------------------------------------------------------
// The trace vocabulary as CEL types (trace-types.ts). Nullable numbers that may be
// fractional are `dyn` (int or double at run time).

const PROCESS = T.record('process', {
  pid: T.int,
  ppid: T.int,
  argv: T.list(T.string),
  exe: T.string,
  exeSha256: T.nullable(T.string),
  exitCode: T.nullable(T.int),
  startedOn: T.string,
  finishedOn: T.nullable(T.string),
});

const PEER = T.record('peer', {
  protocol: T.string,
  address: T.string,
  port: T.int,
  direction: T.string,
  bytesSent: T.int,
  bytesReceived: T.int,
});

const FILES = T.record('files', {
  created: T.list(T.string),
  modified: T.list(T.string),
  deleted: T.list(T.string),
  renamed: T.list(T.record('rename', { from: T.string, to: T.string })),
  read: T.list(T.string),
});

/** One file change as bound to `file` in `each: files` rules. */
const FILE = T.record('file', {
  change: T.string,
  path: T.string,
  from: T.string,
  paths: T.list(T.string),
});

const STEP = T.record('step', {
  index: T.int,
  instruction: T.string,
  line: T.int,
  stage: T.dyn,
  vertex: T.string,
  cached: T.bool,
  startedOn: T.nullable(T.string),
  finishedOn: T.nullable(T.string),
  processes: T.list(PROCESS),
  files: FILES,
  network: T.list(PEER),
  resources: T.nullable(T.record('resources', { wallMs: T.dyn, cpuUserMs: T.dyn, cpuSystemMs: T.dyn, maxRssKb: T.dyn })),
  lostEvents: T.int,
});

const IMAGE = T.record('image', { name: T.string, digest: T.string });

export const TRACE_TYPES = { step: STEP, image: IMAGE, process: PROCESS, file: FILE, peer: PEER } as const;
