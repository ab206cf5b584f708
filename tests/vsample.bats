#!/usr/bin/env bats
# vsample: the deterministic fixed-index sample, whole or by shards.

load helpers

# --- the sample --------------------------------------------------------------

@test "vsample: -k K writes K x 256 rows in order, with global ids and metadata" {
	vgen -n 20000 -d 4 --seed 3 -o x.vt
	vsample -k 10 -o s.vt x.vt
	run -0 vcat --count s.vt
	assert_output 2560
	ids s.vt >ids.txt
	run -0 sort -n -c -u ids.txt
	run -0 awk '$1 < 0 || $1 >= 20000' ids.txt
	assert_output ''
	run -0 vcat --info s.vt
	assert_line "kind: vectors"
	assert_line "columns: ids"
	assert_line "meta.made_by: vsample 0.1.0"
	assert_line "meta.vsample.n: 20000"
	assert_line "meta.vsample.m: 2560"
	assert_line "meta.vsample.seed: 1"
	assert_line "meta.vsample.offset: 0"
	assert_line "meta.vsample.metric: l2"
	assert_line "meta.vsample.ids: position"
}

@test "vsample: each written row is the input row its id names" {
	need_numpy
	vgen -n 5000 -d 6 --seed 4 -o x.vt
	vcat --to npy -o x.npy x.vt
	vsample -m 300 --seed 9 x.vt | vcat --to text >s.txt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy')
s = np.loadtxt('s.txt', dtype=np.float64, ndmin=2)
ids = s[:, 0].astype(np.int64)
assert len(ids) == 300 and (np.diff(ids) > 0).all()
print(np.array_equal(s[:, 1:].astype(np.float32), x[ids]))"
	assert_output True
}

@test "vsample: the size is min(n, k x rate), or -m, or --sample-rate" {
	vgen -n 20000 -d 2 -o x.vt
	run -0 bash -c 'set -o pipefail; vsample -k 100 x.vt | vcat --count'
	assert_output 20000
	run -0 bash -c 'set -o pipefail; vsample -k 3 --sample-rate 100 x.vt | vcat --count'
	assert_output 300
	run -0 bash -c 'set -o pipefail; vsample -m 777 x.vt | vcat --count'
	assert_output 777
	run -0 bash -c 'set -o pipefail; vsample -m 50000 x.vt | vcat --count'
	assert_output 20000
	run -0 bash -c 'set -o pipefail; vsample -m 0 x.vt | vcat --count'
	assert_output 0
}

@test "vsample: m = n keeps every row, in order" {
	vgen -n 3000 -d 3 --seed 2 -o x.vt
	vsample -m 3000 -o s.vt x.vt
	vcat --to raw x.vt >x.raw
	vcat --to raw s.vt >s.raw
	cmp x.raw s.raw
	run -0 bash -c 'set -o pipefail; vcat --to text s.vt | cut -d" " -f1 | awk "\$1 != NR - 1"'
	assert_output ''
}

@test "vsample: --for takes the largest of the listed needs" {
	vgen -n 200000 -d 1 -o x.vt
	vsample --for sq -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 65536
	vsample --for pq -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 65536
	vsample --for pq --nbits 4 -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 4096
	vsample --for ivf,pq,sq -k 300 -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 76800
	vsample --for pq,sq --nbits 9 -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 131072
	vsample --for sq,ivf -k 10 -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 65536
	vsample --for pq --nbits 10 -o s.vt x.vt
	assert_equal "$(meta vsample.m s.vt)" 200000
	run -0 vcat --count s.vt
	assert_output 200000
}

@test "vsample: the same inputs give the same bytes; another seed another sample" {
	vgen -n 30000 -d 8 --seed 3 -o x.vt
	vsample -k 20 --seed 5 -o a.vt x.vt
	vsample -k 20 --seed 5 <x.vt --total 30000 >b.vt
	assert_files_equal a.vt b.vt
	vsample -z -k 20 --seed 5 -o az.vt x.vt
	vsample -z -k 20 --seed 5 -o bz.vt x.vt
	assert_files_equal az.vt bz.vt
	vcat --to raw a.vt >a.raw
	vcat --to raw az.vt >az.raw
	cmp a.raw az.raw
	vsample -k 20 --seed 6 -o c.vt x.vt
	run -0 vcat --count c.vt
	assert_output 5120
	ids a.vt >a.ids
	ids c.vt >c.ids
	run -1 cmp -s a.ids c.ids
	# The default seed is 1.
	vsample -k 20 -o d1.vt x.vt
	vsample -k 20 --seed 1 -o e1.vt x.vt
	assert_files_equal d1.vt e1.vt
}

