#!/usr/bin/env bats
# vrefine: one streaming Lloyd pass; its partial and apply forms.

load helpers

# Overlapping clusters and a rough start, so that passes still move.
setup_data() {
	vgen -n 6000 -d 8 --means 60 --spread 2 --seed 3 -o x.vt
	vkmeans -q -k 24 --iters 1 --init random --seed 1 -o c0.vt x.vt
}

# The same 6000 rows as three uneven shards.
setup_shards() {
	vgen -n 1700 -d 8 --means 60 --spread 2 --seed 3 -o s1.vt
	vgen -n 3251 -d 8 --means 60 --spread 2 --seed 3 --first 1700 -o s2.vt
	vgen -n 1049 -d 8 --means 60 --spread 2 --seed 3 --first 4951 -o s3.vt
}

# le A B: A <= B * (1 + 1e-9), in floating point.
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b * (1 + 1e-9)) }'
}

@test "vrefine: writes centroids and reports the pass's loss" {
	setup_data
	run -0 --separate-stderr vrefine -c c0.vt -o c1.vt x.vt
	assert_output ''
	assert_err_regex '^vrefine: pass loss=[0-9.e+]+ n=6000 empty=0$'
	run -0 vcat --info c1.vt
	assert_line 'kind: centroids'
	assert_line 'columns: weight loss'
	assert_line 'rows: 24'
	assert_line 'meta.k: 24'
	assert_line 'meta.vrefine.passes: 1'
	assert_line 'meta.made_by: vkmeans 0.1.0, vrefine 0.1.0'
	assert_line 'meta.vkmeans.init: random'
	assert_line 'meta.n: 6000'
	# The weights are the cluster sizes: they sum to the rows.
	run -0 bash -c "set -o pipefail; vcat --to text c1.vt | awk '{ s += \$1 } END { print s }'"
	assert_output 6000
	# A second pass counts.
	vrefine -q -c c1.vt -o c2.vt x.vt
	run -0 vcat --info c2.vt
	assert_line 'meta.vrefine.passes: 2'
	assert_line 'meta.made_by: vkmeans 0.1.0, vrefine 0.1.0'
	run -0 vrefine -q -c c1.vt x.vt
}

@test "vrefine: the loss never increases over 3 passes" {
	setup_data
	run -0 vloss -c c0.vt x.vt
	before=$(kv loss "$output")
	for p in 1 2 3; do
		run -0 --separate-stderr vrefine -c c$((p - 1)).vt -o c$p.vt x.vt
		pass=$(kv loss "${stderr#vrefine: pass }")
		run -0 vloss -c c$p.vt x.vt
		after=$(kv loss "$output")
		# vloss after <= the pass's loss (against the old centroids) <= vloss before
		le "$pass" "$before" || fail "pass $p: pass loss $pass > loss before $before"
		le "$before" "$pass" || fail "pass $p: pass loss $pass is not the loss before $before"
		le "$after" "$pass" || fail "pass $p: loss after $after > pass loss $pass"
		before=$after
	done
	# And it did improve from the rough start.
	run -0 vloss -c c0.vt x.vt
	first=$(kv loss "$output")
	awk -v a="$after" -v b="$first" 'BEGIN { exit !(a < b) }'
}

@test "vrefine: the new centroids are the means of their members" {
	need_numpy
	setup_data
	vrefine -q -c c0.vt -o c1.vt x.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c0.npy c0.vt
	vcat --to npy -o c1.npy c1.vt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64); c = np.load('c0.npy').astype(np.float64)
d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
a = d.argmin(1)
new = np.stack([x[a == j].mean(0) for j in range(len(c))])
c1 = np.load('c1.npy').astype(np.float64)
err = np.abs(c1 - new).max() / np.abs(new).max()
assert err < 1e-6, err
print('ok')"
	assert_output ok
}

@test "vrefine: an empty cluster keeps its old centroid" {
	setup_data
	# The 24 centroids and a 25th far away from every row.
	vcat --to raw c0.vt >c.raw
	vgen -n 1 -d 8 --means 1 --spread 1000 --sigma 0 --seed 9 --to raw >>c.raw
	vcat --from raw --dim 8 -o cf.vt c.raw
	run -0 --separate-stderr vrefine -c cf.vt -o c1.vt x.vt
	assert_err_regex 'n=6000 empty=1$'
	old=$(vcat --rows 24: --to text cf.vt)
	run -0 vcat --rows 24: --to text c1.vt
	assert_output "0 0 $old"
	run -0 vcat --info c1.vt
	assert_line 'meta.vrefine.empty: 1'
	assert_line 'meta.made_by: vrefine 0.1.0'
	assert_line 'kind: centroids'
	# Its neighbours moved.
	vcat --rows 0:24 --to raw cf.vt >old.raw
	vcat --rows 0:24 --to raw c1.vt >new.raw
	run -1 cmp -s old.raw new.raw
}

