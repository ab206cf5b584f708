#!/usr/bin/env bats
# Unix manners (issue 15): a usage error is one line and a hint, options
# are named as typed, the ranges in --help are the ranges accepted, and a
# terminal is refused on stdin as on stdout.

load helpers

@test "a usage error is two lines: the message and the hint; stdout is empty" {
	local p
	for p in vcat vgen vsample vcoreset vmerge vkmeans vrefine vloss vpq vsqbounds vassign; do
		run -2 --separate-stderr "$p" --frobnicate
		assert_usage_error "$p" "unknown option '--frobnicate'"
	done
}

@test "option errors name the option as typed: an argument to a flag, an ambiguous prefix, a short option" {
	run -2 --separate-stderr vcat --info=x
	assert_usage_error vcat "option '--info' doesn't allow an argument"
	run -2 --separate-stderr vkmeans --quiet=1
	assert_usage_error vkmeans "option '--quiet' doesn't allow an argument"
	run -2 --separate-stderr vkmeans --ver
	assert_usage_error vkmeans "option '--ver' is ambiguous; possibilities:"
	output=$stderr assert_output --partial "'--verbose'"
	output=$stderr assert_output --partial "'--version'"
	run -2 --separate-stderr vkmeans -Z
	assert_usage_error vkmeans "unknown option '-Z'"
	run -2 --separate-stderr vkmeans -k
	assert_usage_error vkmeans "option '-k' needs an argument"
	# an unambiguous prefix still works
	run -0 vkmeans --vers
	assert_output --regexp '^vkmeans \(vtrain\) '
}

@test "-k: the range --help states is the range accepted" {
	vgen -q -n 10 -d 2 -o x.vt
	run -2 --separate-stderr vkmeans -k 2147483647 -o c.vt x.vt
	assert_usage_error vkmeans "-k: '2147483647' is not a whole number from 1 to 2147483646"
	# the largest value passes the option check (and fails on the data)
	run -1 --separate-stderr vkmeans -k 2147483646 -o c.vt x.vt
	assert_err "larger than the 10 input rows"
	assert_file_not_exists c.vt
}

@test "a terminal on stdin is refused with a hint, as lz4 and zstd do" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	local p
	for p in "vkmeans -k 4 -o c.vt" "vcat -o c.vt" "vcat --count" "vloss -c c.vt" "vmerge -o c.vt"; do
		run -2 script -qec "$VT_BIN/$p" /dev/null
		assert_output --partial "refusing to read binary input from a terminal"
		assert_output --partial "Try '${p%% *} --help'."
	done
}

@test "cmake --install: the programs, their manual pages (man works) and the pipelines under a prefix" {
	local build
	build=$(cd "$VT_BIN/.." && pwd)
	[ -f "$build/CMakeCache.txt" ] || fail "VT_BIN=$VT_BIN is not the bin of a build tree"
	run -0 cmake --install "$build" --prefix "$PWD/inst"
	local p
	for p in vcat vgen vsample vcoreset vmerge vkmeans vrefine vloss vpq vsqbounds vassign; do
		assert_file_executable "inst/bin/$p"
		assert_file_exists "inst/share/man/man1/$p.1"
		# the page renders: its NAME section names the program
		run -0 env MANWIDTH=80 man -l "inst/share/man/man1/$p.1"
		assert_line --regexp "^ +$p +- "
		assert_line --regexp "^SYNOPSIS"
	done
	# man finds a page by name through MANPATH
	run -0 env MANPATH="$PWD/inst/share/man" man -w vassign
	assert_output "$PWD/inst/share/man/man1/vassign.1"
	# a table of a page (vcat's formats) keeps its rows: each row's last cell
	# on the row's first line
	run -0 env MANWIDTH=200 man -l inst/share/man/man1/vcat.1
	assert_line --regexp "vt +│ a vtrain stream, possibly several concatenated +│ as is \(any kind\)"
	# the installed make flow finds the installed programs, from anywhere
	assert_file_exists inst/share/vtrain/pipelines/stream-train.mk
	assert_file_not_exists inst/share/vtrain/pipelines/setup.sh
	inst/bin/vgen -q -n 4000 -d 8 --means 30 --seed 2 -o data.vt
	run -0 env -u BIN make -s -f "$PWD/inst/share/vtrain/pipelines/stream-train.mk" \
		DATA=data.vt K=16 OUT=out SEED=1 PQ_M=4 NBITS=4 PLOT=true ivf
	assert_file_exists out/ivf.vt
	run -0 inst/bin/vcat --count out/ivf.vt
	assert_output 16
}

@test "progress on a terminal: totals from a file's end markers, vmerge's reading and reduction" {
	vgen -q -n 5000 -d 8 --seed 1 -o a.vt
	vgen -q -n 5000 -d 8 --seed 2 --first 5000 --ids -o p1.vt
	# the progress line goes to a terminal (script's); every update is drawn
	run -0 script -qec "VT_PROGRESS_SECONDS=0 $VT_BIN/vcat --frame-bytes 4K -o b.vt a.vt" /dev/null
	assert_output --regexp "vcat: [0-9]+/5000 rows \([0-9]+%\), .*/s, ETA [0-9]+s"
	vcoreset -q -k 20 --coreset-rate 50 --total-rows 5000 -o c1.vt p1.vt
	vgen -q -n 5000 -d 8 --seed 3 --ids -o p2.vt
	vcoreset -q -k 20 --coreset-rate 50 --total-rows 5000 -o c2.vt p2.vt
	run -0 script -qec "VT_PROGRESS_SECONDS=0 $VT_BIN/vmerge --budget 300 -o m.vt c1.vt c2.vt" /dev/null
	assert_output --partial "vmerge: reducing 2000 points to 300 by weighted k-means..."
	assert_output --regexp "vmerge: [0-9]+/2000 points read"
	vkmeans -q -o cent.vt m.vt
	run -0 script -qec "VT_PROGRESS_SECONDS=0 $VT_BIN/vloss -c cent.vt p1.vt" /dev/null
	assert_output --regexp "vloss: [0-9]+/5000 rows"
	# not on a terminal: no progress line, only the summary
	run -0 --separate-stderr vmerge --budget 300 -o m2.vt c1.vt c2.vt
	refute_output
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "stderr: $stderr"
	cmp m.vt m2.vt
}

@test "-v adds detail in vcat, vgen and vmerge; without it they say nothing more" {
	run -0 --separate-stderr vgen -v -n 300 -d 4 --seed 5 -o a.vt
	output=$stderr assert_output --regexp "^vgen: rows 0\.\.300 of d=4: seed=5 means=100 .* bytes to a\.vt in "
	run -0 --separate-stderr vgen -n 300 -d 4 --seed 5 -o b.vt
	output=$stderr refute_output
	run -0 --separate-stderr vcat -v --to fvecs -o a.fvecs a.vt
	output=$stderr assert_output --regexp "^vcat: 300 rows of d=4 \(vectors\) from 1 input; 6000 bytes written as fvecs to a\.fvecs in "
	run -0 --separate-stderr vcat --to fvecs -o b.fvecs a.vt
	output=$stderr refute_output
	vgen -q -n 300 -d 4 --ids -o i.vt
	run -0 --separate-stderr vmerge -v -o m.vt i.vt
	output=$stderr assert_output --partial "vmerge: merged 300 rows of 1 input in id order in "
}
