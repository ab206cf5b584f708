#!/usr/bin/env bats
# vsqbounds: scalar-quantizer bounds, their partial statistics and merges.

load helpers

setup_data() {
	vgen -n 3000 -d 6 --means 12 --seed 5 -o x.vt
	vcat --to npy -o x.npy x.vt
}

# shards of x.vt: rows [0, 700), [700, 2100), [2100, 3000)
setup_shards() {
	vgen -n 700 -d 6 --means 12 --seed 5 -o s1.vt
	vgen -n 1400 -d 6 --means 12 --seed 5 --first 700 -o s2.vt
	vgen -n 900 -d 6 --means 12 --seed 5 --first 2100 -o s3.vt
}

# check_bounds SQFILE PYEXPR: the bounds of SQFILE (2 rows) equal lo, hi
# computed by PYEXPR from x (the float32 rows of x.npy, as float64); exact
# unless TOL is set (relative to the range).
check_bounds() {
	vcat --to text "$1" >b.txt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64)
$2
b = np.loadtxt('b.txt', ndmin=2)
assert b.shape == (2, x.shape[1]), b.shape
tol = ${TOL:-0} * (hi - lo).max()
assert np.abs(b[0] - lo).max() <= tol and np.abs(b[1] - hi).max() <= tol, (b, lo, hi)
print('ok')"
	assert_output ok
}

@test "vsqbounds: --help, --version" {
	run -0 vsqbounds --help
	assert_output --partial "Usage: vsqbounds"
	assert_output --partial "Memory:"
	run -0 vsqbounds --version
	assert_output --regexp '^vsqbounds .*[0-9]+\.[0-9]+'
}

@test "vsqbounds: dim mode is the per-dimension min and max (FAISS RS_minmax)" {
	need_numpy
	setup_data
	run -0 --separate-stderr vsqbounds -o b.sq x.vt
	assert_err "vsqbounds: mode=dim rows=3000 dropped=0 d=6"
	check_bounds b.sq 'lo, hi = x.min(0), x.max(0)'
	run -0 vcat --info b.sq
	assert_line "kind: sq"
	assert_line "element: f64"
	assert_line "rows: 2"
	assert_line "meta.mode: dim"
	assert_line "meta.form: bounds"
	assert_line "meta.metric: l2"
	assert_line "meta.vsqbounds.rows: 3000"
}

@test "vsqbounds: dim mode equals the vmin and vdiff of FAISS ScalarQuantizer QT_8bit RS_minmax" {
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
	setup_data
	vsqbounds -q -o b.sq x.vt
	vcat --to text b.sq >b.txt
	run -0 "$PY" -c "
import numpy as np, faiss
x = np.load('x.npy')
sq = faiss.ScalarQuantizer(6, faiss.ScalarQuantizer.QT_8bit)
sq.rangestat = faiss.ScalarQuantizer.RS_minmax
sq.train(x)
t = faiss.vector_to_array(sq.trained)
b = np.loadtxt('b.txt')
print(np.array_equal(t[:6], b[0].astype(np.float32)), np.array_equal(t[6:], (b[1] - b[0]).astype(np.float32)))"
	assert_output "True True"
}

@test "vsqbounds: global mode is one min and max over all values, in every column" {
	need_numpy
	setup_data
	vsqbounds -q --mode global -o b.sq x.vt
	check_bounds b.sq 'lo, hi = np.full(6, x.min()), np.full(6, x.max())'
	run -0 vcat --info b.sq
	assert_line "meta.mode: global"
}

@test "vsqbounds: meanstd is mean -/+ r std (population std)" {
	need_numpy
	setup_data
	vsqbounds -q --mode meanstd -o b.sq x.vt
	TOL=1e-13 check_bounds b.sq 'm, s = x.mean(0), x.std(0); lo, hi = m - 3 * s, m + 3 * s'
	vsqbounds -q --mode meanstd --r 1.5 -o b.sq x.vt
	TOL=1e-13 check_bounds b.sq 'm, s = x.mean(0), x.std(0); lo, hi = m - 1.5 * s, m + 1.5 * s'
	run -0 vcat --info b.sq
	assert_line "meta.r: 1.5"
	assert_line "meta.form: bounds"
}

