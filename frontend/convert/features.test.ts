// Multi-stage, RUN flags (mounts, network, security), heredocs, COPY/ADD flags, # syntax,
// and the Conversion fields the CLI needs before solving (entitlements, secrets, ssh ids).
import { describe, expect, it } from 'vitest';
import { convertError as convertErrorAny, convertText, ON_V0_8 } from '../../test/helpers/convert.js';
import type { ConvertOptions } from './index.js';
import { parseCsvRecord, parseDockerfile, parseMount } from '../../dockerfile-parser/index.js';
import { decodeDefinition } from '../llb/index.js';
import type { DecodedOp } from '../llb/index.js';
import type { Conversion } from './index.js';

// As on dockerd 20.10's BuildKit (v0.8); what newer daemons add is in capabilities.test.ts.
const convert = (text: string, extra: Partial<ConvertOptions> = {}): Promise<Conversion> => convertText(text, { ...ON_V0_8, ...extra });
const convertError = (text: string, extra: Partial<ConvertOptions> = {}) => convertErrorAny(text, { ...ON_V0_8, ...extra });

const ops = (c: Conversion): DecodedOp[] => decodeDefinition(c.definition);
type Exec = { meta: { args: string[]; env: string[] }; mounts: Record<string, unknown>[]; network?: string; security?: string };
const execs = (c: Conversion): Exec[] => ops(c).filter((o) => o.op['exec']).map((o) => o.op['exec'] as Exec);
const sources = (c: Conversion): string[] => ops(c).filter((o) => o.op['source']).map((o) => (o.op['source'] as { identifier: string }).identifier);
const actions = (c: Conversion): Record<string, unknown>[] =>
  ops(c)
    .filter((o) => o.op['file'])
    .flatMap((o) => (o.op['file'] as { actions: Record<string, unknown>[] }).actions);
const names = (c: Conversion): string[] => c.steps.map((s) => s.name);

const B = 'FROM busybox:local';

describe('multi-stage', () => {
  const df = [
    'ARG IMG=busybox:local',
    'FROM ${IMG} AS a',
    'RUN echo a',
    'FROM ${IMG} AS b',
    'RUN echo b',
    'FROM ${IMG} AS c',
    'COPY --from=a /x /x',
    'RUN --mount=from=b,target=/b true',
    'FROM c',
    'RUN echo last',
  ].join('\n');

  it('only puts the stages the target needs in the LLB, with stage-named progress', async () => {
    const c = await convert(df, { target: 'a' });
    expect(execs(c).map((e) => e.meta.args[2])).toEqual(['echo a']);
    expect(names(c)).toEqual(['[a 1/2] FROM docker.io/library/busybox:local', '[a 2/2] RUN echo a']);
    const all = await convert(df);
    expect(execs(all).map((e) => e.meta.args[2]).sort()).toEqual(['echo a', 'echo b', 'echo last', 'true']);
    expect(names(all)).toContain('[stage-3 1/1] RUN echo last');
  });

  it('keeps independent stages independent subgraphs (nothing serializes them)', async () => {
    const c = await convert(df, { target: 'c' });
    const byDigest = new Map(ops(c).map((o) => [o.digest, o]));
    const deps = (d: string): Set<string> => {
      const out = new Set<string>();
      const walk = (x: string): void => {
        for (const i of (byDigest.get(x)?.op['inputs'] as { digest: string }[] | undefined) ?? []) {
          out.add(i.digest);
          walk(i.digest);
        }
      };
      walk(d);
      return out;
    };
    const runA = c.steps.find((s) => s.instruction === 'RUN echo a')?.vertex as string;
    const runB = c.steps.find((s) => s.instruction === 'RUN echo b')?.vertex as string;
    expect(deps(runA).has(runB)).toBe(false);
    expect(deps(runB).has(runA)).toBe(false);
  });

  it('rejects an unknown stage index, a self reference, a later FROM and a bad reference, at the line', async () => {
    const e1 = await convertError(`${B}\nCOPY --from=7 /a /a\n`);
    expect([e1.code, e1.line]).toEqual(['invalid-stage-index', 2]);
    const e2 = await convertError(`${B} AS one\nCOPY --from=one /a /a\n`);
    expect([e2.code, e2.line]).toEqual(['circular-dependency', 2]);
    const e3 = await convertError(`FROM later\nRUN true\nFROM busybox:local AS later\n`);
    expect([e3.code, e3.line]).toEqual(['invalid-stage-order', 1]);
    expect(e3.message).toContain('defined later (line 3)');
    const e4 = await convertError(`${B}\n\nCOPY --from=Not/Valid:ref:x /a /a\n`);
    expect([e4.code, e4.line]).toEqual(['invalid-reference', 3]);
    const e5 = await convertError(`${B} AS s\nRUN --mount=from=s,target=/m true\n`);
    expect([e5.code, e5.line]).toEqual(['circular-dependency', 2]);
  });

  it('treats FROM <own name> and an unknown --from name as images', async () => {
    const c = await convert('FROM alpine AS alpine\nCOPY --from=nginx:1 /etc/nginx /n\n');
    expect(sources(c)).toEqual(expect.arrayContaining(['docker-image://docker.io/library/alpine:latest', 'docker-image://docker.io/library/nginx:1']));
  });

  it('FROM --platform from a global ARG', async () => {
    const c = await convert('ARG P=linux/arm64\nFROM --platform=$P busybox:local\nRUN true\n');
    expect(ops(c).find((o) => o.op['exec'])?.op['platform']).toEqual({ Architecture: 'arm64', OS: 'linux' });
  });
});

