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
	# two quantities, two series: the coreset's per vkmeans iteration, the
	# sample's per refine pass (pass 0: the vkmeans centroids) and the final
	# model's, which is report.txt's loss
	run -0 wc -l <out/refine.dat
	assert_output 1
	run -0 awk '{ print $1 }' out/final.dat
	assert_output 1
	run -0 awk '{ print $2 }' out/final.dat
	assert_output "$(sed -n 's/^loss=\([^ ]*\).*/\1/p' out/report.txt)"
	[ -s out/loss.dat ]
}

# The outputs (under OUT) that a make call rewrote: newer than the marker.
rebuilt() { # rebuilt OUT MARKER
	find "$1" -maxdepth 1 -type f -newer "$2" \( -name '*.vt' -o -name '*.npy' -o -name '*.txt' \) \
		-printf '%f\n' | sort | paste -sd ' '
}

@test "stream-train.mk: changing a parameter rebuilds the outputs that depend on it, and only those" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	run -0 train out REFINE_PASSES=1
	run -0 train out REFINE_PASSES=1
	assert_output ""
	ivf="coreset-0.vt coreset-1.vt coreset-2.vt coreset-3.vt coreset.vt ivf-0.vt ivf-1.vt ivf.npy ivf.vt"
	check() { # check PARAM=VALUE "expected rebuilt files" ["rebuilt on the way back"]
		touch marker
		run -0 train out REFINE_PASSES=1 $1
		run -0 rebuilt out marker
		assert_output "$2"
		touch marker
		run -0 train out REFINE_PASSES=1
		run -0 rebuilt out marker
		assert_output "${3:-$2}"
	}
	check K=12 "$ivf pq.npy pq.vt report.txt sample.vt"
	# Half the chunks; the way back rebuilds all four (chunks 2 and 3 are
	# older than the new sample).
	check SAMPLE_RATE=32 "coreset-0.vt coreset-1.vt coreset.vt ivf-0.vt ivf-1.vt ivf.npy ivf.vt pq.npy pq.vt report.txt sample.vt" \
		"$ivf pq.npy pq.vt report.txt sample.vt"
	check STREAM_RATE=32 "coreset-0.vt coreset-1.vt coreset.vt ivf-0.vt ivf-1.vt ivf.npy ivf.vt pq.npy pq.vt report.txt" \
		"$ivf pq.npy pq.vt report.txt"
	check CORESET_RATE=4 "$ivf pq.npy pq.vt report.txt"
	check SEED=9 "$ivf pq-sample.vt pq.npy pq.vt report.txt sample.vt sq-sample.vt sq.npy sq.vt"
	check METRIC=cosine "$ivf pq-sample.vt pq.npy pq.vt report.txt sample.vt sq-sample.vt sq.npy sq.vt"
	check PQ_M=2 "pq.npy pq.vt"
	check NBITS=5 "pq-sample.vt pq.npy pq.vt"
	check SQ_MODE=global "sq.npy sq.vt"
	check J=2 ""
	# More refine passes build the new pass only; fewer rebuild no pass.
	touch marker
	run -0 train out REFINE_PASSES=2
	run -0 rebuilt out marker
	assert_output "ivf-2.vt ivf.npy ivf.vt pq.npy pq.vt report.txt"
	run -0 vcat --info out/ivf.vt
	assert_line "meta.vrefine.passes: 2"
	touch marker
	run -0 train out REFINE_PASSES=1
	run -0 rebuilt out marker
	assert_output "ivf.npy ivf.vt pq.npy pq.vt report.txt"
	assert_files_equal out/ivf.vt out/ivf-1.vt
	# After all that, the models are the bytes of a fresh run.
	run -0 train fresh REFINE_PASSES=1
	for f in ivf.vt pq.vt sq.vt report.txt; do assert_files_equal out/$f fresh/$f; done
}

@test "stream-train.mk: a rerun with another K into the same OUT leaves a model of that K" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	run -0 train out K=16 ivf
	run -0 train out K=8 ivf
	run -0 vcat --info out/ivf.vt
	assert_line "rows: 8"
	assert_line "meta.k: 8"
}

@test "stream-train.mk: METRIC=cosine trains unit-norm centroids recorded as cosine" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	run -0 train out METRIC=cosine
	run -0 vcat --info out/ivf.vt
	assert_line "meta.metric: cosine"
	run -0 bash -c "vcat --to text out/ivf.vt | awk '{s = 0; for (i = 3; i <= NF; i++) s += \$i * \$i; if (s < 0.999 || s > 1.001) bad++} END {print bad + 0}'"
	assert_output 0
	run -0 grep -c 'metric=cosine' out/.params/kmeans
	run ! train out METRIC=manhattan
	assert_output --partial "METRIC=manhattan: expected l2, cosine or dot"
}

@test "stream-train.mk: clean needs only OUT; BIN defaults to the build beside the makefile" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	mkdir elsewhere
	# No BIN: found from the makefile's own place, whatever the current directory.
	run -0 make -s -C elsewhere -f "$MK" DATA="$PWD/x.vt" K=8 OUT="$PWD/out" SAMPLE_RATE=64 \
		STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 ivf
	assert_file_exists out/ivf.vt
	run -0 make -s -f "$MK" OUT=out clean
	assert_not_exists out
}

@test "stream-train.mk: a failing step prints its own error" {
	vgen -n 3000 -d 8 --means 40 --seed 2 -o x.vt
	mkdir fakebin
	for p in "$VT_BIN"/*; do ln -s "$p" fakebin/; done
	for p in vkmeans vrefine; do
		rm fakebin/$p
		printf '#!/bin/sh\necho "%s: the cause of the failure" >&2\nexit 1\n' "$p" >fakebin/$p
		chmod +x fakebin/$p
		run ! make -s -f "$MK" DATA=x.vt K=16 OUT=out BIN="$PWD/fakebin" SAMPLE_RATE=64 \
			STREAM_RATE=16 CORESET_RATE=8 ivf
		assert_output --partial "$p: the cause of the failure"
		assert_file_not_exists out/ivf.vt
		rm fakebin/$p && ln -s "$VT_BIN/$p" fakebin/
	done
}

@test "bench/recall.sh: SMOKE=1 LANCE=0 runs both cases and prints the recall tables" {
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
	[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
		skip "needs Debian's dataset-fashion-mnist"
	run -0 --separate-stderr env SMOKE=1 LANCE=0 REPS=1 WORK="$PWD/w" \
		"$VT_TESTS_DIR/../pipelines/bench/recall.sh"
	assert_line --partial "## fmnist: Fashion-MNIST, 2000 x 784"
	assert_line --partial "## multi: multi-scale vgen -n 4000 -d 32"
	assert_line --regexp '^time vtrain/FAISS = [0-9.]+ '
	refute_line --partial "Lance |"
	# both indexes, three nprobes, both cases: 12 rows of figures
	[ "$(grep -cE '^\| IVF-(PQ 16 x 8|SQ8) \| [0-9]+ \| [01]\.[0-9]{4} \| [01]\.[0-9]{4} \|' <<<"$output")" = 12 ]
	# every nprobe of k = 16 on fmnist scans all 2000 rows
	assert_line --partial "| IVF-SQ8 | 16 | "
	assert_line --regexp '^\| IVF-SQ8 \| 16 \| .* \| 2000\.0 \| 2000\.0 \|$'
	run -2 env SMOKE=1 LANCE=0 "$VT_TESTS_DIR/../pipelines/bench/recall.sh" nosuch
	assert_output --partial "unknown case: nosuch"
}
