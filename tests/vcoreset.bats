#!/usr/bin/env bats
# vcoreset: chunked local coresets within a budget.

load helpers

# add_meta IN OUT KEY VALUE: IN with one more metadata entry (the header
# checksum recomputed).
add_meta() {
	"$PY" - "$@" <<'EOF'
import struct, sys, xxhash
src, dst, key, val = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode()
d = bytearray(open(src, "rb").read())
count, size = struct.unpack_from("<II", d, 16)
end = 24 + size
entry = struct.pack("<BH", len(key), len(val)) + key + val
hdr = d[:end] + entry
struct.pack_into("<II", hdr, 16, count + 1, size + len(entry))
hdr += struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(hdr), seed=0))
open(dst, "wb").write(bytes(hdr) + bytes(d[end + 8:]))
EOF
}

@test "vcoreset: weights sum to the rows read, within the budget, in id order" {
	vgen -n 10000 -d 8 --means 40 --ids --seed 2 -o x.vt
	run -0 --separate-stderr vcoreset -k 10 --stream-rate 300 --total-rows 10000 -o c.vt x.vt
	# 10,000 rows in chunks of 3,000: 160 points, 48 a full chunk, 16 the last
	assert_err "chunks=4 rows=10000 points=160 budget=160 weight=10000"
	run -0 vcat --info c.vt
	assert_line "kind: points"
	assert_line "columns: ids weight loss"
	assert_line "rows: 160"
	assert_line "meta.vcoreset.chunk_rows: 3000"
	assert_line "meta.vcoreset.budget: 160"
	assert_line --regexp '^meta.made_by: vcoreset '
	assert_equal "$(col_sum 2 c.vt)" 10000
	# ids strictly increasing, and the first is the first row's
	run -0 bash -c "set -o pipefail; vcat --to text c.vt | awk 'NR > 1 && \$1 <= p {bad++} {p = \$1} END {print bad + 0}'"
	assert_output 0
	run -0 bash -c "vcat --to text c.vt | head -1 | cut -d' ' -f1"
	assert_output 0
}

@test "vcoreset: the budget holds for every chunk size, and --coreset-rate sets it" {
	vgen -n 1000 -d 4 --ids --seed 1 -o x.vt
	for c in 20 21 37 100 299 333 999 1000 5000; do
		vcoreset -q --budget 50 --chunk-rows $c --total-rows 1000 -o c.vt x.vt
		rows=$(vcat --count c.vt)
		assert [ "$rows" -le 50 ]
		assert_equal "$(col_sum 2 c.vt)" 1000
	done
	vcoreset -q -k 5 --coreset-rate 4 --chunk-rows 250 --total-rows 1000 -o c.vt x.vt
	assert_equal "$(vcat --count c.vt)" 20
}

@test "vcoreset: a point's loss is its members' squared distance to it" {
	# one point per chunk: the mean, whose loss is that of vkmeans -k 1
	vgen -n 3000 -d 6 --ids --seed 4 -o x.vt
	vcoreset -q --budget 1 --chunk-rows 3000 --total-rows 3000 -o c.vt x.vt
	vkmeans -q -k 1 -o k1.vt x.vt
	l1=$(col_sum 3 c.vt)
	l2=$(meta loss k1.vt)
	run -0 awk -v a="$l1" -v b="$l2" 'BEGIN {r = (a - b) / b; print (r < 1e-6 && r > -1e-6)}'
	assert_output 1
}

@test "vcoreset: the same seed gives the same bytes, whatever -j" {
	vgen -n 6000 -d 8 --means 30 --ids --seed 3 -o x.vt
	vcoreset -q -k 20 --stream-rate 100 --total-rows 6000 -j 1 -o a.vt x.vt
	vcoreset -q -k 20 --stream-rate 100 --total-rows 6000 -j 2 -o b.vt x.vt
	vcoreset -q -k 20 --stream-rate 100 --total-rows 6000 -j 2 --seed 9 -o c.vt x.vt
	assert_files_equal a.vt b.vt
	assert_files_not_equal a.vt c.vt
	# hierarchical chunks (more than 256 points each)
	vcoreset -q --budget 1200 --chunk-rows 3000 --total-rows 6000 -j 1 -o d.vt x.vt
	vcoreset -q --budget 1200 --chunk-rows 3000 --total-rows 6000 -j 2 -o e.vt x.vt
	assert_files_equal d.vt e.vt
}