@test "vsqbounds: quantile is exact below the sketch size, and within its rank error above" {
	need_numpy
	vgen -n 150 -d 6 --means 12 --seed 5 -o x.vt
	vcat --to npy -o x.npy x.vt
	vsqbounds -q --mode quantile --quantile 0.05 -o b.sq x.vt
	check_bounds b.sq "lo, hi = np.quantile(x, 0.05, axis=0, method='inverted_cdf'), np.quantile(x, 0.95, axis=0, method='inverted_cdf')"
	run -0 vcat --info b.sq
	assert_line "meta.quantile: 0.050000000000000003"
	assert_line "meta.sketch_k: 200"
	assert_line "meta.seed: 1"
	setup_data
	# beyond the exact tails (--tail 10), the sketch's rank error, said
	run -0 --separate-stderr vsqbounds --mode quantile --quantile 0.02 --tail 10 -o b.sq x.vt
	assert_err "beyond the exact tails of 10 values: it comes from the KLL sketch"
	run -0 vcat --info b.sq
	assert_line "meta.quantile_exact: no"
	vcat --to text b.sq >b.txt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64)
b = np.loadtxt('b.txt')
for row, q in ((0, 0.02), (1, 0.98)):
    r = (x <= b[row]).mean(0)
    assert np.abs(r - q).max() < 0.0165, (r, q)
print('ok')"
	assert_output ok
}

@test "vsqbounds: quantiles at 0.001, 0.01 and 0.05 are numpy's exact ones, whole and merged from uneven shards" {
	need_numpy
	vgen -q -n 60000 -d 12 --means 40 --seed 8 -o x.vt
	vcat --to npy -o x.npy x.vt
	vcat --rows 0:7 -o s1.vt x.vt
	vcat --rows 7:21000 -o s2.vt x.vt
	vcat --rows 21000: -o s3.vt x.vt
	for s in s1 s2 s3; do vsqbounds -q --mode quantile --partial -o $s.q $s.vt; done
	local q
	for q in 0.001 0.01 0.05; do
		run -0 --separate-stderr vsqbounds --mode quantile --quantile $q -o b.sq x.vt
		output=$stderr refute_output --partial warning
		check_bounds b.sq "lo, hi = np.quantile(x, $q, axis=0, method='inverted_cdf'), np.quantile(x, 1 - $q, axis=0, method='inverted_cdf')"
		run -0 vcat --info b.sq
		assert_line "meta.quantile_exact: yes"
		# the shards' partials, merged in two orders, give the same bytes
		vmerge -q -o m1.q s3.q s1.q s2.q
		cat s2.q s3.q s1.q | vsqbounds -q --quantile $q -o m2.sq
		vsqbounds -q --quantile $q -o m1.sq m1.q
		cmp m1.sq m2.sq
		vcat --to raw b.sq | cmp - <(vcat --to raw m1.sq)
	done
	# the fraction clipped is q, not the sketch's 4.5 q of before
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64)
lo = np.quantile(x, 0.05, axis=0, method='inverted_cdf')
print(((x < lo).mean(0) <= 0.05).all())"
	assert_output True
}

@test "vsqbounds: --tail is for quantile statistics as they are made" {
	setup_data
	run -2 --separate-stderr vsqbounds --mode dim --tail 10 x.vt
	assert_usage_error vsqbounds "--tail is for --mode quantile"
	run -2 --separate-stderr vsqbounds --mode quantile --tail -1 x.vt
	assert_usage_error vsqbounds "--tail"
	vsqbounds -q --mode quantile --partial --tail 50 -o p.q x.vt
	run -2 --separate-stderr vsqbounds --tail 60 p.q
	assert_usage_error vsqbounds "--tail sizes the statistics as they are made; p.q holds them already"
	# partials of other tails do not merge
	vsqbounds -q --mode quantile --partial --tail 60 -o p2.q x.vt
	run -1 --separate-stderr vmerge -o m.q p.q p2.q
	assert_output ''
	assert_err "p2.q: a sketch of sketch_k 200, seed 1 and tail 60, but the first input's has sketch_k 200, seed 1 and tail 50"
	# partials of the same tail merge, and keep it
	vsqbounds -q --mode quantile --partial --tail 50 -o p3.q x.vt
	vmerge -q -o m.q p.q p3.q
	run -0 vsqbounds --quantile 0.01 -o b.sq m.q
	assert_output --partial "mode=quantile values=6000"
	run -0 vcat --info b.sq
	assert_line "meta.quantile_exact: no" 
}

@test "vsqbounds: the same rows give the same bytes, from any input format" {
	setup_data
	vsqbounds -q --mode quantile --partial -o a.sq x.vt
	vsqbounds -q --mode quantile --partial -o b.sq x.vt
	cmp a.sq b.sq
	vcat --to fvecs -o x.fvecs x.vt
	vsqbounds -q --mode quantile --partial -o c.sq x.fvecs
	run -0 bash -c 'set -eo pipefail; vcat --to text a.sq | md5sum; vcat --to text c.sq | md5sum'
	assert_equal "${lines[0]}" "${lines[1]}"
}

