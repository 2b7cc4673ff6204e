import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandResult } from '../../test/helpers/cli.js';
import { buildRuntimeTraceStatement, exportPublicKeyPem, generateKeyPair, signStatement } from '../../attest/index.js';
import { normalizeTrace } from '../../model/index.js';

const ROOT = join(import.meta.dirname, '..', '..', 'testdata', 'policies');
const CLEAN_CC = '2f35a59509411ec14a5693ee873aca2fbe87197826b7061984ef4efb58699873';
const TROJAN_CC = '5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'verify-policy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const verify = (args: string[]): Promise<CommandResult> => runCommand(['verify', ...args], { cwd: ROOT });

describe('verify --trace FILE --policy FILE', () => {
  it('passes the clean trace, saying the file is not signed', async () => {
    const r = await verify(['--trace', 'traces/clean.json', '--policy', 'pinned-compiler.yaml']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toBe(
      [
        'Trace traces/clean.json (trace): trace file not signed',
        'Policy pinned-compiler.yaml (pinned-compiler): 1 rule(s) on 6 step(s)',
        'Policy passed: pinned-compiler.yaml (pinned-compiler)',
        '',
      ].join('\n'),
    );
  });

  it('fails the trojanized trace: rule, message, Dockerfile line, instruction, process with its digest', async () => {
    const r = await verify(['--trace', 'traces/trojanized.json', '--policy', 'pinned-compiler.yaml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('trace file not signed');
    expect(r.out).toContain(
      [
        `  VIOLATION  compiler-digest-pinned: /usr/local/bin/cc ran with sha256 ${TROJAN_CC}, which is not one of the pinned digests`,
        '    at Dockerfile:6 RUN cc -o /out/app main.c',
        `    process /usr/local/bin/cc sha256:${TROJAN_CC} (pid 202: cc -o /out/app main.c)`,
        'Policy FAILED: pinned-compiler.yaml (pinned-compiler): 1 violation(s)',
      ].join('\n'),
    );
    expect(r.out).not.toContain(CLEAN_CC);
    expect(r.err).toBe('error: traces/trojanized.json: 1 violation(s) of policy pinned-compiler.yaml\n');
  });

  it('names the peer for network rules and the file for file rules', async () => {
    const egress = await verify(['--trace', 'traces/trojanized.json', '--policy', 'egress-allowlist.yaml']);
    expect(egress.code).toBe(1);
    expect(egress.out).toContain('VIOLATION  egress-not-allowlisted: connection to tcp 127.0.0.1:9999 is not in the egress allowlist');
    expect(egress.out).toContain('    network tcp outbound 127.0.0.1:9999');
    const writes = await verify(['--trace', 'traces/trojanized.json', '--policy', 'no-writes-under.yaml']);
    expect(writes.code).toBe(1);
    expect(writes.out).toMatch(/VIOLATION {2}no-writes-to-sources: RUN step created \/src\/\.cc-implant\.o under a protected directory\n {4}at Dockerfile:6 RUN cc -o \/out\/app main\.c\n {4}file created \/src\/\.cc-implant\.o\n/);
    const clean = await verify(['--trace', 'traces/clean.json', '--policy', 'egress-allowlist.yaml']);
    expect(clean.code, clean.out).toBe(0);
  });

  it('--json includes the violations', async () => {
    const r = await verify(['--trace', 'traces/trojanized.json', '--policy', 'pinned-compiler.yaml', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { trace: { verified: boolean }; note: string; policy: { passed: boolean; violations: unknown[] } };
    expect(doc.trace.verified).toBe(false);
    expect(doc.note).toBe('trace file not signed');
    expect(doc.policy.passed).toBe(false);
    expect(doc.policy.violations).toEqual([
      {
        rule: 'compiler-digest-pinned',
        message: `/usr/local/bin/cc ran with sha256 ${TROJAN_CC}, which is not one of the pinned digests`,
        step: { index: 5, line: 6, instruction: 'RUN cc -o /out/app main.c', stage: '0' },
        evidence: [{ kind: 'process', exe: '/usr/local/bin/cc', sha256: TROJAN_CC, pid: 202, argv: ['cc', '-o', '/out/app', 'main.c'] }],
      },
    ]);
  });

  it('a policy that does not type-check exits 1 naming the rule and the CEL error, before reading the trace', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - name: typo\n    each: processes\n    deny: process.exitcode == 1\n    message: x\n');
    const r = await verify(['--trace', 'traces/nope.json', '--policy', bad]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(`error: ${bad}:4: rule 'typo': deny: CEL type error at 1:8: undefined field 'exitcode' on process`);
    const missing = await verify(['--trace', 'traces/clean.json', '--policy', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`error: policy ${join(dir, 'missing.yaml')}: no such file\n`);
  });

  it('reads a policy and a trace as regular files of bounded size: no FIFO, no device', async () => {
    const fifo = join(dir, 'policy.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await verify(['--trace', 'traces/clean.json', '--policy', fifo]);
    expect(r).toMatchObject({ code: 1, err: `error: policy ${fifo} is a FIFO, not a regular file: refused\n` });
    const zero = await verify(['--trace', '/dev/zero', '--policy', 'pinned-compiler.yaml']);
    expect(zero.code).toBe(1);
    expect(zero.err).toBe('error: /dev/zero is a character device, not a regular file: refused\n');
  });

  it('a missing trace file exits 1', async () => {
    const r = await verify(['--trace', 'traces/nope.json', '--policy', 'pinned-compiler.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: traces/nope.json: no such file (--trace takes a trace, statement or bundle file)\n');
  });

  it('a signed bundle: unverified without --key, verified with it', async () => {
    const { privateKey, publicKey } = generateKeyPair();
    const statement = buildRuntimeTraceStatement({
      image: { name: 'app', digest: `sha256:${'cd'.repeat(32)}` },
      trace: normalizeTrace(JSON.parse(readFileSync(join(ROOT, 'traces', 'trojanized.json'), 'utf8'))),
      monitoredProcess: { hostID: 'h', event: 'e' },
      timestamps: { buildStartedOn: '2025-03-01T10:00:00Z', buildFinishedOn: '2025-03-01T10:00:02Z' },
    });
    const bundle = join(dir, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(await signStatement(statement, { privateKey })));
    const pub = join(dir, 'k.pub');
    writeFileSync(pub, exportPublicKeyPem(publicKey));
    const unsigned = await verify(['--trace', bundle, '--policy', 'pinned-compiler.yaml']);
    expect(unsigned.code).toBe(1);
    expect(unsigned.out).toContain(`Trace ${bundle} (bundle): trace file not signed (the bundle's signature was not checked`);
    const signed = await verify(['--trace', bundle, '--policy', 'pinned-compiler.yaml', '--key', pub]);
    expect(signed.code).toBe(1);
    expect(signed.out).toMatch(/\(bundle\): signature verified: signed by key [0-9a-f]{64}\n/);
    expect(signed.out).toContain('VIOLATION  compiler-digest-pinned');
    // --key alone checks the signature
    const only = await verify(['--trace', bundle, '--key', pub]);
    expect(only.code).toBe(0);
    expect(only.out).toMatch(/^Trace \S+ \(bundle\): signature verified: signed by key [0-9a-f]{64}\n$/);
    // by another key: exit 1
    const other = join(dir, 'other.pub');
    writeFileSync(other, exportPublicKeyPem(generateKeyPair().publicKey));
    const wrong = await verify(['--trace', bundle, '--key', other]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain(`error: ${bundle}: not verified with --key: bundle is signed by key`);
  });

  it('--key means signed: a trace file, a bare statement or an envelope is an error (exit 1), not a silent pass', async () => {
    const { privateKey, publicKey } = generateKeyPair();
    const pub = join(dir, 'unsigned.pub');
    writeFileSync(pub, exportPublicKeyPem(publicKey));
    const statement = buildRuntimeTraceStatement({
      image: { name: 'app', digest: `sha256:${'cd'.repeat(32)}` },
      trace: normalizeTrace(JSON.parse(readFileSync(join(ROOT, 'traces', 'clean.json'), 'utf8'))),
      monitoredProcess: { hostID: 'h', event: 'e' },
      timestamps: { buildStartedOn: '2025-03-01T10:00:00Z', buildFinishedOn: '2025-03-01T10:00:02Z' },
    });
    const stmt = join(dir, 'statement.json');
    writeFileSync(stmt, JSON.stringify(statement));
    const envelope = join(dir, 'envelope.json');
    writeFileSync(envelope, JSON.stringify((await signStatement(statement, { privateKey })).dsseEnvelope));
    for (const [file, what] of [
      ['traces/clean.json', 'a trace file'],
      [stmt, 'a bare in-toto statement'],
      [envelope, 'a DSSE envelope without its verification material'],
    ] as const) {
      for (const extra of [[], ['--policy', 'pinned-compiler.yaml']]) {
        const r = await verify(['--trace', file, '--key', pub, ...extra]);
        expect(r.code, `${file} ${extra.join(' ')}`).toBe(1);
        expect(r.out).toBe('');
        expect(r.err).toBe(`error: ${file}: ${what}, not a signed Sigstore bundle: --key asks for a signature, and this file has none that can be checked\n`);
      }
    }
  });

  it('usage errors exit 2', async () => {
    expect((await verify(['--trace', 'traces/clean.json'])).err).toBe('error: --trace FILE needs --policy FILE, or --key PUB / --certificate-identity to check its signature\n');
    expect((await verify(['img:1', '--trace', 'traces/clean.json', '--policy', 'x.yaml'])).code).toBe(2);
    expect((await verify(['--policy', 'x.yaml'])).code).toBe(2);
    const noKey = await verify(['img:1', '--policy', 'x.yaml']);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toBe('error: nothing to trust: give --key PUB, or --certificate-identity with --trusted-root or --ca-roots\n');
    const identityAlone = await verify(['img:1', '--certificate-identity', 'spiffe://example.org/ci']);
    expect(identityAlone.code).toBe(2);
    expect(identityAlone.err).toContain('--certificate-identity needs the CAs that issue the certificates');
  });
});
