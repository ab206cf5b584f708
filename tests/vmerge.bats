#!/usr/bin/env bats
# vmerge: the union of vectors or weighted points in id order, reduction to
# a budget, the sum of accumulators; independent of the argument order.

load helpers

# close A B: A and B agree to 1e-6 relative.
close() {
	run -0 awk -v a="$1" -v b="$2" 'BEGIN {r = (a - b) / b; print (r < 1e-6 && r > -1e-6)}'
	assert_output 1
}

# Three shards of one data set, with global ids: rows 0-999, 1000-1699,
# 1700-2199.
make_shards() {
	vgen -n 1000 -d 8 --means 20 --ids --seed 3 -o a.vt
	vgen -n 700 -d 8 --means 20 --ids --seed 3 --first 1000 -o b.vt
	vgen -n 500 -d 8 --means 20 --ids --seed 3 --first 1700 -o c.vt
}

# Their coresets.
make_coresets() {
	make_shards
	for s in a b c; do
		vcoreset -q --budget 60 --chunk-rows 250 --total-rows "$(vcat --count $s.vt)" \
			-o p$s.vt $s.vt
	done
}

@test "vmerge: vectors: the union in id order, whatever the argument order" {
	make_shards
	vmerge -q -o m.vt a.vt b.vt c.vt
	for order in "a b c" "a c b" "b a c" "b c a" "c a b" "c b a"; do
		set -- $order
		vmerge -q -o p.vt $1.vt $2.vt $3.vt
		assert_files_equal m.vt p.vt
	done
	vcat --to text m.vt >m.txt
	vcat --to text a.vt b.vt c.vt >abc.txt
	assert_files_equal m.txt abc.txt
	run -0 vcat --info m.vt
	assert_line "rows: 2200"
	assert_line --regexp '^meta.made_by: vmerge '
	# the metadata of the input with the smallest first id
	assert_line "meta.vgen.first: 0"
}

@test "vmerge: interleaved ids are merged, and equal ids ordered by content" {
	vgen -n 300 -d 4 --ids --seed 1 -o x.vt
	vgen -n 300 -d 4 --ids --seed 2 -o y.vt
	vmerge -q -o a.vt x.vt y.vt
	vmerge -q -o b.vt y.vt x.vt
	assert_files_equal a.vt b.vt
	run -0 bash -c "set -o pipefail; vcat --to text a.vt | awk 'NR > 1 && \$1 < p {bad++} {p = \$1} END {print NR, bad + 0}'"
	assert_output "600 0"
}

@test "vmerge: weighted points: the union, whatever the argument order" {
	make_coresets
	vmerge -q -o m.vt pa.vt pb.vt pc.vt
	for order in "a c b" "b a c" "b c a" "c a b" "c b a"; do
		set -- $order
		vmerge -q -o p.vt p$1.vt p$2.vt p$3.vt
		assert_files_equal m.vt p.vt
	done
	assert_equal "$(col_sum 2 m.vt)" 2200
	# 60 + 59 + 60: b's chunks of 250, 250 and 200 rows get 21, 21 and 17
	assert_equal "$(vcat --count m.vt)" 179
	run -0 vcat --info m.vt
	assert_line "kind: points"
}

@test "vmerge: --budget keeps the weight, carries the loss, holds the budget" {
	make_coresets
	run -0 --separate-stderr vmerge --budget 50 -o r.vt pc.vt pa.vt pb.vt
	assert_err "inputs=3 points=179 reduced=50 budget=50 weight=2200"
	assert_equal "$(vcat --count r.vt)" 50
	assert_equal "$(col_sum 2 r.vt)" 2200
	a=$(col_sum 3 r.vt)
	b=$(col_sum 3 pa.vt pb.vt pc.vt)
	run -0 awk -v a="$a" -v b="$b" 'BEGIN {print (a >= b)}'
	assert_output 1
	vmerge -q --budget 50 -o s.vt pb.vt pa.vt pc.vt
	assert_files_equal r.vt s.vt
	run -0 vcat --info r.vt
	assert_line "meta.vmerge.budget: 50"
	# the loss of the coreset's assignment is at least that of the nearest
	vcat --to npy -o r.npy r.vt
	run -0 vloss -c r.npy pa.vt pb.vt pc.vt
	near=$(kv loss "$output")
	run -0 awk -v a="$a" -v b="$near" 'BEGIN {print (a >= b * (1 - 1e-9))}'
	assert_output 1
}

