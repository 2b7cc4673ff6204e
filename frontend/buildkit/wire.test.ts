import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { convertText } from '../../test/helpers/convert.js';
import { definitionMessage } from './gateway.js';
import { encode, messageType } from './rpc.js';
import {
  decodeBridgeSolveRequest,
  decodeControlSolveRequest,
  decodeControlSolveResponse,
  decodeFileSyncPacket,
  decodeStatusRequest,
  decodeStatusResponse,
  definitionInfo,
} from './wire.js';

describe('the decoders a proxy in front of BuildKit reads the builds with', () => {
  it('a definition: every op with its digest; exec ops with their args; the names the Status stream shows', async () => {
    const conv = await convertText('FROM busybox:local\nRUN echo one\nCOPY a /a\nRUN ["/bin/echo", "two"]\n');
    const info = definitionInfo(definitionMessage(conv.definition));
    const runs = conv.steps.filter((s) => s.keyword === 'RUN');
    expect(runs).toHaveLength(2);
    for (const s of runs) {
      const op = info.ops.find((o) => o.digest === s.vertex);
      expect(op?.execArgs).toEqual(s.execArgs);
      expect(op?.name).toBe(s.name);
    }
    expect(info.ops.filter((o) => o.execArgs !== undefined)).toHaveLength(2);
  });

  it('the source map of a definition that has one gives each vertex its lines', () => {
    const opBytes = encode(messageType('pb.Op'), { exec: { meta: { args: ['/bin/sh', '-c', 'true'] } } });
    const info = definitionInfo({
      def: [opBytes],
      metadata: {},
      Source: {
        locations: {
          [`sha256:${createHash('sha256').update(opBytes).digest('hex')}`]: {
            locations: [{ sourceIndex: 0, ranges: [{ start: { Line: 3 }, end: { Line: 5 } }] }],
          },
        },
      },
    });
    expect(info.ops[0]).toMatchObject({ execArgs: ['/bin/sh', '-c', 'true'], lines: { start: 3, end: 5 } });
  });

  it('Control.Solve, its response, Status, LLBBridge.Solve and FileSync packets', () => {
    const solve = encode(messageType('moby.buildkit.v1.SolveRequest'), {
      Ref: 'r1',
      Session: 's1',
      Exporter: 'moby',
      ExporterAttrs: { name: '127.0.0.1:5000/a:b', push: 'true' },
      Entitlements: ['network.host'],
    });
    expect(decodeControlSolveRequest(solve)).toEqual({
      ref: 'r1',
      session: 's1',
      frontend: '',
      frontendAttrs: {},
      exporter: 'moby',
      exporterAttrs: { name: '127.0.0.1:5000/a:b', push: 'true' },
      entitlements: ['network.host'],
    });
    const response = encode(messageType('moby.buildkit.v1.SolveResponse'), { ExporterResponse: { 'containerimage.digest': 'sha256:aa' } });
    expect(decodeControlSolveResponse(response)).toEqual({ 'containerimage.digest': 'sha256:aa' });
    expect(decodeStatusRequest(encode(messageType('moby.buildkit.v1.StatusRequest'), { Ref: 'r1' }))).toBe('r1');
    const status = decodeStatusResponse(
      encode(messageType('moby.buildkit.v1.StatusResponse'), {
        vertexes: [{ digest: 'sha256:v', name: '[2/3] RUN echo hi', started: { seconds: '1700000000', nanos: 5 } }],
      }),
    );
    expect(status.vertexes[0]).toMatchObject({ digest: 'sha256:v', name: '[2/3] RUN echo hi', startedNs: 1_700_000_000_000_000_005n });
    const bridge = encode(messageType('moby.buildkit.v1.frontend.SolveRequest'), { Frontend: 'dockerfile.v0', FrontendOpt: { filename: 'Dockerfile' } });
    expect(decodeBridgeSolveRequest(bridge)).toEqual({ frontend: 'dockerfile.v0', frontendOpt: { filename: 'Dockerfile' } });
    const stat = encode(messageType('fsutil.types.Packet'), { type: 0, stat: { path: 'Dockerfile', mode: 420 } });
    expect(decodeFileSyncPacket(stat)).toEqual({ type: 0, id: 0, path: 'Dockerfile', mode: 420 });
    const data = encode(messageType('fsutil.types.Packet'), { type: 2, ID: 3, data: Buffer.from('FROM x') });
    const p = decodeFileSyncPacket(data);
    expect(p).toMatchObject({ type: 2, id: 3 });
    expect(Buffer.from(p.data ?? []).toString()).toBe('FROM x');
  });
});
