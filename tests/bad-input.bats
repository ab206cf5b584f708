#!/usr/bin/env bats
# Bad input, for every program (issue 7): damaged and cut streams, wrong
# kinds and dimensions, non-finite and degenerate data, outputs that cannot
# be written, closed pipes and signals.  One test per program and case; the
# cases are the bad_* helpers below, the programs' command lines are cmd().
#
# With VT_BAD_INPUT_LOG=FILE, each check appends "program<TAB>case<TAB>exit
# status<TAB>first line of stderr" to FILE: tests/bad-input-table.sh makes
# the table of docs/BAD-INPUT.md from it.

load helpers

setup_file() {
	export FX="$BATS_FILE_TMPDIR/fx"
	mkdir -p "$FX"
	cd "$FX" || return 1
	PATH="$VT_BIN:$PATH"
	# data.vt: 2000 vectors (d 8) with ids and vsample metadata, in 10 frames
	vgen -n 4000 -d 8 --means 8 --seed 2 -q -o g.vt
	vsample -m 2000 -q -o s.vt g.vt
	vcat --frame-bytes 8192 -o data.vt s.vt
	vcat --rows 0:100 -o small.vt data.vt
	vgen -n 400 -d 16 --seed 4 -q | vsample -m 200 --total 400 -q -o data16.vt
	vkmeans -k 4 -q -o cent.vt data.vt
	vkmeans -k 4 --metric=cosine -q -o centc.vt g.vt
	vkmeans -k 4 -q -o cent16.vt data16.vt
	vcat --to npy -o cent.npy cent.vt   # L2 centroids that record no metric
	vcoreset -k 4 --budget 32 -q -o pts.vt data.vt
	vsqbounds -q -o sq.vt data.vt
	# nan.vt: 100 rows with a NaN in row 3 and +Inf in row 7; zero.vt: the
	# same rows, finite, with rows 10..19 all zero
	vgen -n 100 -d 8 --seed 5 --to raw -q -o x.raw
	cp x.raw nan.raw
	printf '\x00\x00\xc0\x7f' | dd of=nan.raw bs=1 seek=$((3 * 32 + 8)) conv=notrunc status=none
	printf '\x00\x00\x80\x7f' | dd of=nan.raw bs=1 seek=$((7 * 32)) conv=notrunc status=none
	vcat --from raw --dim 8 --ids -o nan.vt nan.raw
	cp x.raw zero.raw
	head -c 320 /dev/zero | dd of=zero.raw bs=1 seek=320 conv=notrunc status=none
	vcat --from raw --dim 8 --ids -o zero.vt zero.raw
	# damaged copies of data.vt and cent.vt
	: >empty.vt
	cut_at data.vt header-only.vt "$(header_size data.vt)"
	cut_at data.vt mid-frame.vt $(($(frame_offset data.vt 2) + 100))
	cut_at data.vt no-end.vt "$(end_offset data.vt)"
	flip_byte data.vt flip-header.vt 13
	flip_byte data.vt flip-frame-header.vt $(($(frame_offset data.vt 2) + 9))
	flip_byte data.vt flip-payload.vt $(($(frame_offset data.vt 2) + 32 + 50))
	flip_byte data.vt flip-end.vt $(($(end_offset data.vt) + 17))
	cut_at cent.vt cent-cut.vt $(($(frame_offset cent.vt 1) + 40))
	# HDF5 (with Debian's python3-h5py): data.vt's rows as dataset train of
	# data.hdf5, beside a 3-D dataset; a text file named .hdf5; data.hdf5
	# cut in half; train chunked by 16 x 4 with the chunk's shape in the
	# layout message made 16 x 41476 (the shape that crashed libhdf5 1.10.8)
	if "$PY" -c 'import h5py' 2>/dev/null; then
		vcat --to npy -o data.npy data.vt
		"$PY" "$VT_FIXTURES/annhdf5.py" put data.hdf5 train data.npy
		"$PY" "$VT_FIXTURES/annhdf5.py" put data.hdf5 cube data.npy --shape 100,20,8
		echo 'not HDF5' >text.hdf5
		cut_at data.hdf5 cut.hdf5 $(($(stat -c %s data.hdf5) / 2))
		"$PY" "$VT_FIXTURES/annhdf5.py" put chunk.hdf5 train data.npy --chunks 16,4
		"$PY" - <<'EOF'
import struct
b = bytearray(open("chunk.hdf5", "rb").read())
pat = struct.pack("<III", 16, 4, 4)   # chunk dims, then the element size
i = b.find(pat)
assert i > 0 and b.find(pat, i + 1) < 0
b[i + 4:i + 8] = struct.pack("<I", 41476)
open("chunk.hdf5", "wb").write(b)
EOF
	fi
}

