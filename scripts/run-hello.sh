#!/usr/bin/env bash
# Sets everything up and runs one traced build of testdata/hello end to end.
# This is the README's first quick-start command.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/env.sh
# Node.js 24 (an LTS line; scripts/env.sh installs it) runs everything below.
export PATH=/opt/tracebuild/node24/bin:$PATH
npm ci --no-audit --no-fund
npm run build
# Host networking: dockerd runs without a bridge here (scripts/env.sh). The build is traced
# (the default): the per-instruction table follows the progress on stderr.
node dist/cli/main.js build --network host testdata/hello -t tracebuild-hello:latest "$@"