@test "vmerge: the loss decomposition holds through two levels (vloss)" {
	make_coresets
	# one point: the mean of every row, whose loss is the rows' squared
	# distance to it, through sum(l_child + w_child |c_child - c|^2)
	vmerge -q --budget 1 -o one.vt pa.vt pb.vt pc.vt
	vcat --to npy -o one.npy one.vt
	carried=$(col_sum 3 one.vt)
	run -0 vloss -c one.npy a.vt b.vt c.vt
	rows=$(kv loss "$output")
	run -0 vloss -c one.npy pa.vt pb.vt pc.vt
	points=$(kv loss "$output")
	close "$carried" "$rows"
	close "$carried" "$points"
}

@test "vmerge: accumulators are summed, whatever the argument order" {
	make_shards
	vkmeans -q -k 6 -o cent.vt a.vt
	for s in a b c; do vloss --partial -c cent.vt -o acc$s.vt $s.vt; done
	vmerge -q -o m.vt acca.vt accb.vt accc.vt
	for order in "a c b" "b a c" "b c a" "c a b" "c b a"; do
		set -- $order
		vmerge -q -o p.vt acc$1.vt acc$2.vt acc$3.vt
		assert_files_equal m.vt p.vt
	done
	run -0 vcat --info m.vt
	assert_line "kind: accum"
	assert_line --regexp '^meta.made_by: vmerge '
	merged=$(vloss m.vt)
	direct=$(vloss -c cent.vt a.vt b.vt c.vt)
	assert_equal "$(kv n "$merged")" 2200
	a=$(kv loss "$merged")
	b=$(kv loss "$direct")
	close "$a" "$b"
	a=$(kv max "$merged")
	b=$(kv max "$direct")
	assert_equal "$a" "$b"
}

@test "vmerge: accumulators from other centroids are refused, naming the file" {
	make_shards
	vkmeans -q -k 6 --seed 1 -o c1.vt a.vt
	vkmeans -q -k 6 --seed 2 -o c2.vt a.vt
	vloss --partial -c c1.vt -o acc1.vt a.vt
	vloss --partial -c c2.vt -o acc2.vt b.vt
	run -1 --separate-stderr vmerge -o m.vt acc1.vt acc2.vt
	assert_output ''
	assert_err "acc2.vt: accumulators were computed against other centroids"
	assert_no_leftovers m.vt
}

# --- errors -----------------------------------------------------------------

@test "vmerge: an input not sorted by id is refused, naming it" {
	make_shards
	vcat -o ba.vt b.vt a.vt
	run -1 --separate-stderr vmerge -o m.vt c.vt ba.vt
	assert_err "ba.vt: not sorted by id (row 700 has id 0 after 1699)"
	assert_no_leftovers m.vt
}

@test "vmerge: rows without ids are refused" {
	vgen -n 100 -d 4 -o x.vt
	vgen -n 100 -d 4 --ids -o y.vt
	run -1 --separate-stderr vmerge -o m.vt y.vt x.vt
	assert_err "x.vt: vectors without ids"
	assert_no_leftovers m.vt
}

@test "vmerge: a truncated or corrupt input fails naming it, and leaves no output" {
	make_shards
	head -c 5000 b.vt >cut.vt
	run -1 --separate-stderr vmerge -o m.vt a.vt cut.vt c.vt
	assert_err "cut.vt: frame 1: truncated"
	assert_no_leftovers m.vt
	cut_at c.vt nomark.vt $(end_offset c.vt)
	run -1 --separate-stderr vmerge -o m.vt a.vt nomark.vt
	assert_err "nomark.vt"
	assert_err "truncated"
	assert_no_leftovers m.vt
	flip_byte a.vt bad.vt $(($(frame_offset a.vt 1) + 100))
	run -1 --separate-stderr vmerge -o m.vt bad.vt b.vt
	assert_err "bad.vt: frame 1"
	assert_err "checksum"
	assert_no_leftovers m.vt
	vkmeans -q -k 6 -o cent.vt a.vt
	vloss --partial -c cent.vt -o acc.vt a.vt
	head -c 300 acc.vt >acccut.vt
	run -1 --separate-stderr vmerge -o m.vt acc.vt acccut.vt
	assert_err "acccut.vt"
	assert_err "truncated"
	assert_no_leftovers m.vt
	make_coresets
	head -c 2000 pb.vt >pcut.vt
	run -1 --separate-stderr vmerge --budget 10 -o m.vt pa.vt pcut.vt
	assert_err "pcut.vt: frame 1: truncated"
	assert_no_leftovers m.vt
}

@test "vmerge: kinds and dimensions must agree; centroids never" {
	vgen -n 100 -d 4 --ids -o x.vt
	vgen -n 100 -d 5 --ids -o y.vt
	run -1 --separate-stderr vmerge -o m.vt x.vt y.vt
	assert_err "y.vt: cannot be merged with x.vt"
	assert_no_leftovers m.vt
	vkmeans -q -k 3 -o c.vt x.vt
	run -1 --separate-stderr vmerge -o m.vt x.vt c.vt
	assert_err "c.vt: cannot be merged with x.vt"
	run -1 --separate-stderr vmerge -o m.vt c.vt
	assert_err "c.vt: is a centroids stream"
	run -1 --separate-stderr vmerge -o m.vt missing.vt
	assert_err "missing.vt: No such file or directory"
}