# cmd PROG: the program's command line for a plain run, in CMD (inputs and
# -o follow).
cmd() {
	case $1 in
	vgen) CMD=(vgen -n 3000 -d 8) ;;
	vcat) CMD=(vcat) ;;
	vsample) CMD=(vsample -m 500) ;;
	vcoreset) CMD=(vcoreset -k 4 --budget 32) ;;
	vmerge) CMD=(vmerge) ;;
	vkmeans) CMD=(vkmeans -k 4) ;;
	vrefine) CMD=(vrefine -c "$FX/cent.vt") ;;
	vpq) CMD=(vpq -c "$FX/cent.vt" -m 2 --nbits 2) ;;
	vsqbounds) CMD=(vsqbounds) ;;
	vloss) CMD=(vloss -c "$FX/cent.vt") ;;
	vassign) CMD=(vassign -c "$FX/cent.vt") ;;
	*) fail "cmd: unknown program $1" ;;
	esac
}

# The input of a plain run (vgen has none).
input_of() {
	[ "$1" = vgen ] || echo "$FX/data.vt"
}

# note PROG CASE: log the last run's status and message (VT_BAD_INPUT_LOG).
note() {
	[ -n "${VT_BAD_INPUT_LOG:-}" ] || return 0
	local msg=${stderr%%$'\n'*}
	msg=${msg//$FX\//}
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$status" "$msg" >>"$VT_BAD_INPUT_LOG"
}

# expect_fail PROG CASE FILE TEXT ARGS...: PROG ARGS... -o out.vt fails with
# exit 1, prints nothing on stdout, names FILE (unless ''), says TEXT, and
# leaves no output.
expect_fail() {
	local p=$1 c=$2 f=$3 text=$4
	shift 4
	run -1 --separate-stderr "$@" -o out.vt
	note "$p" "$c"
	assert_output ''
	[ -z "$f" ] || assert_err "$p: $f: "
	assert_err "$p: "
	assert_err "$text"
	assert_no_leftovers out.vt
}

# expect_ok PROG CASE ROWS TEXT ARGS...: PROG ARGS... -o out.vt succeeds,
# says TEXT on stderr (if not empty), and writes a valid stream of ROWS rows.
expect_ok() {
	local p=$1 c=$2 rows=$3 text=$4
	shift 4
	run -0 --separate-stderr "$@" -o out.vt
	note "$p" "$c"
	[ -z "$text" ] || assert_err "$text"
	run -0 vcat --count out.vt
	assert_output "$rows"
}

# --- damaged streams --------------------------------------------------------

# damaged PROG CASE FIXTURE TEXT: PROG reading FIXTURE (a damaged data.vt).
damaged() {
	cmd "$1"
	expect_fail "$1" "$2" "$FX/$3" "$4" "${CMD[@]}" "$FX/$3"
}

bad_empty() { damaged "$1" 'empty input' empty.vt 'empty input'; }
bad_header_only() { damaged "$1" 'header only' header-only.vt 'truncated stream'; }
bad_mid_frame() { damaged "$1" 'truncated mid-frame' mid-frame.vt 'frame 2: truncated stream'; }
bad_no_end() { damaged "$1" 'truncated before the end marker' no-end.vt 'truncated stream (no end marker)'; }
bad_flip_header() { damaged "$1" 'flipped byte: header' flip-header.vt 'header checksum mismatch'; }
bad_flip_frame_header() {
	damaged "$1" 'flipped byte: frame header' flip-frame-header.vt 'frame 2: frame header checksum mismatch'
}
bad_flip_payload() { damaged "$1" 'flipped byte: payload' flip-payload.vt 'frame 2: checksum mismatch'; }
bad_flip_end() { damaged "$1" 'flipped byte: end marker' flip-end.vt 'end marker checksum mismatch'; }

# Centroids cut mid-frame, as -c.
bad_centroids() {
	local p=$1
	cmd "$p"
	CMD[2]=$FX/cent-cut.vt
	[ "$p" != vsqbounds ] || CMD=(vsqbounds -c "$FX/cent-cut.vt")
	expect_fail "$p" 'damaged -c centroids' "$FX/cent-cut.vt" 'frame 1: truncated stream' \
		"${CMD[@]}" "$FX/data.vt"
}

# --- wrong kind, wrong dimension --------------------------------------------

bad_kind() {
	local p=$1
	cmd "$p"
	case $p in
	vcat)
		expect_fail "$p" 'wrong kind' "$FX/sq.vt" 'is sq, but the first input is vectors' \
			vcat "$FX/data.vt" "$FX/sq.vt" ;;
	vmerge)
		expect_fail "$p" 'wrong kind' "$FX/pts.vt" 'cannot be merged with' \
			vmerge "$FX/data.vt" "$FX/pts.vt" ;;
	vsqbounds)
		expect_fail "$p" 'wrong kind' "$FX/cent.vt" 'is a centroids stream' \
			vsqbounds "$FX/cent.vt" ;;
	*)
		expect_fail "$p" 'wrong kind' "$FX/sq.vt" 'is a sq stream' "${CMD[@]}" "$FX/sq.vt" ;;
	esac
	case $p in
	vrefine | vpq | vloss | vsqbounds | vassign)   # and SQ bounds as centroids
		[ "$p" = vsqbounds ] && CMD=(vsqbounds -c x) || cmd "$p"
		CMD[2]=$FX/sq.vt
		expect_fail "$p" 'wrong kind (-c)' "$FX/sq.vt" 'is a sq stream' "${CMD[@]}" "$FX/data.vt" ;;
	esac
}

