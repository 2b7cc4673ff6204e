// Makes dist/cli/main.js one bundle of the project's own modules (rolldown). tsc writes one
// ES module per source file, and Node's loader pays a resolve (package.json lookups, stats),
// a read, a compile and a link for each of them: a cached build loads ~200 of them, and
// that, not the build, was most of the CLI's CPU (#17.7). The lazily loaded commands and
// phases become chunk-*.js files next to main.js, so a command still loads only its own
// code. Packages from node_modules and Node's builtins stay imports. The sources and the
// rest of dist/ stay as tsc wrote them (tests and other entry points use them).
//
// Modules that find files from import.meta.url now find them from dist/cli/: the protobuf
// descriptors are copied there; the probe is looked for at ../../tracer/bpf/.output, which
// is the same directory from dist/cli/ as from dist/tracer/.
//
//   node scripts/bundle.mjs [DIST]   (DIST: dist/ by default)
import { copyFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(process.argv[2] ?? join(root, 'dist'));
const cliDir = join(dist, 'cli');

/** Bare specifiers (packages, node: builtins) stay imports; rolldown's own helper modules
 * ('\0'-prefixed ids, @oxc-project/runtime) are bundled, or the bundle would import them. */
const external = (id) => !id.startsWith('.') && !isAbsolute(id) && !id.startsWith('\0') && !id.startsWith('@oxc-project/runtime/');

const bundle = await rolldown({ input: join(cliDir, 'main.js'), platform: 'node', external, transform: { target: 'esnext' }, logLevel: 'warn' });
await bundle.write({ dir: cliDir, format: 'esm', entryFileNames: 'main.js', chunkFileNames: 'chunk-[hash].js', sourcemap: false });
await bundle.close();
copyFileSync(join(dist, 'frontend', 'proto', 'descriptors.json'), join(cliDir, 'descriptors.json'));
