#!/usr/bin/env bats
# vkmeans: weighted k-means, flat and hierarchical.

load helpers

# planted.vt: 4000 x 16 rows around 8 well-separated means (sigma 1).
make_planted() {
	vgen -n 4000 -d 16 --means 8 --spread 100 --sigma 1 --seed 5 -o planted.vt
}

@test "vkmeans: recovers well-separated planted means" {
	make_planted
	run -0 --separate-stderr vkmeans -k 8 --seed 1 -o c.vt planted.vt
	assert_err "k=8 n=4000 d=16 flat"
	run -0 vloss -c c.vt planted.vt
	# Each row is its mean plus N(0, I_16): the mean loss per row is about 16.
	mean=$(kv mean "$output")
	assert [ "$(echo "$mean > 14 && $mean < 18" | bc)" = 1 ]
	assert_equal "$(kv empty "$output")" 0
}

@test "vkmeans: writes centroids with weight, loss and metadata" {
	make_planted
	vkmeans -q -k 8 --seed 1 -o c.vt planted.vt
	run -0 vcat --info c.vt
	assert_line "kind: centroids"
	assert_line "columns: weight loss"
	assert_line "rows: 8"
	assert_line "meta.k: 8"
	assert_line "meta.metric: l2"
	assert_line "meta.seed: 1"
	assert_line --regexp '^meta.iters: [0-9]+$'
	assert_line --regexp '^meta.loss: [0-9.e+]+$'
	assert_line --regexp '^meta.made_by: vkmeans '
	# The weights sum to the rows, and the losses to the reported loss.
	run -0 bash -c "set -o pipefail; vcat --to text c.vt | awk '{w += \$1} END {print w}'"
	assert_output 4000
}

@test "vkmeans: the same seed gives the same bytes, another seed other bytes" {
	make_planted
	vkmeans -q -k 20 --seed 7 -o a.vt planted.vt
	vkmeans -q -k 20 --seed 7 -o b.vt planted.vt
	vkmeans -q -k 20 --seed 8 -o c.vt planted.vt
	assert_files_equal a.vt b.vt
	assert_files_not_equal a.vt c.vt
}

@test "vkmeans: -j 1 and -j 2 give the same bytes (flat and hierarchical)" {
	vgen -n 6000 -d 8 --means 50 --seed 2 -o x.vt
	vkmeans -q -k 40 -j 1 -o a.vt x.vt
	vkmeans -q -k 40 -j 2 -o b.vt x.vt
	assert_files_equal a.vt b.vt
	vkmeans -q -k 300 -j 1 -o c.vt x.vt
	vkmeans -q -k 300 -j 2 -o d.vt x.vt
	assert_files_equal c.vt d.vt
}

@test "vkmeans: hierarchical above k=256 by default, and forced either way" {
	vgen -n 6000 -d 8 --means 50 --seed 2 -o x.vt
	vkmeans -q -k 300 -o h.vt x.vt
	run -0 vcat --info h.vt
	assert_line "meta.vkmeans.mode: hierarchical"
	assert_line "rows: 300"
	vkmeans -q -k 300 --hierarchical=off -o f.vt x.vt
	run -0 vcat --info f.vt
	assert_line "meta.vkmeans.mode: flat"
	vkmeans -q -k 40 --hierarchical=on -o g.vt x.vt
	run -0 vcat --info g.vt
	assert_line "meta.vkmeans.mode: hierarchical"
}

@test "vkmeans: the loss matches a float64 brute force to 1e-6" {
	need_numpy
	vgen -n 3000 -d 12 --means 30 --seed 4 -o x.vt
	vkmeans -q -k 25 --seed 3 -o c.vt x.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	meta=$(meta loss c.vt)
	run -0 vloss -c c.vt x.vt
	report=$(kv loss "$output")
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64); c = np.load('c.npy').astype(np.float64)
d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
ref = d.min(1).sum()
for v in ($meta, $report):
    assert abs(v - ref) <= 1e-6 * ref, (v, ref)
print('ok')"
	assert_output ok
}

