#!/usr/bin/env bats
# vcat: convert, concatenate, inspect and count streams and vector files.

load helpers

# a.vt: 1000 x 8 vectors in one uncompressed frame; a.txt: its text dump.
make_a() {
	vgen -n 1000 -d 8 --seed 3 -o a.vt
	vcat --to text a.vt >a.txt
}

# m.vt: the same rows in 8 frames of 128 rows (4 KiB).
make_m() {
	local -
	set -o pipefail
	vgen -n 1000 -d 8 --seed 3 --to raw | vcat --from raw --dim 8 --frame-bytes 4K -o m.vt
}

# --- conversion round trips -------------------------------------------------

@test "vcat: a stream passes through byte for byte" {
	make_a
	vcat a.vt >out.vt
	assert_files_equal a.vt out.vt
	vcat -o o.vt -- a.vt
	assert_files_equal a.vt o.vt
	# On stdin vcat cannot know whether another stream follows, so it drops
	# the row count that a.vt's header announces (metadata rows, docs/FORMAT.md),
	# and nothing else: a stream that announces none passes through as it is.
	vcat <a.vt >stdin.vt
	vcat - <a.vt >dash.vt
	assert_files_equal stdin.vt dash.vt
	run -0 vcat --info stdin.vt
	refute_line --partial "meta.rows"
	vcat <stdin.vt >again.vt
	assert_files_equal stdin.vt again.vt
	run -0 diff <(vcat --info a.vt | grep -v -e '^meta.rows:' -e '^file:' -e '^bytes' -e '^ratio') \
		<(vcat --info stdin.vt | grep -v -e '^file:' -e '^bytes' -e '^ratio')
	cmp <(vcat --to text a.vt) <(vcat --to text stdin.vt)
}

@test "vcat: a compressed stream passes through byte for byte" {
	vgen -n 5000 -d 16 -z -o z.vt
	vcat -z z.vt >out.vt
	assert_files_equal z.vt out.vt
}

@test "vcat: vt -> npy, fvecs, fbin -> vt round trips" {
	make_a
	for f in npy fvecs fbin; do
		vcat --to "$f" -o "a.$f" a.vt
		vcat --to vt -o "back.$f.vt" "a.$f"
		vcat --to text "back.$f.vt" >back.txt
		assert_files_equal a.txt back.txt
		run -0 vcat --count "a.$f"
		assert_output 1000
	done
}

@test "vcat: vt -> raw -> vt with --dim round trips" {
	make_a
	vcat --to raw -o a.raw a.vt
	assert_file_size_equals a.raw 32000
	vcat --dim 8 -o back.vt a.raw
	vcat --to text back.vt >back.txt
	assert_files_equal a.txt back.txt
	vcat --from raw --dim 8 --to text a.raw >back2.txt
	assert_files_equal a.txt back2.txt
}

@test "vcat: text dump is one row per line, %.9g exact" {
	# 1, 2, 3, 0.5, -0.25 and float32(0.1) as little-endian float32
	printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40' >x.raw
	printf '\x00\x00\x00\x3f\x00\x00\x80\xbe\xcd\xcc\xcc\x3d' >>x.raw
	run -0 vcat --dim 3 --to text x.raw
	assert_output $'1 2 3\n0.5 -0.25 0.100000001'

}

@test "vcat: numpy reads --to npy, fvecs and fbin as the same vectors" {
	need_numpy
	make_a
	for f in npy fvecs fbin; do
		vcat --to "$f" -o "a.$f" a.vt
	done
	run -0 check_vectors a.txt npy a.npy fvecs a.fvecs fbin a.fbin
	assert_line 'a.npy: shape=(1000, 8) dtype=float32 equal=True'
	assert_line 'a.fvecs: shape=(1000, 8) dtype=float32 equal=True'
	assert_line 'a.fbin: shape=(1000, 8) dtype=float32 equal=True'
}

@test "vcat: a PQ codebook goes to npy as (M, 2^nbits, d/M), models as (rows, d)" {
	need_numpy
	vgen -n 3000 -d 16 --means 20 --seed 1 -o x.vt
	vkmeans -q -k 8 -o c.vt x.vt
	vpq -q -c c.vt -m 4 --nbits 5 -o pq.vt x.vt
	vsqbounds -q --mode dim -o sq.vt x.vt
	for f in c pq sq; do vcat --to npy -o $f.npy $f.vt; vcat --to text -o $f.txt $f.vt; done
	run -0 /usr/bin/python3 -c "
import numpy as np
for f in ('c', 'pq', 'sq'):
    a = np.load(f + '.npy')
    t = np.loadtxt(f + '.txt', ndmin=2)
    if f == 'c':
        t = t[:, 2:]          # weight and loss columns first
    print(f, a.shape, a.dtype, bool((a.reshape(t.shape) == t.astype(np.float32)).all()))
"
	assert_line "c (8, 16) float32 True"
	assert_line "pq (4, 32, 4) float32 True"
	assert_line "sq (2, 16) float32 True"
}

