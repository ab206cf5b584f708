#!/usr/bin/env bats
# vgen: deterministic synthetic Gaussian-mixture vectors.

load helpers

# --- determinism ------------------------------------------------------------

@test "vgen: the same seed gives the same bytes" {
	vgen -n 2000 -d 16 --seed 7 -o a.vt
	vgen -n 2000 -d 16 --seed 7 -o b.vt
	assert_files_equal a.vt b.vt
}

@test "vgen: a different seed gives different vectors" {
	vgen -n 2000 -d 16 --seed 7 --to raw -o a.raw
	vgen -n 2000 -d 16 --seed 8 --to raw -o b.raw
	run ! cmp -s a.raw b.raw
}

@test "vgen: the default seed is 1" {
	vgen -n 500 -d 8 -o a.vt
	vgen -n 500 -d 8 --seed 1 -o b.vt
	assert_files_equal a.vt b.vt
}

@test "vgen: -j1 and -j2 write the same bytes" {
	vgen -n 50000 -d 32 -j1 -o a.vt
	vgen -n 50000 -d 32 -j2 -o b.vt
	assert_files_equal a.vt b.vt
}

@test "vgen: --first shards concatenate to the whole" {
	vgen -n 1000 -d 12 --seed 5 -o whole.vt
	vgen -n 300 -d 12 --seed 5 -o s1.vt
	vgen -n 700 -d 12 --seed 5 --first 300 -o s2.vt
	vcat --to raw whole.vt >whole.raw
	vcat --to raw s1.vt s2.vt >shards.raw
	assert_files_equal whole.raw shards.raw
	# The same through a pipe of concatenated streams.
	run -0 bash -c 'set -o pipefail; cat s1.vt s2.vt | vcat --to raw >piped.raw'
	assert_files_equal whole.raw piped.raw
}

@test "vgen: --first with --ids numbers rows globally" {
	vgen -n 4 -d 3 --first 10 --ids -o s.vt
	run -0 bash -c 'set -o pipefail; vcat --to text s.vt | cut -d" " -f1 | paste -sd,'
	assert_output '10,11,12,13'
}

@test "vgen: the header records how the data was made" {
	vgen -n 10 -d 4 --seed 9 --means 3 -o a.vt
	run -0 vcat --info a.vt
	assert_line 'kind: vectors'
	assert_line 'dim: 4'
	assert_line 'rows: 10'
	assert_line 'meta.vgen.seed: 9'
	assert_line 'meta.vgen.means: 3'
	assert_line --regexp '^meta\.made_by: vgen '
}

@test "vgen: -n 0 writes a valid empty stream" {
	vgen -n 0 -d 4 -o a.vt
	run -0 vcat --count a.vt
	assert_output 0
}

@test "vgen: --means, --spread, --sigma and --skew change the data" {
	vgen -n 300 -d 8 --to raw -o base.raw
	for opt in '--means 5' '--spread 2' '--sigma 0.1' '--skew 1.5'; do
		vgen -n 300 -d 8 $opt --to raw -o other.raw
		run ! cmp -s base.raw other.raw
	done
}

@test "vgen: --sigma 0 and one mean give identical rows" {
	run -0 bash -c 'set -o pipefail; vgen -n 50 -d 6 --means 1 --sigma 0 | vcat --to text | sort -u | wc -l'
	assert_output 1
}

# --- multi-scale (--top) ----------------------------------------------------

@test "vgen: --top with --sigma 0 --sub-spread 0 writes only the T top means" {
	run -0 bash -c 'vgen -n 400 -d 6 --means 50 --top 7 --sub-spread 0 --sigma 0 | vcat --to text | sort -u | wc -l'
	assert_output 7
	# with sub-spread, the means themselves (at most 50 distinct rows)
	run -0 bash -c 'vgen -n 4000 -d 6 --means 50 --top 7 --sigma 0 | vcat --to text | sort -u | wc -l'
	assert_output 50
}

