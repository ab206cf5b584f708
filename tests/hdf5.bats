#!/usr/bin/env bats
# HDF5 input (lib/stream/hdf5.c): the ann-benchmarks layout (train, test,
# neighbors, distances), made at test time from Fashion-MNIST by
# tests/fixtures/annhdf5.py with Debian's python3-h5py; element types,
# layouts, FILE:NAME, the errors of bad files, and every program reading it.

load helpers

need_h5py() {
	"$PY" -c 'import h5py' 2>/dev/null || skip "needs Debian's python3-h5py"
}

annhdf5() {
	"$PY" "$VT_FIXTURES/annhdf5.py" "$@"
}

FM=/usr/share/datasets/fashion-mnist

# The first 5,000 Fashion-MNIST training images and the first 100 test
# images (15 MiB of float32: many blocks of rows), as .npy and as an
# ann-benchmarks HDF5 file with their exact 10 nearest neighbours; the same
# train rows stored chunked (chunks that split rows and columns, read
# through libhdf5's chunk cache; chunks of whole rows, read in place) and
# gzip-compressed.
setup_file() {
	export W="$BATS_FILE_TMPDIR"
	cd "$W"
	"$PY" -c 'import h5py' 2>/dev/null || return 0
	[ -r $FM/train-images-idx3-ubyte.gz ] || return 0
	zcat $FM/train-images-idx3-ubyte.gz | vcat --rows 0:5000 --to npy -o train.npy
	zcat $FM/t10k-images-idx3-ubyte.gz | vcat --rows 0:100 --to npy -o test.npy
	annhdf5 ann fm.hdf5 train.npy test.npy --k 10
	annhdf5 ann fmc.hdf5 train.npy test.npy --k 10 --chunks 33,100
	annhdf5 put fmz.h5 train train.npy --chunks 64,784 --gzip
	annhdf5 put fmr.hdf5 train train.npy --chunks 333,784
}

# need_fm: the files of setup_file, linked into the test's own directory.
need_fm() {
	need_h5py
	[ -r $FM/train-images-idx3-ubyte.gz ] ||
		skip "needs Debian's dataset-fashion-mnist"
	ln -s "$W"/fm.hdf5 "$W"/fmc.hdf5 "$W"/fmz.h5 "$W"/fmr.hdf5 "$W"/train.npy "$W"/test.npy .
}

# same_as_numpy OUT.npy FILE.hdf5 NAME: vcat's rows equal the dataset as
# numpy reads it, converted to float32 by numpy (NaN equal to NaN).
same_as_numpy() {
	run -0 "$PY" -c "
import sys, h5py, numpy as np
a = np.load('$1')
with h5py.File('$2', 'r') as f:
    b = f['$3'][()]
with np.errstate(over='ignore'):
    b = b.astype(np.float32)
print(a.dtype, a.shape == b.shape, np.array_equal(a, b, equal_nan=True))
"
	assert_output 'float32 True True'
}

@test "hdf5: train (the default) and FILE:test read as the arrays numpy reads" {
	need_fm
	vcat --to npy -o train.out.npy fm.hdf5
	same_as_numpy train.out.npy fm.hdf5 train
	vcat --to npy -o test.out.npy fm.hdf5:test
	same_as_numpy test.out.npy fm.hdf5 test
	# the same bytes as from the .npy they were made of
	cmp train.out.npy <(vcat --to npy train.npy)
	# neighbors (int32) and distances are datasets like any other
	vcat --to npy -o nb.npy fm.hdf5:neighbors
	same_as_numpy nb.npy fm.hdf5 neighbors
	run -0 vcat --count fm.hdf5:distances
	assert_output 100
	# FILE:/NAME is the same dataset
	run -0 vcat --count fm.hdf5:/test
	assert_output 100
}

@test "hdf5: --info and --count tell the format, the shape and the rows" {
	need_fm
	run -0 vcat --info fm.hdf5 fm.hdf5:neighbors
	assert_line 'file: fm.hdf5'
	assert_line 'file: fm.hdf5:neighbors'
	assert_line 'format: hdf5'
	assert_line 'dim: 784'
	assert_line 'dim: 10'
	assert_line 'rows: 5000'
	assert_line 'rows: 100'
	assert_line 'meta.source: hdf5'
	run -0 vcat --count fm.hdf5 fm.hdf5:train
	assert_output 10000
}

