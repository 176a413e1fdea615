#!/bin/bash
# rec.sh NAME TERM COLSxROWS COMMAND KEYS... : records COMMAND in a tmux pane with asciinema,
# typing KEYS (tmux send-keys arguments, one batch per argument, 0.4 s apart).
name=$1 term=$2 size=$3 cmd=$4; shift 4
sock=i20rec-$$
cols=${size%x*} rows=${size#*x}
printf 'set -g default-terminal %s\nset -g remain-on-exit on\n' "$term" > conf
tmux -L $sock -f conf new-session -d -s r -x $cols -y $rows "env -u TMUX PS1='$ ' asciinema rec -q --overwrite -c \"$cmd\" /tmp/i20rec/$name.cast; echo REC-DONE"
sleep 1.5
for k in "$@"; do
  eval "tmux -L $sock send-keys -t r $k"
  sleep 0.4
done
for i in $(seq 50); do tmux -L $sock capture-pane -p -t r | grep -q REC-DONE && break; sleep 0.2; done
tmux -L $sock kill-server
ls -la /tmp/i20rec/$name.cast
