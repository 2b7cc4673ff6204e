// The Docker daemons integration tests build on. Each is a dockerd with its own socket and
// embedded BuildKit, started by scripts/env.sh; a test that must hold on every daemon the
// project supports loops over testDaemons().
export interface TestDaemon {
  /** For test names and messages, e.g. "dockerd 20.10". */
  name: string;
  /** The dockerd socket. */
  socket: string;
  /** DOCKER_HOST for tracebuild and the docker client. */
  dockerHost: string;
}

export const defaultDaemon: TestDaemon = {
  name: 'dockerd (default)',
  socket: '/var/run/docker.sock',
  dockerHost: 'unix:///var/run/docker.sock',
};

/** Every daemon the suite runs against. */
export function testDaemons(): TestDaemon[] {
  return [defaultDaemon];
}
