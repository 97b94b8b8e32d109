#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies (npm ci)..." >&2
  # npm ci empties node_modules, and with it the OHIF viewer that scripts/install-ohif.sh put there (not a
  # dependency: see that script): the same version goes back afterwards, or /viewer would vanish after an upgrade.
  ohif_version=""
  if [ -f node_modules/@ohif/app/package.json ]; then
    ohif_version="$(node -p "require('./node_modules/@ohif/app/package.json').version")"
  fi
  # The environment variable, not only .npmrc's onnxruntime-node-install key, which npm 11 warns it will stop
  # passing on: without either, onnxruntime-node's install script downloads CUDA 12 libraries on linux/x64.
  # --include=dev: a NODE_ENV=production in the environment (a server profile, a systemd unit) would leave out
  # TypeScript, which the build that follows needs.
  ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" npm ci --include=dev --no-audit --no-fund
  if [ -n "$ohif_version" ]; then
    echo "reinstalling the OHIF viewer $ohif_version that npm ci removed..." >&2
    bash scripts/install-ohif.sh "$ohif_version" >&2 || echo "could not reinstall the OHIF viewer: run npm run install:ohif" >&2
  fi
fi
