#!/usr/bin/env bash
# A/B/C of calm shell on a flood (issue 22): A = as built, B = the journal's
# direct writes through pwrite(2) instead of the io_uring (pwrite.patch),
# C = a byte-at-a-time JSON string encoder (plain-encoder.patch). The patches
# apply to commit 0954b10 (git worktree add /tmp/x 0954b10). Interleaved rounds in
# rotated order, each build with its own store and agent; prints wall and CPU
# quartiles, per-round ratios and a sign test. Usage: bench/ab/run.sh [ROUNDS] [MEGABYTES]
set -euo pipefail
rounds=${1:-30}; mb=${2:-50}
cd "$(dirname "$0")/../.."
work=$(mktemp -d); trap 'for v in A B C; do pkill -f "$work/calm-$v agent" || true; done; git worktree remove --force "$work/wt" 2>/dev/null || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/wt" HEAD
(cd "$work/wt" && go build -o "$work/calm-A" . \
  && git apply "$OLDPWD/bench/ab/pwrite.patch" && go build -o "$work/calm-B" . && git checkout -q . \
  && git apply "$OLDPWD/bench/ab/plain-encoder.patch" && go build -o "$work/calm-C" . && git checkout -q .)
go run ./bench/gen "$mb" > "$work/input"
for v in A B C; do
  mkdir -p "$work/$v/rt"; chmod 700 "$work/$v/rt"
  CALM_HOME=$work/$v/home XDG_RUNTIME_DIR=$work/$v/rt XDG_CONFIG_HOME=$work/$v/cfg CALM_AGENT_IDLE=600s "$work/calm-$v" incident new bench >/dev/null
done
out=$work/results.tsv; : > "$out"
runv() {
  local v=$1
  export CALM_HOME=$work/$v/home XDG_RUNTIME_DIR=$work/$v/rt XDG_CONFIG_HOME=$work/$v/cfg CALM_AGENT_IDLE=600s
  while "$work/calm-$v" status | grep -q "being stored\|still recording"; do sleep 0.05; done; sync
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/time.txt" "$work/calm-$v" shell -- cat "$work/input" > /dev/null 2>&1
  t1=$(date +%s.%N)
  read -r u s < "$work/time.txt"
  echo -e "$r\t$v\t$(echo "$t1 - $t0" | bc -l)\t$(echo "$u + $s" | bc -l)" >> "$out"
}
for r in $(seq "$rounds"); do
  case $((r % 3)) in 0) order="A B C";; 1) order="B C A";; 2) order="C A B";; esac
  for v in $order; do runv "$v"; done
done
python3 - "$out" <<'PY'
import statistics as st, sys
from math import comb
rows=[l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
by={}
for r,v,w,c in rows: by.setdefault(v,{})[int(r)]=(float(w),float(c))
def q(xs):
    xs=sorted(xs); n=len(xs); return xs[n//4], st.median(xs), xs[(3*n)//4]
for v in 'ABC':
    w=[x[0] for x in by[v].values()]; c=[x[1] for x in by[v].values()]
    print(v,'wall q1/med/q3 %.3f %.3f %.3f'%q(w),' cpu q1/med/q3 %.3f %.3f %.3f'%q(c))
for v in 'BC':
    for k,name in ((0,'wall'),(1,'cpu')):
        rs=[by[v][r][k]/by['A'][r][k] for r in by['A']]; n=len(rs); worse=sum(x>1 for x in rs)
        p=sum(comb(n,i) for i in range(worse,n+1))/2**n
        print('%s/A %s per round q1/med/q3 %.3f %.3f %.3f; A better in %d of %d (sign test p=%.4f)'%((v,name)+q(rs)+(worse,n,p)))
PY