@test "vrefine: --partial per shard, concatenated, then --apply: the same bytes as one run" {
	setup_data
	setup_shards
	vrefine -q -c c0.vt -o whole.vt x.vt
	vrefine -q -c c0.vt -j 1 --partial -o s1.acc s1.vt
	vrefine -q -c c0.vt -j 3 --partial -o s2.acc s2.vt
	vrefine -q -c c0.vt --batch-rows 100 --partial -o s3.acc s3.vt
	run -0 vcat --info s1.acc
	assert_line 'kind: accum'
	assert_line 'meta.k: 24'
	assert_line 'meta.made_by: vrefine 0.1.0'
	cat s1.acc s2.acc s3.acc >all.acc
	run -0 --separate-stderr vrefine --apply -c c0.vt -o dist.vt all.acc
	assert_err_regex '^vrefine: pass loss=[0-9.e+]+ n=6000 empty=0$'
	whole_err=$(vrefine -c c0.vt x.vt 2>&1 >/dev/null)
	assert_equal "$stderr" "$whole_err"
	cmp whole.vt dist.vt
	# Any order of the shards, files or a pipe.
	vrefine --apply -q -c c0.vt -o dist2.vt s3.acc s1.acc s2.acc
	cmp whole.vt dist2.vt
	run -0 bash -c 'set -o pipefail; cat s2.acc s3.acc s1.acc | vrefine --apply -q -c c0.vt | cmp - whole.vt'
	# The shards' accumulators are also vloss's: the same loss as one vloss.
	run -0 vloss all.acc
	assert_output --regexp '^loss=[0-9.e+]+ mean=[0-9.e+]+ n=6000 k=24 '
	a=$(kv loss "$output")
	run -0 vloss -c c0.vt x.vt
	b=$(kv loss "$output")
	assert le "$a" "$b"
	assert le "$b" "$a"
}

@test "vrefine: --partial of the whole, applied, is the one-run pass" {
	setup_data
	vrefine -q -c c0.vt -o whole.vt x.vt
	run -0 bash -c 'set -o pipefail; vrefine -q -c c0.vt --partial x.vt | vrefine -q --apply -c c0.vt -o applied.vt'
	cmp whole.vt applied.vt
}

@test "vrefine: the same bytes with the search index forced and with brute force: whole, --partial, shards merged (k = 4096)" {
	setup_large_k
	run -0 --separate-stderr env VT_NEAREST=search vrefine -v -c c.vt -o search.vt x.vt
	assert_err_regex 'vrefine: pass: nearest: mode=search k=4096 d=16 groups=[1-9][0-9]* .* rows=24000 certified=(9[0-9]|100)\.[0-9]+% round1=[1-9]'
	search_err=$(grep -v -e 'nearest:' -e 'time=' <<<"$stderr")
	run -0 --separate-stderr env VT_NEAREST=brute vrefine -v -c c.vt -o brute.vt x.vt
	assert_err_regex 'mode=brute .* brute=100\.00%'
	assert_equal "$(grep -v -e 'nearest:' -e 'time=' <<<"$stderr")" "$search_err"
	cmp search.vt brute.vt
	vrefine -q -c c.vt -o auto.vt x.vt
	cmp search.vt auto.vt
	# --partial of the whole, either way
	VT_NEAREST=search vrefine -q -c c.vt --partial -o search.acc x.vt
	VT_NEAREST=brute vrefine -q -c c.vt --partial -o brute.acc x.vt
	cmp search.acc brute.acc
	# shards by the search, merged with vmerge, applied: brute force's one pass
	for s in s1 s2 s3; do VT_NEAREST=search vrefine -q -c c.vt --partial -o $s.acc $s.vt; done
	vmerge -q -o merged.acc s2.acc s3.acc s1.acc
	vrefine -q --apply -c c.vt -o merged.vt merged.acc
	cmp brute.vt merged.vt
	for s in s1 s2 s3; do VT_NEAREST=brute vrefine -q -c c.vt --partial -o b$s.acc $s.vt; done
	vmerge -q -o bmerged.acc bs1.acc bs2.acc bs3.acc
	cmp merged.acc bmerged.acc
}

