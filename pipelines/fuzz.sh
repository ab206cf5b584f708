#!/usr/bin/env bash
# Build the libFuzzer harnesses (tests/fuzz/, clang, -DVT_FUZZ=ON) and run
# one, or each in turn, for SECONDS seconds.
#
# Usage: pipelines/fuzz.sh HARNESS|all [SECONDS] [LIBFUZZER_OPTION...]
#   HARNESS  stream npy vecs bin lz4 hdf5 (or fuzz_stream ...); default time 600
#
# Each run starts from the seed corpus tests/fixtures/fuzz/HARNESS/ and keeps
# what it finds in $VT_FUZZ_OUT/HARNESS/corpus (default out/fuzz); a crash,
# leak, timeout (-timeout=10) or allocation over -malloc_limit_mb=1024 (an
# unbounded allocation) is written there as crash-*/leak-*/timeout-*/oom-*,
# and the script exits 1.  Keep such an input, once fixed, as
# tests/fixtures/fuzz/HARNESS/crash-NAME: ctest replays every file there.
# For a long unattended run that goes on after a crash (fork mode, one job):
#   pipelines/fuzz.sh all 600 -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1
# The build directory is $VT_FUZZ_BUILD (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
what=${1#fuzz_}
secs=${2:-600}
shift $(($# >= 2 ? 2 : 1))
build=${VT_FUZZ_BUILD:-build-fuzz}
out=${VT_FUZZ_OUT:-out/fuzz}
all=(stream npy vecs bin lz4 hdf5)
case "$what" in
all) list=("${all[@]}") ;;
stream | npy | vecs | bin | lz4 | hdf5) list=("$what") ;;
*) echo "fuzz.sh: unknown harness '$1' (stream npy vecs bin lz4 hdf5 all)" >&2; exit 2 ;;
esac
command -v clang >/dev/null || {
	echo "fuzz.sh: needs clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
}
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DVT_FUZZ=ON -DVT_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
# leaks inside libhdf5 on damaged files are its own (tests/fuzz/lsan.supp)
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
rc=0
for h in "${list[@]}"; do
	dir=$out/$h
	mkdir -p "$dir/corpus"
	echo "fuzz.sh: fuzz_$h for $secs s (log: $dir/log)"
	set +e
	"$build/fuzz/fuzz_$h" "$dir/corpus" "tests/fixtures/fuzz/$h" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
		-artifact_prefix="$dir/" -print_final_stats=1 "$@" >"$dir/log" 2>&1
	r=$?
	set -e
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$dir/log" || true
	grep -E '^#[0-9]+: ' "$dir/log" | tail -1 || true   # -fork=1: the last progress line
	ls "$dir" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | sed "s|^|fuzz.sh: found $dir/|" || true
	if [ $r -ne 0 ]; then
		echo "fuzz.sh: fuzz_$h failed (exit $r); see $dir/log:" >&2
		grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written' "$dir/log" | head -5 >&2
		rc=1
	fi
done
exit $rc
