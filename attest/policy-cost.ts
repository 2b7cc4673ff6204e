// What a policy may spend judging a trace. A trace is partly the attacker's (paths and
// argv come from the build) and a policy may be careless, so evaluation has a cost budget
// per expression and a deadline per policy, the way CEL implementations meter evaluation
// (cel-go's runtime cost tracking): the guard must refuse, not stall.
//
// How cost is counted: @bufbuild/cel (0.6) has no cost tracking, so every compiled
// expression is rewritten before it is planned: the result of every call (operators
// included), the arguments of ordinary calls and the range of every comprehension
// (`all`, `exists`, `map`, `filter`) pass through an identity function that charges the
// running meter 1 plus the value's size (a string per 10 characters, a list or map per
// element). A comprehension is thus charged its range each time it starts, a string
// operation the size of what it reads and makes, and a loop body its calls. Functions
// that work harder than their values show (a glob, a regex, `replace`) charge themselves.
//
// A meter that runs out stays out: later charges fail too, so CEL's error absorption
// (`true || error`) cannot turn an exhausted evaluation into a verdict; the caller checks
// `exceeded` after every evaluation.

import { CelScalar, celFunc, isCelList, isCelMap, type CelFunc } from '@bufbuild/cel';
import type { parse } from '@bufbuild/cel';

export interface PolicyLimits {
  /** Cost units one expression may spend on one step or item (see the file comment). */
  readonly costPerEvaluation: number;
  /** Milliseconds the whole policy may take on one trace. */
  readonly deadlineMs: number;
}

/** 1,000,000 units per evaluation, as Kubernetes gives a CEL validation rule; 60 s per
 * trace. Typical rules spend tens of units per item. */
export const DEFAULT_POLICY_LIMITS: PolicyLimits = { costPerEvaluation: 1_000_000, deadlineMs: 60_000 };

/** Longest `matches()` pattern (RE2 syntax) a policy may use, in characters. */
export const MAX_REGEX_LENGTH = 4096;
/** Longest string `replace()` may make, in characters. */
export const MAX_REPLACED_LENGTH = 16 * 1024 * 1024;

export class CostMeter {
  /** Why evaluation was stopped, once it was. */
  exceeded: string | undefined;
  private spent = 0;
  private calls = 0;

