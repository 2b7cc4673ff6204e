import { describe, it, expect } from 'vitest';
import {
  parseDockerfile,
  DockerfileError,
  OptionError,
  expandWord,
  mountFrom,
  networkMode,
  securityMode,
  type DockerfileAst,
  type Instruction,
  type DockerfileErrorCode,
} from './index.js';
import { parseGoDuration } from './duration.js';

const parse = (text: string): DockerfileAst => parseDockerfile(text, 'Dockerfile');

/** The instructions of the first stage. */
function stage0(text: string): Instruction[] {
  return parse(text).stages[0]?.instructions ?? [];
}

/** The instruction type(s) whose keyword can be K (COPY and ADD share one type). */
type Of<K extends Instruction['keyword'], I = Instruction> = I extends { keyword: infer W } ? (K extends W ? I : never) : never;

function only<K extends Instruction['keyword']>(text: string, keyword: K): Of<K> {
  const ins = stage0(`FROM scratch\n${text}`);
  expect(ins).toHaveLength(1);
  expect(ins[0]?.keyword).toBe(keyword);
  return ins[0] as Of<K>;
}

function parseError(text: string, file = 'Dockerfile'): DockerfileError {
  try {
    parseDockerfile(text, file);
  } catch (e) {
    if (e instanceof DockerfileError) return e;
    throw e;
  }
  throw new Error('expected a DockerfileError');
}

function expectError(text: string, code: DockerfileErrorCode, message: string): void {
  const err = parseError(text);
  expect(err.message).toBe(message);
  expect(err.code).toBe(code);
}

describe('stages', () => {
  it('splits at FROM, keeps global ARGs, lower-cases AS names, captures --platform', () => {
    const ast = parse(
      [
        'ARG BASE=alpine',
        'ARG V',
        'FROM --platform=$BUILDPLATFORM golang:1.22 AS Build',
        'RUN go build',
        'from ${BASE} as final',
        'COPY --from=build /out /usr/bin/',
      ].join('\n'),
    );
    expect(ast.fileName).toBe('Dockerfile');
    expect(ast.globalArgs.map((a) => a.args)).toEqual([[{ name: 'BASE', defaultValue: 'alpine' }], [{ name: 'V' }]]);
    expect(ast.stages).toHaveLength(2);
    const [s0, s1] = ast.stages;
    expect(s0?.index).toBe(0);
    expect(s0?.name).toBe('build');
    expect(s0?.from).toMatchObject({ keyword: 'FROM', image: 'golang:1.22', stageName: 'build', platform: '$BUILDPLATFORM' });
    expect(s0?.from.flags).toEqual([{ name: 'platform', value: '$BUILDPLATFORM', range: { startLine: 3, endLine: 3 } }]);
    expect(s0?.instructions.map((i) => i.text)).toEqual(['RUN go build']);
    expect(s1).toMatchObject({ index: 1, name: 'final', from: { image: '${BASE}', text: 'from ${BASE} as final' } });
    expect(s1?.instructions[0]?.range).toEqual({ startLine: 6, endLine: 6 });
  });

  it('rejects bad and duplicate stage names and wrong FROM arity', () => {
    expectError('FROM a AS 1x', 'invalid-stage-name', `Dockerfile:1: invalid name for build stage: "1x", name can't start with a number or contain symbols`);
    expectError('FROM a AS x\nFROM b AS X', 'invalid-stage-name', 'Dockerfile:2: duplicate stage name "x"');
    expectError('FROM a b', 'too-many-arguments', 'Dockerfile:1: FROM requires either one or three arguments');
    expectError('FROM a AS', 'too-many-arguments', 'Dockerfile:1: FROM requires either one or three arguments');
  });

  it('rejects instructions before FROM and files without FROM', () => {
    expectError('ARG A\nRUN x\nFROM a', 'instruction-before-from', 'Dockerfile:2: no build stage in current context');
    expectError('# c\nARG A\nARG B', 'no-from', 'Dockerfile:2: dockerfile contains no stages to build');
  });
});

