#!/usr/bin/env bash
# Make the tables of docs/BAD-INPUT.md from what tests/bad-input.bats sees:
# run the suite with VT_BAD_INPUT_LOG set, then print (or, with --update
# FILE, write between FILE's "<!-- bad-input table -->" markers) one table of
# exit statuses (case x program) and one of messages.
# Usage: tests/bad-input-table.sh [--update docs/BAD-INPUT.md]
# VT_BIN and VT_FIXTURES as for the suite (default build/bin, tests/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
VT_BAD_INPUT_LOG=$log VT_BIN=${VT_BIN:-build/bin} VT_FIXTURES=${VT_FIXTURES:-tests/fixtures} \
	bats tests/bad-input.bats >/dev/null
/usr/bin/python3 - "$log" "$@" <<'PYEOF'
import sys
progs = ["vcat", "vgen", "vsample", "vcoreset", "vmerge", "vkmeans", "vrefine", "vpq",
         "vsqbounds", "vloss", "vassign"]
# tests/bad-input.bats asserts 141 for these under | head, 0 or 141 for the rest
sigpipe_always = {"vgen", "vcat", "vsample", "vcoreset", "vmerge", "vrefine", "vassign"}
order = ["empty input", "header only", "truncated mid-frame", "truncated before the end marker",
         "flipped byte: header", "flipped byte: frame header", "flipped byte: payload",
         "flipped byte: end marker", "HDF5: not an HDF5 file", "HDF5: truncated",
         "HDF5: no such dataset", "HDF5: a 3-D dataset", "HDF5: damaged chunk shape",
         "damaged -c centroids", "wrong kind", "wrong kind (-c)",
         "dimension mismatch", "dimension mismatch (-c)", "NaN/Inf rows", "k larger than the data",
         "zero vectors, cosine", "dot: centroids not of unit norm", "output in a missing directory", "a full disk", "stdout closed",
         "SIGPIPE (head -c 10 exits)", "SIGINT mid-run"]
cases, seen = list(order), {c: {} for c in order}
for line in open(sys.argv[1]):
    p, c, st, msg = (line.rstrip("\n").split("\t") + [""])[:4]
    if c not in seen:
        seen[c] = {}
        cases.append(c)
    if p not in seen[c]:          # a case's first check is its row
        if msg.startswith(p + ": "):
            msg = msg[len(p) + 2:]
        seen[c][p] = (st, msg)
out = ["| case | " + " | ".join(progs) + " |", "|---|" + "---|" * len(progs)]
for c in cases:
    cells = []
    for p in progs:
        if p not in seen[c]:
            cells.append("n/a")
            continue
        st = seen[c][p][0]
        if c.startswith("SIGPIPE") and p not in sigpipe_always:
            st = "0 or 141"
        cells.append(st)
    out.append("| %s | %s |" % (c, " | ".join(cells)))
out += ["", "| case | message (after `PROGRAM: `), and the programs that print it |", "|---|---|"]
for c in cases:
    by = {}
    for p in progs:
        if p in seen[c]:
            by.setdefault(seen[c][p][1], []).append(p)
    parts = []
    for msg, ps in by.items():
        who = "all" if len(ps) == len(seen[c]) and len(by) == 1 else ", ".join(ps)
        parts.append("%s: %s" % (who, ("`%s`" % msg.replace("|", "\\|")) if msg else "(nothing)"))
    out.append("| %s | %s |" % (c, "<br>".join(parts)))
table = "\n".join(out) + "\n"
if len(sys.argv) > 3 and sys.argv[2] == "--update":
    path, mark = sys.argv[3], "<!-- bad-input table -->\n"
    doc = open(path).read()
    a, b = doc.index(mark), doc.rindex(mark)
    open(path, "w").write(doc[:a + len(mark)] + table + doc[b:])
else:
    sys.stdout.write(table)
PYEOF
