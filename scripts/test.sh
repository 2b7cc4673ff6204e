#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: lint, types, the unit tests once, and
# the integration tests on each daemon: Docker 26 (the default), then Docker 20.10 (the
# compatibility target). This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds() { date +%s; }
t0=$(seconds)
bash scripts/env.sh
# Node.js 24 (an LTS line; scripts/env.sh installs it) runs everything below.
export PATH=/opt/tracebuild/node24/bin:$PATH
npm ci --no-audit --no-fund
npm run build
npm run lint
npm run typecheck
t_setup=$(seconds)

mkdir -p .test-results
rm -f .test-results/*.json
status=0
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json=.test-results/unit.json || status=$?
# The other LTS line users run: the unit tests on Node.js 22 too.
PATH=/opt/tracebuild/node22/bin:$PATH npx vitest run --project unit --reporter=dot --reporter=json \
  --outputFile.json=.test-results/unit-node22.json || status=$?
t_unit=$(seconds)
# The daemon-independent files (the in-process registry, the guard's own dockerd, and the
# signature formats other tools read) run once, with Docker 26.
DAEMON_INDEPENDENT=(test/integration/oci-registry.test.ts test/integration/referrers-api.test.ts test/integration/guard.test.ts test/integration/sigstore-interop.test.ts)
# The files about Docker 26 alone run once too: the tracebuild agent's tests front
# Docker 26 and drive buildx 0.13, Docker 26's client.
DOCKER26_ONLY=(test/integration/agent.test.ts)
TRACEBUILD_TEST_DAEMON=docker26 npx vitest run --project integration --reporter=default --reporter=json \
  --outputFile.json=.test-results/integration-docker26.json || status=$?
t_d26=$(seconds)
exclude=()
for f in "${DAEMON_INDEPENDENT[@]}" "${DOCKER26_ONLY[@]}"; do exclude+=(--exclude "$f"); done
TRACEBUILD_TEST_DAEMON=docker20 npx vitest run --project integration "${exclude[@]}" --reporter=default --reporter=json \
  --outputFile.json=.test-results/integration-docker20.json || status=$?
t_d20=$(seconds)

echo "time: set-up $((t_setup - t0)) s, unit (Node 24 and 22) $((t_unit - t_setup)) s, integration on Docker 26 $((t_d26 - t_unit)) s, on Docker 20.10 $((t_d20 - t_d26)) s"
node scripts/summarize-tests.mjs .test-results/unit.json .test-results/unit-node22.json .test-results/integration-docker26.json .test-results/integration-docker20.json
exit "$status"
