import { describe, expect, it } from 'vitest';
import { nameMatchesExec, parseVertexName, runCommandOf } from './vertex-names.js';

describe('parseVertexName: BuildKit names of Dockerfile instructions', () => {
  it('reads the stage, number, keyword and text', () => {
    expect(parseVertexName('[2/3] RUN echo hi')).toEqual({ index: 2, total: 3, keyword: 'RUN', instruction: 'RUN echo hi', text: 'echo hi' });
    expect(parseVertexName('[builder 4/10] COPY a b')).toMatchObject({ stage: 'builder', index: 4, total: 10, keyword: 'COPY' });
    expect(parseVertexName('[stage-1  3/12] RUN make')).toMatchObject({ stage: 'stage-1', index: 3, total: 12 });
    expect(parseVertexName('[linux/arm64 build 2/2] RUN go build')).toMatchObject({ platform: 'linux/arm64', stage: 'build', keyword: 'RUN' });
    expect(parseVertexName('[ 1/12] FROM docker.io/library/busybox:local')).toMatchObject({ index: 1, keyword: 'FROM' });
  });
  it('is not fooled by BuildKit internal vertices', () => {
    expect(parseVertexName('[internal] load build definition from Dockerfile')).toBeUndefined();
    expect(parseVertexName('exporting to image')).toBeUndefined();
  });
});

describe('a RUN name against a container first exec', () => {
  const run = (name: string) => parseVertexName(name)!;
  it('exact: the shell form text, or the exec form argv', () => {
    expect(nameMatchesExec(run('[2/2] RUN echo  hi'), { argv: ['/bin/sh', '-c', 'echo hi'] })).toBe('exact');
    expect(nameMatchesExec(run('[2/2] RUN --mount=type=cache,target=/root/.cache go build ./...'), { argv: ['/bin/sh', '-c', 'go build ./...'] })).toBe('exact');
    expect(nameMatchesExec(run('[2/2] RUN ["/bin/echo", "x"]'), { argv: ['/bin/echo', 'x'] })).toBe('exact');
    expect(runCommandOf(run('[2/2] RUN ["a","b"]'))).toEqual({ form: 'exec', argv: ['a', 'b'] });
  });
  it('compatible where the name cannot show the command exactly (variables, heredocs)', () => {
    expect(nameMatchesExec(run('[2/2] RUN echo /root'), { argv: ['/bin/sh', '-c', 'echo $HOME'] })).toBe('compatible');
    expect(nameMatchesExec(run('[2/2] RUN ["/build.sh", "x"]'), { argv: ['/bin/sh', '/build.sh', 'x'] })).toBe('compatible');
    expect(nameMatchesExec(run('[2/2] RUN <<EOF (echo a...)'), { argv: ['/bin/sh', '-c', 'echo a\necho b\n'] })).toBe('compatible');
  });
  it('no: a command with a variable is not every name (only one its variables can expand to)', () => {
    expect(nameMatchesExec(run('[2/4] RUN echo tok > /tok.txt'), { argv: ['/bin/sh', '-c', 'echo "shell form $APP_VERSION" > shell.txt'] })).toBe('no');
    expect(nameMatchesExec(run('[2/2] RUN echo "shell form 1.2" > shell.txt'), { argv: ['/bin/sh', '-c', 'echo "shell form $APP_VERSION" > shell.txt'] })).toBe('compatible');
    expect(nameMatchesExec(run('[2/2] RUN cp a /opt/x'), { argv: ['/bin/sh', '-c', 'cp a ${DEST:-/opt}/x'] })).toBe('compatible');
    expect(nameMatchesExec(run('[2/2] RUN <<EOF (make all...)'), { argv: ['/bin/sh', '-c', 'echo a\n'] })).toBe('no');
  });

  it('no: another command, or not a RUN', () => {
    expect(nameMatchesExec(run('[2/2] RUN make a'), { argv: ['/bin/sh', '-c', 'make b'] })).toBe('no');
    expect(nameMatchesExec(run('[2/2] RUN ["make"]'), { argv: ['/bin/sh', '-c', 'make all'] })).toBe('no');
    expect(nameMatchesExec(run('[2/2] COPY a b'), { argv: ['/bin/sh', '-c', 'a b'] })).toBe('no');
  });
});
