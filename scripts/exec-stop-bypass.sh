#!/usr/bin/env bash
# Shows why exec pinning (issue #22) cannot rest on the probe's SIGSTOP: a process in the
# same cgroup can continue an exec that the probe stopped for hashing, before the loader
# has hashed it, so a verdict taken after the hash may come after the executable ran.
#
# As root, with the probe built (bash tracer/bpf/build.sh). It traces a scratch cgroup
# /tbexp-bypass (nothing of Docker's), freezes the loader with SIGSTOP so that it can
# neither hash nor continue anything (its heartbeat is < 2 s old, so the kernel still
# stops execs), runs a fresh copy of touch (a new inode: no cached digest) in that cgroup,
# and has its parent shell send SIGCONT. Prints whether touch ran while the loader was
# still frozen. Removes the cgroup and the copy at the end.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
probe=$here/tracer/bpf/.output/tracebuild-probe
cg=/sys/fs/cgroup/unified/tbexp-bypass
tmp=$(mktemp -d)
mkdir -p "$cg"
cp /usr/bin/touch "$tmp/touch"
mkfifo "$tmp/in" "$tmp/wait"
"$probe" --prefix /tbexp-bypass/ <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
loader=$!
exec 3>"$tmp/in"
# the loader is ready once it wrote its first record (it writes nothing before)
for _ in $(seq 100); do [ -s "$tmp/out" ] && break; sleep 0.1; done
kill -STOP "$loader"
mkdir "$cg/c"
# Inside the cgroup only builtins: any other exec would be stopped as well.
state() { local s; read -r s <"/proc/$1/stat"; s=${s##*) }; echo "${s%% *}"; }
ran() { [ -e "$tmp/marker" ] && echo yes || echo no; }
(
  echo "$BASHPID" >"$cg/c/cgroup.procs"
  "$tmp/touch" "$tmp/marker" &
  child=$!
  read -rt 0.3 <>"$tmp/wait" || true # a builtin wait
  echo "exec stopped by the probe: state $(state "$child"), ran: $(ran)"
  kill -CONT "$child"
  wait "$child"
  echo "after its parent's SIGCONT, the loader still frozen (state $(state "$loader")): ran: $(ran)"
)
kill -CONT "$loader"
echo "1 stop" >&3
exec 3>&-
wait "$loader"
rmdir "$cg/c" "$cg"
rm -rf "$tmp"
