// Trace policies: YAML rules whose `deny` CEL expressions are evaluated against every build
// step of a runtime trace (see POLICY.md). Pure: text in, rules out; trace in, violations
// out. Reading files and printing belong to the CLI.

import { celError, isCelError, plan, type CelResult } from '@bufbuild/cel';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import {
  CelCheckError,
  TRACE_TYPES,
  compileExpr,
  createPolicyEnv,
  inferTy,
  toCel,
  tyToString,
  T,
  fits,
  type CompiledExpr,
  type PolicyEnv,
  type Ty,
} from './policy-cel.js';
import type { ImageRef } from './statement.js';
import { CostMeter, DEFAULT_POLICY_LIMITS, instrumentForCost, withMeter, type PolicyLimits } from './policy-cost.js';
import type { Trace, TraceBuildStep, TraceNetwork, TraceProcess } from '../model/index.js';
import { PolicyError, type PolicyErrorCode } from './policy-error.js';
import { parseEnforcement, type Enforcement } from './enforce.js';

export { PolicyError, isPolicyError, type PolicyErrorCode } from './policy-error.js';

// ---------------------------------------------------------------------------------------
// Types

/** What a rule iterates over: the step itself, or each process / file change / peer. */
export type PolicyRuleScope = 'step' | 'processes' | 'files' | 'network';

export const POLICY_RULE_SCOPES: readonly PolicyRuleScope[] = ['step', 'processes', 'files', 'network'];

export interface PolicyRule {
  readonly name: string;
  readonly description: string | undefined;
  /** `step` when the YAML has no `each`. */
  readonly each: PolicyRuleScope;
  /** CEL, bool: true means the step (or item) violates the rule. */
  readonly deny: string;
  readonly message: string;
  /** CEL, string: replaces `message` when present. */
  readonly messageExpression: string | undefined;
  /** 1-based line of the rule in the policy file. */
  readonly line: number;
}

export interface Policy {
  readonly file: string;
  readonly name: string | undefined;
  readonly description: string | undefined;
  /** JSON values bound to `params` in every expression. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly rules: readonly PolicyRule[];
  /** The `enforce:` list (attest/enforce.ts), applied by `build --enforce` while the
   * build runs; undefined when the file has none. */
  readonly enforcement: Enforcement | undefined;
}

/** The build step a violation is about. `index` is 0-based in `trace.buildSteps`. */
export interface ViolationStep {
  readonly index: number;
  readonly line: number;
  readonly instruction: string;
  /** Stage name, or its index as a string (model/trace.ts). */
  readonly stage: string;
}

export type Evidence =
  | {
      readonly kind: 'process';
      readonly exe: string;
      readonly sha256: string | null;
      readonly pid: number;
      readonly argv: readonly string[];
    }
  | {
      readonly kind: 'file';
      readonly change: FileChangeKind;
      readonly path: string;
      /** Old path, for renames only. */
      readonly from?: string;
    }
  | {
      readonly kind: 'network';
      readonly protocol: string;
      readonly address: string;
      readonly port: number;
      readonly direction: string;
    }
  | {
      readonly kind: 'step';
      readonly vertex: string;
      readonly cached: boolean;
      readonly lostEvents: number;
    };

export type FileChangeKind = 'created' | 'modified' | 'deleted' | 'renamed';

export interface Violation {
  readonly rule: string;
  readonly message: string;
  readonly step: ViolationStep;
  /** The offending items (for `each` rules), or the step itself (for step rules). */
  readonly evidence: readonly Evidence[];
}

// ---------------------------------------------------------------------------------------
// Parsing

const POLICY_KEYS = new Set(['name', 'description', 'params', 'rules', 'enforce']);
const RULE_KEYS = new Set(['name', 'description', 'each', 'deny', 'message', 'messageExpression']);
const ITEM_VARIABLE: Record<Exclude<PolicyRuleScope, 'step'>, 'process' | 'file' | 'peer'> = {
  processes: 'process',
  files: 'file',
  network: 'peer',
};

interface CompiledRule {
  readonly rule: PolicyRule;
  readonly deny: (bindings: Record<string, unknown>) => CelResult;
  readonly message: ((bindings: Record<string, unknown>) => CelResult) | undefined;
}

