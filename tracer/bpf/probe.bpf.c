// SPDX-License-Identifier: GPL-2.0
/*
 * tracebuild probe (CO-RE). Emits events (see events.h) for tasks whose cgroup v2 id is
 * in the traced set. The traced set is filled by the kernel itself: a new cgroup whose
 * path starts with a configured prefix (e.g. /docker/buildkit/) or whose parent is
 * traced is added at cgroup_mkdir, before any task can run in it. Everything else pays
 * one hash lookup on its hooks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* One job a part, in this order (each uses those before it): */
#include "probe/maps.h"     /* constants, configuration, maps */
#include "probe/record.h"   /* the scratch area, a record's header, strings, output */
#include "probe/path.h"     /* an fd's file, a file's identity, the path walk */
#include "probe/cgroup.h"   /* on_cgroup_mkdir, on_cgroup_rmdir */
#include "probe/process.h"  /* on_exec, on_fork, on_exit */
#include "probe/syscall.h"  /* sys_exit: the reported syscalls, their arguments */
#include "probe/file.h"     /* file syscalls: file_event */
#include "probe/net.h"      /* network syscalls: net_event */
#include "probe/sys_exit.h" /* on_sys_exit */
#include "probe/enforce.h"  /* egress enforcement: cgroup sock_addr programs */
