# Shared setup and helpers for the Bats suites (tests/vNAME.bats).
#
# ctest runs a suite as `bats tests/vcat.bats` with VT_BIN=<build>/bin and
# VT_FIXTURES=<src>/tests/fixtures.  Run by hand, VT_BIN defaults to
# ../build/bin and VT_FIXTURES to ./fixtures, both relative to this file.
# Each test runs in its own empty directory (under $BATS_TEST_TMPDIR, where
# bats keeps files of its own), so the file names that messages print are the
# short relative ones the test chose.

bats_require_minimum_version 1.5.0

VT_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${VT_BIN:=$VT_TESTS_DIR/../build/bin}"
: "${VT_FIXTURES:=$VT_TESTS_DIR/fixtures}"
# Absolute, since each test runs in a directory of its own.
VT_BIN=$(cd "$VT_BIN" 2>/dev/null && pwd || echo "$VT_BIN")
VT_FIXTURES=$(cd "$VT_FIXTURES" 2>/dev/null && pwd || echo "$VT_FIXTURES")
export VT_BIN VT_FIXTURES
PATH="$VT_BIN:$PATH"

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
load /usr/lib/bats/bats-file/load

# Debian's python3 (numpy and xxhash are Debian packages; a python3 earlier
# on PATH may not see them).
PY=${VT_PYTHON:-/usr/bin/python3}

setup() {
	[ -x "$VT_BIN/vcat" ] && [ -x "$VT_BIN/vgen" ] ||
		fail "no vcat and vgen in VT_BIN=$VT_BIN (build first, or set VT_BIN)"
	mkdir -p "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work" || return 1
}

# --- requirements -----------------------------------------------------------

need_numpy() {
	"$PY" -c 'import numpy' 2>/dev/null || skip "needs Debian's python3-numpy"
}

# vtcraft.py writes valid checksums with python3-xxhash.
need_xxhash() {
	"$PY" -c 'import xxhash' 2>/dev/null || skip "needs Debian's python3-xxhash"
}

# vtcraft ARGS...: tests/fixtures/vtcraft.py (see its docstring).
vtcraft() {
	"$PY" "$VT_FIXTURES/vtcraft.py" "$@"
}

# is_sanitized: the programs are built with a sanitizer that reserves
# terabytes of address space for its shadow memory.
is_sanitized() {
	grep -qaE '__(a|t|m)san_init' "$VT_BIN/vcat"
}

# limited CMD...: run CMD with at most 1 GB of address space (so that a huge
# allocation fails instead of succeeding lazily) and 10 seconds.  Under a
# sanitizer only the time limit applies (ASan itself fails allocations
# larger than its maximum, with a report and a crash).
limited() {
	(
		is_sanitized || ulimit -v 1000000
		exec timeout 10 "$@"
	)
}

# --- assertions -------------------------------------------------------------

# assert_err TEXT: stderr of the last `run --separate-stderr` contains TEXT.
assert_err() {
	output="$stderr" assert_output --partial "$1"
}

# assert_err_regex RE: stderr of the last `run --separate-stderr` matches RE.
assert_err_regex() {
	output="$stderr" assert_output --regexp "$1"
}

# assert_usage_error PROG TEXT: after `run -2 --separate-stderr PROG ...`:
# nothing on stdout, and on stderr exactly two lines, as coreutils print:
# "PROG: ...TEXT..." and "Try 'PROG --help'.".
assert_usage_error() {
	assert_output ''
	local -a e
	mapfile -t e <<<"$stderr"
	[ "${#e[@]}" -eq 2 ] || fail "a usage error of ${#e[@]} lines, not 2: $stderr"
	[[ ${e[0]} == "$1: "* ]] || fail "the usage error does not start with '$1: ': ${e[0]}"
	[[ ${e[0]} == *"$2"* ]] || fail "the usage error does not say '$2': ${e[0]}"
	[ "${e[1]}" = "Try '$1 --help'." ] || fail "the second line is not the hint: ${e[1]}"
}

# assert_no_leftovers FILE: neither FILE nor a temp file of it (FILE.tmp.*)
# exists.
assert_no_leftovers() {
	assert_file_not_exists "$1"
	local tmps
	tmps=$(compgen -G "$1.tmp.*" || true)
	assert_equal "$tmps" ''
}

# --- reading results --------------------------------------------------------
# Each of these fails (status 1, a line on stderr) when the program it runs
# fails or the value is missing.  Take a value into a variable first
# (`a=$(meta k x.vt)` fails the test) before comparing two of them: inside
# the arguments of a comparison a failure is lost, and two failures compare
# equal.

