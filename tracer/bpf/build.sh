#!/usr/bin/env bash
# Builds the tracebuild probe (tracer/bpf/.output/tracebuild-probe). Idempotent: make
# rebuilds only what changed. Tools come from Debian: clang llvm libbpf-dev bpftool make
# (scripts/env.sh installs them).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v bpftool >/dev/null 2>&1 || missing+=(bpftool)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v cc >/dev/null 2>&1 || missing+=("cc (gcc)")
[ -e /usr/include/bpf/libbpf.h ] || missing+=(libbpf-dev)
[ -e /usr/include/openssl/evp.h ] || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-probe: missing: ${missing[*]} (run scripts/env.sh as root to install them)" >&2
  exit 1
fi
if [ ! -e .output/vmlinux.h ] && [ ! -r "${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}" ]; then
  echo "build-probe: ${VMLINUX_BTF:-/sys/kernel/btf/vmlinux} is not readable: the kernel needs CONFIG_DEBUG_INFO_BTF=y" >&2
  exit 1
fi
make -s all
echo "$(pwd)/.output/tracebuild-probe"
