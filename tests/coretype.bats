#!/usr/bin/env bats
# The same bytes whatever the BLAS kernel (issue 18; docs/ARCHITECTURE.md,
# "Determinism"): each program runs under every OPENBLAS_CORETYPE this CPU
# can execute (read from its flags: Prescott needs sse3, Sandybridge avx,
# Haswell avx2 and fma, SkylakeX avx512f) and its outputs must be equal
# byte for byte.  The kernels block and fuse their float sums differently,
# so their distances differ in the last bits (coretype_probe shows it);
# before the rule of train/nearest.h reached the k-means, vkmeans, vcoreset
# and vpq gave other bytes on these very sets.
#
# Data, made once: the first 10,000 rows of Fashion-MNIST (784 wide), a vgen
# set of 20,000 x 32 (500 means) and its first 10,000 rows, and -c centroids
# drawn from them by vsample (no kernel involved).

load helpers

FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	export VT_PROBE="${VT_PROBE:-$VT_BIN/../tests/coretype_probe}"
	# the kernels this CPU runs ("pni" is how /proc/cpuinfo spells sse3)
	local flags k=""
	flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
	case $flags in *" pni "*) k="$k Prescott" ;; esac
	case $flags in *" avx "*) k="$k Sandybridge" ;; esac
	case $flags in *" avx2 "*) case $flags in *" fma "*) k="$k Haswell" ;; esac ;; esac
	case $flags in *" avx512f "*) k="$k SkylakeX" ;; esac
	export KERNELS="${k# }"
	[ -r "$FM" ] || return 0
	PATH="$VT_BIN:$PATH"
	zcat "$FM" | vcat -q --rows 0:10000 -o "$D/fm.vt"
	vgen -q -n 20000 -d 32 --means 500 --seed 3 -o "$D/g32.vt"
	vcat -q --rows 0:10000 -o "$D/g10.vt" "$D/g32.vt"
	vsample -q -m 64 --seed 5 -o "$D/c64.vt" "$D/fm.vt"
	vsample -q -m 1024 --seed 5 -o "$D/c1024.vt" "$D/g32.vt"
}

# need_kernels: at least two kernels, and OpenBLAS switching to each when
# asked (a build without DYNAMIC_ARCH ignores OPENBLAS_CORETYPE).
need_kernels() {
	[ -r "$FM" ] || fail "needs Debian's dataset-fashion-mnist (pipelines/setup.sh installs it)"
	[ -x "$VT_PROBE" ] || fail "no coretype_probe at $VT_PROBE (build the tests first)"
	read -r -a kernels <<<"$KERNELS"
	[ "${#kernels[@]}" -ge 2 ] || skip "this CPU runs fewer than two OpenBLAS kernels ($KERNELS)"
	local ct name
	for ct in "${kernels[@]}"; do
		name=$(OPENBLAS_CORETYPE=$ct "$VT_PROBE" | cut -d' ' -f1)
		[ "${name,,}" = "${ct,,}" ] ||
			skip "OpenBLAS ignores OPENBLAS_CORETYPE=$ct (it runs $name): not a DYNAMIC_ARCH build"
	done
}

# across NAME CMD: run the shell command CMD under every kernel, with $OUT
# naming its output file (NAME.KERNEL); the outputs must be byte-identical.
across() {
	local name=$1 cmd=$2 ct first="" sums=""
	for ct in "${kernels[@]}"; do
		run -0 env OPENBLAS_CORETYPE="$ct" OUT="$name.$ct" bash -c "set -o pipefail; $cmd"
		assert_file_exists "$name.$ct"
		sums="$sums $ct=$(cksum <"$name.$ct" | cut -d' ' -f1)"
	done
	for ct in "${kernels[@]}"; do
		if [ -z "$first" ]; then
			first=$ct
		else
			cmp -s "$name.$first" "$name.$ct" ||
				fail "$name: other bytes under $ct than under $first (cksum:$sums)"
		fi
	done
}

@test "coretype_probe: each kernel runs when asked, and their float products differ" {
	need_kernels
	local ct hashes=""
	for ct in "${kernels[@]}"; do
		run -0 env OPENBLAS_CORETYPE="$ct" "$VT_PROBE"
		hashes="$hashes${output#* }"$'\n'
	done
	# Otherwise the tests below would prove nothing.
	[ "$(printf '%s' "$hashes" | sort -u | wc -l)" -ge 2 ] ||
		fail "every kernel gave the same float products: no near-tie can differ here"
}