@test "vkmeans: cosine emits normalised centroids" {
	vgen -n 2000 -d 8 --means 10 --seed 6 -o x.vt
	vkmeans -q -k 10 --metric=cosine -o c.vt x.vt
	run -0 bash -c "set -o pipefail; vcat --to text c.vt | awk '{s = 0; for (i = 3; i <= NF; i++) s += \$i * \$i; if (s < 0.9999 || s > 1.0001) bad++} END {print bad + 0}'"
	assert_output 0
	run -0 vcat --info c.vt
	assert_line "meta.metric: cosine"
}

@test "vkmeans: --balance evens out skewed clusters" {
	vgen -n 8000 -d 8 --means 16 --skew 1.5 --spread 3 --seed 9 -o x.vt
	vkmeans -q -k 16 -o a.vt x.vt
	vkmeans -q -k 16 --balance 0.1 -o b.vt x.vt
	run -0 vloss -c a.vt x.vt
	cva=$(kv cv "$output")
	run -0 vloss -c b.vt x.vt
	cvb=$(kv cv "$output")
	assert [ "$(echo "$cvb < $cva" | bc)" = 1 ]
}

@test "vkmeans: reads any vector format" {
	vgen -n 1000 -d 8 --means 5 --seed 1 --to npy -o x.npy
	vgen -n 1000 -d 8 --means 5 --seed 1 -o x.vt
	vkmeans -q -k 5 -o a.vt x.npy
	vkmeans -q -k 5 -o b.vt x.vt
	assert_files_equal a.vt b.vt
}

@test "vkmeans: --probe narrows the hierarchical refinement; 0 is exact, and the default below 8192" {
	vgen -n 20000 -d 8 --means 400 --seed 3 -o x.vt
	vkmeans -q -k 600 --seed 2 -o auto.vt x.vt
	vkmeans -q -k 600 --seed 2 --probe 0 -o exact.vt x.vt
	assert_files_equal auto.vt exact.vt
	run -0 vcat --info exact.vt
	assert_line "meta.vkmeans.probe: 0"
	run -0 --separate-stderr vkmeans -v -k 600 --seed 2 --probe 6 -o p.vt x.vt
	assert_err "probe=6 loss="
	assert_err "brute-force check: on 20000 rows (every 1-th), the final labels are a nearest centroid for 100.0000%; their loss is 1.0000000 x"
	assert_err "final labels: nearest: mode=auto k=600 "
	run -0 vcat --info p.vt
	assert_line "meta.vkmeans.probe: 6"
	# the narrowed model is close to the exact one: within 2 % of its loss
	run -0 vloss -c exact.vt x.vt
	le=$(kv loss "$output")
	run -0 vloss -c p.vt x.vt
	lp=$(kv loss "$output")
	assert [ "$(echo "$lp <= $le * 1.02" | bc -l)" = 1 ]
	# and deterministic whatever the threads
	vkmeans -q -k 600 --seed 2 --probe 6 -j 1 -o p1.vt x.vt
	assert_files_equal p.vt p1.vt
	# a balance penalty keeps the refinement exact
	vkmeans -q -k 600 --seed 2 --probe 6 --balance 0.1 -o b.vt x.vt
	run -0 vcat --info b.vt
	assert_line "meta.vkmeans.probe: 0"
}

@test "vkmeans: at k = 16384 the final labels pass the brute-force check, and VT_NEAREST changes no byte" {
	vgen -q -n 40000 -d 8 --means 4096 --top 64 --sub-spread 2 --seed 3 -o x.vt
	# (mode=search: auto chooses between the search and brute force by their
	# measured times, so on a busy machine it may certify fewer rows itself)
	run -0 --separate-stderr env VT_NEAREST=search vkmeans -v -k 16384 -o a.vt x.vt
	assert_err_regex 'vkmeans: final labels: nearest: mode=search k=16384 d=8 groups=[1-9][0-9]* .* rows=40000 certified=(9[0-9]|100)\.[0-9]+% '
	assert_err "brute-force check: on 20000 rows (every 2-th), the final labels are a nearest centroid for 100.0000%; their loss is 1.0000000 x brute force's"
	assert_err "probe=8 loss="
	VT_NEAREST=brute vkmeans -q -k 16384 -o b.vt x.vt
	cmp a.vt b.vt
	vkmeans -q -k 16384 -o c.vt x.vt
	cmp a.vt c.vt
	# the model's weights and loss are those of its exact assignment: vloss's
	run -0 vcat --info a.vt
	assert_line --regexp '^meta.loss: '
	loss=$(sed -n 's/^meta.loss: //p' <<<"$output")
	run -0 vloss --json -c a.vt x.vt
	assert_output --partial "\"loss\": $loss,"
}