describe('# syntax=', () => {
  it('accepts the standard frontend', async () => {
    for (const s of ['docker/dockerfile:1', 'docker/dockerfile', 'docker.io/docker/dockerfile:1.4', `docker/dockerfile:1.7-labs@sha256:${'a'.repeat(64)}`, 'docker/dockerfile-upstream:master']) {
      await expect(convert(`# syntax=${s}\n${B}\n`)).resolves.toBeDefined();
    }
  });
  it('ignores any other frontend image too: tracebuild is the frontend', async () => {
    const c = await convert(`# escape=\`\n# syntax=example.com/my/frontend:2\n${B}\nRUN echo \`\n  hi\n`);
    expect(execs(c)[0]?.meta.args).toEqual(['/bin/sh', '-c', 'echo   hi']);
  });
});

describe('variables', () => {
  it('expands in COPY/WORKDIR/ENV/mounts but not in RUN, CMD or ENTRYPOINT', async () => {
    const c = await convert(`${B}\nENV D=/data T=/m\nWORKDIR $D\nRUN --mount=type=tmpfs,target=$T echo $D\nCMD echo $D\nENTRYPOINT ["echo", "$D"]\n`);
    const e = execs(c)[0] as Exec;
    expect(e.meta.args).toEqual(['/bin/sh', '-c', 'echo $D']);
    expect(e.mounts.map((m) => m['dest'])).toEqual(['/', '/m']);
    const cfg = c.imageConfig['config'] as Record<string, unknown>;
    expect(cfg['Cmd']).toEqual(['/bin/sh', '-c', 'echo $D']);
    expect(cfg['Entrypoint']).toEqual(['echo', '$D']);
    expect(cfg['WorkingDir']).toBe('/data');
  });
});

