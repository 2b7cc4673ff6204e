// build --enforce: what the probe's loader is given from a policy's rules, and the lines a
// refused destination prints.
import { describe, expect, it } from 'vitest';
import { describeRules, parseEnforcement, ruleSetDigest, selectSteps, type DockerfileStep, type EgressRule, type Enforcement } from '../../attest/index.js';
import type { Trace, TraceBuildStep, TraceNetwork } from '../../model/index.js';
import { buildEnforcement, egressRules, enforceCgroupName, rulesOutsideBuild, type BuildEnforcement } from './enforce-args.js';
import { denialLines } from './trace.js';

function rules(yaml: string): Enforcement {
  const e = parseEnforcement(yaml, 'p.yaml');
  if (e === undefined) throw new Error('no enforce list');
  return e;
}

const MIXED = `enforce:
  - name: only-mirror
    egress: { allow: ["127.0.0.1:8080/tcp", "10.0.0.0/8", "[::1]:53/udp"] }
  - name: pinned
    exec: { path: /usr/bin/cc, sha256: ["${'a'.repeat(64)}"] }
  - name: no-egress
    egress: { allow: [] }
`;

const RUNS: DockerfileStep[] = [
  { stageIndex: 0, stageName: 'deps', keyword: 'RUN', line: 2 },
  { stageIndex: 0, stageName: 'deps', keyword: 'RUN', line: 3 },
  { stageIndex: 1, keyword: 'RUN', line: 5 },
];

function build(e: Enforcement): BuildEnforcement {
  return buildEnforcement(e, describeRules(e.rules), selectSteps(e, RUNS), ruleSetDigest);
}

describe('the loader options of --enforce', () => {
  it('build-wide rules: one parent, named after the rules in force, not the build', () => {
    const e = rules(MIXED);
    const b = build(e);
    const name = enforceCgroupName(ruleSetDigest(egressRules(e)));
    expect(b.loader.parents).toEqual([{ cgroupName: name, egressRules: 0b11 }]);
    expect(b.cgroupParents).toEqual({ 2: `/${name}`, 3: `/${name}`, 5: `/${name}` });
    expect(b.tracePrefixes).toEqual([`/${name}/buildkit/`]);
    expect(build(rules(MIXED.replace('8080', '8081'))).loader.parents[0]?.cgroupName).not.toBe(name);
  });

  it('numbers the egress rules in order (exec rules skipped) and writes each entry as --egress-allow takes it', () => {
    expect(build(rules(MIXED)).loader.egressAllow).toEqual([
      '0,00000000000000000000ffff7f000001,128,8080,8080,6',
      '0,00000000000000000000ffff0a000000,104,0,65535,0',
      '0,00000000000000000000000000000001,128,53,53,17',
    ]);
  });

  it('selected rules: one parent per distinct set in force; a RUN under none has no parent', () => {
    const e = rules(`enforce:
  - name: wide
    egress: { allow: ["127.0.0.1:8080/tcp"] }
    steps: { stage: deps }
  - name: one
    egress: { allow: [] }
    steps: { line: 3 }
`);
    const b = build(e);
    const [wide, one] = egressRules(e) as [EgressRule, EgressRule];
    const wideOnly = enforceCgroupName(ruleSetDigest([wide]));
    const both = enforceCgroupName(ruleSetDigest([wide, one]));
    expect(b.loader.parents).toEqual([
      { cgroupName: wideOnly, egressRules: 0b01 },
      { cgroupName: both, egressRules: 0b11 },
    ]);
    expect(b.cgroupParents).toEqual({ 2: `/${wideOnly}`, 3: `/${both}` });
    expect(b.trace.steps).toEqual([
      { line: 2, stage: 'deps', rules: ['wide'], cgroupParent: `/${wideOnly}` },
      { line: 3, stage: 'deps', rules: ['wide', 'one'], cgroupParent: `/${both}` },
      { line: 5, stage: 1, rules: [] },
    ]);
    expect(b.trace.cgroupParents).toEqual([`/${wideOnly}`, `/${both}`]);
  });

  it("a FROM gets the parent of its stage's ONBUILD RUNs, as the converter reports them at its line", () => {
    const e = rules('enforce:\n  - name: wide\n    egress: { allow: [] }\n');
    const steps: DockerfileStep[] = [{ stageIndex: 0, stageName: 'deps', keyword: 'FROM', line: 1 }, ...RUNS];
    const b = buildEnforcement(e, describeRules(e.rules), selectSteps(e, steps), ruleSetDigest);
    expect(b.cgroupParents[1]).toBe(b.cgroupParents[2]);
    expect(b.trace.steps[0]).toEqual({ line: 1, stage: 'deps', rules: ['wide'], cgroupParent: b.cgroupParents[1], onbuild: true });
  });

  it("changing one step's rule leaves the other steps' parents (and cache keys) alone", () => {
    const policy = (port: number): Enforcement =>
      rules(`enforce:\n  - name: wide\n    egress: { allow: [] }\n  - name: one\n    egress: { allow: ["127.0.0.1:${port}/tcp"] }\n    steps: { line: 3 }\n`);
    const a = build(policy(8080)).cgroupParents;
    const b = build(policy(8081)).cgroupParents;
    expect(b[2]).toBe(a[2]);
    expect(b[5]).toBe(a[5]);
    expect(b[3]).not.toBe(a[3]);
  });

  it('keeps what the trace and the attestation say: the rules, their digest, the parents, the egress names', () => {
    const e = rules(MIXED);
    const b = build(e);
    expect(b.trace).toMatchObject({
      policy: 'p.yaml',
      rulesDigest: e.digest,
      cgroupParents: [b.cgroupParents[2]],
      rules: [
        { name: 'only-mirror', egress: { allow: ['127.0.0.1/32:8080-8080/tcp', '10.0.0.0/8:0-65535/any', '[::1/128]:53-53/udp'] } },
        { name: 'pinned', exec: { pins: [{ path: '/usr/bin/cc', sha256: ['a'.repeat(64)] }], default: 'allow' } },
        { name: 'no-egress', egress: { allow: [] } },
      ],
      egressRules: ['only-mirror', 'no-egress'],
    });
  });
});

