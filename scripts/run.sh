#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs `mando dev`: mando on embedded
# defaults (every role, SQLite and local disk under ./data) plus the local Discord emulator and
# its web page. Extra arguments go to `mando dev`, e.g. --emulator-listen 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target mando
exec build/release/src/app/mando dev "$@"
