#!/usr/bin/env bats
# The dot metric (inner product; FAISS's METRIC_INNER_PRODUCT, Lance's
# "dot") across the programs: spherical k-means in vkmeans and vrefine,
# unit-norm centroids recorded as metric=dot, followed by every program
# given the model, refused when they are not of unit norm, and the ip= of
# vloss.  (The spherical update itself: tests/unit/test_kmeans.c.)

load helpers

# x.vt: 3000 x 8 rows around 20 means (spread 3, so the rows' norms vary
# and the largest inner product is not the nearest row's mean).
make_data() {
	vgen -q -n 3000 -d 8 --means 20 --spread 3 --seed 7 -o x.vt
}

# bad_norms FILE: the number of rows of the centroids FILE whose L2 norm is
# off 1 by more than 1e-6.
bad_norms() {
	vcat --to text "$1" | awk '{s = 0; for (i = 3; i <= NF; i++) s += $i * $i;
		if (sqrt(s) < 1 - 1e-6 || sqrt(s) > 1 + 1e-6) bad++} END {print bad + 0}'
}

@test "dot: --help of every program with --metric lists dot" {
	for p in vsample vkmeans vrefine vloss vpq vsqbounds vassign; do
		run -0 "$p" --help
		assert_output --regexp "--metric=METRIC +l2(,| \(default\),) cosine"
		assert_output --partial "or dot"
	done
}

@test "dot: vkmeans --metric=dot writes unit centroids, records metric=dot, flat and hierarchical" {
	make_data
	run -0 --separate-stderr vkmeans -k 16 --metric=dot --seed 1 -o c.vt x.vt
	assert_err "k=16 n=3000 d=8 flat"
	run -0 meta metric c.vt
	assert_output dot
	run -0 bad_norms c.vt
	assert_output 0
	vkmeans -q -k 300 --metric=dot --seed 1 -o h.vt x.vt
	run -0 meta vkmeans.mode h.vt
	assert_output hierarchical
	run -0 meta metric h.vt
	assert_output dot
	run -0 bad_norms h.vt
	assert_output 0
	# an L2 run of the same rows is not on the sphere
	vkmeans -q -k 16 --seed 1 -o l2.vt x.vt
	run -0 bad_norms l2.vt
	assert_output 16
}

@test "dot: spherical k-means is deterministic: the same seed, the same bytes on -j1 and -j2" {
	make_data
	vkmeans -q -k 16 --metric=dot --seed 3 -j 1 -o a.vt x.vt
	vkmeans -q -k 16 --metric=dot --seed 3 -j 2 -o b.vt x.vt
	cmp a.vt b.vt
	vkmeans -q -k 16 --metric=dot --seed 4 -j 2 -o c.vt x.vt
	run -1 cmp -s a.vt c.vt
	vkmeans -q -k 300 --metric=dot --seed 3 -j 1 -o h1.vt x.vt
	vkmeans -q -k 300 --metric=dot --seed 3 -j 2 -o h2.vt x.vt
	cmp h1.vt h2.vt
}

@test "dot: the centroids are the unit means of their members, and the labels the largest inner products" {
	need_numpy
	make_data
	vkmeans -q -k 12 --metric=dot --iters 100 --tol 0 --seed 1 -o c.vt x.vt
	vassign -q -c c.vt -o lab.vt x.vt
	vcat --to npy -o c.npy c.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o lab.npy lab.vt
	run -0 "$PY" -c "
import numpy as np
C = np.load('c.npy').astype(np.float64); X = np.load('x.npy').astype(np.float64)
P = np.load('lab.partitions.npy')[:, 0]
ip = X @ C.T
print('argmax', bool((ip.argmax(1) == P).all()))
S = np.array([X[P == j].sum(0) for j in range(len(C))])
U = S / np.linalg.norm(S, axis=1, keepdims=True)
print('fixed point', bool(np.abs(U - C).max() < 1e-5))
"
	assert_line "argmax True"
	assert_line "fixed point True"
}

