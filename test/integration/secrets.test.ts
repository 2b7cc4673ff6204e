// Secrets never reach a trace, the build's output or a signed statement, in any form a
// command line or a build arg can carry them, against the real daemon and the real probe:
//   a multi-word secret that an unquoted $(cat) hands to argv one word at a time;
//   a secret file that ends in two newlines;
//   a build arg that carries the secret inside it (pre-<secret>), signed into the provenance;
//   argv, $0, file names, the working directory and link targets;
//   the step's own output (it prints the secret).
// The provenance names the context relative to the working directory, never the host path.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, uniqueTag } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const PASSWORD = 'secrets-integration';

describe.skipIf(gate.skip || noTracing !== undefined)('secrets in every form (real probe)', () => {
  let work = '';
  const tag = uniqueTag('secrets', 'tracebuild');
  const words = `correct horse battery staple ${randomBytes(4).toString('hex')}`;
  const token = `tb-tok-${randomBytes(10).toString('hex')}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-secrets-'));
    writeFiles(work, {
      // two trailing newlines: `$(cat)` drops both, the redaction must still see the value
      'pw.txt': `${words}\n\n`,
      'tok.txt': `${token}\n\n`,
      'ctx/Dockerfile': [
        'FROM busybox:local',
        'ARG PRE',
        'RUN --mount=type=secret,id=pw --mount=type=secret,id=tok \\',
        '    echo "the token is $(cat /run/secrets/tok)" && \\',
        '    /bin/echo $(cat /run/secrets/pw) > /dev/null && \\',
        '    T="$(cat /run/secrets/tok)" && \\',
        '    touch "/tmp/$T.txt" && mkdir "/tmp/d-$T" && cd "/tmp/d-$T" && /bin/true && cd / && \\',
        '    ln -s "/opt/$T" /tmp/link && sh -c true "$T" && echo "$PRE" > /dev/null',
        '',
      ].join('\n'),
    });
    const keys = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env: { TRACEBUILD_KEY_PASSWORD: PASSWORD } });
    expect(keys.exitCode, keys.stderr).toBe(0);
  });

  afterAll(async () => {
    await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('trace, output and provenance carry no secret, and say what was redacted', async () => {
    const traceOut = path.join(work, 'trace.json');
    const attestOut = path.join(work, 'attest');
    const r = await tracebuild(
      [
        'build', '--network', 'host', '--progress', 'plain', '--no-cache', '-t', tag,
        '--secret', 'id=pw,src=pw.txt', '--secret', 'id=tok,src=tok.txt',
        '--build-arg', `PRE=pre-${token}`,
        '--trace-out', traceOut, '--key', 'signer.key', '--attest-out', attestOut,
        'ctx',
      ],
      { cwd: work, env: { TRACEBUILD_KEY_PASSWORD: PASSWORD } },
    );
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 60)}`;
    expect(r.exitCode, shown).toBe(0);

    // the step printed the token: the output shows it masked
    expect(r.stderr).toContain('the token is [secret tok]');
    expect(r.stderr).toContain('warning: build arg PRE carries a --secret value');
    for (const leaked of [token, words, 'battery staple']) expect(r.stderr + r.stdout, `${leaked} in the output`).not.toContain(leaked);

    const text = readFileSync(traceOut, 'utf8');
    for (const leaked of [token, token.slice(7), words, 'battery']) expect(text, `${leaked} in the trace`).not.toContain(leaked);
    const trace = JSON.parse(text) as Trace;
    const step = trace.buildSteps.find((s) => s.keyword === 'RUN');
    expect(step, 'the RUN step').toBeDefined();
    const argvs = step!.processes.map((p) => p.argv);
    // the words of the multi-word secret, one argv entry each
    expect(argvs).toContainEqual(['/bin/echo', '[secret pw]', '[secret pw]', '[secret pw]', '[secret pw]', '[secret pw]']);
    // $0 of `sh -c true "$T"`
    expect(argvs).toContainEqual(['sh', '-c', 'true', '[secret tok]']);
    // the working directory of /bin/true
    expect(step!.processes.find((p) => p.argv[0] === '/bin/true')?.cwd).toBe('/tmp/d-[secret tok]');
    // file names and link targets
    expect(step!.files.created).toContain('/tmp/[secret tok].txt');
    expect(JSON.stringify(step)).toContain('/opt/[secret tok]');
    expect(step!.warnings.join('\n')).toContain('values of secret(s) pw, tok appeared in this step');

    // the signed provenance: the build arg that carries the token is redacted, the
    // context is named relative to the working directory
    const bundles = readdirSync(attestOut).map((f) => readFileSync(path.join(attestOut, f), 'utf8'));
    expect(bundles.length).toBeGreaterThanOrEqual(2);
    const statements = bundles.map((b) => {
      const bundle = JSON.parse(b) as { dsseEnvelope: { payload: string } };
      return Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8');
    });
    for (const s of statements) {
      expect(s).not.toContain(token);
      expect(s).not.toContain(work);
    }
    const provenance = JSON.parse(statements.find((s) => s.includes('slsa.dev/provenance'))!) as {
      predicate: { buildDefinition: { externalParameters: Record<string, unknown>; internalParameters: Record<string, unknown> } };
    };
    expect(provenance.predicate.buildDefinition.externalParameters).toMatchObject({
      context: 'ctx',
      dockerfile: { path: 'Dockerfile' },
      buildArgs: { PRE: '<redacted: carries a --secret value>' },
    });
    expect(provenance.predicate.buildDefinition.internalParameters.redactedBuildArgs).toEqual(['PRE']);
  });
});