@test "vcoreset: parts cut at chunk boundaries, run with --first-chunk, merge to the whole" {
	vgen -n 1000 -d 8 --ids --seed 5 -o x.vt
	vgen -n 600 -d 8 --ids --seed 5 -o p0.vt
	vgen -n 400 -d 8 --ids --seed 5 --first 600 -o p1.vt
	vcoreset -q --budget 40 --chunk-rows 300 --total-rows 1000 -o whole.vt x.vt
	vcoreset -q --budget 40 --chunk-rows 300 --total-rows 1000 -o c0.vt p0.vt
	vcoreset -q --budget 40 --chunk-rows 300 --total-rows 1000 --first-chunk 2 -o c1.vt p1.vt
	vmerge -q -o merged.vt c1.vt c0.vt
	vcat --to text merged.vt >merged.txt
	vcat --to text whole.vt >whole.txt
	assert_files_equal merged.txt whole.txt
}

@test "vcoreset: weighted points in, weight kept and loss carried" {
	vgen -n 4000 -d 8 --means 20 --ids --seed 6 -o x.vt
	vcoreset -q --budget 400 --chunk-rows 1000 --total-rows 4000 -o c1.vt x.vt
	vcoreset -q --budget 100 --chunk-rows 200 --total-rows 400 -o c2.vt c1.vt
	assert_equal "$(vcat --count c2.vt)" 100
	assert_equal "$(col_sum 2 c2.vt)" 4000
	a=$(col_sum 3 c2.vt)
	b=$(col_sum 3 c1.vt)
	run -0 awk -v a="$a" -v b="$b" 'BEGIN {print (a >= b)}'
	assert_output 1
}

@test "vcoreset: the row count from vsample.m or a foreign file's header" {
	need_xxhash
	vgen -n 2000 -d 4 --ids --seed 1 -o x.vt
	add_meta x.vt m.vt vsample.m 2000
	vcoreset -q --budget 20 --chunk-rows 500 -o a.vt m.vt
	assert_equal "$(vcat --count a.vt)" 20
	assert_equal "$(meta vcoreset.total_rows a.vt)" 2000
	vgen -n 2000 -d 4 --seed 1 --to npy -o x.npy
	vcoreset -q --budget 20 --chunk-rows 500 -o b.vt x.npy
	# ids are row positions, so the same points as from the stream
	vcat --to text b.vt >b.txt
	vcat --to text a.vt >a.txt
	assert_files_equal b.txt a.txt
}

@test "vcoreset: --mem takes the largest chunk whose peak fits" {
	vgen -n 200000 -d 16 --ids -o x.vt
	for mem in 32M 40M; do
		vcoreset -q -j 2 --budget 2000 --mem $mem --total-rows 200000 -o c.vt x.vt
		C=$(vcat --info c.vt | sed -n 's/^meta.vcoreset.chunk_rows: //p')
		# the formula of vcoreset(1), d = 16, T = 2, k = 2000 C / 200000
		run -0 awk -v C="$C" -v M="${mem%M}" '
			function peak(c, k, g, lb, grp) {
				k = int(2000 * c / 200000); g = k
				if (k > 64) for (g = 1; g * g < k; g++) ;
				lb = 4 * c * g; if (lb > 64 * 2^20) lb = 64 * 2^20; if (lb > c * 16) lb = c * 16
				grp = k > 64 ? 2 * int(2 * c / g) * (4 * 16 + int(4 * k / g) + 96) : 0
				return c * (4 * 16 + 96) + lb + grp + 24 * k * 16 + 2 * 8 * 2^20 + 8 * 2^20 }
			BEGIN { print (peak(C) <= M * 2^20 && peak(C + 1) > M * 2^20) }'
		assert_output 1
	done
	run -2 --separate-stderr vcoreset --budget 500 --mem 1M --total-rows 200000 x.vt
	assert_usage_error vcoreset "--mem 1048576 holds no chunk"
}

@test "vcoreset: an empty input gives an empty coreset" {
	vgen -n 0 -d 4 -o empty.vt
	run -0 vcoreset -q --budget 10 --chunk-rows 10 --total-rows 0 -o c.vt empty.vt
	assert_equal "$(vcat --count c.vt)" 0
}

