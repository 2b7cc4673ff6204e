// Checks that abi.ts mirrors tracer/bpf/events.h: compiles a C program against the header
// that prints every size, offset and constant abi.ts lists, and compares.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { C_CONSTANTS, STRUCTS } from './abi.js';

const bpfDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bpf');

function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ccAvailable = haveCc();
if (!ccAvailable && !process.env.CI) console.warn('abi.test: skipped, no C compiler (cc) on PATH');

describe.skipIf(!ccAvailable && !process.env.CI)('abi.ts mirrors events.h', () => {
  let dir: string;
  let out: string;
  const fields = new Map<string, { offset: number; size: number }>();
  const sizes = new Map<string, number>();
  const consts = new Map<string, number>();

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tb-abi-'));
    const lines: string[] = [
      '#include <stdio.h>',
      '#include <stddef.h>',
      '#include "events.h"',
      'int main(void) {',
    ];
    for (const s of STRUCTS) {
      lines.push(`  printf("S ${s.cName} %zu\\n", sizeof(struct ${s.cName}));`);
      for (const f of Object.keys(s.fields)) {
        lines.push(
          `  printf("F ${s.cName}.${f} %zu %zu\\n", offsetof(struct ${s.cName}, ${f}), sizeof(((struct ${s.cName} *)0)->${f}));`,
        );
      }
    }
    for (const name of Object.keys(C_CONSTANTS)) {
      lines.push(`  printf("C ${name} %lld\\n", (long long)(${name}));`);
    }
    lines.push('  return 0;', '}');
    writeFileSync(path.join(dir, 'abi.c'), lines.join('\n'));
    execFileSync('cc', ['-std=gnu11', '-Wall', '-I', bpfDir, '-o', path.join(dir, 'abi'), path.join(dir, 'abi.c')]);
    out = execFileSync(path.join(dir, 'abi'), { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const [kind, name = '', a = '', b = ''] = line.split(' ');
      if (kind === 'S') sizes.set(name, Number(a));
      else if (kind === 'F') fields.set(name, { offset: Number(a), size: Number(b) });
      else if (kind === 'C') consts.set(name, Number(a));
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const s of STRUCTS) {
    it(`struct ${s.cName}: size, offsets and field sizes`, () => {
      expect(sizes.get(s.cName)).toBe(s.size);
      for (const [f, l] of Object.entries(s.fields)) {
        expect({ field: f, ...fields.get(`${s.cName}.${f}`) }).toEqual({ field: f, ...l });
      }
    });

    it(`struct ${s.cName}: the listed fields tile the struct (nothing missing in abi.ts)`, () => {
      const spans = Object.values(s.fields).sort((x, y) => x.offset - y.offset);
      let at = 0;
      for (const f of spans) {
        expect(f.offset).toBe(at);
        at += f.size;
      }
      expect(at).toBe(s.size);
      expect(s.size % 8).toBe(0);
    });
  }

  it('every constant has the same value', () => {
    for (const [name, value] of Object.entries(C_CONSTANTS)) {
      expect({ name, value: consts.get(name) }).toEqual({ name, value });
    }
  });
});
