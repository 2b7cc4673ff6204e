import { defineConfig } from 'vitest/config';

// Two projects: unit tests need no daemon, root or network; integration tests talk to the
// real dockerd/BuildKit, registry and probe that scripts/env.sh starts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{common,model,engine,dockerfile-parser,frontend,tracer,attest,oci,verify,agent,cli,deploy}/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // TRACEBUILD_TEST_DAEMON picks the daemon the whole run builds on (test/helpers/daemons.ts).
          setupFiles: ['test/helpers/daemon-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
