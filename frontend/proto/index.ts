// The project's protobuf definitions, loaded at run time with protobufjs reflection.
// Every `*.proto` file in this directory is loaded into one Root (field names kept as
// written: keepCase). `npm run build` copies the .proto files next to the compiled
// index.js, so the directory is found from import.meta.url both from source and dist, and
// also writes them pre-parsed as `descriptors.json`, which loads several times faster
// than parsing the .proto text at every start of the CLI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, isAbsolute, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The directory holding the .proto files (this module's own directory). */
export const protoDir: string = dirname(fileURLToPath(import.meta.url));

let cachedRoot: protobuf.Root | undefined;

/** The pre-parsed form of the .proto files, written by the build (dist only). */
export const DESCRIPTORS_FILE = 'descriptors.json';

/** Loads (once) every `*.proto` file of this directory into one resolved Root. */
export function loadProtoRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const descriptors = join(protoDir, DESCRIPTORS_FILE);
  if (existsSync(descriptors)) {
    const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(descriptors, 'utf8')) as protobuf.INamespace);
    root.resolveAll();
    cachedRoot = root;
    return root;
  }
  return (cachedRoot = loadProtoFiles());
}

/** Parses every `*.proto` file of this directory into one resolved Root. */
export function loadProtoFiles(): protobuf.Root {
  const files = readdirSync(protoDir)
    .filter((name) => name.endsWith('.proto'))
    .sort()
    .map((name) => join(protoDir, name));
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    const fromOrigin = origin ? resolve(dirname(origin), target) : resolve(protoDir, target);
    if (existsSync(fromOrigin)) return fromOrigin;
    const inDir = join(protoDir, target);
    if (existsSync(inDir)) return inDir;
    const byName = join(protoDir, basename(target));
    if (existsSync(byName)) return byName;
    // Left as written: protobufjs serves the google/protobuf/*.proto files it bundles.
    return target;
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

/** A message type by its fully qualified name, e.g. `pb.Op`. */
export function lookupType(name: string): protobuf.Type {
  return loadProtoRoot().lookupType(name);
}

/** An enum by its fully qualified name, e.g. `pb.NetMode`. */
export function lookupEnum(name: string): protobuf.Enum {
  return loadProtoRoot().lookupEnum(name);
}
