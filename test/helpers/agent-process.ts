// A `tracebuild agent` process for the integration tests: started on 127.0.0.1 with an
// ephemeral port (the port it printed is read back), in front of a daemon's socket, with
// the environment its clients need to reach it (DOCKER_HOST and the TLS settings of one
// client directory of test/helpers/tls-certs.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { tracebuildCli } from './environment.js';

export interface AgentProcess {
  port: number;
  /** Everything the agent printed so far (its log is stderr). */
  log(): string;
  /** DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for a client directory. */
  clientEnv(clientDir: string): Record<string, string>;
  /** BUILDKIT_HOST and BUILDKIT_TLS_DIR for a client directory (it holds ca.pem, cert.pem, key.pem). */
  buildkitEnv(clientDir: string): Record<string, string>;
  /** Sends the signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface AgentOptions {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  upstream: string;
  stateDir: string;
  extraArgs?: readonly string[];
  env?: Record<string, string>;
}

export function startAgent(o: AgentOptions): Promise<AgentProcess> {
  const args = [
    tracebuildCli, 'agent', '--listen', '127.0.0.1:0', '--tls-cert', o.certFile, '--tls-key', o.keyFile,
    '--client-ca', o.clientCaFile, '--upstream', o.upstream, '--state-dir', o.stateDir, ...(o.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, ...o.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const ended = new Promise<void>((done) => child.once('close', () => done()));
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer): void => {
      log += b.toString('utf8');
      const m = /listening on 127\.0\.0\.1:(\d+) /.exec(log);
      if (m === null) return;
      const port = Number(m[1]);
      resolve({
        port,
        log: () => log,
        clientEnv: (dir) => ({ DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }),
        buildkitEnv: (dir) => ({ BUILDKIT_HOST: `tcp://127.0.0.1:${port}`, BUILDKIT_TLS_DIR: dir }),
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await ended;
        },
      });
    };
    child.stderr?.on('data', onData);
    void ended.then(() => reject(new Error(`the agent ended before listening: ${args.join(' ')}\n${log}`)));
  });
}