describe('rules whose steps the build did not run', () => {
  const e = rules(`enforce:
  - name: everywhere
    egress: { allow: [] }
  - name: deps-only
    egress: { allow: ["127.0.0.1:8080/tcp"] }
    steps: { stage: deps }
  - name: line-five
    egress: { allow: [] }
    steps: { line: 5 }
`);

  it('names a selector whose stage the target skipped; a rule without steps: is in force wherever a RUN ran', () => {
    const b = build(e);
    // only stage 1 converted (its target does not need deps)
    expect(rulesOutsideBuild(b, new Set([5])).map((r) => r.name)).toEqual(['deps-only']);
    // only deps converted (a --target deps)
    expect(rulesOutsideBuild(b, new Set([2, 3])).map((r) => r.name)).toEqual(['line-five']);
  });

  it('one step of a selector ran: the rule was in force, nothing to say', () => {
    expect(rulesOutsideBuild(build(e), new Set([3, 5]))).toEqual([]);
  });
});

describe('the lines of refused destinations', () => {
  const peer = (p: Partial<TraceNetwork>): TraceNetwork => ({ protocol: 'tcp', address: '127.0.0.1', port: 80, direction: 'outbound', family: 'inet', attempts: 1, failures: 0, ...p });
  const trace = (network: TraceNetwork[], line = 4): Trace =>
    ({
      buildSteps: [{ line, network } as unknown as TraceBuildStep],
      enforcement: { policy: 'p.yaml', rulesDigest: 'd', cgroupParents: ['/x'], rules: [], egressRules: ['only-mirror', 'no-egress'], steps: [] },
    }) as unknown as Trace;

  it('names the Dockerfile line, the rule and the destination (IPv6 in brackets)', () => {
    expect(
      denialLines(
        trace([
          peer({ port: 9, verdict: 'denied', deniedRule: 1 }),
          peer({ address: '::1', family: 'inet6', protocol: 'udp', port: 53, verdict: 'denied', deniedRule: 0 }),
          peer({ port: 8080 }),
        ]),
      ),
    ).toEqual([
      "error: Dockerfile:4: enforce rule 'no-egress' of p.yaml denied a tcp connection or send to 127.0.0.1:9; the process was killed and the step failed",
      "error: Dockerfile:4: enforce rule 'only-mirror' of p.yaml denied a udp connection or send to [::1]:53; the process was killed and the step failed",
    ]);
  });

  it('says nothing when nothing was refused', () => {
    expect(denialLines(trace([peer({})]))).toEqual([]);
  });
});
