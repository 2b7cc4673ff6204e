import { describe, expect, it } from 'vitest';
import { convertOptions, ON_V0_8 } from '../../test/helpers/convert.js';
import type { DockerfileAst } from '../../dockerfile-parser/index.js';
import { decodeDefinition } from '../llb/index.js';
import type { DecodedOp } from '../llb/index.js';
import { ConvertError, convertDockerfile, describeConversion } from './index.js';
import type { Conversion, ConvertOptions, ResolvedImage } from './index.js';

const busyboxConfig: ResolvedImage = {
  config: {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], Hostname: '' },
    rootfs: { type: 'layers', diff_ids: ['sha256:b9d86e0472588057746d35bddce9a288cf189ce99e45eb45f35a26580ba3c757'] },
    history: [{ created: '2026-01-01T00:00:00Z', comment: 'Imported from -' }],
    created: '2026-01-01T00:00:00Z',
  },
};

/** As `tracebuild build` would convert on dockerd 20.10 (BuildKit v0.8): every base image
 * resolves to busybox's config. */
function opts(text: string, extra: Partial<ConvertOptions> = {}): ConvertOptions {
  return convertOptions(text, { resolveImageConfig: async () => busyboxConfig, ...ON_V0_8, ...extra });
}

async function convert(text: string, extra: Partial<ConvertOptions> = {}): Promise<Conversion> {
  return convertDockerfile(opts(text, extra));
}

function ops(c: Conversion): DecodedOp[] {
  return decodeDefinition(c.definition);
}

function execs(c: Conversion): Record<string, unknown>[] {
  return ops(c)
    .filter((o) => o.op['exec'])
    .map((o) => o.op['exec'] as Record<string, unknown>);
}

function fileActions(c: Conversion): Record<string, unknown>[] {
  return ops(c)
    .filter((o) => o.op['file'])
    .flatMap((o) => (o.op['file'] as { actions: Record<string, unknown>[] }).actions);
}

function config(c: Conversion): Record<string, unknown> {
  return c.imageConfig['config'] as Record<string, unknown>;
}

async function convertError(text: string, extra: Partial<ConvertOptions> = {}): Promise<ConvertError> {
  try {
    await convert(text, extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConvertError);
    return e as ConvertError;
  }
  throw new Error('expected a ConvertError');
}

