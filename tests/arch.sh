#!/usr/bin/env bash
# tests/arch.sh: the architecture of docs/ARCHITECTURE.md ("Floors and what
# each may include"), enforced on the library's sources.
#
# Usage: tests/arch.sh [ROOT]       check ROOT/lib (default: this source tree)
#        tests/arch.sh --self-test  break each rule in a small tree of its own
#                                   and check that it is reported, and that a
#                                   clean tree passes
#
# Floors (a file may include files of its own floor or lower):
#   0 error    lib/error.{c,h}
#   1 stream   lib/stream/*   I/O only: includes only lib/stream/* and error.h
#   1 train    lib/train/*    maths only: includes only lib/train/* and error.h
#   2 bridge   lib/bridge/*   glue between the wings; lib/vtrain.h (umbrella)
#   3 cli      lib/cli/*      the command-line library of the tools
#   4 tools    tools/*        (may include anything: not scanned)
# The old loose bridge files lib/assign.*, lib/accumio.* and lib/sqio.* count
# as lib/bridge/ until they move.
#
# Rules, each reported as "FILE:LINE: RULE: what" (exit 1 if any):
#   layout  a library file outside the places above
#   wing    a lib/stream or lib/train file includes anything but its own
#           wing and lib/error.h (so stream never sees train, nor train
#           stream)
#   floor   a file includes a file of a higher floor
#   cli     a library file outside lib/cli/ includes the CLI (lib/cli/*,
#           or any cli.h)
#   prints  a library file outside lib/cli/ calls exit, _Exit, quick_exit,
#           abort, printf, vprintf, fprintf, vfprintf, puts, putchar or
#           perror (comments and strings are ignored; snprintf is fine)
#   include an #include "..." that names no file of lib/
#   cycle   a circle of includes between modules; a module is the .c/.h
#           pair of one base name (lib/train/kmeans.{c,h} is train/kmeans),
#           with its private header NAME_priv.h or NAME_impl.h;
#           reported with its path, each edge with the line that makes it
set -euo pipefail

