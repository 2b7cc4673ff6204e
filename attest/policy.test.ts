import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  PolicyError,
  evaluatePolicy,
  formatViolations,
  isPolicyError,
  parsePolicy,
  type Policy,
  type PolicyErrorCode,
} from './index.js';
import { normalizeTrace, type Trace, type TraceBuildStep } from '../model/index.js';

const POLICIES = fileURLToPath(new URL('../testdata/policies/', import.meta.url));
const IMAGE = { name: '127.0.0.1:5000/app', digest: `sha256:${'ab'.repeat(32)}` };
const CC_CLEAN = '2f35a59509411ec14a5693ee873aca2fbe87197826b7061984ef4efb58699873';
const CC_TROJAN = '5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18';

function trace(name: 'clean' | 'trojanized'): Trace {
  return normalizeTrace(JSON.parse(readFileSync(`${POLICIES}traces/${name}.json`, 'utf8')));
}

function policyFile(name: string): Policy {
  return parsePolicy(readFileSync(`${POLICIES}${name}.yaml`, 'utf8'), `${name}.yaml`);
}

function parseError(yamlText: string, fileName = 'p.yaml'): PolicyError {
  try {
    parsePolicy(yamlText, fileName);
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected parsePolicy to throw');
}

function rule(deny: string, extra = ''): string {
  return `rules:\n  - name: r1\n    deny: ${JSON.stringify(deny)}\n    message: m\n${extra}`;
}

function expectRuleError(yamlText: string, code: PolicyErrorCode, ...fragments: (string | RegExp)[]): PolicyError {
  const err = parseError(yamlText);
  expect(err.code).toBe(code);
  expect(err.file).toBe('p.yaml');
  expect(err.message).toMatch(/^p\.yaml(:\d+)?: /);
  for (const f of fragments) expect(err.message).toMatch(f);
  return err;
}

describe('parsePolicy: document errors', () => {
  it('rejects malformed YAML with the file name', () => {
    const err = expectRuleError('rules: [\n  - name: a\n', 'invalid-policy', /invalid YAML/);
    expect(isPolicyError(err, 'invalid-policy')).toBe(true);
  });

  it('rejects a document that is not a mapping', () => {
    expectRuleError('- name: a\n', 'invalid-policy', /mapping/);
    expectRuleError('', 'invalid-policy', /mapping/);
  });

  it('requires a rules list', () => {
    expectRuleError('name: x\n', 'invalid-policy', /missing "rules"/);
    expectRuleError('rules: {}\n', 'invalid-policy', /"rules" must be a list/);
  });

  it('rejects unknown keys, at top level and in rules (naming the rule)', () => {
    expectRuleError('rulez: []\n', 'invalid-policy', /unknown key "rulez"/);
    const err = expectRuleError('rules:\n  - name: r1\n    deny_if: "true"\n    message: m\n', 'invalid-policy', /^p\.yaml:3: /, /rule 'r1'/, /unknown key "deny_if"/);
    expect(err.rule).toBe('r1');
  });

  it('reports missing fields with the rule name and line', () => {
    const noDeny = expectRuleError('rules:\n  - name: ok\n    deny: "false"\n    message: m\n  - name: r2\n    message: m\n', 'invalid-policy', /^p\.yaml:5: /, /rule 'r2'/, /missing "deny"/);
    expect(noDeny.rule).toBe('r2');
    expectRuleError('rules:\n  - name: r3\n    deny: "false"\n', 'invalid-policy', /rule 'r3'/, /missing "message"/);
    expectRuleError('rules:\n  - deny: "false"\n    message: m\n', 'invalid-policy', /rules\[0\] needs a "name"/);
    expectRuleError('rules:\n  - name: r4\n    deny: 42\n    message: m\n', 'invalid-policy', /rule 'r4'/, /"deny" must be a non-empty string/);
    expectRuleError('rules:\n  - "just a string"\n', 'invalid-policy', /rules\[0\] must be a mapping/);
  });

  it('rejects duplicate rule names and bad each values', () => {
    expectRuleError(`${rule('false')}  - name: r1\n    deny: "true"\n    message: m\n`, 'invalid-policy', /rule 'r1'/, /duplicate/);
    expectRuleError(rule('false', '    each: syscalls\n'), 'invalid-policy', /rule 'r1'/, /"each" must be one of step, processes, files, network/);
  });

  it('rejects params that are not a mapping', () => {
    expectRuleError(`params: [1]\n${rule('false')}`, 'invalid-policy', /"params" must be a mapping/);
  });
});

describe('parsePolicy: CEL errors', () => {
  it('reports a syntax error with the rule name, its line and the CEL message', () => {
    const err = expectRuleError(
      'rules:\n  - name: ok\n    deny: "false"\n    message: m\n  - name: broken\n    deny: step.lostEvents >\n    message: m\n',
      'invalid-rule',
      /^p\.yaml:6: /,
      /rule 'broken'/,
      /deny: CEL syntax error at 1:\d+/,
    );
    expect(err.rule).toBe('broken');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it.each([
    ['stepp.lostEvents > 0', /undeclared reference to 'stepp' \(declared: image, params, step\)/],
    ['step.lostEvent > 0', /undefined field 'lostEvent' on step/],
    ['step.line + "x" == "y"', /no matching overload for '\+' applied to '\(int, string\)'/],
    ['step.instruction == 1', /no matching overload for '_==_' applied to '\(string, int\)'/],
    ['shout(step.instruction)', /undeclared reference to function 'shout'/],
    ['process.exe == "/bin/sh"', /undeclared reference to 'process'/],
    ['pathUnder(step.line, "/src")', /no matching overload for 'pathUnder' applied to '\(int, string\)'/],
    ['step.processes.exists(p, p.exe.size())', /loop condition must be bool|operand of \|\| must be bool/],
    ['step.line.startsWith("1")', /no matching overload for 'startsWith' applied to '\(int, string\)'/],
    ['step.files.created.exists(f, f.path == "/x")', /type 'string' has no field 'path'/],
    ['"x" in step.line', /no matching overload for 'in'/],
    ['step.processes[0].exitCode.foo', /type 'int\?' has no field 'foo'/],
  ])('type error in %s', (expr, message) => {
    const err = expectRuleError(rule(expr), 'invalid-rule', /rule 'r1'/, /CEL type error at 1:\d+/, message);
    expect(err.rule).toBe('r1');
  });

  it('rejects a deny expression whose type is not bool', () => {
    expectRuleError(rule('step.line'), 'invalid-rule', /rule 'r1'/, /deny must evaluate to bool, but its type is int/);
    expectRuleError(rule('step.processes.map(p, p.exe)'), 'invalid-rule', /rule 'r1'/, /must evaluate to bool/);
  });

  it('rejects a messageExpression whose type is not string', () => {
    expectRuleError(rule('false', '    messageExpression: step.line\n'), 'invalid-rule', /rule 'r1'/, /messageExpression must evaluate to string, but its type is int/);
  });

  it('binds the item variable only in its each scope', () => {
    expect(() => parsePolicy(rule('process.exe == "/bin/sh"', '    each: processes\n'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(rule('pathUnder(file.path, "/src")', '    each: files\n'), 'p.yaml')).not.toThrow();
    expect(() => parsePolicy(rule('peer.port == 53', '    each: network\n'), 'p.yaml')).not.toThrow();
    expectRuleError(rule('peer.port == 53', '    each: processes\n'), 'invalid-rule', /undeclared reference to 'peer' \(declared: image, params, process, step\)/);
  });

  it('type-checks params from their YAML values', () => {
    expectRuleError(`params:\n  allowed: [a, b]\n${rule('step.instruction in params.allowd')}`, 'invalid-rule', /undefined field 'allowd' on params/);
    expectRuleError(`params:\n  max: 3\n${rule('step.instruction > params.max')}`, 'invalid-rule', /applied to '\(string, int\)'/);
    expect(() => parsePolicy(`params:\n  max: 3\n${rule('step.lostEvents > params.max')}`, 'p.yaml')).not.toThrow();
  });

  it('accepts the standard library, the strings extension and index access beyond the schema', () => {
    for (const expr of [
      'step.instruction.lowerAscii().contains("wget") && size(step.processes) > 1',
      'step.processes.all(p, p.argv.size() > 0) || step.cached',
      'step.files.renamed.exists(r, r.from.endsWith(".tmp"))',
      'has(step.extra) && step["extra"] == "yes"',
      'step.processes.exists_one(p, p.exitCode != null && p.exitCode != 0)',
      'image.name.startsWith("127.0.0.1:5000/") && image.digest.matches("^sha256:")',
      'step.instruction.split(" ").size() > 2',
      'strings.quote(step.instruction) != ""',
      'int(step.resources.wallMs) > 1000',
      'step.stage == 0 || step.stage == "builder"',
    ]) {
      expect(() => parsePolicy(rule(expr), 'p.yaml'), expr).not.toThrow();
    }
  });
});

describe('example policies', () => {
  const clean = trace('clean');
  const trojanized = trace('trojanized');

  it.each(['egress-allowlist', 'pinned-compiler', 'no-writes-under', 'no-lost-events'])('%s passes the clean trace', (name) => {
    expect(evaluatePolicy(policyFile(name), clean, IMAGE)).toEqual([]);
  });

  it('pinned-compiler fails the trojanized trace, naming the step line, the exe and the digest', () => {
    const violations = evaluatePolicy(policyFile('pinned-compiler'), trojanized, IMAGE);
    expect(violations).toEqual([
      {
        rule: 'compiler-digest-pinned',
        message: `/usr/local/bin/cc ran with sha256 ${CC_TROJAN}, which is not one of the pinned digests`,
        step: { index: 5, line: 6, instruction: 'RUN cc -o /out/app main.c', stage: '0' },
        evidence: [{ kind: 'process', exe: '/usr/local/bin/cc', sha256: CC_TROJAN, pid: 202, argv: ['cc', '-o', '/out/app', 'main.c'] }],
      },
    ]);
    expect(formatViolations(violations)).toBe(
      `Dockerfile:6 RUN cc -o /out/app main.c: compiler-digest-pinned: /usr/local/bin/cc ran with sha256 ${CC_TROJAN}, which is not one of the pinned digests [/usr/local/bin/cc sha256:${CC_TROJAN}]\n`,
    );
  });

  it('pinned-compiler denies an unknown digest (exeSha256 null)', () => {
    const t = trace('clean');
    const steps = t.buildSteps.map((s, i) =>
      i === 5 ? { ...s, processes: s.processes.map((p) => (p.exe === '/usr/local/bin/cc' ? { ...p, exeSha256: null } : p)) } : s,
    );
    const [v] = evaluatePolicy(policyFile('pinned-compiler'), { ...t, buildSteps: steps }, IMAGE);
    expect(v?.message).toBe('/usr/local/bin/cc ran with sha256 (unknown), which is not one of the pinned digests');
    expect(v?.evidence).toEqual([expect.objectContaining({ kind: 'process', sha256: null })]);
  });

  it('egress-allowlist names the peer', () => {
    const violations = evaluatePolicy(policyFile('egress-allowlist'), trojanized, IMAGE);
    expect(violations).toEqual([
      {
        rule: 'egress-not-allowlisted',
        message: 'connection to tcp 127.0.0.1:9999 is not in the egress allowlist',
        step: { index: 5, line: 6, instruction: 'RUN cc -o /out/app main.c', stage: '0' },
        evidence: [{ kind: 'network', protocol: 'tcp', address: '127.0.0.1', port: 9999, direction: 'outbound' }],
      },
    ]);
  });

  it('no-writes-under names the file written under /src by a RUN step', () => {
    const violations = evaluatePolicy(policyFile('no-writes-under'), trojanized, IMAGE);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.step.line).toBe(6);
    expect(violations[0]?.message).toBe('RUN step created /src/.cc-implant.o under a protected directory');
    expect(violations[0]?.evidence).toEqual([{ kind: 'file', change: 'created', path: '/src/.cc-implant.o' }]);
  });

  it('no-writes-under sees both ends of a rename', () => {
    const t = trace('clean');
    const steps = t.buildSteps.map((s, i) => (i === 5 ? { ...s, files: { ...s.files, renamed: [{ from: '/src/main.c', to: '/tmp/main.c' }] } } : s));
    const violations = evaluatePolicy(policyFile('no-writes-under'), { ...t, buildSteps: steps }, IMAGE);
    expect(violations.map((v) => v.evidence)).toEqual([[{ kind: 'file', change: 'renamed', path: '/tmp/main.c', from: '/src/main.c' }]]);
  });

  it('no-lost-events passes both sample traces and fails a step that lost events', () => {
    const policy = policyFile('no-lost-events');
    expect(evaluatePolicy(policy, trojanized, IMAGE)).toEqual([]);
    const t = trace('clean');
    const lossy = { ...t, buildSteps: t.buildSteps.map((s, i) => (i === 4 ? { ...s, lostEvents: 3 } : s)) };
    expect(evaluatePolicy(policy, lossy, IMAGE)).toEqual([
      {
        rule: 'no-lost-events',
        message: '3 kernel events were lost while this step ran; its trace is incomplete',
        step: { index: 4, line: 5, instruction: 'RUN wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar', stage: '0' },
        evidence: [{ kind: 'step', vertex: t.buildSteps[4]?.vertex, cached: false, lostEvents: 3 }],
      },
    ]);
  });
});

describe('evaluatePolicy', () => {
  const clean = trace('clean');

  it('groups offending items of one step and rule by message, in item order', () => {
    const policy = parsePolicy(rule('process.exe == "/bin/busybox"', '    each: processes\n'), 'p.yaml');
    const violations = evaluatePolicy(policy, clean, IMAGE);
    expect(violations.map((v) => [v.step.line, v.evidence.map((e) => (e.kind === 'process' ? e.pid : -1))])).toEqual([
      [5, [101, 102]],
      [6, [201]],
    ]);
  });

  it('reports one violation per distinct messageExpression result', () => {
    const policy = parsePolicy(rule('process.exe == "/bin/busybox"', '    each: processes\n    messageExpression: \'"pid " + string(process.pid)\'\n'), 'p.yaml');
    expect(evaluatePolicy(policy, clean, IMAGE).map((v) => v.message)).toEqual(['pid 101', 'pid 102', 'pid 201']);
  });

  it('orders violations by step, then rule', () => {
    const policy = parsePolicy(
      'rules:\n  - name: b-runs\n    deny: step.instruction.startsWith("RUN")\n    message: run\n  - name: a-all\n    deny: "!step.cached"\n    message: ran\n',
      'p.yaml',
    );
    expect(evaluatePolicy(policy, clean, IMAGE).map((v) => `${v.step.index}:${v.rule}`)).toEqual([
      '1:a-all',
      '2:a-all',
      '3:a-all',
      '4:b-runs',
      '4:a-all',
      '5:b-runs',
      '5:a-all',
    ]);
  });

  it('binds file changes with change, path, from and paths', () => {
    const policy = parsePolicy(rule('file.change == "renamed" && file.paths == [file.from, file.path] && pathGlob(file.path, "/out/*.o")', '    each: files\n'), 'p.yaml');
    const violations = evaluatePolicy(policy, clean, IMAGE);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.evidence).toEqual([{ kind: 'file', change: 'renamed', path: '/out/app.o', from: '/out/.app.tmp' }]);
  });

  it('binds image, params and step.index', () => {
    const policy = parsePolicy(
      `params:\n  repo: 127.0.0.1:5000/\n${rule('image.name.startsWith(params.repo) && image.digest.endsWith("abab") && step.index == 2')}`,
      'p.yaml',
    );
    expect(evaluatePolicy(policy, clean, IMAGE).map((v) => v.step)).toEqual([{ index: 2, line: 3, instruction: 'WORKDIR /src', stage: '0' }]);
    expect(evaluatePolicy(policy, clean, { ...IMAGE, name: 'docker.io/app' })).toEqual([]);
  });

  it('treats integral trace numbers as CEL int and others as double', () => {
    const policy = parsePolicy(rule('step.line + 1 == 7 && step.resources.cpuUserMs > 200 && step["ratio"] > 0.25'), 'p.yaml');
    const t = trace('clean');
    const steps = t.buildSteps.map((s, i) => ({ ...s, ratio: i === 5 ? 0.5 : 0 }));
    expect(evaluatePolicy(policy, { ...t, buildSteps: steps }, IMAGE).map((v) => v.step.line)).toEqual([6]);
  });

  it('fails closed with evaluation-error naming the rule and step on a runtime error', () => {
    const policy = parsePolicy(rule('step["missing"] == 1'), 'p.yaml');
    let err: unknown;
    try {
      evaluatePolicy(policy, clean, IMAGE);
    } catch (e) {
      err = e;
    }
    expect(isPolicyError(err, 'evaluation-error')).toBe(true);
    expect((err as PolicyError).rule).toBe('r1');
    expect((err as PolicyError).message).toMatch(/^p\.yaml: rule 'r1' failed at Dockerfile:1 "FROM busybox:local" \(step 0\): /);
  });

  it('rejects a dyn result that turns out not to be bool, naming the rule', () => {
    const policy = parsePolicy(rule('step["extra"]'), 'p.yaml');
    const t = trace('clean');
    const steps = t.buildSteps.map((s) => ({ ...s, extra: 5 }));
    expect(() => evaluatePolicy(policy, { ...t, buildSteps: steps }, IMAGE)).toThrow(
      expect.objectContaining({ code: 'evaluation-error', rule: 'r1', message: expect.stringMatching(/rule 'r1' returned int .*deny must be bool/) }),
    );
  });

  it('names the item when an each rule fails at run time', () => {
    const policy = parsePolicy(rule('peer.bytesSent > 100', '    each: network\n'), 'p.yaml');
    const t = trace('clean');
    const steps = t.buildSteps.map((s) => ({ ...s, network: s.network.map((n) => ({ protocol: n.protocol, address: n.address, port: n.port, direction: n.direction })) }));
    // entries without the fields a rule reads: a hand-written trace can hold anything
    expect(() => evaluatePolicy(policy, { ...t, buildSteps: steps as unknown as TraceBuildStep[] }, IMAGE)).toThrow(/on tcp outbound 127\.0\.0\.1:8080/);
  });

  it('evaluates a structural copy of a policy (recompiling it)', () => {
    const policy = policyFile('pinned-compiler');
    const copy: Policy = { ...policy, rules: policy.rules.map((r) => ({ ...r })) };
    expect(evaluatePolicy(copy, trace('trojanized'), IMAGE).map((v) => v.rule)).toEqual(['compiler-digest-pinned']);
    expect(CC_CLEAN).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects something that is not a trace', () => {
    expect(() => evaluatePolicy(policyFile('no-lost-events'), {} as Trace, IMAGE)).toThrow(expect.objectContaining({ code: 'evaluation-error' }));
  });

  it('exposes the parsed rules', () => {
    const policy = policyFile('egress-allowlist');
    expect(policy.name).toBe('egress-allowlist');
    expect(policy.params).toEqual({ allowed: ['127.0.0.1:8080'] });
    expect(policy.rules.map((r) => [r.name, r.each, r.line])).toEqual([['egress-not-allowlisted', 'network', 9]]);
  });
});

describe('POLICY.md', () => {
  it('every YAML example parses and type-checks', () => {
    const md = readFileSync(fileURLToPath(new URL('./POLICY.md', import.meta.url)), 'utf8');
    const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const [i, block] of blocks.entries()) {
      expect(() => parsePolicy(block, `POLICY.md#${i}`), block).not.toThrow();
    }
  });

  it('the no-failed-commands example reports the exit status', () => {
    const md = readFileSync(fileURLToPath(new URL('./POLICY.md', import.meta.url)), 'utf8');
    const block = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes('no-failed-commands'));
    const policy = parsePolicy(block ?? '', 'POLICY.md');
    const t = trace('clean');
    const steps = t.buildSteps.map((s, i) => (i === 5 ? { ...s, processes: s.processes.map((p) => (p.pid === 202 ? { ...p, exitCode: 1 } : p)) } : s));
    const violations = evaluatePolicy(policy, { ...t, buildSteps: steps }, IMAGE);
    expect(violations.filter((v) => v.rule === 'no-failed-commands').map((v) => v.message)).toEqual(['/usr/local/bin/cc exited with 1']);
    expect(violations.filter((v) => v.rule === 'offline-after-deps').map((v) => v.step.line)).toEqual([5]);
  });
});

describe('path functions at run time', () => {
  it('turn a list of non-strings into an evaluation-error', () => {
    const policy = parsePolicy(rule('pathUnder("/src/a", step["dirs"])'), 'p.yaml');
    const t = trace('clean');
    const steps = t.buildSteps.map((s) => ({ ...s, dirs: [1] }));
    expect(() => evaluatePolicy(policy, { ...t, buildSteps: steps }, IMAGE)).toThrow(expect.objectContaining({ code: 'evaluation-error', rule: 'r1' }));
    const ok = t.buildSteps.map((s) => ({ ...s, dirs: ['/etc', '/src'] }));
    expect(evaluatePolicy(policy, { ...t, buildSteps: ok }, IMAGE)).toHaveLength(ok.length);
  });
});
