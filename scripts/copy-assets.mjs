// tsc copies no non-TypeScript files; the protobuf definitions are read at run time.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'frontend', 'proto');
const to = join(root, 'dist', 'frontend', 'proto');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (name.endsWith('.proto')) cpSync(join(from, name), join(to, name));
}
