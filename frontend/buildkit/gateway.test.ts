import { describe, expect, it } from 'vitest';
import { definitionMessage } from './gateway.js';
import { encode, decode, messageType } from './rpc.js';

describe('definitionMessage', () => {
  it('sorts metadata keys and leaves unset fields out', () => {
    const msg = definitionMessage({
      def: [new Uint8Array([1]), new Uint8Array([2])],
      metadata: { 'sha256:bb': { description: { z: '1', 'llb.customname': 'RUN x' } }, 'sha256:aa': { ignore_cache: true }, 'sha256:cc': { ignore_cache: false, description: {} } },
    });
    expect(Object.keys(msg.metadata as object)).toEqual(['sha256:aa', 'sha256:bb', 'sha256:cc']);
    expect((msg.metadata as Record<string, unknown>)['sha256:cc']).toEqual({});
    expect(Object.keys(((msg.metadata as Record<string, { description: object }>)['sha256:bb'] as { description: object }).description)).toEqual(['llb.customname', 'z']);
  });

  it('round-trips through pb.Definition', () => {
    const type = messageType('pb.Definition');
    const back = decode(type, encode(type, definitionMessage({ def: [new Uint8Array([9, 9])], metadata: { 'sha256:aa': { ignore_cache: true } } })));
    expect(back.def).toEqual([Buffer.from([9, 9])]);
    expect(back.metadata).toMatchObject({ 'sha256:aa': { ignore_cache: true } });
  });
});
