#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run `mipseg serve` on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-deps.sh
npm run -s build
# --single-threaded-gc: see README, "Why one GC thread" (node refuses it in NODE_OPTIONS, so it goes here).
exec node --single-threaded-gc services/cli/dist/main.js serve "$@"
