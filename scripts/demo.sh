#!/usr/bin/env bash
# loa's main job on its embedded default: installs what is missing, builds, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
exec build/bin/loa demo "$@"
