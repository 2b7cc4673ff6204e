// build --enforce: what the probe's loader is given from a policy's rules, and the lines a
// refused destination prints.
import { describe, expect, it } from 'vitest';
import { describeRules, parseEnforcement, type Enforcement } from '../../attest/index.js';
import type { Trace, TraceBuildStep, TraceNetwork } from '../../model/index.js';
import { buildEnforcement, enforceCgroupName, loaderEnforcement } from './enforce-args.js';
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

describe('the loader options of --enforce', () => {
  it('names the cgroup parent after the rules, not the build', () => {
    const e = rules(MIXED);
    expect(enforceCgroupName(e)).toBe(`tracebuild-enforce-${e.digest.slice(0, 16)}`);
    expect(enforceCgroupName(rules(MIXED.replace('8080', '8081')))).not.toBe(enforceCgroupName(e));
  });

  it('numbers the egress rules in order (exec rules skipped) and writes each entry as --egress-allow takes it', () => {
    const l = loaderEnforcement(rules(MIXED));
    expect(l.egressRules).toBe(0b11);
    expect(l.egressAllow).toEqual([
      '0,00000000000000000000ffff7f000001,128,8080,8080,6',
      '0,00000000000000000000ffff0a000000,104,0,65535,0',
      '0,00000000000000000000000000000001,128,53,53,17',
    ]);
  });

  it('keeps what the trace and the attestation say: the rules, their digest, the parent, the egress names', () => {
    const e = rules(MIXED);
    const b = buildEnforcement(e, describeRules(e.rules));
    expect(b.cgroupParent).toBe(`/${enforceCgroupName(e)}`);
    expect(b.tracePrefix).toBe(`/${enforceCgroupName(e)}/buildkit/`);
    expect(b.trace).toEqual({
      policy: 'p.yaml',
      rulesDigest: e.digest,
      cgroupParent: b.cgroupParent,
      rules: [
        { name: 'only-mirror', egress: { allow: ['127.0.0.1/32:8080-8080/tcp', '10.0.0.0/8:0-65535/any', '[::1/128]:53-53/udp'] } },
        { name: 'pinned', exec: { pins: [{ path: '/usr/bin/cc', sha256: ['a'.repeat(64)] }], default: 'allow' } },
        { name: 'no-egress', egress: { allow: [] } },
      ],
      egressRules: ['only-mirror', 'no-egress'],
    });
  });
});

describe('the lines of refused destinations', () => {
  const peer = (p: Partial<TraceNetwork>): TraceNetwork => ({ protocol: 'tcp', address: '127.0.0.1', port: 80, direction: 'outbound', family: 'inet', attempts: 1, failures: 0, ...p });
  const trace = (network: TraceNetwork[], line = 4): Trace =>
    ({
      buildSteps: [{ line, network } as unknown as TraceBuildStep],
      enforcement: { policy: 'p.yaml', rulesDigest: 'd', cgroupParent: '/x', rules: [], egressRules: ['only-mirror', 'no-egress'] },
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
