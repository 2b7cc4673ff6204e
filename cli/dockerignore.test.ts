import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerignore } from '../common/index.js';
import { chooseDockerignore, readDockerignore, type DockerignoreFs } from './dockerignore.js';
import { BuildInputError } from './errors.js';

const fakeFs = (files: Record<string, string>): DockerignoreFs => ({
  isFile: (p) => p in files,
  readText: (p) => files[p] ?? '',
});

describe('which .dockerignore', () => {
  it('uses <PATH>/.dockerignore by default', () => {
    expect(chooseDockerignore('/ctx', '/ctx/Dockerfile', fakeFs({ '/ctx/.dockerignore': '' }))).toBe('/ctx/.dockerignore');
  });

  it('prefers <Dockerfile>.dockerignore next to a custom -f', () => {
    const fs = fakeFs({ '/ctx/.dockerignore': '', '/work/build/app.Dockerfile.dockerignore': '' });
    expect(chooseDockerignore('/ctx', '/work/build/app.Dockerfile', fs)).toBe('/work/build/app.Dockerfile.dockerignore');
  });

  it('falls back to the context one when the Dockerfile has none', () => {
    expect(chooseDockerignore('/ctx', '/work/build/app.Dockerfile', fakeFs({ '/ctx/.dockerignore': '' }))).toBe(
      '/ctx/.dockerignore',
    );
  });

  it('also honours Dockerfile.dockerignore for the default Dockerfile', () => {
    const fs = fakeFs({ '/ctx/.dockerignore': '', '/ctx/Dockerfile.dockerignore': '' });
    expect(chooseDockerignore('/ctx', '/ctx/Dockerfile', fs)).toBe('/ctx/Dockerfile.dockerignore');
  });

  it('excludes nothing without a file', () => {
    expect(readDockerignore('/ctx', '/ctx/Dockerfile', fakeFs({}))).toEqual({ patterns: [] });
  });

  it('reads real files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracebuild-ignore-'));
    mkdirSync(join(dir, 'ctx'));
    mkdirSync(join(dir, 'docker'));
    writeFileSync(join(dir, 'ctx', '.dockerignore'), 'from-context\n');
    writeFileSync(join(dir, 'docker', 'Dockerfile.dev.dockerignore'), 'from-dockerfile\n');
    expect(readDockerignore(join(dir, 'ctx'), join(dir, 'docker', 'Dockerfile.dev'))).toEqual({
      file: join(dir, 'docker', 'Dockerfile.dev.dockerignore'),
      patterns: ['from-dockerfile'],
    });
    expect(readDockerignore(join(dir, 'ctx'), join(dir, 'ctx', 'Dockerfile')).patterns).toEqual(['from-context']);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('.dockerignore patterns', () => {
  it('skips comments and blank lines, trims, cleans paths and keeps exceptions', () => {
    const text = '\uFEFF# comment\n\nnode_modules\n  *.log  \n./build/\n/abs/path\n!keep.log\n! spaced\na/../b\n**/*.tmp\r\n #not a comment\n';
    expect(parseDockerignore(text)).toEqual([
      'node_modules',
      '*.log',
      'build',
      'abs/path',
      '!keep.log',
      '!spaced',
      'b',
      '**/*.tmp',
      '#not a comment',
    ]);
  });

  it('rejects a lone "!" as a build input error naming the file', () => {
    expect(() => parseDockerignore('!\n')).toThrow('illegal exclusion pattern: "!"');
    expect(() => readDockerignore('/ctx', '/ctx/Dockerfile', fakeFs({ '/ctx/.dockerignore': '!' }))).toThrow(BuildInputError);
  });
});