@test "vgen: --top: the sub-means stay near their top mean" {
	# 2 top means 10 apart per coordinate on average; sub-spread 0.01 keeps
	# every row within 0.1 of one of the two tops in every coordinate
	vgen -n 300 -d 4 --means 20 --top 2 --sub-spread 0.01 --sigma 0 --to raw -o a.raw
	vgen -n 300 -d 4 --means 20 --top 2 --sub-spread 0 --sigma 0 --to raw -o t.raw
	run -0 bash -c 'paste -d" " <(vcat --to text --dim 4 a.raw) <(vcat --to text --dim 4 t.raw) |
		awk "{for (i = 1; i <= 4; i++) { e = \$i - \$(i + 4); if (e < 0) e = -e; if (e > m) m = e }} END {print (m > 0 && m < 0.1) ? \"near\" : \"far \" m}"'
	assert_output near
}

@test "vgen: --top is deterministic, independent of -j, and shards concatenate" {
	vgen -n 30000 -d 16 --means 300 --top 10 --seed 4 -j1 -o a.vt
	vgen -n 30000 -d 16 --means 300 --top 10 --seed 4 -j2 -o b.vt
	assert_files_equal a.vt b.vt
	vgen -n 10000 -d 16 --means 300 --top 10 --seed 4 -o s1.vt
	vgen -n 20000 -d 16 --means 300 --top 10 --seed 4 --first 10000 -o s2.vt
	vcat --to raw a.vt >whole.raw
	vcat --to raw s1.vt s2.vt >shards.raw
	assert_files_equal whole.raw shards.raw
}

@test "vgen: --top and --sub-spread change the data; without them i.i.d. means stay" {
	vgen -n 300 -d 8 --to raw -o base.raw
	vgen -n 300 -d 8 --top 5 --to raw -o top.raw
	run ! cmp -s base.raw top.raw
	vgen -n 300 -d 8 --top 5 --sub-spread 1 --to raw -o sub.raw
	run ! cmp -s top.raw sub.raw
	# the default sub-spread is spread / 5
	vgen -n 300 -d 8 --top 5 --spread 20 --sub-spread 4 --to raw -o a.raw
	vgen -n 300 -d 8 --top 5 --spread 20 --to raw -o b.raw
	assert_files_equal a.raw b.raw
}

@test "vgen: --top is recorded in the header" {
	vgen -n 10 -d 4 --means 8 --top 2 -o a.vt
	run -0 vcat --info a.vt
	assert_line 'meta.vgen.top: 2'
	assert_line 'meta.vgen.sub_spread: 2'
	vgen -n 10 -d 4 -o b.vt
	run -0 vcat --info b.vt
	refute_line --partial 'vgen.top'
}

@test "vgen: usage errors of --top and --sub-spread" {
	run -2 --separate-stderr vgen -n 4 -d 4 --means 5 --top 6
	assert_usage_error vgen '--top 6 exceeds --means 5'
	run -2 --separate-stderr vgen -n 4 -d 4 --top 0
	assert_usage_error vgen "--top: '0'"
	run -2 --separate-stderr vgen -n 4 -d 4 --sub-spread 1
	assert_usage_error vgen '--sub-spread needs --top'
	run -2 --separate-stderr vgen -n 4 -d 4 --top 2 --sub-spread -1
	assert_usage_error vgen "--sub-spread: '-1'"
}

# --- output formats ---------------------------------------------------------

@test "vgen: --to npy, fvecs, fbin and raw hold the stream's vectors" {
	vgen -n 257 -d 7 --seed 3 -o a.vt
	vcat --to text a.vt >a.txt
	for f in npy fvecs fbin; do
		vgen -n 257 -d 7 --seed 3 --to "$f" -o "a.$f"
		vcat --to text "a.$f" >"a.$f.txt"
		assert_files_equal a.txt "a.$f.txt"
	done
	vgen -n 257 -d 7 --seed 3 --to raw -o a.raw
	vcat --to text --dim 7 a.raw >a.raw.txt
	assert_files_equal a.txt a.raw.txt
	assert_file_size_equals a.raw $((257 * 7 * 4))
}