@test "vmerge: SQ statistics merge whatever the order of the files" {
	vgen -n 500 -d 4 --seed 2 -o a.vt
	vgen -n 300 -d 4 --seed 2 --first 500 -o b.vt
	vgen -n 900 -d 4 --seed 2 --first 800 -o c.vt
	vgen -n 1700 -d 4 --seed 2 -o all.vt
	for m in global dim meanstd quantile; do
		for s in a b c; do vsqbounds -q --mode $m --partial -o $s.$m $s.vt; done
		run -0 --separate-stderr vmerge -o m1.$m a.$m b.$m c.$m
		assert_err "vmerge: inputs=3 mode=$m"
		vmerge -q -o m2.$m c.$m a.$m b.$m
		cmp m1.$m m2.$m
		run -0 vcat --info m1.$m
		assert_line "meta.mode: $m"
		assert_line "meta.made_by: vmerge 0.1.0"
		refute_line --partial "vsqbounds.rows"
	done
	# min of mins and max of maxes, and exact sums: the whole's bytes
	for m in global dim meanstd; do
		vsqbounds -q --mode $m --partial -o all.$m all.vt
		run -0 bash -c "set -eo pipefail; vcat --to text m1.$m | md5sum; vcat --to text all.$m | md5sum"
		assert_equal "${lines[0]}" "${lines[1]}"
	done
	# a merge of merges is the same statistic
	vmerge -q -o ab.meanstd a.meanstd b.meanstd
	vmerge -q -o abc.meanstd c.meanstd ab.meanstd
	run -0 bash -c "set -eo pipefail; vcat --to text abc.meanstd | md5sum; vcat --to text m1.meanstd | md5sum"
	assert_equal "${lines[0]}" "${lines[1]}"
}

@test "vmerge: SQ statistics of other modes, dimensions or forms are refused, naming the file" {
	vgen -n 100 -d 4 -o x.vt
	vgen -n 100 -d 5 -o y.vt
	vsqbounds -q --mode dim -o dim.sq x.vt
	vsqbounds -q --mode meanstd --partial -o ms.sq x.vt
	vsqbounds -q --mode meanstd --partial -o ms5.sq y.vt
	vsqbounds -q --mode meanstd -o final.sq x.vt
	vsqbounds -q --mode quantile --partial -o q1.sq x.vt
	vsqbounds -q --mode quantile --partial --tail 100 -o q2.sq x.vt
	vsqbounds -q --mode dim --metric cosine -o cos.sq x.vt
	run -1 --separate-stderr vmerge -o m.sq dim.sq ms.sq
	assert_output ''
	assert_err "ms.sq: cannot be merged with dim.sq: SQ statistics with mode meanstd, but the first input has dim"
	assert_no_leftovers m.sq
	run -1 --separate-stderr vmerge -o m.sq ms.sq ms5.sq
	assert_err "ms5.sq: cannot be merged with ms.sq: has dimension 5"
	assert_no_leftovers m.sq
	run -1 --separate-stderr vmerge -o m.sq final.sq
	assert_err "final.sq: holds final meanstd bounds, which cannot be merged"
	run -1 --separate-stderr vmerge -o m.sq q1.sq q2.sq
	assert_err "q2.sq: statistics of tail 100, quantile 0.001 and seed 1, but the first input's have tail 8192"
	assert_no_leftovers m.sq
	run -1 --separate-stderr vmerge -o m.sq dim.sq cos.sq
	assert_err "cos.sq: cannot be merged with dim.sq: SQ statistics with metric cosine"
	head -c 200 ms.sq >cut.sq
	run -1 --separate-stderr vmerge -o m.sq ms.sq cut.sq
	assert_err "cut.sq"
	assert_err "truncated"
	assert_no_leftovers m.sq
	run -2 --separate-stderr vmerge --budget 3 ms.sq
	assert_usage_error vmerge "holds SQ statistics"
}

@test "vmerge: usage errors print nothing on stdout and exit 2" {
	vgen -n 100 -d 4 --ids -o x.vt
	run -2 --separate-stderr vmerge --budget 5 x.vt
	assert_usage_error vmerge "--budget reduces weighted points"
	run -2 --separate-stderr vmerge --budget 0 x.vt
	assert_usage_error vmerge "--budget"
	run -2 --separate-stderr vmerge --frobnicate x.vt
	assert_usage_error vmerge "unknown option"
	run -2 --separate-stderr vmerge - - <x.vt
	assert_usage_error vmerge "only once"
}
