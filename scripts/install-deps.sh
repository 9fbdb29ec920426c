#!/usr/bin/env bash
# Installs, with apt-get, exactly the Debian 12 packages that mando needs and this machine lacks.
# Idempotent: when everything is there it prints one line and touches nothing.
# Usage: scripts/install-deps.sh [--test|--peers]   (--test adds what the test suite and fuzzers
#        need, Node.js packages of tests/npm included; --peers adds to that the servers the
#        benchmarks measure mando against: BENCH_PEER=flask bench/interactions.sh, and Pillow for
#        bench/transform.sh, whose vipsthumbnail peer is --test's libvips-tools)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libcurl4-openssl-dev libssl-dev libexpat1-dev ca-certificates libsodium-dev libsqlite3-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libexpected-dev
  libcairo2-dev libspng-dev libwebp-dev libvips-dev libseccomp-dev libpq-dev
)
mode=${1:-}
case "$mode" in
  "" | --test | --peers) ;;
  *) echo "usage: scripts/install-deps.sh [--test|--peers]" >&2; exit 2 ;;
esac
if [[ "$mode" == --test || "$mode" == --peers ]]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev libpng-dev libvips-tools zlib1g-dev
    clang libclang-rt-14-dev clang-format curl wrk
    nodejs npm chromium
    postgresql-15
  )
fi
if [[ "$mode" == --peers ]]; then
  packages+=(python3-flask python3-nacl gunicorn python3-pil)
fi

missing=()
for p in "${packages[@]}"; do
  # NodeSource's nodejs (found on many CI images) bundles npm and conflicts with Debian's npm.
  [[ "$p" == npm ]] && command -v npm >/dev/null && continue
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
  else
    sudo=
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages the tests drive mando with (tests/npm), exactly as locked. `npm ci` starts by
# deleting node_modules, so a copy of the lock inside it says the install finished from that lock.
if [[ "$mode" == --test || "$mode" == --peers ]]; then
  stamp=tests/npm/node_modules/.installed-package-lock.json
  if cmp -s tests/npm/package-lock.json "$stamp"; then
    echo "install-deps: tests/npm/node_modules matches its lock"
  else
    echo "install-deps: npm ci in tests/npm"
    npm ci --prefix tests/npm --no-audit --no-fund
    cp tests/npm/package-lock.json "$stamp"
  fi
fi
