// What the converter does with the daemon's capabilities: the LLB newer BuildKit lines
// run (v0.13: dockerd 26; the newest tracebuild supports: `tracebuild convert`), and the
// errors naming the daemon where it lacks a feature (v0.8: dockerd 20.10).
import { describe, expect, it } from 'vitest';
import { convertError, convertText, ON_V0_13, ON_V0_8 } from '../../test/helpers/convert.js';
import { decodeDefinition } from '../llb/index.js';
import { Capabilities, NEWEST_CAPABILITIES, V0_13_LLB_CAPS, V0_8_LLB_CAPS } from './capabilities.js';
import type { Conversion } from './index.js';

const B = 'FROM busybox:local';
type Obj = Record<string, unknown>;
const ops = (c: Conversion) => decodeDefinition(c.definition);
const execs = (c: Conversion): Obj[] => ops(c).filter((o) => o.op['exec']).map((o) => o.op['exec'] as Obj);
const copies = (c: Conversion): Obj[] =>
  ops(c)
    .filter((o) => o.op['file'])
    .flatMap((o) => (o.op['file'] as { actions: Obj[] }).actions)
    .map((a) => a['copy'] as Obj)
    .filter((a) => a !== undefined);
const source = (c: Conversion, prefix: string): Obj | undefined =>
  ops(c).map((o) => o.op['source'] as Obj | undefined).find((s) => typeof s?.['identifier'] === 'string' && (s['identifier'] as string).startsWith(prefix));

describe('capabilities', () => {
  it('reads recursive mount stub removal from the cap of its release, and defaults to the newest', () => {
    expect(new Capabilities({ llb: V0_8_LLB_CAPS, name: 'x' }).removeMountStubs).toBe(false);
    expect(new Capabilities({ llb: V0_13_LLB_CAPS, name: 'x' }).removeMountStubs).toBe(true);
    expect(new Capabilities({ llb: ['exec.meta.removemountstubs.recursive'], name: 'x' }).removeMountStubs).toBe(true);
    expect(new Capabilities().name).toBe(NEWEST_CAPABILITIES.name);
    expect(new Capabilities({ llb: [], engineApiVersion: '1.43', name: 'x' }).healthcheckStartInterval).toBe(false);
    expect(new Capabilities({ llb: [], engineApiVersion: '1.44', name: 'x' }).healthcheckStartInterval).toBe(true);
    expect(new Capabilities({ llb: [], name: 'buildkitd' }).healthcheckStartInterval).toBe(true);
  });
});

describe('RUN on newer daemons', () => {
  it('asks for recursive mount stub removal where the daemon does it, not on v0.8', async () => {
    const df = `${B}\nRUN --mount=type=tmpfs,target=/t true\n`;
    expect((execs(await convertText(df, ON_V0_13))[0]?.['meta'] as Obj)['removeMountStubsRecursive']).toBe(true);
    expect((execs(await convertText(df, ON_V0_8))[0]?.['meta'] as Obj)['removeMountStubsRecursive']).toBeUndefined();
  });

  it('gives a secret as an environment variable (secretenv), as a file too only with target=', async () => {
    const c = await convertText(`${B}\nRUN --mount=type=secret,id=tok,env=TOKEN --mount=type=secret,id=both,env=B,target=/b,required true\n`, ON_V0_13);
    const exec = execs(c)[0] as Obj;
    expect(exec['secretenv']).toEqual([{ ID: 'tok', name: 'TOKEN', optional: true }, { ID: 'both', name: 'B' }]);
    const secretMounts = (exec['mounts'] as Obj[]).filter((m) => m['mountType'] === 'SECRET');
    expect(secretMounts.map((m) => m['dest'])).toEqual(['/b']);
    expect(c.secrets).toEqual([
      { id: 'tok', required: false, line: 2 },
      { id: 'both', required: true, line: 2 },
    ]);
  });

  it('limits a tmpfs mount by size=', async () => {
    const c = await convertText(`${B}\nRUN --mount=type=tmpfs,target=/t,size=64m true\n`, ON_V0_13);
    const tmpfs = (execs(c)[0]?.['mounts'] as Obj[]).find((m) => m['dest'] === '/t');
    expect(tmpfs).toMatchObject({ mountType: 'TMPFS', TmpfsOpt: { size: 64 * 1024 * 1024 } });
  });

  it('reads BUILDKIT_SANDBOX_HOSTNAME and BUILDKIT_CACHE_MOUNT_NS as BuildKit frontend options', async () => {
    const df = `${B}\nRUN --mount=type=cache,target=/c,id=x --mount=type=cache,target=/d true\n`;
    const c = await convertText(df, { ...ON_V0_13, buildArgs: { BUILDKIT_SANDBOX_HOSTNAME: 'box', BUILDKIT_CACHE_MOUNT_NS: 'ns' } });
    const exec = execs(c)[0] as Obj;
    expect((exec['meta'] as Obj)['hostname']).toBe('box');
    expect((exec['mounts'] as Obj[]).map((m) => (m['cacheOpt'] as Obj | undefined)?.['ID']).filter(Boolean)).toEqual(['ns/x', 'ns//d']);
    const plain = execs(await convertText(df, ON_V0_13))[0] as Obj;
    expect((plain['meta'] as Obj)['hostname']).toBeUndefined();
    expect((plain['mounts'] as Obj[]).map((m) => (m['cacheOpt'] as Obj | undefined)?.['ID']).filter(Boolean)).toEqual(['/x', '//d']);
  });
});

