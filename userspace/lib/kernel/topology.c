// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/topology.h"
#include "common/json.h"

static const char *topo_root_override;

void rc_topo_set_root(const char *root)
{
	topo_root_override = root && *root ? root : NULL;
}

const char *rc_topo_root(void)
{
	const char *env = getenv("RCACHE_SYSFS_ROOT");

	if (topo_root_override)
		return topo_root_override;
	return env && *env ? env : "/sys";
}

/* First line of a small sysfs file; -1 when absent. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static long read_long(const char *path, long dflt, int base)
{
	char buf[64], *end;
	long v;

	if (read_line(path, buf, sizeof(buf)))
		return dflt;
	v = strtol(buf, &end, base);
	return end == buf ? dflt : v;
}

/* dddd:bb:dd.f */
static bool is_pci_address(const char *s)
{
	static const char pat[] = "xxxx:xx:xx.x";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != pat[i])
			return false;
	}
	return true;
}

static const char *gpu_vendor(long vendor)
{
	switch (vendor) {
	case 0x10de:
		return "nvidia";
	case 0x1002:
		return "amd";
	case 0x8086:
		return "intel";
	}
	return NULL;
}

static int cmp_gpu(const void *a, const void *b)
{
	return strcmp(((const struct rc_gpu *)a)->pci_address,
		      ((const struct rc_gpu *)b)->pci_address);
}

int rc_topo_gpus(const char *root, struct rc_gpu *out, int max)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", root);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		const char *vendor;
		long cls, ven;

		if (!is_pci_address(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/class", dir, e->d_name);
		cls = read_long(path, -1, 16);
		/* 0x0300xx VGA controller, 0x0302xx 3D controller */
		if (cls < 0 || ((cls >> 8) != 0x0300 && (cls >> 8) != 0x0302))
			continue;
		snprintf(path, sizeof(path), "%s/%s/vendor", dir, e->d_name);
		ven = read_long(path, -1, 16);
		vendor = gpu_vendor(ven);
		if (!vendor)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].pci_address, sizeof(out[n].pci_address), "%s", e->d_name);
		snprintf(out[n].vendor, sizeof(out[n].vendor), "%s", vendor);
		out[n].class_code = (unsigned int)cls;
		snprintf(path, sizeof(path), "%s/%s/numa_node", dir, e->d_name);
		out[n].numa_node = (int)read_long(path, -1, 10);
		if (out[n].numa_node < 0)
			out[n].numa_node = -1;
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), cmp_gpu);
	return n;
}

/* The PCI function above the sysfs device directory @real (a resolved path). */
static void find_pci(const char *root_real, const char *real, struct rc_topo *t)
{
	char path[PATH_MAX], *slash, *rel;
	size_t rlen = strlen(root_real);

	snprintf(path, sizeof(path), "%s", real);
	/* walk up: the nearest ancestor named like a PCI function */
	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > rlen) {
		if (is_pci_address(slash + 1)) {
			char numa[PATH_MAX + 16];

			snprintf(t->pci_address, sizeof(t->pci_address), "%s", slash + 1);
			rel = path + rlen;
			if (!strncmp(rel, "/devices/", 9))
				rel += 9;
			else if (*rel == '/')
				rel++;
			snprintf(t->pci_path, sizeof(t->pci_path), "%s", rel);
			snprintf(numa, sizeof(numa), "%s/numa_node", path);
			t->numa_node = (int)read_long(numa, -1, 10);
			if (t->numa_node < 0)
				t->numa_node = -1;
			return;
		}
		*slash = '\0';
	}
}

static void topo_dev(const char *root, const char *root_real, dev_t devt,
		     struct rc_topo *t, int depth)
{
	char link[PATH_MAX], real[PATH_MAX], slaves[PATH_MAX + 16];
	struct dirent *e;
	DIR *d;

	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", root, major(devt), minor(devt));
	if (!realpath(link, real))
		return;
	find_pci(root_real, real, t);
	if (t->pci_address[0] || depth > 4)
		return;
	/* a dm device (an LV, a dm-linear...): where its first slave sits */
	snprintf(slaves, sizeof(slaves), "%s/slaves", real);
	d = opendir(slaves);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char dev[PATH_MAX + 300], buf[32];
		unsigned int ma, mi;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), "%s/%s/dev", slaves, e->d_name);
		if (read_line(dev, buf, sizeof(buf)) || sscanf(buf, "%u:%u", &ma, &mi) != 2)
			continue;
		topo_dev(root, root_real, makedev(ma, mi), t, depth + 1);
		break;
	}
	closedir(d);
}

void rc_topo_block(const char *root, dev_t devt, struct rc_topo *t)
{
	struct rc_gpu all[RC_TOPO_MAX_GPUS * 4];
	char root_real[PATH_MAX];
	int i, n;

	memset(t, 0, sizeof(*t));
	t->numa_node = -1;
	if (!realpath(root, root_real))
		return;
	topo_dev(root, root_real, devt, t, 0);
	n = rc_topo_gpus(root, all, (int)(sizeof(all) / sizeof(all[0])));
	for (i = 0; i < n && t->nr_gpus < RC_TOPO_MAX_GPUS; i++)
		if (all[i].numa_node == t->numa_node)
			t->gpus[t->nr_gpus++] = all[i];
}

void rc_topo_json(struct json_object *obj, const struct rc_topo *t)
{
	struct json_object *gpus = json_object_new_array();
	char class_code[16];
	int i;

	json_object_object_add(obj, "numa_node", json_object_new_int(t->numa_node));
	json_object_object_add(obj, "pci_address", rc_json_string(t->pci_address));
	json_object_object_add(obj, "pci_path", rc_json_string(t->pci_path));
	for (i = 0; gpus && i < t->nr_gpus; i++) {
		struct json_object *g = json_object_new_object();

		if (!g)
			break;
		snprintf(class_code, sizeof(class_code), "0x%06x", t->gpus[i].class_code);
		json_object_object_add(g, "pci_address", rc_json_string(t->gpus[i].pci_address));
		json_object_object_add(g, "vendor", rc_json_string(t->gpus[i].vendor));
		json_object_object_add(g, "class", json_object_new_string(class_code));
		json_object_object_add(g, "numa_node", json_object_new_int(t->gpus[i].numa_node));
		json_object_array_add(gpus, g);
	}
	json_object_object_add(obj, "gpus", gpus);
}