describe('FROM', () => {
  it('normalizes the reference and carries the base config over', async () => {
    const c = await convert('FROM busybox:local\n');
    const src = ops(c)[0]?.op['source'] as Record<string, unknown>;
    expect(src).toEqual({ identifier: 'docker-image://docker.io/library/busybox:local' });
    expect(config(c)['Cmd']).toEqual(['sh']);
    expect(config(c)['Hostname']).toBeUndefined();
    expect(c.imageConfig['rootfs']).toEqual(busyboxConfig.config['rootfs']);
    expect(c.imageConfig['created']).toBeUndefined();
    expect(c.baseImages).toEqual([{ ref: 'docker.io/library/busybox:local' }]);
    expect(c.steps.map((s) => [s.keyword, s.name, s.line])).toEqual([['FROM', '[1/1] FROM docker.io/library/busybox:local', 1]]);
  });

  it('adds :latest and docker.io/library, keeps registries', async () => {
    const ids = async (ref: string): Promise<string> => {
      const c = await convert(`FROM ${ref}\n`, { resolveImageConfig: undefined });
      return (ops(c)[0]?.op['source'] as { identifier: string }).identifier;
    };
    expect(await ids('alpine')).toBe('docker-image://docker.io/library/alpine:latest');
    expect(await ids('user/app:1')).toBe('docker-image://docker.io/user/app:1');
    expect(await ids('localhost:5000/app')).toBe('docker-image://localhost:5000/app:latest');
  });

  it('pins the digest the resolver reports', async () => {
    const c = await convert('FROM busybox:local\n', { resolveImageConfig: async () => ({ ...busyboxConfig, digest: 'sha256:' + 'a'.repeat(64) }) });
    expect((ops(c)[0]?.op['source'] as { identifier: string }).identifier).toBe(`docker-image://docker.io/library/busybox:local@sha256:${'a'.repeat(64)}`);
    expect(c.baseImages).toEqual([{ ref: 'docker.io/library/busybox:local', digest: 'sha256:' + 'a'.repeat(64) }]);
  });

  it('uses global ARGs with --build-arg overrides', async () => {
    const c = await convert('ARG IMG=nothere\nARG TAG=x\nFROM ${IMG}:${TAG}\n', { buildArgs: { IMG: 'busybox' }, resolveImageConfig: undefined });
    expect((ops(c)[0]?.op['source'] as { identifier: string }).identifier).toBe('docker-image://docker.io/library/busybox:x');
  });

  it('FROM scratch has the empty config', async () => {
    const c = await convert('FROM scratch\nCOPY a /a\n');
    expect(c.baseImages).toEqual([]);
    expect(config(c)).toMatchObject({ Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/' });
    expect(fileActions(c)[0]?.['input']).toBe(-1);
  });

  it('reports a blank base name and an invalid reference at the FROM line', async () => {
    const e1 = await convertError('ARG X\nFROM $X\n');
    expect([e1.code, e1.line, e1.message]).toEqual(['invalid-base-name', 2, 'Dockerfile:2: base name ($X) should not be blank']);
    const e2 = await convertError('FROM Bad:Ref:x\n');
    expect([e2.code, e2.line]).toEqual(['invalid-reference', 1]);
  });
});

describe('RUN', () => {
  it('shell form runs through /bin/sh -c with env, cwd and user', async () => {
    const c = await convert('FROM busybox:local\nARG V=1\nARG UNSET\nENV A=b\nWORKDIR /w\nUSER nobody\nRUN echo $A\n');
    const [exec] = execs(c);
    expect(exec?.['meta']).toEqual({
      args: ['/bin/sh', '-c', 'echo $A'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'V=1', 'A=b'],
      cwd: '/w',
      user: 'nobody',
    });
    expect(exec?.['mounts']).toEqual([{ dest: '/' }]);
    const hist = c.imageConfig['history'] as { created_by: string }[];
    expect(hist.at(-1)?.created_by).toBe('RUN |2 V=1 UNSET= /bin/sh -c echo $A # buildkit');
    const run = c.steps.find((s) => s.keyword === 'RUN');
    expect(run).toMatchObject({ name: '[3/3] RUN echo b', line: 7, instruction: 'RUN echo $A', stage: '0', stageIndex: 0 });
    expect(c.definition.metadata[run?.vertex as string]?.description).toEqual({
      'com.docker.dockerfile.v1.command': 'RUN echo $A',
      'llb.customname': '[3/3] RUN echo b',
    });
  });

  it('exec form as is; SHELL changes the shell form', async () => {
    const c = await convert('FROM busybox:local\nRUN ["echo", "x"]\nSHELL ["/bin/bash", "-xc"]\nRUN echo y\n');
    expect(execs(c).map((e) => (e['meta'] as { args: string[] }).args)).toEqual([
      ['echo', 'x'],
      ['/bin/bash', '-xc', 'echo y'],
    ]);
  });

  it('passes --build-arg values of declared ARGs (and proxies) only', async () => {
    const c = await convert('FROM busybox:local\nARG A\nRUN true\n', { buildArgs: { A: 'cli', B: 'ignored', HTTP_PROXY: 'http://p' } });
    const meta = execs(c)[0]?.['meta'] as { env: string[]; proxy_env: unknown };
    expect(meta.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=cli']);
    expect(meta.proxy_env).toEqual({ http_proxy: 'http://p' });
  });

  it('maps the network option', async () => {
    const host = await convert('FROM busybox:local\nRUN true\n', { network: 'host' });
    const none = await convert('FROM busybox:local\nRUN true\n', { network: 'none' });
    const def = await convert('FROM busybox:local\nRUN true\n');
    expect(execs(host)[0]?.['network']).toBe('HOST');
    expect(execs(none)[0]?.['network']).toBe('NONE');
    expect(execs(def)[0]?.['network']).toBeUndefined();
  });

  it('matches the RUN vertex BuildKit built for the same instruction (live digest)', async () => {
    const c = await convert('FROM busybox:local AS build\nARG FOO=bar\nENV X=1 Y=$FOO\nRUN echo $X > /x.txt\nFROM busybox:local\n', {
      buildArgs: { FOO: 'cli' },
      network: 'host',
      target: 'build',
    });
    const run = c.steps.find((s) => s.keyword === 'RUN');
    expect(run?.vertex).toBe('sha256:a8f6d3b7b2ae9603b80f493c4924dfde5f821168e5bb4d09f3f746e7f6a812e9');
  });

  it('reports an invalid mount option at its line', async () => {
    const e = await convertError('FROM busybox:local\n\nRUN --mount=type=cache,target=/c,bogus=1 true\n');
    expect([e.code, e.line]).toEqual(['invalid-mount', 3]);
    expect(e.message).toContain("unexpected key 'bogus'");
  });
});

describe('COPY and ADD', () => {
  it('copies from the build context with BuildKit flags', async () => {
    const c = await convert('FROM busybox:local\nWORKDIR /app\nCOPY --chown=1000:users a.txt b/ ./\nADD x.tar /opt/\n');
    const acts = fileActions(c);
    expect(acts[1]).toEqual({
      secondaryInput: 1,
      output: -1,
      copy: {
        src: '/a.txt',
        dest: '/app/',
        owner: { user: { byID: 1000 }, group: { byName: { name: 'users' } } },
        mode: -1,
        followSymlink: true,
        dirCopyContents: true,
        createDestPath: true,
        allowWildcard: true,
        allowEmptyWildcard: true,
        timestamp: -1,
      },
    });
    expect(acts[2]).toMatchObject({ input: 2, secondaryInput: 1, copy: { src: '/b', dest: '/app/' } });
    expect((acts[3]?.['copy'] as Record<string, unknown>)['attemptUnpackDockerCompatibility']).toBe(true);
    const local = ops(c).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier === 'local://context');
    expect((local?.op['source'] as { attrs: unknown }).attrs).toEqual({
      'local.followpaths': '["a.txt","b","x.tar"]',
      'local.sharedkeyhint': 'context',
    });
    expect(local?.metadata?.description?.['llb.customname']).toBe('[internal] load build context');
    const hist = (c.imageConfig['history'] as { created_by: string }[]).map((h) => h.created_by);
    expect(hist.slice(-2)).toEqual(['COPY a.txt b/ ./ # buildkit', 'ADD x.tar /opt/ # buildkit']);
  });

  it('resolves relative destinations against WORKDIR and keeps a file destination', async () => {
    const c = await convert('FROM busybox:local\nWORKDIR /w\nCOPY a sub/name\nCOPY . .\n', { excludePatterns: ['*.tmp'], contextName: 'ctx' });
    const acts = fileActions(c).filter((a) => a['copy']);
    expect(acts.map((a) => (a['copy'] as { dest: string }).dest)).toEqual(['/w/sub/name', '/w/']);
    const local = ops(c).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier === 'local://ctx');
    // COPY . means the whole context: no followpaths.
    expect((local?.op['source'] as { attrs: unknown }).attrs).toEqual({ 'local.excludepatterns': '["*.tmp"]', 'local.sharedkeyhint': 'ctx' });
    expect(c.localSources).toEqual([{ name: 'ctx', excludePatterns: ['*.tmp'] }]);
  });

  it('--chmod sets the mode', async () => {
    const c = await convert('FROM busybox:local\nCOPY --chmod=0755 a /a\n');
    expect((fileActions(c)[0]?.['copy'] as { mode: number }).mode).toBe(0o755);
  });

  it('refuses a URL in COPY, with the line', async () => {
    const e = await convertError('FROM busybox:local\nCOPY http://example.invalid/x /x\n');
    expect([e.code, e.line, e.detail]).toEqual(['invalid-instruction', 2, "source can't be a URL for COPY"]);
  });
});

describe('WORKDIR', () => {
  it('makes the directory (0755, parents, owned by USER) and joins relative paths', async () => {
    const c = await convert('FROM busybox:local\nUSER nobody\nWORKDIR /a\nWORKDIR b\nWORKDIR /\n');
    const acts = fileActions(c);
    expect(acts).toHaveLength(2);
    expect(acts[0]?.['mkdir']).toEqual({ path: '/a', mode: 0o755, makeParents: true, owner: { user: { byName: { name: 'nobody' } } }, timestamp: -1 });
    expect((acts[1]?.['mkdir'] as { path: string }).path).toBe('/a/b');
    expect(config(c)['WorkingDir']).toBe('/');
    const hist = (c.imageConfig['history'] as { created_by: string; empty_layer?: boolean }[]).slice(-3);
    expect(hist.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['WORKDIR /a', false],
      ['WORKDIR /a/b', false],
      ['WORKDIR /', true],
    ]);
  });
});