describe('COPY and ADD on newer daemons', () => {
  it('leaves COPY --parents to the daemon: the pivot as source, the rest an include pattern', async () => {
    const c = await convertText(`${B}\nCOPY --parents a/*/b.txt ./x/./y/z /dst/\n`, ON_V0_13);
    expect(copies(c)).toEqual([
      expect.objectContaining({ src: '/', dest: '/dst/', include_patterns: ['a/*/b.txt'], followSymlink: true, dirCopyContents: true, allowWildcard: true }),
      expect.objectContaining({ src: '/x', dest: '/dst/', include_patterns: ['y/z'] }),
    ]);
    // The context sends what the patterns can match, no more: `a` (the part without wildcards) and x/y/z.
    const local = source(c, 'local://');
    expect(local?.['attrs']).toMatchObject({ 'local.followpaths': JSON.stringify(['a', 'x/y/z']) });
  });

  it('passes --exclude to every copy of the instruction', async () => {
    const c = await convertText(`${B}\nENV EXT=md\nCOPY --exclude=*.$EXT --exclude=tmp/ src other /dst/\n`, ON_V0_13);
    expect(copies(c).map((a) => a['exclude_patterns'])).toEqual([['*.md', 'tmp/'], ['*.md', 'tmp/']]);
  });

  it('takes a symbolic --chmod where copies take mode strings, and names the daemon where not', async () => {
    const c = await convertText(`${B}\nCOPY --chmod=u+x,go-w a /a\n`);
    expect(copies(c)[0]).toMatchObject({ modeStr: 'u+x,go-w', mode: -1 });
    expect((await convertError(`${B}\nCOPY --chmod=u+x a /a\n`, ON_V0_13)).message).toBe(
      "Dockerfile:2: invalid chmod parameter: 'u+x': a symbolic mode needs mode strings on copies (LLB cap file.copy.modestring); use an octal mode; dockerd 26.1.5's BuildKit (v0.13.x) cannot run it",
    );
    expect((await convertError(`${B}\nCOPY --chmod=u+y a /a\n`)).message).toContain('neither an octal mode nor a symbolic one');
  });

  it('checks out a git subdirectory in the daemon, and a git --checksum where it can verify commits', async () => {
    const c = await convertText(`${B}\nADD --keep-git-dir https://github.com/o/r.git#v1:sub /src\n`, ON_V0_13);
    expect(source(c, 'git://')).toEqual({ identifier: 'git://github.com/o/r.git#v1:sub', attrs: { 'git.fullurl': 'https://github.com/o/r.git', 'git.keepgitdir': 'true' } });
    expect(copies(c)[0]).toMatchObject({ src: '/', dest: '/src' });
    const sum = 'a'.repeat(40);
    const newest = await convertText(`${B}\nADD --checksum=${sum} https://github.com/o/r.git#v1 /src\n`);
    expect(source(newest, 'git://')?.['attrs']).toMatchObject({ 'git.checksum': sum });
    expect((await convertError(`${B}\nADD --checksum=${sum} https://github.com/o/r.git /src\n`, ON_V0_13)).message).toBe(
      "Dockerfile:2: --checksum on a git source needs git commit checks (LLB cap source.git.checksum); dockerd 26.1.5's BuildKit (v0.13.x) cannot run it",
    );
  });
});

describe('history', () => {
  it('writes COPY/ADD --parents, --chown and --chmod into the history line where the daemon is v0.13+, as its frontend does', async () => {
    const df = `${B}\nARG U=7 M=0600\nCOPY --chown=$U:8 --chmod=$M --link a /a\nCOPY --parents x/y /p/\n`;
    const created = (c: Conversion) => (c.imageConfig['history'] as Obj[]).map((h) => h['created_by']).filter((t) => /^(COPY|ADD)/.test(String(t)));
    expect(created(await convertText(df, ON_V0_13))).toEqual(['COPY --chown=7:8 --chmod=$M a /a # buildkit', 'COPY --parents x/y /p/ # buildkit']);
    expect(created(await convertText(df, ON_V0_8))).toEqual(['COPY a /a # buildkit', 'COPY x/y /p/ # buildkit']);
  });
});

describe('HEALTHCHECK --start-interval', () => {
  it('is kept in the config and its history line where dockerd keeps it', async () => {
    const c = await convertText(`${B}\nHEALTHCHECK --interval=5s --start-interval=2s CMD true\n`, ON_V0_13);
    expect((c.imageConfig['config'] as Obj)['Healthcheck']).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 5e9, StartInterval: 2e9 });
    const history = c.imageConfig['history'] as Obj[];
    expect(history[history.length - 1]?.['created_by']).toBe('HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "2s" \'\\x00\'}');
  });
});
