import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DaemonInfo } from '../contracts.js';
import { parseImageReferenceWithDefaultTag } from '../../common/index.js';
import { ExportNotSupportedError, checkExportCapabilities, explainExportRefusal, solveExports } from './exports.js';
import { parseOutput } from './outputs.js';

const DOCKERD: DaemonInfo = { engine: 'dockerd', version: '26.1.5', description: "dockerd 26.1.5's BuildKit (v0.13.x)" };
const BUILDKITD: DaemonInfo = { engine: 'buildkitd', buildkitVersion: 'v0.13.2', description: 'BuildKit v0.13.2 (buildkitd)' };
const work = mkdtempSync(path.join(tmpdir(), 'tb-exports-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the solve exporters of -o', () => {
  const tags = [parseImageReferenceWithDefaultTag('127.0.0.1:5000/a/b:1')];

  it('no -o: the image store with the -t names, as before', () => {
    expect(solveExports([], { tags, daemon: DOCKERD, cwd: work })).toEqual({ exporter: { type: 'moby', attrs: { name: '127.0.0.1:5000/a/b:1' } } });
  });

  it('on dockerd an image output is the moby exporter; on buildkitd it goes as given, with the names', () => {
    const image = parseOutput('type=image,push=true');
    expect(solveExports([image], { tags, daemon: DOCKERD, cwd: work }).exporter).toEqual({ type: 'moby', attrs: { name: '127.0.0.1:5000/a/b:1' } });
    expect(solveExports([image], { tags, daemon: BUILDKITD, cwd: work }).exporter).toEqual({ type: 'image', attrs: { name: '127.0.0.1:5000/a/b:1', push: 'true' } });
  });

  it('local and file outputs get a FileSend target at their exporter index', () => {
    const out = solveExports([parseOutput('type=local,dest=dir'), parseOutput('type=tar,dest=x.tar')], { tags: [], daemon: DOCKERD, cwd: work });
    expect(out.exporters).toEqual([{ type: 'local', attrs: {} }, { type: 'tar', attrs: {} }]);
    expect(out.exportTargets?.get(0)).toEqual({ kind: 'directory', path: path.join(work, 'dir') });
    expect(out.exportTargets?.get(1)?.kind).toBe('file');
  });

  it('a local destination that is a file is refused, as buildx says it', () => {
    writeFileSync(path.join(work, 'afile'), '');
    expect(() => solveExports([parseOutput('type=local,dest=afile')], { tags: [], daemon: DOCKERD, cwd: work })).toThrow('destination directory afile is a file');
  });

  it('several exporters need the exporter.multiple capability; unknown capabilities (no Ping) are not refused', () => {
    const two = solveExports([parseOutput('a'), parseOutput('b')], { tags: [], daemon: DOCKERD, cwd: work });
    expect(() => checkExportCapabilities(two, ['exporter.multiple'], DOCKERD)).not.toThrow();
    expect(() => checkExportCapabilities(two, undefined, DOCKERD)).not.toThrow();
    expect(() => checkExportCapabilities(two, ['file.base'], DOCKERD)).toThrow(/2 outputs need several exporters in one solve \(LLB cap exporter\.multiple/);
    const one = solveExports([parseOutput('a')], { tags: [], daemon: DOCKERD, cwd: work });
    expect(() => checkExportCapabilities(one, [], DOCKERD)).not.toThrow();
  });

  it("the daemon's refusals are said precisely, naming the daemon", () => {
    const oci = explainExportRefusal(new Error('exporter "oci" could not be found'), DOCKERD);
    expect(oci).toBeInstanceOf(ExportNotSupportedError);
    expect(oci?.message).toMatch(/^-o type=oci: dockerd 26\.1\.5's BuildKit \(v0\.13\.x\) has no oci exporter \(.*containerd image store/);
    const cache = explainExportRefusal(new Error('unknown cache exporter: "registry"'), DOCKERD);
    expect(cache?.message).toMatch(/^--cache-to type=registry: dockerd 26\.1\.5's BuildKit \(v0\.13\.x\) has no registry cache exporter \(.*only inline/);
    const importer = explainExportRefusal(new Error('failed to load LLB: unknown cache importer: s3'), BUILDKITD);
    expect(importer?.message).toBe('--cache-from type=s3: BuildKit v0.13.2 (buildkitd) has no s3 cache importer');
    expect(explainExportRefusal(new Error('process "/bin/sh -c false" did not complete successfully'), DOCKERD)).toBeUndefined();
  });
});
