# common.sh: helpers of the benchmark scripts (source it; it uses $work).

# ratio A B: A / B with 4 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", a / b}'; }

# median: the median of the numbers on stdin, one a line
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timed NAME CMD...: run CMD under /usr/bin/time and append "secs kib" to
# $work/NAME.times (stdout dropped, stderr kept in $work/NAME.err); a
# failure stops the benchmark with CMD's stderr.
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/$name.t1" "$@" >/dev/null 2>"$work/$name.err" || {
    echo "failed: $*" >&2; cat "$work/$name.err" >&2; exit 1; }
  cat "$work/$name.t1" >>"$work/$name.times"
}
