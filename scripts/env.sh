#!/usr/bin/env bash
# Brings a Debian bookworm machine (as root) to the state tracebuild needs, and leaves it
# alone where it already is: Debian packages, tracefs, dockerd without a bridge, the
# offline base image busybox:local, a registry on 127.0.0.1:5000 only, and the eBPF probe.
#
# Usage: scripts/env.sh                      set everything up (idempotent)
#        scripts/env.sh --status             print what is up, change nothing
#        scripts/env.sh guard-on [--restart-dockerd] GUARD-ARGS
#                                            set up, start `tracebuild guard GUARD-ARGS`
#                                            (--key PUB --policy FILE ...) and make dockerd
#                                            ask it before every API call (--restart-dockerd:
#                                            allowed to restart a dockerd that this script
#                                            did not start, once)
#        scripts/env.sh guard-off            dockerd stops asking the guard; the guard stops
#                                            (works when the guard is dead or hung)
#        scripts/env.sh stop-dockerd         stop this dockerd (and its guard)
#
# TRACEBUILD_DOCKER_INSTANCE=NAME works on a second, separate dockerd (its own socket
# /run/tracebuild/NAME/docker.sock, data root, containerd and guard), e.g. for tests that
# must not disturb the main one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${TRACEBUILD_STATE_DIR:-/var/lib/tracebuild}
LOG_DIR=${TRACEBUILD_LOG_DIR:-/var/log/tracebuild}
REGISTRY_ADDR=127.0.0.1:5000
BASE_IMAGE=busybox:local
PLUGIN_DIR=/run/docker/plugins
INSTANCE=${TRACEBUILD_DOCKER_INSTANCE:-}

if [ -z "$INSTANCE" ]; then
  DOCKER_SOCK=/var/run/docker.sock
  DOCKERD_PIDFILE=/var/run/docker.pid
  DOCKERD_CONFIG=$STATE_DIR/dockerd.json
  DOCKERD_LOG=$LOG_DIR/dockerd.log
  GUARD_RUN_DIR=/run/tracebuild/main
  DOCKERD_INSTANCE_ARGS=()
  GUARD_NAME=tracebuild-guard
else
  case "$INSTANCE" in
    *[!a-z0-9-]* | '' | -*) echo "env: error: TRACEBUILD_DOCKER_INSTANCE must be lowercase letters, digits and -" >&2; exit 1 ;;
  esac
  GUARD_RUN_DIR=/run/tracebuild/$INSTANCE
  DOCKER_SOCK=$GUARD_RUN_DIR/docker.sock
  DOCKERD_PIDFILE=$GUARD_RUN_DIR/docker.pid
  DOCKERD_CONFIG=$STATE_DIR/instances/$INSTANCE/dockerd.json
  DOCKERD_LOG=$LOG_DIR/dockerd-$INSTANCE.log
  DOCKERD_INSTANCE_ARGS=(
    --host "unix://$DOCKER_SOCK" --pidfile "$DOCKERD_PIDFILE"
    --data-root "$STATE_DIR/instances/$INSTANCE/docker" --exec-root "$GUARD_RUN_DIR/exec"
    # Where a system containerd runs, dockerd uses it: keep this instance's objects apart.
    --containerd-namespace "tracebuild-$INSTANCE" --containerd-plugins-namespace "tracebuild-$INSTANCE-plugins"
  )
  GUARD_NAME=tracebuild-guard-$INSTANCE
fi
GUARD_SOCK=$PLUGIN_DIR/$GUARD_NAME.sock
GUARD_PIDFILE=$GUARD_RUN_DIR/guard.pid
GUARD_LOG=$LOG_DIR/guard-$GUARD_NAME.log
DOCKER=(/usr/bin/docker -H "unix://$DOCKER_SOCK")