  constructor(
    private readonly limits: PolicyLimits,
    private readonly deadline: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the budget of one evaluation (the deadline runs on). */
  reset(): void {
    this.spent = 0;
  }

  charge(units: number): void {
    if (this.exceeded !== undefined) throw new Error(this.exceeded);
    this.spent += units;
    if (this.spent > this.limits.costPerEvaluation) {
      this.exceeded = `evaluation exceeded its cost limit of ${this.limits.costPerEvaluation} units`;
      throw new Error(this.exceeded);
    }
    if ((++this.calls & 0xff) === 0 && this.expired()) throw new Error(this.exceeded);
  }

  /** Whether the deadline has passed (then `exceeded` says so). */
  expired(): boolean {
    if (this.exceeded === undefined && this.now() > this.deadline) {
      this.exceeded = `evaluation exceeded its time limit of ${this.limits.deadlineMs} ms`;
    }
    return this.exceeded !== undefined;
  }
}

// Evaluation is synchronous, so the meter of the evaluation under way can live here: the
// functions CEL calls find it without being handed it.
let activeMeter: CostMeter | undefined;

/** Runs `evaluate` with `meter` charged by every instrumented expression. */
export function withMeter<T>(meter: CostMeter, evaluate: () => T): T {
  const previous = activeMeter;
  activeMeter = meter;
  try {
    return evaluate();
  } finally {
    activeMeter = previous;
  }
}

/** Charges the running evaluation, if any (a function that works harder than its values
 * show calls this). */
export function chargeActiveMeter(units: number): void {
  activeMeter?.charge(units);
}

/** Cost units of a value: 1, plus a string's length / 10, plus a list's or map's size. */
export function sizeUnits(value: unknown): number {
  if (typeof value === 'string') return 1 + Math.floor(value.length / 10);
  if (value instanceof Uint8Array) return 1 + Math.floor(value.length / 10);
  if (isCelList(value)) return 1 + value.size;
  if (isCelMap(value)) return 1 + value.size;
  return 1;
}

/** The identity function every instrumented expression goes through. The name cannot be
 * written in CEL source, so a policy cannot call it. */
export const CHARGE_FUNCTION = '@tracebuild.charge';

export const COST_FUNCS: readonly CelFunc[] = [
  celFunc(CHARGE_FUNCTION, [CelScalar.DYN], CelScalar.DYN, (value: unknown) => {
    chargeActiveMeter(sizeUnits(value));
    return value as never;
  }),
];

// ---------------------------------------------------------------------------------------
// The rewrite

type Expr = ReturnType<typeof parse>['expr'];

/** Calls whose arguments the planner treats specially (short-circuit, attributes, field
 * names): their arguments are left as they are; their results are still charged. */
const SPECIAL_FORMS = new Set(['_[_]', '_[?_]', '_?._', '_?_:_', '_&&_', '_||_', '@not_strictly_false', 'not_strictly_false']);

/** Rewrites a parsed expression so that evaluating it charges the active meter. Ids of the
 * added nodes start above every id in the expression. */
export function instrumentForCost(expr: Expr): Expr {
  let nextId = maxId(expr) + 1n;
  const charged = (inner: Expr): Expr =>
    ({
      $typeName: 'cel.expr.Expr',
      id: nextId++,
      exprKind: {
        case: 'callExpr',
        value: { $typeName: 'cel.expr.Expr.Call', function: CHARGE_FUNCTION, args: [inner] },
      },
    }) as unknown as Expr;

  const visit = (e: Expr): Expr => {
    const k = e.exprKind;
    switch (k.case) {
      case 'callExpr': {
        const call = k.value;
        const special = SPECIAL_FORMS.has(call.function);
        const args = call.args.map((a) => (special ? visit(a) : charged(visit(a))));
        // a target that is a name (`strings.quote`, `step.x`) may be a namespace: keep its shape
        const target = call.target === undefined ? undefined : isName(call.target) ? call.target : charged(visit(call.target));
        const rebuilt = { ...e, exprKind: { case: 'callExpr', value: { ...call, args, ...(target === undefined ? {} : { target }) } } } as Expr;
        return charged(rebuilt);
      }
      case 'selectExpr': {
        const operand = k.value.operand;
        if (operand === undefined) return e;
        return { ...e, exprKind: { case: 'selectExpr', value: { ...k.value, operand: visit(operand) } } } as Expr;
      }
      case 'listExpr':
        return { ...e, exprKind: { case: 'listExpr', value: { ...k.value, elements: k.value.elements.map(visit) } } } as Expr;
      case 'structExpr':
        return {
          ...e,
          exprKind: {
            case: 'structExpr',
            value: {
              ...k.value,
              entries: k.value.entries.map((entry) => ({
                ...entry,
                ...(entry.keyKind.case === 'mapKey' ? { keyKind: { case: 'mapKey', value: visit(entry.keyKind.value) } } : {}),
                ...(entry.value === undefined ? {} : { value: visit(entry.value) }),
              })),
            },
          },
        } as Expr;
      case 'comprehensionExpr': {
        const c = k.value;
        return {
          ...e,
          exprKind: {
            case: 'comprehensionExpr',
            value: {
              ...c,
              ...(c.iterRange === undefined ? {} : { iterRange: charged(visit(c.iterRange)) }),
              ...(c.accuInit === undefined ? {} : { accuInit: visit(c.accuInit) }),
              ...(c.loopCondition === undefined ? {} : { loopCondition: visit(c.loopCondition) }),
              ...(c.loopStep === undefined ? {} : { loopStep: visit(c.loopStep) }),
              ...(c.result === undefined ? {} : { result: visit(c.result) }),
            },
          },
        } as Expr;
      }
      default:
        return e;
    }
  };
  return visit(expr);
}

function isName(e: Expr): boolean {
  const k = e.exprKind;
  if (k.case === 'identExpr') return true;
  return k.case === 'selectExpr' && k.value.operand !== undefined && !k.value.testOnly && isName(k.value.operand);
}

function maxId(e: Expr | undefined): bigint {
  if (e === undefined) return 0n;
  let max = e.id;
  const more = (x: Expr | undefined): void => {
    const m = maxId(x);
    if (m > max) max = m;
  };
  const k = e.exprKind;
  switch (k.case) {
    case 'callExpr':
      more(k.value.target);
      k.value.args.forEach(more);
      break;
    case 'selectExpr':
      more(k.value.operand);
      break;
    case 'listExpr':
      k.value.elements.forEach(more);
      break;
    case 'structExpr':
      for (const entry of k.value.entries) {
        if (entry.keyKind.case === 'mapKey') more(entry.keyKind.value);
        more(entry.value);
      }
      break;
    case 'comprehensionExpr':
      more(k.value.iterRange);
      more(k.value.accuInit);
      more(k.value.loopCondition);
      more(k.value.loopStep);
      more(k.value.result);
      break;
    default:
      break;
  }
  return max;
}
