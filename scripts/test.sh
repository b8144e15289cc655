#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs every test three times: in
# the release build, under AddressSanitizer + UndefinedBehaviorSanitizer, and under
# ThreadSanitizer (the daemon's HTTP threads, dispatcher and profile worker share state); and
# checks formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [[ -f tests/node/package.json ]]; then
    (cd tests/node && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
# The web console's bundler (esbuild) and its browser-test driver (playwright-core), pinned by
# console/package-lock.json; the build bundles the console into the loa binary.
(cd console && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

echo "== format check"
git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror

echo "== release build"
scripts/build.sh release
ctest --test-dir build --output-on-failure -j2

echo "== asan+ubsan build"
scripts/build.sh asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2

echo "== tsan build"
scripts/build.sh tsan
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
ctest --test-dir build-tsan --output-on-failure -j2