bad_dim() {
	local p=$1
	cmd "$p"
	if [ "$p" = vmerge ]; then
		expect_fail "$p" 'dimension mismatch' "$FX/data16.vt" \
			'has dimension 16, but the first input has dimension 8' \
			vmerge "$FX/data.vt" "$FX/data16.vt"
	else
		expect_fail "$p" 'dimension mismatch' "$FX/data16.vt" \
			'has dimension 16, but the first input has dimension 8 (' \
			"${CMD[@]}" "$FX/data.vt" "$FX/data16.vt"
	fi
	case $p in
	vrefine | vpq | vloss | vsqbounds | vassign)   # centroids of another dimension
		[ "$p" = vsqbounds ] && CMD=(vsqbounds -c x) || cmd "$p"
		CMD[2]=$FX/cent16.vt
		expect_fail "$p" 'dimension mismatch (-c)' "$FX/cent16.vt" \
			"centroids have dimension 16, but $FX/data.vt has 8" "${CMD[@]}" "$FX/data.vt" ;;
	esac
}

# --- data -------------------------------------------------------------------

# Rows with a NaN or an infinity: dropped and counted where the program
# samples or bounds (vsample, vpq, vsqbounds), kept by the converter (vcat),
# refused, naming the row, where a model is trained or scored.
bad_nan() {
	local p=$1 f=$FX/nan.vt
	cmd "$p"
	case $p in
	vcat) expect_ok "$p" 'NaN/Inf rows' 100 '' vcat "$f" ;;
	vsample) expect_ok "$p" 'NaN/Inf rows' 98 'dropped 2 rows with NaN or infinite values' "${CMD[@]}" "$f" ;;
	vpq) expect_ok "$p" 'NaN/Inf rows' 8 'dropped 2 rows with NaN or infinite values' "${CMD[@]}" "$f" ;;
	vsqbounds) expect_ok "$p" 'NaN/Inf rows' 2 'dropped=2' "${CMD[@]}" "$f" ;;
	vcoreset)
		expect_fail "$p" 'NaN/Inf rows' "$f" 'row 3 has a NaN or infinite value' \
			"${CMD[@]}" --total-rows 100 "$f" ;;
	*) expect_fail "$p" 'NaN/Inf rows' "$f" 'row 3 has a NaN or infinite value' "${CMD[@]}" "$f" ;;
	esac
}

# More clusters (or a larger sample, budget, codebook) than rows.
bad_k() {
	local p=$1 d=$FX/data.vt s=$FX/small.vt
	case $p in
	vsample) expect_ok "$p" 'k larger than the data' 2000 '' vsample -k 5000 "$d" ;;
	vcoreset) expect_ok "$p" 'k larger than the data' 2000 '' vcoreset -k 5000 "$d" ;;
	vmerge) expect_ok "$p" 'k larger than the data' 31 '' vmerge --budget 5000 "$FX/pts.vt" ;;
	vkmeans)
		# (about all the inputs together, so no file is named)
		expect_fail "$p" 'k larger than the data' '' 'k=5000 is larger than the 2000 input rows' \
			vkmeans -k 5000 "$d" ;;
	vrefine) expect_ok "$p" 'k larger than the data' 2000 'empty=1' vrefine -c "$d" "$s" ;;
	vloss)
		run -0 --separate-stderr vloss -c "$d" -o out.txt "$s"
		note "$p" 'k larger than the data'
		run -0 cat out.txt
		assert_output --regexp '^loss=[0-9.e+-]+ mean=[0-9.e+-]+ n=100 k=2000 min=0 .* empty=1[0-9]{3} ' ;;
	vpq)
		expect_fail "$p" 'k larger than the data' "$s" '100 rows: PQ with 8 bits needs at least 256' \
			vpq -c "$FX/cent.vt" -m 2 "$s" ;;
	vassign) expect_ok "$p" 'k larger than the data' 100 'k=2000' vassign -c "$d" --top 3 "$s" ;;
	*) fail "bad_k: not for $p" ;;
	esac
}

# Rows of norm 0 with --metric=cosine: dropped and counted by vsample, kept
# (as they are) with a warning by the others.
bad_cosine() {
	local p=$1 f=$FX/zero.vt w='warning: 10 rows have norm 0 and cannot be normalised'
	cmd "$p"
	case $p in
	vsample)
		expect_ok "$p" 'zero vectors, cosine' 90 'dropped 10 rows of norm 0' \
			"${CMD[@]}" --metric=cosine "$f" ;;
	vkmeans) expect_ok "$p" 'zero vectors, cosine' 4 "$w" "${CMD[@]}" --metric=cosine "$f" ;;
	vrefine)
		expect_ok "$p" 'zero vectors, cosine' 4 "$w" \
			vrefine -c "$FX/centc.vt" --metric=cosine "$f" ;;
	vpq)
		expect_ok "$p" 'zero vectors, cosine' 8 "$w" \
			vpq -c "$FX/centc.vt" -m 2 --nbits 2 --metric=cosine "$f" ;;
	vsqbounds) expect_ok "$p" 'zero vectors, cosine' 2 "$w" vsqbounds --metric=cosine "$f" ;;
	vassign)
		expect_ok "$p" 'zero vectors, cosine' 100 "$w" \
			vassign -c "$FX/centc.vt" --metric=cosine "$f" ;;
	vloss)
		run -0 --separate-stderr vloss -c "$FX/centc.vt" --metric=cosine -o out.txt "$f"
		note "$p" 'zero vectors, cosine'
		assert_err "$w"
		run -0 cat out.txt
		assert_output --regexp '^loss=[0-9.e+-]+ mean=[0-9.e+-]+ n=100 k=4 ' ;;
	*) fail "bad_cosine: not for $p" ;;
	esac
}

