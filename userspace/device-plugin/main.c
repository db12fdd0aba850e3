// SPDX-License-Identifier: GPL-2.0-only
/*
 * rcache-device-plugin - the kubelet device plugin (API v1beta1) for rcache.
 *
 * One resource, rcache.io/<name>, per rcache device that rcached reports
 * (devices.json), each with N shareable replicas (device IDs <name>-<i>);
 * devices whose [device] section names the same "resource" are copies of
 * one dataset (one per NUMA node) and serve one resource together, and
 * GetPreferredAllocation picks among them by NUMA node and GPUs (dp_rank).
 * Each resource has its own gRPC server on a unix socket in the
 * device-plugins directory; the plugin serves it first and then registers
 * with the kubelet.  The report is followed at run time: a new device gets a
 * resource, a removed one loses its endpoint, health follows the device and
 * rcached's liveness, and every change is pushed to ListAndWatch.  When
 * kubelet.sock is recreated (a kubelet restart) the plugin re-registers,
 * noticed through inotify and, as a fallback, by polling once a second.
 *
 * gRPC (serving, streaming, the call to the kubelet) is librcache-grpc's
 * (grpc/server.h, grpc/client.h), driven from this program's one loop;
 * messages are encoded with protobuf-c from deviceplugin.proto.  This file
 * holds the model and the methods only.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deviceplugin.pb-c.h"
#include "daemon/declare.h"
#include "grpc/client.h"
#include "grpc/server.h"
#include "k8s/dpmodel.h"
#include "common/ini.h"
#include "common/log.h"
#include "origin/origin_secret.h"
#include "common/util.h"

#define API_VERSION "v1beta1"
#define KUBELET_SOCK "kubelet.sock"
#define SOCK_PREFIX DP_SOCK_PREFIX
#define TICK_MS 100
#define POLL_MS 1000
#define LIST_AND_WATCH "/v1beta1.DevicePlugin/ListAndWatch"

/* ------------------------------------------------------------------ */
/* Settings and state                                                  */

static struct {
	char dir[PATH_MAX];
	const char *config;
	const char *report;
	unsigned int replicas;		/* default for every device */
	bool replicas_flag;
	double stale_after;
	bool no_inotify;
} opt = {
	.dir = "/var/lib/kubelet/device-plugins",
	.report = "/run/rcached/devices.json",
	.replicas = RC_DECL_DEFAULT_REPLICAS,
	.stale_after = 10,
};

/* One device of a resource, as last pushed. */
struct member {
	struct dp_dev dev;
	bool healthy;
	unsigned int replicas;
	unsigned long *allocs;		/* Allocate count per replica */
};

struct resource {
	struct resource *next;
	char name[128];			/* rcache.io/<name> */
	char resource_name[160];
	char sock_name[200];
	char sock_path[PATH_MAX];
	ino_t sock_ino;
	struct rpc_server *server;	/* its endpoint; listening unless it failed */
	/* the device list as pushed: its devices, by name */
	struct member *members;
	int nmembers;
	unsigned long version;
	char left_out[128];		/* a device of another origin, last warned of */
	/* registration */
	bool registering;		/* Register on its way */
	bool want_register, registered;
	uint64_t reg_retry_ns;
	bool removed;
};

static struct rpc_loop *loop;
static struct resource *resources;
static struct rc_ini conf;
static bool conf_loaded;
static struct timespec conf_mtime;
static ino_t kubelet_ino;
static bool kubelet_seen;

