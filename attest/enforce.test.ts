import { describe, expect, it } from 'vitest';
import { describeRules, isPolicyError, parseEgressEntry, parseEnforcement, parsePolicy, ruleSetDigest, type EgressAllow } from './index.js';

const CC = 'a'.repeat(64);

function entry(text: string): EgressAllow {
  const e = parseEgressEntry(text);
  if (typeof e === 'string') throw new Error(`${text}: ${e}`);
  return e;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function refused(yaml: string): string {
  try {
    parseEnforcement(yaml, 'p.yaml');
  } catch (err) {
    if (isPolicyError(err, 'invalid-policy')) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

describe('enforce: the issue\'s minimal form', () => {
  const yaml = `enforce:
  - name: pinned-compiler
    exec: { path: /usr/bin/cc, sha256: ["${CC}"] }
  - name: no-egress
    egress: { allow: [] }
  - name: only-mirror
    egress: { allow: ["127.0.0.1:8080/tcp"] }
`;

  it('parses each rule with its line', () => {
    const e = parseEnforcement(yaml, 'p.yaml');
    expect(e?.rules).toEqual([
      { kind: 'exec', name: 'pinned-compiler', line: 2, pins: [{ path: '/usr/bin/cc', sha256: [CC] }], unknownPaths: 'allow' },
      { kind: 'egress', name: 'no-egress', line: 4, allow: [] },
      { kind: 'egress', name: 'only-mirror', line: 6, allow: [entry('127.0.0.1:8080/tcp')] },
    ]);
    expect(e?.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same digest to the same rules written differently, another to other rules', () => {
    const reflowed = `# comment\nenforce:\n- name: pinned-compiler\n  exec:\n    path: /usr/bin/cc\n    sha256: "${CC}"\n- {name: no-egress, egress: {allow: []}}\n- name: only-mirror\n  egress:\n    allow: ["127.0.0.1:8080/tcp"]\n`;
    expect(parseEnforcement(reflowed, 'q.yaml')?.digest).toBe(parseEnforcement(yaml, 'p.yaml')?.digest);
    expect(parseEnforcement(yaml.replace('8080', '8081'), 'p.yaml')?.digest).not.toBe(parseEnforcement(yaml, 'p.yaml')?.digest);
  });

  it('is part of a policy file beside the CEL rules, which become optional', () => {
    const p = parsePolicy(yaml, 'p.yaml');
    expect(p.rules).toEqual([]);
    expect(p.enforcement?.rules.map((r) => r.name)).toEqual(['pinned-compiler', 'no-egress', 'only-mirror']);
    const both = parsePolicy(`rules:\n  - name: r\n    deny: "false"\n    message: m\n${yaml}`, 'p.yaml');
    expect(both.rules.map((r) => r.name)).toEqual(['r']);
    expect(both.enforcement?.rules).toHaveLength(3);
    expect(parsePolicy('rules: []\n', 'p.yaml').enforcement).toBeUndefined();
  });
});

describe('egress allow entries', () => {
  it('reads IPv4 addresses and blocks as v4-mapped IPv6', () => {
    const e = entry('127.0.0.1:8080/tcp');
    expect(hex(e.address)).toBe('00000000000000000000ffff7f000001');
    expect([e.prefix, e.portLow, e.portHigh, e.protocol]).toEqual([128, 8080, 8080, 'tcp']);
    const b = entry('10.1.2.3/8');
    expect(hex(b.address)).toBe('00000000000000000000ffff0a000000');
    expect([b.prefix, b.portLow, b.portHigh, b.protocol]).toEqual([104, 0, 65535, 'any']);
    expect(entry('192.168.0.0/16:1000-2000/udp')).toMatchObject({ prefix: 112, portLow: 1000, portHigh: 2000, protocol: 'udp' });
    expect(entry('127.0.0.1/udp')).toMatchObject({ prefix: 128, protocol: 'udp' });
  });

  it('reads IPv6, bracketed when a port or protocol follows', () => {
    expect(entry('::1')).toMatchObject({ prefix: 128, portLow: 0, portHigh: 65535 });
    expect(hex(entry('::1').address)).toBe('00000000000000000000000000000001');
    expect(hex(entry('fd00::/8').address)).toBe('fd000000000000000000000000000000');
    expect(entry('fd00::/8').prefix).toBe(8);
    expect(entry('[::1]:53/udp')).toMatchObject({ prefix: 128, portLow: 53, portHigh: 53, protocol: 'udp' });
    // A v4-mapped IPv6 address is the same destination as the IPv4 one.
    expect(hex(entry('[::ffff:127.0.0.1]:8080').address)).toBe(hex(entry('127.0.0.1:8080').address));
  });

  it('refuses what it cannot read, saying why', () => {
    expect(parseEgressEntry('127.0.0.1:0')).toMatch(/ports are 1-65535/);
    expect(parseEgressEntry('127.0.0.1:9-8')).toMatch(/LOW <= HIGH/);
    expect(parseEgressEntry('127.0.0.1:http')).toMatch(/port must be a number/);
    expect(parseEgressEntry('127.0.0.1:80/sctp')).toMatch(/unknown protocol/);
    expect(parseEgressEntry('1.2.3')).toMatch(/not an IPv4 address/);
    expect(parseEgressEntry('10.0.0.0/33')).toMatch(/not an IPv4 address/);
    expect(parseEgressEntry('mirror.example:443')).toMatch(/not an IP address/);
    expect(parseEgressEntry('::1:53')).not.toMatchObject({ portLow: 53 });
  });
});

describe('enforce: what is refused, with FILE:LINE and the rule', () => {
  it('structure', () => {
    expect(refused('enforce: []\n')).toBe('p.yaml:1: "enforce" must be a non-empty list of { name, egress | exec }');
    expect(refused('enforce:\n  - egress: { allow: [] }\n')).toBe('p.yaml:2: enforce[0] needs a "name" (a non-empty string)');
    expect(refused('enforce:\n  - name: a\n    egress: { allow: [] }\n  - name: a\n    egress: { allow: [] }\n')).toBe("p.yaml:4: enforce rule 'a': duplicate rule name");
    expect(refused('enforce:\n  - name: a\n')).toBe("p.yaml:2: enforce rule 'a': needs exactly one of \"egress\" and \"exec\"");
    expect(refused(`enforce:\n  - name: a\n    egress: { allow: [] }\n    exec: { path: /cc, sha256: ${CC} }\n`)).toMatch(/needs exactly one/);
    expect(refused('enforce:\n  - name: a\n    egress: { deny: [] }\n')).toBe("p.yaml:3: enforce rule 'a': unknown key \"deny\" in egress (expected allow)");
    expect(refused('enforce:\n  - name: a\n    egress: { allow: ["example.com"] }\n')).toMatch(/^p\.yaml:3: enforce rule 'a': "example\.com": not an IP address/);
  });

  it('step selectors: read exactly, anything else refused with the line of the value', () => {
    const rule = (steps: string): unknown => parseEnforcement(`enforce:\n  - name: a\n    egress: { allow: [] }\n    steps: ${steps}\n`, 'p.yaml')?.rules[0];
    expect(rule('{ stage: Deps, instruction: run, line: [14, 12] }')).toMatchObject({ steps: { stage: 'deps', instruction: 'RUN', lines: [12, 14], line: 4 } });
    expect(rule('{ stage: 1 }')).toMatchObject({ steps: { stage: 1, line: 4 } });
    expect(rule('{ line: 7 }')).toMatchObject({ steps: { lines: [7], line: 4 } });
    const bad = (steps: string): string => refused(`enforce:\n  - name: a\n    egress: { allow: [] }\n    steps: ${steps}\n`);
    expect(bad('{}')).toBe('p.yaml:4: enforce rule \'a\': "steps" must be a mapping { stage, instruction, line } with at least one of them');
    expect(bad('{ stages: deps }')).toBe('p.yaml:4: enforce rule \'a\': unknown key "stages" in steps (expected stage, instruction, line)');
    expect(bad('{ instruction: COPY }')).toBe("p.yaml:4: enforce rule 'a': \"steps.instruction\": COPY runs no process in a step's container; only RUN steps can be enforced");
    expect(bad('{ instruction: RUNN }')).toBe('p.yaml:4: enforce rule \'a\': "steps.instruction": "RUNN" is not a Dockerfile instruction; only RUN steps can be enforced');
    expect(bad('{ line: 0 }')).toMatch(/^p\.yaml:4: enforce rule 'a': "steps.line" must be a Dockerfile line/);
    expect(bad('{ line: [] }')).toMatch(/"steps.line" must be a Dockerfile line/);
    expect(bad('{ line: [3, 3] }')).toMatch(/"steps.line" names a line twice/);
    expect(bad('{ line: "12" }')).toMatch(/"steps.line" must be a Dockerfile line/);
    expect(bad('{ stage: -1 }')).toMatch(/"steps.stage" must be a stage name or its 0-based index/);
    expect(refused('enforce:\n  - name: a\n    egress: { allow: [] }\n    line: 3\n')).toBe('p.yaml:4: enforce rule \'a\': "line" belongs under "steps" (steps: { stage, instruction, line })');
  });

  it('the digest of the policy covers the selectors; the digest of a set of rules in force does not', () => {
    const a = parseEnforcement('enforce:\n  - name: a\n    egress: { allow: [] }\n    steps: { line: 3 }\n', 'p.yaml')!;
    const b = parseEnforcement('enforce:\n  - name: a\n    egress: { allow: [] }\n    steps: { line: 4 }\n', 'p.yaml')!;
    expect(a.digest).not.toBe(b.digest);
    expect(ruleSetDigest(a.rules)).toBe(ruleSetDigest(b.rules));
    expect(describeRules(a.rules)).toEqual([{ name: 'a', egress: { allow: [] }, steps: { line: [3] } }]);
  });

  it('exec pins', () => {
    expect(refused('enforce:\n  - name: a\n    exec: { path: cc, sha256: ["' + CC + '"] }\n')).toMatch(/an exec path must be an absolute path/);
    expect(refused('enforce:\n  - name: a\n    exec: { path: /cc, sha256: ["' + CC.toUpperCase() + '"] }\n')).toMatch(/64-hex-digit/);
    expect(refused('enforce:\n  - name: a\n    exec: { path: /cc, sha256: [] }\n')).toMatch(/64-hex-digit/);
    expect(refused('enforce:\n  - name: a\n    exec: { path: /cc, sha256: ["' + CC + '"], default: maybe }\n')).toMatch(/"exec.default" must be allow or deny/);
    const many = parseEnforcement(`enforce:\n  - name: a\n    exec:\n      default: deny\n      pins:\n        - { path: /cc, sha256: ["sha256:${CC}"] }\n        - { path: /bin/sh, sha256: "${'b'.repeat(64)}" }\n`, 'p.yaml');
    expect(many?.rules[0]).toEqual({ kind: 'exec', name: 'a', line: 2, unknownPaths: 'deny', pins: [{ path: '/cc', sha256: [CC] }, { path: '/bin/sh', sha256: ['b'.repeat(64)] }] });
  });

  it('limits: what the kernel program holds', () => {
    const entries = Array.from({ length: 65 }, (_, i) => `"10.0.${i}.0/24"`).join(', ');
    expect(refused(`enforce:\n  - name: a\n    egress: { allow: [${entries}] }\n`)).toMatch(/at most 64 egress allow entries in all \(65 given\)/);
    const rules = Array.from({ length: 17 }, (_, i) => `  - name: r${i}\n    egress: { allow: [] }\n`).join('');
    expect(refused(`enforce:\n${rules}`)).toMatch(/at most 16 egress rules/);
  });

  it('a policy file with a bad enforce list does not parse as a policy either', () => {
    expect(() => parsePolicy('rules: []\nenforce:\n  - name: a\n    egress: { allow: ["x"] }\n', 'p.yaml')).toThrow(/p\.yaml:4: enforce rule 'a'/);
  });
});