# L2 centroids (an .npy, which records no metric) given with --metric=dot:
# the largest inner product is the nearest centroid only for unit
# centroids, so every program that takes -c refuses them, naming the file.
# The input is g.vt (vgen's rows, which record no metric either).
bad_dot() {
	local p=$1 f=$FX/cent.npy
	case $p in
	vrefine | vloss | vassign) CMD=("$p" -c "$f") ;;
	vpq) CMD=(vpq -c "$f" -m 2 --nbits 2) ;;
	vsqbounds) CMD=(vsqbounds -c "$f") ;;
	*) fail "bad_dot: not for $p" ;;
	esac
	expect_fail "$p" 'dot: centroids not of unit norm' "$f" \
		'has norm ' "${CMD[@]}" --metric=dot "$FX/g.vt"
	assert_err 'metric=dot needs unit-norm centroids (vkmeans --metric=dot makes them)'
}

# --- HDF5 -------------------------------------------------------------------

# A bad HDF5 input (tests/hdf5.bats has more): PROG reading each of the
# files of setup_file.
bad_hdf5() {
	local p=$1 f
	[ -e "$FX/data.hdf5" ] || skip "needs Debian's python3-h5py"
	cmd "$p"
	f=$FX/text.hdf5
	expect_fail "$p" 'HDF5: not an HDF5 file' "$f" 'not an HDF5 file' "${CMD[@]}" "$f"
	f=$FX/cut.hdf5
	expect_fail "$p" 'HDF5: truncated' "$f" 'truncated HDF5 file' "${CMD[@]}" "$f"
	f=$FX/data.hdf5:nope
	expect_fail "$p" 'HDF5: no such dataset' "$f" "no dataset 'nope'" "${CMD[@]}" "$f"
	f=$FX/data.hdf5:cube
	expect_fail "$p" 'HDF5: a 3-D dataset' "$f" 'only 2-D datasets' "${CMD[@]}" "$f"
	f=$FX/chunk.hdf5
	expect_fail "$p" 'HDF5: damaged chunk shape' "$f" 'is damaged' "${CMD[@]}" "$f"
}

# --- outputs ----------------------------------------------------------------

bad_out_dir() {
	local p=$1
	cmd "$p"
	run -1 --separate-stderr "${CMD[@]}" -o nodir/out.vt $(input_of "$p")
	note "$p" 'output in a missing directory'
	assert_output ''
	assert_err "$p: nodir/out.vt: No such file or directory"
	assert_not_exist nodir
}

bad_full() {
	local p=$1
	cmd "$p"
	run -1 --separate-stderr "${CMD[@]}" -o /dev/full $(input_of "$p")
	note "$p" 'a full disk'
	assert_err "$p: /dev/full: no space left on device"
	run -1 --separate-stderr bash -c '"$@" >/dev/full' _ "${CMD[@]}" $(input_of "$p")
	assert_err "$p: (stdout): no space left on device"
}

bad_stdout_closed() {
	local p=$1
	cmd "$p"
	run -1 --separate-stderr bash -c '"$@" >&-' _ "${CMD[@]}" $(input_of "$p")
	note "$p" 'stdout closed'
	assert_err "$p: (stdout): Bad file descriptor"
}

# A reader that goes away (| head -c 10): no message; the program dies of
# SIGPIPE (status 141) when a write finds the pipe closed, or ends with 0 when
# its output fitted in the pipe before the reader left.  The runs write more
# than a pipe holds where the program's output can be that large.
bad_sigpipe() {
	local p=$1 in
	cmd "$p"
	in=$(input_of "$p")
	case $p in   # outputs of 100 KB and more
	vgen) CMD=(vgen -n 100000 -d 8) ;;
	vcat | vmerge) in="$in $in" ;;
	vsample) CMD=(vsample -m 4000) in=$FX/g.vt ;;
	vcoreset) CMD=(vcoreset -k 4 --budget 2000) ;;
	vrefine) CMD=(vrefine -c "$FX/data.vt") ;;
	vassign) CMD=(vassign -c "$FX/cent.vt" --top 4) in="$FX/g.vt" ;;
	esac
	run --separate-stderr bash -c 'set -o pipefail; "$@" | head -c 10 >/dev/null' _ \
		"${CMD[@]}" -q $in
	note "$p" 'SIGPIPE (head -c 10 exits)'
	assert_equal "$stderr" ''
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] || fail "$p: exit status $status under | head"
	case $p in
	vgen | vcat | vsample | vcoreset | vmerge | vrefine | vassign)
		assert_equal "$status" 141 ;;
	esac
}

