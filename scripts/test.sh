#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite with ctest. With --sanitize, the
# same suite runs on an ASan+UBSan build in build-asan/. Both builds have the test hooks
# (IRBIS_TEST_HOOKS=ON: kill/resume tests need them); scripts/setup.sh alone builds without.
#   scripts/test.sh [--sanitize] [ctest args...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--sanitize" ]; then
  shift
  "$here/scripts/setup.sh" "$here/build-asan" -DIRBIS_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRBIS_TEST_HOOKS=ON
  cd "$here/build-asan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
else
  "$here/scripts/setup.sh" "$here/build" -DIRBIS_TEST_HOOKS=ON
  cd "$here/build"
fi
exec ctest --output-on-failure -j"$(nproc)" "$@"