@test "vcat: reads .npy of every dtype numpy writes (f4 f8 f2 u1 i1 i8 u8) and versions 1-3" {
	need_numpy
	"$PY" - <<'EOF'
import numpy as np
from numpy.lib import format as npf
a = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 100]])
for t in ("<f4", "<f8", "<f2", "|u1", "|i1", "<i8", "<u8"):
    np.save("t_%s.npy" % t[1:], a.astype(t))
for v in ((1, 0), (2, 0), (3, 0)):
    with open("v%d.npy" % v[0], "wb") as f:
        npf.write_array(f, a.astype("<f4"), version=v)
EOF
	for f in t_f4 t_f8 t_f2 t_u1 t_i1 t_i8 t_u8 v1 v2 v3; do
		run -0 vcat --to text "$f.npy"
		assert_output $'1 2 3\n4 5 6\n7 8 100'
	done
}

@test "vcat: int64 and uint64 .npy, either byte order, round to float32 as numpy's astype does" {
	need_numpy
	"$PY" - <<'EOF'
import numpy as np
r = np.random.default_rng(5)
i = r.integers(-2**63, 2**63, size=(30, 4), dtype=np.int64)
i[0] = [2**53 + 1, -2**63, 2**63 - 1, 16777217]
u = r.integers(0, 2**64, size=(30, 4), dtype=np.uint64)
u[0] = [2**64 - 1, 2**63, 16777219, 0]
for t in ("<i8", ">i8"):
    np.save("i%s.npy" % ("le" if t[0] == "<" else "be"), i.astype(t))
for t in ("<u8", ">u8"):
    np.save("u%s.npy" % ("le" if t[0] == "<" else "be"), u.astype(t))
np.save("i.ref.npy", i.astype(np.float32))
np.save("u.ref.npy", u.astype(np.float32))
EOF
	local f
	for f in ile ibe ule ube; do
		vcat --to npy -o "$f.out.npy" "$f.npy"
		cmp "$f.out.npy" "${f:0:1}.ref.npy"
	done
	run -0 vcat --info ibe.npy
	assert_line 'format: npy'
	assert_line 'rows: 30'
}

@test "vcat: --to npy and fbin to a pipe: patched in a file, held in memory up to 256 MiB on a pipe" {
	make_a
	# The row count of a stream is known only at its end: a file is patched.
	cat a.vt | vcat --to npy >a.npy
	run -0 vcat --count a.npy
	assert_output 1000
	cat a.vt | vcat --to fbin >a.fbin
	run -0 vcat --count a.fbin
	assert_output 1000
	# a.vt announces its rows (vgen, metadata rows); p.vt, made on a pipe,
	# does not: on a pipe its rows are held, then written after the header
	cat a.vt | vcat >p.vt
	for f in npy fbin; do
		run -0 bash -c "set -o pipefail; cat p.vt | vcat --to $f | cat >held.$f"
		run -0 bash -c "set -o pipefail; cat a.vt | vcat --to $f | cat >piped.$f"
		# (a patched npy header has room for any count, so only the rows compare)
		vcat --to raw "a.$f" >a.raw
		for g in held piped; do
			run -0 vcat --count "$g.$f"
			assert_output 1000
			vcat --to raw "$g.$f" | cmp - a.raw
		done
		# a file's count is known from its end markers, also when cut
		run -0 bash -c "set -o pipefail; vcat --to $f --rows 10:250 p.vt | cat >cut.$f"
		run -0 vcat --count "cut.$f"
		assert_output 240
	done
	# raw rows of unknown count, 600,000 x 128 floats (293 MiB), are more
	# than a pipe's npy may hold: a clear error, and nothing on the pipe
	run -0 --separate-stderr bash -c "vgen -q -n 600000 -d 128 --to raw |
		vcat --from raw --dim 128 --to npy | wc -c; echo \${PIPESTATUS[1]}"
	assert_output $'0\n1'
	assert_err "vcat: (stdout): npy of an unknown row count to a pipe is held in memory up to 256 MiB, and this one is larger; write it to a file (-o FILE.npy)"
}

@test "vcat: reads the empty files that vgen -n 0 writes" {
	for f in vt npy fbin fvecs; do
		vgen -n 0 -d 4 --to "$f" -o "e.$f"
		run -0 --separate-stderr vcat --count "e.$f"
		assert_output 0
	done
	vgen -n 0 -d 4 --to raw -o e.raw
	run -0 --separate-stderr vcat --count --dim 4 e.raw
	assert_output 0
}

@test "vcat: a .raw file without --dim fails, naming the file and --dim" {
	vgen -n 3 -d 4 --to raw -o a.raw
	run ! --separate-stderr vcat --count a.raw
	assert [ "$status" -eq 1 -o "$status" -eq 2 ]
	assert_output ''
	assert_err 'vcat: a.raw: '
	assert_err '--dim'
}

