// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the Kubernetes parts of librcache: topology from fake sysfs
 * trees, the Prometheus and node-feature-discovery output, [device NAME]
 * sections, and the device plugin's model (report, IDs, preferences).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon/declare.h"
#include "k8s/dpmodel.h"
#include "common/ini.h"
#include "common/json.h"
#include "daemon/metrics.h"
#include "kernel/status.h"
#include "kernel/topology.h"
#include "unit.h"

static char root[256];

/* ROOT/REL with @text in it, its directories created */
static void put(const char *rel, const char *text)
{
	char path[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		CHECK(!"cannot write to the fake sysfs");
		return;
	}
	fputs(text, f);
	fclose(f);
}

/* ROOT/REL, a symlink to @target (relative to REL's directory) */
static void link_to(const char *rel, const char *target)
{
	char path[1024], dir[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	CHECK(symlink(target, path) == 0);
}

#define NVME "devices/pci0000:00/0000:00:1c.0/0000:3d:00.0"
#define GPU_N1 "devices/pci0000:00/0000:00:03.0/0000:3b:00.0"
#define GPU_N0 "devices/pci0000:00/0000:00:02.0/0000:1a:00.0"
#define GPU_AMD "devices/pci0000:00/0000:00:04.0/0000:5e:00.0"
#define NIC "devices/pci0000:00/0000:00:05.0/0000:af:00.0"

static void pci_fn(const char *dir, const char *cls, const char *vendor, const char *numa)
{
	char rel[512], target[512];

	snprintf(rel, sizeof(rel), "%s/class", dir);
	put(rel, cls);
	snprintf(rel, sizeof(rel), "%s/vendor", dir);
	put(rel, vendor);
	snprintf(rel, sizeof(rel), "%s/numa_node", dir);
	put(rel, numa);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", strrchr(dir, '/') + 1);
	snprintf(target, sizeof(target), "../../../%s", dir);
	link_to(rel, target);
}

/*
 * A two-socket GPU node: an NVMe drive (259:0) on NUMA node 1, an NVIDIA
 * and an AMD GPU on node 1, an NVIDIA GPU on node 0, a NIC (not a GPU), an
 * LV (253:0) over the NVMe namespace, and a virtual device (7:0).
 */
static void make_tree(const char *numa_nvme)
{
	snprintf(root, sizeof(root), "/tmp/rcache-unit-sysfs-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	pci_fn(NVME, "0x010802\n", "0x144d\n", numa_nvme);
	put(NVME "/nvme/nvme0/nvme0n1/dev", "259:0\n");
	link_to("dev/block/259:0", "../../" NVME "/nvme/nvme0/nvme0n1");
	pci_fn(GPU_N1, "0x030200\n", "0x10de\n", "1\n");
	pci_fn(GPU_N0, "0x030200\n", "0x10de\n", "0\n");
	pci_fn(GPU_AMD, "0x030000\n", "0x1002\n", "1\n");
	pci_fn(NIC, "0x020000\n", "0x15b3\n", "1\n");
	put("devices/virtual/block/dm-0/dev", "253:0\n");
	link_to("devices/virtual/block/dm-0/slaves/nvme0n1",
		"../../../../../" NVME "/nvme/nvme0/nvme0n1");
	link_to("dev/block/253:0", "../../devices/virtual/block/dm-0");
	put("devices/virtual/block/loop0/dev", "7:0\n");
	link_to("dev/block/7:0", "../../devices/virtual/block/loop0");
}

static void drop_tree(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

/* The NVMe drive's place in the tree, seen through block device @devt. */
static void check_nvme_topo(dev_t devt)
{
	struct rc_topo t;

	make_tree("1\n");
	rc_topo_block(root, devt, &t);
	CHECK(t.numa_node == 1);
	CHECK_STR(t.pci_address, "0000:3d:00.0");
	CHECK_STR(t.pci_path, "pci0000:00/0000:00:1c.0/0000:3d:00.0");
	/* the GPUs of node 1, in PCI order; not the NIC, not node 0's GPU */
	CHECK(t.nr_gpus == 2);
	CHECK_STR(t.gpus[0].pci_address, "0000:3b:00.0");
	CHECK_STR(t.gpus[0].vendor, "nvidia");
	CHECK(t.gpus[0].class_code == 0x030200);
	CHECK_STR(t.gpus[1].pci_address, "0000:5e:00.0");
	CHECK_STR(t.gpus[1].vendor, "amd");
	drop_tree();
}

static void topo_nvme_and_gpus(void)
{
	check_nvme_topo(makedev(259, 0));
}

/* an LV (dm device) takes the topology of the disk under it */
static void topo_lv_takes_its_slave(void)
{
	check_nvme_topo(makedev(253, 0));
}

static void topo_unknown(void)
{
	struct rc_topo t;
	struct rc_gpu g[8];

	make_tree("1\n");
	/* a virtual device: no PCI function, no NUMA node, no GPUs named */
	rc_topo_block(root, makedev(7, 0), &t);
	CHECK(t.numa_node == -1);
	CHECK_STR(t.pci_address, "");
	CHECK(t.nr_gpus == 0);
	/* a device sysfs does not know */
	rc_topo_block(root, makedev(8, 16), &t);
	CHECK(t.numa_node == -1 && t.nr_gpus == 0);
	CHECK(rc_topo_gpus(root, g, 8) == 3);
	CHECK(rc_topo_gpus(root, g, 2) == 2);
	drop_tree();
	/* no sysfs at all */
	rc_topo_block("/nonexistent", makedev(259, 0), &t);
	CHECK(t.numa_node == -1 && t.nr_gpus == 0);
}

static void topo_no_numa_machine(void)
{
	struct rc_topo t;

	/* a machine without NUMA information: every node reads -1 */
	make_tree("-1\n");
	put(GPU_N1 "/numa_node", "-1\n");
	put(GPU_N0 "/numa_node", "-1\n");
	put(GPU_AMD "/numa_node", "-1\n");
	rc_topo_block(root, makedev(259, 0), &t);
	CHECK(t.numa_node == -1);
	CHECK_STR(t.pci_address, "0000:3d:00.0");
	CHECK(t.nr_gpus == 3);
	drop_tree();
}

static char *print_json(const struct rc_topo *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_object *j = json_object_new_object();

	rc_topo_json(j, t);
	rc_json_print(f, j);
	json_object_put(j);
	fclose(f);
	return buf;
}

static void topo_json(void)
{
	struct rc_topo t;
	char *s;

	make_tree("1\n");
	rc_topo_block(root, makedev(259, 0), &t);
	s = print_json(&t);
	CHECK_STR(s, "{\"numa_node\":1,\"pci_address\":\"0000:3d:00.0\","
		  "\"pci_path\":\"pci0000:00/0000:00:1c.0/0000:3d:00.0\",\"gpus\":["
		  "{\"pci_address\":\"0000:3b:00.0\",\"vendor\":\"nvidia\",\"class\":\"0x030200\",\"numa_node\":1},"
		  "{\"pci_address\":\"0000:5e:00.0\",\"vendor\":\"amd\",\"class\":\"0x030000\",\"numa_node\":1}]}");
	free(s);
	drop_tree();
}

/* ------------------------------------------------------------------ */

static void fake_status(struct rc_status *st, const char *name, uint64_t cached, uint64_t total)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->table.origin, sizeof(st->table.origin), "s3://bkt/a\"b\\c");
	snprintf(st->cache_path, sizeof(st->cache_path), "/dev/nvme0n1");
	snprintf(st->daemon, sizeof(st->daemon), "connected");
	snprintf(st->mode, sizeof(st->mode), "ready");
	st->block_size = 1 << 20;
	st->cached_blocks = cached;
	st->total_blocks = total;
	st->read_hits = 640;
	st->read_misses = 40;
	st->hit_bytes = 640ULL << 20;
	st->miss_bytes = 40ULL << 20;
	st->fetch_errors = 2;
	st->prefetch_used = 7;
	st->prefetch_wasted = 3;
	st->topo.numa_node = 1;
	snprintf(st->topo.pci_address, sizeof(st->topo.pci_address), "0000:3d:00.0");
}

static char *metrics_text(const struct rc_snapshot *s, const struct rc_metrics *m,
			  const struct rc_decl_results *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rc_metrics_write(f, s, m, d);
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	fprintf(stderr, "  no line '%s'\n", line);
	return false;
}

/* Every line a comment (HELP then TYPE) or a sample of the metric last typed. */
static bool well_formed(const char *text)
{
	char typed[128] = "", *copy = strdup(text), *line, *save;
	bool ok = true;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		double v;

		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", typed);
			continue;
		}
		if (sscanf(line, "%127[a-z_]", name) != 1 || strncmp(name, typed, strlen(typed)) ||
		    !strchr(line, ' ') || sscanf(strrchr(line, ' ') + 1, "%lf", &v) != 1) {
			fprintf(stderr, "  bad line '%s' (after TYPE %s)\n", line, typed);
			ok = false;
		}
	}
	free(copy);
	return ok;
}

