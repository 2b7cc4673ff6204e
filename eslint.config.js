import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// docs/ARCHITECTURE.md: each top-level folder is a module whose index.ts is its only public
// surface, and imports only point down. LAYERS says, for each module, the modules it may
// import (anything else is an error); a module imports another through its index.ts only.
const LAYERS = {
  common: [],
  model: ['common'],
  'dockerfile-parser': ['common'],
  oci: ['common'],
  engine: ['common', 'oci'],
  tracer: ['common', 'model'],
  frontend: ['common', 'model', 'dockerfile-parser'],
  attest: ['common', 'model'],
  verify: ['common', 'model', 'attest', 'oci'],
  agent: ['common', 'model', 'engine', 'dockerfile-parser', 'oci', 'tracer', 'frontend', 'attest', 'verify'],
  cli: ['common', 'model', 'engine', 'dockerfile-parser', 'oci', 'tracer', 'frontend', 'attest', 'verify', 'agent'],
};
const MODULES = Object.keys(LAYERS);

const deepImportAcrossModules = {
  regex: `^(\\.\\./)+(${MODULES.join('|')})/(?!index\\.js$).+`,
  message: 'Import another module through its index.ts only (see docs/ARCHITECTURE.md).',
};

/** The rule for one module: no deep imports, and no import of a module it may not use. */
function layerRule(module) {
  const forbidden = MODULES.filter((m) => m !== module && !LAYERS[module].includes(m));
  const patterns = [deepImportAcrossModules];
  if (forbidden.length > 0) {
    patterns.push({
      regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
      message: `${module}/ may import only ${LAYERS[module].join(', ') || 'no other module'}: imports point down (see docs/ARCHITECTURE.md).`,
    });
  }
  return {
    files: [`${module}/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'testdata/**', 'tracer/bpf/**', '.test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...MODULES.map(layerRule),
);
