#!/usr/bin/env bats
# Unix manners (issue 15): a usage error is one line and a hint, options
# are named as typed, the ranges in --help are the ranges accepted, and a
# terminal is refused on stdin as on stdout.

load helpers

@test "a usage error is two lines: the message and the hint; stdout is empty" {
	local p
	for p in vcat vgen vsample vcoreset vmerge vkmeans vrefine vloss vpq vsqbounds; do
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
