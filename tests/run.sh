#!/usr/bin/env bash
# Run every test: the C unit tests and the Bats suites, under ctest, in a
# normal build (build/) and in an ASan+UBSan build (build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
pipelines/setup.sh -DVT_WERROR=ON
ctest --test-dir build --output-on-failure -j2
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVT_SANITIZE=ON -DVT_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j2