@test "dot: vloss reports ip= and ip_mean= of a dot model, exact against numpy; none for l2" {
	need_numpy
	make_data
	vkmeans -q -k 16 --metric=dot -o c.vt x.vt
	run -0 vloss -c c.vt x.vt
	assert_output --regexp ' imbalance=[0-9.e+-]+ ip=[0-9.e+-]+ ip_mean=[0-9.e+-]+$'
	ip=$(kv ip "$output")
	ipm=$(kv ip_mean "$output")
	loss=$(kv loss "$output")
	run -0 vloss --json -c c.vt x.vt
	assert_output --regexp '"ip": [0-9.e+-]+, "ip_mean": [0-9.e+-]+\}$'
	vcat --to npy -o c.npy c.vt
	vcat --to npy -o x.npy x.vt
	# ip = sum_x max_c <x, c>; loss = sum ||x||^2 + ||c||^2 - 2 <x, c>
	run -0 "$PY" -c "
import numpy as np
C = np.load('c.npy').astype(np.float64); X = np.load('x.npy').astype(np.float64)
ipx = (X @ C.T).max(1)
ip, ipm, loss = $ip, $ipm, $loss
print(abs(ip - ipx.sum()) <= 1e-6 * abs(ipx.sum()), abs(ipm - ipx.mean()) <= 1e-6 * abs(ipx.mean()))
a = (X @ C.T).argmax(1)
ref = ((X ** 2).sum(1) + (C[a] ** 2).sum(1) - 2 * ipx).sum()
print(abs(loss - ref) <= 1e-6 * ref)
"
	assert_output "True True
True"
	# l2 models: the line as before
	vkmeans -q -k 16 -o l2.vt x.vt
	run -0 vloss -c l2.vt x.vt
	refute_output --partial 'ip='
}

@test "dot: vloss --partial: accumulators with -c give the same report; without -c no ip" {
	make_data
	vkmeans -q -k 16 --metric=dot -o c.vt x.vt
	vcat --rows 0:1000 -o a.vt x.vt
	vcat --rows 1000: -o b.vt x.vt
	vloss -c c.vt --partial -o a.acc a.vt
	vloss -c c.vt --partial -o b.acc b.vt
	run -0 meta metric a.acc
	assert_output dot
	whole=$(vloss -c c.vt x.vt)
	run -0 vloss -c c.vt a.acc b.acc
	ipw=$(kv ip "$whole")
	ips=$(kv ip "$output")
	# the shards' sums add to the whole's in double, within rounding
	run -0 "$PY" -c "print(abs($ipw - $ips) <= 1e-9 * abs($ipw))"
	assert_output True
	run -0 vloss a.acc b.acc
	refute_output --partial 'ip='
}

@test "dot: vrefine is a spherical Lloyd pass: unit centroids, no more loss, no less ip; --partial/--apply agree" {
	make_data
	vkmeans -q -k 16 --metric=dot --iters 2 --seed 1 -o c.vt x.vt
	run -0 --separate-stderr vrefine -c c.vt -o r.vt x.vt
	pass=$(kv loss "$stderr")
	run -0 meta metric r.vt
	assert_output dot
	run -0 bad_norms r.vt
	assert_output 0
	before=$(vloss -c c.vt x.vt)
	after=$(vloss -c r.vt x.vt)
	run -0 "$PY" -c "print($(kv loss "$after") <= $pass * (1 + 1e-6), $(kv ip "$after") >= $(kv ip "$before") * (1 - 1e-9))"
	assert_output "True True"
	vcat --rows 0:1000 -o a.vt x.vt
	vcat --rows 1000: -o b.vt x.vt
	vrefine -q -c c.vt --partial -o a.acc a.vt
	vrefine -q -c c.vt --partial -o b.acc b.vt
	vrefine -q -c c.vt --apply -o ra.vt a.acc b.acc
	cmp r.vt ra.vt
}

@test "dot: vpq, vsqbounds and vassign follow the model's metric, with residuals to the dot-assigned centroid" {
	need_numpy
	make_data
	vkmeans -q -k 16 --metric=dot -o c.vt x.vt
	vpq -q -c c.vt -m 2 --nbits 4 -o pq.vt x.vt
	vsqbounds -q -c c.vt -o sq.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o lab.vt x.vt
	for f in pq.vt sq.vt lab.vt; do
		run -0 meta metric "$f"
		assert_output dot
	done
	run -0 --separate-stderr vassign -c c.vt --sq sq.vt -o slab.vt x.vt
	assert_err "metric=dot"
	# the SQ bounds are those of x - c(x), c(x) the largest inner product
	vcat --to npy -o c.npy c.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o sq.npy sq.vt
	run -0 "$PY" -c "
import numpy as np
C = np.load('c.npy'); X = np.load('x.npy'); S = np.load('sq.npy')
a = (X.astype(np.float64) @ C.T.astype(np.float64)).argmax(1)
R = X - C[a]
print(np.array_equal(S[0], R.min(0)), np.array_equal(S[1], R.max(0)))
"
	assert_output "True True"
}