self_test() {
	local dir rc=0 out name
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vt-arch.XXXXXX")
	# shellcheck disable=SC2064  # (the directory is known now)
	trap "rm -rf '$dir'" EXIT
	local me
	me=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

	# clean: the target layout, every floor used as allowed
	clean() {
		rm -rf "$1"
		mkdir -p "$1/lib/stream" "$1/lib/train" "$1/lib/bridge" "$1/lib/cli" "$1/tools"
		printf '#ifndef E\n#define E\nint vt_e(void);\n#endif\n' >"$1/lib/error.h"
		printf '#include "error.h"\n#include <stdio.h>\nint vt_e(void) { char b[8]; return snprintf(b, 8, "exit(1)"); }\n' >"$1/lib/error.c"
		printf '#include "error.h"\n' >"$1/lib/stream/fdio.h"
		printf '#include "stream/fdio.h"\n#include "error.h"\n/* printf("no"); exit(1); */\n' >"$1/lib/stream/fdio.c"
		printf '#include "stream/fdio.h"\n' >"$1/lib/stream/reader.h"
		printf '#include "stream/reader.h"\nstatic const char *s = "perror(x)"; // abort()\n' >"$1/lib/stream/reader.c"
		printf '#include "error.h"\n' >"$1/lib/train/pool.h"
		printf '#include "train/pool.h"\nint my_printf_count(void);\nint my_printf_count(void) { return 0; }\n' >"$1/lib/train/pool.c"
		printf '#include "train/pool.h"\n#include "rng.h"\n' >"$1/lib/train/kmeans.h"
		printf '#include "train/kmeans.h"\n' >"$1/lib/train/kmeans.c"
		printf '/* rng */\n' >"$1/lib/train/rng.h"
		printf '#include "rng.h"\n' >"$1/lib/train/rng.c"
		printf '#include "stream/reader.h"\n#include "train/kmeans.h"\n' >"$1/lib/bridge/assign.h"
		printf '#include "bridge/assign.h"\n#include "error.h"\n' >"$1/lib/bridge/assign.c"
		printf '#include "bridge/assign.h"\n#include "stream/reader.h"\n' >"$1/lib/vtrain.h"
		printf '#include "vtrain.h"\n' >"$1/lib/cli/cli.h"
		printf '#include "cli/cli.h"\n#include <stdio.h>\n#include <stdlib.h>\nvoid vt_cli_fail(void) { fprintf(stderr, "x\\n"); exit(1); }\n' >"$1/lib/cli/cli.c"
		printf '#include "cli/cli.h"\nint main(void) { printf("hi\\n"); return 0; }\n' >"$1/tools/vx.c"
	}
	# expect NAME RULE TEXT: arch.sh on $dir/NAME fails with a line naming
	# RULE and TEXT
	expect() {
		if out=$("$me" "$dir/$1" 2>&1); then
			echo "not ok - $1: passed, should fail with $2"
			rc=1
		elif ! grep -q -- ": $2: " <<<"$out" || ! grep -qF -- "$3" <<<"$out"; then
			echo "not ok - $1: no \"$2\" line with \"$3\" in:"
			sed 's/^/#   /' <<<"$out"
			rc=1
		else
			echo "ok - $1: $(grep -m1 -- ": $2: " <<<"$out")"
		fi
	}
	broken() { # broken NAME: a copy of the clean tree to break
		clean "$dir/$1"
	}

	clean "$dir/clean"
	if out=$("$me" "$dir/clean" 2>&1); then
		echo "ok - a clean tree passes"
	else
		echo "not ok - a clean tree fails:"
		sed 's/^/#   /' <<<"$out"
		rc=1
	fi

	name=train-includes-stream
	broken $name
	printf '#include "train/pool.h"\n#include "stream/reader.h"\n' >"$dir/$name/lib/train/pool.c"
	expect $name wing "lib/train/pool.c:2"

	name=train-includes-umbrella
	broken $name
	printf '#include "vtrain.h"\n' >"$dir/$name/lib/train/rng.h"
	expect $name wing "lib/train/rng.h:1"

	name=stream-includes-train
	broken $name
	printf '#include "error.h"\n#include "train/kmeans.h"\n' >"$dir/$name/lib/stream/fdio.h"
	expect $name wing "lib/stream/fdio.h:2"

	name=bridge-includes-cli
	broken $name
	printf '#include "bridge/assign.h"\n#include "cli/cli.h"\n' >"$dir/$name/lib/bridge/assign.c"
	expect $name cli "lib/bridge/assign.c:2"

	name=error-includes-stream
	broken $name
	printf '#include "error.h"\n#include "stream/fdio.h"\n' >"$dir/$name/lib/error.c"
	expect $name floor "lib/error.c:2"

	name=bridge-prints
	broken $name
	printf '#include "bridge/assign.h"\n#include <stdio.h>\nvoid f(void) { char b[9]; snprintf(b, 9, "x"); fprintf (stderr, "x"); }\n' \
		>"$dir/$name/lib/bridge/assign.c"
	expect $name prints "lib/bridge/assign.c:3"

	name=train-exits
	broken $name
	printf '#include "train/kmeans.h"\n#include <stdlib.h>\n/* fine: exit(1) */\nvoid f(int x)\n{\n\tif (x)\n\t\texit(1);\n}\n' \
		>"$dir/$name/lib/train/kmeans.c"
	expect $name prints "lib/train/kmeans.c:7"

	name=stream-aborts
	broken $name
	printf '#include "stream/reader.h"\n#include <stdlib.h>\nvoid f(void) { const char *s = "a\\"b"; (void)s; abort(); }\n' \
		>"$dir/$name/lib/stream/reader.c"
	expect $name prints "abort"

	name=cycle
	broken $name
	printf '#include "train/pool.h"\n#include "train/kmeans.h"\n' >"$dir/$name/lib/train/pool.c"
	expect $name cycle "train/kmeans (lib/train/kmeans.h:1) -> train/pool (lib/train/pool.c:2) -> train/kmeans"

	name=loose-file
	broken $name
	printf '#include "error.h"\n' >"$dir/$name/lib/cli.c"
	expect $name layout "lib/cli.c"

	name=unknown-include
	broken $name
	printf '#include "stream/fdio.h"\n#include "../tools/vx.h"\n' >"$dir/$name/lib/stream/fdio.c"
	expect $name include "lib/stream/fdio.c:2"

	return $rc
}