const compiledPolicies = new WeakMap<Policy, readonly CompiledRule[]>();
let sharedEnv: PolicyEnv | undefined;

function policyEnv(): PolicyEnv {
  sharedEnv ??= createPolicyEnv();
  return sharedEnv;
}

/** The evaluator of a checked expression, rewritten to charge the running CostMeter. */
function planMetered(penv: PolicyEnv, compiled: CompiledExpr): CompiledRule['deny'] {
  return plan(penv.env, instrumentForCost(compiled.parsed.expr)) as CompiledRule['deny'];
}

/** Variables in scope for a rule iterating over `each`. */
function ruleVariables(each: PolicyRuleScope, paramsTy: Ty): Map<string, Ty> {
  const vars = new Map<string, Ty>([
    ['step', TRACE_TYPES.step],
    ['image', TRACE_TYPES.image],
    ['params', paramsTy],
  ]);
  if (each !== 'step') vars.set(ITEM_VARIABLE[each], TRACE_TYPES[ITEM_VARIABLE[each]]);
  return vars;
}

/**
 * Parses a policy document and compiles every rule. Throws PolicyError: `invalid-policy`
 * for YAML or structure problems, `invalid-rule` for CEL that does not parse or type-check.
 * Messages start with `fileName:line` and name the rule.
 */
