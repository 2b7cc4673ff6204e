import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// DESIGN.md: each top-level folder is a module whose index.ts is its only public surface.
const MODULES = 'common|model|engine|dockerfile-parser|frontend|tracer|attest|oci|verify|cli';
const deepImportAcrossModules = {
  regex: `^(\\.\\./)+(${MODULES})/(?!index\\.js$).+`,
  message: 'Import another module through its index.ts only (see DESIGN.md).',
};

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
  {
    files: ['{common,model,engine,dockerfile-parser,frontend,tracer,attest,oci,verify,cli}/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [deepImportAcrossModules] }],
    },
  },
);
