#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs `mando serve` on embedded
# defaults (extra arguments go to `mando serve`, e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target mando
exec build/release/src/app/mando serve "$@"
