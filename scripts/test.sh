#!/usr/bin/env bash
# `npm test`: install the system peers and npm packages the tests need, build, type-check, lint, run jest.
# Tests start their own private servers (mipseg, Orthanc, Redis) on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/ensure-node-deps.sh
npm run -s build
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx jest --ci "$@"
