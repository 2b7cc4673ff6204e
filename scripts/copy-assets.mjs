// tsc copies no non-TypeScript files; the protobuf definitions are read at run time. Besides
// copying the .proto files, write them pre-parsed (protobufjs JSON descriptors) so that the
// CLI does not parse .proto text at every start.
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'frontend', 'proto');
const to = join(root, 'dist', 'frontend', 'proto');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (name.endsWith('.proto')) cpSync(join(from, name), join(to, name));
}

const protos = await import(pathToFileURL(join(to, 'index.js')).href);
const descriptors = protos.loadProtoFiles().toJSON();
writeFileSync(join(to, protos.DESCRIPTORS_FILE), JSON.stringify(descriptors));
