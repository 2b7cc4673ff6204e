#!/usr/bin/env bash
# Brings a Debian bookworm machine (as root) to the state tracebuild needs, and leaves it
# alone where it already is: Debian packages, tracefs, dockerd without a bridge, the
# offline base image busybox:local, a registry on 127.0.0.1:5000 only, and the eBPF probe.
#
# Usage: scripts/env.sh            set everything up (idempotent)
#        scripts/env.sh --status   print what is up, change nothing
set -euo pipefail

STATE_DIR=${TRACEBUILD_STATE_DIR:-/var/lib/tracebuild}
LOG_DIR=${TRACEBUILD_LOG_DIR:-/var/log/tracebuild}
DOCKER_SOCK=/var/run/docker.sock
REGISTRY_ADDR=127.0.0.1:5000
BASE_IMAGE=busybox:local

# Debian packages and the command that proves each is there.
PACKAGES=(
  "docker.io:dockerd"
  "busybox-static:busybox"
  "docker-registry:docker-registry"
  "clang:clang"
  "llvm:llvm-strip"
  "libbpf-dev:/usr/include/bpf/libbpf.h"
  "libssl-dev:/usr/include/openssl/evp.h"
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

start_dockerd() {
  docker_answers && return 0
  log "starting dockerd (--bridge=none, no iptables)"
  # A stale pid file from a dockerd that is gone stops a new one from starting.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  # shellcheck disable=SC2086
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false ${TRACEBUILD_DOCKERD_ARGS:-} \
    >"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 120); do
    docker_answers && return 0
    sleep 0.5
  done
  tail -20 "$LOG_DIR/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_SOCK within 60 s (log: $LOG_DIR/dockerd.log)"
}

create_base_image() {
  if /usr/bin/docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
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
  tar -C "$rootfs" --numeric-owner -c . | /usr/bin/docker import \
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
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bash "$root/tracer/bpf/build.sh" >/dev/null \
    || die "building the eBPF probe failed (bash tracer/bpf/build.sh)"
}

status() {
  docker_answers && echo "dockerd: up ($DOCKER_SOCK)" || echo "dockerd: down"
  /usr/bin/docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && echo "$BASE_IMAGE: present" || echo "$BASE_IMAGE: missing"
  registry_answers && echo "registry: up (http://$REGISTRY_ADDR)" || echo "registry: down"
  [ -n "$(ls -A /sys/kernel/tracing 2>/dev/null)" ] && echo "tracefs: mounted" || echo "tracefs: not mounted"
}

main() {
  if [ "${1:-}" = --status ]; then status; return; fi
  require_root
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  install_packages
  mount_tracefs
  start_dockerd
  create_base_image
  start_registry
  build_probe
  log "ready: dockerd on $DOCKER_SOCK, $BASE_IMAGE, registry on $REGISTRY_ADDR"
}

main "$@"