@test "vsample: the indices depend on n, m and seed only, not on the values or format" {
	vgen -n 8000 -d 4 --seed 1 -o a.vt
	vgen -n 8000 -d 16 --seed 2 --means 3 -o b.vt
	vcat --to fvecs -o b.fvecs b.vt
	vcat --to npy -o b.npy b.vt
	vsample -m 500 --seed 4 -o sa.vt a.vt
	vsample -m 500 --seed 4 -o sb.vt b.vt
	vsample -m 500 --seed 4 -o sf.vt b.fvecs
	vsample -m 500 --seed 4 -o sn.vt b.npy
	ids sa.vt >sa.ids
	ids sb.vt >sb.ids
	cmp sa.ids sb.ids
	vcat --to raw sb.vt >sb.raw
	vcat --to raw sf.vt >sf.raw
	cmp sb.raw sf.raw
	vcat --to text sb.vt >sb.txt
	vcat --to text sn.vt >sn.txt
	cmp sb.txt sn.txt
}

# --- shards ------------------------------------------------------------------

@test "vsample: 3 uneven shards put end to end equal the whole, row for row" {
	vgen -n 50000 -d 8 --seed 5 -o whole.vt
	vgen -n 7000 -d 8 --seed 5 -o s1.vt
	vgen -n 23001 -d 8 --seed 5 --first 7000 -o s2.vt
	vgen -n 19999 -d 8 --seed 5 --first 30001 -o s3.vt
	vsample -k 40 --seed 7 -o whole.out whole.vt
	vsample -k 40 --seed 7 --total 50000 -o 1.out s1.vt
	vsample -k 40 --seed 7 --total 50000 --offset 7000 -o 2.out s2.vt
	vsample -k 40 --seed 7 --total 50000 --offset 30001 -o 3.out s3.vt
	cat 1.out 2.out 3.out >cat.out
	run -0 vcat --count cat.out
	assert_output 10240
	vcat --to text whole.out >whole.txt
	vcat --to text cat.out >cat.txt
	assert_files_equal whole.txt cat.txt
	vcat --to raw whole.out >whole.raw
	vcat --to raw cat.out >cat.raw
	cmp whole.raw cat.raw
	assert_equal "$(meta vsample.offset 2.out)" 7000
	assert_equal "$(meta vsample.n 2.out)" 50000
	# Each shard holds some of the sample.
	for s in 1 2 3; do
		run -0 vcat --count $s.out
		refute_output 0
	done
}

@test "vsample: shards from pipes and foreign formats, lz4, cosine, agree with the whole" {
	vgen -n 40000 -d 6 --seed 8 -o whole.vt
	vsample -m 9000 --seed 3 --metric cosine -o whole.out whole.vt 2>err
	vgen -n 1 -d 6 --seed 8 --to npy -o s1.npy
	vsample -m 9000 --seed 3 --metric cosine --total 40000 -o 1.out s1.npy 2>>err
	run -0 bash -c 'set -o pipefail; vgen -n 25000 -d 6 --seed 8 --first 1 |
		vsample -z -m 9000 --seed 3 --metric cosine --total 40000 --offset 1 -o 2.out 2>>err'
	vgen -n 14999 -d 6 --seed 8 --first 25001 --to fvecs -o s3.fvecs
	vsample -m 9000 --seed 3 --metric cosine --total 40000 --offset 25001 -o 3.out s3.fvecs 2>>err
	assert_file_empty err
	vcat --to text whole.out >whole.txt
	run -0 bash -c 'set -o pipefail; cat 1.out 2.out 3.out | vcat --to text >cat.txt'
	cmp whole.txt cat.txt
	vcat --to raw whole.out >whole.raw
	run -0 bash -c 'set -o pipefail; cat 1.out 2.out 3.out | vcat --to raw >cat.raw'
	cmp whole.raw cat.raw
}

@test "vsample: a shard past the sampled rows, or empty, writes a valid empty stream" {
	vgen -n 10 -d 2 --seed 1 --first 990 -o tail.vt
	vsample -m 1 --seed 2 --total 1000 --offset 990 -o t.vt tail.vt
	run -0 vcat --count t.vt
	assert_output --regexp '^[01]$'
	: >empty.fvecs
	vsample -m 5 --total 1000 --offset 1000 -o e.vt empty.fvecs
	run -0 vcat --count e.vt
	assert_output 0
}

# --- filtering ---------------------------------------------------------------

@test "vsample: rows with NaN or infinity are dropped and counted, and keep their place" {
	# 6 rows of dimension 2: rows 1 and 4 hold a NaN, row 2 an infinity.
	printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\xc0\x7f\x00\x00\x80\x3f\x00\x00\x80\x7f\x00\x00\x80\x3f\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\x80\x3f\x00\x00\xc0\xff\x00\x00\xa0\x40\x00\x00\xc0\x40' >x.raw
	run -0 --separate-stderr vsample -m 6 --from raw --dim 2 -o s.vt x.raw
	assert_err "vsample: dropped 3 rows with NaN or infinite values"
	run -0 ids s.vt
	assert_output "$(printf '0\n3\n5')"
	run -0 --separate-stderr vsample -q -m 6 --from raw --dim 2 -o s.vt x.raw
	assert_equal "$stderr" ''
	run -0 vcat --count s.vt
	assert_output 3
}

