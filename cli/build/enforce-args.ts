// build --enforce: the loader's enforcement options from a policy's enforce rules (attest/enforce.ts):
// the cgroup parent's name and each egress allow entry as `--egress-allow` takes it.
import type { EgressRule, Enforcement } from '../../attest/index.js';
import type { LoaderEnforcement } from '../../tracer/index.js';
import type { TraceEnforcement } from '../../model/index.js';

/** The cgroup parent of builds under these rules, below the unified hierarchy's root. Named
 * after the rules' digest rather than the build: BuildKit hashes an exec's cgroup parent
 * into its cache key, so builds under the same rules keep hitting the cache. */
export function enforceCgroupName(e: Enforcement): string {
  return `tracebuild-enforce-${e.digest.slice(0, 16)}`;
}

/** The egress rules, in order: their index is the rule number the kernel reports. */
export function egressRules(e: Enforcement): EgressRule[] {
  return e.rules.filter((r): r is EgressRule => r.kind === 'egress');
}

const PROTO = { any: 0, tcp: 6, udp: 17 } as const;

export function loaderEnforcement(e: Enforcement): LoaderEnforcement {
  const rules = egressRules(e);
  const egressAllow = rules.flatMap((r, i) =>
    r.allow.map((a) => [i, Buffer.from(a.address).toString('hex'), a.prefix, a.portLow, a.portHigh, PROTO[a.protocol]].join(',')),
  );
  return { cgroupName: enforceCgroupName(e), egressRules: (1 << rules.length) - 1, egressAllow };
}

/** What the build keeps of --enforce (run.enforcement). */
export interface BuildEnforcement {
  /** The rules as read from the policy file. */
  enforcement: Enforcement;
  /** Meta.cgroupParent of every RUN: `/<cgroupName>`. */
  cgroupParent: string;
  /** What the probe's loader gets. */
  loader: LoaderEnforcement;
  /** The cgroup path prefix of the RUN containers (traced besides /docker/buildkit/). */
  tracePrefix: string;
  /** trace.enforcement: the rules in force (also what the signed attestation carries). */
  trace: TraceEnforcement;
}

/** `describedRules`: the rules' canonical form (attest's describeRules), passed in so that
 * this module needs nothing of attest at run time. */
export function buildEnforcement(e: Enforcement, describedRules: unknown[]): BuildEnforcement {
  const loader = loaderEnforcement(e);
  const cgroupParent = `/${loader.cgroupName}`;
  return {
    enforcement: e,
    cgroupParent,
    loader,
    tracePrefix: `${cgroupParent}/buildkit/`,
    trace: { policy: e.file, rulesDigest: e.digest, cgroupParent, rules: describedRules, egressRules: egressRules(e).map((r) => r.name) },
  };
}
