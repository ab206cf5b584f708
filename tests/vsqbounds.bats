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

@test "vsqbounds: quantile is numpy's exact one at level 0, and says how it was made" {
	need_numpy
	vgen -n 150 -d 6 --means 12 --seed 5 -o x.vt
	vcat --to npy -o x.npy x.vt
	run -0 --separate-stderr vsqbounds --mode quantile --quantile 0.05 -o b.sq x.vt
	output=$stderr refute_output --partial warning
	check_bounds b.sq "lo, hi = np.quantile(x, 0.05, axis=0, method='inverted_cdf'), np.quantile(x, 0.95, axis=0, method='inverted_cdf')"
	run -0 vcat --info b.sq
	assert_line "meta.quantile: 0.050000000000000003"
	assert_line "meta.quantile_exact: yes"
	assert_line "meta.quantile_level: 0"
	assert_line "meta.sketch: subsampled-tails"
	assert_line "meta.tail: 8192"
	assert_line "meta.sketch_quantile: 0.050000000000000003"
	assert_line "meta.seed: 1"
	refute_line --partial "sketch_k"
	# a partial form says the same, and its bounds default to its quantile
	vsqbounds -q --mode quantile --quantile 0.05 --partial -o p.q x.vt
	run -0 vcat --info p.q
	assert_line "meta.form: partial"
	assert_line "meta.sketch_quantile: 0.050000000000000003"
	vsqbounds -q -o b2.sq p.q
	cmp <(vcat --to raw b.sq) <(vcat --to raw b2.sq)
	run -0 vcat --info b2.sq
	assert_line "meta.quantile: 0.050000000000000003"
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

# check_ranks Q FILE...: each FILE holds bounds at Q of x.npy within 0.1 Q
# in rank: vmin between numpy's exact Q(0.9 Q) and Q(1.1 Q), vmax between
# Q(1 - 1.1 Q) and Q(1 - 0.9 Q) (method inverted_cdf); prints the worst rank
# error in units of Q n.
check_ranks() {
	local q=$1 f
	shift
	for f in "$@"; do vcat --to text "$f" >"$f.txt"; done
	run -0 "$PY" -c "
import sys
import numpy as np
q = $q
x = np.load('x.npy').astype(np.float64)
n = len(x)
Q = lambda p: np.quantile(x, p, axis=0, method='inverted_cdf')
worst = 0
for f in sys.argv[1:]:
    b = np.loadtxt(f + '.txt', ndmin=2)
    assert (Q(0.9 * q) <= b[0]).all() and (b[0] <= Q(1.1 * q)).all(), (f, 'vmin', b[0])
    assert (Q(1 - 1.1 * q) <= b[1]).all() and (b[1] <= Q(1 - 0.9 * q)).all(), (f, 'vmax', b[1])
    for row, p in ((0, q), (1, 1 - q)):
        r = np.ceil(p * n)
        below, le = (x < b[row]).sum(0), (x <= b[row]).sum(0)
        worst = max(worst, (np.maximum(np.maximum(below + 1 - r, r - le), 0) / (q * n)).max())
print('ok %.4f' % worst)" "$@"
	assert_output --regexp '^ok '
	echo "# q=$q: worst rank error $output" >&3
}

@test "vsqbounds: beyond the exact range (level >= 1), bounds at 0.001, 0.01 and 0.05 are within 0.1 q of numpy's, whole and merged from uneven shards" {
	need_numpy
	# 3.1M rows and --tail 4000 (K = 3000 < ceil(q n) + 1 at every q), so
	# levels 1, 4 and 6 for q = 0.001, 0.01 and 0.05, and each bound comes
	# from position >= 1550 of its subsample: its rank has a relative
	# standard deviation of at most 2.2% (1.8% at q = 0.001), so 0.1 q is
	# at least 4.5 of them (5.6 at q = 0.001).  The default tail keeps 0.1 q
	# at 5.5 of them at worst; this one keeps the test to seconds.
	vgen -q -n 3100000 -d 3 --means 40 --seed 8 --ids -o x.vt
	vcat --to npy -o x.npy x.vt
	vcat --rows 0:7 -o s1.vt x.vt
	vcat --rows 7:1000000 -o s2.vt x.vt
	vcat --rows 1000000: -o s3.vt x.vt
	# the same shards without ids: a row's id is its index in its own file
	for s in s1 s2 s3; do vcat --to npy -o $s.npy $s.vt; done
	local q
	local -A level=([0.001]=1 [0.01]=4 [0.05]=6)
	for q in 0.001 0.01 0.05; do
		run -0 --separate-stderr vsqbounds --mode quantile --quantile $q --tail 4000 -o b.sq x.vt
		output=$stderr refute_output --partial warning
		run -0 vcat --info b.sq
		assert_line "meta.quantile_exact: no"
		assert_line "meta.quantile_level: ${level[$q]}"
		for s in s1 s2 s3; do
			vsqbounds -q --mode quantile --quantile $q --tail 4000 --partial -o $s.q $s.vt
			vsqbounds -q --mode quantile --quantile $q --tail 4000 --partial -o $s.nq $s.npy
		done
		run -0 --separate-stderr vsqbounds -o m.sq s3.q s1.q s2.q
		output=$stderr refute_output --partial warning
		vmerge -q s2.nq s3.nq s1.nq | vsqbounds -q -o n.sq
		# with ids, the shards' subsample is the whole's: the same bounds
		cmp <(vcat --to raw b.sq) <(vcat --to raw m.sq)
		# without, another subsample: within the same error
		check_ranks $q b.sq n.sq
	done
}

@test "vsqbounds: statistics made for one quantile, bounds at another: exact at level 0, else warned" {
	need_numpy
	vgen -q -n 60000 -d 12 --means 40 --seed 8 -o x.vt
	# --tail 512, q = 0.01: level 1, the bounds at position 301 of 512
	vsqbounds -q --mode quantile --quantile 0.01 --tail 512 --partial -o p.q x.vt
	run -0 --separate-stderr vsqbounds -o b.sq p.q
	output=$stderr refute_output --partial warning
	run -0 vcat --info b.sq
	assert_line "meta.quantile: 0.01"
	assert_line "meta.quantile_level: 1"
	# a smaller q: from an earlier position, with its larger error said
	run -0 --separate-stderr vsqbounds --quantile 0.002 -o b.sq p.q
	assert_err "warning: the statistics were made for --quantile 0.01; at 0.002 the rank of a bound has a standard deviation of 9.1% of q x 60000 (from position 60 of a 1/2^1 subsample); make them with --quantile 0.002 for the stated accuracy"
	# a larger one: beyond the kept tails; the last kept value, said
	run -0 --separate-stderr vsqbounds --quantile 0.05 -o b.sq p.q
	assert_err "warning: the 0.05-quantile of 60000 values is at position 1500 of the lower tail of a 1/2^1 subsample, but 12 of 12 dimensions keep fewer values there, so their bound is the last value kept; make the statistics with --quantile 0.05"
	assert_err "warning: the 0.95-quantile"
	run -0 vcat --info b.sq
	assert_line "meta.quantile_exact: no"
	# -q says nothing
	run -0 --separate-stderr vsqbounds -q --quantile 0.05 -o b.sq p.q
	assert_equal "$stderr" ""
}

@test "vsqbounds: rows sorted by value can leave a tail short of the bound, and that is said" {
	need_numpy
	# 200,000 rows, increasing in dimension 0; --tail 256, q = 0.01: level
	# 4.  The lower tail of dimension 0 keeps what came first, and every
	# level rise halves it with nothing after to refill it.
	"$PY" -c "
import numpy as np
r = np.random.default_rng(3)
x = r.normal(size=(200000, 2)).astype(np.float32)
x[:, 0].sort()
np.save('x.npy', x)"
	run -0 --separate-stderr vsqbounds --mode quantile --quantile 0.01 --tail 256 -o b.sq x.npy
	assert_err "warning: the 0.01-quantile of 200000 values is at position 125 of the lower tail of a 1/2^4 subsample, but 1 of 2 dimensions keep fewer values there, so their bound is the last value kept; a larger --tail keeps more, and so do rows in an order unrelated to their values"
	output=$stderr refute_output --partial "0.99-quantile"
	run -0 vcat --info b.sq
	assert_line "meta.quantile_exact: no"
	# the last value kept is further out: it clips less than asked
	vcat --to text b.sq >b.txt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy').astype(np.float64)
b = np.loadtxt('b.txt')
print(b[0, 0] < np.quantile(x[:, 0], 0.01, method='inverted_cdf'))"
	assert_output True
	# the same rows in another order: no warning
	"$PY" -c "
import numpy as np
x = np.load('x.npy')
np.random.default_rng(4).shuffle(x)
np.save('y.npy', x)"
	run -0 --separate-stderr vsqbounds --mode quantile --quantile 0.01 --tail 256 -o b.sq y.npy
	output=$stderr refute_output --partial warning
}

@test "vsqbounds: --tail is for quantile statistics as they are made" {
	setup_data
	run -2 --separate-stderr vsqbounds --mode dim --tail 100 x.vt
	assert_usage_error vsqbounds "--tail is for --mode quantile"
	run -2 --separate-stderr vsqbounds --mode quantile --tail 63 x.vt
	assert_usage_error vsqbounds "--tail: '63' is not a whole number from 64 to 16777216"
	vsqbounds -q --mode quantile --partial --tail 64 -o p.q x.vt
	run -2 --separate-stderr vsqbounds --tail 128 p.q
	assert_usage_error vsqbounds "--tail sizes the statistics as they are made; p.q holds them already"
	# partials of another tail, quantile or seed do not merge
	vsqbounds -q --mode quantile --partial --tail 128 -o p2.q x.vt
	run -1 --separate-stderr vmerge -o m.q p.q p2.q
	assert_output ''
	assert_err "p2.q: statistics of tail 128, quantile 0.001 and seed 1, but the first input's have tail 64, quantile 0.001 and seed 1; they do not merge"
	assert_no_leftovers m.q
	vsqbounds -q --mode quantile --partial --tail 64 --quantile 0.01 -o p3.q x.vt
	run -1 --separate-stderr vsqbounds -o b.sq p.q p3.q
	assert_err "p3.q: statistics of tail 64, quantile 0.01 and seed 1"
	vsqbounds -q --mode quantile --partial --tail 64 --seed 2 -o p4.q x.vt
	run -1 --separate-stderr vsqbounds -o b.sq p.q p4.q
	assert_err "p4.q: statistics of tail 64, quantile 0.001 and seed 2"
	assert_no_leftovers b.sq
	# partials of the same parameters merge, and keep them
	vsqbounds -q --mode quantile --partial --tail 64 -o p5.q x.vt
	vmerge -q -o m.q p.q p5.q
	run -0 vcat --info m.q
	assert_line "meta.tail: 64"
	run -0 vsqbounds --quantile 0.01 -o b.sq m.q
	assert_output --partial "mode=quantile values=6000"
	run -0 vcat --info b.sq
	assert_line "meta.quantile_exact: yes"
}

@test "vsqbounds: corrupt quantile statistics are refused, naming the row and what is wrong" {
	need_xxhash
	vgen -q -n 20000 -d 3 --means 4 --seed 3 -o x.vt
	# --tail 256, q = 0.01: level 1; rows: 0 the mark, 6 the level, 7 the
	# lower tail's counts, 15 on its values (docs/FORMAT.md)
	vsqbounds -q --mode quantile --quantile 0.01 --tail 256 --partial -o p.q x.vt
	run -0 vcat --info p.q
	assert_line "codecs: none=1 lz4=0 lz4-shuffle=0"
	vsqbounds -q -o ok.sq p.q
	vtcraft poke p.q level.q data 6 2
	run -1 --separate-stderr vsqbounds -o b.sq level.q
	assert_output ''
	assert_err "vsqbounds: level.q: SQ statistics 1 (row 0): row 6: level 2, but n = 20000, tail 256 and quantile 0.01 give level 1"
	assert_no_leftovers b.sq
	vtcraft poke p.q count.q data 7 257
	run -1 --separate-stderr vmerge -o m.q p.q count.q
	assert_err "count.q: SQ statistics 1 (row 0): row 7, column 0: 257 lower elements, not a count of at most the tail 256"
	assert_no_leftovers m.q
	vtcraft poke p.q unsorted.q data 16 -1048576
	run -1 --separate-stderr vsqbounds -o b.sq unsorted.q
	assert_err "unsorted.q: SQ statistics 1 (row 0): rows 16, "
	assert_err "column 0: the lower tail is not sorted (increasing values, then tz decreasing on ties)"
	vtcraft poke p.q notfloat.q data 16 0.1
	run -1 --separate-stderr vsqbounds -o b.sq notfloat.q
	assert_err "row 16, column 0: lower element 0.10000000000000001 is not a finite float32"
	vtcraft poke p.q mark.q data 0 20000
	run -1 --separate-stderr vsqbounds -o b.sq mark.q
	assert_err "row 0 is not -2: not the subsampled tails of this version (an earlier vsqbounds wrote a KLL sketch there)"
	assert_no_leftovers b.sq
}

@test "vsqbounds: quantile statistics of an earlier version (a KLL sketch) are refused, saying so" {
	cp "$VT_FIXTURES/sq/kll-partial.vt" old.q
	run -1 --separate-stderr vsqbounds -o b.sq old.q
	assert_output ''
	assert_err "vsqbounds: old.q: quantile statistics of an earlier vsqbounds (a KLL sketch, sketch_k=200), which this version does not read; make them again with vsqbounds --mode quantile --partial"
	assert_no_leftovers b.sq
	vgen -q -n 100 -d 2 --seed 2 -o x.vt
	vsqbounds -q --mode quantile --partial -o new.q x.vt
	run -1 --separate-stderr vmerge -o m.q new.q old.q
	assert_err "old.q: quantile statistics of an earlier vsqbounds (a KLL sketch"
	assert_no_leftovers m.q
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
	run -2 --separate-stderr vsqbounds --mode quantile --sketch-k 200 x.vt
	assert_usage_error vsqbounds "unknown option"
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
