#!/usr/bin/env bats
# Docs are code: the recipes of README.md and docs/INTEROP.md run as
# written, on small data, extracted from the Markdown itself so that they
# cannot drift.  Blocks are named by the heading they stand under and their
# number there (block and blocks, in helpers.bash).  docs/DISTRIBUTED.md's
# recipes need hosts: they run in distributed.bats (ssh) and slurm.bats.

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# The layout the recipes assume: build/bin and pipelines/ beside the data.
layout() {
	mkdir -p build
	ln -s "$VT_BIN" build/bin
	ln -s "$TOP/pipelines" pipelines
}

@test "docs: README's streaming recipes (make, then the pipeline) run as written" {
	layout
	vgen -q -n 20000 -d 16 --means 300 --seed 5 -o data.vt
	local mk pipe
	mk=$(block "$TOP/README.md" "## Streaming IVF training" 1 sh)
	pipe=$(block "$TOP/README.md" "## Streaming IVF training" 2 sh)
	[[ $mk == *"stream-train.mk"* ]] || fail "no make block: $mk"
	[[ $pipe == *vsample* ]] || fail "no pipeline block: $pipe"
	run -0 bash -euo pipefail -c "$mk"
	assert_file_exists out/ivf/ivf.vt
	assert_file_exists out/ivf/pq.npy
	run -0 bash -euo pipefail -c "$pipe"
	assert_output --regexp 'loss=[0-9.e+]+ mean='
	for f in ivf0.vt ivf.vt pq.vt sq.vt sample.vt; do assert_file_exists "$f"; done
}

@test "docs: INTEROP's FAISS recipes (export, IVF-PQ, SQ, precomputed partitions and codes) and HDF5 commands run as written" {
	"$PY" -c 'import faiss' 2>/dev/null || fail "needs Debian's python3-faiss (pipelines/setup.sh --tests)"
	layout
	# the files the recipes name: models, data.npy, base.vt (the rows)
	vgen -q -n 5000 -d 16 --means 60 --seed 3 -o data.vt
	cp data.vt base.vt
	vcat --to npy -o data.npy data.vt
	# the HDF5 section's ann-benchmarks file: data.npy as train, 100 queries
	"$PY" -c 'import h5py' 2>/dev/null || fail "needs Debian's python3-h5py (pipelines/setup.sh --tests)"
	vcat --rows 0:100 --to npy -o q.npy data.vt
	"$PY" "$VT_FIXTURES/annhdf5.py" ann fashion-mnist-784-euclidean.hdf5 data.npy q.npy
	vkmeans -q -k 32 --seed 1 -o ivf.vt data.vt
	vpq -q -c ivf.vt -m 4 -o pq.vt data.vt
	vsqbounds -q --mode dim -o sq.vt data.vt
	local faiss_part
	faiss_part=$(awk '/^## FAISS/ { on = 1; next } /^## / { on = 0 } on' "$TOP/docs/INTEROP.md")
	printf '%s\n' "$faiss_part" >faiss.md
	# the shell blocks, in order, then the Python blocks as one script
	local py
	run -0 bash -euo pipefail -c "$(blocks "$TOP/docs/INTEROP.md" sh)"
	assert_file_exists labels.partitions.npy
	py=$(awk '/^```python$/ { inb = 1; next } inb && /^```/ { inb = 0; print ""; next } inb' faiss.md)
	printf '%s\n' "$py" >recipes.py
	run -0 "$PY" recipes.py
	assert_output ''
}

@test "docs: README's worked example runs as written (on less data: fewer rows and centroids)" {
	[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
		fail "needs Debian's dataset-fashion-mnist (pipelines/setup.sh installs it)"
	layout
	local ex
	ex=$(block "$TOP/README.md" "## A worked example" 1 sh)
	[[ $ex == *"-n 1000000 "* && $ex == *"-k 256 "* ]] || fail "the example changed: $ex"
	# the same commands on 20,000 generated rows and 16 centroids
	ex=${ex//-n 1000000 /-n 20000 }
	ex=${ex//-k 256 /-k 16 }
	run -0 bash -euo pipefail -c "$ex"
	# vloss of the whole, then of the merged shards: the same loss line
	local whole merged
	whole=$(printf '%s\n' "$output" | grep -m1 '^loss=')
	merged=$(printf '%s\n' "$output" | grep '^loss=' | tail -1)
	[ -n "$whole" ] && [ "$whole" = "$merged" ] || fail "whole: $whole; merged shards: $merged"
	assert_file_exists sift.npy
	assert_file_exists ivf.npy
	run -0 build/bin/vcat --count fmnist.vt
	assert_output 60000
}
