// COPY --parents (Dockerfile 1.7) emulated on BuildKit v0.8 LLB: one copy per exact path,
// to <dest>/<path below the pivot>; wildcards expanded against a listing of the context.
import { describe, expect, it } from 'vitest';
import { convertError as convertErrorAny, convertText, ON_V0_8 } from '../../test/helpers/convert.js';
import type { ConvertOptions } from './index.js';

// The emulation of COPY --parents for daemons whose copies take no include patterns
// (BuildKit v0.8); the native form is tested in capabilities.test.ts.
const convert = (text: string, extra: Partial<ConvertOptions> = {}) => convertText(text, { ...ON_V0_8, ...extra });
const convertError = (text: string, extra: Partial<ConvertOptions> = {}) => convertErrorAny(text, { ...ON_V0_8, ...extra });
import { decodeDefinition } from '../llb/index.js';
import type { ContextDirEntry, ContextDirReader, Conversion } from './index.js';
import { belowPivot, expandParents, splitParentsSource } from './parents.js';

const B = 'FROM busybox:local';

/** An in-memory context: `path` (a file), `path/` (a directory), `path -> target` (a symlink). */
function fakeContext(entries: string[], opts: { reverse?: boolean; calls?: string[] } = {}): ContextDirReader {
  const dirs = new Map<string, Map<string, ContextDirEntry['type']>>([['', new Map()]]);
  const addDir = (p: string): void => {
    if (dirs.has(p)) return;
    const i = p.lastIndexOf('/');
    const parent = i < 0 ? '' : p.slice(0, i);
    addDir(parent);
    dirs.get(parent)?.set(p.slice(i + 1), 'dir');
    dirs.set(p, new Map());
  };
  for (const raw of entries) {
    const link = raw.split(' -> ')[0] as string;
    const isDir = link.endsWith('/');
    const p = isDir ? link.slice(0, -1) : link;
    if (isDir) {
      addDir(p);
      continue;
    }
    const i = p.lastIndexOf('/');
    const parent = i < 0 ? '' : p.slice(0, i);
    addDir(parent);
    dirs.get(parent)?.set(p.slice(i + 1), raw.includes(' -> ') ? 'symlink' : 'file');
  }
  return async (dir) => {
    opts.calls?.push(dir);
    const d = dirs.get(dir);
    if (!d) return undefined;
    const list = [...d].map(([name, type]) => ({ name, type }));
    return opts.reverse ? list.reverse() : list;
  };
}

type Action = Record<string, unknown>;
/** The file actions of the op of the instruction at `line`. */
function actionsAt(c: Conversion, line: number): Action[] {
  const vertex = c.steps.find((s) => s.line === line)?.vertex;
  const op = decodeDefinition(c.definition).find((o) => o.digest === vertex)?.op;
  return ((op?.['file'] as { actions: Action[] } | undefined)?.actions ?? []).map((a) => (a['copy'] ?? { mkdir: a['mkdir'] }) as Action);
}
const pairs = (c: Conversion, line: number): string[][] => actionsAt(c, line).map((a) => [a['src'] as string, a['dest'] as string]);
function localAttrs(c: Conversion): Record<string, string> | undefined {
  const src = decodeDefinition(c.definition).find((o) => (o.op['source'] as { identifier?: string } | undefined)?.identifier?.startsWith('local://'));
  return (src?.op['source'] as { attrs?: Record<string, string> } | undefined)?.attrs;
}

/** What every --parents copy carries: the copied entry keeps its path below the destination. */
const PLAIN = { mode: -1, dirCopyContents: true, createDestPath: true, timestamp: -1 };

describe('splitParentsSource', () => {
  it('splits at the first /./ and cleans both parts, rooted at the context', () => {
    expect(splitParentsSource('a/b/c.txt')).toEqual({ pivot: '', rest: 'a/b/c.txt' });
    expect(splitParentsSource('./x/./y/file')).toEqual({ pivot: 'x', rest: 'y/file' });
    expect(splitParentsSource('/opt/./pkg/./bin/')).toEqual({ pivot: 'opt', rest: 'pkg/bin' });
    expect(splitParentsSource('x/./')).toEqual({ pivot: 'x', rest: '' });
    expect(splitParentsSource('../../a')).toEqual({ pivot: '', rest: 'a' });
    expect(splitParentsSource('.')).toEqual({ pivot: '', rest: '' });
    expect(belowPivot({ pivot: 'x', path: 'x/y/f' })).toBe('y/f');
    expect(belowPivot({ pivot: 'x', path: 'x' })).toBe('');
  });
});

