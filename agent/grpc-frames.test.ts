import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GrpcMessageReader, frameMessage, grpcMessageTrailer } from './grpc-frames.js';

describe('gRPC message framing', () => {
  it('reads messages across any chunk boundaries', () => {
    const stream = Buffer.concat([frameMessage(Buffer.from('one')), frameMessage(Buffer.alloc(0)), frameMessage(Buffer.from('three'))]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new GrpcMessageReader(undefined);
      const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))].map((b) => b.toString());
      expect(got).toEqual(['one', '', 'three']);
    }
  });
  it('inflates gzip messages, and gives up (saying so) on what it cannot read', () => {
    const z = gzipSync(Buffer.from('zipped'));
    const framed = Buffer.concat([Buffer.from([1, 0, 0, 0, z.length]), z]);
    expect(new GrpcMessageReader('gzip').push(framed).map(String)).toEqual(['zipped']);
    const snappy = new GrpcMessageReader('snappy');
    expect(snappy.push(framed)).toEqual([]);
    expect(snappy.failed?.message).toMatch(/compressed gRPC message \(snappy\) cannot be read/);
    const small = new GrpcMessageReader(undefined, 2);
    expect(small.push(frameMessage(Buffer.from('abc')))).toEqual([]);
    expect(small.failed?.message).toMatch(/over the 2 bytes/);
  });
  it('percent-encodes grpc-message as the spec says (printable ASCII but %, as it is)', () => {
    expect(grpcMessageTrailer('build x: 100% refused,\nsee é')).toBe('build x: 100%25 refused, see %C3%A9');
    expect(decodeURI(grpcMessageTrailer('a: b, c=d %'))).toBe('a: b, c=d %');
  });
});