@test "hdf5: chunked (chunks across rows and columns, chunks of whole rows), gzip, and .h5 read the same rows" {
	need_fm
	vcat --to npy -o a.npy fm.hdf5
	vcat --to npy -o c.npy fmc.hdf5
	vcat --to npy -o z.npy fmz.h5
	vcat --to npy -o r.npy fmr.hdf5
	cmp a.npy c.npy
	cmp a.npy z.npy
	cmp a.npy r.npy
	# the filters that vtrain undoes once more to check a chunk's size, in
	# h5py's order (shuffle, gzip, fletcher32), and fletcher32 alone
	annhdf5 put f.hdf5 gsf train.npy --chunks 100,392 --gzip --shuffle --fletcher32
	annhdf5 put f.hdf5 f32 train.npy --chunks 100,392 --fletcher32
	annhdf5 put f.hdf5 gsf8 train.npy --dtype '>f8' --chunks 50,784 --gzip --shuffle
	for d in gsf f32 gsf8; do
		vcat --to npy -o $d.npy f.hdf5:$d
		cmp a.npy $d.npy
	done
	# a vtrain stream of it, read back, is the same too
	vcat -z -o c.vt fmc.hdf5
	cmp a.npy <(vcat --to npy c.vt)
}

@test "hdf5: float16/32/64 and integers of 8 to 64 bits, either byte order, convert as numpy does" {
	need_h5py
	"$PY" - <<'EOF'
import numpy as np
r = np.random.default_rng(7)
np.save("f.npy", np.concatenate([r.standard_normal((50, 6)) * 1e3,
                                  [[1e39, -1e39, 1e-50, 3.4028235e38, 0.1, -0.0]]]))
i = r.integers(-2**63, 2**63, size=(40, 6), dtype=np.int64)
i[0] = [2**53 + 1, 2**62 + 12345, -2**63, 2**63 - 1, 16777217, -16777217]
np.save("i.npy", i)
u = r.integers(0, 2**64, size=(40, 6), dtype=np.uint64)
u[0] = [2**64 - 1, 2**63, 1, 0, 16777217, 2**24 + 3]
np.save("u.npy", u)
s = r.integers(-128, 128, size=(40, 6))
np.save("s.npy", s)
EOF
	local t src
	for t in '<f4' '>f4' '<f8' '>f8' '<f2' '>f2' '<i8' '>i8' '<u8' '>u8' '<i4' '>u4' '<i2' '>u2' 'i1' 'u1'; do
		case $t in
		*f*) src=f.npy ;;
		'<i8'|'>i8'|'<i4') src=i.npy ;;
		*u8|*u4) src=u.npy ;;
		*) src=s.npy ;;
		esac
		[ "$t" = u1 ] || [ "$t" = '>u2' ] && src=s.npy
		rm -f t.hdf5
		annhdf5 put t.hdf5 train "$src" --dtype "$t"
		vcat --to npy -o out.npy t.hdf5
		same_as_numpy out.npy t.hdf5 train
	done
}

@test "hdf5: a float64 beyond float32's range is infinite, and the programs treat it as any infinity" {
	need_h5py
	"$PY" -c 'import numpy as np; np.save("f.npy", np.array([[1.0, 2.0], [1e300, 3.0], [4.0, 5.0]]))'
	annhdf5 put big.hdf5 train f.npy
	run -0 vcat --to text big.hdf5
	assert_output $'1 2\ninf 3\n4 5'
	# as the .npy of the same float64 values
	run -0 vcat --to text f.npy
	assert_output $'1 2\ninf 3\n4 5'
}

@test "hdf5: --from hdf5 reads a file of any name; the magic number finds it without an extension" {
	need_fm
	cp fm.hdf5 noext
	run -0 vcat --count noext
	assert_output 5000
	run -0 vcat --count noext:test
	assert_output 100
	cp fm.hdf5 data.bin
	run -0 vcat --from hdf5 --count data.bin:neighbors
	assert_output 100
}