# SIGINT half a second into a long run writing -o out.vt: the program dies of
# the signal (status 130) and leaves neither out.vt nor its temporary file.
bad_sigint() {
	local p=$1 pid rc=0
	cmd "$p"
	case $p in
	vsample) CMD+=(--total 100000000) ;;
	vcoreset) CMD=(vcoreset -k 4 --budget 100000 --total-rows 1000000) ;;
	esac
	if [ "$p" = vgen ]; then
		vgen -n 100000000 -d 8 -q -o out.vt 3>&- &
	else
		vgen -n 100000000 -d 8 --ids -q 2>/dev/null 3>&- | "${CMD[@]}" -q -o out.vt - 3>&- &
	fi
	pid=$!
	sleep 0.5
	kill -INT "$pid"
	wait "$pid" || rc=$?
	status=$rc stderr='' note "$p" 'SIGINT mid-run'
	assert_equal "$rc" 130
	assert_no_leftovers out.vt
}

# --- the matrix -------------------------------------------------------------
# Every case for every program it applies to (vgen reads no input; vcat,
# vcoreset and vmerge have no --metric; vcat, vsqbounds have no k).

@test "bad input: vcat: empty input" { bad_empty vcat; }
@test "bad input: vcat: header only" { bad_header_only vcat; }
@test "bad input: vcat: truncated mid-frame" { bad_mid_frame vcat; }
@test "bad input: vcat: truncated before the end marker" { bad_no_end vcat; }
@test "bad input: vcat: flipped byte in the header" { bad_flip_header vcat; }
@test "bad input: vcat: flipped byte in a frame header" { bad_flip_frame_header vcat; }
@test "bad input: vcat: flipped byte in a payload" { bad_flip_payload vcat; }
@test "bad input: vcat: flipped byte in the end marker" { bad_flip_end vcat; }
@test "bad input: vcat: bad HDF5 files" { bad_hdf5 vcat; }
@test "bad input: vcat: wrong kind" { bad_kind vcat; }
@test "bad input: vcat: dimension mismatch" { bad_dim vcat; }
@test "bad input: vcat: NaN/Inf rows" { bad_nan vcat; }
@test "bad input: vcat: output in a missing directory" { bad_out_dir vcat; }
@test "bad input: vcat: full disk" { bad_full vcat; }
@test "bad input: vcat: stdout closed" { bad_stdout_closed vcat; }
@test "bad input: vcat: SIGPIPE from | head" { bad_sigpipe vcat; }
@test "bad input: vcat: SIGINT mid-run" { bad_sigint vcat; }

@test "bad input: vgen: output in a missing directory" { bad_out_dir vgen; }
@test "bad input: vgen: full disk" { bad_full vgen; }
@test "bad input: vgen: stdout closed" { bad_stdout_closed vgen; }
@test "bad input: vgen: SIGPIPE from | head" { bad_sigpipe vgen; }
@test "bad input: vgen: SIGINT mid-run" { bad_sigint vgen; }

@test "bad input: vsample: empty input" { bad_empty vsample; }
@test "bad input: vsample: header only" { bad_header_only vsample; }
@test "bad input: vsample: truncated mid-frame" { bad_mid_frame vsample; }
@test "bad input: vsample: truncated before the end marker" { bad_no_end vsample; }
@test "bad input: vsample: flipped byte in the header" { bad_flip_header vsample; }
@test "bad input: vsample: flipped byte in a frame header" { bad_flip_frame_header vsample; }
@test "bad input: vsample: flipped byte in a payload" { bad_flip_payload vsample; }
@test "bad input: vsample: flipped byte in the end marker" { bad_flip_end vsample; }
@test "bad input: vsample: bad HDF5 files" { bad_hdf5 vsample; }
@test "bad input: vsample: wrong kind" { bad_kind vsample; }
@test "bad input: vsample: dimension mismatch" { bad_dim vsample; }
@test "bad input: vsample: NaN/Inf rows" { bad_nan vsample; }
@test "bad input: vsample: k larger than the data" { bad_k vsample; }
@test "bad input: vsample: zero vectors with --metric=cosine" { bad_cosine vsample; }
@test "bad input: vsample: output in a missing directory" { bad_out_dir vsample; }
@test "bad input: vsample: full disk" { bad_full vsample; }
@test "bad input: vsample: stdout closed" { bad_stdout_closed vsample; }
@test "bad input: vsample: SIGPIPE from | head" { bad_sigpipe vsample; }
@test "bad input: vsample: SIGINT mid-run" { bad_sigint vsample; }

