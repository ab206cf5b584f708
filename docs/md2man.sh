#!/bin/sh
# Turn a manual page of docs/ (Markdown, "# prog(1)" then "## NAME" ...)
# into roff with Debian's go-md2man: the title line becomes go-md2man's
# title block, the section headings move up a level (## -> .SH), and the
# table rows that go-md2man 2.0 breaks after a T{ ... T} cell are joined.
# Usage: docs/md2man.sh GO_MD2MAN VERSION IN.md OUT.1
set -eu
tool=$1 version=$2 in=$3 out=$4
name=$(sed -n '1s/^# \([a-z0-9]*\)(\([1-9]\))$/\1/p' "$in")
sect=$(sed -n '1s/^# \([a-z0-9]*\)(\([1-9]\))$/\2/p' "$in")
if [ -z "$name" ] || [ -z "$sect" ]; then
	echo "md2man: $in: the first line is not '# name(section)'" >&2
	exit 1
fi
upper=$(printf '%s' "$name" | tr a-z A-Z)
{
	printf '%% "%s" "%s" "" "vtrain %s" "vtrain manual"\n' "$upper" "$sect" "$version"
	sed -e '1d' -e 's/^## /# /' -e 's/^### /## /' "$in"
} | "$tool" >"$out.tmp"
perl -0pe 's/^T\}\n\t/T}\t/mg' "$out.tmp" >"$out"
rm -f "$out.tmp"