describe('RUN --mount', () => {
  it('parses the CSV form and validates like BuildKit', () => {
    expect(parseCsvRecord('type=bind,"source=a,b",target=/x')).toEqual(['type=bind', 'source=a,b', 'target=/x']);
    expect(parseMount('type=cache,target=/c')).toMatchObject({ type: 'cache', readonly: false });
    expect(parseMount('target=/c')).toMatchObject({ type: 'bind', readonly: true });
    expect(parseMount('target=.,rw')).toMatchObject({ readonly: false });
    expect(() => parseMount('type=bind,target=/x,mode=0600')).toThrow('mode not allowed for "bind" type mounts');
    expect(parseMount('type=tmpfs,target=/x,size=10m').sizeLimit).toBe(10 * 1024 * 1024);
    expect(parseMount('type=tmpfs,target=/x,size=1.5G').sizeLimit).toBe(1.5 * 1024 ** 3);
    expect(() => parseMount('type=tmpfs,target=/x,size=ten')).toThrow('invalid value for size: ten');
    expect(parseMount('type=secret,id=a,env=A').env).toBe('A');
    expect(() => parseMount('type=cache,target=/c,env=A')).toThrow("unexpected key 'env' for mount type 'cache'");
    expect(() => parseMount('type=weird')).toThrow('unsupported mount type "weird"');
    expect(() => parseMount('type=cache,target=/x,sharing=nope')).toThrow('unsupported sharing value "nope"');
    expect(() => parseMount('type=bind,target=/x,required')).toThrow("unexpected key 'required' for mount type 'bind'");
  });

  it('builds cache, tmpfs, bind (context and stage) mounts as BuildKit v0.8 LLB', async () => {
    const c = await convert(
      [
        `${B} AS s`,
        `${B}`,
        'WORKDIR /w',
        'RUN --mount=type=cache,target=/root/.cache --mount=type=cache,id=x,target=/c,sharing=private,uid=1,gid=2,mode=0700 true',
        'RUN --mount=type=tmpfs,target=/t --mount=type=bind,source=sub,target=rel,rw --mount=from=s,source=/etc,target=/e true',
      ].join('\n'),
    );
    const [first, second] = execs(c) as [Exec, Exec];
    expect(first.mounts.slice(1)).toEqual([
      { input: 1, selector: '/cache', dest: '/c', output: -1, mountType: 'CACHE', cacheOpt: { ID: '/x', sharing: 'PRIVATE' } },
      { input: -1, dest: '/root/.cache', output: -1, mountType: 'CACHE', cacheOpt: { ID: '//root/.cache' } },
    ]);
    expect(actions(c).find((a) => (a['mkdir'] as { path?: string } | undefined)?.path === '/cache')?.['mkdir']).toMatchObject({ path: '/cache', mode: 0o700, owner: { user: { byID: 1 }, group: { byID: 2 } } });
    expect(second.mounts.slice(1)).toEqual([
      { input: 1, selector: '/etc', dest: '/e', output: -1, readonly: true },
      { input: -1, dest: '/t', output: -1, mountType: 'TMPFS' },
      { input: 2, selector: '/sub', dest: '/w/rel', output: -1 },
    ]);
    expect(c.localSources).toHaveLength(1);
  });

  it('mounts secrets and ssh by id only, and lists them for the CLI', async () => {
    const c = await convert(
      [
        B,
        'RUN --mount=type=secret,id=tok,required=true --mount=type=secret,id=opt,target=/etc/o,uid=5,mode=0440 true',
        'RUN --mount=type=ssh --mount=type=ssh,id=gh,target=/s,required true',
        'RUN --mount=type=secret,source=tok cat /run/secrets/tok',
      ].join('\n'),
    );
    const [a, b] = execs(c) as [Exec, Exec];
    expect(a.mounts.slice(1)).toEqual([
      { input: -1, dest: '/run/secrets/tok', output: -1, mountType: 'SECRET', secretOpt: { ID: 'tok', mode: 0o400 } },
      { input: -1, dest: '/etc/o', output: -1, mountType: 'SECRET', secretOpt: { ID: 'opt', uid: 5, mode: 0o440, optional: true } },
    ]);
    expect(b.mounts.slice(1)).toEqual([
      { input: -1, dest: '/run/buildkit/ssh_agent.0', output: -1, mountType: 'SSH', SSHOpt: { mode: 0o600, optional: true } },
      { input: -1, dest: '/s', output: -1, mountType: 'SSH', SSHOpt: { ID: 'gh', mode: 0o600 } },
    ]);
    expect(b.meta.env).toContain('SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0');
    expect(c.secrets).toEqual([
      { id: 'tok', required: true, line: 2 },
      { id: 'opt', required: false, line: 2 },
      { id: 'tok', required: false, line: 4 },
    ]);
    expect(c.sshIds).toEqual(['default', 'gh']);
    expect(JSON.stringify(c.definition.def.map((x) => Buffer.from(x).toString('latin1')))).not.toContain('s3cret');
  });

  it('reports invalid mounts at the line, naming the option', async () => {
    const e = await convertError(`${B}\nRUN --mount=type=cache,target=/c,uid=x true\n`);
    expect(e.message).toBe('Dockerfile:2: invalid --mount=type=cache,target=/c,uid=x: invalid value x for uid');
    const e2 = await convertError(`${B}\nRUN --mount=type=bind true\n`);
    expect(e2.message).toContain('invalid mount target "/"');
    // Unknown flags are the parser's (a DockerfileError with the same file:line form).
    expect(() => parseDockerfile(`${B}\nRUN --bogus true\n`, 'Dockerfile')).toThrow('Dockerfile:2: unknown flag: bogus');
  });
});

