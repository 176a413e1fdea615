#!/usr/bin/env bash
# cat of shell-like text through calm shell, script(1) and asciinema rec, in
# one run. Prints each run, the medians and the ratios (baseline time / calm
# time: above 1 means calm is faster). script(1) runs twice: typescript to
# /dev/null (the issue's baseline: it records nothing), and to a file it then
# fsyncs, as calm does its journal (recorder against recorder).
# Usage: bench/shell.sh [MEGABYTES] [RUNS]
set -euo pipefail
mb=${1:-200}
runs=${2:-3}
source "$(dirname "$0")/lib.sh"
calm_t=() script_t=() file_t=() asc_t=()
# The store takes each session from its journal in the background once the
# shell has exited, and the journal is fsynced: every timed run starts after
# that work and a sync, so no run pays for the one before.
settle() {
  while "$work/calm" status | grep -q "being stored\|still recording"; do sleep 0.05; done
  while "$work/calm" agent status 2>/dev/null | grep -q '^idle work'; do sleep 0.05; done # search lines
  sync
  warm "$work/input"
}
time_script() { settle; t0=$(now); script -q -c "cat '$work/input'" /dev/null > /dev/null; t1=$(now); script_t+=("$(echo "$t1 - $t0" | bc -l)"); }
time_script_file() {
  rm -f "$work/typescript"; settle
  t0=$(now); script -q -c "cat '$work/input'" "$work/typescript" > /dev/null && sync "$work/typescript"; t1=$(now)
  file_t+=("$(echo "$t1 - $t0" | bc -l)")
}
for i in $(seq "$runs"); do
  # Every other round script goes first: neither always follows the other.
  if [ $((i % 2)) = 0 ]; then time_script; time_script_file; fi
  settle; t0=$(now); "$work/calm" shell -- cat "$work/input" > /dev/null 2>&1; t1=$(now)
  calm_t+=("$(echo "$t1 - $t0" | bc -l)")
  if [ $((i % 2)) = 1 ]; then time_script_file; time_script; fi
  if command -v asciinema >/dev/null; then
    # asciinema needs a terminal: it runs under script, as in CI.
    settle; t0=$(now); script -q -c "asciinema rec -q --overwrite -c 'cat $work/input' $work/a.cast" /dev/null > /dev/null; t1=$(now)
    asc_t+=("$(echo "$t1 - $t0" | bc -l)")
  else
    asc_t+=(0)
  fi
  printf 'run %d: calm shell %.3fs  script %.3fs  script to a file %.3fs  asciinema rec %.3fs\n' "$i" "${calm_t[-1]}" "${script_t[-1]}" "${file_t[-1]}" "${asc_t[-1]}"
done
cm=$(printf '%s\n' "${calm_t[@]}" | median)
sm=$(printf '%s\n' "${script_t[@]}" | median)
am=$(printf '%s\n' "${asc_t[@]}" | median)
printf 'input: %d MiB of shell-like text, %d runs\n' "$mb" "$runs"
printf 'calm shell (to exit: output shown, journal written and fsynced): median %.3fs\n' "$cm"
paired=()
for i in "${!calm_t[@]}"; do paired+=("$(echo "${script_t[$i]} / ${calm_t[$i]}" | bc -l)"); done
pm=$(printf '%s\n' "${paired[@]}" | median)
printf 'script -q -c:  median %.3fs   ratio script/calm %.2fx, round by round %.2fx (target >= 1.0x)\n' "$sm" "$(echo "$sm / $cm" | bc -l)" "$pm"
fm=$(printf '%s\n' "${file_t[@]}" | median)
paired=()
for i in "${!calm_t[@]}"; do paired+=("$(echo "${file_t[$i]} / ${calm_t[$i]}" | bc -l)"); done
fpm=$(printf '%s\n' "${paired[@]}" | median)
printf 'script -q -c ... FILE && sync FILE:  median %.3fs   ratio script/calm %.2fx, round by round %.2fx\n' "$fm" "$(echo "$fm / $cm" | bc -l)" "$fpm"
printf 'asciinema rec: median %.3fs   ratio asciinema/calm %.2fx\n' "$am" "$(echo "$am / $cm" | bc -l)"