@test "vrefine: --apply refuses accumulators of other centroids" {
	setup_data
	vrefine -q -c c0.vt -o c1.vt x.vt
	vrefine -q -c c0.vt --partial -o a.acc x.vt
	vrefine -q -c c1.vt --partial -o b.acc x.vt
	run -1 --separate-stderr vrefine --apply -c c1.vt -o out.vt a.acc
	assert_output ''
	assert_err "a.acc: accumulators were computed against other centroids"
	assert_no_leftovers out.vt
	run -1 --separate-stderr vrefine --apply -c c0.vt a.acc b.acc
	assert_err "b.acc: accumulators computed against other centroids"
	run -1 --separate-stderr vrefine --apply -c c0.vt x.vt
	assert_err "x.vt: is a vectors stream; vrefine --apply reads accumulators"
	run -1 --separate-stderr vrefine -c c0.vt a.acc
	assert_err "a.acc: is an accum stream; give accumulators to vrefine --apply"
}

@test "vrefine: deterministic, and the same bytes whatever the threads and batch" {
	setup_data
	vrefine -q -c c0.vt -o a.vt x.vt
	vrefine -q -c c0.vt -o b.vt x.vt
	cmp a.vt b.vt
	vrefine -q -c c0.vt -j 1 -o j1.vt x.vt
	vrefine -q -c c0.vt -j 2 -o j2.vt x.vt
	cmp j1.vt j2.vt
	cmp a.vt j1.vt
	vrefine -q -c c0.vt -j 2 --batch-rows 77 -o b77.vt x.vt
	cmp a.vt b77.vt
	vrefine -q -c c0.vt -j 1 --partial -o p1.acc x.vt
	vrefine -q -c c0.vt -j 2 --partial -o p2.acc x.vt
	cmp p1.acc p2.acc
}

@test "vrefine: --metric=cosine emits unit-norm centroids" {
	setup_data
	# centroids that record no metric (a .npy) take --metric
	vcat --to npy -o c0.npy c0.vt
	run -0 --separate-stderr vrefine --metric=cosine -c c0.npy -o c1.vt x.vt
	assert_err 'vrefine: pass loss='
	run -0 vcat --info c1.vt
	assert_line 'meta.metric: cosine'
	run -0 bash -c "set -o pipefail; vcat --to text c1.vt | awk '{ s = 0; for (i = 3; i <= NF; i++) s += \$i * \$i;
		if (s < 0.9999 || s > 1.0001) bad++ } END { print bad + 0 }'"
	assert_output 0
	# The cosine accumulators carry their metric to --apply.
	vrefine -q --metric=cosine -c c0.npy --partial -o a.acc x.vt
	vrefine -q --apply -c c0.npy -o applied.vt a.acc
	cmp c1.vt applied.vt
	# The model's metric rules: c1.vt says cosine
	run -0 --separate-stderr vrefine -c c1.vt -o c2.vt x.vt
	run -0 vcat --info c2.vt
	assert_line 'meta.metric: cosine'
	run -1 --separate-stderr vrefine --metric=l2 -c c1.vt -o c3.vt x.vt
	assert_err "vrefine: c1.vt: made with metric=cosine, but --metric=l2 was given"
	vrefine -q -c c0.vt --partial -o l2.acc x.vt
	run -1 --separate-stderr vrefine --apply -c c1.vt l2.acc
	assert_err "vrefine: c1.vt: made with metric=cosine, but l2.acc was made with metric=l2"
	run -1 --separate-stderr vrefine --apply --metric=cosine -c c0.vt l2.acc
	assert_err "vrefine: l2.acc: made with metric=l2, but --metric=cosine was given"
}

@test "vrefine: weighted points count with their weight and local loss" {
	need_xxhash
	vtcraft points 2 4 p.vt
	# Rows (0,1) (2,3) (4,5) (6,7), weights 1..4, losses 0, .5, 1, 1.5.
	printf '\x00\x00\x00\x00\x00\x00\x00\x00' | vcat --from raw --dim 2 -o c.vt
	run -0 --separate-stderr vrefine -c c.vt -o c1.vt p.vt
	# loss = 3 + sum_i w_i |x_i|^2 = 3 + 1 + 2*13 + 3*41 + 4*85
	assert_err 'vrefine: pass loss=493 n=10 empty=0'
	run -0 vcat --to text c1.vt
	assert_output '10 493 4 5'
}

@test "vrefine: dimension mismatch" {
	setup_data
	vgen -n 10 -d 4 -o y.vt
	run -1 --separate-stderr vrefine -c c0.vt -o out.vt y.vt
	assert_output ''
	assert_err "vrefine: c0.vt: centroids have dimension 8, but y.vt has 4"
	assert_no_leftovers out.vt
}

