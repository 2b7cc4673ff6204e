// --annotation read as buildx 0.13 reads it, and what the exporters get: refused on
// dockerd (whose moby exporter and push carry no annotations), passed to the image
// exporters of a standalone buildkitd.
import { describe, expect, it } from 'vitest';
import type { DaemonInfo } from '../contracts.js';
import { UsageError } from '../errors.js';
import { parseAnnotation, parseAnnotations } from './annotations.js';
import { ExportNotSupportedError, solveExports } from './exports.js';
import { parseOutput } from './outputs.js';

const DOCKERD: DaemonInfo = { engine: 'dockerd', version: '26.1.5', description: "dockerd 26.1.5's BuildKit (v0.13.x)" };
const BUILDKITD: DaemonInfo = { engine: 'buildkitd', buildkitVersion: 'v0.13.2', description: 'BuildKit v0.13.2 (buildkitd)' };

describe('parseAnnotation', () => {
  it('turns [TYPE[PLATFORM]:]KEY=VALUE into exporter attributes', () => {
    expect(parseAnnotation('org.opencontainers.image.title=app=1')).toEqual({ 'annotation.org.opencontainers.image.title': 'app=1' });
    expect(parseAnnotation('manifest:com.example.m=m')).toEqual({ 'annotation-manifest.com.example.m': 'm' });
    expect(parseAnnotation('index,manifest-descriptor:k=v')).toEqual({ 'annotation-index.k': 'v', 'annotation-manifest-descriptor.k': 'v' });
    expect(parseAnnotation('manifest[linux/amd64]:k=')).toEqual({ 'annotation-manifest[linux/amd64].k': '' });
    expect(parseAnnotations(['a=1', 'index:b=2'])).toEqual({ 'annotation.a': '1', 'annotation-index.b': '2' });
  });
  it('refuses what buildx refuses: no key, no =, an unknown type', () => {
    for (const bad of ['novalue', '=v', 'manifest:=v', 'layer:k=v']) expect(() => parseAnnotation(bad)).toThrow(UsageError);
  });
});

describe('annotations and the exporters', () => {
  const annotations = parseAnnotations(['org.opencontainers.image.title=t']);
  it('on dockerd: refused, naming the daemon, from --annotation or from an -o attribute', () => {
    expect(() => solveExports([], { tags: [], daemon: DOCKERD, cwd: '/', annotations })).toThrow(ExportNotSupportedError);
    expect(() => solveExports([], { tags: [], daemon: DOCKERD, cwd: '/', annotations })).toThrow(/^--annotation: dockerd 26\.1\.5's BuildKit \(v0\.13\.x\) cannot carry annotations/);
    expect(() => solveExports([parseOutput('type=registry,name=r/a:1,annotation-manifest.k=v')], { tags: [], daemon: DOCKERD, cwd: '/' })).toThrow(
      /^-o type=image with annotation attributes: dockerd/,
    );
  });
  it('on buildkitd: given to the image exporter, as buildx does', () => {
    expect(solveExports([parseOutput('type=image,name=r/a:1,push=true')], { tags: [], daemon: BUILDKITD, cwd: '/', annotations }).exporter).toEqual({
      type: 'image',
      attrs: { name: 'r/a:1', push: 'true', 'annotation.org.opencontainers.image.title': 't' },
    });
  });
});
