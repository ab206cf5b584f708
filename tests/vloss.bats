#!/usr/bin/env bats
# vloss: the exact objective and the cluster-size report.

load helpers

setup_data() {
	vgen -n 3000 -d 8 --means 20 --seed 3 -o x.vt
	vkmeans -q -k 16 --seed 1 -o c.vt x.vt
}

@test "vloss: prints one line of key=value pairs" {
	setup_data
	run -0 vloss -c c.vt x.vt
	assert_output --regexp '^loss=[0-9.e+]+ mean=[0-9.e+]+ n=3000 k=16 min=[0-9]+ max=[0-9]+ empty=[0-9]+ max_mean=[0-9.e+]+ cv=[0-9.e+-]+ imbalance=[0-9.e+]+$'
}

@test "vloss: --json gives the same numbers as one JSON object" {
	need_numpy
	setup_data
	line=$(vloss -c c.vt x.vt)
	run -0 bash -c "set -o pipefail; vloss --json -c c.vt x.vt | $PY -c 'import json, sys; o = json.load(sys.stdin); print(o[\"n\"], o[\"k\"], o[\"empty\"], sorted(o))'"
	assert_output "3000 16 0 ['cv', 'empty', 'imbalance', 'k', 'loss', 'max', 'max_mean', 'mean', 'min', 'n']"
}

@test "vloss: the loss and sizes match a float64 brute force" {
	need_numpy
	setup_data
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	run -0 vloss -c c.vt x.vt
	loss=$(kv loss "$output")
	imb=$(kv imbalance "$output")
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64); c = np.load('c.npy').astype(np.float64)
d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
ref = d.min(1).sum()
h = np.bincount(d.argmin(1), minlength=len(c)).astype(float)
imb = len(c) * (h ** 2).sum() / h.sum() ** 2
assert abs($loss - ref) <= 1e-6 * ref, ($loss, ref)
assert abs($imb - imb) <= 1e-5 * imb, ($imb, imb)
print('ok')"
	assert_output ok
}

@test "vloss: partial accumulators of shards, concatenated, give the whole's report" {
	vgen -n 3000 -d 8 --means 20 --seed 3 -o x.vt
	vkmeans -q -k 16 --seed 1 -o c.vt x.vt
	vgen -n 1000 -d 8 --means 20 --seed 3 -o s1.vt
	vgen -n 1500 -d 8 --means 20 --seed 3 --first 1000 -o s2.vt
	vgen -n 500 -d 8 --means 20 --seed 3 --first 2500 -o s3.vt
	for s in s1 s2 s3; do vloss -c c.vt --partial -o $s.acc $s.vt; done
	whole=$(vloss -c c.vt x.vt)
	run -0 bash -c 'set -o pipefail; cat s1.acc s2.acc s3.acc | vloss'
	assert_output "$whole"
	run -0 vloss -c c.vt s3.acc s1.acc s2.acc
	assert_output "$whole"
	run -0 vcat --info s1.acc
	assert_line "kind: accum"
	assert_line "meta.k: 16"
	assert_line --regexp '^meta.centroids_id: [0-9a-f]{16}$'
}