@test "vsample: --metric cosine writes unit rows and drops rows of norm 0" {
	vgen -n 2000 -d 5 --seed 2 -o x.vt
	run -0 --separate-stderr vsample --metric cosine -m 500 -o s.vt x.vt
	assert_equal "$stderr" ''
	run -0 bash -c "set -o pipefail; vcat --to text s.vt | awk '{ s = 0; for (i = 2; i <= NF; i++) s += \$i * \$i; if (sqrt(s) < 0.999999 || sqrt(s) > 1.000001) print NR, sqrt(s) }'"
	assert_output ''
	assert_equal "$(meta vsample.metric s.vt)" cosine
	# Rows 0 and 2 are zero.
	printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\x00\x00\x00\x00\x00\x00' >z.raw
	run -0 --separate-stderr vsample --metric cosine -m 3 --from raw --dim 2 -o z.vt z.raw
	assert_err "vsample: dropped 2 rows of norm 0, which cosine cannot normalise"
	run -0 vcat --to text z.vt
	assert_output "1 0.600000024 0.800000012"
}

@test "vsample: the ids of an input that has them are kept" {
	vgen -n 3000 -d 3 --seed 4 --ids --first 100000 -o x.vt
	vsample -m 400 -o a.vt x.vt
	assert_equal "$(meta vsample.ids a.vt)" input
	vsample -m 50 --seed 2 -o b.vt a.vt
	ids a.vt >a.ids
	ids b.vt >b.ids
	run -0 bash -c 'comm -13 <(sort a.ids) <(sort b.ids)'
	assert_output ''
	run -0 bash -c 'awk "\$1 < 100000" b.ids'
	assert_output ''
}

@test "vsample: n from a counting read of regular files, or from an .npy header" {
	vgen -n 3000 -d 4 --seed 6 -o a.vt
	vgen -n 2000 -d 4 --seed 6 --first 3000 -o b.vt
	vgen -n 5000 -d 4 --seed 6 -o ab.vt
	vsample -k 4 -o counted.vt a.vt b.vt
	vsample -k 4 --total 5000 -o told.vt ab.vt
	vcat --to text counted.vt >counted.txt
	vcat --to text told.vt >told.txt
	cmp counted.txt told.txt
	assert_equal "$(meta vsample.n counted.vt)" 5000
	vcat --to npy -o ab.npy ab.vt
	vsample -k 4 <ab.npy >piped.vt
	vcat --to text piped.vt >piped.txt
	cmp piped.txt told.txt
}

# --- errors ------------------------------------------------------------------

@test "vsample: usage errors print nothing on stdout" {
	vgen -n 100 -d 2 -o x.vt
	run -2 --separate-stderr vsample x.vt
	assert_usage_error vsample "give the sample size"
	run -2 --separate-stderr vsample -m 10 -k 2 x.vt
	assert_usage_error vsample "-m gives the sample size"
	run -2 --separate-stderr vsample --for ivf x.vt
	assert_usage_error vsample "--for ivf needs -k"
	run -2 --separate-stderr vsample --for pq,xq x.vt
	assert_usage_error vsample "--for: 'xq' is not ivf, pq or sq"
	run -2 --separate-stderr vsample --for sq -k 4 x.vt
	assert_usage_error vsample "add ivf to --for"
	run -2 --separate-stderr vsample -k 4 --nbits 6 x.vt
	assert_usage_error vsample "add pq to --for"
	run -2 --separate-stderr vsample -m 10 --offset 5 x.vt
	assert_usage_error vsample "--offset needs --total"
	run -2 --separate-stderr vsample -m 10 --offset 500 --total 100 x.vt
	assert_usage_error vsample "--offset 500 is past --total 100"
	run -2 --separate-stderr vsample -m -1 x.vt
	assert_usage_error vsample "-m"
	run -2 --separate-stderr vsample -m 10 --from raw x.vt
	assert_usage_error vsample "--from raw needs --dim"
	run -2 --separate-stderr vsample -m 10 --metric ip x.vt
	assert_usage_error vsample "--metric"
	run -2 --separate-stderr vsample --bogus
	assert_usage_error vsample "unknown option"
}