describe('COPY --parents: paths without wildcards', () => {
  it('copies files and directories to <dest>/<path from the context root>, without listing the context', async () => {
    const calls: string[] = [];
    const c = await convert(`${B}\nCOPY --parents a/b/c.txt d/e /dst/\n`, { readContextDir: fakeContext([], { calls }) });
    expect(actionsAt(c, 2)).toEqual([
      { src: '/a/b/c.txt', dest: '/dst/a/b/c.txt', ...PLAIN },
      { src: '/d/e', dest: '/dst/d/e', ...PLAIN },
    ]);
    expect(calls).toEqual([]);
    // The context source is asked for exactly these paths (local.followpaths).
    expect(localAttrs(c)?.['local.followpaths']).toBe(JSON.stringify(['a/b/c.txt', 'd/e']));
    expect(c.steps[1]).toMatchObject({ copySources: ['a/b/c.txt', 'd/e'], copyDestination: '/dst/' });
  });

  it('treats the destination as a directory, relative to WORKDIR', async () => {
    const c = await convert(`${B}\nWORKDIR /app\nCOPY --parents a.txt out\nCOPY --parents ../up/b.txt /abs\n`);
    expect(pairs(c, 3)).toEqual([['/a.txt', '/app/out/a.txt']]);
    expect(pairs(c, 4)).toEqual([['/up/b.txt', '/abs/up/b.txt']]);
    expect(c.steps.find((s) => s.line === 3)?.copyDestination).toBe('/app/out/');
  });

  it('keeps only what follows the /./ pivot; a bare pivot copies its contents (followed, as BuildKit does)', async () => {
    const c = await convert(`${B}\nCOPY --parents ./x/./y/file x/./ . /dst/\n`);
    expect(actionsAt(c, 2)).toEqual([
      { src: '/x/y/file', dest: '/dst/y/file', ...PLAIN },
      { src: '/x', dest: '/dst', ...PLAIN, followSymlink: true },
      { src: '/', dest: '/dst', ...PLAIN, followSymlink: true },
    ]);
  });

  it('--parents=false is a plain COPY', async () => {
    const c = await convert(`${B}\nCOPY --parents=false a/b.txt /dst/\n`);
    expect(pairs(c, 2)).toEqual([['/a/b.txt', '/dst/']]);
  });
});