describe('RUN / CMD / ENTRYPOINT forms', () => {
  it('shell form keeps the command as written', () => {
    expect(only('RUN echo "hi there" && ls', 'RUN').command).toEqual({ form: 'shell', command: 'echo "hi there" && ls' });
  });

  it('exec form is a JSON string array', () => {
    expect(only('CMD ["nginx", "-g", "daemon off;"]', 'CMD').command).toEqual({ form: 'exec', args: ['nginx', '-g', 'daemon off;'] });
    expect(only('ENTRYPOINT []', 'ENTRYPOINT').command).toEqual({ form: 'exec', args: [] });
    expect(only('CMD\t[\t"a",\t"b"\t]\t', 'CMD').command).toEqual({ form: 'exec', args: ['a', 'b'] });
  });

  it('malformed JSON falls back to the shell form, as Docker does', () => {
    expect(only(`CMD ['echo','single quotes']`, 'CMD').command).toEqual({ form: 'shell', command: `['echo','single quotes']` });
    expect(only('CMD ["echo", "unterminated', 'CMD').command).toEqual({ form: 'shell', command: '["echo", "unterminated' });
    expect(only('RUN [ -f /x ] && echo y', 'RUN').command).toEqual({ form: 'shell', command: '[ -f /x ] && echo y' });
  });

  it('like Docker, reads only the first JSON value (trailing text ignored)', () => {
    expect(only('CMD ["a"] b', 'CMD').command).toEqual({ form: 'exec', args: ['a'] });
  });

  it('rejects a JSON array with non-strings', () => {
    expectError('FROM a\nCMD [ "echo", [ "nested" ] ]', 'invalid-json', 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only');
    expectError('FROM a\nRUN ["a", 1]', 'invalid-json', 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only');
  });

  it('joins continuation lines into text and command, with a 1-based range', () => {
    const run = only('RUN apt-get update \\\n    # a comment inside\n\n && apt-get install -y \\\n      curl', 'RUN');
    expect(run.range).toEqual({ startLine: 2, endLine: 6 });
    expect(run.text).toBe('RUN apt-get update  && apt-get install -y       curl');
    expect(run.command).toEqual({ form: 'shell', command: 'apt-get update  && apt-get install -y       curl' });
  });

  it('collects RUN flags, repeatable --mount', () => {
    const run = only('RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x --network=none make', 'RUN');
    expect(run.flags.map((f) => [f.name, f.value])).toEqual([
      ['mount', 'type=cache,target=/root/.cache'],
      ['mount', 'type=secret,id=x'],
      ['network', 'none'],
    ]);
    expect(run.command).toEqual({ form: 'shell', command: 'make' });
  });

  it('parses heredocs and skips their bodies', () => {
    const ins = stage0('FROM a\nRUN <<EOF\nset -e\nFROM not-an-instruction\nEOF\nRUN <<-"EOT" bash\n\techo $HOME\n\tEOT\nUSER x\n');
    expect(ins.map((i) => i.keyword)).toEqual(['RUN', 'RUN', 'USER']);
    const [r1, r2] = ins as [Of<'RUN'>, Of<'RUN'>];
    expect(r1.range).toEqual({ startLine: 2, endLine: 5 });
    expect(r1.heredocs).toEqual([{ name: 'EOF', content: 'set -e\nFROM not-an-instruction\n', expand: true, chomp: false }]);
    expect(r1.command).toEqual({ form: 'shell', command: '<<EOF' });
    expect(r2.heredocs).toEqual([{ name: 'EOT', content: 'echo $HOME\n', expand: false, chomp: true }]);
  });

  it('rejects an unterminated heredoc at the instruction line', () => {
    expectError('FROM a\nRUN <<EOF\necho', 'unterminated-heredoc', 'Dockerfile:2: unterminated heredoc EOF');
  });
});

describe('flags', () => {
  it('COPY flags: string values, bare booleans as true', () => {
    const c = only('COPY --from=build --chown=1000:1000 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/', 'COPY');
    expect(c.flags.map((f) => [f.name, f.value])).toEqual([
      ['from', 'build'],
      ['chown', '1000:1000'],
      ['chmod', '755'],
      ['link', true],
      ['parents', true],
      ['exclude', '*.md'],
      ['exclude', 'x'],
    ]);
    expect(c.sources).toEqual(['a', 'b']);
    expect(c.destination).toBe('/dst/');
  });

  it('ADD flags', () => {
    const a = only('ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /y', 'ADD');
    expect(a.flags.map((f) => [f.name, f.value])).toEqual([
      ['checksum', 'sha256:abc'],
      ['keep-git-dir', 'true'],
      ['link', 'false'],
    ]);
  });

  it('removes quotes in flag values and stops at --', () => {
    const c = only('COPY --chown="a b" -- --weird /d', 'COPY');
    expect(c.flags).toEqual([{ name: 'chown', value: 'a b', range: { startLine: 2, endLine: 2 } }]);
    expect(c.sources).toEqual(['--weird']);
  });

  it('gives the flags typed on the instruction', () => {
    const c = only('COPY --from=build --chown=$U --chmod=755 --link --parents --exclude=*.md --exclude=x a /dst/', 'COPY');
    expect(c).toMatchObject({ from: 'build', chown: '$U', chmod: '755', link: true, parents: true, exclude: ['*.md', 'x'] });
    const a = only('ADD --checksum=sha256:abc --keep-git-dir=TRUE --link=false --unpack https://x/y.tgz /y', 'ADD');
    expect(a).toMatchObject({ checksum: 'sha256:abc', keepGitDir: true, link: false, unpack: true, exclude: [] });
    expect('from' in a || 'parents' in a || 'chown' in a).toBe(false);
    const r = only('RUN --mount=type=cache,target=/c --network=host --mount=target=/x --security=insecure make', 'RUN');
    expect(r).toMatchObject({ mounts: ['type=cache,target=/c', 'target=/x'], network: 'host', security: 'insecure' });
    const plain = only('RUN make', 'RUN');
    expect([plain.mounts, 'network' in plain, 'security' in plain]).toEqual([[], false, false]);
  });

  it('decodes RUN modes when asked, with an unlocated OptionError', () => {
    expect([networkMode('none'), securityMode('sandbox')]).toEqual(['none', 'sandbox']);
    expect(() => networkMode('bridge')).toThrow(new OptionError('unsupported network mode "bridge" (use default, host or none)'));
    expect(() => securityMode('x')).toThrow(new OptionError('unsupported security mode "x" (use sandbox or insecure)'));
    expect(mountFrom('type=bind,from=build,target=/x')).toBe('build');
    expect(mountFrom('type=secret,from=build')).toBeUndefined();
  });

  it('rejects unknown, duplicate, valueless and non-boolean flags', () => {
    expectError('FROM a\nCOPY --foo=x a b', 'invalid-flag', 'Dockerfile:2: unknown flag: foo');
    expectError('FROM a\nADD --from=x a b', 'invalid-flag', 'Dockerfile:2: unknown flag: from');
    expectError('FROM a\nCMD --doit ["a"]', 'invalid-flag', 'Dockerfile:2: unknown flag: doit');
    expectError('FROM a\nCOPY --from=x --from=y a b', 'invalid-flag', 'Dockerfile:2: duplicate flag specified: from');
    expectError('FROM a\nCOPY --from a b', 'invalid-flag', 'Dockerfile:2: missing a value on flag: from');
    expectError('FROM a\nCOPY --link=maybe a b', 'invalid-flag', 'Dockerfile:2: expecting boolean value for flag link, not: maybe');
    expectError('FROM --plat=x a', 'invalid-flag', 'Dockerfile:1: unknown flag: plat');
  });
});

describe('COPY / ADD', () => {
  it('JSON form keeps spaces in paths', () => {
    const c = only('COPY ["a b", "c", "/d e/"]', 'COPY');
    expect(c.sources).toEqual(['a b', 'c']);
    expect(c.destination).toBe('/d e/');
  });

  it('heredoc sources become heredocs', () => {
    const c = only('COPY <<EOF /etc/x.conf\nhello\nEOF', 'COPY');
    expect(c.sources).toEqual([]);
    expect(c.heredocs).toEqual([{ name: 'EOF', content: 'hello\n', expand: true, chomp: false }]);
  });

  it('needs a destination', () => {
    expectError(
      'FROM a\nCOPY onlyone',
      'missing-arguments',
      'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined',
    );
  });
});

describe('ENV / LABEL', () => {
  it('key=value pairs keep each value as written (quotes included) for expansion', () => {
    const env = only('ENV A=1 B="two words" C=x\\ y D=\'$lit\' E=', 'ENV');
    expect(env.pairs).toEqual([
      { key: 'A', value: '1' },
      { key: 'B', value: '"two words"' },
      { key: 'C', value: 'x\\ y' },
      { key: 'D', value: "'$lit'" },
      { key: 'E', value: '' },
    ]);
    // Docker's quote handling happens when the value is expanded:
    const lookup = (n: string) => (n === 'lit' ? 'NO' : undefined);
    expect(env.pairs.map((p) => expandWord(p.value, lookup))).toEqual(['1', 'two words', 'x y', '$lit', '']);
  });

  it('legacy `ENV K V` form takes the rest of the line', () => {
    expect(only('ENV PATH /usr/local/bin:$PATH with spaces', 'ENV').pairs).toEqual([{ key: 'PATH', value: '/usr/local/bin:$PATH with spaces' }]);
    expect(only('LABEL maintainer James "j@example.com"', 'LABEL').pairs).toEqual([{ key: 'maintainer', value: 'James "j@example.com"' }]);
  });

  it('LABEL with quoted keys and multi-line values', () => {
    const l = only('LABEL "org.opencontainers.image.title"="x" \\\n      version="1.0"', 'LABEL');
    expect(l.pairs).toEqual([
      { key: '"org.opencontainers.image.title"', value: '"x"' },
      { key: 'version', value: '"1.0"' },
    ]);
    expect(l.range).toEqual({ startLine: 2, endLine: 3 });
  });

  it('reports missing values and blank names like Docker', () => {
    expectError('FROM a\nENV PATH', 'missing-arguments', 'Dockerfile:2: ENV must have two arguments');
    expectError('FROM a\nENV', 'missing-arguments', 'Dockerfile:2: ENV requires at least one argument');
    expectError('FROM a\nENV =x', 'missing-arguments', 'Dockerfile:2: ENV names can not be blank');
    expectError('FROM a\nLABEL a=b c', 'missing-arguments', `Dockerfile:2: Syntax error - can't find = in "c". Must be of the form: name=value`);
    expectError('FROM a\nLABEL', 'missing-arguments', 'Dockerfile:2: LABEL requires at least one argument');
  });

  it('reports unterminated quotes when asked (checkQuotes)', () => {
    const text = 'FROM a\nENV A="abc \\\n  def';
    expect(() => parseDockerfile(text, 'Dockerfile')).not.toThrow();
    let err: unknown;
    try {
      parseDockerfile(text, 'Dockerfile', { checkQuotes: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DockerfileError);
    expect((err as DockerfileError).code).toBe('unterminated-quote');
    expect((err as DockerfileError).message).toBe('Dockerfile:2: unexpected end of statement while looking for matching double-quote');
  });
});

describe('ARG', () => {
  it('names with and without defaults, several per line', () => {
    expect(only('ARG A B=2 C="x y" D=', 'ARG').args).toEqual([
      { name: 'A' },
      { name: 'B', defaultValue: '2' },
      { name: 'C', defaultValue: '"x y"' },
      { name: 'D', defaultValue: '' },
    ]);
  });

  it('errors', () => {
    expectError('ARG', 'missing-arguments', 'Dockerfile:1: ARG requires at least one argument');
    expectError('ARG =1\nFROM a', 'missing-arguments', 'Dockerfile:1: ARG names can not be blank');
  });
});

describe('single-argument and list instructions', () => {
  it('WORKDIR, USER, STOPSIGNAL, MAINTAINER take the rest of the line', () => {
    expect(only('WORKDIR /app dir', 'WORKDIR').path).toBe('/app dir');
    expect(only('USER 1000:1000', 'USER').user).toBe('1000:1000');
    expect(only('STOPSIGNAL SIGQUIT', 'STOPSIGNAL').signal).toBe('SIGQUIT');
    expect(only('MAINTAINER Jane Doe <jane@example.com>', 'MAINTAINER').maintainer).toBe('Jane Doe <jane@example.com>');
    expectError('FROM a\nWORKDIR', 'missing-arguments', 'Dockerfile:2: WORKDIR requires exactly one argument');
    expectError('FROM a\nUSER', 'missing-arguments', 'Dockerfile:2: USER requires exactly one argument');
  });

  it('EXPOSE and VOLUME split on whitespace; VOLUME also takes JSON', () => {
    expect(only('EXPOSE 80/tcp 443 ${PORT}', 'EXPOSE').ports).toEqual(['80/tcp', '443', '${PORT}']);
    expect(only('VOLUME /a /b', 'VOLUME').paths).toEqual(['/a', '/b']);
    expect(only('VOLUME ["/data dir"]', 'VOLUME').paths).toEqual(['/data dir']);
    expectError('FROM a\nEXPOSE', 'missing-arguments', 'Dockerfile:2: EXPOSE requires at least one argument');
    expectError('FROM a\nVOLUME [""]', 'missing-arguments', 'Dockerfile:2: VOLUME specified can not be an empty string');
  });

  it('SHELL needs the JSON form', () => {
    expect(only('SHELL ["powershell", "-Command"]', 'SHELL').args).toEqual(['powershell', '-Command']);
    expectError('FROM a\nSHELL /bin/bash -c', 'invalid-json', 'Dockerfile:2: SHELL requires the arguments to be in JSON form');
    expectError('FROM a\nSHELL []', 'missing-arguments', 'Dockerfile:2: SHELL requires at least one argument');
  });
});

describe('HEALTHCHECK', () => {
  it('NONE', () => {
    expect(only('HEALTHCHECK NONE', 'HEALTHCHECK').check).toEqual({ kind: 'none' });
    expectError('FROM a\nHEALTHCHECK NONE x', 'too-many-arguments', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments');
  });

  it('CMD with durations in nanoseconds and retries', () => {
    const h = only(
      'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=1.5s --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1',
      'HEALTHCHECK',
    );
    expect(h.check).toEqual({
      kind: 'cmd',
      command: { form: 'shell', command: 'curl -f http://localhost/ || exit 1' },
      intervalNs: 30e9,
      timeoutNs: 90e9,
      startPeriodNs: 500e6,
      startIntervalNs: 1.5e9,
      retries: 3,
    });
  });

  it('exec form and zero durations', () => {
    expect(only('HEALTHCHECK --interval=0s CMD ["/bin/check", "-q"]', 'HEALTHCHECK').check).toEqual({
      kind: 'cmd',
      command: { form: 'exec', args: ['/bin/check', '-q'] },
      intervalNs: 0,
    });
  });

  it('errors', () => {
    expectError('FROM a\nHEALTHCHECK', 'missing-arguments', 'Dockerfile:2: HEALTHCHECK requires at least one argument');
    expectError('FROM a\nHEALTHCHECK CMD', 'missing-arguments', 'Dockerfile:2: Missing command after HEALTHCHECK CMD');
    expectError('FROM a\nHEALTHCHECK CONNECT TCP 7000', 'invalid-instruction', 'Dockerfile:2: Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
    expectError('FROM a\nHEALTHCHECK --interval=5 CMD x', 'invalid-duration', 'Dockerfile:2: time: missing unit in duration "5"');
    expectError('FROM a\nHEALTHCHECK --timeout=abc CMD x', 'invalid-duration', 'Dockerfile:2: time: invalid duration "abc"');
    expectError('FROM a\nHEALTHCHECK --interval=1d CMD x', 'invalid-duration', 'Dockerfile:2: time: unknown unit "d" in duration "1d"');
    expectError('FROM a\nHEALTHCHECK --interval=10us CMD x', 'invalid-duration', 'Dockerfile:2: Interval "interval" cannot be less than 1ms');
    expectError('FROM a\nHEALTHCHECK --retries=-1 CMD x', 'invalid-flag', 'Dockerfile:2: --retries cannot be negative (-1)');
    expectError('FROM a\nHEALTHCHECK --retries CMD x', 'invalid-flag', 'Dockerfile:2: missing a value on flag: retries');
  });
});

describe('ONBUILD', () => {
  it('records the trigger text after ONBUILD', () => {
    expect(only('ONBUILD   COPY --from=x . /app', 'ONBUILD').trigger).toBe('COPY --from=x . /app');
    expect(only('onbuild RUN ["echo", "x"]', 'ONBUILD').trigger).toBe('RUN ["echo", "x"]');
  });

  it('rejects chaining and FROM/MAINTAINER triggers', () => {
    expectError('FROM a\nONBUILD ONBUILD RUN x', 'invalid-instruction', "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    expectError('FROM a\nONBUILD FROM b', 'invalid-instruction', "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
    expectError('FROM a\nONBUILD', 'missing-arguments', 'Dockerfile:2: ONBUILD requires at least one argument');
  });
});

describe('errors with file and line', () => {
  it('empty and comment-only files', () => {
    expectError('', 'empty-dockerfile', 'Dockerfile:1: the Dockerfile cannot be empty');
    expectError('\n\n   \n', 'empty-dockerfile', 'Dockerfile:3: file with no instructions');
    expectError('# only\n# comments\n', 'empty-dockerfile', 'Dockerfile:2: file with no instructions');
  });

  it('unknown instruction, as written', () => {
    const err = parseError('FROM a\n\nARGGG NAME=foo', 'path/to/Dockerfile.dev');
    expect(err.message).toBe('path/to/Dockerfile.dev:3: unknown instruction: ARGGG');
    expect(err).toMatchObject({ code: 'unknown-instruction', file: 'path/to/Dockerfile.dev', line: 3 });
    expect(err.detail).toBe('unknown instruction: ARGGG');
    expect(err.name).toBe('DockerfileError');
  });

  it('a multi-line instruction reports its first line', () => {
    expectError('FROM a\nRUN x\nCOPY \\\n  --foo=1 \\\n  a b', 'invalid-flag', 'Dockerfile:3: unknown flag: foo');
    expectError('FROM a\nENV \\\n  ONLYKEY', 'missing-arguments', 'Dockerfile:2: ENV must have two arguments');
  });

  it('tolerates a continuation at end of file, like Docker', () => {
    expect(only('RUN something \\', 'RUN').command).toEqual({ form: 'shell', command: 'something' });
  });

  it('rejects a continuation at end of file that leaves an instruction empty', () => {
    expectError(
      'FROM a\nRUN \\',
      'unterminated-continuation',
      'Dockerfile:2: RUN ends with a line continuation at the end of the file and has no arguments',
    );
  });
});

describe('lines, comments and continuations (Docker rules)', () => {
  it('an escaped escape at end of line is not a continuation', () => {
    const ins = stage0('FROM a\nENV C trailing\\\\backslash\\\\\nENV D x');
    expect(ins.map((i) => i.text)).toEqual(['ENV C trailing\\\\backslash\\\\', 'ENV D x']);
  });

  it('CRLF endings, a BOM, indented instructions and comments', () => {
    const ins = stage0('\uFEFFFROM a\r\n  # indented comment\r\n\tRUN echo \\\r\n  hi\r\n');
    expect(ins).toHaveLength(1);
    expect(ins[0]).toMatchObject({ text: 'RUN echo   hi', range: { startLine: 3, endLine: 4 } });
  });

  it('keywords are case-insensitive; keyword is upper-case, text as written', () => {
    const ins = stage0('from a\nrun echo hi');
    expect(ins[0]).toMatchObject({ keyword: 'RUN', text: 'run echo hi' });
  });
});

describe('parser directives', () => {
  it('# escape=` switches the escape and continuation character', () => {
    const ast = parse('# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir C:\\ `\n  /s');
    expect(ast.directives).toEqual({ escape: '`' });
    expect(ast.stages[0]?.instructions[0]).toMatchObject({ text: 'RUN dir C:\\   /s', range: { startLine: 3, endLine: 4 } });
  });

  it('# syntax= is captured', () => {
    expect(parse('# syntax=docker/dockerfile:1.7\n# escape=\\\nFROM a').directives).toEqual({ escape: '\\', syntax: 'docker/dockerfile:1.7', syntaxLine: 1 });
    expect(parse('#syntax = docker/dockerfile:1\nFROM a').directives.syntax).toBe('docker/dockerfile:1');
  });

  it('only at the top: not after a comment, a blank line or an instruction', () => {
    expect(parse('# hello\n# escape=`\nFROM a').directives).toEqual({ escape: '\\' });
    expect(parse('\n# syntax=x\nFROM a').directives).toEqual({ escape: '\\' });
    expect(parse('FROM a\n# syntax=x\nRUN y').directives).toEqual({ escape: '\\' });
  });

  it('rejects repeated directives and invalid escapes', () => {
    expectError('# escape=`\n# escape=\\\nFROM a', 'invalid-directive', 'Dockerfile:2: only one escape parser directive can be used');
    expectError('# escape=x\nFROM a', 'invalid-directive', "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
  });
});

describe('Go duration parsing', () => {
  it.each([
    ['0', 0n],
    ['30s', 30_000_000_000n],
    ['1m30s', 90_000_000_000n],
    ['500ms', 500_000_000n],
    ['1.5h', 5_400_000_000_000n],
    ['2h45m', 9_900_000_000_000n],
    ['-1.5s', -1_500_000_000n],
    ['1µs', 1_000n],
    ['100ns', 100n],
    ['.5s', 500_000_000n],
  ])('%s', (input, ns) => {
    expect(parseGoDuration(input)).toEqual({ ok: true, ns });
  });

  it.each([
    ['', 'time: invalid duration ""'],
    ['s', 'time: invalid duration "s"'],
    ['5', 'time: missing unit in duration "5"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['.s', 'time: invalid duration ".s"'],
    ['9999999999h', 'time: invalid duration "9999999999h"'],
  ])('%s is an error', (input, error) => {
    expect(parseGoDuration(input)).toEqual({ ok: false, error });
  });
});

describe('# check= (BuildKit v0.13 does not know it)', () => {
  it('is kept, and ends the directives as any other comment does', () => {
    const ast = parseDockerfile('# check=skip=all\n# escape=`\nFROM busybox\nRUN echo a \\\n  b\n', 'Dockerfile');
    expect(ast.directives).toEqual({ escape: '\\', check: 'skip=all' });
    const run = ast.stages[0]?.instructions[0];
    expect(run?.keyword === 'RUN' && run.command).toEqual({ form: 'shell', command: 'echo a   b' });
    // After a directive it is read the same way.
    expect(parseDockerfile('# escape=`\n# check=error=true\nFROM busybox\n', 'Dockerfile').directives).toEqual({ escape: '`', check: 'error=true' });
  });
});
