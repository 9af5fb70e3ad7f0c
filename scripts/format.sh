#!/usr/bin/env bash
# Applies .clang-format (clang-format 14, Debian 12's; scripts/setup.sh installs it) to every
# tracked C source and header; tests/py/test_format.py checks that it stays applied.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format)
git ls-files -z -- 'src/*.[ch]' 'include/*.[ch]' 'tools/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' |
  xargs -0 "$cf" -i --style=file