export function parsePolicy(yamlText: string, fileName: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, uniqueKeys: true, prettyErrors: true });
  function where(node: YamlNode | null | undefined): string {
    const offset = node?.range?.[0];
    return offset === undefined ? fileName : `${fileName}:${lineCounter.linePos(offset).line}`;
  }
  function invalid(node: YamlNode | null | undefined, message: string, rule?: string): never {
    throw new PolicyError('invalid-policy', `${where(node)}: ${rule === undefined ? '' : `rule '${rule}': `}${message}`, {
      file: fileName,
      ...(rule === undefined ? {} : { rule }),
    });
  }

  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    throw new PolicyError('invalid-policy', `${fileName}: invalid YAML: ${yamlError.message}`, { file: fileName, cause: yamlError });
  }
  const root = doc.contents;
  if (!isMap(root)) invalid(root, 'a policy must be a YAML mapping with a "rules" list');
  // Checked here too, so that a file `verify --policy` accepts is one `build --enforce` takes.
  const enforcement = parseEnforcement(yamlText, fileName);

  let name: string | undefined;
  let description: string | undefined;
  let params: Record<string, unknown> = {};
  let rulesNode: YamlNode | null = null;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const valueNode = pair.value as YamlNode | null;
    if (typeof key !== 'string' || !POLICY_KEYS.has(key)) {
      invalid(pair.key as YamlNode, `unknown key ${JSON.stringify(String(key))} (expected ${[...POLICY_KEYS].join(', ')})`);
    }
    if (key === 'name' || key === 'description') {
      if (!isScalar(valueNode) || typeof valueNode.value !== 'string') invalid(valueNode ?? (pair.key as YamlNode), `"${key}" must be a string`);
      const v = (valueNode as { value: string }).value;
      if (key === 'name') name = v;
      else description = v;
    } else if (key === 'params') {
      if (!isMap(valueNode)) invalid(valueNode ?? (pair.key as YamlNode), '"params" must be a mapping');
      params = (valueNode as YamlNode).toJSON() as Record<string, unknown>;
    } else if (key === 'rules') {
      rulesNode = valueNode;
    }
  }
  if (rulesNode === null && enforcement === undefined) invalid(root, 'missing "rules" (a list of { name, deny, message }) or "enforce"');
  if (rulesNode !== null && !isSeq(rulesNode)) invalid(rulesNode, '"rules" must be a list of { name, deny, message }');

  const paramsTy = inferTy(params, 'params');
  const penv = policyEnv();
  const rules: PolicyRule[] = [];
  const compiled: CompiledRule[] = [];
  const seen = new Set<string>();
  (isSeq(rulesNode) ? rulesNode.items : []).forEach((item, i) => {
    const node = item as YamlNode | null;
    if (!isMap(node)) return invalid(node, `rules[${i}] must be a mapping with name, deny and message`);
    const raw: Record<string, unknown> = {};
    const valueNodes: Record<string, YamlNode> = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' || !RULE_KEYS.has(key)) {
        const named = node.get('name');
        invalid(pair.key as YamlNode, `unknown key ${JSON.stringify(String(key))} (expected ${[...RULE_KEYS].join(', ')})`, typeof named === 'string' ? named : undefined);
      }
      const v = pair.value as YamlNode | null;
      raw[key as string] = isScalar(v) ? v.value : v === null ? null : v.toJSON();
      if (v !== null) valueNodes[key as string] = v;
    }
    const ruleName = raw.name;
    if (typeof ruleName !== 'string' || ruleName.trim() === '') return invalid(node, `rules[${i}] needs a "name" (a non-empty string)`);
    if (seen.has(ruleName)) return invalid(node, `duplicate rule name`, ruleName);
    seen.add(ruleName);
    for (const field of ['deny', 'message'] as const) {
      if (raw[field] === undefined) invalid(node, `missing "${field}"`, ruleName);
      if (typeof raw[field] !== 'string' || (raw[field] as string).trim() === '') invalid(valueNodes[field] ?? node, `"${field}" must be a non-empty string`, ruleName);
    }
    for (const field of ['description', 'messageExpression', 'each'] as const) {
      if (raw[field] !== undefined && typeof raw[field] !== 'string') invalid(valueNodes[field] ?? node, `"${field}" must be a string`, ruleName);
    }
    const each = (raw.each ?? 'step') as string;
    if (!(POLICY_RULE_SCOPES as readonly string[]).includes(each)) {
      invalid(valueNodes.each ?? node, `"each" must be one of ${POLICY_RULE_SCOPES.join(', ')}, got ${JSON.stringify(each)}`, ruleName);
    }
    const rule: PolicyRule = {
      name: ruleName,
      description: raw.description as string | undefined,
      each: each as PolicyRuleScope,
      deny: raw.deny as string,
      message: raw.message as string,
      messageExpression: raw.messageExpression as string | undefined,
      line: lineCounter.linePos(node.range?.[0] ?? 0).line,
    };
    const vars = ruleVariables(rule.each, paramsTy);
    const compileField = (field: 'deny' | 'messageExpression', source: string, want: Ty): CompiledExpr => {
      let c: CompiledExpr;
      try {
        c = compileExpr(penv, source, vars);
      } catch (err) {
        const kind = err instanceof CelCheckError ? 'type error' : 'syntax error';
        const detail = err instanceof Error ? err.message.replace(/^<input>:/, '') : String(err);
        throw new PolicyError('invalid-rule', `${where(valueNodes[field] ?? node)}: rule '${ruleName}': ${field}: CEL ${kind} at ${detail}`, {
          file: fileName,
          rule: ruleName,
          cause: err,
        });
      }
      if (!fits(c.type, want)) {
        throw new PolicyError(
          'invalid-rule',
          `${where(valueNodes[field] ?? node)}: rule '${ruleName}': ${field} must evaluate to ${tyToString(want)}, but its type is ${tyToString(c.type)}`,
          { file: fileName, rule: ruleName },
        );
      }
      return c;
    };
    const deny = compileField('deny', rule.deny, T.bool);
    const message = rule.messageExpression === undefined ? undefined : compileField('messageExpression', rule.messageExpression, T.string);
    rules.push(rule);
    compiled.push({
      rule,
      deny: planMetered(penv, deny),
      message: message === undefined ? undefined : planMetered(penv, message),
    });
  });

  const policy: Policy = { file: fileName, name, description, params, rules, enforcement };
  compiledPolicies.set(policy, compiled);
  return policy;
}

/** Rebuilds the compiled form of a Policy that did not come from parsePolicy (e.g. a copy). */
function compiledRulesOf(policy: Policy): readonly CompiledRule[] {
  const known = compiledPolicies.get(policy);
  if (known !== undefined) return known;
  const penv = policyEnv();
  const paramsTy = inferTy(policy.params, 'params');
  const out = policy.rules.map((rule): CompiledRule => {
    const vars = ruleVariables(rule.each, paramsTy);
    try {
      const deny = compileExpr(penv, rule.deny, vars);
      const message = rule.messageExpression === undefined ? undefined : compileExpr(penv, rule.messageExpression, vars);
      return {
        rule,
        deny: planMetered(penv, deny),
        message: message === undefined ? undefined : planMetered(penv, message),
      };
    } catch (err) {
      throw new PolicyError('invalid-rule', `${policy.file}: rule '${rule.name}': ${err instanceof Error ? err.message : String(err)}`, {
        file: policy.file,
        rule: rule.name,
        cause: err,
      });
    }
  });
  compiledPolicies.set(policy, out);
  return out;
}