static uint64_t now_ns(void)
{
	return rc_now_ns();
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Replicas and the device list                                        */

_Static_assert(DP_MAX_REPLICAS == RC_DECL_MAX_REPLICAS, "the report's replicas cap is rcached's");

static unsigned int replicas_for(const struct dp_dev *dev)
{
	const char *v;
	char section[160];
	uint64_t n;

	snprintf(section, sizeof(section), "device %s", dev->name);
	if (conf_loaded && (v = rc_ini_get(&conf, section, "replicas")) &&
	    !rc_parse_u64(v, 1, RC_DECL_MAX_REPLICAS, &n))
		return (unsigned int)n;
	if (dev->replicas)
		return dev->replicas;
	if (!opt.replicas_flag && conf_loaded && (v = rc_ini_get(&conf, "plugin", "replicas")) &&
	    !rc_parse_u64(v, 1, RC_DECL_MAX_REPLICAS, &n))
		return (unsigned int)n;
	return opt.replicas;
}

/* The device (member) and replica of @id in @res; false when it is not one of its IDs. */
static bool replica_find(const struct resource *res, const char *id, int *member,
			 unsigned int *index)
{
	char want[DP_MAX_ID + 1];
	const char *dash = strrchr(id, '-');
	unsigned long i;
	char *end;
	int m;

	if (!dash)
		return false;
	i = strtoul(dash + 1, &end, 10);
	if (*end || end == dash + 1)
		return false;
	for (m = 0; m < res->nmembers; m++) {
		if (i >= res->members[m].replicas)
			continue;
		dp_device_id(res->members[m].dev.name, (unsigned int)i, want, sizeof(want));
		if (!strcmp(want, id)) {
			*member = m;
			*index = (unsigned int)i;
			return true;
		}
	}
	return false;
}

/* The device list, to the stream @to, or to every stream of @res when NULL. */
static void send_devices(struct resource *res, struct rpc_call *to)
{
	V1beta1__ListAndWatchResponse resp = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	unsigned int total = 0, k = 0, i;
	V1beta1__Device *devs = NULL, **ptrs = NULL;
	V1beta1__TopologyInfo *topo = calloc(res->nmembers + 1, sizeof(*topo));
	V1beta1__NUMANode *node = calloc(res->nmembers + 1, sizeof(*node));
	V1beta1__NUMANode **nodes = calloc(res->nmembers + 1, sizeof(*nodes));
	char (*ids)[DP_MAX_ID + 1] = NULL;
	int m;

	for (m = 0; m < res->nmembers; m++)
		total += res->members[m].replicas;
	devs = calloc(total + 1, sizeof(*devs));
	ptrs = calloc(total + 1, sizeof(*ptrs));
	ids = calloc(total + 1, sizeof(*ids));
	if (!devs || !ptrs || !ids || !topo || !node || !nodes)
		goto out;
	for (m = 0; m < res->nmembers; m++) {
		const struct member *mb = &res->members[m];

		/* each device's replicas on its own NUMA node */
		v1beta1__numanode__init(&node[m]);
		node[m].id = mb->dev.numa_node;
		nodes[m] = &node[m];
		v1beta1__topology_info__init(&topo[m]);
		topo[m].n_nodes = 1;
		topo[m].nodes = &nodes[m];
		for (i = 0; i < mb->replicas; i++, k++) {
			v1beta1__device__init(&devs[k]);
			dp_device_id(mb->dev.name, i, ids[k], sizeof(ids[k]));
			devs[k].id = ids[k];
			devs[k].health = mb->healthy ? "Healthy" : "Unhealthy";
			devs[k].topology = mb->dev.numa_node >= 0 ? &topo[m] : NULL;
			ptrs[k] = &devs[k];
		}
	}
	resp.n_devices = total;
	resp.devices = ptrs;
	if (to)
		rpc_stream_send(to, &resp.base);
	else
		rpc_server_push(res->server, LIST_AND_WATCH, &resp.base);
out:
	free(devs);
	free(ptrs);
	free(ids);
	free(topo);
	free(node);
	free(nodes);
}

/* ------------------------------------------------------------------ */
/* Methods                                                             */

static void get_options(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	(void)msg;
	(void)arg;
	o.pre_start_required = false;
	o.get_preferred_allocation_available = true;
	rpc_reply(c, &o.base);
}

static void list_and_watch(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	struct resource *res = arg;

	(void)msg;
	rc_info("%s: ListAndWatch from the kubelet", res->resource_name);
	send_devices(res, c);
}

static void list_and_watch_ended(struct rpc_call *c, void *arg)
{
	struct resource *res = arg;

	(void)c;
	rc_info("%s: ListAndWatch ended", res->resource_name);
}

static void pre_start(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	V1beta1__PreStartContainerResponse o = V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;

	(void)msg;
	(void)arg;
	rpc_reply(c, &o.base);
}

static bool place_of(const struct resource *res, const char *id, struct dp_place *p)
{
	unsigned int i, order = 0;
	int m, k;

	if (!replica_find(res, id, &m, &i))
		return false;
	for (k = 0; k < m; k++)
		order += res->members[k].replicas;
	p->member = m;
	p->numa_node = res->members[m].dev.numa_node;
	p->gpus = res->members[m].dev.nr_gpus > 0;
	p->handed_out = res->members[m].allocs[i];
	p->order = order + i;
	return true;
}

static long rank_replica(const char *id, const char *anchor, void *arg)
{
	struct resource *res = arg;
	struct dp_place p, a;

	if (!place_of(res, id, &p))
		return LONG_MAX;
	return dp_rank(&p, anchor && place_of(res, anchor, &a) ? &a : NULL);
}

static void get_preferred(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	const V1beta1__PreferredAllocationRequest *req =
		(const V1beta1__PreferredAllocationRequest *)msg;
	struct resource *res = arg;
	V1beta1__PreferredAllocationResponse resp = V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	V1beta1__ContainerPreferredAllocationResponse *cr;
	size_t i;

	cr = calloc(req->n_container_requests + 1, sizeof(*cr));
	resp.container_responses = calloc(req->n_container_requests + 1, sizeof(*cr));
	if (!cr || !resp.container_responses) {
		rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (i = 0; i < req->n_container_requests; i++) {
		V1beta1__ContainerPreferredAllocationRequest *r = req->container_requests[i];
		size_t want = r->allocation_size > 0 ? (size_t)r->allocation_size : 0;

		v1beta1__container_preferred_allocation_response__init(&cr[i]);
		cr[i].deviceids = calloc(want + r->n_must_include_deviceids + 1, sizeof(char *));
		if (cr[i].deviceids)
			cr[i].n_deviceids = dp_preferred((const char *const *)r->available_deviceids,
							 r->n_available_deviceids,
							 (const char *const *)r->must_include_deviceids,
							 r->n_must_include_deviceids, want,
							 rank_replica, res,
							 (const char **)cr[i].deviceids);
		resp.container_responses[i] = &cr[i];
	}
	resp.n_container_responses = req->n_container_requests;
	rpc_reply(c, &resp.base);
out:
	if (cr)
		for (i = 0; i < req->n_container_requests; i++)
			free(cr[i].deviceids);
	free(cr);
	free(resp.container_responses);
}

static void allocate(struct rpc_call *c, const ProtobufCMessage *msg, void *arg)
{
	const V1beta1__AllocateRequest *req = (const V1beta1__AllocateRequest *)msg;
	struct resource *res = arg;
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
	size_t n = req->n_container_requests, i, k;
	V1beta1__ContainerAllocateResponse *cr = calloc(n + 1, sizeof(*cr));
	V1beta1__ContainerAllocateResponse **crp = calloc(n + 1, sizeof(*crp));
	V1beta1__DeviceSpec *spec = calloc(n + 1, sizeof(*spec));
	V1beta1__DeviceSpec **specp = calloc(n + 1, sizeof(*specp));
	int *votes = calloc(res->nmembers + 1, sizeof(*votes));
	V1beta1__ContainerAllocateResponse__EnvsEntry env[2], *envp[2];
	char container_path[200], why[256];
	unsigned int r_i;
	int m;

	if (!cr || !crp || !spec || !specp || !votes) {
		rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* every ID must be one of ours, before anything is counted */
	for (i = 0; i < n; i++) {
		V1beta1__ContainerAllocateRequest *r = req->container_requests[i];

		for (k = 0; k < r->n_devices_ids; k++) {
			if (!replica_find(res, r->devices_ids[k], &m, &r_i)) {
				snprintf(why, sizeof(why), "unknown device id '%s' for %s",
					 r->devices_ids[k], res->resource_name);
				rc_warn("Allocate: %s", why);
				rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
				goto out;
			}
		}
	}
	snprintf(container_path, sizeof(container_path), "/dev/rcache/%s", res->name);
	v1beta1__container_allocate_response__envs_entry__init(&env[0]);
	v1beta1__container_allocate_response__envs_entry__init(&env[1]);
	env[0].key = "RCACHE_DATASET";
	env[0].value = res->name;
	env[1].key = "RCACHE_DEVICE";
	env[1].value = container_path;
	envp[0] = &env[0];
	envp[1] = &env[1];
	for (i = 0; i < n; i++) {
		V1beta1__ContainerAllocateRequest *r = req->container_requests[i];
		int best = -1;

		v1beta1__container_allocate_response__init(&cr[i]);
		crp[i] = &cr[i];
		if (!r->n_devices_ids)
			continue;
		/*
		 * Every replica of a device is that device: the container gets one
		 * node, of the device most of its IDs name (the first one's on a
		 * tie), however many IDs it holds.
		 */
		memset(votes, 0, sizeof(*votes) * res->nmembers);
		for (k = 0; k < r->n_devices_ids; k++) {
			replica_find(res, r->devices_ids[k], &m, &r_i);
			res->members[m].allocs[r_i]++;
			votes[m]++;
			if (best < 0 || votes[m] > votes[best])
				best = m;
		}
		v1beta1__device_spec__init(&spec[i]);
		spec[i].container_path = container_path;
		spec[i].host_path = res->members[best].dev.host_path;
		spec[i].permissions = "r";
		specp[i] = &spec[i];
		cr[i].n_envs = 2;
		cr[i].envs = envp;
		cr[i].n_devices = 1;
		cr[i].devices = &specp[i];
	}
	resp.n_container_responses = n;
	resp.container_responses = crp;
	rpc_reply(c, &resp.base);
out:
	free(cr);
	free(crp);
	free(spec);
	free(specp);
	free(votes);
}

static const struct rpc_method device_plugin_methods[] = {
	{ .path = "/v1beta1.DevicePlugin/GetDevicePluginOptions",
	  .request = &v1beta1__empty__descriptor,
	  .response = &v1beta1__device_plugin_options__descriptor,
	  .handler = get_options },
	{ .path = LIST_AND_WATCH,
	  .request = &v1beta1__empty__descriptor,
	  .response = &v1beta1__list_and_watch_response__descriptor,
	  .handler = list_and_watch, .streaming = true, .closed = list_and_watch_ended },
	{ .path = "/v1beta1.DevicePlugin/GetPreferredAllocation",
	  .request = &v1beta1__preferred_allocation_request__descriptor,
	  .response = &v1beta1__preferred_allocation_response__descriptor,
	  .handler = get_preferred },
	{ .path = "/v1beta1.DevicePlugin/Allocate",
	  .request = &v1beta1__allocate_request__descriptor,
	  .response = &v1beta1__allocate_response__descriptor,
	  .handler = allocate },
	{ .path = "/v1beta1.DevicePlugin/PreStartContainer",
	  .request = &v1beta1__pre_start_container_request__descriptor,
	  .response = &v1beta1__pre_start_container_response__descriptor,
	  .handler = pre_start },
};

/* ------------------------------------------------------------------ */
/* Servers                                                             */

static void res_free(struct resource *res)
{
	struct resource **pp;
	int m;

	for (pp = &resources; *pp; pp = &(*pp)->next)
		if (*pp == res) {
			*pp = res->next;
			break;
		}
	for (m = 0; m < res->nmembers; m++)
		free(res->members[m].allocs);
	free(res->members);
	free(res);
}

/* A removed resource goes once its endpoint is freed and no Register is on its way. */
static void res_maybe_free(struct resource *res)
{
	if (res->removed && !res->server && !res->registering)
		res_free(res);
}

static int server_start(struct resource *res)
{
	struct rc_err err;
	struct stat st;

	if (rpc_server_listen(res->server, res->sock_path, &err)) {
		rc_err("%s", err.msg);
		return -1;
	}
	res->sock_ino = stat(res->sock_path, &st) ? 0 : st.st_ino;
	res->want_register = true;
	res->registered = false;
	rc_info("%s: serving on %s", res->resource_name, res->sock_path);
	return 0;
}

/* The endpoint wound down after its socket was deleted: serve on a new one. */
static void on_stopped(struct rpc_server *s, void *arg)
{
	struct resource *res = arg;

	(void)s;
	server_start(res);
}

/* ------------------------------------------------------------------ */
/* Registration                                                        */

static void reg_done(void *arg, grpc_status_code status, const char *msg,
		     const ProtobufCMessage *reply)
{
	struct resource *res = arg;

	(void)reply;
	res->registering = false;
	if (status == GRPC_STATUS_OK) {
		res->registered = true;
		res->want_register = false;
		rc_info("%s: registered with the kubelet", res->resource_name);
	} else {
		rc_warn("%s: Register failed: %s (status %d); retrying", res->resource_name,
			msg[0] ? msg : "no answer", (int)status);
		res->want_register = true;
		res->reg_retry_ns = now_ns() + 1000000000ULL;
	}
	res_maybe_free(res);
}

static void reg_start(struct resource *res)
{
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	char target[PATH_MAX + 16];
	struct rc_err err;

	snprintf(target, sizeof(target), "unix:%s/%s", opt.dir, KUBELET_SOCK);
	o.get_preferred_allocation_available = true;
	req.version = API_VERSION;
	req.endpoint = res->sock_name;
	req.resource_name = res->resource_name;
	req.options = &o;
	if (rpc_client_call(loop, target, "/v1beta1.Registration/Register", &req.base,
			    &v1beta1__empty__descriptor, 5000, reg_done, res, &err)) {
		rc_err("%s: cannot start Register: %s", res->resource_name, err.msg);
		res->want_register = true;
		res->reg_retry_ns = now_ns() + 1000000000ULL;
		return;
	}
	res->registering = true;
}

/* ------------------------------------------------------------------ */
/* Following the report                                                */

static struct resource *res_find(const char *name)
{
	struct resource *res;

	for (res = resources; res; res = res->next)
		if (!res->removed && !strcmp(res->name, name))
			return res;
	return NULL;
}

static struct resource *res_new(const char *name)
{
	struct resource *res = calloc(1, sizeof(*res));
	struct rc_err err;

	if (!res)
		return NULL;
	snprintf(res->name, sizeof(res->name), "%s", name);
	snprintf(res->resource_name, sizeof(res->resource_name), DP_RESOURCE_PREFIX "%s", name);
	dp_socket_name(opt.dir, name, res->sock_name, sizeof(res->sock_name));
	snprintf(res->sock_path, sizeof(res->sock_path), "%s/%s", opt.dir, res->sock_name);
	res->server = rpc_server_new(loop, res->resource_name);
	if (!res->server || rpc_server_add(res->server, device_plugin_methods,
					   sizeof(device_plugin_methods) /
					   sizeof(device_plugin_methods[0]), res, &err)) {
		rc_err("%s: cannot make its endpoint%s%s", res->resource_name,
		       res->server ? ": " : "", res->server ? err.msg : "");
		rpc_server_free(res->server);
		free(res);
		return NULL;
	}
	res->next = resources;
	resources = res;
	return res;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->dev.name, ((const struct member *)b)->dev.name);
}

/*
 * Brings @res to the devices @want (dev, healthy and replicas set; sorted
 * by name here), keeping the Allocate counts of the devices it already had;
 * pushes the device list when anything in it changed.
 */
static void res_update(struct resource *res, struct member *want, int n)
{
	bool changed = n != res->nmembers;
	int m, k;

	qsort(want, n, sizeof(*want), member_cmp);
	for (m = 0; m < n; m++) {
		struct member *w = &want[m], *old = NULL;

		for (k = 0; k < res->nmembers && !old; k++)
			if (!strcmp(res->members[k].dev.name, w->dev.name))
				old = &res->members[k];
		w->allocs = calloc(w->replicas + 1, sizeof(*w->allocs));
		if (!w->allocs) {
			while (m-- > 0)
				free(want[m].allocs);
			return;
		}
		if (!old) {
			changed = true;
			continue;
		}
		memcpy(w->allocs, old->allocs, sizeof(*w->allocs) * (w->replicas < old->replicas ?
								      w->replicas : old->replicas));
		if (old->healthy != w->healthy)
			rc_info("%s: %s %s%s%s", res->resource_name, w->dev.name,
				w->healthy ? "Healthy" : "Unhealthy", w->healthy ? "" : ": ",
				w->healthy ? "" : w->dev.why);
		changed = changed || old->healthy != w->healthy ||
			  old->replicas != w->replicas || old->dev.numa_node != w->dev.numa_node;
	}
	for (k = 0; k < res->nmembers; k++)
		free(res->members[k].allocs);
	free(res->members);
	res->members = n ? malloc(sizeof(*want) * n) : NULL;
	if (n && !res->members) {
		for (m = 0; m < n; m++)
			free(want[m].allocs);
		res->nmembers = 0;
		return;
	}
	if (n)
		memcpy(res->members, want, sizeof(*want) * n);
	res->nmembers = n;
	if (changed || !res->version) {
		res->version++;
		send_devices(res, NULL);
	}
}

static void res_remove(struct resource *res)
{
	rc_info("%s: the device is gone; stopping its endpoint", res->resource_name);
	res->removed = true;
	rpc_server_free(res->server);	/* cancels its calls: ListAndWatch ends */
	res->server = NULL;
	unlink(res->sock_path);
	res_maybe_free(res);
}

static void load_config(bool force)
{
	struct stat st;
	struct rc_err err;

	if (!opt.config)
		return;
	if (stat(opt.config, &st)) {
		if (conf_loaded) {
			rc_ini_free(&conf);
			conf_loaded = false;
		}
		return;
	}
	if (!force && conf_loaded && st.st_mtim.tv_sec == conf_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == conf_mtime.tv_nsec)
		return;
	if (conf_loaded)
		rc_ini_free(&conf);
	conf_loaded = !rc_ini_load(&conf, opt.config, &err);
	if (!conf_loaded)
		rc_warn("%s", err.msg);
	conf_mtime = st.st_mtim;
}

/*
 * The devices of the report that serve @res, fresh from it: copies of one
 * dataset only.  A device of another origin that merely has the resource's
 * name (one made by hand, not from the config) is left out, so a pod never
 * gets another dataset than it asked for.
 */
static int report_members(const struct dp_report *rep, struct resource *res, struct member *out)
{
	const struct dp_dev *ref = NULL;
	const char *left_out = "";
	int i, n = 0;

	for (i = 0; i < rep->n; i++) {
		const struct dp_dev *dev = &rep->v[i];

		if (dp_name_ok(dev->name) && !strcmp(dev->resource, res->name) &&
		    (!ref || (dev->owned && !ref->owned)))
			ref = dev;
	}
	for (i = 0; ref && i < rep->n; i++) {
		const struct dp_dev *dev = &rep->v[i];

		if (!dp_name_ok(dev->name) || strcmp(dev->resource, res->name))
			continue;
		if (!rc_origin_same_object(dev->origin, ref->origin)) {
			char a[RCACHE_MAX_ORIGIN_LEN + 8], b[RCACHE_MAX_ORIGIN_LEN + 8];

			if (strcmp(res->left_out, dev->name))
				rc_warn("%s: %s left out: its origin %s is not that of %s (%s)",
					res->resource_name, dev->name,
					rc_origin_shown(dev->origin, a, sizeof(a)), ref->name,
					rc_origin_shown(ref->origin, b, sizeof(b)));
			left_out = dev->name;
			continue;
		}
		memset(&out[n], 0, sizeof(out[n]));
		out[n].dev = *dev;
		out[n].healthy = dev->healthy;
		out[n].replicas = replicas_for(dev);
		n++;
	}
	snprintf(res->left_out, sizeof(res->left_out), "%s", left_out);
	return n;
}

static void follow_report(void)
{
	static bool warned_missing, warned_stale;
	struct dp_report rep;
	struct rc_err err;
	struct resource *res, *next;
	struct member *want = NULL;
	bool ok, fresh;
	int i, k, n;

	ok = !dp_report_load(opt.report, &rep, &err);
	if (!ok && !warned_missing) {
		rc_warn("%s (every device Unhealthy until rcached reports)", err.msg);
		warned_missing = true;
	} else if (ok) {
		warned_missing = false;
	}
	fresh = ok && dp_report_fresh(&rep, wall(), opt.stale_after);
	if (ok && !fresh && !warned_stale) {
		rc_warn("rcached is absent: its report is %s; every device Unhealthy",
			rep.alive ? "stale" : "final (it exited)");
		warned_stale = true;
	} else if (fresh && warned_stale) {
		rc_info("rcached reports again");
		warned_stale = false;
	}
	for (res = resources, n = rep.n; res; res = res->next)
		n += res->nmembers;
	want = calloc(n + 1, sizeof(*want));
	if (!want) {
		dp_report_free(&rep);
		return;
	}
	if (!fresh) {
		/* keep the resources and their devices (a restarting daemon), all Unhealthy */
		for (res = resources; res; res = res->next) {
			if (res->removed)
				continue;
			for (k = 0; k < res->nmembers; k++) {
				want[k] = res->members[k];
				want[k].allocs = NULL;
				for (i = 0; ok && i < rep.n; i++)
					if (!strcmp(rep.v[i].name, want[k].dev.name))
						want[k].dev = rep.v[i];
				want[k].healthy = false;
				snprintf(want[k].dev.why, sizeof(want[k].dev.why), "daemon absent");
			}
			res_update(res, want, res->nmembers);
		}
		free(want);
		dp_report_free(&rep);
		return;
	}
	for (i = 0; i < rep.n; i++) {
		const struct dp_dev *dev = &rep.v[i];

		if (!dp_name_ok(dev->name) || !dp_name_ok(dev->resource))
			continue;
		for (k = 0; k < i; k++)
			if (!strcmp(rep.v[k].resource, dev->resource) && dp_name_ok(rep.v[k].name))
				break;
		if (k < i)
			continue;	/* its resource is done */
		res = res_find(dev->resource);
		if (res) {
			res_update(res, want, report_members(&rep, res, want));
			continue;
		}
		res = res_new(dev->resource);
		if (!res)
			continue;
		res_update(res, want, report_members(&rep, res, want));
		server_start(res);
	}
	for (res = resources; res; res = next) {
		next = res->next;
		if (res->removed)
			continue;
		for (i = 0; i < rep.n; i++)
			if (!strcmp(rep.v[i].resource, res->name) && dp_name_ok(rep.v[i].name))
				break;
		if (i == rep.n)
			res_remove(res);
	}
	free(want);
	dp_report_free(&rep);
}

/* kubelet.sock (re)created: register everything again. */
static void kubelet_check(bool inotify_said)
{
	char path[PATH_MAX + 16];
	struct stat st;
	struct resource *res;

	snprintf(path, sizeof(path), "%s/%s", opt.dir, KUBELET_SOCK);
	if (stat(path, &st)) {
		kubelet_seen = false;
		return;
	}
	if (!inotify_said && kubelet_seen && st.st_ino == kubelet_ino)
		return;
	if (kubelet_seen || inotify_said)
		rc_info("%s was (re)created: registering again", path);
	kubelet_seen = true;
	kubelet_ino = st.st_ino;
	for (res = resources; res; res = res->next)
		if (!res->removed)
			res->want_register = true;
}

/* Our socket deleted (the kubelet restarted): serve on a new one. */
static void sockets_check(void)
{
	struct resource *res;
	struct stat st;

	for (res = resources; res; res = res->next) {
		if (res->removed || !rpc_server_running(res->server))
			continue;
		if (stat(res->sock_path, &st) || st.st_ino != res->sock_ino) {
			rc_info("%s: %s is gone: serving on a new socket", res->resource_name,
				res->sock_path);
			res->registered = false;
			rpc_server_stop(res->server, on_stopped, res);
		}
	}
}

static void registrations(void)
{
	char path[PATH_MAX + 16];
	struct resource *res;
	uint64_t now = now_ns();

	snprintf(path, sizeof(path), "%s/%s", opt.dir, KUBELET_SOCK);
	if (access(path, F_OK))
		return;
	for (res = resources; res; res = res->next)
		if (!res->removed && res->want_register && rpc_server_running(res->server) &&
		    !res->registering && now >= res->reg_retry_ns)
			reg_start(res);
}

static void on_inotify(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->len && !strcmp(e->name, KUBELET_SOCK) &&
			    (e->mask & (IN_CREATE | IN_MOVED_TO)))
				kubelet_check(true);
			else if (e->len && !strncmp(e->name, SOCK_PREFIX, strlen(SOCK_PREFIX)) &&
				 (e->mask & (IN_DELETE | IN_MOVED_FROM)))
				sockets_check();
			p += sizeof(*e) + e->len;
		}
	}
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcache-device-plugin [options]\n"
		"  --device-plugin-dir DIR  the kubelet's device plugin directory\n"
		"                           (default /var/lib/kubelet/device-plugins)\n"
		"  --config FILE            rcached.conf: [device NAME] replicas, [plugin] replicas\n"
		"                           (default $RCACHE_CONFIG or /etc/rcache/rcached.conf)\n"
		"  --report FILE            rcached's device report (default /run/rcached/devices.json)\n"
		"  --replicas N             shareable replicas per device (default 8)\n"
		"  --stale-after SECONDS    rcached is absent when its report is older (default 10)\n"
		"  --no-inotify             find a new kubelet.sock by polling only\n"
		"  -v, --verbose            debug logging\n"
		"  -h, --help               this text\n"
		"  --version                print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device-plugin-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "report", required_argument, NULL, 'r' },
		{ "replicas", required_argument, NULL, 'n' },
		{ "stale-after", required_argument, NULL, 's' },
		{ "no-inotify", no_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level = RC_LOG_INFO, ifd = -1, sfd;
	uint64_t v, last_poll = 0, last_report = 0;
	struct timespec report_mtim = { 0, 0 };
	ino_t report_ino = 0;
	sigset_t mask;
	bool stop = false;

	rc_log_init("rcache-device-plugin", level);
	opt.config = getenv("RCACHE_CONFIG") ? getenv("RCACHE_CONFIG") : "/etc/rcache/rcached.conf";
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			snprintf(opt.dir, sizeof(opt.dir), "%s", optarg);
			break;
		case 'c':
			opt.config = optarg;
			break;
		case 'r':
			opt.report = optarg;
			break;
		case 'n':
			if (rc_parse_u64(optarg, 1, RC_DECL_MAX_REPLICAS, &v)) {
				rc_err("--replicas %s: expected 1 to %d", optarg, RC_DECL_MAX_REPLICAS);
				return 2;
			}
			opt.replicas = (unsigned int)v;
			opt.replicas_flag = true;
			break;
		case 's':
			if (rc_parse_u64(optarg, 1, 3600, &v)) {
				rc_err("--stale-after %s: expected 1 to 3600 seconds", optarg);
				return 2;
			}
			opt.stale_after = (double)v;
			break;
		case 'I':
			opt.no_inotify = true;
			break;
		case 'v':
			level = RC_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("rcache-device-plugin %s\n", RCACHE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		rc_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	rc_log_init("rcache-device-plugin", level);
	if (access(opt.dir, W_OK)) {
		rc_err("%s: %s", opt.dir, strerror(errno));
		return 1;
	}
	load_config(true);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	loop = rpc_loop_new();
	if (!loop) {
		rc_err("out of memory");
		return 1;
	}
	if (!opt.no_inotify) {
		ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ifd < 0 || inotify_add_watch(ifd, opt.dir, IN_CREATE | IN_MOVED_TO | IN_DELETE |
						 IN_MOVED_FROM) < 0)
			rc_warn("inotify on %s: %s (polling instead)", opt.dir, strerror(errno));
	}
	rc_info("watching %s; device-plugin directory %s", opt.report, opt.dir);
	kubelet_check(false);

	while (!stop) {
		struct signalfd_siginfo si;
		uint64_t now;
		struct stat st;

		rpc_loop_next(loop, TICK_MS);
		while (sfd >= 0 && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				load_config(true);
				last_report = 0;
			} else {
				stop = true;
			}
		}
		if (ifd >= 0)
			on_inotify(ifd);
		now = now_ns();
		/* the report: when it changed, and once a second for staleness */
		if (!stat(opt.report, &st) ? (st.st_ino != report_ino ||
					     st.st_mtim.tv_sec != report_mtim.tv_sec ||
					     st.st_mtim.tv_nsec != report_mtim.tv_nsec) :
					    report_ino != 0) {
			report_ino = stat(opt.report, &st) ? 0 : st.st_ino;
			report_mtim = st.st_mtim;
			last_report = 0;
		}
		if (now - last_report >= 1000000000ULL) {
			last_report = now;
			load_config(false);
			follow_report();
		}
		if (now - last_poll >= POLL_MS * 1000000ULL) {
			last_poll = now;
			kubelet_check(false);
			sockets_check();
		}
		registrations();
	}

	rc_info("exiting");
	{
		struct resource *res, *next;

		for (res = resources; res; res = next) {
			next = res->next;
			res->removed = true;
			rpc_server_free(res->server);
			res->server = NULL;
			unlink(res->sock_path);
			res_maybe_free(res);
		}
	}
	/* let the Registers on their way and the cancelled calls complete */
	while (resources && rpc_loop_next(loop, 2000)) {
	}
	rpc_loop_free(loop, 2000);
	if (conf_loaded)
		rc_ini_free(&conf);
	return 0;
}