describe('RUN --network / --security and entitlements', () => {
  it('sets per-RUN modes and lists the entitlements of what is in the graph', async () => {
    const c = await convert(`${B}\nRUN --network=host true\nRUN --network=none --security=insecure true\nRUN --network=default true\n`);
    expect(execs(c).map((e) => [e.network, e.security])).toEqual([
      ['HOST', undefined],
      ['NONE', 'INSECURE'],
      [undefined, undefined],
    ]);
    expect(c.entitlements).toEqual(['network.host', 'security.insecure']);
    const cli = await convert(`${B}\nRUN true\n`, { network: 'host' });
    expect(cli.entitlements).toEqual(['network.host']);
    const unused = await convert(`${B} AS x\nRUN --security=insecure true\n${B}\nRUN true\n`);
    expect(unused.entitlements).toEqual([]);
    const e = await convertError(`${B}\nRUN --network=bridge true\n`);
    expect([e.line, e.message]).toEqual([2, 'Dockerfile:2: unsupported network mode "bridge" (use default, host or none)']);
  });
});

describe('heredocs', () => {
  it('RUN <<EOF runs the body with the shell; #! bodies run as a mounted script', async () => {
    const c = await convert(`${B}\nRUN <<EOF\necho $HOME\nEOF\nRUN <<-X\n\t#!/bin/sh\n\techo hi\n\tX\n`);
    const [a, b] = execs(c) as [Exec, Exec];
    expect(a.meta.args).toEqual(['/bin/sh', '-c', 'echo $HOME\n']);
    expect(b.meta.args).toEqual(['/bin/sh', '-c', '/dev/pipes/X']);
    expect(b.mounts[1]).toEqual({ input: 1, selector: '/', dest: '/dev/pipes/', output: -1, readonly: true });
    expect(actions(c)[0]?.['mkfile']).toMatchObject({ path: '/X', mode: 0o755 });
    expect(names(c)[1]).toBe('[2/3] RUN <<EOF (echo $HOME)');
  });

  it('a command with heredocs gets them appended for the shell', async () => {
    const c = await convert(`${B}\nRUN cat <<A && cat <<'B'\n$x\nA\n$y\nB\n`);
    expect(execs(c)[0]?.meta.args).toEqual(['/bin/sh', '-c', "cat <<A && cat <<'B'\n$x\nA\n$y\nB"]);
  });

  it('COPY heredocs become files (expanded unless the delimiter is quoted)', async () => {
    const c = await convert(`${B}\nENV N=v\nCOPY --chmod=0600 <<a.txt <<"b.txt" /d/\n$N 'q' \\$N\na.txt\n$N\nb.txt\n`);
    const mk = actions(c).filter((a) => a['mkfile']).map((a) => a['mkfile'] as { path: string; data: string });
    expect(mk.map((m) => [m.path, Buffer.from(m.data, 'base64').toString()])).toEqual([
      ['/a.txt', "v 'q' $N\n"],
      ['/b.txt', '$N\n'],
    ]);
    const copies = actions(c).filter((a) => a['copy']).map((a) => a['copy']);
    expect(copies).toEqual([
      { src: '/a.txt', dest: '/d/', mode: 0o600, createDestPath: true, timestamp: -1 },
      { src: '/b.txt', dest: '/d/', mode: 0o600, createDestPath: true, timestamp: -1 },
    ]);
  });
});

