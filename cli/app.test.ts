import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { COMMANDS, commandsFor, runCli } from './app.js';
import type {
  BuildKitClient,
  BuildStep,
  ConvertOptions,
  SolveOptions,
  StatusBatch,
  Toolchain,
} from './contracts.js';
import type { CliIo } from './io.js';
import { fakeTracer } from '../test/helpers/fake-tracer.js';
import { TracebuildError, type ExitKind } from '../common/index.js';
import { FakeConvertError, FakeDockerfileError } from '../test/helpers/cli.js';
import { jsonValues } from '../test/helpers/json-stream.js';

// ---- fakes of the sibling modules -------------------------------------------------------

const DockerfileError = FakeDockerfileError;
const ConvertError = FakeConvertError;
class SolveError extends TracebuildError<'solve-failed'> {
  override readonly name = 'SolveError';
  readonly exit: ExitKind = 'build';
  constructor(message: string) {
    super('solve-failed', message);
  }
}
class BuildKitConnectionError extends TracebuildError<'unreachable'> {
  override readonly name = 'BuildKitConnectionError';
  readonly exit: ExitKind = 'unreachable';
  constructor(message: string) {
    super('unreachable', message);
  }
}

interface FakeInstruction {
  keyword: string;
  text: string;
  range: { startLine: number };
  flags: { name: string; value: string | true }[];
}
interface FakeAst {
  file: string;
  stages: { instructions: FakeInstruction[] }[];
}

const IMAGE_ID = `sha256:${'ab'.repeat(32)}`;
const T0 = Date.UTC(2024, 0, 1);

/** Parses one instruction per line (`KEYWORD [--flag=value] rest`); `BAD` is a syntax error. */
function fakeParse(text: string, file: string): FakeAst {
  const instructions: FakeInstruction[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [keyword = '', ...rest] = line.split(/\s+/);
    if (keyword === 'BAD') throw new DockerfileError(file, i + 1, 'unknown instruction: BAD');
    const flags = rest
      .filter((w) => w.startsWith('--'))
      .map((w) => {
        const [name = '', value] = w.slice(2).split('=');
        return { name, value: value ?? (true as const) };
      });
    instructions.push({ keyword: keyword.toUpperCase(), text: line, range: { startLine: i + 1 }, flags });
  });
  return { file, stages: [{ instructions }] };
}

interface Recorder {
  convert: ConvertOptions<FakeAst>[];
  solve: SolveOptions<string>[];
  endpoints: unknown[];
  closed: number;
}

interface FakeOptions {
  connectError?: Error;
  /** Abort this controller when the solve starts. */
  abortOnSolve?: AbortController;
}

