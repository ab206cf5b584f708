#!/usr/bin/env bash
# Run every test: the C unit tests and the Bats suites, under ctest, in a
# normal build (build/) and in an ASan+UBSan build (build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
pipelines/setup.sh --tests -DVT_WERROR=ON
ctest --test-dir build --output-on-failure -j2
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVT_SANITIZE=ON -DVT_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
# A sanitizer report (an ASan error, a leak, UB) must fail its test even where
# the test expects the program to fail: the sanitizers exit 1 by default,
# which is our failure status too, so they exit 86 here.
# The distributed and Slurm suites test the shell orchestration (ssh, GNU
# parallel, Slurm) around the same programs that every other suite runs
# under the sanitizers; they run once, in the normal build, to keep CI
# within its time.
# Leaks inside libhdf5 on damaged files are its own (tests/fuzz/lsan.supp).
ASAN_OPTIONS=detect_leaks=1:exitcode=86 \
LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp \
UBSAN_OPTIONS=halt_on_error=1:exitcode=86:print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure -j2 -E '^bats/(distributed|slurm)$'
