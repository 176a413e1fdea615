#!/usr/bin/env bash
# calm shell -- cat of shell-like text: this tree's calm against another
# revision's, with script(1) as the baseline, in rotated rounds (no build
# always follows another), each calm with its own store and agent, every run
# after the stores are idle and a sync. Prints each round, the medians, the
# ratios to script, and in how many rounds this tree was faster.
#
# Usage: bench/shell-ab.sh [REV] [ROUNDS] [MEGABYTES]   (default HEAD 10 50)
set -euo pipefail
rev=${1:-HEAD}
rounds=${2:-10}
mb=${3:-50}
source "$(dirname "$0")/lib.sh"
build_rev "$rev" rev

# in_env BUILD CMD...: runs CMD with BUILD's store (tree: lib.sh's, rev: its own).
in_env() {
  if [ "$1" = rev ]; then
    shift; CALM_HOME=$work/rev-home XDG_RUNTIME_DIR=$work/rev-rt XDG_CONFIG_HOME=$work/rev-cfg "$@"
  else
    shift; "$@"
  fi
}
idle() {
  local b bin
  for b in tree rev; do
    bin=$work/calm; [ $b = rev ] && bin=$work/calm-rev
    while in_env $b "$bin" status | grep -q "being stored\|still recording"; do sleep 0.05; done
    while in_env $b "$bin" agent status 2>/dev/null | grep -q '^idle work'; do sleep 0.05; done
  done
  sync
}
one() {
  local t0 t1
  idle
  warm "$work/input"
  t0=$(now)
  case $1 in
    script) script -q -c "cat '$work/input'" /dev/null > /dev/null ;;
    tree) "$work/calm" shell -- cat "$work/input" > /dev/null 2>&1 ;;
    rev) in_env rev "$work/calm-rev" shell -- cat "$work/input" > /dev/null 2>&1 ;;
  esac
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
declare -A t
all=(script tree rev)
for i in $(seq "$rounds"); do
  k=$((i % 3)); order=("${all[@]:k}" "${all[@]:0:k}")
  line="round $i:"
  for b in "${order[@]}"; do
    v=$(one "$b"); t[$b]+=" $v"; line+=" $b $(printf '%.3f' "$v")s"
  done
  echo "$line"
done
python3 - "$rev" "${t[script]}" "${t[tree]}" "${t[rev]}" <<'PY'
import statistics as st, sys
rev = sys.argv[1]
s, a, b = ([float(x) for x in arg.split()] for arg in sys.argv[2:5])
q = lambda v: st.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
for name, v in (("script", s), ("this tree", a), (rev, b)):
    print(f"{name:>10}: median {st.median(v):.3f} s (q1 {q(v)[0]:.3f}, q3 {q(v)[2]:.3f})")
for name, v in (("this tree", a), (rev, b)):
    r = [x / y for x, y in zip(s, v)]
    print(f"script / {name}: median {st.median(r):.2f}x, round by round (q1 {q(r)[0]:.2f}, q3 {q(r)[2]:.2f}) (target >= 1.0x)")
r = [x / y for x, y in zip(a, b)]
print(f"this tree / {rev}: median {st.median(r):.2f}x of its time; faster in {sum(x < y for x, y in zip(a, b))} of {len(a)} rounds")
PY