function fakeToolchain(rec: Recorder, opts: FakeOptions = {}): Toolchain<FakeAst, string, { address: string }> {
  let lastSteps: BuildStep[] = [];
  const convertDockerfile = async (o: ConvertOptions<FakeAst>) => {
    rec.convert.push(o);
    const all = o.dockerfile.stages.flatMap((s) => s.instructions);
    const wrong = all.find((i) => i.keyword === 'COPY' && i.text.includes('--from=nowhere'));
    if (wrong !== undefined) throw new ConvertError(o.dockerfile.file, wrong.range.startLine, 'stage "nowhere" not found');
    const steps: BuildStep[] = all.map((ins, i) => ({
      vertex: `sha256:v${ins.range.startLine}`,
      name: `[${i + 1}/${all.length}] ${ins.text}`,
      instruction: ins.text,
      keyword: ins.keyword,
      line: ins.range.startLine,
      endLine: ins.range.startLine,
      stage: '0',
      stageIndex: 0,
    }));
    lastSteps = steps;
    return { definition: 'llb', imageConfig: { config: {} }, steps, baseImages: [] };
  };
  const client: BuildKitClient<string> = {
    async solve(o) {
      rec.solve.push(o);
      opts.abortOnSolve?.abort();
      if (o.signal?.aborted === true) throw new SolveError('context canceled');
      const result = await o.frontend({ sessionId: 'test-session', resolveImageConfig: async () => ({ config: {} }) });
      expect(result.definition).toBe('llb');
      let t = 0;
      for (const step of lastSteps) {
        const failing = step.instruction.includes('exit 3');
        const batch: StatusBatch = {
          vertexes: [
            {
              digest: step.vertex,
              inputs: [],
              name: step.name,
              cached: step.keyword === 'FROM',
              started: new Date(T0 + t),
              completed: new Date(T0 + t + 100),
              ...(failing ? { error: 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3' } : {}),
            },
          ],
          statuses: [],
          logs: step.keyword === 'RUN' ? [{ vertex: step.vertex, stream: 1, timestamp: new Date(T0 + t + 50), data: new TextEncoder().encode('hi\n') }] : [],
        };
        o.onStatus(batch);
        t += 100;
        if (failing) throw new SolveError('failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3');
      }
      return { exporterResponse: { 'containerimage.digest': IMAGE_ID } };
    },
    close() {
      rec.closed++;
    },
  };
  return {
    parseDockerfile: fakeParse,
    convertDockerfile,
    describeConversion: (c) => ({ steps: c.steps.map((s) => ({ line: s.line, vertex: s.vertex })), bytes: new Uint8Array([1, 2]) }),
    endpointFromEnv: (env) => ({ address: env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' }),
    async connectBuildKit(endpoint) {
      rec.endpoints.push(endpoint);
      if (opts.connectError) throw opts.connectError;
      return client;
    },
    tracer: fakeTracer(),
  };
}

// ---- harness -----------------------------------------------------------------------------

let dir: string;
let rec: Recorder;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracebuild-cli-'));
  rec = { convert: [], solve: [], endpoints: [], closed: 0 };
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nWORKDIR /app\nRUN echo hi\n');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; fake?: FakeOptions; signal?: AbortSignal; tty?: boolean } = {},
) {
  let stdout = '';
  let stderr = '';
  let loads = 0;
  const io: CliIo = {
    stdout: { write: (s) => (stdout += s) },
    stderr: { write: (s) => (stderr += s), isTTY: options.tty ?? false, columns: 60 },
    env: options.env ?? {},
    cwd: options.cwd ?? dir,
    clock: { now: () => T0 },
    ticker: () => () => {},
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const toolchain = fakeToolchain(rec, options.fake);
  const code = await runCli(argv, io, {
    version: '9.8.7',
    loadToolchain: async () => {
      loads++;
      return toolchain;
    },
  });
  return { code, stdout, stderr, loads };
}

// ---- tests -------------------------------------------------------------------------------

describe('tracebuild build', () => {
  it('builds PATH "." by default, with or without the build subcommand', async () => {
    for (const argv of [[], ['.'], ['build'], ['build', '.']]) {
      const r = await cli(argv);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('Successfully built abababababab\n');
    }
    expect(rec.solve.map((s) => s.contextDir)).toEqual([dir, dir, dir, dir]);
    expect(rec.closed).toBe(4);
  });

  it('normalizes tags for the exporter and prints them like docker', async () => {
    const r = await cli(['.', '-t', 'foo', '--tag', 'user/bar:1', '-t', 'docker.io/library/foo:latest', '-tlocalhost:5000/x']);
    expect(r.code, r.stderr).toBe(0);
    expect(rec.solve[0]?.exporter).toEqual({
      type: 'moby',
      attrs: { name: 'docker.io/library/foo:latest,docker.io/user/bar:1,localhost:5000/x:latest' },
    });
    expect(r.stdout).toBe(
      'Successfully built abababababab\nSuccessfully tagged foo:latest\nSuccessfully tagged user/bar:1\nSuccessfully tagged localhost:5000/x:latest\n',
    );
  });

  it('exports an untagged image without a name', async () => {
    await cli(['.']);
    expect(rec.solve[0]?.exporter).toEqual({ type: 'moby', attrs: {} });
  });

  it('prints only the image ID on stdout and no progress with -q', async () => {
    const r = await cli(['-q', '.', '-t', 'foo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${IMAGE_ID}\n`);
    expect(r.stderr).toBe('');
  });

  it('takes --progress quiet and BUILDKIT_PROGRESS=quiet as buildx does: as -q', async () => {
    for (const r of [await cli(['.', '--progress', 'quiet', '-t', 'foo']), await cli(['.', '-t', 'foo'], { env: { BUILDKIT_PROGRESS: 'quiet' } })]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${IMAGE_ID}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('takes --progress rawjson and BUILDKIT_PROGRESS=rawjson as buildx does: stderr is a JSON object per status update', async () => {
    for (const r of [await cli(['.', '--progress', 'rawjson']), await cli(['.'], { env: { BUILDKIT_PROGRESS: 'rawjson' } })]) {
      expect(r.code, r.stderr).toBe(0);
      // nothing but JSON objects: the trace's table is not written among them (the trace
      // still is, with --trace-out)
      const batches = jsonValues(r.stderr, 'stderr') as Array<{ vertexes?: Array<{ name?: string }> }>;
      expect(batches.flatMap((b) => b.vertexes ?? []).map((v) => v.name)).toContain('[3/3] RUN echo hi');
    }
  });

  it('shows plain progress on stderr when stderr is not a terminal', async () => {
    // --no-trace: the progress alone (the trace table after it: cli/commands/trace-phase.test.ts)
    const r = await cli(['.', '--no-trace']);
    expect(r.stderr).toBe(
      [
        '#1 [1/3] FROM busybox:local',
        '#1 CACHED',
        '',
        '#2 [2/3] WORKDIR /app',
        '#2 DONE 0.1s',
        '',
        '#3 [3/3] RUN echo hi',
        '#3 0.050 hi',
        '#3 DONE 0.1s',
        '',
      ].join('\n'),
    );
  });

  it('draws the tty view when stderr is a terminal, and honours --progress and BUILDKIT_PROGRESS', async () => {
    expect((await cli(['.'], { tty: true })).stderr).toContain('[+] Building 0.0s (3/3) FINISHED');
    expect((await cli(['.', '--progress', 'plain'], { tty: true })).stderr).toContain('#3 DONE 0.1s');
    expect((await cli(['.'], { tty: true, env: { BUILDKIT_PROGRESS: 'plain' } })).stderr).toContain('#3 DONE 0.1s');
    expect((await cli(['.', '--progress=tty'])).stderr).toContain('\x1b[2K');
    const bad = await cli(['.'], { env: { BUILDKIT_PROGRESS: 'fancy' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: invalid BUILDKIT_PROGRESS "fancy": allowed are auto, tty, plain, rawjson, quiet\n');
  });

  it('passes build args (bare names from the environment), labels, target, network and no-cache to the converter', async () => {
    const r = await cli(
      ['.', '--build-arg', 'FROM_ENV', '--build-arg', 'UNSET', '--build-arg=X=1', '--label', 'a=b', '--label', 'c', '--target', 'final', '--network', 'none', '--no-cache'],
      { env: { FROM_ENV: 'env-value' } },
    );
    expect(r.code, r.stderr).toBe(0);
    const o = rec.convert[0]!;
    expect(o.buildArgs).toEqual({ FROM_ENV: 'env-value', X: '1' });
    expect(o.labels).toEqual({ a: 'b', c: '' });
    expect(o.target).toBe('final');
    expect(o.network).toBe('none');
    expect(o.noCache).toBe(true);
    expect(typeof o.resolveImageConfig).toBe('function');
    // The context source names this build's session (two concurrent builds never share it).
    expect(o.sessionId).toBe('test-session');
    expect(rec.solve[0]?.entitlements).toEqual([]);
  });

  it('asks for network.host for --network host or a RUN --network=host', async () => {
    await cli(['.', '--network', 'host']);
    expect(rec.convert[0]?.network).toBe('host');
    expect(rec.solve[0]?.entitlements).toEqual(['network.host']);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN --network=host wget -q -O- http://127.0.0.1:8080/\n');
    await cli(['.']);
    expect(rec.convert[1]?.network).toBe('default');
    expect(rec.solve[1]?.entitlements).toEqual(['network.host']);
  });

  it('resolves -f relative to the cwd and uses the Dockerfile-specific .dockerignore', async () => {
    mkdirSync(join(dir, 'ctx'));
    mkdirSync(join(dir, 'docker'));
    writeFileSync(join(dir, 'ctx', '.dockerignore'), 'context-rule\n');
    writeFileSync(join(dir, 'docker', 'Dockerfile.dev'), 'FROM busybox:local\n');
    writeFileSync(join(dir, 'docker', 'Dockerfile.dev.dockerignore'), '# mine\n*.log\n!keep.log\n');
    const r = await cli(['ctx', '-f', 'docker/Dockerfile.dev']);
    expect(r.code, r.stderr).toBe(0);
    expect(rec.solve[0]?.contextDir).toBe(join(dir, 'ctx'));
    expect(rec.solve[0]?.dockerignore).toEqual(['*.log', '!keep.log']);
    expect(rec.convert[0]?.excludePatterns).toEqual(['*.log', '!keep.log']);
    expect(rec.convert[0]?.dockerfile.file).toBe('Dockerfile.dev');
    const ctxOnly = await cli(['ctx', '-f', join(dir, 'Dockerfile')]);
    expect(ctxOnly.code).toBe(0);
    expect(rec.solve[1]?.dockerignore).toEqual(['context-rule']);
  });

  it('passes the endpoint from the environment', async () => {
    await cli(['.'], { env: { DOCKER_HOST: 'unix:///tmp/other.sock' } });
    expect(rec.endpoints).toEqual([{ address: 'unix:///tmp/other.sock' }]);
  });
});

describe('usage errors exit 2 before anything is built', () => {
  it.each([
    [['-t', 'Foo'], 'error: invalid argument "Foo" for "-t, --tag" flag: invalid reference format: repository name (library/Foo) must be lowercase\n'],
    [['-t', 'foo:bad tag'], 'error: invalid argument "foo:bad tag" for "-t, --tag" flag: invalid reference format: reference contains whitespace\n'],
    [['-'], 'error: reading the build context from stdin ("-") is not supported: pass a directory as PATH\n'],
    [['.', '-f', '-'], 'error: reading the Dockerfile from stdin ("-f -") is not supported: pass a file\n'],
    [['https://github.com/x/y.git'], 'error: remote build contexts are not supported: https://github.com/x/y.git: pass a local directory as PATH\n'],
    [['.', '--build-arg', '=x'], 'error: invalid argument "=x" for "--build-arg" flag: empty name\n'],
  ])('%j', async (argv, stderr) => {
    const r = await cli(argv);
    expect(r.stderr).toBe(stderr);
    expect(r.code).toBe(2);
    expect(rec.endpoints).toEqual([]);
    expect(r.stdout).toBe('');
  });


  it.each([
    [['--bogus'], "error: unknown option '--bogus'"],
    [['.', '--network', 'bridge'], "error: option '--network <mode>' argument 'bridge' is invalid. Allowed choices are default, host, none."],
    [['.', '--progress', 'fancy'], "error: option '--progress <mode>' argument 'fancy' is invalid. Allowed choices are auto, tty, plain, rawjson, quiet."],
    [['a', 'b'], "error: too many arguments for 'build'. Expected 1 argument but got 2: a, b."],
    [['.', '-t'], "error: option '-t, --tag <NAME>' argument missing"],
    [['convert', '.', '--tag', 'x'], "error: unknown option '--tag'"],
  ])('commander rejects %j', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(message);
    expect(r.loads).toBe(0);
  });
});

describe('build errors exit 1 (an unreachable daemon 3)', () => {
  // A missing context or a Dockerfile that is a directory is bad input (docker build exits 1).
  it.each([
    [['nope'], 'error: unable to prepare context: path "nope" not found\n'],
    [['Dockerfile'], 'error: unable to prepare context: context must be a directory: Dockerfile\n'],
  ])('%j', async (argv, stderr) => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\n');
    const r = await cli(argv);
    expect(r.stderr).toBe(stderr);
    expect(r.code).toBe(1);
    expect(rec.endpoints).toEqual([]);
    expect(r.stdout).toBe('');
  });

  it('rejects a directory as the Dockerfile', async () => {
    mkdirSync(join(dir, 'sub'));
    const r = await cli(['.', '-f', 'sub']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: failed to read Dockerfile sub: is a directory\n');
    expect(rec.endpoints).toEqual([]);
  });

  it('reports a missing Dockerfile', async () => {
    const r = await cli(['.', '-f', 'Dockerfile.missing']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: failed to read Dockerfile: Dockerfile.missing: no such file\n');
  });

  it('reports a Dockerfile syntax error as Dockerfile:LINE', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nBAD thing\n');
    const r = await cli(['.']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Dockerfile:2: unknown instruction: BAD\n');
    expect(rec.endpoints).toEqual([]);
  });

  it('reports a conversion error raised in the frontend callback as itself', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nCOPY --from=nowhere /a /b\n');
    const r = await cli(['.', '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Dockerfile:2: stage "nowhere" not found\n');
  });

  it('reports an unreachable daemon in one line, with the exit code of that (3)', async () => {
    const r = await cli(['.'], { fake: { connectError: new BuildKitConnectionError('cannot connect to BuildKit at unix:///var/run/docker.sock: ENOENT') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('error: cannot connect to BuildKit at unix:///var/run/docker.sock: ENOENT\n');
  });

  it('maps a failed RUN to its Dockerfile line with the output tail, and tags nothing', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nWORKDIR /app\nRUN echo hi && exit 3\nCMD ["true"]\n');
    const r = await cli(['.', '-t', 'foo', '--progress', 'plain', '--no-trace']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        '#1 [1/4] FROM busybox:local',
        '#1 CACHED',
        '',
        '#2 [2/4] WORKDIR /app',
        '#2 DONE 0.1s',
        '',
        '#3 [3/4] RUN echo hi && exit 3',
        '#3 0.050 hi',
        '#3 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
        '------',
        ' > [3/4] RUN echo hi && exit 3:',
        '0.050 hi',
        '------',
        'Dockerfile:3',
        '--------------------',
        '   1 |     FROM busybox:local',
        '   2 |     WORKDIR /app',
        '   3 | >>> RUN echo hi && exit 3',
        '   4 |     CMD ["true"]',
        '--------------------',
        'Dockerfile:3: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
        '',
      ].join('\n'),
    );
    expect(rec.closed).toBe(1);
  });

  it('still explains the failure with -q', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN exit 3\n');
    const r = await cli(['.', '-q']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('Dockerfile:2: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n')).toBe(true);
    expect(r.stderr.startsWith('------\n > [2/2] RUN exit 3:\n0.050 hi\n------\n')).toBe(true);
  });

  it('exits 130 when canceled', async () => {
    const controller = new AbortController();
    const r = await cli(['.'], { signal: controller.signal, fake: { abortOnSolve: controller } });
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('error: build canceled\n');
  });
});

describe('help, version, convert', () => {
  it('prints the version from the package', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await cli([flag]);
      expect(r).toMatchObject({ code: 0, stdout: '9.8.7\n', stderr: '' });
    }
  });

  it('prints help and exits 0 without loading the toolchain', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: tracebuild [options] [command]');
    expect(top.stdout).toContain('build [options] [PATH]');
    expect(top.stdout).toContain('convert [options] [PATH]');
    const build = await cli(['build', '--help']);
    expect(build.code).toBe(0);
    for (const flag of ['-f, --file <FILE>', '-t, --tag <NAME>', '--build-arg <K=V>', '--network <mode>', '--no-cache', '--progress <mode>', '--label <K=V>', '--target <STAGE>', '-q, --quiet']) {
      expect(build.stdout).toContain(flag);
    }
    expect(top.loads + build.loads).toBe(0);
  });

  it('registers each command under the name it is loaded by', async () => {
    for (const entry of COMMANDS) {
      const program = new Command('tracebuild');
      (await entry.load()).register(program, { io: {} as CliIo, app: { version: 'x', loadToolchain: () => Promise.reject(new Error('no')) }, toolchain: () => Promise.reject(new Error('no')) });
      expect(program.commands.map((c) => c.name())).toEqual([entry.name]);
    }
  });

  it('loads the command the first argument names, else the default one, and all of them for help or version', () => {
    const names = (argv: string[]): string[] => commandsFor(argv).map((c) => c.name);
    const all = COMMANDS.map((c) => c.name);
    expect(names([])).toEqual(['build']);
    expect(names(['.'])).toEqual(['build']);
    expect(names(['--no-trace', 'convert', '.'])).toEqual(['build']); // commander: an unknown option, then the default command
    expect(names(['build', '-t', 'a', '.'])).toEqual(['build']);
    expect(names(['convert', '.'])).toEqual(['convert']);
    expect(names(['verify', 'img', '--key', 'k.pub'])).toEqual(['verify']);
    expect(names(['convert', '--', '-h'])).toEqual(['convert']);
    for (const argv of [['--help'], ['-h'], ['help'], ['help', 'build'], ['build', '--help'], ['-v'], ['--version'], ['.', '-qh'], ['-t', 'x', '--help']]) {
      expect(names(argv), argv.join(' ')).toEqual(all);
    }
  });

  it('convert prints the conversion as JSON and contacts no daemon', async () => {
    const r = await cli(['convert', '--build-arg', 'A', '--target', 't'], { env: { A: 'from-env' } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      steps: [
        { line: 1, vertex: 'sha256:v1' },
        { line: 2, vertex: 'sha256:v2' },
        { line: 3, vertex: 'sha256:v3' },
      ],
      bytes: 'AQI=',
    });
    expect(rec.endpoints).toEqual([]);
    expect(rec.convert[0]).toMatchObject({ buildArgs: { A: 'from-env' }, target: 't', noCache: false, network: 'default' });
    expect(rec.convert[0]?.resolveImageConfig).toBeUndefined();
  });

  it('convert reports errors like build', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'BAD\n');
    expect(await cli(['convert'])).toMatchObject({ code: 1, stderr: 'Dockerfile:1: unknown instruction: BAD\n' });
    expect(await cli(['convert', 'missing'])).toMatchObject({ code: 1 });
  });
});