# --- errors -----------------------------------------------------------------

@test "vcoreset: usage errors print nothing on stdout and exit 2" {
	vgen -n 100 -d 4 --ids -o x.vt
	run -2 --separate-stderr vcoreset x.vt
	assert_usage_error vcoreset "give -k"
	run -2 --separate-stderr vcoreset --budget 10 --total-rows 100 x.vt
	assert_usage_error vcoreset "give the chunk"
	run -2 --separate-stderr vcoreset --budget 10 --chunk-rows 5 --mem 1M --total-rows 100 x.vt
	assert_usage_error vcoreset "give one"
	run -2 --separate-stderr vcoreset -k 4 --coreset-rate 0 x.vt
	assert_usage_error vcoreset "--coreset-rate"
	run -2 --separate-stderr vcoreset -k 4 --frobnicate x.vt
	assert_usage_error vcoreset "unknown option"
	run -2 --separate-stderr vcoreset --budget 3 --chunk-rows 10 --total-rows 100 x.vt
	assert_usage_error vcoreset "less than one per chunk"
	run -2 --separate-stderr vcoreset --budget 3 --chunk-rows 10 --total-rows 100 --first-chunk 10 x.vt
	assert_usage_error vcoreset "--first-chunk"
}

@test "vcoreset: an unknown row count is a usage error that says what to give" {
	vgen -n 100 -d 4 --ids -o x.vt
	# a pipe: nothing tells the count (a file would: its end markers)
	run -2 --separate-stderr bash -c 'vcoreset -k 2 -o c.vt <x.vt'
	assert_usage_error vcoreset "(stdin): the number of rows is unknown"
	assert_err "--total-rows"
	assert_no_leftovers c.vt
}

@test "vcoreset: more rows than announced fail and leave no output" {
	vgen -n 100 -d 4 --ids -o x.vt
	# a pipe: found while reading
	run -1 --separate-stderr bash -c 'vcoreset --budget 10 --chunk-rows 10 --total-rows 50 -o c.vt <x.vt'
	assert_err "(stdin): more than the 50 rows announced by --total-rows"
	assert_no_leftovers c.vt
	# a file: found from its end markers, before any work
	run -1 --separate-stderr vcoreset --budget 10 --chunk-rows 10 --total-rows 50 -o c.vt x.vt
	assert_err "vcoreset: x.vt: holds 100 rows, more than the 50 of --total-rows"
	assert_no_leftovers c.vt
}

@test "vcoreset: a truncated or corrupt input fails naming it, and leaves no output" {
	vgen -n 1000 -d 8 --ids -o x.vt
	head -c 5000 x.vt >cut.vt
	run -1 --separate-stderr vcoreset --budget 10 --chunk-rows 100 --total-rows 1000 -o c.vt cut.vt
	assert_err "cut.vt: frame 1: truncated"
	assert_no_leftovers c.vt
	flip_byte x.vt bad.vt $(($(frame_offset x.vt 1) + 100))
	run -1 --separate-stderr vcoreset --budget 10 --chunk-rows 100 --total-rows 1000 -o c.vt bad.vt
	assert_err "bad.vt: frame 1"
	assert_err "checksum"
	assert_no_leftovers c.vt
}

@test "vcoreset: the wrong kind, NaN rows, a missing file" {
	vgen -n 100 -d 4 -o x.vt
	vkmeans -q -k 3 -o c.vt x.vt
	run -1 --separate-stderr vcoreset --budget 10 --chunk-rows 10 --total-rows 3 c.vt
	assert_output ''
	assert_err "c.vt: is a centroids stream"
	printf '\x00\x00\x80\x3f\x00\x00\xc0\x7f' >nan.raw
	vcat --from raw --dim 2 -o nan.vt nan.raw
	run -1 --separate-stderr vcoreset --budget 1 --chunk-rows 10 --total-rows 1 -o o.vt nan.vt
	assert_err "nan.vt: row 0 has a NaN"
	assert_no_leftovers o.vt
	run -1 --separate-stderr vcoreset --budget 1 --chunk-rows 10 --total-rows 1 missing.vt
	assert_err "missing.vt: No such file or directory"
}