describe('COPY / ADD flags', () => {
  it('--chmod must be octal up to 07777; --link is a plain copy', async () => {
    expect((await convertError(`${B}\nCOPY --chmod=u+x a /a\n`)).message).toBe(
      "Dockerfile:2: invalid chmod parameter: 'u+x': a symbolic mode needs mode strings on copies (LLB cap file.copy.modestring); use an octal mode; dockerd 20.10.24's BuildKit (v0.8.x) cannot run it",
    );
    expect((await convertError(`${B}\nCOPY --chmod=9 a /a\n`)).message).toContain('between 0 and 07777');
    const c = await convert(`${B}\nCOPY --link a /a\n`);
    expect(actions(c)[0]?.['copy']).toMatchObject({ src: '/a', dest: '/a' });
  });

  it('rejects flags v0.8 LLB cannot express, at the line', async () => {
    // COPY --parents is emulated (parents.test.ts) except for wildcards in --from sources.
    expect((await convertError(`${B} AS s\n${B}\nCOPY --from=s --parents a/*/b /x/\n`)).message).toMatch(
      /^Dockerfile:3: COPY --from=s --parents a\/\*\/b: a wildcard with --parents from a stage or image needs include patterns on copies .*; dockerd 20.10.24's BuildKit \(v0.8.x\) cannot run it$/,
    );
    expect((await convertError(`${B}\nCOPY --exclude=*.md . /x/\n`)).message).toBe(
      "Dockerfile:2: COPY --exclude needs exclude patterns on copies (LLB cap file.copy.includeexcludepatterns); dockerd 20.10.24's BuildKit (v0.8.x) cannot run it",
    );
    expect((await convertError(`${B}\nRUN --mount=type=secret,id=t,env=T true\n`)).message).toMatch(/^Dockerfile:2: invalid --mount=type=secret,id=t,env=T: a secret as an environment variable .*exec.secretenv.*dockerd 20.10.24's BuildKit \(v0.8.x\) cannot run it$/);
    expect((await convertError(`${B}\nRUN --mount=type=tmpfs,target=/t,size=1m true\n`)).message).toMatch(/^Dockerfile:2: invalid --mount=.*size= needs tmpfs size limits .*dockerd 20.10.24's BuildKit \(v0.8.x\) cannot run it$/);
    expect((await convertError(`${B}\nHEALTHCHECK --start-interval=1s CMD true\n`)).message).toMatch(/^Dockerfile:2: HEALTHCHECK --start-interval needs .*Engine API 1.44.*dockerd 20.10.24's BuildKit \(v0.8.x\) cannot run it$/);
    expect((await convertError(`${B}\nADD --checksum=sha256:abc a /a\n`)).message).toContain('checksum requires HTTP(S) or Git sources');
  });

  it('ADD of a URL with --checksum; ADD of a local tar unpacks', async () => {
    const sum = 'sha256:' + 'b'.repeat(64);
    const c = await convert(`${B}\nADD --checksum=${sum} https://example.com/x/f.tgz /d/\nADD a.tar /t/\n`);
    const http = ops(c).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier?.startsWith('https://'));
    expect(http?.op['source']).toEqual({ identifier: 'https://example.com/x/f.tgz', attrs: { 'http.checksum': sum, 'http.filename': 'f.tgz' } });
    expect(actions(c).map((a) => (a['copy'] as Record<string, unknown>)['attemptUnpackDockerCompatibility'])).toEqual([undefined, true]);
    expect((await convertError(`${B}\nADD --checksum=md5:x https://e.com/f /f\n`)).message).toContain('unsupported digest algorithm md5');
  });

  it('ADD of a git URL uses the v0.8 git source (subdir copied out, ssh refused)', async () => {
    const c = await convert(`${B}\nADD --keep-git-dir https://github.com/o/r.git#v1:sub /src\n`);
    const git = ops(c).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier?.startsWith('git://'));
    expect(git?.op['source']).toEqual({ identifier: 'git://github.com/o/r.git#v1', attrs: { 'git.fullurl': 'https://github.com/o/r.git', 'git.keepgitdir': 'true' } });
    expect(actions(c)[0]?.['copy']).toMatchObject({ src: '/sub', dest: '/src', dirCopyContents: true });
    expect((await convertError(`${B}\nADD git@github.com:o/r.git /src\n`)).message).toMatch(/^Dockerfile:2: ADD git@github.com:o\/r.git: ADD from a git repository over SSH is not supported/);
  });
});