# --- format detection -------------------------------------------------------

@test "vcat: detects vt and npy by magic whatever the extension" {
	make_a
	vcat --to npy -o a.npy a.vt
	cp a.vt stream.dat
	cp a.npy array.fvecs
	vcat --to text stream.dat >1.txt
	vcat --to text array.fvecs >2.txt
	assert_files_equal a.txt 1.txt
	assert_files_equal a.txt 2.txt
	# and on stdin, where there is no name
	vcat --to text <a.npy >3.txt
	assert_files_equal a.txt 3.txt
}

@test "vcat: detects fvecs and fbin by extension" {
	make_a
	vcat --to fvecs -o a.fvecs a.vt
	vcat --to fbin -o a.fbin a.vt
	run -0 vcat --info a.fvecs
	assert_line 'format: fvecs'
	run -0 vcat --info a.fbin
	assert_line 'format: fbin'
}

@test "vcat: --from reads a file with no telling name or magic" {
	make_a
	vcat --to fvecs -o a.fvecs a.vt
	cp a.fvecs a.bin
	run -1 --separate-stderr vcat --count a.bin
	assert_err 'vcat: a.bin: '
	assert_err '--from'
	run -0 vcat --from fvecs --count a.bin
	assert_output 1000
	run -0 bash -c 'set -o pipefail; vcat --from fvecs --to text <a.fvecs | cmp - a.txt && echo same'
	assert_output same
}

# --- concatenation ----------------------------------------------------------

@test "vcat: several inputs of one dimension concatenate, any formats" {
	make_a
	vcat --to npy -o a.npy a.vt
	vcat --to fvecs -o a.fvecs a.vt
	vcat --to fbin -o a.fbin a.vt
	vcat --to raw -o a.raw a.vt
	vcat -o all.vt a.vt a.npy a.fvecs a.fbin
	run -0 vcat --count all.vt
	assert_output 4000
	cat a.txt a.txt a.txt a.txt >want.txt
	vcat --to text all.vt >got.txt
	assert_files_equal want.txt got.txt
	run -0 vcat --count a.vt a.fvecs - <a.npy
	assert_output 3000
}

@test "vcat: concatenated streams read as one (cat a.vt b.vt | vcat --count)" {
	make_a
	vgen -n 77 -d 8 -z -o b.vt
	run -0 bash -c 'set -o pipefail; cat a.vt b.vt a.vt | vcat --count'
	assert_output 2077
	run -0 bash -c 'set -o pipefail; cat a.vt b.vt | vcat --info'
	assert_line 'segments: 2'
	assert_line 'rows: 1077'
	assert_line 'checksums: ok'
}

# --- --count, --info, --ids -------------------------------------------------

@test "vcat: --count prints the row count of every format" {
	make_a
	for f in npy fvecs fbin; do
		vcat --to "$f" -o "a.$f" a.vt
		run -0 --separate-stderr vcat --count "a.$f"
		assert_output 1000
	done
	run -0 vcat --count --from raw --dim 8 <(vcat --to raw a.vt)
	assert_output 1000
}

@test "vcat: --info reports the header, frames, ratio and checksums" {
	make_m
	run -0 --separate-stderr vcat --info m.vt
	assert_line 'file: m.vt'
	assert_line 'format: vtrain stream version 1'
	assert_line 'kind: vectors'
	assert_line 'element: f32'
	assert_line 'dim: 8'
	assert_line 'columns: none'
	assert_line 'segments: 1'
	assert_line 'frames: 8'
	assert_line 'rows: 1000'
	assert_line 'codecs: none=8 lz4=0 lz4-shuffle=0'
	assert_line 'raw_bytes: 32000'
	assert_line 'ratio: 1.000'
	assert_line 'checksums: ok'
	assert_equal "$stderr" ''
}

@test "vcat: --info shows compression and its ratio" {
	vgen -n 20000 -d 16 --means 4 --sigma 0 -o c.vt
	vcat --compress=lz4 -o l.vt c.vt
	run -0 vcat --info l.vt
	assert_line --regexp '^codecs: none=0 lz4=[1-9][0-9]* lz4-shuffle=0$'
	assert_line --regexp '^ratio: ([2-9]|[1-9][0-9]+)\.[0-9]{3}$'
}

@test "vcat: --info of several files prints one paragraph each" {
	make_a
	vcat --to npy -o a.npy a.vt
	run -0 vcat --info a.vt a.npy
	assert_line 'file: a.vt'
	assert_line 'file: a.npy'
	assert_line 'format: npy'
	assert_line 'meta.source: npy'
}

