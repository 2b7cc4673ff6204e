// build --enforce: from a policy's enforce rules (attest/enforce.ts) and the rules selected
// for each RUN (attest/enforce-steps.ts), the cgroup parents of the build (one per distinct
// set of egress rules in force), which RUN goes under which, the loader's options and what
// the trace says was enforced where.
import type { EgressRule, EnforceRule, Enforcement, SelectedStep } from '../../attest/index.js';
import type { LoaderEnforcement } from '../../tracer/index.js';
import type { TraceEnforcement } from '../../model/index.js';

/** The most cgroup parents of one build (tracer/bpf/events.h TB_ENFORCE_PARENTS_MAX). */
export const ENFORCE_PARENTS_MAX = 7;

/** The cgroup parent of steps under a set of rules, below the unified hierarchy's root.
 * Named after the digest of that set rather than the build or the policy: BuildKit hashes
 * an exec's cgroup parent into its cache key, so a step keeps hitting the cache for as long
 * as its own rules stay the same, whatever happens to the other steps' rules. */
export function enforceCgroupName(ruleSetDigest: string): string {
  return `tracebuild-enforce-${ruleSetDigest.slice(0, 16)}`;
}

/** The egress rules, in order: their index is the rule number the kernel reports. */
export function egressRules(e: Enforcement): EgressRule[] {
  return e.rules.filter((r): r is EgressRule => r.kind === 'egress');
}

const PROTO = { any: 0, tcp: 6, udp: 17 } as const;

/** `--egress-allow` of every egress rule (the parents' masks say which are in force where). */
function egressAllow(e: Enforcement): string[] {
  return egressRules(e).flatMap((r, i) =>
    r.allow.map((a) => [i, Buffer.from(a.address).toString('hex'), a.prefix, a.portLow, a.portHigh, PROTO[a.protocol]].join(',')),
  );
}

/** What the build keeps of --enforce (run.enforcement). */
export interface BuildEnforcement {
  /** The rules as read from the policy file. */
  enforcement: Enforcement;
  /** Meta.cgroupParent of each enforced RUN (`/<cgroup name>`), by its Dockerfile line;
   * a RUN under no egress rule has none (it runs as in an unenforced build). */
  cgroupParents: Record<number, string>;
  /** What the probe's loader gets; no parent when no RUN is under an egress rule. */
  loader: LoaderEnforcement;
  /** The cgroup path prefixes of the enforced RUN containers (traced besides /docker/buildkit/). */
  tracePrefixes: string[];
  /** trace.enforcement: the rules in force and where (also what the signed attestation carries). */
  trace: TraceEnforcement;
}

/**
 * `describedRules`: the rules' canonical form (attest's describeRules); `digestOf`: the
 * digest of a set of rules in force (attest's ruleSetDigest). Passed in so that this module
 * needs nothing of attest at run time.
 */
export function buildEnforcement(
  e: Enforcement,
  describedRules: unknown[],
  selected: readonly SelectedStep[],
  digestOf: (rules: readonly EnforceRule[]) => string,
): BuildEnforcement {
  const egress = egressRules(e);
  const parents = new Map<string, number>(); // cgroup name -> mask
  const cgroupParents: Record<number, string> = {};
  const steps: TraceEnforcement['steps'] = selected.map(({ step, rules, onbuild }) => {
    const inForce = rules.filter((r): r is EgressRule => r.kind === 'egress');
    const base = { line: step.line, stage: step.stageName ?? step.stageIndex, rules: rules.map((r) => r.name), ...(onbuild ? { onbuild } : {}) };
    if (inForce.length === 0) return base;
    const name = enforceCgroupName(digestOf(inForce));
    parents.set(name, inForce.reduce((mask, r) => mask | (1 << egress.indexOf(r)), 0));
    cgroupParents[step.line] = `/${name}`;
    return { ...base, cgroupParent: `/${name}` };
  });
  const loader: LoaderEnforcement = { parents: [...parents].map(([cgroupName, rules]) => ({ cgroupName, egressRules: rules })), egressAllow: egressAllow(e) };
  return {
    enforcement: e,
    cgroupParents,
    loader,
    tracePrefixes: [...parents.keys()].map((n) => `/${n}/buildkit/`),
    trace: {
      policy: e.file,
      rulesDigest: e.digest,
      cgroupParents: [...parents.keys()].map((n) => `/${n}`),
      rules: describedRules,
      egressRules: egress.map((r) => r.name),
      steps,
    },
  };
}

/**
 * The rules with a `steps:` selector none of whose steps the build ran: the stages they
 * select are not among those the target needs (a `--target` that skips them, or an unused
 * stage), so they enforced nothing. selectSteps checks the selectors against every stage of
 * the Dockerfile before the build; which stages the target needs is known once the
 * Dockerfile is converted. `ran`: the Dockerfile lines of the instructions converted.
 */
export function rulesOutsideBuild(e: BuildEnforcement, ran: ReadonlySet<number>): EnforceRule[] {
  return e.enforcement.rules.filter((r) => r.steps !== undefined && !e.trace.steps.some((s) => ran.has(s.line) && s.rules.includes(r.name)));
}