@test "bad input: vcoreset: empty input" { bad_empty vcoreset; }
@test "bad input: vcoreset: header only" { bad_header_only vcoreset; }
@test "bad input: vcoreset: truncated mid-frame" { bad_mid_frame vcoreset; }
@test "bad input: vcoreset: truncated before the end marker" { bad_no_end vcoreset; }
@test "bad input: vcoreset: flipped byte in the header" { bad_flip_header vcoreset; }
@test "bad input: vcoreset: flipped byte in a frame header" { bad_flip_frame_header vcoreset; }
@test "bad input: vcoreset: flipped byte in a payload" { bad_flip_payload vcoreset; }
@test "bad input: vcoreset: flipped byte in the end marker" { bad_flip_end vcoreset; }
@test "bad input: vcoreset: bad HDF5 files" { bad_hdf5 vcoreset; }
@test "bad input: vcoreset: wrong kind" { bad_kind vcoreset; }
@test "bad input: vcoreset: dimension mismatch" { bad_dim vcoreset; }
@test "bad input: vcoreset: NaN/Inf rows" { bad_nan vcoreset; }
@test "bad input: vcoreset: k larger than the data" { bad_k vcoreset; }
@test "bad input: vcoreset: output in a missing directory" { bad_out_dir vcoreset; }
@test "bad input: vcoreset: full disk" { bad_full vcoreset; }
@test "bad input: vcoreset: stdout closed" { bad_stdout_closed vcoreset; }
@test "bad input: vcoreset: SIGPIPE from | head" { bad_sigpipe vcoreset; }
@test "bad input: vcoreset: SIGINT mid-run" { bad_sigint vcoreset; }

@test "bad input: vmerge: empty input" { bad_empty vmerge; }
@test "bad input: vmerge: header only" { bad_header_only vmerge; }
@test "bad input: vmerge: truncated mid-frame" { bad_mid_frame vmerge; }
@test "bad input: vmerge: truncated before the end marker" { bad_no_end vmerge; }
@test "bad input: vmerge: flipped byte in the header" { bad_flip_header vmerge; }
@test "bad input: vmerge: flipped byte in a frame header" { bad_flip_frame_header vmerge; }
@test "bad input: vmerge: flipped byte in a payload" { bad_flip_payload vmerge; }
@test "bad input: vmerge: flipped byte in the end marker" { bad_flip_end vmerge; }
@test "bad input: vmerge: bad HDF5 files" { bad_hdf5 vmerge; }
@test "bad input: vmerge: wrong kind" { bad_kind vmerge; }
@test "bad input: vmerge: dimension mismatch" { bad_dim vmerge; }
@test "bad input: vmerge: NaN/Inf rows" { bad_nan vmerge; }
@test "bad input: vmerge: k larger than the data" { bad_k vmerge; }
@test "bad input: vmerge: output in a missing directory" { bad_out_dir vmerge; }
@test "bad input: vmerge: full disk" { bad_full vmerge; }
@test "bad input: vmerge: stdout closed" { bad_stdout_closed vmerge; }
@test "bad input: vmerge: SIGPIPE from | head" { bad_sigpipe vmerge; }
@test "bad input: vmerge: SIGINT mid-run" { bad_sigint vmerge; }

@test "bad input: vkmeans: empty input" { bad_empty vkmeans; }
@test "bad input: vkmeans: header only" { bad_header_only vkmeans; }
@test "bad input: vkmeans: truncated mid-frame" { bad_mid_frame vkmeans; }
@test "bad input: vkmeans: truncated before the end marker" { bad_no_end vkmeans; }
@test "bad input: vkmeans: flipped byte in the header" { bad_flip_header vkmeans; }
@test "bad input: vkmeans: flipped byte in a frame header" { bad_flip_frame_header vkmeans; }
@test "bad input: vkmeans: flipped byte in a payload" { bad_flip_payload vkmeans; }
@test "bad input: vkmeans: flipped byte in the end marker" { bad_flip_end vkmeans; }
@test "bad input: vkmeans: bad HDF5 files" { bad_hdf5 vkmeans; }
@test "bad input: vkmeans: wrong kind" { bad_kind vkmeans; }
@test "bad input: vkmeans: dimension mismatch" { bad_dim vkmeans; }
@test "bad input: vkmeans: NaN/Inf rows" { bad_nan vkmeans; }
@test "bad input: vkmeans: k larger than the data" { bad_k vkmeans; }
@test "bad input: vkmeans: zero vectors with --metric=cosine" { bad_cosine vkmeans; }
@test "bad input: vkmeans: output in a missing directory" { bad_out_dir vkmeans; }
@test "bad input: vkmeans: full disk" { bad_full vkmeans; }
@test "bad input: vkmeans: stdout closed" { bad_stdout_closed vkmeans; }
@test "bad input: vkmeans: SIGPIPE from | head" { bad_sigpipe vkmeans; }
@test "bad input: vkmeans: SIGINT mid-run" { bad_sigint vkmeans; }