@test "vcat: --ids numbers rows globally across inputs" {
	make_a
	vcat --ids -o i.vt a.vt a.vt
	run -0 vcat --info i.vt
	assert_line 'columns: ids'
	run -0 bash -c 'set -o pipefail; vcat --to text i.vt | cut -d" " -f1 | sed -n "1p;1000p;1001p;2000p" | paste -sd,'
	assert_output '0,999,1000,1999'
	# The vectors are unchanged.
	vcat --to text i.vt >i.txt
	run -0 bash -c 'cut -d" " -f2- i.txt | head -1000 | cmp - a.txt && echo same'
	assert_output same
}

@test "vcat: --ids keeps the ids a stream already has" {
	vgen -n 5 -d 2 --first 40 --ids -o s.vt
	run -0 bash -c 'set -o pipefail; vcat --ids s.vt | vcat --to text | cut -d" " -f1 | paste -sd,'
	assert_output '40,41,42,43,44'
}

@test "vcat: the text dump of weighted points shows weight and loss" {
	need_xxhash
	vtcraft points 3 2 p.vt
	run -0 vcat --to text p.vt
	assert_output $'1 0 0 1 2\n2 0.5 3 4 5'
	run -0 vcat --info p.vt
	assert_line 'kind: points'
	assert_line 'columns: weight loss'
}

# --- compression ------------------------------------------------------------

@test "vcat: none, lz4 and lz4-shuffle decode to identical vectors" {
	vgen -n 20000 -d 16 --means 4 --sigma 0.01 -o c.vt
	vcat --to raw c.vt >want.raw
	for z in none lz4 lz4-shuffle; do
		vcat --compress=$z -o "c.$z.vt" c.vt
		vcat --to raw "c.$z.vt" >got.raw
		assert_files_equal want.raw got.raw
		# and recompressing to each other codec keeps them too
		run -0 bash -c 'set -o pipefail; vcat -z "$1" | vcat --compress=lz4 | vcat --to raw >got2.raw' \
			_ "c.$z.vt"
		assert_files_equal want.raw got2.raw
	done
	run -0 vcat --info c.lz4-shuffle.vt
	assert_line --regexp '^codecs: none=0 lz4=0 lz4-shuffle=[1-9]'
}

@test "vcat: --frame-bytes sets the frame size of a new stream" {
	make_m
	run -0 vcat --info m.vt
	assert_line 'frames: 8'
}

@test "vcat: --frame-bytes re-frames a stream that is passed through" {
	make_a
	# a.vt has one frame of 32000 bytes; 4 KiB frames hold 128 rows.
	vcat --frame-bytes 4K -o re.vt a.vt
	run -0 vcat --info re.vt
	assert_line 'frames: 8'
}

# --- output and pipes -------------------------------------------------------

@test "vcat: a failing conversion leaves no -o file and no temp file" {
	make_a
	cut_at a.vt cut.vt 5000
	run -1 --separate-stderr vcat -o out.vt a.vt cut.vt
	assert_err 'vcat: cut.vt: '
	assert_no_leftovers out.vt
	run -1 --separate-stderr vcat --to npy -o out.npy a.vt cut.vt
	assert_no_leftovers out.npy
	run -1 --separate-stderr vcat --to fvecs -o out.fvecs cut.vt
	assert_no_leftovers out.fvecs
	run -0 bash -c 'ls -A | sort | paste -sd,'
	assert_output 'a.txt,a.vt,cut.vt'
}

@test "vcat: a failing conversion keeps an existing -o file as it was" {
	make_a
	cut_at a.vt cut.vt 5000
	echo old >out.vt
	run -1 vcat -o out.vt cut.vt
	run -0 cat out.vt
	assert_output old
}

@test "vcat: -o FIFO writes into the FIFO, not over it" {
	make_a
	mkfifo fifo
	timeout 10 cat fifo >got.vt &
	local pid=$!
	run -0 timeout 10 vcat -o fifo a.vt
	[ -p fifo ] || kill "$pid"
	wait "$pid" || true
	assert [ -p fifo ]
	assert_files_equal a.vt got.vt
}

@test "vcat: output through head ends quietly (SIGPIPE, no message)" {
	vgen -n 100000 -d 32 -o big.vt
	for to in vt text fvecs raw; do
		run -0 bash -c "vcat --to $to big.vt | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}"
		assert_output --regexp '^(141|0)$'
	done
	run -0 bash -c 'cat big.vt | vcat -z | head -c 100 >/dev/null; echo ${PIPESTATUS[1]}'
	assert_output --regexp '^(141|0)$'
}

@test "vcat: a write error fails with a message" {
	make_a
	run -1 --separate-stderr bash -c 'vcat a.vt >/dev/full'
	assert_err 'vcat: (stdout): '
	run -1 --separate-stderr bash -c 'vcat --to text a.vt >/dev/full'
	assert_err 'vcat: (stdout): '
}

@test "vcat: --count and --info report a write error" {
	make_a
	run -1 --separate-stderr bash -c 'vcat --count a.vt >/dev/full'
	assert_err 'vcat: '
	run -1 --separate-stderr bash -c 'vcat --info a.vt >/dev/full'
	assert_err 'vcat: '
}

