#!/usr/bin/env bats
# The pipelines of pipelines/: streaming IVF training with make.

load helpers

MK="$VT_TESTS_DIR/../pipelines/stream-train.mk"

train() { # train OUT [make args...]
	local out=$1
	shift
	make -s -f "$MK" DATA=x.vt K=16 OUT="$out" BIN="$VT_BIN" SAMPLE_RATE=64 STREAM_RATE=16 \
		CORESET_RATE=8 PQ_M=4 NBITS=6 "$@"
}

@test "stream-train.mk: sample, coresets, merge, vkmeans, refine and report" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	run -0 train out
	assert_file_exists out/ivf.vt
	assert_file_exists out/ivf.npy
	assert_file_exists out/report.txt
	assert_file_exists out/vkmeans.log
	# m = min(3000, 16 x 64) = 1024 rows in chunks of 256: 4 coresets.
	for i in 0 1 2 3; do assert_file_exists out/coreset-$i.vt; done
	assert_file_not_exists out/coreset-4.vt
	run -0 cat out/report.txt
	assert_line --index 0 --partial "n=3000 m=1024 k=16 chunks=4 chunk_rows=256"
	assert_line --index 1 --regexp '^loss=[0-9.e+]+ mean=[0-9.e+]+ n=1024 k=16 '
	run -0 vcat --info out/ivf.vt
	assert_line "kind: centroids"
	assert_line "rows: 16"
	assert_line "meta.vrefine.passes: 1"
	# The coreset's weights add up to the sample's rows.
	run -0 bash -c "set -o pipefail; vcat --to text out/coreset.vt | awk '{w += \$2} END {print w}'"
	assert_output 1024
	# One make call also leaves the PQ and SQ models and their exports.
	for f in pq.vt pq.npy sq.vt sq.npy; do assert_file_exists out/$f; done
	run -0 vcat --info out/pq.vt
	assert_line "kind: pq"
	assert_line "rows: 256"
	assert_line "meta.m: 4"
	assert_line "meta.nbits: 6"
	run -0 vcat --info out/sq.vt
	assert_line "kind: sq"
	run -0 /usr/bin/python3 -c "import numpy as np; print(np.load('out/pq.npy').shape, np.load('out/sq.npy').shape)"
	assert_output "(4, 64, 2) (2, 8)"
}

@test "stream-train.mk: the models load into FAISS as docs/INTEROP.md shows, and find their rows" {
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	train out >/dev/null
	vcat --to npy -o x.npy x.vt
	run -0 env OMP_NUM_THREADS=1 "$PY" -c "
import numpy as np, faiss
C, B, S = (np.load('out/' + f + '.npy') for f in ('ivf', 'pq', 'sq'))
xb = np.load('x.npy')
k, d = C.shape
M, ksub, dsub = B.shape
q = faiss.IndexFlatL2(d); q.add(C)
pq = faiss.IndexIVFPQ(q, d, k, M, int(np.log2(ksub)))
faiss.copy_array_to_vector(B.ravel(), pq.pq.centroids)
pq.is_trained = True
pq.precompute_table()
pq.add(xb)
pq.nprobe = 4
q2 = faiss.IndexFlatL2(d); q2.add(C)
sq = faiss.IndexIVFScalarQuantizer(q2, d, k, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2, False)
faiss.copy_array_to_vector(np.concatenate([S[0], S[1] - S[0]]).astype('float32'), sq.sq.trained)
sq.is_trained = True
sq.add(xb)
sq.nprobe = 4
for name, ix in (('ivfpq', pq), ('ivfsq', sq)):
    _, I = ix.search(xb[:200], 10)
    print(name, np.mean([i in I[i] for i in range(200)]) >= 0.9)
"
	assert_line "ivfpq True"
	assert_line "ivfsq True"
}

@test "stream-train.mk: pq and sq alone; a PQ_M that does not divide d fails with no model" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	run -0 train out sq
	assert_file_exists out/sq.vt
	assert_file_not_exists out/ivf.vt
	run ! train out pq PQ_M=3
	assert_output --partial "not divisible"
	assert_file_exists out/ivf.vt
	assert_file_not_exists out/pq.vt
}

@test "stream-train.mk: the same bytes for make -j1 and -j3, J=1 and J=2" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	train a -j1 J=1 >/dev/null
	train b -j3 J=2 >/dev/null
	assert_files_equal a/ivf.vt b/ivf.vt
	assert_files_equal a/coreset.vt b/coreset.vt
	assert_files_equal a/pq.vt b/pq.vt
	assert_files_equal a/sq.vt b/sq.vt
}

@test "stream-train.mk: the streamed model is close to vkmeans on the whole sample" {
	vgen -n 4000 -d 8 --means 40 --seed 2 -o x.vt
	train out REFINE_PASSES=2 >/dev/null
	vkmeans -q -k 16 -o full.vt out/sample.vt
	run -0 vloss -c out/ivf.vt out/sample.vt
	s=$(kv loss "$output")
	run -0 vloss -c full.vt out/sample.vt
	f=$(kv loss "$output")
	run -0 awk -v s="$s" -v f="$f" 'BEGIN {print (s <= 1.05 * f) ? "close" : "far " s / f}'
	assert_output close
	# Each refine pass lowers (or keeps) the loss.
	run -0 vloss -c out/ivf-1.vt out/sample.vt
	l1=$(kv loss "$output")
	run -0 vloss -c out/ivf-2.vt out/sample.vt
	l2=$(kv loss "$output")
	run -0 awk -v a="$l1" -v b="$l2" 'BEGIN {print (b <= a * (1 + 1e-9)) ? "ok" : "rose"}'
	assert_output ok
}

@test "stream-train.mk: a truncated data file stops the run with no model" {
	vgen -n 3000 -d 8 --seed 2 -o whole.vt
	head -c 50000 whole.vt >x.vt
	run ! train out
	assert_file_not_exists out/ivf.vt
	assert_file_not_exists out/sample.vt
}

@test "stream-train.mk: DATA and K are required" {
	run ! make -s -f "$MK" K=4 BIN="$VT_BIN"
	assert_output --partial "DATA= is required"
	run ! make -s -f "$MK" DATA=x.vt BIN="$VT_BIN"
	assert_output --partial "K= is required"
}

@test "plot.sh: draws the cluster sizes and the loss" {
	command -v gnuplot >/dev/null || skip "needs gnuplot (Debian gnuplot-nox)"
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	train out plots >/dev/null
	assert_file_exists out/sizes.png
	assert_file_exists out/loss.png
	run -0 bash -c "head -c 4 out/sizes.png | od -An -c | tr -d ' '"
	assert_output --partial "PNG"
}
