#!/usr/bin/env bash
# loa's main job on its embedded default: installs what is missing, builds, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The web console's bundler (esbuild, pinned by console/package-lock.json).
[[ -d console/node_modules/esbuild ]] || (cd console && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
scripts/build.sh release
exec build/bin/loa demo "$@"