@test "vcat: refuses binary output to a terminal, but text is fine" {
	command -v script >/dev/null || skip "needs script(1) from util-linux for a pty"
	vgen -n 2 -d 2 -o a.vt
	run -2 script -qec 'vcat a.vt 2>err' /dev/null
	assert_output ''
	run -0 cat err
	assert_output --partial 'vcat: refusing to write binary output to a terminal'
	run -0 script -qec 'vcat --to text a.vt 2>err' /dev/null
	assert_equal "${#lines[@]}" 2
}

# --- bad input (issue 2) ----------------------------------------------------

@test "bad input: a stream cut inside the header is truncated" {
	make_a
	for n in 5 20 100; do
		cut_at a.vt cut.vt "$n"
		run -1 --separate-stderr vcat --count cut.vt
		assert_output ''
		assert_err 'vcat: cut.vt: '
		assert_err 'truncated'
	done
}

@test "bad input: a stream cut inside a frame header is truncated" {
	make_a
	cut_at a.vt cut.vt $(($(frame_offset a.vt 1) + 10))
	run -1 --separate-stderr vcat --count cut.vt
	assert_err 'vcat: cut.vt: frame 1: truncated'
}

@test "bad input: a stream cut mid-frame is truncated, names the frame" {
	make_m
	cut_at m.vt cut.vt $(($(frame_offset m.vt 3) + 100))
	run -1 --separate-stderr vcat -o out.vt cut.vt
	assert_err 'vcat: cut.vt: frame 3: truncated'
	assert_no_leftovers out.vt
}

@test "bad input: a stream cut right before the end marker is truncated" {
	make_m
	cut_at m.vt cut.vt "$(end_offset m.vt)"
	run -1 --separate-stderr vcat --to text -o out.txt cut.vt
	assert_err 'vcat: cut.vt: '
	assert_err 'truncated'
	assert_no_leftovers out.txt
	run -1 --separate-stderr vcat --count cut.vt
	assert_output ''
	assert_err 'truncated'
}

@test "bad input: a stream cut inside the end marker is truncated" {
	make_a
	cut_at a.vt cut.vt $(($(stat -c %s a.vt) - 10))
	run -1 --separate-stderr vcat --count cut.vt
	assert_err 'vcat: cut.vt: '
	assert_err 'truncated'
}

@test "bad input: a truncated stream on stdin, and after a good one" {
	make_a
	cut_at a.vt cut.vt 5000
	run -1 --separate-stderr bash -c 'cat a.vt cut.vt | vcat --count'
	assert_output ''
	assert_err 'vcat: (stdin): '
	assert_err 'truncated'
	run -1 --separate-stderr vcat --count a.vt cut.vt
	assert_err 'vcat: cut.vt: '
}

@test "bad input: an empty input" {
	: >empty.vt
	run -1 --separate-stderr vcat --count empty.vt
	assert_output ''
	assert_err 'vcat: empty.vt: '
	run -1 --separate-stderr vcat --count </dev/null
	assert_err 'vcat: (stdin): '
}

@test "bad input: a flipped byte in the header is a checksum error" {
	make_a
	for off in 13 40; do   # the dimension; a metadata key
		flip_byte a.vt bad.vt "$off"
		run -1 --separate-stderr vcat -o out.vt bad.vt
		assert_err 'vcat: bad.vt: '
		assert_err 'checksum'
		assert_no_leftovers out.vt
	done
}

@test "bad input: a flipped byte in a frame header is a checksum error naming the frame" {
	make_m
	flip_byte m.vt bad.vt $(($(frame_offset m.vt 5) + 9))   # its row count
	run -1 --separate-stderr vcat -o out.vt bad.vt
	assert_err 'vcat: bad.vt: frame 5: '
	assert_err 'checksum'
	assert_no_leftovers out.vt
}

@test "bad input: a flipped byte in a payload is a checksum error naming the frame" {
	make_m
	flip_byte m.vt bad.vt $(($(frame_offset m.vt 7) + 32 + 1000))
	for mode in '' '--count' '--info' '--to npy -o out.npy'; do
		run -1 --separate-stderr vcat $mode bad.vt
		assert_err 'vcat: bad.vt: frame 7: checksum mismatch'
	done
	assert_no_leftovers out.npy
}

@test "bad input: a flipped byte in a compressed payload is a checksum error" {
	vgen -n 20000 -d 16 -z -o z.vt
	flip_byte z.vt bad.vt $(($(frame_offset z.vt 1) + 32 + 50))
	run -1 --separate-stderr vcat --to raw -o out.raw bad.vt
	assert_err 'vcat: bad.vt: frame 1: checksum'
	assert_no_leftovers out.raw
}

