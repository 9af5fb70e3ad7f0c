#!/usr/bin/env bash
# Installs the Debian packages irbis needs (when run as root and something is missing),
# then configures and builds. Idempotent: fast when everything is already in place.
#   scripts/setup.sh [build-dir] [extra cmake args...]
# The build is a release build without test hooks (IRBIS_TEST_HOOKS=OFF) unless the extra
# arguments say otherwise; scripts/test.sh turns them on. Install it with `cmake --install`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
shift || true

packages=(
  build-essential cmake pkg-config clang clang-format binutils python3 man-db
  libturbojpeg0-dev libpng-dev libexif-dev libdnnl-dev libopenblas-dev liblbfgs-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libsqlite3-dev libmicrohttpd-dev
  libopenmpi-dev openmpi-bin libonnx-testdata
  python3-numpy python3-pil python3-jsonschema python3-sklearn python3-onnx python3-torch python3-torchvision
  chromium nodejs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages (package.json): puppeteer-core drives chromium in tests/py/test_review_browser.py;
# onnxruntime-node is the benchmark peer (bench/bench_int8.py). --ignore-scripts skips ONNX
# Runtime's post-install step, which tries to download GPU files (the CPU library ships in the
# package). Debian's nodejs needs its npm package.
if [ ! -d "$here/node_modules/puppeteer-core" ] || [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends npm >/dev/null || true
  fi
  if ! command -v npm >/dev/null; then
    echo "setup: npm not found (Debian: apt-get install npm), needed for puppeteer-core" >&2
    exit 1
  fi
  (cd "$here" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DIRBIS_TEST_HOOKS=OFF "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built $build/irbis"