@test "vrefine: a NaN row fails, naming the file and the row" {
	setup_data
	vgen -n 5 -d 2 -o ok.vt
	vkmeans -q -k 1 -o c.vt ok.vt
	printf '\x00\x00\x80\x3f\x00\x00\x80\x3f\x00\x00\x80\x3f\x00\x00\xc0\x7f' |
		vcat --from raw --dim 2 -o nan.vt
	run -1 --separate-stderr vrefine -c c.vt -o out.vt nan.vt
	assert_output ''
	assert_err "vrefine: nan.vt: row 1 has a NaN or infinite value"
	assert_no_leftovers out.vt
	# Rows are counted over the whole input.
	run -1 --separate-stderr vrefine -c c.vt ok.vt nan.vt
	assert_err "nan.vt: row 6 has a NaN or infinite value"
	run -1 --separate-stderr vrefine --partial -c c.vt ok.vt nan.vt
	assert_output ''
	assert_err "nan.vt: row 6 has a NaN"
}

@test "vrefine: a truncated input fails, naming the file" {
	setup_data
	head -c 3000 x.vt >cut.vt
	run -1 --separate-stderr vrefine -c c0.vt -o out.vt cut.vt
	assert_output ''
	assert_err "vrefine: cut.vt: frame 1: truncated"
	assert_no_leftovers out.vt
	run -1 --separate-stderr vrefine --partial -c c0.vt cut.vt
	assert_output ''
	assert_err "cut.vt: frame 1: truncated"
	# Truncated accumulators, and truncated centroids.
	vrefine -q -c c0.vt --partial -o a.acc x.vt
	head -c $(($(stat -c %s a.acc) - 10)) a.acc >cut.acc
	run -1 --separate-stderr vrefine --apply -c c0.vt -o out.vt cut.acc
	assert_output ''
	assert_err "cut.acc"
	assert_err "truncated"
	assert_no_leftovers out.vt
	head -c 200 c0.vt >cutc.vt
	run -1 --separate-stderr vrefine -c cutc.vt x.vt
	assert_err "cutc.vt"
	assert_err "truncated"
}

@test "vrefine: missing files and wrong kinds" {
	setup_data
	run -1 --separate-stderr vrefine -c missing.vt x.vt
	assert_err "missing.vt: No such file or directory"
	run -1 --separate-stderr vrefine -c c0.vt missing.vt
	assert_err "missing.vt: No such file or directory"
	run -1 --separate-stderr vrefine -c c0.vt c0.vt
	assert_err "c0.vt: is a centroids stream; vrefine reads vectors or weighted points"
	vrefine -q -c c0.vt --partial -o a.acc x.vt
	run -1 --separate-stderr vrefine -c a.acc x.vt
	assert_err "a.acc: is a accum stream"
}

@test "vrefine: usage errors print nothing on stdout; --help succeeds" {
	vgen -n 10 -d 2 -o x.vt
	run -2 --separate-stderr vrefine x.vt
	assert_usage_error vrefine "-c CENTROIDS is required"
	run -2 --separate-stderr vrefine -c c.vt --partial --apply x.vt
	assert_usage_error vrefine "--partial writes accumulators; --apply reads them"
	run -2 --separate-stderr vrefine -c c.vt --apply --batch-rows 10 a.acc
	assert_usage_error vrefine "--batch-rows"
	run -2 --separate-stderr vrefine -c c.vt --batch-rows 0 x.vt
	assert_usage_error vrefine "--batch-rows"
	run -2 --separate-stderr vrefine --bogus
	assert_usage_error vrefine "unknown option"
	run -0 --separate-stderr vrefine --help
	assert_line --index 0 --partial 'Usage: vrefine -c CENTROIDS'
	assert_output --partial 'Memory:'
	assert_equal "$stderr" ''
}

@test "vrefine: rows far off the centroids' scale: a warning, and still the mean" {
	vgen -n 500 -d 2 --seed 4 -o x.vt
	# One centroid at (1e-30, 1e-30): the exact grid is far too fine.
	printf '\x60\x42\xa2\x0d\x60\x42\xa2\x0d' | vcat --from raw --dim 2 -o tiny.vt
	run -0 --separate-stderr vrefine -c tiny.vt -o c1.vt x.vt
	assert_err_regex 'vrefine: warning: [0-9]+ sums do not fit the exact range'
	assert_err_regex 'n=500 empty=0$'
	vkmeans -q -k 1 -o mean.vt x.vt
	run -0 vloss -c c1.vt x.vt
	a=$(kv loss "$output")
	run -0 vloss -c mean.vt x.vt
	b=$(kv loss "$output")
	assert le "$a" "$b"
	assert le "$b" "$a"
	run -0 --separate-stderr vrefine -q -c tiny.vt -o c2.vt x.vt
	assert_equal "$stderr" ''
	cmp c1.vt c2.vt
}
