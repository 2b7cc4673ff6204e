import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, lstatSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareBytewise, followLinks, resolveRoot, walkContext, type WalkEntry, type WalkOptions } from './walk.js';
import { GoMode } from './filemode.js';

let root: string;

function tree(files: Record<string, string | { link: string } | { hardlink: string } | null>): void {
  for (const [rel, v] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    if (v === null) mkdirSync(abs, { recursive: true });
    else if (typeof v === 'string') writeFileSync(abs, v);
    else if ('link' in v) symlinkSync(v.link, abs);
    else linkSync(path.join(root, v.hardlink), abs);
  }
}

async function walk(opts: WalkOptions = {}): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  for await (const e of walkContext(await resolveRoot(root), opts)) out.push(e);
  return out;
}

async function paths(opts: WalkOptions = {}): Promise<string[]> {
  return (await walk(opts)).map((e) => e.path);
}

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-walk-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('walk order', () => {
  it('is depth-first pre-order with names in bytewise order, root omitted', async () => {
    tree({ 'b.txt': '', 'a/z': '', 'a/b/c': '', 'a.b': '', B: '', 'é': '', 'z/': null });
    expect(await paths()).toEqual(['B', 'a', 'a/b', 'a/b/c', 'a/z', 'a.b', 'b.txt', 'z', 'é']);
  });

  it('compares names as UTF-8 bytes, like Go', () => {
    // UTF-16 code units would put U+1F600 (D83D DE00) first; UTF-8 bytes put U+FF5E (EF BD 9E) first.
    expect(['\u{1F600}', '\uFF5E'].sort(compareBytewise)).toEqual(['\uFF5E', '\u{1F600}']);
    expect(['b', 'B', 'a'].sort(compareBytewise)).toEqual(['B', 'a', 'b']);
  });
});

describe('stat fields', () => {
  it('sends Go modes, ids, sizes, nanosecond mtimes and link targets', async () => {
    tree({ 'f.txt': 'hello', d: null, l: { link: 'f.txt' } });
    utimesSync(path.join(root, 'f.txt'), 1_700_000_000.123456, 1_700_000_000.123456);
    const [d, f, l] = await walk();
    const st = lstatSync(path.join(root, 'f.txt'), { bigint: true });
    expect(d?.path).toBe('d');
    expect(((d?.mode ?? 0) & GoMode.Dir) >>> 0).toBe(GoMode.Dir);
    expect(d?.size).toBe(0n);
    expect(f).toMatchObject({ path: 'f.txt', size: 5n, uid: Number(st.uid), gid: Number(st.gid), modTimeNs: st.mtimeNs, linkname: '' });
    expect((f?.mode ?? 0) & 0o777).toBe(Number(st.mode) & 0o777);
    expect(l).toMatchObject({ path: 'l', linkname: 'f.txt' });
    expect(((l?.mode ?? 0) & GoMode.Symlink) >>> 0).toBe(GoMode.Symlink);
  });

  it('sends a hardlink as an entry naming the first path', async () => {
    tree({ 'a.txt': 'same', 'sub/h.txt': { hardlink: 'a.txt' } });
    const entries = await walk();
    expect(entries.find((e) => e.path === 'a.txt')?.linkname).toBe('');
    expect(entries.find((e) => e.path === 'sub/h.txt')).toMatchObject({ linkname: 'a.txt', size: 4n });
  });
});

describe('symlinks never lead outside the context', () => {
  it('sends links to / and ../.. as links, never their targets', async () => {
    tree({ evil: { link: '/etc' }, evil2: { link: '../..' }, 'ok.txt': 'x' });
    const entries = await walk();
    expect(entries.map((e) => [e.path, e.linkname])).toEqual([
      ['evil', '/etc'],
      ['evil2', '../..'],
      ['ok.txt', ''],
    ]);
    for (const e of entries) expect(e.abs.startsWith(root + path.sep)).toBe(true);
  });

  it('resolves followpaths inside the context only (absolute targets are taken from the context root)', async () => {
    tree({ evil: { link: '/etc' }, etc: null, 'etc/passwd': 'fake', Dockerfile: { link: 'real/Dockerfile' }, 'real/Dockerfile': 'FROM x', 'other.txt': '' });
    expect(await followLinks(root, ['evil/passwd'])).toEqual(['etc/passwd', 'evil']);
    expect(await followLinks(root, ['Dockerfile'])).toEqual(['Dockerfile', 'real/Dockerfile']);
    expect(await followLinks(root, ['../../outside'])).toEqual(['../../outside']);
    // The walk then includes those paths — from the context, never from /etc.
    const entries = await walk({ includePatterns: [], followPaths: ['evil/passwd'] });
    expect(entries.map((e) => e.path)).toEqual(['etc', 'etc/passwd', 'evil']);
    expect(entries.every((e) => e.abs.startsWith(root + path.sep))).toBe(true);
  });

  it('includes a followed link and its target', async () => {
    tree({ Dockerfile: { link: 'real/Dockerfile' }, 'real/Dockerfile': 'FROM x', 'real/other': '', 'other.txt': '' });
    expect(await paths({ includePatterns: ['Dockerfile'], followPaths: ['Dockerfile'] })).toEqual(['Dockerfile', 'real', 'real/Dockerfile']);
  });

  it('survives symlink loops in followpaths', async () => {
    tree({ a: { link: 'b' }, b: { link: 'a' } });
    expect(await followLinks(root, ['a'])).toEqual(['a', 'b']);
  });
});

describe('filters', () => {
  beforeEach(() => {
    tree({
      'Dockerfile': 'FROM x',
      'a.log': '',
      'keep.log': '',
      'src/main.c': '',
      'src/gen/out.o': '',
      'docs/README.md': '',
      'docs/other.md': '',
      'node_modules/x/index.js': '',
    });
  });

  it('honours the daemon include patterns (parents of included paths are sent)', async () => {
    expect(await paths({ includePatterns: ['src/gen/out.o', 'Dockerfile'] })).toEqual(['Dockerfile', 'src', 'src/gen', 'src/gen/out.o']);
    expect(await paths({ includePatterns: ['src'] })).toEqual(['src', 'src/gen', 'src/gen/out.o', 'src/main.c']);
    expect(await paths({ includePatterns: ['*.log'] })).toEqual(['a.log', 'keep.log']);
  });

  it('honours the daemon exclude patterns', async () => {
    expect(await paths({ excludePatterns: ['src', 'docs', 'node_modules', '*.log'] })).toEqual(['Dockerfile']);
  });

  it('enters an excluded directory only for a `!` pattern below it', async () => {
    expect(await paths({ excludePatterns: ['docs', '!docs/README.md'], includePatterns: ['docs'] })).toEqual(['docs', 'docs/README.md']);
  });

  it('applies .dockerignore on top, with `!` and `**`', async () => {
    expect(await paths({ dockerignore: ['# build output', '*.log', '!keep.log', '**/*.o', 'node_modules', 'docs/*.md', '!docs/README.md'] })).toEqual([
      'Dockerfile',
      'docs',
      'docs/README.md',
      'keep.log',
      'src',
      'src/gen',
      'src/main.c',
    ]);
  });

  it('combines daemon excludes and .dockerignore (either one excludes)', async () => {
    expect(await paths({ excludePatterns: ['src'], dockerignore: ['docs', 'node_modules', '*.log'] })).toEqual(['Dockerfile']);
    // A .dockerignore exception cannot bring back what the daemon excluded.
    expect(await paths({ excludePatterns: ['*.log'], dockerignore: ['!keep.log'], includePatterns: ['*.log'] })).toEqual([]);
  });
});
