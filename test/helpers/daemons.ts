// The Docker daemons the integration tests build on, both started by scripts/env.sh:
// Docker 26 (BuildKit v0.13), the default, and Docker 20.10 (BuildKit v0.8), the
// compatibility target. The integration suite runs once per daemon: TRACEBUILD_TEST_DAEMON
// names the one of this run (default docker26), and the suite's setup file points
// DOCKER_HOST at it, so every tracebuild and docker command a test runs builds there.
export interface TestDaemon {
  id: 'docker26' | 'docker20';
  /** For test names and messages. */
  name: string;
  /** The dockerd socket. */
  socket: string;
  /** DOCKER_HOST for tracebuild and the docker client. */
  dockerHost: string;
  /**
   * BuildKit's own Dockerfile frontend on this daemon, the parity oracle: `docker buildx
   * build` (buildx 0.13) on Docker 26; `DOCKER_BUILDKIT=1 docker build` with Docker 20.10's
   * own client on 20.10.
   */
  oracle: { command: string; args: readonly string[]; env: Readonly<Record<string, string>> };
}

/** The docker client for everything but the oracle's builds: Docker 26's, which speaks to both daemons. */
export const dockerCli = '/usr/bin/docker';

const DOCKER26: TestDaemon = {
  id: 'docker26',
  name: 'Docker 26',
  socket: '/var/run/docker.sock',
  dockerHost: 'unix:///var/run/docker.sock',
  oracle: { command: dockerCli, args: ['buildx', 'build'], env: {} },
};

const DOCKER20: TestDaemon = {
  id: 'docker20',
  name: 'Docker 20.10',
  socket: '/run/tracebuild/docker20/docker.sock',
  dockerHost: 'unix:///run/tracebuild/docker20/docker.sock',
  oracle: { command: '/opt/tracebuild/docker-20.10/usr/bin/docker', args: ['build'], env: { DOCKER_BUILDKIT: '1' } },
};

/** Every daemon the suite runs against. */
export function testDaemons(): TestDaemon[] {
  return [DOCKER26, DOCKER20];
}

/** The daemon of this run of the integration suite (TRACEBUILD_TEST_DAEMON, default docker26). */
export function currentDaemon(): TestDaemon {
  const id = process.env.TRACEBUILD_TEST_DAEMON ?? 'docker26';
  const daemon = testDaemons().find((d) => d.id === id);
  if (daemon === undefined) throw new Error(`TRACEBUILD_TEST_DAEMON=${id}: expected one of ${testDaemons().map((d) => d.id).join(', ')}`);
  return daemon;
}