@test "bad input: vrefine: empty input" { bad_empty vrefine; }
@test "bad input: vrefine: header only" { bad_header_only vrefine; }
@test "bad input: vrefine: truncated mid-frame" { bad_mid_frame vrefine; }
@test "bad input: vrefine: truncated before the end marker" { bad_no_end vrefine; }
@test "bad input: vrefine: flipped byte in the header" { bad_flip_header vrefine; }
@test "bad input: vrefine: flipped byte in a frame header" { bad_flip_frame_header vrefine; }
@test "bad input: vrefine: flipped byte in a payload" { bad_flip_payload vrefine; }
@test "bad input: vrefine: flipped byte in the end marker" { bad_flip_end vrefine; }
@test "bad input: vrefine: bad HDF5 files" { bad_hdf5 vrefine; }
@test "bad input: vrefine: damaged -c centroids" { bad_centroids vrefine; }
@test "bad input: vrefine: wrong kind" { bad_kind vrefine; }
@test "bad input: vrefine: dimension mismatch" { bad_dim vrefine; }
@test "bad input: vrefine: NaN/Inf rows" { bad_nan vrefine; }
@test "bad input: vrefine: k larger than the data" { bad_k vrefine; }
@test "bad input: vrefine: zero vectors with --metric=cosine" { bad_cosine vrefine; }
@test "bad input: vrefine: non-unit centroids with --metric=dot" { bad_dot vrefine; }
@test "bad input: vrefine: output in a missing directory" { bad_out_dir vrefine; }
@test "bad input: vrefine: full disk" { bad_full vrefine; }
@test "bad input: vrefine: stdout closed" { bad_stdout_closed vrefine; }
@test "bad input: vrefine: SIGPIPE from | head" { bad_sigpipe vrefine; }
@test "bad input: vrefine: SIGINT mid-run" { bad_sigint vrefine; }

@test "bad input: vpq: empty input" { bad_empty vpq; }
@test "bad input: vpq: header only" { bad_header_only vpq; }
@test "bad input: vpq: truncated mid-frame" { bad_mid_frame vpq; }
@test "bad input: vpq: truncated before the end marker" { bad_no_end vpq; }
@test "bad input: vpq: flipped byte in the header" { bad_flip_header vpq; }
@test "bad input: vpq: flipped byte in a frame header" { bad_flip_frame_header vpq; }
@test "bad input: vpq: flipped byte in a payload" { bad_flip_payload vpq; }
@test "bad input: vpq: flipped byte in the end marker" { bad_flip_end vpq; }
@test "bad input: vpq: bad HDF5 files" { bad_hdf5 vpq; }
@test "bad input: vpq: damaged -c centroids" { bad_centroids vpq; }
@test "bad input: vpq: wrong kind" { bad_kind vpq; }
@test "bad input: vpq: dimension mismatch" { bad_dim vpq; }
@test "bad input: vpq: NaN/Inf rows" { bad_nan vpq; }
@test "bad input: vpq: k larger than the data" { bad_k vpq; }
@test "bad input: vpq: zero vectors with --metric=cosine" { bad_cosine vpq; }
@test "bad input: vpq: non-unit centroids with --metric=dot" { bad_dot vpq; }
@test "bad input: vpq: output in a missing directory" { bad_out_dir vpq; }
@test "bad input: vpq: full disk" { bad_full vpq; }
@test "bad input: vpq: stdout closed" { bad_stdout_closed vpq; }
@test "bad input: vpq: SIGPIPE from | head" { bad_sigpipe vpq; }
@test "bad input: vpq: SIGINT mid-run" { bad_sigint vpq; }

@test "bad input: vsqbounds: empty input" { bad_empty vsqbounds; }
@test "bad input: vsqbounds: header only" { bad_header_only vsqbounds; }
@test "bad input: vsqbounds: truncated mid-frame" { bad_mid_frame vsqbounds; }
@test "bad input: vsqbounds: truncated before the end marker" { bad_no_end vsqbounds; }
@test "bad input: vsqbounds: flipped byte in the header" { bad_flip_header vsqbounds; }
@test "bad input: vsqbounds: flipped byte in a frame header" { bad_flip_frame_header vsqbounds; }
@test "bad input: vsqbounds: flipped byte in a payload" { bad_flip_payload vsqbounds; }
@test "bad input: vsqbounds: flipped byte in the end marker" { bad_flip_end vsqbounds; }
@test "bad input: vsqbounds: bad HDF5 files" { bad_hdf5 vsqbounds; }
@test "bad input: vsqbounds: damaged -c centroids" { bad_centroids vsqbounds; }
@test "bad input: vsqbounds: wrong kind" { bad_kind vsqbounds; }
@test "bad input: vsqbounds: dimension mismatch" { bad_dim vsqbounds; }
@test "bad input: vsqbounds: NaN/Inf rows" { bad_nan vsqbounds; }
@test "bad input: vsqbounds: zero vectors with --metric=cosine" { bad_cosine vsqbounds; }
@test "bad input: vsqbounds: non-unit centroids with --metric=dot" { bad_dot vsqbounds; }
@test "bad input: vsqbounds: output in a missing directory" { bad_out_dir vsqbounds; }
@test "bad input: vsqbounds: full disk" { bad_full vsqbounds; }
@test "bad input: vsqbounds: stdout closed" { bad_stdout_closed vsqbounds; }
@test "bad input: vsqbounds: SIGPIPE from | head" { bad_sigpipe vsqbounds; }
@test "bad input: vsqbounds: SIGINT mid-run" { bad_sigint vsqbounds; }