# Debian packages and the command that proves each is there.
PACKAGES=(
  "docker.io:dockerd"
  "busybox-static:busybox"
  "docker-registry:docker-registry"
  "clang:clang"
  "llvm:llvm-strip"
  "libbpf-dev:/usr/include/bpf/libbpf.h"
  "libssl-dev:/usr/include/openssl/evp.h"
  "openssl:openssl"
  "gcc:cc"
  "libc6-dev:/usr/include/stdio.h"
  "strace:strace"
  "bpftool:bpftool"
  "make:make"
  "curl:curl"
  "git:git"
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
  "chromium:chromium"
)

log() { printf 'env: %s\n' "$*" >&2; }
die() { printf 'env: error: %s\n' "$*" >&2; exit 1; }

have() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts dockerd)"
}

install_packages() {
  local missing=() entry
  for entry in "${PACKAGES[@]}"; do
    have "${entry#*:}" || missing+=("${entry%%:*}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1 \
    || { tail -20 "$LOG_DIR/apt.log" >&2; die "apt-get install failed (log: $LOG_DIR/apt.log)"; }
}

mount_tracefs() {
  if [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
    log "mounting tracefs on /sys/kernel/tracing"
    mount -t tracefs nodev /sys/kernel/tracing || log "warning: could not mount tracefs (tracing will be unavailable)"
  fi
}

docker_answers() {
  curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping >/dev/null 2>&1
}

guard_answers() {
  curl -fsS --max-time 2 --unix-socket "$GUARD_SOCK" http://guard/tracebuild/status >/dev/null 2>&1
}

dockerd_pid() {
  local pid
  pid=$(cat "$DOCKERD_PIDFILE" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# dockerd reads its authorization plugins from this file, so that guard-on and guard-off
# change them with a SIGHUP instead of a restart (a plugin given as a flag would be lost on
# any reload). dockerd refuses to start when a listed plugin does not answer, so a file
# that names a guard that is not running is reset first.
prepare_dockerd_config() {
  mkdir -p "$(dirname "$DOCKERD_CONFIG")"
  if [ ! -s "$DOCKERD_CONFIG" ]; then echo '{}' >"$DOCKERD_CONFIG"; return 0; fi
  if grep -q authorization-plugins "$DOCKERD_CONFIG" && ! guard_answers; then
    log "the guard named in $DOCKERD_CONFIG is not running: starting dockerd without it"
    echo '{}' >"$DOCKERD_CONFIG"
  fi
}

start_dockerd() {
  docker_answers && return 0
  log "starting dockerd${INSTANCE:+ instance $INSTANCE} (--bridge=none, no iptables)"
  # A stale pid file from a dockerd that is gone stops a new one from starting.
  if [ -f "$DOCKERD_PIDFILE" ] && ! dockerd_pid >/dev/null; then
    rm -f "$DOCKERD_PIDFILE"
  fi
  prepare_dockerd_config
  mkdir -p "$GUARD_RUN_DIR"
  # shellcheck disable=SC2086
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false --config-file="$DOCKERD_CONFIG" \
    "${DOCKERD_INSTANCE_ARGS[@]}" ${TRACEBUILD_DOCKERD_ARGS:-} \
    >"$DOCKERD_LOG" 2>&1 </dev/null &
  local i
  for i in $(seq 1 120); do
    docker_answers && return 0
    sleep 0.5
  done
  tail -20 "$DOCKERD_LOG" >&2
  die "dockerd did not answer on $DOCKER_SOCK within 60 s (log: $DOCKERD_LOG)"
}

stop_dockerd() {
  local pid i
  pid=$(dockerd_pid) || return 0
  log "stopping dockerd${INSTANCE:+ instance $INSTANCE} (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  die "dockerd (pid $pid) did not stop within 30 s"
}

create_base_image() {
  if "${DOCKER[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  log "creating $BASE_IMAGE from Debian's busybox-static"
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var,proc,sys,dev}
  chmod 1777 "$rootfs/tmp"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  # --install -s links every applet where busybox would put it.
  chroot "$rootfs" /bin/busybox --install -s
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
nogroup:x:65534:
EOF
  tar -C "$rootfs" --numeric-owner -c . | "${DOCKER[@]}" import \
    --change 'CMD ["sh"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

registry_answers() {
  curl -fsS --max-time 2 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1
}

start_registry() {
  registry_answers && return 0
  log "starting the registry on $REGISTRY_ADDR"
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  setsid nohup docker-registry serve "$STATE_DIR/registry.yml" >"$LOG_DIR/registry.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    registry_answers && return 0
    sleep 0.5
  done
  tail -20 "$LOG_DIR/registry.log" >&2
  die "registry did not answer on http://$REGISTRY_ADDR/v2/ within 30 s (log: $LOG_DIR/registry.log)"
}

build_probe() {
  bash "$ROOT/tracer/bpf/build.sh" >/dev/null \
    || die "building the eBPF probe failed (bash tracer/bpf/build.sh)"
}

# ---- the guard (tracebuild guard as dockerd's authorization plugin) -----------------------

guard_pid() {
  local pid
  pid=$(cat "$GUARD_PIDFILE" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

guard_requests() { # the guard's count of AuthZ requests; empty when it does not answer
  curl -fsS --max-time 2 --unix-socket "$GUARD_SOCK" http://guard/tracebuild/status 2>/dev/null \
    | sed -n 's/.*"requests":\([0-9]*\).*/\1/p' || true
}

set_authz_plugins() { # [NAME]: the plugins dockerd asks, through its config file and a reload
  mkdir -p "$(dirname "$DOCKERD_CONFIG")"
  if [ -n "${1:-}" ]; then
    printf '{"authorization-plugins": ["%s"]}\n' "$1" >"$DOCKERD_CONFIG.tmp"
  else
    echo '{}' >"$DOCKERD_CONFIG.tmp"
  fi
  mv "$DOCKERD_CONFIG.tmp" "$DOCKERD_CONFIG"
  local pid
  pid=$(dockerd_pid) || die "dockerd is not running (pid file $DOCKERD_PIDFILE)"
  kill -HUP "$pid"
}

# dockerd must read its plugins from our config file. One started otherwise (by hand, by
# systemd, by an older version of this script) is restarted once, but only when allowed:
# a restart stops its containers and the builds it is running.
ensure_dockerd_reads_config() {
  local allow_restart=$1 pid
  pid=$(dockerd_pid) || die "dockerd is not running (pid file $DOCKERD_PIDFILE)"
  if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--config-file=$DOCKERD_CONFIG" \
    || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config-file $DOCKERD_CONFIG "; then
    return 0
  fi
  if [ -z "$INSTANCE" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    die "dockerd is managed by systemd: add \"authorization-plugins\": [\"$GUARD_NAME\"] to its daemon.json and run systemctl reload docker, after the guard is up"
  fi
  [ "$allow_restart" = yes ] || die "dockerd (pid $pid) was not started by scripts/env.sh and does not read $DOCKERD_CONFIG; switching the guard on needs one restart of it, which stops its containers and builds: run guard-on --restart-dockerd ..."
  log "restarting dockerd so that it reads $DOCKERD_CONFIG (needed to switch the guard on and off without restarts)"
  stop_dockerd
  start_dockerd
}

start_guard() {
  [ -f "$ROOT/dist/cli/main.js" ] || (cd "$ROOT" && npm ci --no-audit --no-fund >/dev/null && npm run build >/dev/null) \
    || die "building tracebuild failed (npm ci && npm run build)"
  stop_guard
  mkdir -p "$GUARD_RUN_DIR" "$PLUGIN_DIR"
  log "starting tracebuild guard $GUARD_NAME (log: $GUARD_LOG)"
  DOCKER_HOST="unix://$DOCKER_SOCK" setsid nohup node "$ROOT/dist/cli/main.js" guard --name "$GUARD_NAME" "$@" \
    >>"$GUARD_LOG" 2>&1 </dev/null &
  echo $! >"$GUARD_PIDFILE"
  local i
  for i in $(seq 1 60); do
    guard_answers && return 0
    guard_pid >/dev/null || { tail -5 "$GUARD_LOG" >&2; die "tracebuild guard exited (log: $GUARD_LOG)"; }
    sleep 0.5
  done
  tail -5 "$GUARD_LOG" >&2
  die "tracebuild guard did not answer on $GUARD_SOCK within 30 s (log: $GUARD_LOG)"
}

stop_guard() {
  local pid i
  pid=$(guard_pid) || { rm -f "$GUARD_PIDFILE"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$GUARD_PIDFILE"
}

guard_on() {
  local allow_restart=no
  if [ "${1:-}" = --restart-dockerd ]; then allow_restart=yes; shift; fi
  [ $# -gt 0 ] || die "guard-on needs the guard's arguments: --key PUB --policy FILE [...] (see tracebuild guard --help)"
  setup
  ensure_dockerd_reads_config "$allow_restart"
  start_guard "$@"
  set_authz_plugins "$GUARD_NAME"
  # The reload is asynchronous: done when a docker call goes through the guard.
  local i before after
  for i in $(seq 1 40); do
    before=$(guard_requests)
    curl -fsS --max-time 5 --unix-socket "$DOCKER_SOCK" http://localhost/_ping >/dev/null 2>&1 || true
    after=$(guard_requests)
    if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
      log "guard on: dockerd on $DOCKER_SOCK asks $GUARD_NAME before every call (guard-off to stop)"
      return 0
    fi
    sleep 0.5
  done
  die "dockerd did not start using $GUARD_NAME after reloading $DOCKERD_CONFIG (log: $DOCKERD_LOG)"
}

guard_off() {
  require_root
  if dockerd_pid >/dev/null; then
    set_authz_plugins ""
    # The reload is asynchronous: done when a docker call no longer reaches the guard (or,
    # with the guard dead or hung, when dockerd answers at all).
    local i before after
    for i in $(seq 1 40); do
      if guard_answers; then
        before=$(guard_requests)
        docker_answers || true
        after=$(guard_requests)
        [ -n "$before" ] && [ "$before" = "$after" ] && docker_answers && break
      else
        docker_answers && break
      fi
      sleep 0.5
    done
    docker_answers || die "dockerd does not answer on $DOCKER_SOCK after the guard was removed (log: $DOCKERD_LOG)"
  else
    mkdir -p "$(dirname "$DOCKERD_CONFIG")"
    echo '{}' >"$DOCKERD_CONFIG"
  fi
  stop_guard
  log "guard off: dockerd on $DOCKER_SOCK no longer asks $GUARD_NAME"
}

status() {
  docker_answers && echo "dockerd: up ($DOCKER_SOCK)" || echo "dockerd: down"
  # Bounded: with a guard that is configured but gone, every docker call waits ~45 s.
  timeout 5 "${DOCKER[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1 && echo "$BASE_IMAGE: present" || echo "$BASE_IMAGE: missing (or dockerd not answering)"
  registry_answers && echo "registry: up (http://$REGISTRY_ADDR)" || echo "registry: down"
  [ -n "$(ls -A /sys/kernel/tracing 2>/dev/null)" ] && echo "tracefs: mounted" || echo "tracefs: not mounted"
  if grep -q authorization-plugins "$DOCKERD_CONFIG" 2>/dev/null; then
    guard_answers && echo "guard: on ($GUARD_NAME)" || echo "guard: configured but NOT answering ($GUARD_NAME): scripts/env.sh guard-off"
  else
    echo "guard: off"
  fi
}

setup() {
  require_root
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  install_packages
  mount_tracefs
  start_dockerd
  create_base_image
  start_registry
  build_probe
}

main() {
  case "${1:-}" in
    --status) status ;;
    guard-on) shift; guard_on "$@" ;;
    guard-off) guard_off ;;
    stop-dockerd) require_root; (guard_off) || log "could not switch the guard off first; stopping dockerd anyway"; stop_dockerd; stop_guard ;;
    '')
      setup
      log "ready: dockerd on $DOCKER_SOCK, $BASE_IMAGE, registry on $REGISTRY_ADDR"
      ;;
    *) die "unknown argument: $1 (see the usage at the top of scripts/env.sh)" ;;
  esac
}

main "$@"