static void metrics_counters(void)
{
	struct rc_status st[2];
	struct rc_snapshot s = { st, 2 };
	char *t;

	fake_status(&st[0], "ds", 30, 40);
	fake_status(&st[1], "other", 0, 10);
	snprintf(st[1].mode, sizeof(st[1].mode), "stale");
	t = metrics_text(&s, NULL, NULL);
	CHECK(well_formed(t));
	CHECK(has_line(t, "# TYPE rcache_read_hits_total counter"));
	CHECK(has_line(t, "rcache_read_hits_total{device=\"ds\"} 640"));
	CHECK(has_line(t, "rcache_read_misses_total{device=\"ds\"} 40"));
	CHECK(has_line(t, "rcache_read_hit_bytes_total{device=\"ds\"} 671088640"));
	CHECK(has_line(t, "rcache_read_miss_bytes_total{device=\"ds\"} 41943040"));
	CHECK(has_line(t, "rcache_fetch_errors_total{device=\"ds\"} 2"));
	CHECK(has_line(t, "rcache_prefetch_used_blocks_total{device=\"ds\"} 7"));
	CHECK(has_line(t, "rcache_prefetch_wasted_blocks_total{device=\"ds\"} 3"));
	CHECK(has_line(t, "rcache_block_size_bytes{device=\"ds\"} 1048576"));
	CHECK(has_line(t, "rcache_cached_percent{device=\"ds\"} 75.0000"));
	CHECK(has_line(t, "rcache_hit_ratio{device=\"ds\"} 0.941176"));
	CHECK(has_line(t, "rcache_device_healthy{device=\"ds\"} 1"));
	CHECK(has_line(t, "rcache_device_healthy{device=\"other\"} 0"));
	/* label values escaped */
	CHECK(strstr(t, "origin=\"s3://bkt/a\\\"b\\\\c\"") != NULL);
	CHECK(strstr(t, "numa_node=\"1\",pci_address=\"0000:3d:00.0\"") != NULL);
	free(t);
}