# bad FILE TEXT...: vcat fails with status 1, nothing on stdout, and one line
# on stderr that names FILE and says each TEXT.
bad() {
	local f=$1
	shift
	run -1 --separate-stderr vcat --to npy -o out.npy "$f"
	assert_output ''
	local -a e
	mapfile -t e <<<"$stderr"
	[ "${#e[@]}" -eq 1 ] || fail "${#e[@]} lines on stderr, not 1: $stderr"
	[[ ${e[0]} == "vcat: $f: "* ]] || fail "the message does not name $f: ${e[0]}"
	local t
	for t in "$@"; do
		[[ ${e[0]} == *"$t"* ]] || fail "the message does not say '$t': ${e[0]}"
	done
	assert_no_leftovers out.npy
}

@test "hdf5: a missing dataset, a group, 1-D, 3-D and scalar datasets, a string dataset: one line, exit 1" {
	need_h5py
	"$PY" - <<'EOF'
import h5py, numpy as np
with h5py.File("x.hdf5", "w") as f:
    f["test"] = np.zeros((3, 4), "f4")
    f["cube"] = np.zeros((2, 3, 4), "f4")
    f["line"] = np.zeros(5, "f4")
    f["scalar"] = 1.5
    f["words"] = np.array([[b"ab", b"cd"]])
    f["pairs"] = np.zeros((3, 2), dtype=[("a", "f4"), ("b", "i4")])
    f["flags"] = np.zeros((3, 2), dtype=bool)
    f.create_group("grp")
EOF
	bad x.hdf5 "no dataset 'train'" "test" "FILE:NAME"
	bad x.hdf5:nope "no dataset 'nope'" "cube"
	bad x.hdf5:grp/nope "no dataset 'grp/nope'"
	bad x.hdf5:grp "'grp' is a group"
	bad x.hdf5:cube "'cube'" "3 dimensions" "(2, 3, 4)" "only 2-D"
	bad x.hdf5:line "'line'" "1 dimension" "(5)"
	bad x.hdf5:scalar "'scalar'" "0 dimensions" "()"
	bad x.hdf5:words "'words'" "string"
	bad x.hdf5:pairs "'pairs'" "compound"
	bad x.hdf5:flags "'flags'" "enum"
}

@test "hdf5: a non-HDF5 file named .hdf5, an empty one, a truncated one, a corrupt one: one line, exit 1" {
	need_fm
	echo 'not hdf5 at all' >text.hdf5
	bad text.hdf5 'not an HDF5 file'
	: >empty.hdf5
	bad empty.hdf5 'empty'
	local n size
	size=$(stat -L -c %s fm.hdf5)
	for n in 48 100 2000 $((size / 2)) $((size - 1)); do
		head -c "$n" fm.hdf5 >cut.hdf5
		bad cut.hdf5 'truncated'
	done
	# cut before the superblock's end-of-file address: libhdf5's reason is
	# less clear, the line is
	head -c 8 fm.hdf5 >cut.hdf5
	bad cut.hdf5 'cannot open as HDF5 (libhdf5: '
	# a user block before the superblock
	"$PY" -c 'import h5py, numpy as np; h5py.File("ub.hdf5", "w", userblock_size=512)["train"] = np.ones((100, 8), "f4")'
	run -0 vcat --count ub.hdf5
	assert_output 100
	head -c 700 ub.hdf5 >cut.hdf5
	bad cut.hdf5 'truncated'
	# the superblock's signature intact, the rest of its first 2 KiB noise
	{ head -c 8 fm.hdf5; head -c 2040 /dev/urandom; tail -c +2049 fm.hdf5; } >noise.hdf5
	run -1 --separate-stderr vcat --count noise.hdf5
	assert_output ''
	assert_err 'vcat: noise.hdf5: '
}

