#!/usr/bin/env bash
# Configures and builds one flavour of loa. Usage: scripts/build.sh [release|asan|tsan]
# (default release)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
    release) dir=build;      args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
    asan)    dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DLOA_SANITIZE=ON) ;;
    tsan)    dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=Debug -DLOA_TSAN=ON) ;;
    *) echo "build.sh: unknown flavour '$flavour' (release, asan or tsan)" >&2; exit 64 ;;
esac
cmake -S . -B "$dir" -DLOA_WERROR=ON "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