@test "vgen: numpy reads --to npy, fvecs and fbin as the same vectors" {
	need_numpy
	vgen -n 300 -d 5 --seed 4 -o a.vt
	vcat --to text a.vt >a.txt
	for f in npy fvecs fbin; do
		vgen -n 300 -d 5 --seed 4 --to "$f" -o "a.$f"
	done
	run -0 check_vectors a.txt npy a.npy fvecs a.fvecs fbin a.fbin
	assert_line 'a.npy: shape=(300, 5) dtype=float32 equal=True'
	assert_line 'a.fvecs: shape=(300, 5) dtype=float32 equal=True'
	assert_line 'a.fbin: shape=(300, 5) dtype=float32 equal=True'
}

@test "vgen: --to npy and fbin work on a pipe (the row count is known)" {
	run -0 bash -c 'set -o pipefail; vgen -n 100 -d 4 --to npy | cat >a.npy'
	run -0 bash -c 'set -o pipefail; vgen -n 100 -d 4 --to fbin | cat >a.fbin'
	run -0 vcat --count a.npy
	assert_output 100
	run -0 vcat --count a.fbin
	assert_output 100
}

@test "vgen: -z and --compress decode to the same vectors" {
	vgen -n 20000 -d 16 --to raw -o plain.raw
	for z in -z --compress=lz4 --compress=lz4-shuffle --compress=none; do
		vgen -n 20000 -d 16 $z -o z.vt
		vcat --to raw z.vt >z.raw
		assert_files_equal plain.raw z.raw
	done
	vgen -n 20000 -d 16 -z -o z.vt
	run -0 vcat --info z.vt
	assert_line --regexp '^codecs: none=0 lz4=0 lz4-shuffle=[1-9]'
}

@test "vgen: -o writes atomically and leaves no temp file" {
	vgen -n 1000 -d 8 -o out.vt
	assert_file_exists out.vt
	run -0 bash -c 'ls -A | paste -sd,'
	assert_output 'out.vt'
}

@test "vgen: SIGINT removes the partial -o file" {
	vgen -n 100000000 -d 128 -q -o big.vt &
	local pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		compgen -G 'big.vt.tmp.*' >/dev/null && break
		sleep 0.05
	done
	kill -INT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 130
	assert_no_leftovers big.vt
}

@test "vgen: a large output through head ends quietly" {
	run -0 bash -c 'vgen -n 1000000 -d 64 | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"'
	assert_output --regexp '^(141|0)$'
}

@test "vgen: a write error fails with a message" {
	# Never `-o /dev/full`: a buggy atomic -o run as root renames over it.
	run -1 --separate-stderr bash -c 'vgen -n 1000 -d 8 >/dev/full'
	assert_err 'vgen: (stdout): '
	assert_err 'no space'
}

@test "vgen: -o FIFO writes into the FIFO, not over it" {
	mkfifo fifo
	timeout 10 cat fifo >got &
	local pid=$!
	run -0 timeout 10 vgen -n 10 -d 4 -o fifo
	# If vgen renamed a file over the FIFO, cat still waits: end it.
	[ -p fifo ] || kill "$pid"
	wait "$pid" || true
	assert [ -p fifo ]
	run -0 vcat --count got
	assert_output 10
}

@test "vgen: -o in a missing directory fails, naming the file" {
	run -1 --separate-stderr vgen -n 10 -d 4 -o nodir/a.vt
	assert_output ''
	assert_err 'vgen: nodir/a.vt: '
}

# --- help, version, usage errors -------------------------------------------

@test "vgen: --help and -h print the usage to stdout" {
	run -0 --separate-stderr vgen --help
	assert_line --index 0 --regexp '^Usage: vgen '
	assert_output --partial '--seed'
	assert_equal "$stderr" ''
	run -0 --separate-stderr vgen -h
	assert_line --index 0 --regexp '^Usage: vgen '
}