static void metrics_histogram(void)
{
	struct rc_snapshot s = { NULL, 0 };
	struct rc_metrics m = { NULL };
	struct rc_decl_results d;
	struct rc_decl_result r[2] = { { "ds", RC_DECL_CREATED, "" },
				       { "bad", RC_DECL_FAILED, "why" } };
	char *t;

	rc_metrics_observe(&m, "ds", 300000, 0);	/* 0.3 ms */
	rc_metrics_observe(&m, "ds", 3000000, 0);	/* 3 ms */
	rc_metrics_observe(&m, "ds", 3000000, 0);
	rc_metrics_observe(&m, "ds", 60ULL * 1000000000, 0);	/* past the last bucket */
	rc_metrics_observe(&m, "ds", 1000, -5);		/* an error: not timed */
	rc_metrics_observe(&m, NULL, 1000, 0);		/* no device: ignored */
	d.v = r;
	d.n = 2;
	t = metrics_text(&s, &m, &d);
	CHECK(well_formed(t));
	CHECK(has_line(t, "# TYPE rcache_fetch_duration_seconds histogram"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_bucket{device=\"ds\",le=\"0.0005\"} 1"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_bucket{device=\"ds\",le=\"0.0025\"} 1"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_bucket{device=\"ds\",le=\"0.005\"} 3"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_bucket{device=\"ds\",le=\"30\"} 3"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_bucket{device=\"ds\",le=\"+Inf\"} 4"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_count{device=\"ds\"} 4"));
	CHECK(has_line(t, "rcache_fetch_duration_seconds_sum{device=\"ds\"} 60.006300000"));
	CHECK(has_line(t, "rcache_daemon_fill_errors_total{device=\"ds\"} 1"));
	CHECK(has_line(t, "rcache_declared_device{device=\"bad\",state=\"failed\"} 1"));
	CHECK(has_line(t, "rcache_declared_device{device=\"ds\",state=\"created\"} 1"));
	free(t);
	rc_metrics_free(&m);
	CHECK(m.hists == NULL);
}

static void nfd_labels(void)
{
	struct rc_status st[4];
	struct rc_snapshot s = { st, 4 };
	char *buf = NULL, longname[80];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fake_status(&st[0], "cold", 10, 40);
	fake_status(&st[1], "warm", 40, 40);
	fake_status(&st[2], "gone", 40, 40);
	snprintf(st[2].daemon, sizeof(st[2].daemon), "absent");
	memset(longname, 'x', 60);
	longname[60] = '\0';
	fake_status(&st[3], longname, 40, 40);
	rc_nfd_write(f, &s, 99, NULL);
	fclose(f);
	CHECK(has_line(buf, "rcache.io/dataset.cold=ready"));
	CHECK(has_line(buf, "rcache.io/dataset.warm=warm"));
	CHECK(strstr(buf, "gone") == NULL);	/* unhealthy: no label */
	CHECK(strstr(buf, "xxxxxxxxxx") == NULL);	/* would be a label over 63 */
	free(buf);
}

/* rcached made @st from a [device] section */
static void owned(struct rc_status *st)
{
	rc_decl_uuid(st->name, st->uuid, sizeof(st->uuid));
}

static char *nfd_text(struct rc_status *st, int n, const struct rc_decls *ds)
{
	struct rc_snapshot s = { st, n };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rc_nfd_write(f, &s, 99, ds);
	fclose(f);
	return buf;
}

/* copies of one dataset (resource = img): one label, warm only when each is */
static void nfd_labels_per_resource(void)
{
	struct rc_decl d[3] = { { .name = "img-n0", .resource = "img" },
				{ .name = "img-n1", .resource = "img" },
				{ .name = "solo" } };
	struct rc_decls ds = { d, 3 };
	struct rc_status st[4];
	char *t;

	fake_status(&st[0], "img-n0", 40, 40);
	fake_status(&st[1], "img-n1", 10, 40);
	fake_status(&st[2], "solo", 40, 40);
	fake_status(&st[3], "img-hand", 40, 40);	/* not made by rcached: its own */
	owned(&st[0]);
	owned(&st[1]);
	owned(&st[2]);
	t = nfd_text(st, 4, &ds);
	CHECK(has_line(t, "rcache.io/dataset.img=ready"));
	CHECK(has_line(t, "rcache.io/dataset.solo=warm"));
	CHECK(has_line(t, "rcache.io/dataset.img-hand=warm"));
	CHECK(strstr(t, "img-n0") == NULL && strstr(t, "img-n1") == NULL);
	free(t);
	/* the cold copy unhealthy: pods get the warm one */
	snprintf(st[1].mode, sizeof(st[1].mode), "failed");
	t = nfd_text(st, 3, &ds);
	CHECK(has_line(t, "rcache.io/dataset.img=warm"));
	free(t);
	/* both unhealthy: no label */
	snprintf(st[0].daemon, sizeof(st[0].daemon), "absent");
	t = nfd_text(st, 3, &ds);
	CHECK(strstr(t, "dataset.img=") == NULL);
	free(t);
	/* a device of that name rcached did not make keeps its own label */
	fake_status(&st[0], "img-n0", 40, 40);
	t = nfd_text(st, 1, &ds);
	CHECK(has_line(t, "rcache.io/dataset.img-n0=warm"));
	free(t);
}

/* ------------------------------------------------------------------ */

static int load_ini(struct rc_ini *ini, const char *text)
{
	char path[] = "/tmp/rcache-unit-ini-XXXXXX";
	struct rc_err e;
	int fd = mkstemp(path), r;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	r = rc_ini_load(ini, path, &e);
	unlink(path);
	return r;
}

static void declare_sections(void)
{
	struct rc_ini ini;
	struct rc_decls ds;
	struct rc_err e;
	const struct rc_decl *d;
	char uuid[256];

	CHECK(load_ini(&ini,
		       "[daemon]\nmax_fills = 64\n\n"
		       "[device imagenet]\norigin = s3://datasets/imagenet.ext4\n"
		       "cache = /dev/nvme1n1\nblock_size = 4M\ndaemon_timeout = 60\n"
		       "fail_fast = yes\ncommit_interval = 500\nreplicas = 16\n\n"
		       "[device nocache]\norigin = file:///x\n\n"
		       "[device typo]\norigin = file:///x\ncache = /dev/vdb\ncahce = 1\n\n"
		       "[device bad name]\norigin = file:///x\ncache = /dev/vdb\n\n"
		       "[device badval]\norigin = file:///x\ncache = /dev/vdb\nreplicas = 0\n\n"
		       "[device relcache]\norigin = file:///x\ncache = vdb\n\n"
		       "[device imagenet-n1]\norigin = s3://datasets/imagenet.ext4\n"
		       "cache = /dev/nvme2n1\nresource = imagenet\n\n"
		       "[device other-n1]\norigin = s3://datasets/other.ext4\n"
		       "cache = /dev/nvme3n1\nresource = imagenet\n\n"
		       "[device badres]\norigin = file:///x\ncache = /dev/vdb\nresource = -x\n") == 0);
	CHECK(rc_decl_parse(&ini, &ds, &e) == 0);
	CHECK(ds.n == 9);
	d = rc_decl_find(&ds, "imagenet");
	CHECK(d && !d->error[0]);
	if (d) {
		CHECK_STR(d->origin, "s3://datasets/imagenet.ext4");
		CHECK_STR(d->cache, "/dev/nvme1n1");
		CHECK(d->block_size == 4 << 20 && d->daemon_timeout == 60 && d->fail_fast);
		CHECK(d->commit_ms == 500 && d->replicas == 16);
	}
	d = rc_decl_find(&ds, "nocache");
	CHECK(d && strstr(d->error, "needs origin and cache"));
	d = rc_decl_find(&ds, "typo");
	CHECK(d && strstr(d->error, "unknown setting 'cahce'"));
	d = rc_decl_find(&ds, "bad name");
	CHECK(d && strstr(d->error, "invalid device name"));
	d = rc_decl_find(&ds, "badval");
	CHECK(d && strstr(d->error, "replicas = 0: invalid value"));
	d = rc_decl_find(&ds, "relcache");
	CHECK(d && strstr(d->error, "cache = vdb"));
	/* resource: a second copy of imagenet; another dataset cannot join it */
	d = rc_decl_find(&ds, "imagenet");
	CHECK(d && !strcmp(rc_decl_resource(d), "imagenet"));
	d = rc_decl_find(&ds, "imagenet-n1");
	CHECK(d && !d->error[0] && !strcmp(rc_decl_resource(d), "imagenet"));
	d = rc_decl_find(&ds, "other-n1");
	CHECK(d && strstr(d->error, "resource imagenet: its origin differs from that of [device imagenet]"));
	d = rc_decl_find(&ds, "badres");
	CHECK(d && strstr(d->error, "resource = -x: invalid value"));
	rc_decls_free(&ds);
	rc_ini_free(&ini);

	rc_decl_uuid("imagenet", uuid, sizeof(uuid));
	CHECK(rc_decl_owned("imagenet", uuid));
	CHECK(!rc_decl_owned("imagenet", "RCACHE-imagenet"));
	CHECK(!rc_decl_owned("other", uuid));
}

/* ------------------------------------------------------------------ */

static void dp_report(void)
{
	struct dp_report r;
	struct rc_err e;

	CHECK(dp_report_parse("{\"version\":1,\"alive\":true,\"updated\":1000.5,\"pid\":7,"
			      "\"devices\":[{\"name\":\"a\",\"health\":\"healthy\",\"numa_node\":1,"
			      "\"gpus\":[{},{}],\"replicas\":4,\"resource\":\"ds\","
			      "\"origin\":\"s3://b/k\",\"owned\":true},"
			      "{\"name\":\"b\",\"device\":\"/dev/mapper/b\",\"health\":\"unhealthy\","
			      "\"health_reason\":\"mode stale\",\"numa_node\":-1},{\"noname\":1}]}",
			      &r, &e) == 0);
	CHECK(r.alive && r.pid == 7 && r.n == 2);
	if (r.n == 2) {
		CHECK_STR(r.v[0].name, "a");
		CHECK_STR(r.v[0].host_path, "/dev/mapper/a");
		CHECK(r.v[0].healthy && r.v[0].numa_node == 1 && r.v[0].nr_gpus == 2);
		CHECK(r.v[0].replicas == 4);
		CHECK_STR(r.v[0].resource, "ds");
		CHECK_STR(r.v[1].resource, "b");	/* none given: its name */
		CHECK_STR(r.v[0].origin, "s3://b/k");
		CHECK(r.v[0].owned && !r.v[1].owned);
		CHECK(!r.v[1].healthy && r.v[1].numa_node == -1);
		CHECK_STR(r.v[1].why, "mode stale");
	}
	CHECK(dp_report_fresh(&r, 1005, 10));
	CHECK(!dp_report_fresh(&r, 1011, 10));
	dp_report_free(&r);
	CHECK(dp_report_parse("{\"version\":1,\"alive\":false,\"updated\":1000,\"devices\":[]}",
			      &r, &e) == 0);
	CHECK(!dp_report_fresh(&r, 1000, 10));
	dp_report_free(&r);
	CHECK(dp_report_parse("{\"version\":2}", &r, &e) < 0);
	CHECK(dp_report_parse("not json", &r, &e) < 0);
}

/* devices.json with hostile content: @body after the header, loaded from a file */
static int load_report(const char *body, size_t len, struct dp_report *r, struct rc_err *e)
{
	char path[300];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/devices.json", root);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return -1;
	fprintf(f, "{\"version\":1,\"alive\":true,\"updated\":1000.5,\"pid\":7,");
	fwrite(body, 1, len, f);
	fclose(f);
	memset(e, 0, sizeof(*e));
	rc = dp_report_load(path, r, e);
	unlink(path);
	return rc;
}

/* loading @body fails with "ROOT/devices.json: @want" on one line, and leaves no devices */
static void report_fails(const char *body, size_t len, const char *want)
{
	struct dp_report r;
	struct rc_err e;
	char full[1200];

	CHECK(load_report(body, len, &r, &e) < 0);
	CHECK(r.n == 0 && r.v == NULL);
	snprintf(full, sizeof(full), "%s/devices.json: %s", root, want);
	if (strcmp(e.msg, full)) {
		fprintf(stderr, "  got  '%s'\n  want '%s'\n", e.msg, full);
		CHECK(!"the error names the file and what is wrong");
	}
	dp_report_free(&r);
}

#define BODY(s) s, sizeof(s) - 1

static void dp_report_hostile(void)
{
	struct dp_report r;
	struct rc_err e;
	char deep[400];
	int i;

	snprintf(root, sizeof(root), "/tmp/rcache-k8s-test.XXXXXX");
	CHECK(mkdtemp(root) != NULL);

	/* counters the plugin does not use may be any 64-bit value */
	CHECK(load_report(BODY("\"devices\":[{\"name\":\"a\",\"read_hits\":9223372036854775808,"
			       "\"read_misses\":18446744073709551615,\"health\":\"healthy\"}]}"),
			  &r, &e) == 0);
	CHECK(r.n == 1 && r.v[0].healthy);
	dp_report_free(&r);
	/* a duplicate key: the last one wins; strings come back byte for byte */
	CHECK(load_report(BODY("\"devices\":[{\"name\":\"x\",\"name\":\"b\","
			       "\"origin\":\"s3://k/\\u65e5\u00e9\\t\\u0001\\\"\\/x\"}]}"),
			  &r, &e) == 0);
	CHECK(r.n == 1);
	if (r.n == 1) {
		CHECK_STR(r.v[0].name, "b");
		CHECK_STR(r.v[0].origin, "s3://k/\xe6\x97\xa5\xc3\xa9\t\x01\"/x");
	}
	dp_report_free(&r);

	report_fails(BODY("\"devices\":[{\"name\":\"a\",\"replicas\":9223372036854775808}]}"),
		     "devices[0]: device a: replicas: 9223372036854775808 is out of range (0 to 1024)");
	report_fails(BODY("\"devices\":[{\"name\":\"a\",\"numa_node\":1e300}]}"),
		     "devices[0]: device a: numa_node: expected an integer, got double");
	report_fails(BODY("\"devices\":[{\"name\":\"a\"},{\"name\":\"b\",\"gpus\":2}]}"),
		     "devices[1]: device b: gpus: expected an array, got int");
	report_fails(BODY("\"devices\":[{\"name\":\"a\",\"origin\":\"s3://\xc0\xaf\"}]}"),
		     "devices[0]: device a: origin: not UTF-8 at byte 5 of the string");
	report_fails(BODY("\"devices\":[{\"name\":\"a\xff\"}]}"),
		     "JSON: invalid utf-8 string at byte 72");
	report_fails(BODY("\"devices\":[{\"name\":\"a\\u0000b\"}]}"),
		     "devices[0]: name: NUL character at byte 1 of the string");
	report_fails(BODY("\"devices\":[{\"name\":\"a\"}]}\0garbage"),
		     "JSON: NUL byte at byte 76");
	report_fails(BODY("\"devices\":[{\"name\":\"a\",\"health\":\"heal"),
		     "JSON: unexpected end of data at byte 88 (truncated?)");
	report_fails(BODY("\"updated\":Infinity}"), "updated: Infinity is not a finite number");
	report_fails(BODY("\"devices\":{}}"), "devices: expected an array, got object");
	report_fails(BODY("\"x\":1} trailing"), "JSON: unexpected character at byte 58");
	/* 200 arrays deep, in a member nobody reads */
	memcpy(deep, "\"d\":", 4);
	for (i = 4; i < 204; i++)
		deep[i] = '[';
	deep[i] = '\0';
	report_fails(deep, strlen(deep), "JSON: nesting too deep at byte 86");
	/* a second "version" replaces the header's: "1", a string, is no version 1 */
	CHECK(load_report(BODY("\"version\":\"1\"}"), &r, &e) < 0);
	CHECK(strstr(e.msg, "not an rcached report (version 1)") != NULL);
	rmdir(root);
}

static void dp_ids(void)
{
	char a[128], b[128], name[128];

	CHECK(dp_name_ok("imagenet-v3"));
	CHECK(dp_name_ok("a.b_c"));
	CHECK(!dp_name_ok("-x"));
	CHECK(!dp_name_ok("x."));
	CHECK(!dp_name_ok(""));
	CHECK(!dp_name_ok("a/b"));
	dp_device_id("imagenet", 3, a, sizeof(a));
	CHECK_STR(a, "imagenet-3");
	/* long names: at most 63, distinct for names sharing a prefix */
	memset(name, 'n', 70);
	name[70] = '\0';
	dp_device_id(name, 1023, a, sizeof(a));
	name[69] = 'm';
	dp_device_id(name, 1023, b, sizeof(b));
	CHECK(strlen(a) <= DP_MAX_ID && strlen(b) <= DP_MAX_ID);
	CHECK(strcmp(a, b) != 0);
	CHECK(!strcmp(a + strlen(a) - 5, "-1023"));
	name[58] = '\0';	/* 58 + "-7" fits as it is */
	dp_device_id(name, 7, a, sizeof(a));
	CHECK(strlen(a) == 60 && !strcmp(a + 58, "-7"));
	/* socket names: the whole path fits a unix socket address */
	dp_socket_name("/var/lib/kubelet/device-plugins", "imagenet", a, sizeof(a));
	CHECK_STR(a, "rcache-imagenet.sock");
	memset(name, 'n', 127);
	name[127] = '\0';
	dp_socket_name("/var/lib/kubelet/device-plugins", name, a, sizeof(a));
	CHECK(strlen("/var/lib/kubelet/device-plugins/") + strlen(a) == DP_MAX_SOCK_PATH);
	CHECK(!strncmp(a, "rcache-nnn", 10) && !strcmp(a + strlen(a) - 5, ".sock"));
	name[126] = 'm';
	dp_socket_name("/var/lib/kubelet/device-plugins", name, b, sizeof(b));
	CHECK(strcmp(a, b) != 0);
}

static long rank_by_last_digit(const char *id, const char *anchor, void *arg)
{
	(void)arg;
	(void)anchor;
	return -(long)(id[strlen(id) - 1] - '0');	/* higher index first */
}

/* "<letter>-<digit>": prefers the anchor's letter, then the lower digit */
static long rank_same_letter(const char *id, const char *anchor, void *arg)
{
	(void)arg;
	return (anchor && id[0] == anchor[0] ? 0 : 100) + (id[strlen(id) - 1] - '0');
}

static void dp_preferences(void)
{
	const char *avail[] = { "d-0", "d-1", "d-2", "d-3" }, *must[] = { "d-1" }, *out[4];
	size_t n;

	n = dp_preferred(avail, 4, must, 1, 3, rank_by_last_digit, NULL, out);
	CHECK(n == 3);
	if (n == 3) {
		CHECK_STR(out[0], "d-1");
		CHECK_STR(out[1], "d-3");
		CHECK_STR(out[2], "d-2");
	}
	/* more asked than there is */
	n = dp_preferred(avail, 4, NULL, 0, 9 > 4 ? 4 : 9, NULL, NULL, out);
	CHECK(n == 4);
	n = dp_preferred(avail, 2, NULL, 0, 0, NULL, NULL, out);
	CHECK(n == 0);
	/* the ranking sees what was chosen first, must-include or not */
	{
		const char *av[] = { "a-0", "b-1", "a-2", "b-3" }, *mb[] = { "b-3" };

		n = dp_preferred(av, 4, mb, 1, 2, rank_same_letter, NULL, out);
		CHECK(n == 2 && !strcmp(out[0], "b-3") && !strcmp(out[1], "b-1"));
		n = dp_preferred(av, 4, NULL, 0, 2, rank_same_letter, NULL, out);
		CHECK(n == 2 && !strcmp(out[0], "a-0") && !strcmp(out[1], "a-2"));
	}
}

/* GetPreferredAllocation's order: the anchor's device, its NUMA node, GPUs, use */
static void dp_ranking(void)
{
	/* img-n0 on node 0 without GPUs, img-n1 on node 1 with GPUs, img-x unknown */
	struct dp_place n0 = { .member = 0, .numa_node = 0, .gpus = false, .order = 0 };
	struct dp_place n1 = { .member = 1, .numa_node = 1, .gpus = true, .order = 8 };
	struct dp_place n0b = { .member = 2, .numa_node = 0, .gpus = false, .order = 16 };
	struct dp_place x = { .member = 3, .numa_node = -1, .gpus = false, .order = 24 };
	struct dp_place n1_used = n1, n0_other = n0;

	/* nothing chosen yet: the GPUs' NUMA node, although later in the list */
	CHECK(dp_rank(&n1, NULL) < dp_rank(&n0, NULL));
	CHECK(dp_rank(&n1, NULL) < dp_rank(&x, NULL));
	/* however much it was handed out */
	n1_used.handed_out = 1000;
	CHECK(dp_rank(&n1_used, NULL) < dp_rank(&n0, NULL));
	/* within one tier: handed out least, then the list order */
	CHECK(dp_rank(&n1, NULL) < dp_rank(&n1_used, NULL));
	n0_other.order = 1;
	CHECK(dp_rank(&n0, NULL) < dp_rank(&n0_other, NULL));
	/* a container holding a replica of img-n0 stays on it, then on node 0 */
	CHECK(dp_rank(&n0_other, &n0) < dp_rank(&n0b, &n0));
	CHECK(dp_rank(&n0b, &n0) < dp_rank(&n1, &n0));
	CHECK(dp_rank(&n1, &n0) < dp_rank(&x, &n0));
	/* an unknown NUMA node is no NUMA node in common */
	CHECK(dp_rank(&n1, &x) < dp_rank(&n0, &x));
}

int main(void)
{
	RUN("k8s", topo_nvme_and_gpus);
	RUN("k8s", topo_lv_takes_its_slave);
	RUN("k8s", topo_unknown);
	RUN("k8s", topo_no_numa_machine);
	RUN("k8s", topo_json);
	RUN("k8s", metrics_counters);
	RUN("k8s", metrics_histogram);
	RUN("k8s", nfd_labels);
	RUN("k8s", nfd_labels_per_resource);
	RUN("k8s", declare_sections);
	RUN("k8s", dp_report);
	RUN("k8s", dp_report_hostile);
	RUN("k8s", dp_ids);
	RUN("k8s", dp_preferences);
	RUN("k8s", dp_ranking);
	UNIT_EXIT();
}
