import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSecretsProvided } from './build/convert.js';
import { entitlementsFor } from './build/parse.js';
import { BuildInputError, UsageError, describeError } from './errors.js';
import { loadSecrets, parseSecretFlag } from './secrets.js';

describe('--secret', () => {
  it('takes a file or an environment variable, as buildx does', () => {
    expect(parseSecretFlag('id=tok,src=tok.txt', '/work')).toEqual({ id: 'tok', kind: 'file', from: '/work/tok.txt' });
    expect(parseSecretFlag('id=tok,source=/abs/t', '/work')).toEqual({ id: 'tok', kind: 'file', from: '/abs/t' });
    expect(parseSecretFlag('id=tok,env=TOKEN', '/work')).toEqual({ id: 'tok', kind: 'env', from: 'TOKEN' });
    expect(parseSecretFlag('env=TOKEN', '/work')).toEqual({ id: 'TOKEN', kind: 'env', from: 'TOKEN' });
    expect(parseSecretFlag('type=env,id=TOKEN', '/work')).toEqual({ id: 'TOKEN', kind: 'env', from: 'TOKEN' });
  });

  it('takes id=X alone as buildx does: the variable X when it is set, else the file X', () => {
    expect(parseSecretFlag('id=TOKEN', '/work', { TOKEN: 'v' })).toEqual({ id: 'TOKEN', kind: 'env', from: 'TOKEN' });
    expect(parseSecretFlag('id=TOKEN', '/work', {})).toEqual({ id: 'TOKEN', kind: 'file', from: '/work/TOKEN' });
    expect(parseSecretFlag('id=TOKEN,type=file', '/work', { TOKEN: 'v' })).toEqual({ id: 'TOKEN', kind: 'file', from: '/work/TOKEN' });
  });

  it.each([
    ['src=x', 'id is required'],
    ['id=x,src=', 'src is required'],
    ['id=x,src', 'expected KEY=VALUE'],
    ['id=x,color=red', 'unexpected key "color"'],
    ['type=ssh,id=x,src=y', 'unsupported type "ssh"'],
  ])('rejects %s as a usage error', (value, why) => {
    const err = (() => {
      try {
        parseSecretFlag(value, '/');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(why);
    expect(describeError(err).exitCode).toBe(2);
  });

  it('reads the values, later ids winning, and names what it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-secret-'));
    writeFileSync(join(dir, 'a'), 'first');
    writeFileSync(join(dir, 'b'), 'second');
    const values = loadSecrets(
      [
        { id: 's', kind: 'file', from: join(dir, 'a') },
        { id: 's', kind: 'file', from: join(dir, 'b') },
        { id: 'e', kind: 'env', from: 'TB_SECRET' },
      ],
      { TB_SECRET: 'from-env' },
    );
    expect(Buffer.from(values.s ?? []).toString()).toBe('second');
    expect(Buffer.from(values.e ?? []).toString()).toBe('from-env');
    expect(() => loadSecrets([{ id: 'm', kind: 'file', from: join(dir, 'missing') }], {})).toThrow(/^secret m: .*\/missing: no such file$/);
    expect(() => loadSecrets([{ id: 'm', kind: 'env', from: 'NOPE' }], {})).toThrow('secret m: environment variable NOPE is not set');
  });

  it('names the Dockerfile line of a required secret that was not given', () => {
    const wanted = [
      { id: 'optional', required: false, line: 3 },
      { id: 'tok', required: true, line: 7 },
    ];
    expect(() => checkSecretsProvided(wanted, { tok: new Uint8Array() }, 'Dockerfile')).not.toThrow();
    const err = (() => {
      try {
        checkSecretsProvided(wanted, {}, 'Dockerfile');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(BuildInputError);
    expect(describeError(err)).toMatchObject({
      exitCode: 1,
      message: 'Dockerfile:7: secret tok is required but not provided: pass --secret id=tok,src=FILE',
    });
  });
});

describe('entitlements', () => {
  const ast = (flags: { name: string; value: string | true }[]) => ({
    stages: [{ instructions: [{ keyword: 'RUN', flags, range: { startLine: 4 } }] }],
  });

  it('asks for network.host when the build or a RUN uses the host network', () => {
    expect(entitlementsFor('default', ast([]))).toEqual([]);
    expect(entitlementsFor('host', ast([]))).toEqual(['network.host']);
    expect(entitlementsFor('default', ast([{ name: 'network', value: 'host' }]))).toEqual(['network.host']);
  });

  it('grants security.insecure only with --allow, and names the line otherwise', () => {
    const insecure = ast([{ name: 'security', value: 'insecure' }]);
    expect(entitlementsFor('default', insecure, ['security.insecure'])).toEqual(['security.insecure']);
    expect(() => entitlementsFor('default', insecure, [], 'Dockerfile')).toThrow(
      'Dockerfile:4: RUN --security=insecure needs the security.insecure entitlement: pass --allow security.insecure',
    );
  });
});