# kv KEY TEXT: the value of KEY=VALUE among the words of TEXT (a program's
# one-line report, such as vloss's).
kv() {
	local v
	v=$(tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p")
	[ -n "$v" ] || {
		echo "kv: no $1= in '$2'" >&2
		return 1
	}
	printf '%s\n' "$v"
}

# meta KEY FILE: the value of metadata KEY of the stream FILE.
meta() (
	set -o pipefail
	v=$(vcat --info "$2" | sed -n "s/^meta\.$1: //p") || exit
	[ -n "$v" ] || {
		echo "meta: $2 has no meta.$1" >&2
		exit 1
	}
	printf '%s\n' "$v"
)

# ids FILE: the ids (first column of the text dump) of a stream, one a line.
ids() (
	set -o pipefail
	vcat --to text "$1" | cut -d' ' -f1
)

# col_sum N FILE...: the sum of column N of the text dump of FILE...
col_sum() (
	set -o pipefail
	n=$1
	shift
	vcat --to text "$@" | awk -v n="$n" '{s += $n} END {printf "%.17g\n", s}'
)

# --- making and damaging files ---------------------------------------------

# setup_large_k: a k at which the nearest-centroid search index is used
# (lib/train/nearest): x.vt, 24,000 rows of vgen's multi-scale mixture (64 top
# means, 4,096 means, d = 16); c.vt, k = 4,096 centroids drawn from the same
# mixture (other rows of it); s1.vt s2.vt s3.vt, x.vt's rows as three uneven
# shards.
setup_large_k() {
	local g=(-d 16 --means 4096 --top 64 --sub-spread 2 --seed 5)
	vgen -q -n 24000 "${g[@]}" -o x.vt
	vgen -q -n 4096 "${g[@]}" --first 1000000 -o c.vt
	vgen -q -n 7000 "${g[@]}" -o s1.vt
	vgen -q -n 9500 "${g[@]}" --first 7000 -o s2.vt
	vgen -q -n 7500 "${g[@]}" --first 16500 -o s3.vt
}

# le16 / le32 N: N as little-endian bytes on stdout.
le16() {
	printf "$(printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)))"
}
le32() {
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}

# u32_at FILE OFFSET: the little-endian u32 at OFFSET.
u32_at() {
	od -An -tu4 --endian=little -j "$2" -N4 "$1" | tr -d ' '
}

# npy_header DESCR FORTRAN SHAPE: a version 1.0 .npy header on stdout, e.g.
# npy_header '<f4' False '(3, 4)'.  Data must follow.
npy_header() {
	local dict="{'descr': '$1', 'fortran_order': $2, 'shape': $3, }"
	local total=$(((10 + ${#dict} + 1 + 63) / 64 * 64))
	local hl=$((total - 10))
	printf '\x93NUMPY\x01\x00'
	le16 "$hl"
	printf '%s%*s\n' "$dict" $((hl - ${#dict} - 1)) ''
}

# Offsets in a vtrain stream of one segment (docs/FORMAT.md):
# header_size FILE: bytes of the header (fixed part, metadata, checksum).
header_size() {
	echo $((24 + $(u32_at "$1" 20) + 8))
}

# frame_offset FILE N: offset of frame N (1-based).
frame_offset() {
	local off i
	off=$(header_size "$1")
	for ((i = 1; i < $2; i++)); do
		off=$((off + 32 + $(u32_at "$1" $((off + 16)))))
	done
	echo "$off"
}

# end_offset FILE: offset of the (last) end marker.
end_offset() {
	echo $(($(stat -c %s "$1") - 40))
}

# flip_byte IN OUT OFFSET: copy IN to OUT with the byte at OFFSET xor 0x01.
flip_byte() {
	cp "$1" "$2"
	local b
	b=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$2" bs=1 seek="$3" conv=notrunc status=none
}

# cut_at IN OUT N: the first N bytes of IN.
cut_at() {
	head -c "$3" "$1" >"$2"
}

# check_vectors TEXT FORMAT FILE [FORMAT FILE...]: read each FILE (npy,
# fvecs, fbin) with numpy, independently of vtrain, and compare it with the
# text dump TEXT (one row per line).  Prints one line per file:
# "FILE: shape=(n, d) dtype=float32 equal=True".
check_vectors() {
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np

def load(fmt, path):
    if fmt == "npy":
        return np.load(path)
    if fmt == "fvecs":
        raw = np.fromfile(path, dtype="<i4")
        d = int(raw[0])
        rec = raw.reshape(-1, d + 1)
        assert (rec[:, 0] == d).all(), "record dimensions differ"
        return rec[:, 1:].copy().view("<f4")
    if fmt == "fbin":
        n, d = (int(v) for v in np.fromfile(path, dtype="<u4", count=2))
        a = np.fromfile(path, dtype="<f4", offset=8)
        assert a.size == n * d, "fbin size does not match its header"
        return a.reshape(n, d)
    sys.exit("check_vectors: unknown format " + fmt)

ref = np.loadtxt(sys.argv[1], dtype=np.float32, ndmin=2)
for fmt, path in zip(sys.argv[2::2], sys.argv[3::2]):
    a = load(fmt, path)
    print("%s: shape=%s dtype=%s equal=%s" % (path, a.shape, a.dtype, np.array_equal(a, ref)))
EOF
}

# --- docs that run ------------------------------------------------------------

# block FILE HEADING N LANG: the N-th ```LANG block (from 1) under the
# heading line HEADING (up to the next heading of that level or higher; a
# line inside a fenced block is never a heading).
block() {
	awk -v h="$2" -v n="$3" -v lang="$4" '
		inb && /^```/ { exit }
		inb { print; next }
		/^```/ { fence = !fence; if (on && fence && $0 == "```" lang && ++c == n) inb = 1; next }
		fence { next }
		$0 == h { on = 1; lvl = index(h, " "); next }
		on && /^#+ / && index($0, " ") <= lvl { on = 0 }
	' "$1"
}

# blocks FILE LANG: every ```LANG block of FILE, in order, as one script.
blocks() {
	awk -v lang="$2" '$0 == "```" lang { inb = 1; next } inb && /^```/ { inb = 0; next } inb' "$1"
}
