#!/usr/bin/env bash
# calm tee against tee FILE on the same shell-like text, in one run, rounds
# interleaved. Two times for each: when the downstream (a cat into /dev/null)
# read its end of file, and when the command was done: `tee FILE && sync`
# against calm tee's exit (every byte stored, both copies fsynced and read
# back). Prints each round, the medians and spread, the ratios, and calm tee's
# peak resident memory.
#
# Usage: bench/tee.sh [MEGABYTES] [RUNS] [BASELINE_REV]
# With BASELINE_REV (a git revision, e.g. main) that calm is built too and
# timed in the same rounds, with its own store and agent.
set -euo pipefail
mb=${1:-200}
runs=${2:-5}
base_rev=${3:-}
source "$(dirname "$0")/lib.sh"

if [ -n "$base_rev" ]; then
  build_rev "$base_rev" base
  # Both agents' idle work is done before any timed run: neither shares
  # the CPUs with the other's.
  eval "settle_this() $(declare -f settle | tail -n +2)"
  settle() {
    settle_this
    local i
    for i in $(seq 3000); do
      CALM_HOME=$work/base-home XDG_RUNTIME_DIR=$work/base-rt XDG_CONFIG_HOME=$work/base-cfg \
        "$work/calm-base" agent status 2>/dev/null | grep -q '^idle work' || return 0
      sleep 0.2
    done
  }
fi

# timed CMD...: runs CMD < input > a fifo that a downstream reader (cat into
# /dev/null) empties; sets eof (seconds to the downstream's EOF) and fin
# (seconds to CMD's end, sync included if CMD does it). Only CMD holds the
# fifo open, so the reader's EOF comes when CMD lets go of its stdout.
timed() {
  rm -f "$work/tee.out" "$work/eof" "$work/done" "$work/fifo"
  mkfifo "$work/fifo"
  settle
  sync
  warm "$work/input"
  { cat < "$work/fifo" > /dev/null; now > "$work/eof"; } &
  local reader=$! t0
  t0=$(now)
  "$@"
  now > "$work/done"
  wait "$reader"
  eof=$(echo "$(cat "$work/eof") - $t0" | bc -l)
  fin=$(echo "$(cat "$work/done") - $t0" | bc -l)
}
tee_sync() { tee "$work/tee.out" < "$work/input" > "$work/fifo" && sync; }
# /usr/bin/time's own stdout is not the fifo: it would hold the downstream's
# EOF until calm exits.
calm_tee() {
  /usr/bin/time -o "$work/rss" -f %M sh -c 'exec "$0" tee -q "$1" < "$2" > "$3"' \
    "$work/calm" "run $i" "$work/input" "$work/fifo" > /dev/null
}
calm_base() {
  CALM_HOME=$work/base-home XDG_RUNTIME_DIR=$work/base-rt XDG_CONFIG_HOME=$work/base-cfg \
    "$work/calm-base" tee -q "run $i" < "$work/input" > "$work/fifo"
}

tee_eof=() tee_done=() calm_eof=() calm_done=() calm_rss=() base_eof=() base_done=()
for i in $(seq "$runs"); do
  timed tee_sync; tee_eof+=("$eof") tee_done+=("$fin")
  timed calm_tee; calm_eof+=("$eof") calm_done+=("$fin") calm_rss+=("$(tail -1 "$work/rss")")
  line=$(printf 'round %d: tee FILE EOF %.3fs, +sync %.3fs | calm tee EOF %.3fs, exit %.3fs, %d KiB' \
    "$i" "${tee_eof[-1]}" "${tee_done[-1]}" "${calm_eof[-1]}" "${calm_done[-1]}" "${calm_rss[-1]}")
  if [ -n "$base_rev" ]; then
    timed calm_base; base_eof+=("$eof") base_done+=("$fin")
    line+=$(printf ' | %s EOF %.3fs, exit %.3fs' "$base_rev" "${base_eof[-1]}" "${base_done[-1]}")
  fi
  echo "$line"
done

# stat NAME VALUES...: median and spread
stat() {
  local name=$1; shift
  local m lo hi
  m=$(printf '%s\n' "$@" | median)
  lo=$(printf '%s\n' "$@" | sort -g | head -1)
  hi=$(printf '%s\n' "$@" | sort -g | tail -1)
  printf '%-34s median %.3fs (%.3f-%.3f)  %4.0f MB/s\n' "$name" "$m" "$lo" "$hi" "$(echo "$mb * 1.048576 / $m" | bc -l)"
  med=$m
}
printf 'input: %d MiB of shell-like text, %d rounds, load average %s\n' "$mb" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
stat "tee FILE: downstream EOF" "${tee_eof[@]}"; tee_eof_m=$med
stat "tee FILE && sync: done" "${tee_done[@]}"; tee_done_m=$med
stat "calm tee: downstream EOF" "${calm_eof[@]}"; calm_eof_m=$med
stat "calm tee: exit (stored, verified)" "${calm_done[@]}"; calm_done_m=$med
printf 'calm tee downstream / tee FILE throughput: %.2fx (target >= 0.95x)\n' "$(echo "$tee_eof_m / $calm_eof_m" | bc -l)"
printf 'calm tee exit / tee FILE && sync throughput: %.2fx (target >= 0.8x)\n' "$(echo "$tee_done_m / $calm_done_m" | bc -l)"
# The same ratio round by round (each calm run against the tee run just
# before it): the machine's swings fall on both sides of each pair.
paired=()
for i in "${!calm_done[@]}"; do paired+=("$(echo "${tee_done[$i]} / ${calm_done[$i]}" | bc -l)"); done
printf 'calm tee exit / tee FILE && sync, round by round: median %.2fx (%.2f-%.2f)\n' \
  "$(printf '%s\n' "${paired[@]}" | median)" "$(printf '%s\n' "${paired[@]}" | sort -g | head -1)" "$(printf '%s\n' "${paired[@]}" | sort -g | tail -1)"
if [ -n "$base_rev" ]; then
  stat "$base_rev calm tee: downstream EOF" "${base_eof[@]}"; base_eof_m=$med
  stat "$base_rev calm tee: exit" "${base_done[@]}"; base_done_m=$med
  printf '%s: downstream %.2fx, exit %.2fx of tee'"'"'s throughput\n' "$base_rev" \
    "$(echo "$tee_eof_m / $base_eof_m" | bc -l)" "$(echo "$tee_done_m / $base_done_m" | bc -l)"
fi
printf 'calm tee peak RSS: %d KiB (target < 65536)\n' "$(printf '%s\n' "${calm_rss[@]}" | sort -g | tail -1)"