describe('COPY --parents: wildcards in the build context', () => {
  const tree = [
    'src/a/main.go',
    'src/a/util.go',
    'src/b/main.go',
    'src/c/other.go',
    'src/d -> a',
    'src/notes.txt',
    'src/x/y/deep.txt',
    'src/x/mid.txt',
    'docs/',
    'top.txt',
  ];

  it('copies each match to <dest>/<its path>, never the directories that hold no match', async () => {
    const c = await convert(`${B}\nCOPY --parents src/*/main.go /dst/\n`, { readContextDir: fakeContext(tree) });
    expect(actionsAt(c, 2)).toEqual([
      { src: '/src/a/main.go', dest: '/dst/src/a/main.go', ...PLAIN },
      { src: '/src/b/main.go', dest: '/dst/src/b/main.go', ...PLAIN },
    ]);
    // The symlink src/d is sent as a link: not entered.
    expect(localAttrs(c)?.['local.followpaths']).toBe(JSON.stringify(['src/a/main.go', 'src/b/main.go']));
    expect(c.steps[1]?.copySources).toEqual(['src/*/main.go']);
  });

  it('matches directories and symlinks too (a directory is copied whole, a symlink as a link)', async () => {
    const c = await convert(`${B}\nCOPY --parents src/? /dst/\n`, { readContextDir: fakeContext(tree) });
    expect(pairs(c, 2)).toEqual([
      ['/src/a', '/dst/src/a'],
      ['/src/b', '/dst/src/b'],
      ['/src/c', '/dst/src/c'],
      ['/src/d', '/dst/src/d'],
      ['/src/x', '/dst/src/x'],
    ]);
    expect(actionsAt(c, 2).some((a) => a['followSymlink'])).toBe(false);
  });

  it('** is any number of directories, matches inside a matched directory are dropped', async () => {
    const c = await convert(`${B}\nCOPY --parents src/**/*.txt /dst/\nCOPY --parents **/x /all/\n`, { readContextDir: fakeContext(tree) });
    expect(pairs(c, 2)).toEqual([
      ['/src/notes.txt', '/dst/src/notes.txt'],
      ['/src/x/mid.txt', '/dst/src/x/mid.txt'],
      ['/src/x/y/deep.txt', '/dst/src/x/y/deep.txt'],
    ]);
    expect(pairs(c, 3)).toEqual([['/src/x', '/all/src/x']]);
  });

  it('a pivot may hold wildcards too; only what follows it is kept', async () => {
    const c = await convert(`${B}\nCOPY --parents ./src/*/./*.go /dst/\n`, { readContextDir: fakeContext(tree) });
    expect(pairs(c, 2)).toEqual([
      ['/src/a/main.go', '/dst/main.go'],
      ['/src/a/util.go', '/dst/util.go'],
      ['/src/b/main.go', '/dst/main.go'],
      ['/src/c/other.go', '/dst/other.go'],
    ]);
  });

  it('honours .dockerignore as the session does, re-included files included', async () => {
    const read = fakeContext(tree);
    const ignored = await convert(`${B}\nCOPY --parents src/*/main.go /dst/\n`, { readContextDir: read, excludePatterns: ['src/b'] });
    expect(pairs(ignored, 2)).toEqual([['/src/a/main.go', '/dst/src/a/main.go']]);
    const back = await convert(`${B}\nCOPY --parents src/*/main.go /dst/\n`, { readContextDir: read, excludePatterns: ['src/b', '!src/b/main.go'] });
    expect(pairs(back, 2)).toEqual([
      ['/src/a/main.go', '/dst/src/a/main.go'],
      ['/src/b/main.go', '/dst/src/b/main.go'],
    ]);
  });

  it('no match: only the destination directory is made, as BuildKit does', async () => {
    const c = await convert(`${B}\nCOPY --parents --chown=7 nothing/*.x /dst/\n`, { readContextDir: fakeContext(tree) });
    expect(actionsAt(c, 2)).toEqual([{ mkdir: { path: '/dst', mode: 0o755, makeParents: true, owner: { user: { byID: 7 } }, timestamp: -1 } }]);
  });

  it('--chown, --chmod and --link apply to every copy, as for a plain COPY', async () => {
    const c = await convert(`${B}\nCOPY --parents --chown=1000:1000 --chmod=0640 --link src/*/main.go top.txt /dst/\n`, { readContextDir: fakeContext(tree) });
    const owner = { user: { byID: 1000 }, group: { byID: 1000 } };
    expect(actionsAt(c, 2)).toEqual([
      { src: '/src/a/main.go', dest: '/dst/src/a/main.go', ...PLAIN, mode: 0o640, owner },
      { src: '/src/b/main.go', dest: '/dst/src/b/main.go', ...PLAIN, mode: 0o640, owner },
      { src: '/top.txt', dest: '/dst/top.txt', ...PLAIN, mode: 0o640, owner },
    ]);
  });

  it('is deterministic: the listing order does not matter, and the same input gives the same digests', async () => {
    const df = `${B}\nCOPY --parents src/**/*.go ./src/*/./*.txt /dst/\n`;
    const a = await convert(df, { readContextDir: fakeContext(tree) });
    const b = await convert(df, { readContextDir: fakeContext(tree, { reverse: true }) });
    expect(b.definition.def.map((d) => Buffer.from(d).toString('hex'))).toEqual(a.definition.def.map((d) => Buffer.from(d).toString('hex')));
    expect(b.steps.map((s) => s.vertex)).toEqual(a.steps.map((s) => s.vertex));
  });

  it('lists each directory once per conversion', async () => {
    const calls: string[] = [];
    await convert(`${B}\nCOPY --parents src/*/main.go /a/\nCOPY --parents src/*/util.go /b/\n`, { readContextDir: fakeContext(tree, { calls }) });
    expect([...calls].sort()).toEqual(['', 'src', 'src/a', 'src/b', 'src/c', 'src/x']);
  });

  it('expandParents reports pivot and path of each match', async () => {
    const list = async (dir: string): Promise<ContextDirEntry[]> => [...((await fakeContext(tree)(dir)) ?? [])];
    expect(await expandParents(list, splitParentsSource('src/./*/main.go'), undefined)).toEqual([
      { pivot: 'src', path: 'src/a/main.go' },
      { pivot: 'src', path: 'src/b/main.go' },
    ]);
  });
});