@test "vsample: a stream of unknown length gets a seeded reservoir sample, and says so" {
	need_numpy
	# vcat of a pipe cannot know the count, so it announces none
	vgen -n 3000 -d 4 --seed 4 -o x.vt
	vcat -o p.vt <x.vt
	run -0 --separate-stderr bash -c 'set -o pipefail; vcat <x.vt | vsample -k 2 --sample-rate 50 -o r1.vt'
	assert_err "vsample: note: the number of rows of (stdin) is not known before it is read (no --total, no count in its header): a seeded reservoir sample of 100 rows"
	assert_err "it does not equal the sample of shards"
	# deterministic: the same rows and seed, the same bytes (and -q is quiet)
	run -0 --separate-stderr vsample -q -k 2 --sample-rate 50 -o r2.vt <p.vt
	output=$stderr refute_output
	cmp r1.vt r2.vt
	run -0 vcat --info r1.vt
	assert_line "meta.vsample.method: reservoir"
	assert_line "meta.vsample.n: 3000"
	assert_line "meta.vsample.m: 100"
	assert_line "rows: 100"
	# another seed, another sample; the rows are the input's, by id, in order
	vsample -q -k 2 --sample-rate 50 --seed 9 -o r3.vt <p.vt
	run ! cmp -s r1.vt r3.vt
	vcat --to npy -o x.npy x.vt
	vcat --to text r1.vt >r1.txt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy')
t = np.loadtxt('r1.txt', ndmin=2)
ids = t[:, 0].astype(int)
assert len(ids) == 100 and (np.diff(ids) > 0).all() and ids.max() < 3000
assert np.array_equal(t[:, 1:].astype(np.float32), x[ids])
print('ok')"
	assert_output ok
	# fewer rows than asked: all of them, unchanged
	run -0 bash -c 'vcat <x.vt | vsample -q -m 5000 | vcat --to raw | cmp - <(vcat --to raw x.vt) && echo same'
	assert_output same
	# vgen announces its rows (metadata rows): its pipe gets the fixed-index sample
	run -0 bash -c 'set -o pipefail; vgen -n 100 -d 2 | vsample -k 1 --sample-rate 10 | vcat --count'
	assert_output 10
	run -0 bash -c 'set -o pipefail; vgen -n 100 -d 2 | vsample -k 1 --sample-rate 10 --total 100 | vcat --count'
	assert_output 10
	cmp <(vgen -n 100 -d 2 | vsample -q -k 1 --sample-rate 10) <(vgen -n 100 -d 2 -o g.vt; vsample -q -k 1 --sample-rate 10 g.vt)
}

@test "vsample: an input longer than --total fails" {
	vgen -n 1000 -d 2 -o x.vt
	run -1 --separate-stderr vsample -m 10 --total 999 -o s.vt x.vt
	assert_output ''
	assert_err "vsample: x.vt: the input holds more than --total 999 rows"
	assert_no_leftovers s.vt
	run -1 --separate-stderr vsample -m 10 --total 1500 --offset 600 -o s.vt x.vt
	assert_err "x.vt: the input holds more than the 900 rows from --offset 600 to --total 1500"
	assert_no_leftovers s.vt
	vcat --to npy -o x.npy x.vt
	run -1 --separate-stderr vsample -m 10 --total 999 x.npy
	assert_output ''
	assert_err "x.npy: the input holds more than --total 999 rows"
}

@test "vsample: a truncated input fails, naming it, and leaves no output" {
	vgen -n 3000 -d 8 -o x.vt
	head -c 3000 x.vt >cut.vt
	run -1 --separate-stderr vsample -m 100 --total 3000 -o s.vt cut.vt
	assert_output ''
	assert_err "cut.vt: frame 1: truncated"
	assert_no_leftovers s.vt
	# Without --total, the counting read finds it.
	run -1 --separate-stderr vsample -m 100 cut.vt
	assert_output ''
	assert_err "cut.vt: frame 1: truncated"
	# Cut at the end marker: every frame is there, the end is not.
	head -c "$(end_offset x.vt)" x.vt >noend.vt
	run -1 --separate-stderr vsample -m 100 --total 3000 noend.vt
	assert_err "noend.vt"
	assert_err "truncated"
	vcat --to npy -o x.npy x.vt
	head -c 5000 x.npy >cut.npy
	run -1 --separate-stderr vsample -m 100 cut.npy
	assert_err "cut.npy"
}

@test "vsample: missing files, wrong kinds, help and version" {
	vgen -n 100 -d 2 -o x.vt
	run -1 --separate-stderr vsample -m 10 missing.vt
	assert_output ''
	assert_err "missing.vt: No such file or directory"
	vkmeans -q -k 2 -o c.vt x.vt
	run -1 --separate-stderr vsample -m 1 c.vt
	assert_err "c.vt: is a centroids stream; vsample reads vectors"
	run -0 vsample --help
	assert_line --index 0 --partial "Usage: vsample"
	run -0 vsample --version
	assert_output --partial "vsample (vtrain)"
}
