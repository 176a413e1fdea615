# Shared by the bench/ scripts: source it after setting mb and runs. It builds
# calm and the input into a temp folder ($work), points calm at a private
# store there, starts the agent (so no run pays for it), and cleans up on exit.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=$(mktemp -d)
trap 'pkill -f "$work/calm" 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/calm" . # as the README builds it
go run ./bench/gen "$mb" > "$work/input"
export CALM_HOME=$work/home XDG_RUNTIME_DIR=$work/rt XDG_CONFIG_HOME=$work/cfg CALM_AGENT_IDLE=60s
mkdir -p "$work/rt"
"$work/calm" incident new "benchmark" >/dev/null

now() { date +%s.%N; }
# warm FILE...: reads each file into the page cache. Some machines page out
# cold file pages on their own (DAMON's pageout scheme): a timed run that
# found its input paged out would pay a disk read its baseline did not.
warm() { cat "$@" > /dev/null; }
# settle waits until the agent has no idle work left (the search lines it
# derives after each seal), so that no timed run shares the CPUs with it.
settle() { local i; for i in $(seq 3000); do "$work/calm" agent status 2>/dev/null | grep -q '^idle work' || return 0; sleep 0.2; done; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# build_rev REV NAME: builds calm at git revision REV as $work/calm-NAME, with
# its own store and agent under $work/NAME-home, -rt and -cfg.
build_rev() {
  git worktree add -q --detach "$work/$2-src" "$1"
  (cd "$work/$2-src" && CGO_ENABLED=0 go build -o "$work/calm-$2" .)
  git worktree remove --force "$work/$2-src"
  trap 'pkill -f "$work/calm" 2>/dev/null || true; git worktree prune; rm -rf "$work"' EXIT
  (export CALM_HOME=$work/$2-home XDG_RUNTIME_DIR=$work/$2-rt XDG_CONFIG_HOME=$work/$2-cfg
   mkdir -p "$XDG_RUNTIME_DIR"; "$work/calm-$2" incident new "benchmark" >/dev/null)
}