// ---------------------------------------------------------------------------------------
// Evaluation

interface Item {
  readonly value: unknown;
  readonly evidence: Evidence;
}

function processEvidence(p: TraceProcess): Evidence {
  return { kind: 'process', exe: p.exe, sha256: p.exeSha256 ?? null, pid: p.pid, argv: [...(p.argv ?? [])] };
}

function networkEvidence(n: TraceNetwork): Evidence {
  return { kind: 'network', protocol: n.protocol, address: n.address, port: n.port, direction: n.direction };
}

/** The file changes of a step, in the order created, modified, deleted, renamed. */
export function fileChanges(step: TraceBuildStep): { change: FileChangeKind; path: string; from?: string }[] {
  const f = step.files;
  const out: { change: FileChangeKind; path: string; from?: string }[] = [];
  for (const change of ['created', 'modified', 'deleted'] as const) {
    for (const path of f?.[change] ?? []) out.push({ change, path });
  }
  for (const r of f?.renamed ?? []) out.push({ change: 'renamed', path: r.to, from: r.from });
  return out;
}

function itemsOf(step: TraceBuildStep, each: Exclude<PolicyRuleScope, 'step'>): Item[] {
  switch (each) {
    case 'processes':
      return (step.processes ?? []).map((p) => ({ value: p, evidence: processEvidence(p) }));
    case 'network':
      return (step.network ?? []).map((n) => ({ value: n, evidence: networkEvidence(n) }));
    case 'files':
      return fileChanges(step).map((c) => ({
        value: { change: c.change, path: c.path, from: c.from ?? '', paths: c.from === undefined ? [c.path] : [c.from, c.path] },
        evidence: c.from === undefined ? { kind: 'file', change: c.change, path: c.path } : { kind: 'file', change: c.change, path: c.path, from: c.from },
      }));
  }
}

function describeItem(e: Evidence): string {
  switch (e.kind) {
    case 'process':
      return `process ${e.exe} (pid ${e.pid})`;
    case 'file':
      return `file ${e.change} ${e.from === undefined ? e.path : `${e.from} -> ${e.path}`}`;
    case 'network':
      return `${e.protocol} ${e.direction} ${e.address}:${e.port}`;
    case 'step':
      return 'the step';
  }
}

/** The evaluator reports errors as values; this also turns a thrown exception into one. */
function callSafely(f: (bindings: Record<string, unknown>) => CelResult, bindings: Record<string, unknown>): CelResult {
  try {
    return f(bindings);
  } catch (err) {
    return celError(err);
  }
}

function celTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'object') return 'list or map';
  return typeof v;
}

/**
 * Evaluates every rule against every build step, in trace order, then rule order, then item
 * order. For `each` rules, offending items that produce the same message are reported as
 * one violation whose evidence lists them all. Throws PolicyError `evaluation-error` when
 * an expression fails at run time, `evaluation-limit` when it spends more than `limits`
 * allow (fail closed: a policy that cannot be evaluated does not pass).
 */
export function evaluatePolicy(policy: Policy, trace: Trace, image: ImageRef, limits: PolicyLimits = DEFAULT_POLICY_LIMITS): Violation[] {
  const compiled = compiledRulesOf(policy);
  const meter = new CostMeter(limits, Date.now() + limits.deadlineMs);
  return withMeter(meter, () => evaluateMetered(policy, compiled, trace, image, meter));
}

