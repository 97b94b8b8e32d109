#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run `mipseg serve` on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-deps.sh
npm run -s build
exec node services/cli/dist/main.js serve "$@"