@test "vsqbounds: merged partials of shards equal the whole (dim, global, meanstd)" {
	setup_data
	setup_shards
	for m in dim global meanstd; do
		for s in s1 s2 s3; do vsqbounds -q --mode $m --partial -o $s.$m $s.vt; done
		vsqbounds -q --mode $m --partial -o whole.$m x.vt
		vmerge -q -o merged.$m s2.$m s3.$m s1.$m
		vsqbounds -q -o fm.$m merged.$m
		vsqbounds -q -o fw.$m whole.$m
		cmp fm.$m fw.$m
		vsqbounds -q --mode $m -o direct.$m x.vt
		run -0 bash -c "set -eo pipefail; vcat --to text direct.$m; echo; vcat --to text fm.$m"
		assert_equal "${lines[0]} ${lines[1]}" "${lines[2]} ${lines[3]}"
		# the rows of the partial forms are the same bytes
		run -0 bash -c "set -eo pipefail; vcat --to text merged.$m | md5sum; vcat --to text whole.$m | md5sum"
		assert_equal "${lines[0]}" "${lines[1]}"
	done
}

@test "vsqbounds: several partials, as files or concatenated, finalise as vmerge then vsqbounds" {
	setup_shards
	for s in s1 s2 s3; do vsqbounds -q --mode quantile --partial -o $s.q $s.vt; done
	run -0 bash -c 'set -o pipefail; vmerge -q s1.q s2.q s3.q | vsqbounds -q -o a.sq'
	vsqbounds -q -o b.sq s3.q s1.q s2.q
	run -0 bash -c 'set -o pipefail; cat s2.q s1.q s3.q | vsqbounds -q -o c.sq'
	cmp a.sq b.sq
	cmp a.sq c.sq
	run -0 vcat --info a.sq
	assert_line "meta.mode: quantile"
	assert_line "meta.form: bounds"
	assert_line "rows: 2"
}

@test "vsqbounds: --metric cosine bounds the normalised rows" {
	need_numpy
	setup_data
	vsqbounds -q --metric cosine -o b.sq x.vt
	TOL=1e-6 check_bounds b.sq 'y = x / np.linalg.norm(x, axis=1, keepdims=True); lo, hi = y.min(0), y.max(0)'
	run -0 vcat --info b.sq
	assert_line "meta.metric: cosine"
}

@test "vsqbounds: -c bounds the residuals to the nearest centroid" {
	need_numpy
	setup_data
	vkmeans -q -k 12 --seed 1 -o c.vt x.vt
	vcat --to npy -o c.npy c.vt
	vsqbounds -q -c c.vt -o b.sq x.vt
	check_bounds b.sq "
x32 = np.load('x.npy'); c = np.load('c.npy')
lab = ((x[:, None, :] - c[None, :, :].astype(np.float64)) ** 2).sum(-1).argmin(1)
r = (x32 - c[lab]).astype(np.float64)
lo, hi = r.min(0), r.max(0)"
	run -0 vcat --info b.sq
	assert_line --regexp '^meta.centroids_id: [0-9a-f]{16}$'
	# partials against other centroids do not merge
	vkmeans -q -k 12 --seed 2 -o c2.vt x.vt
	vsqbounds -q -c c.vt --partial -o p1.sq x.vt
	vsqbounds -q -c c2.vt --partial -o p2.sq x.vt
	run -1 --separate-stderr vmerge -o m.sq p1.sq p2.sq
	assert_err "p2.sq: cannot be merged with p1.sq"
	assert_err "centroids_id"
	assert_no_leftovers m.sq
}

@test "vsqbounds: -c gives the same bounds with the search index forced and with brute force (k = 4096)" {
	setup_large_k
	for mode in dim meanstd; do
		run -0 --separate-stderr env VT_NEAREST=search vsqbounds -v -c c.vt --mode $mode -o search.sq x.vt
		assert_err_regex 'vsqbounds: residuals: nearest: mode=search k=4096 d=16 .* certified=(9[0-9]|100)\.[0-9]+% round1=[1-9]'
		VT_NEAREST=brute vsqbounds -q -c c.vt --mode $mode -o brute.sq x.vt
		cmp search.sq brute.sq
	done
}

