// SPDX-License-Identifier: GPL-2.0
/*
 * The cgroup programs: a new cgroup under a configured prefix, or under a traced one,
 * joins the traced set before any task can run in it (cgroup-mkdir); a traced cgroup that
 * is removed leaves it (cgroup-rmdir).
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h
 * and record.h.
 */

static __always_inline int prefix_match(struct scratch *s, __u32 off, __u32 len)
{
	for (__u32 p = 0; p < TB_MAX_PREFIXES; p++) {
		if (p >= cfg_nprefixes)
			break;
		__u32 plen = cfg_prefix_len[p];
		if (plen == 0 || plen > len || plen > TB_PREFIX_MAX)
			continue;
		int ok = 1;
		for (__u32 i = 0; i < TB_PREFIX_MAX; i++) {
			if (i >= plen)
				break;
			if (s->ev[(off + i) & EV_OFF_MASK] != cfg_prefix[p][i]) {
				ok = 0;
				break;
			}
		}
		if (ok)
			return 1;
	}
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0) /* only the unified hierarchy */
		return 0;
	__u32 gen = cfg_generation;
	if (gen == 0)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u64 parent_id = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	struct tb_traced *pt = traced_lookup(parent_id);

	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_cgroup_event *e = (void *)s->ev;
	__u32 flags = 0;
	__u32 off = sizeof(*e);
	__u32 len = put_kstr(s, off, path, &flags, TB_CG_PATH_TRUNC);
	if (pt)
		flags |= TB_CG_INHERITED;
	else if (prefix_match(s, off, len))
		flags |= TB_CG_AUTO;
	else
		goto out;

	struct tb_traced v = { .generation = pt ? pt->generation : gen, .flags = flags };
	if (bpf_map_update_elem(&traced, &id, &v, BPF_ANY)) {
		flags |= TB_CG_MAP_FULL;
		count_loss(TB_LOSS_TRACED_FULL);
	}
	fill_header(&e->hdr, TB_EV_CGROUP_MKDIR, bpf_get_current_cgroup_id());
	e->id = id;
	e->level = BPF_CORE_READ(cgrp, level);
	e->generation = v.generation;
	e->flags = flags;
	e->path_len = len;
	e->_pad = 0;
	output(s, off + len, TB_EV_CGROUP_MKDIR);
out:
	scratch_put(s);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(on_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	struct tb_traced *t = traced_lookup(id);
	if (!t)
		return 0;
	__u32 gen = t->generation;
	bpf_map_delete_elem(&traced, &id);
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_cgroup_event *e = (void *)s->ev;
	__u32 flags = 0;
	__u32 off = sizeof(*e);
	__u32 len = put_kstr(s, off, path, &flags, TB_CG_PATH_TRUNC);
	fill_header(&e->hdr, TB_EV_CGROUP_RMDIR, bpf_get_current_cgroup_id());
	e->id = id;
	e->level = BPF_CORE_READ(cgrp, level);
	e->generation = gen;
	e->flags = flags;
	e->path_len = len;
	e->_pad = 0;
	output(s, off + len, TB_EV_CGROUP_RMDIR);
	scratch_put(s);
	return 0;
}
