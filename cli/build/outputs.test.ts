import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { isImageStoreOutput, parseOutput, parseOutputs, splitCsv, writesToStdout } from './outputs.js';

describe('-o/--output as buildx 0.13 reads it', () => {
  it('a single field that does not start with type= is a local directory; - is a tar on stdout', () => {
    expect(parseOutput('out')).toEqual({ type: 'local', attrs: {}, dest: 'out' });
    // buildx's own quirk: `dest=x` alone is a directory named "dest=x"
    expect(parseOutput('dest=x')).toEqual({ type: 'local', attrs: {}, dest: 'dest=x' });
    expect(parseOutput('-')).toEqual({ type: 'tar', attrs: {}, dest: '-' });
  });

  it('type and dest are taken apart from the other attributes; keys are lower-cased', () => {
    expect(parseOutput('type=tar,dest=a.tar')).toEqual({ type: 'tar', attrs: {}, dest: 'a.tar' });
    expect(parseOutput('type=image,Name=r/x:1,push=true')).toEqual({ type: 'image', attrs: { name: 'r/x:1', push: 'true' } });
    expect(parseOutput('type=registry,name=r/x')).toEqual({ type: 'image', attrs: { name: 'r/x', push: 'true' } });
    expect(parseOutput('type=registry,push=false')).toEqual({ type: 'image', attrs: { push: 'false' } });
  });

  it('CSV quoting as Go reads it: a comma inside quotes, "" for a quote', () => {
    expect(splitCsv('type=image,"name=a/b:1,a/c:2"')).toEqual(['type=image', 'name=a/b:1,a/c:2']);
    expect(splitCsv('a,"b""c"')).toEqual(['a', 'b"c']);
    expect(parseOutput('type=image,"name=a/b:1,a/c:2"').attrs.name).toBe('a/b:1,a/c:2');
  });

  it('errors buildx gives, as usage errors', () => {
    expect(() => parseOutput('type=local,foo')).toThrow(/invalid value foo/);
    expect(() => parseOutput('dest=x,name=y')).toThrow(/type is required for output/);
    expect(() => parseOutputs(['type=local'], { tags: [] })).toThrow('dest is required for local exporter');
    expect(() => parseOutputs(['type=tar,dest=a'], { tags: [], iidfile: 'i' })).toThrow('local and tar exporters are incompatible with image ID file');
    expect(() => parseOutputs(['type=registry'], { tags: [] })).toThrow('tag is needed when pushing to registry');
    expect(() => parseOutputs(['type=registry'], { tags: [] })).toThrow(UsageError);
  });

  it('--push makes the image output push, or adds one beside the others', () => {
    const made = parseOutputs(['type=image'], { push: true, tags: ['r/x'] });
    expect(made.outputs).toEqual([{ type: 'image', attrs: { push: 'true' } }]);
    expect(made.push).toBe(true);
    const added = parseOutputs(['type=local,dest=d'], { push: true, tags: ['r/x'] });
    expect(added.outputs.map((o) => o.type)).toEqual(['local', 'image']);
    // no -o: the default image store output is implied, nothing is added
    expect(parseOutputs([], { push: true, tags: ['r/x'] }).outputs).toEqual([]);
  });

  it("an image output's name= gives the names when there is no -t", () => {
    expect(parseOutputs(['type=image,name=a/b:1,push=true'], { tags: [] })).toEqual({
      outputs: [{ type: 'image', attrs: { name: 'a/b:1', push: 'true' } }],
      names: ['a/b:1'],
      push: true,
    });
    expect(parseOutputs(['type=image,name=a/b:1'], { tags: ['c/d'] }).names).toEqual([]);
  });

  it('a file output without dest goes to stdout, and is refused on a terminal', () => {
    expect(writesToStdout({ type: 'tar', attrs: {} }, false)).toBe(true);
    expect(writesToStdout({ type: 'tar', attrs: {}, dest: '-' }, false)).toBe(true);
    expect(writesToStdout({ type: 'tar', attrs: {}, dest: 'f.tar' }, true)).toBe(false);
    expect(() => writesToStdout({ type: 'oci', attrs: {} }, true)).toThrow('dest file is required for oci exporter. refusing to write to console');
  });

  it('image, moby and docker without dest are the image store', () => {
    expect(isImageStoreOutput({ type: 'image', attrs: {} })).toBe(true);
    expect(isImageStoreOutput({ type: 'docker', attrs: {} })).toBe(true);
    expect(isImageStoreOutput({ type: 'docker', attrs: {}, dest: 'x.tar' })).toBe(false);
    expect(isImageStoreOutput({ type: 'local', attrs: {}, dest: 'x' })).toBe(false);
  });
});