@test "vsqbounds: rows with a NaN or an infinity are dropped and counted" {
	need_numpy
	"$PY" -c "
import numpy as np
x = np.arange(12, dtype=np.float32).reshape(4, 3)
np.save('x.npy', x)
x = np.insert(x, 2, [1.0, np.nan, 2.0], axis=0)
x = np.insert(x, 0, [np.inf, 0.0, 0.0], axis=0)
np.save('nan.npy', x)"
	run -0 --separate-stderr vsqbounds -o b.sq nan.npy
	assert_err "rows=6 dropped=2"
	check_bounds b.sq 'lo, hi = x.min(0), x.max(0)'
	run -0 vcat --info b.sq
	assert_line "meta.vsqbounds.dropped: 2"
	"$PY" -c "
import numpy as np
np.save('allnan.npy', np.full((2, 3), np.nan, dtype=np.float32))"
	run -1 --separate-stderr vsqbounds -o b2.sq allnan.npy
	assert_err "allnan.npy: no finite rows to bound"
	assert_no_leftovers b2.sq
}

@test "vsqbounds: usage errors print nothing on stdout and exit 2" {
	setup_data
	run -2 --separate-stderr vsqbounds --mode median x.vt
	assert_usage_error vsqbounds "--mode: 'median' is not global, dim, meanstd or quantile"
	run -2 --separate-stderr vsqbounds --mode dim --r 2 x.vt
	assert_usage_error vsqbounds "--r is for --mode meanstd"
	run -2 --separate-stderr vsqbounds --mode meanstd --quantile 0.01 x.vt
	assert_usage_error vsqbounds "--quantile is for --mode quantile"
	run -2 --separate-stderr vsqbounds --mode quantile --quantile 0.7 x.vt
	assert_usage_error vsqbounds "--quantile"
	run -2 --separate-stderr vsqbounds --mode quantile --sketch-k 4 x.vt
	assert_usage_error vsqbounds "--sketch-k"
	run -2 --separate-stderr vsqbounds --mode meanstd --r -1 x.vt
	assert_usage_error vsqbounds "--r"
	run -2 --separate-stderr vsqbounds --bogus x.vt
	assert_usage_error vsqbounds "unknown option"
	vsqbounds -q --partial --mode meanstd -o p.sq x.vt
	run -2 --separate-stderr vsqbounds --partial p.sq
	assert_usage_error vsqbounds "merge them with vmerge"
	run -2 --separate-stderr vsqbounds --mode dim p.sq
	assert_usage_error vsqbounds "--mode dim, but p.sq holds meanstd statistics"
	run -2 --separate-stderr vsqbounds -c x.vt p.sq
	assert_usage_error vsqbounds "-c applies to vectors, and p.sq holds SQ statistics"
	# --metric confirms the statistics' metric
	run -1 --separate-stderr vsqbounds --metric=cosine p.sq
	assert_err "vsqbounds: p.sq: made with metric=l2, but --metric=cosine was given"
}

@test "vsqbounds: a truncated input fails naming it and leaves no output" {
	setup_data
	head -c 3000 x.vt >cut.vt
	run -1 --separate-stderr vsqbounds -o b.sq cut.vt
	assert_output ''
	assert_err "cut.vt"
	assert_err "truncated"
	assert_no_leftovers b.sq
	vsqbounds -q --mode quantile --partial -o p.sq x.vt
	head -c $(($(stat -c %s p.sq) - 10)) p.sq >pcut.sq
	run -1 --separate-stderr vsqbounds -o b.sq pcut.sq
	assert_err "pcut.sq"
	assert_err "truncated"
	assert_no_leftovers b.sq
}

@test "vsqbounds: wrong kinds, final bounds as partials, dimensions, centroids" {
	setup_data
	vkmeans -q -k 4 -o c.vt x.vt
	run -1 --separate-stderr vsqbounds -o b.sq c.vt
	assert_err "c.vt: is a centroids stream; vsqbounds reads vectors or SQ statistics"
	assert_no_leftovers b.sq
	vsqbounds -q --mode meanstd -o final.sq x.vt
	run -1 --separate-stderr vsqbounds -o b.sq final.sq
	assert_err "final.sq: holds final meanstd bounds, which cannot be merged"
	vgen -n 10 -d 3 -o y.vt
	run -1 --separate-stderr vsqbounds -c c.vt y.vt
	assert_err "c.vt: centroids have dimension 6, but y.vt has 3"
	run -1 --separate-stderr vsqbounds -o b.sq missing.vt
	assert_err "missing.vt: No such file or directory"
	vsqbounds -q --mode meanstd --partial -o p6.sq x.vt
	vsqbounds -q --mode meanstd --partial -o p3.sq y.vt
	run -1 --separate-stderr vsqbounds -o b.sq p6.sq p3.sq
	assert_err "dimension"
	assert_no_leftovers b.sq
}