@test "vloss: the same report and accumulators with the search index forced and with brute force (k = 4096)" {
	setup_large_k
	run -0 --separate-stderr env VT_NEAREST=search vloss -v --json -c c.vt x.vt
	search=$output
	# the index answered the rows, nearly all certified without a fallback
	assert_err_regex 'vloss: pass: nearest: mode=search k=4096 d=16 groups=[1-9][0-9]* .* rows=24000 certified=(9[0-9]|100)\.[0-9]+% round1=[1-9]'
	run -0 --separate-stderr env VT_NEAREST=brute vloss -v --json -c c.vt x.vt
	assert_output "$search"
	assert_err_regex 'mode=brute .* certified=0\.00% .* brute=100\.00%'
	run -0 vloss --json -c c.vt x.vt
	assert_output "$search"
	# --partial, whole, and the shards merged with vmerge, give the same report
	VT_NEAREST=search vloss --partial -c c.vt -o search.acc x.vt
	VT_NEAREST=brute vloss --partial -c c.vt -o brute.acc x.vt
	cmp search.acc brute.acc
	whole=$(VT_NEAREST=brute vloss -c c.vt x.vt)
	VT_NEAREST=search vloss --partial -c c.vt -o s1.acc s1.vt
	VT_NEAREST=brute vloss --partial -c c.vt -o s2.acc s2.vt
	vloss --partial -c c.vt -o s3.acc s3.vt
	vmerge -q -o merged.acc s3.acc s1.acc s2.acc
	run -0 vloss merged.acc
	assert_output "$whole"
	for s in s1 s2 s3; do VT_NEAREST=brute vloss --partial -c c.vt -o b$s.acc $s.vt; done
	vmerge -q -o bmerged.acc bs1.acc bs2.acc bs3.acc
	cmp merged.acc bmerged.acc
}

@test "vloss: exact ties go to the lower index (every centroid twice)" {
	setup_large_k
	vcat -o cc.vt c.vt c.vt
	run -0 vloss -c c.vt x.vt
	empty=$(kv empty "$output")
	for m in search brute; do
		run -0 env VT_NEAREST=$m vloss -c cc.vt x.vt
		assert_output --regexp " k=8192 .* empty=$((empty + 4096)) "
	done
	# the second copies are the empty ones: all the weight is in the first half
	VT_NEAREST=search vloss --partial -c cc.vt -o cc.acc x.vt
	run -0 bash -c "set -o pipefail; vcat --to text cc.acc | awk 'NR > 4096 && \$1 != 0 {bad++} END {print bad + 0, NR}'"
	assert_output "0 8192"
}

@test "vloss: centroids too large for float are compared in double with every row (scan)" {
	vgen -q -n 100 -d 3 -o x.vt
	printf '\x00\x00\x80\x5f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x5f\x00\x00\x00\x00' |
		vcat --from raw --dim 3 -o big.vt
	run -0 --separate-stderr vloss -v -c big.vt x.vt
	assert_err_regex 'nearest: mode=auto k=2 d=3 groups=0 supers=0 index_bytes=0 build=[0-9.]+s scan=yes rows=100 '
	a=$output
	run -0 env VT_NEAREST=brute vloss -c big.vt x.vt
	assert_output "$a"
	run -0 env VT_NEAREST=search vloss -c big.vt x.vt
	assert_output "$a"
	assert_output --regexp '^loss=[0-9.e+]+ .* n=100 k=2 '
}

@test "vloss: VT_NEAREST must be auto, search or brute" {
	setup_data
	run -2 --separate-stderr env VT_NEAREST=fast vloss -c c.vt x.vt
	assert_usage_error vloss "VT_NEAREST=fast: expected auto, search or brute"
	run -0 env VT_NEAREST= vloss -c c.vt x.vt
	assert_output --regexp '^loss='
}

@test "vloss: accumulators of other centroids are refused" {
	setup_data
	vkmeans -q -k 16 --seed 2 -o c2.vt x.vt
	vloss -c c.vt --partial -o a.acc x.vt
	vloss -c c2.vt --partial -o b.acc x.vt
	run -1 --separate-stderr bash -c 'cat a.acc b.acc | vloss'
	assert_err "other centroids"
	run -1 --separate-stderr vloss a.acc b.acc
	assert_err "b.acc: accumulators computed against other centroids"
	run -1 --separate-stderr vloss -c c2.vt a.acc
	assert_err "other centroids"
}

