#!/usr/bin/env bash
# Installs what is missing, builds the debug preset (ASan + UBSan) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake --preset debug
cmake --build --preset debug
ctest --preset debug --parallel "$(nproc)"
