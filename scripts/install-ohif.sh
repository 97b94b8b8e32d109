#!/usr/bin/env bash
# Installs the OHIF Viewer's prebuilt distribution (npm package @ohif/app, ~50 MB download, ~200 MB unpacked)
# into node_modules/@ohif/app, where `mipseg serve` finds it for /viewer. `npm install @ohif/app` does not
# work: some of its declared dependencies are not published, and the prebuilt dist/ needs none of them.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.13.2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ohif/app@$version" >/dev/null)
rm -rf node_modules/@ohif/app
mkdir -p node_modules/@ohif/app
tar -xzf "$tmp"/ohif-app-*.tgz -C node_modules/@ohif/app --strip-components 1
echo "installed @ohif/app $version into node_modules/@ohif/app; restart mipseg serve"
