// A stand-in for a standalone buildkitd: a socket that speaks BuildKit's gRPC directly, made
// by upgrading each connection to dockerd's `/grpc`. No buildkitd binary can be installed on
// these machines (Debian packages none); this lets the buildkitd paths (a direct dial,
// sessions over Control.Session, an agent fronting a buildkitd) run against a real BuildKit.
import net from 'node:net';

export interface BuildkitdStandIn {
  /** `unix:///...` or `tcp://127.0.0.1:PORT`, as BUILDKIT_HOST takes it. */
  address: string;
  close(): void;
}

/** Listens on `listen`; each connection is bridged to a fresh `/grpc` upgrade of `dockerdSocket`. */
export async function startBuildkitdStandIn(
  dockerdSocket: string,
  listen: { path: string } | { port: 0; host: '127.0.0.1' },
): Promise<BuildkitdStandIn> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    const up = net.createConnection({ path: dockerdSocket });
    sockets.add(up);
    up.write('POST /grpc HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n');
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      up.removeListener('data', onData);
      up.pause();
      if (!head.subarray(0, 12).toString().includes('101')) return void client.destroy();
      if (head.length > end + 4) up.unshift(head.subarray(end + 4));
      client.pipe(up);
      up.pipe(client);
    };
    up.on('data', onData);
    for (const s of [client, up]) s.on('error', () => (client.destroy(), up.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  const addr = server.address();
  const address = typeof addr === 'string' ? `unix://${addr}` : `tcp://127.0.0.1:${addr?.port}`;
  return {
    address,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