@test "vloss: centroids from an .npy file, and cosine" {
	setup_data
	vcat --to npy -o c.npy c.vt
	run -0 vloss -c c.vt x.vt
	a=$output
	run -0 vloss -c c.npy x.vt
	assert_output "$a"
	# a cosine model: its metric is used, --metric only confirms it
	vkmeans -q -k 16 --seed 1 --metric=cosine -o ccos.vt x.vt
	run -0 vloss -c ccos.vt x.vt
	assert_output --regexp '^loss='
	a=$output
	run -0 vloss --metric=cosine -c ccos.vt x.vt
	assert_output "$a"
	run -1 vloss --metric=cosine -c c.vt x.vt
	assert_output "vloss: c.vt: made with metric=l2, but --metric=cosine was given"
	# centroids that record no metric take --metric
	vcat --to npy -o ccos.npy ccos.vt
	run -0 vloss --metric=cosine -c ccos.npy x.vt
	assert_output "$a"
}

@test "vloss: usage errors print nothing on stdout" {
	vgen -n 10 -d 2 -o x.vt
	run -2 --separate-stderr vloss x.vt
	assert_usage_error vloss "-c CENTROIDS is required"
	run -2 --separate-stderr vloss -c c.vt --partial --json x.vt
	assert_usage_error vloss "--json"
	run -2 --separate-stderr vloss --bogus
	assert_usage_error vloss "unknown option"
}

@test "vloss: dimension mismatch, NaN rows, wrong kinds, missing files" {
	setup_data
	vgen -n 10 -d 4 -o y.vt
	run -1 --separate-stderr vloss -c c.vt y.vt
	assert_err "c.vt: centroids have dimension 8, but y.vt has 4"
	printf '\x00\x00\x80\x3f\x00\x00\xc0\x7f' | vcat --from raw --dim 2 -o nan.vt
	vgen -n 5 -d 2 -o z.vt
	vkmeans -q -k 1 -o cz.vt z.vt
	run -1 --separate-stderr vloss -c cz.vt nan.vt
	assert_err "nan.vt: row 0 has a NaN"
	run -1 --separate-stderr vloss -c c.vt c.vt
	assert_err "is a centroids stream"
	run -1 --separate-stderr vloss -c missing.vt x.vt
	assert_err "missing.vt: No such file or directory"
	vloss -c c.vt --partial -o a.acc x.vt
	run -1 --separate-stderr vloss -c a.acc x.vt
	assert_err "a.acc: is a accum stream"
}

@test "vloss: a truncated input fails" {
	setup_data
	head -c 3000 x.vt >cut.vt
	run -1 --separate-stderr vloss -c c.vt cut.vt
	assert_output ''
	assert_err "cut.vt: frame 1: truncated"
}

@test "vloss: a usage error found after -o is opened leaves no file behind" {
	setup_data
	run -2 --separate-stderr vloss --partial -o out.acc x.vt
	assert_err "-c CENTROIDS is required"
	assert_no_leftovers out.acc
}

@test "vloss --sizes: one line per centroid (index, size, loss) after a header; they sum to the report" {
	setup_data
	run -0 vloss --sizes -c c.vt x.vt
	assert_line --index 0 "centroid size loss"
	assert_equal "${#lines[@]}" 17
	assert_line --index 1 --regexp '^0 [0-9]+ [0-9.e+-]+$'
	local sums
	sums=$(printf '%s\n' "${lines[@]:1}" | awk '{ n += $2; l += $3 } END { printf "%d %.6e", n, l }')
	run -0 vloss --json -c c.vt x.vt
	local want
	want=$(echo "$output" | /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin); print("%d %.6e" % (r["n"], r["loss"]))')
	assert_equal "$sums" "$want"
	# the same from accumulators
	vloss -q -c c.vt --partial -o a.acc x.vt
	run -0 vloss --sizes a.acc
	assert_line --index 0 "centroid size loss"
	run -2 --separate-stderr vloss --sizes --json -c c.vt x.vt
	assert_usage_error vloss "--json and --sizes are two reports"
	run -2 --separate-stderr vloss --sizes --partial -c c.vt x.vt
	assert_usage_error vloss "--partial writes a stream; --sizes is for the report"
}
