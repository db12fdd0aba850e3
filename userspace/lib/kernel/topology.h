/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where a block device sits: its PCI function and NUMA node, and the GPUs on
 * the same NUMA node, from sysfs.  Every function takes the sysfs root, so
 * tests can point it at a fake tree laid out like /sys.
 */
#ifndef RCACHE_TOPOLOGY_H
#define RCACHE_TOPOLOGY_H

#include <stdio.h>
#include <sys/types.h>

#define RC_TOPO_MAX_GPUS 16

struct rc_gpu {
	char pci_address[16];		/* 0000:3b:00.0 */
	char vendor[8];			/* nvidia | amd | intel */
	unsigned int class_code;	/* 0x030200 */
	int numa_node;			/* -1: unknown */
};

struct rc_topo {
	int numa_node;			/* -1: unknown */
	char pci_address[16];		/* the PCI function; "" when none */
	char pci_path[512];		/* from devices/, e.g. pci0000:00/0000:00:1c.0/0000:3d:00.0 */
	int nr_gpus;
	struct rc_gpu gpus[RC_TOPO_MAX_GPUS];
};

/* The sysfs root: $RCACHE_SYSFS_ROOT, or what rc_topo_set_root() set, or /sys. */
const char *rc_topo_root(void);
void rc_topo_set_root(const char *root);

/*
 * Fills @t for the block device @devt.  A device-mapper or other virtual
 * device (an LV) takes the topology of its first underlying device (slaves/).
 * Unknown parts stay -1 / "".  GPUs: PCI class 0x0300xx or 0x0302xx of
 * NVIDIA, AMD or Intel on the same NUMA node (on a machine without NUMA
 * information, where every node reads -1, all of them).
 */
void rc_topo_block(const char *root, dev_t devt, struct rc_topo *t);
/* Every GPU under ROOT/bus/pci/devices; returns how many (at most @max). */
int rc_topo_gpus(const char *root, struct rc_gpu *out, int max);
/* Adds numa_node, pci_address, pci_path and gpus[] to the JSON object @obj. */
struct json_object;
void rc_topo_json(struct json_object *obj, const struct rc_topo *t);

#endif
