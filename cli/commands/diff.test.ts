import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandResult } from '../../test/helpers/cli.js';
import { buildRuntimeTraceStatement, diffTraces, generateKeyPair, signStatement } from '../../attest/index.js';
import type { CliApp } from '../app.js';
import { parseTraceDocument, type ImageTraceFetcher } from '../trace-input.js';
import { normalizeTrace } from '../../model/index.js';

const TRACES = join(import.meta.dirname, '..', '..', 'testdata', 'policies', 'traces');
const read = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(TRACES, name), 'utf8')) as Record<string, unknown>;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'diff-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const diff = (args: string[], app: Partial<CliApp> = {}): Promise<CommandResult> => runCommand(['diff', ...args], { cwd: TRACES, app });

const TROJAN_DIFF = [
  '--- clean.json',
  '+++ trojanized.json',
  'Dockerfile:6 RUN cc -o /out/app main.c  [stage 0]',
  '- exec /usr/local/bin/cc sha256:2f35a59509411ec14a5693ee873aca2fbe87197826b7061984ef4efb58699873',
  '+ exec /usr/local/bin/cc sha256:5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18  (digest changed)',
  '+ connect tcp outbound 127.0.0.1:9999',
  '+ write created /src/.cc-implant.o',
  '',
].join('\n');

describe('tracebuild diff', () => {
  it('exits 0 and prints nothing for identical traces', async () => {
    expect(await diff(['clean.json', 'clean.json'])).toEqual({ code: 0, out: '', err: '' });
  });

  it('exits 1 and prints the per-instruction differences', async () => {
    expect(await diff(['clean.json', 'trojanized.json'])).toEqual({ code: 1, out: TROJAN_DIFF, err: '' });
  });

  it('--json prints the diffTraces result', async () => {
    const r = await diff(['clean.json', 'trojanized.json', '--json']);
    expect(r.code).toBe(1);
    const expected = diffTraces(parseTraceDocument(read('clean.json'), 'a').trace, parseTraceDocument(read('trojanized.json'), 'b').trace);
    expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(JSON.parse(r.out)).toMatchObject({
      identical: false,
      steps: [{ status: 'changed', lineA: 6, lineB: 6, digests: [{ exe: '/usr/local/bin/cc' }], network: { added: [{ address: '127.0.0.1', port: 9999 }] } }],
    });
    const same = await diff(['--json', 'trojanized.json', 'trojanized.json']);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.out)).toEqual({ identical: true, steps: [] });
  });

  it('exits 2 on usage errors', async () => {
    const missing = await diff(['clean.json']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe("error: missing required argument 'B'\n");
    expect((await diff(['clean.json', 'trojanized.json', '--bogus'])).code).toBe(2);
  });

  it('exits 2, never 1, when an input cannot be read', async () => {
    const nofile = await diff(['clean.json', 'nope.json']);
    expect(nofile).toEqual({ code: 2, out: '', err: 'error: nope.json: no such file\n' });
    writeFileSync(join(dir, 'bad.json'), '[]');
    const bad = await diff([join(dir, 'bad.json'), 'clean.json']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(`error: ${join(dir, 'bad.json')}: not a trace: the JSON is an array, not an object with buildSteps\n`);
    const image = await diff(['clean.json', 'registry.example/app:1']);
    expect(image.code).toBe(2);
    expect(image.err).toBe('error: registry.example/app:1: not a file; reading traces from images needs --key PUB or --certificate-identity (the attestation is verified first)\n');
  });

  it('--key means signed: an unsigned trace file is an error (exit 2, trouble), not a silent pass', async () => {
    const r = await diff(['clean.json', 'trojanized.json', '--key', 'pub.pem']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('error: clean.json: a trace file, not a signed Sigstore bundle: --key asks for a signature, and this file has none that can be checked\n');
  });

  it('notes on stderr that a bundle was not verified, keeping stdout the diff', async () => {
    const statement = buildRuntimeTraceStatement({
      image: { name: 'app', digest: `sha256:${'cd'.repeat(32)}` },
      trace: normalizeTrace(read('trojanized.json')),
      monitoredProcess: { hostID: 'h', event: 'e' },
      timestamps: { buildStartedOn: '2025-03-01T10:00:00Z', buildFinishedOn: '2025-03-01T10:00:02Z' },
    });
    const bundle = join(dir, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(await signStatement(statement, { privateKey: generateKeyPair().privateKey })));
    const r = await diff(['clean.json', bundle]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`note: ${bundle}: not verified: use \`tracebuild verify\`\n`);
    expect(r.out).toBe(TROJAN_DIFF.replace('+++ trojanized.json', `+++ ${bundle}`));
  });

  it('reads images through the wired fetcher, with their keys', async () => {
    const statement = buildRuntimeTraceStatement({
      image: { name: 'app', digest: `sha256:${'ef'.repeat(32)}` },
      trace: normalizeTrace(read('clean.json')),
      monitoredProcess: { hostID: 'h', event: 'e' },
      timestamps: { buildStartedOn: '2025-03-01T10:00:00Z', buildFinishedOn: '2025-03-01T10:00:02Z' },
    });
    const seen: string[] = [];
    const fetchImageTrace: ImageTraceFetcher = async (ref, options) => {
      seen.push(`${ref} ${options.keyPaths.join(',')}`);
      return { statement, image: `app@sha256:${'ef'.repeat(32)}`, keyId: 'k' };
    };
    const r = await diff(['app:1', 'app:2', '--key', 'pub.pem'], { fetchImageTrace });
    // the two images are fetched at once: in either order
    expect(seen.sort()).toEqual([`app:1 ${join(TRACES, 'pub.pem')}`, `app:2 ${join(TRACES, 'pub.pem')}`]);
    expect(r.code).toBe(0);
    // With --key, a trace file next to an image is refused: it carries no signature.
    const mixed = await diff(['app:1', 'trojanized.json', '--key', 'pub.pem'], { fetchImageTrace });
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain('trojanized.json: a trace file, not a signed Sigstore bundle');
  });

  it('shows control characters from the traces as escapes', async () => {
    const doc = read('trojanized.json') as { buildSteps: { processes: { exe: string }[] }[] };
    const p = doc.buildSteps[5]?.processes[1];
    if (p === undefined) throw new Error('fixture changed');
    p.exe = '/usr/local/bin/\u001b[2Jcc';
    writeFileSync(join(dir, 'ansi.json'), JSON.stringify(doc));
    const r = await diff(['clean.json', join(dir, 'ansi.json')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('+ exec /usr/local/bin/\\x1b[2Jcc sha256:5b41');
    expect(r.out).not.toContain('\u001b');
  });
});
