#!/usr/bin/env bash
# Sets everything up and runs one traced build of testdata/hello end to end.
# This is the README's first quick-start command.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/env.sh
npm ci --no-audit --no-fund
npm run build
node dist/cli/main.js build testdata/hello -t tracebuild-hello:latest "$@"