@test "bad input: a flipped byte in the end marker is a checksum error" {
	make_m
	local end
	end=$(end_offset m.vt)
	for off in $((end + 17)) $((end + 26)) $((end + 35)); do   # rows, chain, check
		flip_byte m.vt bad.vt "$off"
		run -1 --separate-stderr vcat -o out.vt bad.vt
		assert_err 'vcat: bad.vt: '
		assert_err 'checksum'
		assert_no_leftovers out.vt
	done
}

@test "bad input: a corrupt LZ4 payload with right checksums" {
	need_xxhash
	vgen -n 20000 -d 16 --means 4 --sigma 0 -o c.vt
	for z in lz4 lz4-shuffle; do
		vcat --compress=$z -o "$z.vt" c.vt
		vtcraft garble-payload "$z.vt" bad.vt
		run -1 --separate-stderr vcat --to raw -o out.raw bad.vt
		assert_err 'vcat: bad.vt: frame 1: '
		assert_err 'corrupt'
		assert_no_leftovers out.raw
	done
}

@test "bad input: frames swapped between streams break the frame chain" {
	make_m
	# Frames 2 and 3 have the same size: swap them; each checksum is still right.
	local f2 f3 f4
	f2=$(frame_offset m.vt 2)
	f3=$(frame_offset m.vt 3)
	f4=$(frame_offset m.vt 4)
	{ head -c "$f2" m.vt; tail -c +$((f3 + 1)) m.vt | head -c $((f4 - f3))
	  tail -c +$((f2 + 1)) m.vt | head -c $((f3 - f2)); tail -c +$((f4 + 1)) m.vt; } >bad.vt
	assert_file_size_equals bad.vt "$(stat -c %s m.vt)"
	run -1 --separate-stderr vcat --count bad.vt
	assert_err 'vcat: bad.vt: '
	assert_err_regex '(chain|reordered|lost)'
}

@test "bad input: a wrong magic" {
	make_a
	{ printf 'VTS\x1b'; tail -c +5 a.vt; } >bad.vt
	run -1 --separate-stderr vcat --count bad.vt
	assert_output ''
	assert_err 'vcat: bad.vt: '
	assert_err_regex '(magic|unknown format)'
	run -1 --separate-stderr vcat --from vt --count bad.vt
	assert_err 'vcat: bad.vt: '
	assert_err 'magic'
	run -1 --separate-stderr bash -c 'cat a.vt bad.vt | vcat --count'
	assert_err 'vcat: (stdin): '
	assert_err 'stream 2'
	assert_err 'magic'
}

@test "bad input: an unknown version (with a valid header checksum)" {
	need_xxhash
	make_a
	for v in 0 2 65535; do
		vtcraft set-version a.vt bad.vt "$v"
		run -1 --separate-stderr vcat -o out.vt bad.vt
		assert_err 'vcat: bad.vt: '
		assert_err_regex "version [^0-9]*$v([^0-9]|\$)"
		assert_no_leftovers out.vt
	done
}

@test "bad input: a version patched without fixing the checksum" {
	make_a
	printf '\x02' | dd of=a.vt bs=1 seek=4 conv=notrunc status=none
	run -1 --separate-stderr vcat --count a.vt
	# The checksum is verified first, so this is a checksum error.
	assert_err 'vcat: a.vt: '
	assert_err 'checksum'
}

@test "bad input: the wrong kind: vectors followed by points" {
	need_xxhash
	vgen -n 10 -d 8 -o v.vt
	vtcraft points 8 4 p.vt
	run -1 --separate-stderr bash -c 'cat v.vt p.vt | vcat --count'
	assert_output ''
	assert_err 'vcat: (stdin): '
	assert_err 'stream 2'
	assert_err 'points'
	assert_err 'vectors'
	run -1 --separate-stderr vcat -o out.vt v.vt p.vt
	assert_err 'vcat: p.vt: '
	assert_err 'points'
	assert_no_leftovers out.vt
	run -1 --separate-stderr vcat --count p.vt v.vt
	assert_err 'vcat: v.vt: '
}

@test "bad input: a dimension mismatch between inputs" {
	vgen -n 10 -d 8 -o d8.vt
	vgen -n 10 -d 16 -o d16.vt
	run -1 --separate-stderr vcat -o out.vt d8.vt d16.vt
	assert_err 'vcat: d16.vt: '
	assert_err 'dimension 16'
	assert_err 'dimension 8'
	assert_no_leftovers out.vt
	run -1 --separate-stderr bash -c 'cat d8.vt d16.vt | vcat --count'
	assert_output ''
	assert_err 'vcat: (stdin): '
	assert_err 'stream 2'
	assert_err 'dimension 16'
	vcat --to fvecs -o d16.fvecs d16.vt
	run -1 --separate-stderr vcat --to npy -o out.npy d8.vt d16.fvecs
	assert_err 'vcat: d16.fvecs: '
	assert_no_leftovers out.npy
}

