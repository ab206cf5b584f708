#!/usr/bin/env bats
# No silent wrong result (issue 12): the metric, k and the row count travel
# with the data, and a program given a model uses what the model says; a
# conflict is an error that names both.  -o never writes a stream under a
# foreign name.

load helpers

setup_file() {
	export W="$BATS_FILE_TMPDIR"
	cd "$W"
	vgen -q -n 4000 -d 16 --means 30 --seed 5 -o data.vt
	vkmeans -q -k 16 --metric=cosine --seed 2 -o ivfcos.vt data.vt
	vkmeans -q -k 16 --seed 2 -o ivfl2.vt data.vt
}

meta() { vcat --info "$1" | sed -n "s/^meta\.$2: //p"; }

@test "vrefine, vloss, vsqbounds, vpq take the metric of -c; a --metric that disagrees names both" {
	cd "$W"
	run -0 vrefine -q -c ivfcos.vt -o r-model.vt data.vt
	run -0 vrefine -q -c ivfcos.vt --metric=cosine -o r-given.vt data.vt
	cmp r-model.vt r-given.vt
	run -0 meta r-model.vt metric
	assert_output cosine
	run -1 vrefine -q -c ivfcos.vt --metric=l2 -o r-l2.vt data.vt
	assert_output "vrefine: ivfcos.vt: made with metric=cosine, but --metric=l2 was given"
	assert_file_not_exists r-l2.vt
	# vloss: the cosine loss, with or without --metric
	run -0 vloss -c ivfcos.vt data.vt
	local plain=$output
	run -0 vloss -c ivfcos.vt --metric=cosine data.vt
	assert_output "$plain"
	run -1 vloss -c ivfcos.vt --metric=l2 data.vt
	assert_output --partial "ivfcos.vt: made with metric=cosine, but --metric=l2 was given"
	run -0 vsqbounds -q -c ivfcos.vt -o sq.vt data.vt
	run -0 meta sq.vt metric
	assert_output cosine
	run -1 vsqbounds -q -c ivfcos.vt --metric=l2 -o sq2.vt data.vt
	assert_output --partial "ivfcos.vt: made with metric=cosine, but --metric=l2 was given"
	run -0 vpq -q -c ivfcos.vt -m 4 --nbits 4 -o pq.vt data.vt
	run -0 meta pq.vt metric
	assert_output cosine
	run -1 vpq -q -c ivfcos.vt -m 4 --nbits 4 --metric=l2 -o pq2.vt data.vt
	assert_output --partial "ivfcos.vt: made with metric=cosine, but --metric=l2 was given"
	# an L2 model refuses --metric=cosine the same way
	run -1 vloss -c ivfl2.vt --metric=cosine data.vt
	assert_output --partial "ivfl2.vt: made with metric=l2, but --metric=cosine was given"
}

@test "vrefine --apply: accumulators of another metric than -c are refused, naming both" {
	cd "$W"
	run -0 vloss -q -c ivfl2.vt --partial -o acc-l2.vt data.vt
	# the accumulators say l2; the model says cosine
	run -1 vrefine -q -c ivfcos.vt --apply -o x.vt acc-l2.vt
	assert_output --partial "ivfcos.vt: made with metric=cosine, but acc-l2.vt was made with metric=l2"
}

@test "vkmeans --metric=cosine records the loss of the centroids it writes" {
	cd "$W"
	run -0 meta ivfcos.vt loss
	local recorded=$output
	run -0 vloss --json -c ivfcos.vt data.vt
	local measured
	measured=$(echo "$output" | sed 's/.*"loss": *\([0-9.e+-]*\),.*/\1/')
	run -0 awk -v a="$recorded" -v b="$measured" \
		'BEGIN { r = (a - b) / b; if (r < 0) r = -r; print (r < 1e-9 ? "same" : a " vs " b) }'
	assert_output same
	# and the centroids are unit vectors
	run -0 vcat --to text ivfcos.vt
	run -0 awk '{ s = 0; for (i = 3; i <= NF; i++) s += $i * $i;
		if (s < 0.999 || s > 1.001) bad++ } END { print NR, bad + 0 }' <<<"$output"
	assert_output "16 0"
}

@test "k and the metric come from the stream: vsample -k | vcoreset | vkmeans needs no -k; a -k that disagrees names both" {
	cd "$W"
	vsample -q -k 16 --sample-rate 100 --metric=cosine data.vt >s.vt
	run -0 bash -c 'vcoreset -q <s.vt | vkmeans -q -o c.vt'
	run -0 meta c.vt k
	assert_output 16
	run -0 meta c.vt metric
	assert_output cosine
	run -0 vkmeans -q -o c2.vt s.vt
	run -0 meta c2.vt k
	assert_output 16
	run -1 vkmeans -q -k 8 -o c3.vt s.vt
	assert_output "vkmeans: s.vt: made for k=16 (vsample.k), but -k 8 was given"
	run -1 vkmeans -q --metric=l2 -o c3.vt s.vt
	assert_output "vkmeans: s.vt: made with metric=cosine (vsample.metric), but --metric=l2 was given"
	run -1 vcoreset -q -k 8 -o c3.vt s.vt
	assert_output --partial "s.vt: made for k=16 (vsample.k), but -k 8 was given"
	# a stream that records no k still needs -k
	run -2 vkmeans -q -o c3.vt data.vt
	assert_output --partial "give -k"
	assert_file_not_exists c3.vt
}