@test "hdf5: a shape larger than the file holds (chunked, contiguous) is one line, not endless fill values" {
	need_h5py
	"$PY" - <<'EOF'
import h5py, numpy as np, struct
with h5py.File("shape.hdf5", "w") as f:
    f.create_dataset("train", data=np.ones((1234, 8), "f4"), chunks=(100, 8))
    f.create_dataset("c", data=np.ones((1234, 8), "f4"))
    f.create_dataset("z", data=np.ones((1234, 8), "f4"), chunks=(100, 8), compression="gzip")
b = bytearray(open("shape.hdf5", "rb").read())
pat = struct.pack("<QQ", 1234, 8)   # the dataspaces: dims, then max dims
at = [i for i in range(len(b)) if b.startswith(pat, i)]
assert len(at) == 6, at
for i in at:
    b[i:i + 8] = struct.pack("<Q", 1 << 40)
open("shape.hdf5", "wb").write(b)
EOF
	bad shape.hdf5 "dataset 'train' of shape (1099511627776, 8)" 'more than a file of'
	bad shape.hdf5:c "dataset 'c' of shape (1099511627776, 8)" 'more than a file of'
	bad shape.hdf5:z "dataset 'z' of shape (1099511627776, 8)" 'more than a file of'
}

@test "hdf5: standard input, and FILE:NAME of a file that is not HDF5, are refused" {
	need_fm
	run -1 --separate-stderr bash -c 'vcat --count <fm.hdf5'
	assert_err 'vcat: (stdin): HDF5 is read from a named file'
	vcat --rows 0:10 --to npy -o small.npy train.npy
	run -1 --separate-stderr vcat --count small.npy:test
	assert_err 'vcat: small.npy:test: a :NAME suffix names a dataset of an HDF5 file'
	run -1 --separate-stderr vcat --count nosuch.hdf5:test
	assert_err 'vcat: nosuch.hdf5:test: No such file or directory'
}

# The programs give the same output for the .npy and the HDF5 file of the
# same rows (their own reports aside).
@test "hdf5: every program reads it as it reads the .npy of the same rows" {
	need_fm
	local src
	for src in train.npy fm.hdf5 fmc.hdf5; do
		local o=${src%%.*}.${src##*.}
		vsample -q -m 1000 --seed 3 -o "s.$o.vt" "$src"
		vkmeans -q -k 16 --seed 1 -o "c.$o.vt" "$src"
		vcoreset -q -k 16 --seed 1 -o "cs.$o.vt" "$src"
		vloss -q -c c.train.npy.vt --partial -o "acc.$o.vt" "$src"
		vrefine -q -c c.train.npy.vt -o "r.$o.vt" "$src"
		vpq -q -c c.train.npy.vt -m 8 --nbits 4 --seed 1 -o "pq.$o.vt" "$src"
		vsqbounds -q -o "sq.$o.vt" "$src"
		vassign -q -c c.train.npy.vt -o "l.$o.vt" "$src"
		vmerge -q -o "m.$o.vt" "s.$o.vt"
	done
	local f
	for f in s c cs acc r pq sq l m; do
		for src in fm.hdf5 fmc.hdf5; do
			cmp <(vcat --to text "$f.train.npy.vt") <(vcat --to text "$f.$src.vt") ||
				fail "$f: $src differs from train.npy"
		done
	done
	# the test queries against the centroids trained on the HDF5 file
	vassign -q -c c.fm.hdf5.vt -o q.vt fm.hdf5:test
	run -0 vcat --count q.vt
	assert_output 100
}

@test "hdf5: vsample knows the row count from the dataspace (no reservoir, no second reading)" {
	need_fm
	run -0 --separate-stderr vsample -v -m 100 --seed 1 -o s.vt fm.hdf5
	assert_err 'n=5000'
	[[ $stderr != *reservoir* ]] || fail "a reservoir sample: $stderr"
}

@test "hdf5: reading holds one block of rows, whatever the file's size" {
	need_fm
	is_sanitized && skip "resident memory under a sanitizer is not the program's"
	# 5000 x 784 float64 (31 MiB) in chunks of 64 rows
	annhdf5 put big.hdf5 train train.npy --dtype '<f8' --chunks 64,784
	run -0 /usr/bin/time -f '%M' vcat --count big.hdf5
	local kb=${lines[-1]}
	[ "$kb" -lt 24000 ] || fail "vcat --count of 31 MiB held $kb KiB"
}