@test "dot: a metric that disagrees with the model is an error naming both" {
	make_data
	vkmeans -q -k 8 --metric=dot -o c.vt x.vt
	vkmeans -q -k 8 -o l2.vt x.vt
	run -1 --separate-stderr vloss -c c.vt --metric=l2 x.vt
	assert_output ''
	assert_err "vloss: c.vt: made with metric=dot, but --metric=l2 was given"
	run -1 --separate-stderr vrefine -c l2.vt --metric=dot -o r.vt x.vt
	assert_err "vrefine: l2.vt: made with metric=l2, but --metric=dot was given"
	assert_file_not_exists r.vt
	# a sample made for cosine, and a dot model
	vsample -q -m 500 --metric=cosine -o s.vt x.vt
	for p in vloss vpq vsqbounds vassign; do
		case $p in
		vpq) args=(-m 2 --nbits 2) ;;
		*) args=() ;;
		esac
		run -1 --separate-stderr "$p" -c c.vt "${args[@]}" -o out.vt s.vt
		assert_err "$p: c.vt: made with metric=dot, but s.vt was made with metric=cosine (vsample.metric)"
	done
	# a dot model and a PQ codebook of an l2 run
	vpq -q -c l2.vt -m 2 --nbits 2 -o pq2.vt x.vt
	run -1 --separate-stderr vassign -c c.vt --pq pq2.vt -o out.vt x.vt
	assert_err "vassign: pq2.vt:"
	run -2 --separate-stderr vkmeans -k 4 --metric=ip x.vt
	assert_usage_error vkmeans "--metric: 'ip' is not l2, cosine or dot"
}

@test "dot: centroids not of unit norm are refused by every program that takes a dot model" {
	make_data
	vkmeans -q -k 8 -o l2.vt x.vt
	vcat --to npy -o l2.npy l2.vt
	for p in vloss vrefine vpq vsqbounds vassign; do
		case $p in
		vpq) args=(-m 2 --nbits 2) ;;
		*) args=() ;;
		esac
		run -1 --separate-stderr "$p" -c l2.npy "${args[@]}" --metric=dot -o out.vt x.vt
		assert_output ''
		assert_err_regex "^$p: l2.npy: centroid 0 has norm [0-9.]+; metric=dot needs unit-norm centroids \(vkmeans --metric=dot makes them\)"
		assert_file_not_exists out.vt
	done
	# the metric recorded by the input fixes it too
	vsample -q -m 500 --metric=dot -o s.vt x.vt
	run -1 --separate-stderr vloss -c l2.npy s.vt
	assert_err "vloss: l2.npy: centroid 0 has norm"
	# unit rows within 1e-4 pass
	vkmeans -q -k 8 --metric=dot -o c.vt x.vt
	vcat --to npy -o c.npy c.vt
	run -0 vloss -c c.npy --metric=dot x.vt
	assert_output --partial ' ip='
}

@test "dot: a sample made with --metric=dot trains dot models through vcoreset and vmerge without --metric" {
	make_data
	vsample -q -k 16 --metric=dot -o s.vt x.vt
	run -0 meta vsample.metric s.vt
	assert_output dot
	vcoreset -q -k 16 --budget 200 -o cs.vt s.vt
	vmerge -q --budget 100 -o m.vt cs.vt
	run -0 meta metric m.vt
	assert_output dot
	vkmeans -q -o c.vt m.vt
	run -0 meta metric c.vt
	assert_output dot
	run -0 bad_norms c.vt
	assert_output 0
	run -0 vloss -c c.vt s.vt
	assert_output --partial ' ip='
}