@test "vcoreset reads the row count of a seekable .vt from its end markers" {
	cd "$W"
	run -0 vcoreset -q -k 16 -o told.vt --total-rows 4000 data.vt
	run -0 vcoreset -q -k 16 -o counted.vt data.vt
	cmp told.vt counted.vt
	# two segments count as their sum
	vgen -q -n 1000 -d 16 --means 30 --seed 5 --first 4000 -o more.vt
	cat data.vt more.vt >both.vt
	run -0 vcoreset -q -k 16 -o both-c.vt both.vt
	run -0 meta both-c.vt vcoreset.total_rows
	assert_output 5000
	run -1 vcoreset -q -k 16 --total-rows 10 -o x.vt data.vt
	assert_output "vcoreset: data.vt: holds 4000 rows, more than the 10 of --total-rows"
	head -c 100000 data.vt >cut.vt
	run -1 vcoreset -q -k 16 -o x.vt cut.vt
	assert_output --partial "cut.vt: frame"
	assert_output --partial "truncated stream"
	assert_file_not_exists x.vt
	# a pipe still needs --total-rows
	run -2 bash -c 'vcoreset -q -k 16 -o x.vt <data.vt'
	assert_output --partial "give --total-rows"
}

@test "-o X.npy: every program that writes a model refuses it before the work, with the vcat recipe" {
	cd "$W"
	vloss -q -c ivfl2.vt --partial -o acc.vt data.vt
	local cmd
	for cmd in "vkmeans -k 4 -o m.npy data.vt" "vrefine -c ivfl2.vt -o m.npy data.vt" \
		"vpq -c ivfl2.vt -m 4 --nbits 4 -o m.npy data.vt" "vsqbounds -o m.npy data.vt" \
		"vcoreset -k 4 -o m.npy data.vt" "vsample -m 10 -o m.npy data.vt" \
		"vloss -c ivfl2.vt --partial -o m.npy data.vt" "vmerge -o m.npy acc.vt"; do
		run -2 $cmd
		assert_line --index 0 --partial "-o m.npy: ${cmd%% *} writes a vtrain stream, not npy; write m.vt, then convert it: vcat --to npy -o m.npy m.vt"
		assert_file_not_exists m.npy
	done
	run -2 vkmeans -k 4 -o m.fvecs data.vt
	assert_line --index 0 --partial "not fvecs"
}

@test "-o X.npy: vcat and vgen write .npy (and the other foreign formats) by the name" {
	cd "$W"
	run -0 vcat -o d.npy data.vt
	run -0 bash -c "head -c 6 d.npy | od -An -c | tr -d ' '"
	assert_output '223NUMPY'
	run -0 vcat --count d.npy
	assert_output 4000
	run -0 vgen -n 10 -d 4 -o g.fbin
	run -0 vcat --info g.fbin
	assert_line "format: fbin"
	run -2 vgen -n 10 -d 4 --to fbin -o g.npy
	assert_line --index 0 "vgen: -o g.npy names npy, but --to fbin was given"
	run -2 vcat -o d.bvecs data.vt
	assert_line --index 0 "vcat: -o d.bvecs names bvecs, which vcat does not write: give --to"
	if "$PY" -c 'import numpy' 2>/dev/null; then
		run -0 "$PY" -c 'import numpy as np; a = np.load("d.npy"); print(a.shape, a.dtype)'
		assert_output "(4000, 16) float32"
	fi
}

@test "row counts on pipes: vgen announces its rows; vgen | vsample equals vsample of the file; a wrong count is refused" {
	cd "$BATS_TEST_TMPDIR"
	vgen -q -n 5000 -d 8 --seed 4 -o g.vt
	run -0 vcat --info g.vt
	assert_line "meta.rows: 5000"
	vsample -q -k 16 --sample-rate 20 -o from-file.vt g.vt
	vgen -q -n 5000 -d 8 --seed 4 | vsample -q -k 16 --sample-rate 20 -o from-pipe.vt
	cmp from-file.vt from-pipe.vt
	# vcat keeps the count only where it is exact
	vcat --rows 0:10 -o cut.vt g.vt
	run -0 vcat --info cut.vt
	refute_line --partial "meta.rows"
	cat g.vt g.vt >twice.vt
	vcat -o both.vt twice.vt
	run -0 vcat --info both.vt
	assert_line "meta.rows: 10000"
	# two streams on a pipe: more rows than the first header announced
	run -1 --separate-stderr bash -c 'cat g.vt g.vt | vsample -q -k 16 --sample-rate 20 -o x.vt'
	assert_err "(stdin): the input holds more rows than its first header announced (5000; several streams one after another?): give --total"
	assert_file_not_exists x.vt
	# a header that announces another count than its end marker: refused by every reader
	vgen -q -n 100 -d 8 | vcat -o plain.vt
	run -0 vcat --info plain.vt
	refute_line --partial "meta.rows"
	"$PY" "$VT_FIXTURES/vtcraft.py" add-meta plain.vt few.vt rows 50
	run -1 --separate-stderr vcat --count few.vt
	assert_err "few.vt: frame 1: more rows than the 50 the header announced (metadata rows)"
	"$PY" "$VT_FIXTURES/vtcraft.py" add-meta plain.vt many.vt rows 500
	run -1 --separate-stderr vcat --count many.vt
	assert_err "many.vt: end marker: 100 rows, but the header announced 500 (metadata rows)"
	"$PY" "$VT_FIXTURES/vtcraft.py" add-meta plain.vt bad.vt rows 12x
	run -1 --separate-stderr vcat --count bad.vt
	assert_err "bad.vt: header: metadata rows '12x' is not a row count"
}