@test "vgen: --version" {
	run -0 --separate-stderr vgen --version
	assert_output --regexp '^vgen \(vtrain\) [0-9]+\.[0-9]+'
}

@test "vgen: usage error: -n missing" {
	run -2 --separate-stderr vgen -d 4
	assert_usage_error vgen '-n and -d are required'
}

@test "vgen: usage error: -d missing" {
	run -2 --separate-stderr vgen -n 4
	assert_usage_error vgen '-n and -d are required'
}

@test "vgen: usage error: -d 0" {
	run -2 --separate-stderr vgen -n 4 -d 0
	assert_usage_error vgen "-d: '0'"
}

@test "vgen: usage error: -d too large" {
	run -2 --separate-stderr vgen -n 4 -d 2147483648
	assert_usage_error vgen "-d: '2147483648'"
}

@test "vgen: usage error: -n is not a number" {
	run -2 --separate-stderr vgen -n abc -d 4
	assert_usage_error vgen "-n: 'abc'"
	run -2 --separate-stderr vgen -n 10x -d 4
	assert_usage_error vgen "-n: '10x'"
	run -2 --separate-stderr vgen -n -5 -d 4
	assert_usage_error vgen "-n: '-5'"
	run -2 --separate-stderr vgen -n '' -d 4
	assert_usage_error vgen "-n: ''"
}

@test "vgen: usage error: bad numbers in other options" {
	run -2 --separate-stderr vgen -n 4 -d 4 --seed x
	assert_usage_error vgen "--seed: 'x'"
	run -2 --separate-stderr vgen -n 4 -d 4 --means 0
	assert_usage_error vgen "--means: '0'"
	run -2 --separate-stderr vgen -n 4 -d 4 --sigma -1
	assert_usage_error vgen "--sigma: '-1'"
	run -2 --separate-stderr vgen -n 4 -d 4 --spread nan
	assert_usage_error vgen "--spread: 'nan'"
	run -2 --separate-stderr vgen -n 4 -d 4 -j 0
	assert_usage_error vgen "-j: '0'"
	run -2 --separate-stderr vgen -n 4 -d 4 --first -1
	assert_usage_error vgen "--first: '-1'"
}

@test "vgen: usage error: unknown option" {
	run -2 --separate-stderr vgen -n 4 -d 4 --bogus
	assert_usage_error vgen "unknown option '--bogus'"
	run -2 --separate-stderr vgen -n 4 -d 4 -X
	assert_usage_error vgen "unknown option '-X'"
}

@test "vgen: usage error: an option without its argument" {
	run -2 --separate-stderr vgen -n 4 -d 4 -o
	assert_usage_error vgen "'-o' needs an argument"
}

@test "vgen: usage error: an operand" {
	run -2 --separate-stderr vgen -n 4 -d 4 extra
	assert_usage_error vgen "unexpected operand 'extra'"
}

@test "vgen: usage error: bad --to and --compress" {
	run -2 --separate-stderr vgen -n 4 -d 4 --to text
	assert_usage_error vgen "--to: 'text'"
	run -2 --separate-stderr vgen -n 4 -d 4 --compress=zstd
	assert_usage_error vgen "--compress: 'zstd'"
	run -2 --separate-stderr vgen -n 4 -d 4 --ids --to npy
	assert_usage_error vgen '--ids needs --to vt'
}

@test "vgen: refuses binary output to a terminal, but -o FILE is fine" {
	command -v script >/dev/null || skip "needs script(1) from util-linux for a pty"
	# script(1) runs the command on a pty; stderr goes to a file.
	run -2 script -qec 'vgen -n 10 -d 4 2>err' /dev/null
	assert_output ''
	run -0 cat err
	assert_output --partial 'vgen: refusing to write binary output to a terminal'
	run -0 script -qec 'vgen -n 10 -d 4 -o a.vt 2>err' /dev/null
	assert_output ''
	run -0 vcat --count a.vt
	assert_output 10
}
