#!/usr/bin/env bash
# cat of shell-like text through calm shell, script(1) and asciinema rec, in
# one run. Prints each run, the medians and the ratios (baseline time / calm
# time: above 1 means calm is faster). Usage: bench/shell.sh [MEGABYTES] [RUNS]
set -euo pipefail
mb=${1:-200}
runs=${2:-3}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'pkill -f "$work/calm" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/calm" .
go run ./bench/gen "$mb" > "$work/input"
export CALM_HOME=$work/home XDG_RUNTIME_DIR=$work/rt XDG_CONFIG_HOME=$work/cfg CALM_AGENT_IDLE=60s
mkdir -p "$work/rt"
"$work/calm" incident new "shell benchmark" >/dev/null

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
calm_t=() script_t=() asc_t=()
for i in $(seq "$runs"); do
  t0=$(now); "$work/calm" shell -- cat "$work/input" > /dev/null 2>&1; t1=$(now)
  calm_t+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now); script -q -c "cat '$work/input'" /dev/null > /dev/null; t1=$(now)
  script_t+=("$(echo "$t1 - $t0" | bc -l)")
  if command -v asciinema >/dev/null; then
    # asciinema needs a terminal: it runs under script, as in CI.
    t0=$(now); script -q -c "asciinema rec -q --overwrite -c 'cat $work/input' $work/a.cast" /dev/null > /dev/null; t1=$(now)
    asc_t+=("$(echo "$t1 - $t0" | bc -l)")
  else
    asc_t+=(0)
  fi
  printf 'run %d: calm shell %.3fs  script %.3fs  asciinema rec %.3fs\n' "$i" "${calm_t[-1]}" "${script_t[-1]}" "${asc_t[-1]}"
done
cm=$(printf '%s\n' "${calm_t[@]}" | median)
sm=$(printf '%s\n' "${script_t[@]}" | median)
am=$(printf '%s\n' "${asc_t[@]}" | median)
printf 'input: %d MiB of shell-like text, %d runs\n' "$mb" "$runs"
printf 'calm shell (recorded, journal + store, copies verified): median %.3fs\n' "$cm"
printf 'script -q -c:  median %.3fs   ratio script/calm %.2fx (target >= 1.0x)\n' "$sm" "$(echo "$sm / $cm" | bc -l)"
printf 'asciinema rec: median %.3fs   ratio asciinema/calm %.2fx\n' "$am" "$(echo "$am / $cm" | bc -l)"