if [ "${1:-}" = --self-test ]; then
	self_test
	exit
fi
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"
[ -d lib ] || {
	echo "arch.sh: no lib/ in $ROOT" >&2
	exit 2
}

# place FILE: FLOOR and WING of a library file; both empty when it has no
# place.  (Variables, not output: no subshell per call.)
place() {
	FLOOR=1
	case $1 in
	lib/error.c | lib/error.h) FLOOR=0 WING=error ;;
	lib/stream/*.[ch]) WING=stream ;;
	lib/train/*.[ch]) WING=train ;;
	lib/bridge/*.[ch]) FLOOR=2 WING=bridge ;;
	lib/assign.[ch] | lib/accumio.[ch] | lib/sqio.[ch]) FLOOR=2 WING=bridge ;;   # old layout
	lib/vtrain.h) FLOOR=2 WING=umbrella ;;
	lib/cli/*.[ch]) FLOOR=3 WING=cli ;;
	*) FLOOR='' WING='' ;;
	esac
	case $1 in */*/*/*) FLOOR='' WING='' ;; esac   # no deeper folders
}

# module FILE: MODULE=train/kmeans for lib/train/kmeans.c
module() {
	MODULE=${1#lib/}
	MODULE=${MODULE%.[ch]}
	MODULE=${MODULE%_priv}
	MODULE=${MODULE%_impl}
}

# norm PATH: NORM=PATH without "." and "dir/.." steps
norm() {
	local IFS=/ part out=()
	for part in $1; do
		case $part in
		'' | .) ;;
		..) if [ ${#out[@]} -gt 0 ]; then unset 'out[${#out[@]}-1]'; else out+=(..); fi ;;
		*) out+=("$part") ;;
		esac
	done
	NORM="${out[*]}"
}

mapfile -t files < <(find lib -type f -name '*.[ch]' | LC_ALL=C sort)

# One pass over every file: its includes, and the calls that print or exit,
# outside comments and string literals.  Lines: "I<TAB>FILE<TAB>LINE<TAB>q|a<TAB>TARGET"
# and "C<TAB>FILE<TAB>LINE<TAB>NAME".
scan() {
	awk '
	BEGIN {
		nfn = split("exit _Exit quick_exit abort printf vprintf fprintf vfprintf puts putchar perror", fn, " ")
	}
	FNR == 1 { incomment = 0 }
	{
		line = $0; out = ""; n = length(line); i = 1
		while (i <= n) {
			c = substr(line, i, 1); c2 = substr(line, i, 2)
			if (incomment) {
				if (c2 == "*/") { incomment = 0; i += 2; out = out " " } else i++
				continue
			}
			if (c2 == "/*") { incomment = 1; i += 2; continue }
			if (c2 == "//") break
			if (c == "\"" || c == "\047") {
				q = c; out = out q; i++
				while (i <= n) {
					d = substr(line, i, 1)
					if (d == "\\") { i += 2; continue }
					i++
					if (d == q) break
				}
				out = out q
				continue
			}
			out = out c; i++
		}
		if (out ~ /^[ \t]*#[ \t]*include[ \t]*["<]/) {
			t = line
			sub(/^[ \t]*#[ \t]*include[ \t]*/, "", t)
			kind = substr(t, 1, 1) == "<" ? "a" : "q"
			t = substr(t, 2)
			sub(/[">].*$/, "", t)
			printf "I\t%s\t%d\t%s\t%s\n", FILENAME, FNR, kind, t
			next
		}
		for (k = 1; k <= nfn; k++)
			if (out ~ ("(^|[^A-Za-z0-9_])" fn[k] "[ \t]*\\("))
				printf "C\t%s\t%d\t%s\n", FILENAME, FNR, fn[k]
	}' "$@"
}

bad=0
report() { # report FILE:LINE RULE TEXT
	echo "$1: $2: $3"
	bad=1
}

declare -A edges=()   # "A B" -> "FILE:LINE" of the first include making A -> B
declare -A succ=()    # module -> space-separated successors
declare -A mods=()

for f in "${files[@]}"; do
	module "$f"
	mods[$MODULE]=1
	place "$f"
	[ -n "$WING" ] ||
		report "$f:1" layout "a library file belongs in lib/stream, lib/train, lib/bridge or lib/cli (or is lib/error.* or lib/vtrain.h)"
done

while IFS=$'\t' read -r kind f line a b; do
	place "$f"
	floor=$FLOOR wing=$WING
	if [ "$kind" = C ]; then
		[ "$wing" = cli ] ||
			report "$f:$line" prints "calls $a(): the library never prints or exits (only lib/cli and the tools do)"
		continue
	fi
	# an include: resolve as the compiler does (own directory, then lib/)
	target=$b
	dir=${f%/*}
	if [ "$a" = q ] && [ -f "$dir/$target" ]; then
		norm "$dir/$target"
		t=$NORM
	elif [ -f "lib/$target" ]; then
		norm "lib/$target"
		t=$NORM
	elif [ "$a" = q ]; then
		report "$f:$line" include "\"$target\" is no file of lib/"
		continue
	else
		continue   # a system header
	fi
	place "$t"
	tfloor=${FLOOR:-2} twing=${WING:-?}   # (a loose file is reported above)
	if [ "$wing" != cli ] && { [ "$twing" = cli ] || [ "${t##*/}" = cli.h ]; }; then
		report "$f:$line" cli "includes $t: only lib/cli and the tools may include the CLI"
	elif { [ "$wing" = stream ] || [ "$wing" = train ]; } && [ "$twing" != "$wing" ] && [ "$twing" != error ]; then
		report "$f:$line" wing "includes $t: lib/$wing may include only lib/$wing/* and lib/error.h"
	elif [ "$tfloor" -gt "${floor:-2}" ]; then
		report "$f:$line" floor "includes $t (floor $tfloor, $twing) from floor ${floor:-?} ($wing)"
	fi
	module "$f"
	ma=$MODULE
	module "$t"
	mb=$MODULE
	if [ "$ma" != "$mb" ] && [ -z "${edges["$ma $mb"]:-}" ]; then
		edges["$ma $mb"]="$f:$line"
		succ[$ma]+=" $mb"
	fi
done < <(scan "${files[@]}")

# Cycles: a depth-first search; each edge back to a module on the stack
# closes one circle, reported along the stack.
declare -A color=()   # unset: new, 1: on the stack, 2: done
stack=()
dfs() {
	local m=$1 n i path
	color[$m]=1
	stack+=("$m")
	for n in ${succ[$m]:-}; do
		if [ "${color[$n]:-0}" = 1 ]; then
			path=""
			for ((i = ${#stack[@]} - 1; i >= 0; i--)); do
				[ "${stack[i]}" = "$n" ] && break
			done
			local first=${edges["${stack[i]} ${stack[i + 1]:-$n}"]}
			for ((; i < ${#stack[@]}; i++)); do
				local next=${stack[i + 1]:-$n}
				path+="${stack[i]} (${edges["${stack[i]} $next"]}) -> "
			done
			report "$first" cycle "${path}$n"
		elif [ "${color[$n]:-0}" = 0 ]; then
			dfs "$n"
		fi
	done
	unset 'stack[${#stack[@]}-1]'
	color[$m]=2
}
for m in $(printf '%s\n' "${!mods[@]}" | LC_ALL=C sort); do
	[ "${color[$m]:-0}" = 0 ] && dfs "$m"
done

if [ "$bad" = 0 ]; then
	echo "arch: ${#files[@]} library files, ${#edges[@]} module includes: the floors hold, no cycle"
fi
exit "$bad"