@test "vkmeans flat: the same model under every kernel" {
	need_kernels
	across flat 'vkmeans -q -j 2 -k 64 --seed 3 -o "$OUT" "$D/fm.vt"'
	run -0 vcat --info flat.Prescott
	assert_line "meta.vkmeans.mode: flat"
}

@test "vkmeans --hierarchical: the same model under every kernel" {
	need_kernels
	across hier 'vkmeans -q -j 2 -k 1024 --hierarchical=on --seed 1 -o "$OUT" "$D/g32.vt"'
	run -0 vcat --info hier.Prescott
	assert_line "meta.vkmeans.mode: hierarchical"
}

@test "vkmeans --hierarchical --probe (narrowed refinement): the same model under every kernel" {
	need_kernels
	across narrow 'vkmeans -q -j 2 -k 1024 --hierarchical=on --probe 4 --seed 1 -o "$OUT" "$D/g32.vt"'
	run -0 vcat --info narrow.Prescott
	assert_line "meta.vkmeans.probe: 4"
}

@test "vcoreset: the same coreset under every kernel" {
	need_kernels
	across coreset 'vcoreset -q -j 2 -k 128 --total-rows 10000 -o "$OUT" "$D/g10.vt"'
}

@test "vrefine, whole and --partial: the same bytes under every kernel" {
	need_kernels
	across refine 'vrefine -q -j 2 -c "$D/c64.vt" -o "$OUT" "$D/fm.vt"'
	across partial 'vrefine -q -j 2 --partial -c "$D/c64.vt" -o "$OUT" "$D/fm.vt"'
}

@test "vloss: the same report and accumulators under every kernel" {
	need_kernels
	across report 'vloss -j 2 -c "$D/c1024.vt" "$D/g32.vt" >"$OUT"'
	across accum 'vloss -q -j 2 --partial -c "$D/c64.vt" -o "$OUT" "$D/fm.vt"'
}

@test "vpq: the same codebook under every kernel" {
	need_kernels
	across pq 'vpq -q -j 2 -c "$D/c1024.vt" -m 4 --sample 10000 -o "$OUT" "$D/g32.vt"'
}

@test "vsqbounds -c: the same bounds under every kernel" {
	need_kernels
	across sq 'vsqbounds -q -c "$D/c1024.vt" -o "$OUT" "$D/g32.vt"'
	across sqf 'vsqbounds -q --mode meanstd -c "$D/c64.vt" -o "$OUT" "$D/fm.vt"'
}

@test "vassign: the same labels and codes under every kernel" {
	need_kernels
	vpq -q -j 2 -c "$D/c1024.vt" -m 4 --sample 10000 -o pq.vt "$D/g32.vt"
	across labels 'vassign -q -j 2 -c "$D/c1024.vt" --pq pq.vt --top 2 -o "$OUT" "$D/g32.vt"'
}

@test "vkmeans --metric=dot (spherical), flat and hierarchical: the same model under every kernel" {
	need_kernels
	across dotflat 'vkmeans -q -j 2 -k 64 --metric=dot --seed 3 -o "$OUT" "$D/fm.vt"'
	across dothier 'vkmeans -q -j 2 -k 1024 --metric=dot --hierarchical=on --seed 1 -o "$OUT" "$D/g32.vt"'
	run -0 vcat --info dothier.Prescott
	assert_line "meta.metric: dot"
	assert_line "meta.vkmeans.mode: hierarchical"
}

@test "vrefine and vloss of a dot model: the same bytes under every kernel" {
	need_kernels
	vkmeans -q -j 2 -k 64 --metric=dot --iters 2 --seed 3 -o cd.vt "$D/fm.vt"
	across dotrefine 'vrefine -q -j 2 -c cd.vt -o "$OUT" "$D/fm.vt"'
	across dotreport 'vloss -j 2 -c cd.vt "$D/fm.vt" >"$OUT"'
	run -0 cat dotreport.Prescott
	assert_output --partial ' ip='
}