@test "dot: stream-train.mk METRIC=dot trains dot models end to end" {
	make_data
	run -0 make -s -f "$BATS_TEST_DIRNAME/../pipelines/stream-train.mk" DATA=x.vt K=16 OUT=out \
		BIN="$VT_BIN" SAMPLE_RATE=64 STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 METRIC=dot
	for f in ivf pq sq; do
		run -0 meta metric "out/$f.vt"
		assert_output dot
	done
	run -0 bad_norms out/ivf.vt
	assert_output 0
	run -0 grep -c ' ip=' out/report.txt
}

@test "dot: FAISS (IndexFlatIP, IVF with METRIC_INNER_PRODUCT) takes vtrain's dot models: the same partitions and codes" {
	need_numpy
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
	make_data
	vkmeans -q -k 16 --metric=dot -o c.vt x.vt
	vpq -q -c c.vt -m 4 --nbits 8 --sample 3000 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o lab.vt x.vt
	for f in c pq x lab; do vcat --to npy -o "$f.npy" "$f.vt"; done
	run -0 env OMP_NUM_THREADS=1 "$PY" -c "
import numpy as np, faiss
C = np.load('c.npy'); B = np.load('pq.npy'); X = np.load('x.npy')
P = np.load('lab.partitions.npy')[:, 0]; codes = np.load('lab.codes.npy')
k, d = C.shape; M, ksub, _ = B.shape
q = faiss.IndexFlatIP(d); q.add(C)
flat = faiss.IndexIVFFlat(q, d, k, faiss.METRIC_INNER_PRODUCT)
flat.is_trained = True
_, I = q.search(X, 1)
# FAISS ranks float inner products, vassign exact distances: they may differ
# only where two inner products tie within float rounding
G = X.astype(np.float64) @ C.T.astype(np.float64)
diff = np.nonzero(I[:, 0] != P)[0]
gap = np.abs(G[diff, I[diff, 0]] - G[diff, P[diff]])
print('partitions', bool((gap <= 1e-5 * np.abs(G[diff]).max(1)).all()), len(diff) <= 3)
ivfpq = faiss.IndexIVFPQ(q, d, k, M, int(np.log2(ksub)), faiss.METRIC_INNER_PRODUCT)
faiss.copy_array_to_vector(B.ravel(), ivfpq.pq.centroids)
ivfpq.is_trained = True
print('codes', bool((ivfpq.pq.compute_codes(np.ascontiguousarray(X - C[P])) == codes).all()))
# all lists probed: the exact maximum inner product search over the rows
flat.add(X); flat.nprobe = k
D, J = flat.search(X[:50], 1)
print('search', bool(np.allclose(D[:, 0], (X[:50].astype(np.float64) @ X.T.astype(np.float64)).max(1), rtol=1e-5)))
"
	assert_line "partitions True True"
	assert_line "codes True"
	assert_line "search True"
}

@test "dot: accumulators of another metric against the same centroids are refused, merged or concatenated" {
	make_data
	vkmeans -q -k 16 --metric=dot --iters 2 --seed 1 -o c.vt x.vt
	vcat --to npy -o c.npy c.vt
	vcat --rows 0:1000 -o a.vt x.vt
	vcat --rows 1000: -o b.vt x.vt
	vrefine -q -c c.npy --metric=l2 --partial -o a.acc a.vt
	vrefine -q -c c.npy --metric=dot --partial -o b.acc b.vt
	run -1 vmerge -o m.acc a.acc b.acc
	assert_output "vmerge: b.acc: accumulators made with metric=dot, a.acc with metric=l2"
	assert_file_not_exists m.acc
	run -1 vrefine -c c.npy --apply -o r.vt a.acc b.acc
	assert_output --partial "b.acc: accumulators made with metric=dot, but the first input with metric=l2"
	assert_file_not_exists r.vt
	run -1 bash -c "cat a.acc b.acc | '$VT_BIN/vrefine' -c c.npy --apply -o r.vt"
	assert_output --partial "accumulators made with metric=dot, but the first input with metric=l2"
	run -1 vloss -c c.npy a.acc b.acc
	assert_output --partial "metric=dot"
	# one metric merges as before
	vrefine -q -c c.npy --metric=dot --partial -o a2.acc a.vt
	run -0 vmerge -o m.acc a2.acc b.acc
}