@test "bad input: dimension 2^31 in a stream header (valid checksum)" {
	need_xxhash
	make_a
	vtcraft set-dim a.vt bad.vt 2147483648
	run -1 --separate-stderr limited vcat --count bad.vt
	assert_err 'vcat: bad.vt: '
	assert_err 'dimension 2147483648'
}

@test "bad input: a frame header claiming 2^31 rows (valid check)" {
	need_xxhash
	make_a
	vtcraft set-frame-rows a.vt bad.vt 2147483648
	run -1 --separate-stderr limited vcat -o out.vt bad.vt
	assert_err 'vcat: bad.vt: frame 1: '
	assert_err '2147483648'
	assert_no_leftovers out.vt
}

@test "bad input: dimension 2^31 in an .fbin header" {
	{ le32 10; le32 2147483648; head -c 64 /dev/zero; } >bad.fbin
	run -1 --separate-stderr limited vcat --count bad.fbin
	assert_output ''
	assert_err 'vcat: bad.fbin: '
	assert_err 'dimension 2147483648'
}

@test "bad input: 2^32-1 rows in an .fbin header with few bytes" {
	{ le32 4294967295; le32 4; head -c 64 /dev/zero; } >bad.fbin
	run -1 --separate-stderr limited vcat -o out.vt bad.fbin
	assert_err 'vcat: bad.fbin: '
	assert_err 'of 4294967295'
	assert_no_leftovers out.vt
}

@test "bad input: 2^60 rows in an .npy header" {
	{ npy_header '<f4' False '(1152921504606846976, 4)'; head -c 64 /dev/zero; } >bad.npy
	run -1 --separate-stderr limited vcat --count bad.npy
	assert_output ''
	assert_err 'vcat: bad.npy: '
	assert_err '1152921504606846976'
}

@test "bad input: dimension 2^31-1 in an .fvecs record" {
	{ le32 2147483647; head -c 64 /dev/zero; } >bad.fvecs
	run -1 --separate-stderr limited vcat --count bad.fvecs
	assert_err 'vcat: bad.fvecs: record 0'
	assert_err 'dimension 2147483647'
}

@test "bad input: .npy with fortran_order" {
	{ npy_header '<f4' True '(3, 4)'; head -c 48 /dev/zero; } >fortran.npy
	run -1 --separate-stderr vcat -o out.vt fortran.npy
	assert_output ''
	assert_err 'vcat: fortran.npy: '
	assert_err 'fortran_order'
	assert_no_leftovers out.vt
}

@test "bad input: .npy with fortran_order, written by numpy" {
	need_numpy
	"$PY" -c 'import numpy as np; np.save("f.npy", np.asfortranarray(np.ones((3, 4), "<f4")))'
	run -1 --separate-stderr vcat --count f.npy
	assert_err 'vcat: f.npy: fortran_order'
}

@test "bad input: .npy with an unsupported dtype" {
	for t in '<M8' '<c8' '|b1' '<U4' '|O'; do
		{ npy_header "$t" False '(2, 2)'; head -c 64 /dev/zero; } >bad.npy
		run -1 --separate-stderr vcat -o out.vt bad.npy
		assert_err 'vcat: bad.npy: '
		assert_err "$t"
		assert_err_regex '(not supported|unsupported)'
		assert_no_leftovers out.vt
	done
}

@test "bad input: an .fvecs whose record dimensions differ" {
	vgen -n 5 -d 4 --to fvecs -o d4.fvecs
	vgen -n 5 -d 5 --to fvecs -o d5.fvecs
	cat d4.fvecs d5.fvecs d4.fvecs >bad.fvecs
	run -1 --separate-stderr vcat --to text -o out.txt bad.fvecs
	assert_err 'vcat: bad.fvecs: record 5'
	assert_err 'dimension 5'
	assert_no_leftovers out.txt
	run -1 --separate-stderr vcat --count bad.fvecs
	assert_output ''
}

@test "bad input: an .fvecs cut mid-record" {
	vgen -n 5 -d 4 --to fvecs -o d4.fvecs
	cut_at d4.fvecs cut.fvecs 90
	run -1 --separate-stderr vcat --count cut.fvecs
	assert_err 'vcat: cut.fvecs: record 4'
	assert_err 'truncated'
}

@test "bad input: an input that does not exist" {
	run -1 --separate-stderr vcat --count nosuch.vt
	assert_output ''
	assert_err 'vcat: nosuch.vt: No such file or directory'
	vgen -n 3 -d 2 -o a.vt
	run -1 --separate-stderr vcat -o out.vt a.vt nosuch.vt
	assert_err 'vcat: nosuch.vt: No such file or directory'
	assert_no_leftovers out.vt
	run -1 --separate-stderr vcat --info nosuch.vt
	assert_err 'vcat: nosuch.vt: No such file or directory'
}

@test "bad input: a directory as input" {
	mkdir dir.vt
	run -1 --separate-stderr limited vcat --count dir.vt
	assert_err 'vcat: dir.vt: '
}