describe('COPY --from --parents', () => {
  it('copies paths without wildcards from the stage, pivot included', async () => {
    const c = await convert(`${B} AS build\n${B}\nCOPY --from=build --chown=1:2 --parents /opt/pkg/lib/libx.so /opt/./pkg/bin /dst/\n`);
    const owner = { user: { byID: 1 }, group: { byID: 2 } };
    expect(actionsAt(c, 3)).toEqual([
      { src: '/opt/pkg/lib/libx.so', dest: '/dst/opt/pkg/lib/libx.so', ...PLAIN, owner },
      { src: '/opt/pkg/bin', dest: '/dst/pkg/bin', ...PLAIN, owner },
    ]);
    expect(c.localSources).toEqual([]);
    expect(c.steps.find((s) => s.line === 3)).toMatchObject({ copyFrom: 'build', copySources: ['/opt/pkg/lib/libx.so', '/opt/./pkg/bin'] });
  });

  it('refuses a wildcard, at the line: the stage is not known before the build', async () => {
    const e = await convertError(`${B} AS build\n${B}\nCOPY --from=build --parents /opt/*/lib /dst/\n`, { readContextDir: fakeContext([]) });
    expect([e.code, e.line]).toEqual(['unsupported', 3]);
    expect(e.message).toBe(
      "Dockerfile:3: COPY --from=build --parents /opt/*/lib: a wildcard with --parents from a stage or image needs include patterns on copies " +
        "(LLB cap file.copy.includeexcludepatterns): the source tree is not known before the build; name the paths without wildcards; dockerd 20.10.24's BuildKit (v0.8.x) cannot run it",
    );
    const img = await convertError(`${B}\nCOPY --from=alpine:3 --parents ./etc/./*.conf /dst/\n`);
    expect(img.message).toMatch(/^Dockerfile:2: COPY --from=alpine:3 --parents \.\/etc\/\.\/\*\.conf: a wildcard with --parents from a stage or image needs include patterns/);
  });
});

describe('COPY --parents errors', () => {
  it('needs a listing of the context for a wildcard', async () => {
    const e = await convertError(`${B}\nCOPY --parents src/*.go /dst/\n`);
    expect([e.code, e.message]).toEqual([
      'unsupported',
      'Dockerfile:2: COPY --parents src/*.go: a wildcard with --parents is expanded against the build context, and this conversion was given no listing of it',
    ]);
  });

  it('refuses ** inside a segment and bad patterns, at the line', async () => {
    const read = fakeContext([]);
    expect((await convertError(`${B}\nCOPY --parents src/a**/x /dst/\n`, { readContextDir: read })).message).toBe(
      'Dockerfile:2: COPY --parents src/a**/x: "a**": ** must be a whole path segment (as in src/**/*.go)',
    );
    expect((await convertError(`${B}\n\nCOPY --parents src/[a /dst/\n`, { readContextDir: read })).message).toBe(
      'Dockerfile:3: COPY --parents src/[a: syntax error in pattern "[a"',
    );
  });

  it('reports a listing failure at the line', async () => {
    const e = await convertError(`${B}\nRUN true\nCOPY --parents src/*.go /dst/\n`, {
      readContextDir: () => Promise.reject(new Error('EACCES: permission denied')),
    });
    expect([e.code, e.message]).toEqual(['context-unreadable', 'Dockerfile:3: COPY --parents src/*.go: cannot list the build context: EACCES: permission denied']);
  });
});