function evaluateMetered(policy: Policy, compiled: readonly CompiledRule[], trace: Trace, image: ImageRef, meter: CostMeter): Violation[] {
  function fail(message: string, rule?: string, cause?: unknown, code: PolicyErrorCode = 'evaluation-error'): never {
    throw new PolicyError(code, `${policy.file}: ${message}`, {
      file: policy.file,
      ...(rule === undefined ? {} : { rule }),
      ...(cause === undefined ? {} : { cause }),
    });
  }
  if (trace === null || typeof trace !== 'object' || !Array.isArray(trace.buildSteps)) {
    fail('the trace has no buildSteps list');
  }
  const imageValue = toCel({ name: image.name, digest: image.digest });
  const paramsValue = toCel(policy.params);
  const violations: Violation[] = [];

  trace.buildSteps.forEach((step, index) => {
    if (step === null || typeof step !== 'object') fail(`buildSteps[${index}] is not an object`);
    const stepRef: ViolationStep = { index, line: step.line, instruction: step.instruction, stage: step.stage };
    const stepValue = toCel({ ...step, index });
    const at = `Dockerfile:${step.line} ${JSON.stringify(step.instruction)} (step ${index})`;

    for (const { rule, deny, message } of compiled) {
      const run = (bindings: Record<string, unknown>, item: Evidence | undefined): string | undefined => {
        const what = item === undefined ? '' : ` on ${describeItem(item)}`;
        const metered = (f: CompiledRule['deny'], field: string): CelResult => {
          meter.reset();
          const value = meter.expired() ? undefined : callSafely(f, bindings);
          if (meter.exceeded !== undefined) {
            fail(`rule '${rule.name}': ${field}: ${meter.exceeded} at ${at}${what}; the trace was not judged`, rule.name, undefined, 'evaluation-limit');
          }
          return value!;
        };
        const result = metered(deny, 'deny');
        if (isCelError(result)) return fail(`rule '${rule.name}' failed at ${at}${what}: ${result.message}`, rule.name, result);
        if (typeof result !== 'boolean') {
          return fail(`rule '${rule.name}' returned ${celTypeName(result)} at ${at}${what}; deny must be bool`, rule.name);
        }
        if (!result) return undefined;
        if (message === undefined) return rule.message;
        const text = metered(message, 'messageExpression');
        if (isCelError(text)) return fail(`rule '${rule.name}': messageExpression failed at ${at}${what}: ${text.message}`, rule.name, text);
        if (typeof text !== 'string') return fail(`rule '${rule.name}': messageExpression returned ${celTypeName(text)} at ${at}${what}; expected string`, rule.name);
        return text;
      };
      const base = { step: stepValue, image: imageValue, params: paramsValue };

      if (rule.each === 'step') {
        const text = run(base, undefined);
        if (text !== undefined) {
          violations.push({
            rule: rule.name,
            message: text,
            step: stepRef,
            evidence: [{ kind: 'step', vertex: step.vertex, cached: step.cached, lostEvents: step.lostEvents }],
          });
        }
        continue;
      }
      const variable = ITEM_VARIABLE[rule.each];
      const grouped = new Map<string, Evidence[]>();
      for (const item of itemsOf(step, rule.each)) {
        const text = run({ ...base, [variable]: toCel(item.value) }, item.evidence);
        if (text === undefined) continue;
        const list = grouped.get(text);
        if (list === undefined) grouped.set(text, [item.evidence]);
        else list.push(item.evidence);
      }
      for (const [text, evidence] of grouped) violations.push({ rule: rule.name, message: text, step: stepRef, evidence });
    }
  });
  return violations;
}

/** One line per violation: `Dockerfile:LINE INSTRUCTION: rule: message [evidence]`. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations
    .map((v) => {
      const ev = v.evidence
        .filter((e) => e.kind !== 'step')
        .map((e) => {
          switch (e.kind) {
            case 'process':
              return `${e.exe} sha256:${e.sha256 ?? '(unknown)'}`;
            case 'file':
              return e.from === undefined ? `${e.change} ${e.path}` : `renamed ${e.from} -> ${e.path}`;
            case 'network':
              return `${e.protocol} ${e.direction} ${e.address}:${e.port}`;
            default:
              return '';
          }
        });
      return `Dockerfile:${v.step.line} ${v.step.instruction}: ${v.rule}: ${v.message}${ev.length > 0 ? ` [${ev.join(', ')}]` : ''}\n`;
    })
    .join('');
}
