#!/usr/bin/env bash
# calm tee against tee FILE on the same shell-like text, in one run.
# Prints each run, the medians and the ratio (calm throughput / tee throughput),
# and calm tee's peak resident memory. Usage: bench/tee.sh [MEGABYTES] [RUNS]
set -euo pipefail
mb=${1:-200}
runs=${2:-5}
source "$(dirname "$0")/lib.sh"
tee_times=() calm_times=() calm_rss=()
for i in $(seq "$runs"); do
  t0=$(now); tee "$work/tee.out" < "$work/input" > /dev/null; t1=$(now)
  tee_times+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now)
  if [ -x /usr/bin/time ]; then
    rss=$( { /usr/bin/time -f '%M' "$work/calm" tee -q "run $i" < "$work/input" > /dev/null; } 2>&1 | tail -1)
  else
    "$work/calm" tee -q "run $i" < "$work/input" > /dev/null; rss=0
  fi
  t1=$(now)
  calm_times+=("$(echo "$t1 - $t0" | bc -l)")
  calm_rss+=("$rss")
  printf 'run %d: tee %.3fs  calm tee %.3fs  calm tee max RSS %d KiB\n' "$i" "${tee_times[-1]}" "${calm_times[-1]}" "$rss"
done
tm=$(printf '%s\n' "${tee_times[@]}" | median)
cm=$(printf '%s\n' "${calm_times[@]}" | median)
rss=$(printf '%s\n' "${calm_rss[@]}" | sort -g | tail -1)
printf 'input: %d MiB of shell-like text, %d runs\n' "$mb" "$runs"
printf 'tee FILE:  median %.3fs  %.0f MB/s\n' "$tm" "$(echo "$mb * 1.048576 / $tm" | bc -l)"
printf 'calm tee:  median %.3fs  %.0f MB/s  (stored, 2 copies fsynced and read back)\n' "$cm" "$(echo "$mb * 1.048576 / $cm" | bc -l)"
printf 'ratio calm/tee throughput: %.2fx (target >= 0.5x)\n' "$(echo "$tm / $cm" | bc -l)"
printf 'calm tee peak RSS: %d KiB (target < 65536)\n' "$rss"
printf 'store size on disk: %s for %d MiB captured x %d\n' "$(du -h "$CALM_HOME/calm.db" | cut -f1)" "$mb" "$runs"