# --- help, version, usage errors -------------------------------------------

@test "vcat: --help and -h print the usage to stdout" {
	run -0 --separate-stderr vcat --help
	assert_line --index 0 --regexp '^Usage: vcat '
	assert_output --partial '--info'
	assert_equal "$stderr" ''
	run -0 vcat -h
	assert_line --index 0 --regexp '^Usage: vcat '
}

@test "vcat: --version" {
	run -0 --separate-stderr vcat --version
	assert_output --regexp '^vcat \(vtrain\) [0-9]+\.[0-9]+'
}

@test "vcat: usage error: unknown option" {
	run -2 --separate-stderr vcat --bogus
	assert_usage_error vcat "unknown option '--bogus'"
	run -2 --separate-stderr vcat -X
	assert_usage_error vcat "unknown option '-X'"
}

@test "vcat: usage error: bad --to and --from" {
	run -2 --separate-stderr vcat --to xml
	assert_usage_error vcat "--to: 'xml'"
	run -2 --separate-stderr vcat --to bvecs
	assert_usage_error vcat "--to: 'bvecs'"
	run -2 --separate-stderr vcat --from text
	assert_usage_error vcat "--from: unknown input format 'text'"
}

@test "vcat: usage error: --from raw without --dim" {
	run -2 --separate-stderr vcat --from raw x.raw
	assert_usage_error vcat '--from raw needs --dim'
}

@test "vcat: usage error: bad --dim, --frame-bytes and --compress" {
	run -2 --separate-stderr vcat --dim 0
	assert_usage_error vcat "--dim: '0'"
	run -2 --separate-stderr vcat --dim 2147483648
	assert_usage_error vcat "--dim: '2147483648'"
	run -2 --separate-stderr vcat --frame-bytes 0
	assert_usage_error vcat "--frame-bytes: '0'"
	run -2 --separate-stderr vcat --frame-bytes 1X
	assert_usage_error vcat "--frame-bytes: '1X'"
	run -2 --separate-stderr vcat --frame-bytes 1G
	assert_usage_error vcat '--frame-bytes: at most'
	run -2 --separate-stderr vcat --compress=zstd
	assert_usage_error vcat "--compress: 'zstd'"
}

@test "vcat: usage error: --info and --count with -o or each other" {
	run -2 --separate-stderr vcat --info --count
	assert_usage_error vcat '--info and --count'
	run -2 --separate-stderr vcat --count -o out.txt
	assert_usage_error vcat '--info and --count'
	assert_file_not_exists out.txt
}

@test "vcat: usage error: an option without its argument" {
	run -2 --separate-stderr vcat --to
	assert_usage_error vcat "'--to' needs an argument"
}

# --- row ranges -------------------------------------------------------------

@test "vcat: --rows A:B keeps rows A to B-1, with their ids" {
	vgen -n 1000 -d 4 --ids -o r.vt
	run -0 bash -c 'set -o pipefail; vcat --rows 100:250 r.vt | vcat --count'
	assert_output 150
	run -0 bash -c 'vcat --rows 100:250 --to text r.vt | head -1 | cut -d" " -f1'
	assert_output 100
	run -0 bash -c 'set -o pipefail; vcat --rows 990: r.vt | vcat --count'
	assert_output 10
	# The pieces, concatenated, are the whole.
	vcat --rows 0:333 r.vt >p1.vt
	vcat --rows 333:1000 r.vt >p2.vt
	vcat p1.vt p2.vt --to raw >joined.raw
	vcat r.vt --to raw >whole.raw
	assert_files_equal joined.raw whole.raw
}

@test "vcat: --rows usage errors" {
	run -2 --separate-stderr vcat --rows 5:3 x.vt
	assert_usage_error vcat "--rows"
	run -2 --separate-stderr vcat --rows abc x.vt
	assert_usage_error vcat "--rows"
	run -2 --separate-stderr vcat --rows -1:4 x.vt
	assert_usage_error vcat "--rows"
}

@test "vcat: metadata keys must be unique and values valid UTF-8 (docs/FORMAT.md)" {
	vgen -n 10 -d 4 -o a.vt
	vtcraft add-meta a.vt dup.vt made_by x
	run ! vcat --info dup.vt
	assert_output --partial "dup.vt: header: metadata key 'made_by' appears twice"
	for bad in ff c0af eda080 f4908080 e282; do # stray, overlong, surrogate, > U+10FFFF, cut short
		vtcraft add-meta a.vt u.vt note "hex:41${bad}42"
		run ! vcat --count u.vt
		assert_output --partial "u.vt: header: metadata value of 'note' is not valid UTF-8"
	done
	# Valid UTF-8 of 2, 3 and 4 bytes is kept as it is.
	vtcraft add-meta a.vt ok.vt note "hex:c3a9e282acf09f9880"
	run -0 vcat --info ok.vt
	assert_line "meta.note: é€😀"
}
