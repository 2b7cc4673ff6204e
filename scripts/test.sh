#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: lint, types, unit and integration tests.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/env.sh
npm ci --no-audit --no-fund
npm run build
npm run lint
npm run typecheck

mkdir -p .test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json || status=$?
node scripts/summarize-tests.mjs .test-results/vitest.json
exit "$status"