describe('metadata instructions', () => {
  it('ENV, LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, SHELL, MAINTAINER, ONBUILD', async () => {
    const c = await convert(
      [
        'FROM busybox:local',
        'MAINTAINER me',
        'ENV A=1 B=${A}x',
        'ENV PATH=/x:$PATH',
        'LABEL l1="v 1" l2=$A',
        'USER 1000:1000',
        'EXPOSE 80 53/udp 8000-8001',
        'VOLUME ["/data"]',
        'VOLUME /logs /cache',
        'STOPSIGNAL SIGQUIT',
        'SHELL ["/bin/ash", "-c"]',
        'ONBUILD RUN echo hi',
        '',
      ].join('\n'),
      { labels: { extra: 'yes', l2: 'override' } },
    );
    expect(c.imageConfig['author']).toBe('me');
    expect(config(c)).toEqual({
      User: '1000:1000',
      ExposedPorts: { '53/udp': {}, '80/tcp': {}, '8000/tcp': {}, '8001/tcp': {} },
      Env: ['PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'B=x'],
      Cmd: ['sh'],
      Volumes: { '/cache': {}, '/data': {}, '/logs': {} },
      Labels: { extra: 'yes', l1: 'v 1', l2: 'override' },
      StopSignal: 'SIGQUIT',
      OnBuild: ['RUN echo hi'],
      Shell: ['/bin/ash', '-c'],
    });
    const hist = (c.imageConfig['history'] as { created_by: string; empty_layer?: boolean; comment: string }[]).slice(1);
    expect(hist.map((h) => h.created_by)).toEqual([
      'MAINTAINER me',
      'ENV A=1 B=x',
      'ENV PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'LABEL l1=v 1 l2=1',
      'USER 1000:1000',
      'EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]',
      'VOLUME [/data]',
      'VOLUME [/logs /cache]',
      'STOPSIGNAL SIGQUIT',
      'SHELL [/bin/ash -c]',
    ]);
    expect(hist.every((h) => h.empty_layer === true && h.comment === 'buildkit.dockerfile.v0')).toBe(true);
    expect(c.steps.map((s) => s.keyword)).toEqual(['FROM']);
  });

  it('CMD and ENTRYPOINT: ENTRYPOINT drops the inherited CMD, not one set in the stage', async () => {
    const a = await convert('FROM busybox:local\nENTRYPOINT ["/e"]\n');
    expect(config(a)['Cmd']).toBeUndefined();
    expect(config(a)['Entrypoint']).toEqual(['/e']);
    const b = await convert('FROM busybox:local\nCMD run me\nENTRYPOINT ["/e"]\n');
    expect(config(b)).toMatchObject({ Cmd: ['/bin/sh', '-c', 'run me'], Entrypoint: ['/e'], ArgsEscaped: true });
    const hist = (b.imageConfig['history'] as { created_by: string }[]).map((h) => h.created_by);
    expect(hist.slice(-2)).toEqual(['CMD ["/bin/sh" "-c" "run me"]', 'ENTRYPOINT ["/e"]']);
  });

  it('HEALTHCHECK durations in ns and Go-formatted history', async () => {
    const c = await convert('FROM busybox:local\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD curl -f http://x/\n');
    expect(config(c)['Healthcheck']).toEqual({ Test: ['CMD-SHELL', 'curl -f http://x/'], Interval: 90e9, Timeout: 500e6, Retries: 3 });
    const hist = (c.imageConfig['history'] as { created_by: string }[]).map((h) => h.created_by);
    expect(hist.at(-1)).toBe(`HEALTHCHECK &{["CMD-SHELL" "curl -f http://x/"] "1m30s" "500ms" "0s" '\\x03'}`);
    const none = await convert('FROM busybox:local\nHEALTHCHECK NONE\n');
    expect(config(none)['Healthcheck']).toEqual({ Test: ['NONE'] });
  });

  it('ARG: build args override defaults, history shows the default', async () => {
    const c = await convert('FROM busybox:local\nARG A=def\nARG B\nENV X=$A$B\n', { buildArgs: { A: 'cli' } });
    expect(config(c)['Env']).toContain('X=cli');
    const hist = (c.imageConfig['history'] as { created_by: string }[]).map((h) => h.created_by);
    expect(hist.slice(1)).toEqual(['ARG A=def', 'ARG B', 'ENV X=cli']);
  });

  it('runs base image ONBUILD triggers and clears them', async () => {
    const base: ResolvedImage = { config: { ...busyboxConfig.config, config: { Env: ['PATH=/bin'], OnBuild: ['ENV FROM_TRIGGER=1'] } } };
    const c = await convert('FROM busybox:local\n', { resolveImageConfig: async () => base });
    expect(config(c)['Env']).toEqual(['PATH=/bin', 'FROM_TRIGGER=1']);
    expect(config(c)['OnBuild']).toBeNull();
  });

  it('reports bad instructions with their line', async () => {
    const e = await convertError('FROM busybox:local\nSTOPSIGNAL NOPE\n');
    expect([e.code, e.line, e.message]).toEqual(['invalid-instruction', 2, 'Dockerfile:2: Invalid signal: NOPE']);
    const e2 = await convertError('FROM busybox:local\n\nEXPOSE 80/xyz\n');
    expect([e2.code, e2.line]).toEqual(['invalid-instruction', 3]);
  });
});

describe('stages', () => {
  const multi = [
    'FROM busybox:local AS build',
    'RUN echo hi > /x',
    'FROM build AS mid',
    'WORKDIR /m',
    'FROM busybox:local',
    'COPY --from=build /x /x',
    'COPY --from=1 /m /m',
    '',
  ].join('\n');

  it('converts the last stage with other stages resolved', async () => {
    const c = await convert(multi);
    expect(c.steps.map((s) => [s.stage, s.name])).toEqual([
      ['build', '[build 1/2] FROM docker.io/library/busybox:local'],
      ['2', '[stage-2 1/3] FROM docker.io/library/busybox:local'],
      ['build', '[build 2/2] RUN echo hi > /x'],
      ['mid', '[mid 1/1] WORKDIR /m'],
      ['2', '[stage-2 2/3] COPY --from=build /x /x'],
      ['2', '[stage-2 3/3] COPY --from=1 /m /m'],
    ]);
    expect(c.localSources).toEqual([]);
    expect(c.baseImages).toEqual([{ ref: 'docker.io/library/busybox:local' }]);
  });

  it('--target picks a stage (case-insensitive) and skips unreachable ones', async () => {
    const c = await convert(multi, { target: 'MID' });
    expect(c.steps.map((s) => s.stage)).toEqual(['build', 'build', 'mid']);
    expect(config(c)['WorkingDir']).toBe('/m');
    const e = await convertError(multi, { target: 'nope' });
    expect([e.code, e.line, e.message]).toEqual(['target-not-found', 0, 'Dockerfile: target stage nope could not be found']);
  });

  it('COPY --from an image that is not a stage uses the image', async () => {
    const c = await convert('FROM busybox:local\nCOPY --from=alpine:3 /etc/os-release /\n');
    const ids = ops(c).map((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier).filter(Boolean);
    expect(ids).toContain('docker-image://docker.io/library/alpine:3');
  });

  it('rejects a bad stage index', async () => {
    const e = await convertError('FROM busybox:local\nCOPY --from=5 /a /a\n');
    expect([e.code, e.line]).toEqual(['invalid-stage-index', 2]);
  });
});

describe('determinism and options', () => {
  const text = 'FROM busybox:local\nARG V\nWORKDIR /app\nCOPY . .\nRUN echo $V\nCMD ["x"]\n';

  it('the same input gives the same digests, config and description', async () => {
    const a = await convert(text, { buildArgs: { V: '1' } });
    const b = await convert(text, { buildArgs: { V: '1' } });
    expect(a.definition.def.map((d) => Buffer.from(d).toString('hex'))).toEqual(b.definition.def.map((d) => Buffer.from(d).toString('hex')));
    expect(JSON.stringify(describeConversion(a))).toBe(JSON.stringify(describeConversion(b)));
    const c = await convert(text, { buildArgs: { V: '2' } });
    expect(c.steps.find((s) => s.keyword === 'RUN')?.vertex).not.toBe(a.steps.find((s) => s.keyword === 'RUN')?.vertex);
    expect(c.steps.find((s) => s.keyword === 'COPY')?.vertex).toBe(a.steps.find((s) => s.keyword === 'COPY')?.vertex);
  });

  it('puts no session id in the LLB when none is given (convert: the same digests every run)', async () => {
    const c = await convert(text);
    const text2 = JSON.stringify(ops(c));
    expect(text2).not.toContain('local.session');
    expect(text2).not.toContain('local.unique');
  });

  it('names the build session in the context source, so two builds never share a context vertex', async () => {
    const a = await convert(text, { sessionId: 'sessiona' });
    const b = await convert(text, { sessionId: 'sessionb' });
    const local = (c: typeof a) => ops(c).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier === 'local://context');
    expect((local(a)?.op['source'] as { attrs: Record<string, string> }).attrs['local.session']).toBe('sessiona');
    expect(local(a)?.digest).not.toBe(local(b)?.digest);
    // Every step that reads the context differs too: BuildKit merges vertices by digest.
    const copy = (c: typeof a) => c.steps.find((s) => s.keyword === 'COPY')?.vertex;
    expect(copy(a)).not.toBe(copy(b));
    // The base image does not read the context: it stays shared (and cached).
    const from = (c: typeof a) => c.steps.find((s) => s.keyword === 'FROM')?.vertex;
    expect(from(a)).toBe(from(b));
  });

  it('noCache marks every op', async () => {
    const c = await convert(text, { noCache: true });
    const all = ops(c).filter((o) => !o.terminal);
    expect(all.length).toBe(5);
    for (const o of all) expect(o.metadata?.ignore_cache).toBe(true);
  });

  it('an explicit platform goes into the ops and the config', async () => {
    const c = await convert('FROM busybox:local\nRUN true\n', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    expect(ops(c)[1]?.op['platform']).toEqual({ Architecture: 'arm64', OS: 'linux', Variant: 'v8' });
    expect(c.imageConfig).toMatchObject({ architecture: 'arm64', os: 'linux', variant: 'v8' });
  });

  it('without a resolver the base config is empty but the platform is filled', async () => {
    const c = await convert('FROM busybox:local\n', { resolveImageConfig: undefined });
    expect(c.imageConfig).toMatchObject({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    expect(config(c)).toEqual({ Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], OnBuild: null });
  });

  it('accepts a hand-built AST', async () => {
    const ast: DockerfileAst = {
      fileName: 'Custom.dockerfile',
      directives: { escape: '\\' },
      globalArgs: [],
      stages: [
        {
          index: 0,
          from: { keyword: 'FROM', text: 'FROM busybox:local', range: { startLine: 1, endLine: 1 }, flags: [], image: 'busybox:local' },
          instructions: [{ keyword: 'USER', text: 'USER ${NOPE:?x}', range: { startLine: 2, endLine: 3 }, flags: [], user: '${NOPE:?x}' }],
        },
      ],
    };
    const e = await convertDockerfile({ ...opts('FROM x\n'), dockerfile: ast }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConvertError);
    expect((e as ConvertError).file).toBe('Custom.dockerfile');
    expect((e as ConvertError).line).toBe(2);
    expect((e as ConvertError).code).toBe('expansion-failed');
  });
});
