#!/usr/bin/env bats
# Every reader checks values, not only bytes (docs/FORMAT.md, "Values"):
# each kind, with each bad value, fed to every program that reads that kind,
# is refused with a message that names the file.  The bad values are poked
# into streams that the programs themselves wrote (vtcraft poke), with
# every checksum made right again, so only the value is wrong.

load helpers

setup_file() {
	export W="$BATS_FILE_TMPDIR"
	cd "$W"
	vgen -n 2000 -d 8 --means 20 --seed 3 -o data.vt
	vkmeans -q -k 8 --seed 1 -o cent.vt data.vt
	vcoreset -q -k 8 --total-rows 2000 -o pts.vt data.vt
	vloss -q -c cent.vt --partial -o acc.vt data.vt
	vpq -q -c cent.vt -m 2 --nbits 4 -o pq.vt data.vt
}

# refuse_all KIND_FILE "COLUMN VALUE"... -- "COMMAND WITH @ FOR THE FILE"...
refuse_all() {
	local src=$1 cases=() cmds=() c v
	shift
	while [ "$1" != -- ]; do cases+=("$1"); shift; done
	shift
	cmds=("$@")
	cd "$W"
	for c in "${cases[@]}"; do
		read -r col v <<<"$c"
		vtcraft poke "$src" "bad-$col.vt" "$col" 1 "$v"
		for cmd in "${cmds[@]}"; do
			run bash -c "${cmd//@/bad-$col.vt}"
			if [ "$status" -ne 1 ] || [[ "$output" != *"bad-$col.vt"* ]]; then
				fail "$(basename "$src") with $col=$v: \`$cmd' exited $status and said: $output"
			fi
			# the message says what is wrong, in the row that holds it
			[[ "$output" == *"row 1"* ]] || fail "\`$cmd' ($col=$v) did not name row 1: $output"
		done
	done
}

@test "weighted points: a negative, NaN or infinite weight or loss is refused by every reader" {
	refuse_all pts.vt "weight -3" "weight nan" "weight inf" "loss -1" "loss nan" "loss inf" -- \
		"vkmeans -q -o out.vt @" \
		"vcoreset -q --total-rows 1000 -o out.vt @" \
		"vmerge -q -o out.vt @ pts.vt" \
		"vmerge -q --budget 20 -o out.vt @" \
		"vloss -q -c cent.vt @" \
		"vloss -q -c cent.vt --partial -o out.vt @" \
		"vrefine -q -c cent.vt -o out.vt @" \
		"vrefine -q -c cent.vt --partial -o out.vt @" \
		"vcat --to text @"
}

@test "accumulators: a negative or NaN count, a NaN or infinite loss, an infinite sum are refused" {
	refuse_all acc.vt "weight -3" "weight nan" "loss nan" "loss inf" "data inf" "data nan" -- \
		"vloss -q @" \
		"vloss -q @ acc.vt" \
		"vmerge -q -o out.vt @ acc.vt" \
		"vrefine -q --apply -c cent.vt -o out.vt @" \
		"vcat --to text @"
}

@test "centroids: a non-finite value, a negative or non-finite weight or loss are refused" {
	refuse_all cent.vt "data nan" "data inf" "weight -1" "weight nan" "loss inf" -- \
		"vloss -q -c @ data.vt" \
		"vrefine -q -c @ -o out.vt data.vt" \
		"vpq -q -c @ -m 2 --nbits 4 -o out.vt data.vt" \
		"vsqbounds -q -c @ --mode dim -o out.vt data.vt" \
		"vcat --to text @" \
		"vcat --to npy -o out.npy @"
}

@test "PQ codebooks: a non-finite value is refused" {
	refuse_all pq.vt "data nan" "data -inf" -- \
		"vcat --to text @" \
		"vcat --to npy -o out.npy @"
}

@test "PQ codebooks: metadata m, nbits and d must agree with the rows" {
	cd "$W"
	for kv in "m 1" "nbits 5" "d 100" "nbits 17" "nbits 0" "m x" "d -16"; do
		vtcraft set-meta pq.vt badmeta.vt $kv
		run -1 vcat --to npy -o out.npy badmeta.vt
		assert_output --partial "badmeta.vt: PQ codebook: "
		assert_file_not_exists out.npy
	done
	run -1 vcat --to text badmeta.vt
	assert_output --partial "must be integers, got m=2 nbits=4 d=-16"
}
