// --build-context: a FROM, a COPY --from and a stage of the same name use the named
// context's source (local directory, image, OCI layout), as BuildKit's frontend does.
import { describe, expect, it } from 'vitest';
import { convertError, convertText, ON_V0_13, ON_V0_8 } from '../../test/helpers/convert.js';
import { decodeDefinition } from '../llb/index.js';
import type { Conversion, ConvertOptions, NamedContext } from './index.js';
import { contextLookupName } from './named-contexts.js';

type Source = { identifier: string; attrs?: Record<string, string> };
const sources = (c: Conversion): Source[] =>
  decodeDefinition(c.definition)
    .filter((o) => o.op['source'])
    .map((o) => o.op['source'] as Source);
const execArgs = (c: Conversion): string[] =>
  decodeDefinition(c.definition)
    .filter((o) => o.op['exec'])
    .map((o) => ((o.op['exec'] as { meta: { args: string[] } }).meta.args).join(' '));

const DIGEST = 'sha256:' + 'a'.repeat(64);
const resolver: ConvertOptions['resolveImageConfig'] = async (ref) => ({
  digest: ref.includes('alpine') ? 'sha256:' + 'b'.repeat(64) : DIGEST,
  config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:' + 'c'.repeat(64)] }, config: { Env: [`FROM_REF=${ref}`] } },
});
const withContexts = (namedContexts: Record<string, NamedContext>, extra: Partial<ConvertOptions> = {}): Partial<ConvertOptions> => ({
  ...ON_V0_13,
  sessionId: 'sess1',
  resolveImageConfig: resolver,
  namedContexts,
  ...extra,
});

describe('named build contexts', () => {
  it('looks names up in their short form', () => {
    expect(contextLookupName('docker.io/library/alpine:latest')).toBe('alpine');
    expect(contextLookupName('alpine:3.19')).toBe('alpine:3.19');
    expect(contextLookupName('127.0.0.1:5000/x/y:latest')).toBe('127.0.0.1:5000/x/y');
    expect(contextLookupName('scratch')).toBeUndefined();
    expect(contextLookupName('context')).toBeUndefined();
  });

  it('a FROM naming a local context reads that directory from the session, with an empty config', async () => {
    const c = await convertText('FROM base\nRUN ls', withContexts({ base: { type: 'local', name: 'base', excludePatterns: ['*.tmp'] } }));
    const local = sources(c).find((s) => s.identifier === 'local://base');
    expect(local?.attrs).toEqual({ 'local.session': 'sess1', 'local.sharedkeyhint': 'context:base-', 'local.excludepatterns': '["*.tmp"]' });
    expect(sources(c).some((s) => s.identifier.startsWith('docker-image://'))).toBe(false);
    expect(c.steps[0]?.name).toBe('[context base] load from client');
    expect(c.localSources).toEqual([{ name: 'base', excludePatterns: ['*.tmp'] }]);
    expect(c.baseImages).toEqual([]);
    expect((c.imageConfig['config'] as { Env: string[] }).Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  it('a FROM naming an image context resolves and pins that image instead', async () => {
    const c = await convertText('FROM busybox:local\nRUN true', withContexts({ 'busybox:local': { type: 'docker-image', ref: 'alpine:3.19' } }));
    expect(sources(c).map((s) => s.identifier)).toEqual([`docker-image://docker.io/library/alpine:3.19@sha256:${'b'.repeat(64)}`]);
    expect(c.steps[0]?.name).toBe('[context busybox:local] docker.io/library/alpine:3.19');
    expect(c.baseImages).toEqual([{ ref: 'docker.io/library/alpine:3.19', digest: 'sha256:' + 'b'.repeat(64) }]);
    expect((c.imageConfig['config'] as { Env: string[] }).Env).toContain('FROM_REF=docker.io/library/alpine:3.19');
  });

  it('COPY --from naming a context copies from it; without the context it is an image', async () => {
    const df = 'FROM busybox:local\nCOPY --from=assets /a /a';
    const c = await convertText(df, withContexts({ assets: { type: 'local', name: 'assets', excludePatterns: [] } }));
    expect(sources(c).map((s) => s.identifier).sort()).toEqual([`docker-image://docker.io/library/busybox:local@${DIGEST}`, 'local://assets']);
    const plain = await convertText(df, withContexts({}));
    expect(sources(plain).map((s) => s.identifier).sort()).toEqual(['docker-image://docker.io/library/assets:latest', `docker-image://docker.io/library/busybox:local@${DIGEST}`]);
  });

  it('a stage of the context name is replaced: its instructions are not built', async () => {
    const df = 'FROM busybox:local AS deps\nRUN echo built-deps\nFROM busybox:local\nCOPY --from=deps /x /x\nRUN echo final';
    const c = await convertText(df, withContexts({ deps: { type: 'local', name: 'deps', excludePatterns: [] } }));
    expect(execArgs(c)).toEqual(['/bin/sh -c echo final']);
    expect(sources(c).map((s) => s.identifier)).toContain('local://deps');
  });

  it('prefers the context given for the platform (NAME::os/arch)', async () => {
    const c = await convertText(
      'FROM base',
      withContexts({ base: { type: 'local', name: 'plain', excludePatterns: [] }, 'base::linux/amd64': { type: 'local', name: 'amd', excludePatterns: [] } }),
    );
    expect(sources(c).map((s) => s.identifier)).toEqual(['local://amd']);
  });

  it('an OCI layout context is read from the session content store by digest, with its config', async () => {
    const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:' + 'd'.repeat(64)] }, config: { Env: ['FROM_LAYOUT=1'] } };
    const c = await convertText('FROM base\nRUN true', withContexts({ base: { type: 'oci-layout', storeId: 'store1', digest: DIGEST, config } }));
    expect(sources(c)).toEqual([expect.objectContaining({ identifier: `oci-layout://docker.io/library/base@${DIGEST}`, attrs: { 'oci.session': 'sess1', 'oci.store': 'store1' } })]);
    expect(c.steps[0]?.name).toBe('[context base] OCI load from client');
    expect((c.imageConfig['config'] as { Env: string[] }).Env).toContain('FROM_LAYOUT=1');
  });

  it('refuses an OCI layout context on a daemon without OCI layout sources, at the FROM line', async () => {
    const e = await convertError('FROM busybox:local\nFROM base\nRUN true', { ...withContexts({ base: { type: 'oci-layout', storeId: 's', digest: DIGEST, config: {} } }), ...ON_V0_8 });
    expect(e.message).toBe("Dockerfile:2: build context base is an OCI layout, which needs OCI layout sources (LLB cap source.ocilayout); dockerd 20.10.24's BuildKit (v0.8.x) cannot run it");
  });

  it('does not look up scratch or context', async () => {
    const c = await convertText('FROM scratch\nCOPY x /x', withContexts({ scratch: { type: 'local', name: 'scratch', excludePatterns: [] } }));
    expect(sources(c).map((s) => s.identifier)).toEqual(['local://context']);
  });
});
