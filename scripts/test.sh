#!/usr/bin/env bash
# `npm test`: install the system peers and npm packages the tests need, build, type-check, lint, run jest.
# Tests start their own private servers (mipseg, Orthanc, Redis) on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
# Debian installs Orthanc as /usr/sbin/Orthanc, which a non-root user's PATH leaves out.
export PATH="$PATH:/usr/sbin:/sbin"
bash scripts/ensure-node-deps.sh
# The OHIF viewer (optional, 50 MB) so that the viewer tests run too; without it they skip with a message.
[ -d node_modules/@ohif/app/dist ] || bash scripts/install-ohif.sh || echo "warning: @ohif/app not installed; the viewer tests will skip" >&2
npm run -s build
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx jest --ci "$@"