@test "bad input: vloss: empty input" { bad_empty vloss; }
@test "bad input: vloss: header only" { bad_header_only vloss; }
@test "bad input: vloss: truncated mid-frame" { bad_mid_frame vloss; }
@test "bad input: vloss: truncated before the end marker" { bad_no_end vloss; }
@test "bad input: vloss: flipped byte in the header" { bad_flip_header vloss; }
@test "bad input: vloss: flipped byte in a frame header" { bad_flip_frame_header vloss; }
@test "bad input: vloss: flipped byte in a payload" { bad_flip_payload vloss; }
@test "bad input: vloss: flipped byte in the end marker" { bad_flip_end vloss; }
@test "bad input: vloss: bad HDF5 files" { bad_hdf5 vloss; }
@test "bad input: vloss: damaged -c centroids" { bad_centroids vloss; }
@test "bad input: vloss: wrong kind" { bad_kind vloss; }
@test "bad input: vloss: dimension mismatch" { bad_dim vloss; }
@test "bad input: vloss: NaN/Inf rows" { bad_nan vloss; }
@test "bad input: vloss: k larger than the data" { bad_k vloss; }
@test "bad input: vloss: zero vectors with --metric=cosine" { bad_cosine vloss; }
@test "bad input: vloss: non-unit centroids with --metric=dot" { bad_dot vloss; }
@test "bad input: vloss: output in a missing directory" { bad_out_dir vloss; }
@test "bad input: vloss: full disk" { bad_full vloss; }
@test "bad input: vloss: stdout closed" { bad_stdout_closed vloss; }
@test "bad input: vloss: SIGPIPE from | head" { bad_sigpipe vloss; }
@test "bad input: vloss: SIGINT mid-run" { bad_sigint vloss; }

@test "bad input: vassign: empty input" { bad_empty vassign; }
@test "bad input: vassign: header only" { bad_header_only vassign; }
@test "bad input: vassign: truncated mid-frame" { bad_mid_frame vassign; }
@test "bad input: vassign: truncated before the end marker" { bad_no_end vassign; }
@test "bad input: vassign: flipped byte in the header" { bad_flip_header vassign; }
@test "bad input: vassign: flipped byte in a frame header" { bad_flip_frame_header vassign; }
@test "bad input: vassign: flipped byte in a payload" { bad_flip_payload vassign; }
@test "bad input: vassign: flipped byte in the end marker" { bad_flip_end vassign; }
@test "bad input: vassign: bad HDF5 files" { bad_hdf5 vassign; }
@test "bad input: vassign: damaged -c centroids" { bad_centroids vassign; }
@test "bad input: vassign: wrong kind" { bad_kind vassign; }
@test "bad input: vassign: dimension mismatch" { bad_dim vassign; }
@test "bad input: vassign: NaN/Inf rows" { bad_nan vassign; }
@test "bad input: vassign: k larger than the data" { bad_k vassign; }
@test "bad input: vassign: zero vectors with --metric=cosine" { bad_cosine vassign; }
@test "bad input: vassign: non-unit centroids with --metric=dot" { bad_dot vassign; }
@test "bad input: vassign: output in a missing directory" { bad_out_dir vassign; }
@test "bad input: vassign: full disk" { bad_full vassign; }
@test "bad input: vassign: stdout closed" { bad_stdout_closed vassign; }
@test "bad input: vassign: SIGPIPE from | head" { bad_sigpipe vassign; }
@test "bad input: vassign: SIGINT mid-run" { bad_sigint vassign; }

# --- inputs the fuzzers found -------------------------------------------------

@test "bad input: the fuzzers' crash inputs fail cleanly in vcat" {
	local f n=0
	for f in "$VT_FIXTURES"/fuzz/stream/crash-*; do
		[ -e "$f" ] || continue
		run --separate-stderr vcat --count "$f"
		[ "$status" -le 1 ] || fail "vcat --count $f: exit status $status"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || skip "no crash inputs"
}

@test "bad input: an SQ stream of no rows fails cleanly (fuzz: crash-sq-no-rows)" {
	vcat --rows 0:0 -o sq0.vt "$FX/sq.vt"
	for p in vsqbounds vmerge; do
		run -1 --separate-stderr "$p" -o out.vt sq0.vt
		assert_err "$p: sq0.vt: SQ statistics 1 (row 0): rows end inside them"
		assert_no_leftovers out.vt
	done
}

@test "bad input: accumulators whose k is more than their rows allocate only what they hold" {
	need_xxhash
	vloss -c "$FX/cent.vt" --partial -o acc.vt "$FX/data.vt"
	vcat --rows 0:0 -o acc0.vt acc.vt
	vtcraft set-meta acc.vt bigk.vt k 2147483648
	vtcraft set-meta acc0.vt bigk0.vt k 2147483648
	for f in bigk.vt bigk0.vt acc0.vt; do
		run -1 --separate-stderr limited vloss "$f"
		assert_output ''
		assert_err_regex "^vloss: $f: [0-9]+ accumulator rows is not a positive multiple of k="
		run -1 --separate-stderr limited vrefine -c "$FX/cent.vt" --apply -o out.vt "$f"
		assert_err "vrefine: $f: "
		assert_no_leftovers out.vt
		run -1 --separate-stderr limited vmerge -o out.vt "$f" "$f"
		assert_err "vmerge: $f: "
		assert_no_leftovers out.vt
	done
}