# --- errors -----------------------------------------------------------------

@test "vkmeans: -k is required (unless the input records k) and must be at least 1" {
	vgen -q -n 10 -d 4 -o x.vt
	run -2 --separate-stderr vkmeans x.vt
	assert_usage_error vkmeans "give -k (the number of centroids): x.vt records none"
	run -2 --separate-stderr vkmeans -k 0 x.vt
	assert_usage_error vkmeans "-k"
	run -2 --separate-stderr vkmeans -k 4 --init bogus x.vt
	assert_usage_error vkmeans "--init"
	run -2 --separate-stderr vkmeans -k 4 --frobnicate x.vt
	assert_usage_error vkmeans "unknown option"
	run -2 --separate-stderr vkmeans -k 4 --probe 257 x.vt
	assert_usage_error vkmeans "--probe"
	run -2 --separate-stderr vkmeans -k 4 --probe -1 x.vt
	assert_usage_error vkmeans "--probe"
}

@test "vkmeans: k larger than the rows, or than the distinct rows" {
	vgen -n 10 -d 4 --seed 1 -o x.vt
	run -1 --separate-stderr vkmeans -k 11 -o c.vt x.vt
	assert_err "k=11 is larger than the 10 input rows"
	assert_no_leftovers c.vt
	vcat x.vt x.vt -o xx.vt
	run -1 --separate-stderr vkmeans -k 12 -o c.vt xx.vt
	assert_err "distinct"
	assert_no_leftovers c.vt
	run -0 vkmeans -q -k 12 --allow-duplicates -o c.vt xx.vt
	assert_file_exists c.vt
}

@test "vkmeans: empty input, NaN rows, the wrong kind, a missing file" {
	vgen -n 0 -d 4 -o empty.vt
	run -1 --separate-stderr vkmeans -k 2 empty.vt
	assert_output ''
	assert_err "empty.vt: no rows"
	printf '\x00\x00\x80\x3f\x00\x00\xc0\x7f' >nan.raw
	vcat --from raw --dim 2 -o nan.vt nan.raw
	run -1 --separate-stderr vkmeans -k 1 nan.vt
	assert_err "nan.vt: row 0 has a NaN"
	vgen -n 100 -d 4 -o x.vt
	vkmeans -q -k 3 -o c.vt x.vt
	run -1 --separate-stderr vkmeans -k 2 c.vt
	assert_err "c.vt: is a centroids stream"
	run -1 --separate-stderr vkmeans -k 2 missing.vt
	assert_err "missing.vt: No such file or directory"
}

@test "vkmeans: a truncated input fails and leaves no output" {
	vgen -n 1000 -d 8 -o x.vt
	head -c 5000 x.vt >cut.vt
	run -1 --separate-stderr vkmeans -k 4 -o c.vt cut.vt
	assert_err "cut.vt: frame 1: truncated"
	assert_no_leftovers c.vt
}

@test "vkmeans: -o is created before the input is read, so a bad path fails at once" {
	# stdin stays open and empty for 8 s: a program that read it before
	# opening -o would still be waiting when timeout stops it (status 124)
	run -1 --separate-stderr timeout 4 bash -c \
		'exec 3>&-; vkmeans -k 2 -o nodir/c.vt < <(sleep 8 2>/dev/null)'
	assert_err "vkmeans: nodir/c.vt: No such file or directory"
	assert_not_exist nodir
}
