#!/usr/bin/env bash
# Installs the Debian packages loa needs to build, test and benchmark, only those missing.
# Usage: scripts/deps.sh [--bench]
set -euo pipefail

packages=(build-essential cmake pkg-config clang-format tzdata ca-certificates
          libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev libpq-dev
          libsodium-dev libcsv-dev libutf8proc-dev libcmocka-dev libinih-dev uthash-dev libqrencode-dev libpng-dev nodejs
          curl jq   # curl and jq: the shell integration tests talk to loa-graph with them
          chromium) # the web console's end-to-end test drives it headless (playwright-core)
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(wrk nginx time sqlite3 redis-server)  # redis-server: the BullMQ peer of bench/sequence
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# Node's own npm may come with the nodejs build on the machine; Debian's npm only if absent.
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
