// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/declare.h"
#include "daemon/metrics.h"
#include "daemon/metricsd.h"
#include "daemon/node.h"
#include "kernel/topology.h"

struct decl_job {
	struct rc_decls decls;
	struct rc_ini conf;
	struct rc_decl_results res;
	struct rc_err err;
	int rc;
	int efd;
};

struct rcd_node {
	const struct rcd_config *cfg;
	struct rc_loop *loop;
	struct rc_watch timer_w, decl_w;
	struct rc_metrics_server *http;	/* its own thread */
	/* metrics and results: the loop changes them, the listener reads them */
	pthread_mutex_t lock;
	pthread_t worker;
	struct decl_job *job;		/* the worker's, while it runs */
	bool rescan;			/* SIGHUP while the worker ran */
	bool stopping;
	struct rc_decls decls;		/* the config as last applied */
	struct rc_decl_results results;
	struct rc_metrics metrics;
	char report_path[512];
	bool warned[3];
};

static double realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Replaces @path with @buf: a temporary file in the same directory, renamed. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
	char tmp[600];
	size_t off = 0;
	int fd, e;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += n;
	}
	if (close(fd) || rename(tmp, path)) {
		e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static void write_file(struct rcd_node *n, int which, const char *what, const char *path,
		       const char *buf, size_t len)
{
	int r = write_atomic(path, buf, len);

	if (r && !n->warned[which]) {
		rc_warn("%s %s: %s", what, path, strerror(-r));
		n->warned[which] = true;
	} else if (!r) {
		n->warned[which] = false;
	}
}

static void write_metrics(FILE *f, struct rcd_node *n, const struct rc_snapshot *s, bool alive)
{
	fprintf(f, "# HELP rcache_daemon_up 1 while rcached runs.\n# TYPE rcache_daemon_up gauge\n"
		   "rcache_daemon_up %d\n", alive ? 1 : 0);
	rc_metrics_write(f, s, &n->metrics, &n->results);
}

/* devices.json: each device's status, as the node declared it, and the declared devices. */
static struct json_object *report_json(struct rcd_node *n, const struct rc_snapshot *s,
				       bool alive, unsigned int interval_s)
{
	struct json_object *j = json_object_new_object(), *devs = json_object_new_array(),
			   *declared = json_object_new_array();
	int i;

	json_object_object_add(j, "version", json_object_new_int(1));
	json_object_object_add(j, "generator", json_object_new_string("rcached " RCACHE_VERSION));
	json_object_object_add(j, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(j, "alive", json_object_new_boolean(alive));
	json_object_object_add(j, "updated", rc_json_fixed(realtime(), 3));
	json_object_object_add(j, "interval_s", json_object_new_uint64(interval_s));
	for (i = 0; i < s->n; i++) {
		const struct rc_decl *decl = rc_decl_find(&n->decls, s->v[i].name);
		bool owned = rc_decl_owned(s->v[i].name, s->v[i].uuid);
		struct json_object *dev = rc_status_json(&s->v[i]);
		char path[200];

		if (!dev)
			continue;
		snprintf(path, sizeof(path), "/dev/mapper/%s", s->v[i].name);
		json_object_object_add(dev, "device", rc_json_string(path));
		json_object_object_add(dev, "declared", json_object_new_boolean(decl != NULL));
		json_object_object_add(dev, "owned", json_object_new_boolean(owned));
		if (decl && decl->replicas)
			json_object_object_add(dev, "replicas", json_object_new_uint64(decl->replicas));
		/* grouped only when made from that section: a hand-made device of
		 * the same name may hold another dataset */
		json_object_object_add(dev, "resource", rc_json_string(decl && owned ?
				       rc_decl_resource(decl) : s->v[i].name));
		json_object_array_add(devs, dev);
	}
	json_object_object_add(j, "devices", devs);
	for (i = 0; i < n->results.n; i++) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "name", rc_json_string(n->results.v[i].name));
		json_object_object_add(r, "state", json_object_new_string(
				       rc_decl_state_name(n->results.v[i].state)));
		json_object_object_add(r, "reason", rc_json_string(n->results.v[i].reason));
		json_object_array_add(declared, r);
	}
	json_object_object_add(j, "declared", declared);
	return j;
}

/* devices.json, the metrics textfile and the NFD features file. */
static void node_report(struct rcd_node *n, bool alive)
{
	struct rc_snapshot s;
	struct rc_err err;
	char *buf = NULL;
	size_t len = 0;
	struct json_object *report;
	FILE *f;

	if (rc_snapshot_take(&s, &err)) {
		rc_debug("report: %s", err.msg);
		memset(&s, 0, sizeof(s));
	}
	f = open_memstream(&buf, &len);
	if (!f)
		goto out;
	report = report_json(n, &s, alive, n->cfg->report_interval_s);
	rc_json_print(f, report);
	fputc('\n', f);
	json_object_put(report);
	fclose(f);
	write_file(n, 0, "report", n->report_path, buf, len);
	free(buf);

	if (n->cfg->metrics_textfile[0]) {
		buf = NULL;
		f = open_memstream(&buf, &len);
		if (f) {
			pthread_mutex_lock(&n->lock);
			write_metrics(f, n, &s, alive);
			pthread_mutex_unlock(&n->lock);
			fclose(f);
			write_file(n, 1, "metrics textfile", n->cfg->metrics_textfile, buf, len);
			free(buf);
		}
	}
	if (n->cfg->nfd_features_file[0]) {
		if (!alive) {
			unlink(n->cfg->nfd_features_file);
		} else {
			buf = NULL;
			f = open_memstream(&buf, &len);
			if (f) {
				rc_nfd_write(f, &s, n->cfg->warm_percent, &n->decls);
				fclose(f);
				write_file(n, 2, "NFD features file", n->cfg->nfd_features_file, buf,
					   len);
				free(buf);
			}
		}
	}
out:
	rc_snapshot_free(&s);
}

static void arm_timer(struct rcd_node *n, uint64_t first_ms)
{
	struct itimerspec its = {
		.it_interval = { n->cfg->report_interval_s, 0 },
		.it_value = { first_ms / 1000, (first_ms % 1000) * 1000000 },
	};

	timerfd_settime(n->timer_w.fd, 0, &its, NULL);
}

static void on_timer(struct rc_watch *w, uint32_t events)
{
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	node_report(w->arg, true);
}

void rcd_node_changed(struct rcd_node *n)
{
	if (n && n->timer_w.fd >= 0)
		arm_timer(n, 50);
}

void rcd_node_fill_done(struct rcd_node *n, const char *name, uint64_t ns, int error)
{
	if (n && error != -ECANCELED) {
		pthread_mutex_lock(&n->lock);
		rc_metrics_observe(&n->metrics, name, ns, error);
		pthread_mutex_unlock(&n->lock);
	}
}

/* ------------------------------------------------------------------ */
/* Declarative devices                                                 */

static void *decl_worker(void *arg)
{
	struct decl_job *job = arg;
	uint64_t one = 1;

	job->rc = rc_decl_apply(&job->decls, &job->conf, &job->res, &job->err);
	if (write(job->efd, &one, sizeof(one)) < 0) {
		/* the loop then never hears of it; nothing else to do */
	}
	return NULL;
}

static void decl_start(struct rcd_node *n)
{
	struct decl_job *job;
	struct rc_err err;
	int r;

	if (n->job) {
		n->rescan = true;
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return;
	job->efd = n->decl_w.fd;
	r = n->cfg->config_file ? rc_ini_load(&job->conf, n->cfg->config_file, &err) : -ENOENT;
	if (r == -ENOENT) {
		memset(&job->conf, 0, sizeof(job->conf));
	} else if (r) {
		rc_err("%s; devices left as they are", err.msg);
		free(job);
		return;
	}
	if (rc_decl_parse(&job->conf, &job->decls, &err)) {
		rc_err("%s", err.msg);
		rc_ini_free(&job->conf);
		free(job);
		return;
	}
	/* the report names declared devices (and their replicas) from now on */
	rc_decls_free(&n->decls);
	n->decls.v = job->decls.n ? malloc(job->decls.n * sizeof(*n->decls.v)) : NULL;
	if (n->decls.v) {
		memcpy(n->decls.v, job->decls.v, job->decls.n * sizeof(*n->decls.v));
		n->decls.n = job->decls.n;
	}
	n->job = job;
	r = pthread_create(&n->worker, NULL, decl_worker, job);
	if (r) {
		rc_err("declared devices: cannot start a thread: %s", strerror(r));
		n->job = NULL;
		rc_decls_free(&job->decls);
		rc_ini_free(&job->conf);
		free(job);
	}
}

static void on_decl_done(struct rc_watch *w, uint32_t events)
{
	struct rcd_node *n = w->arg;
	struct decl_job *job = n->job;
	int i, counts[RC_DECL_KEPT + 1] = { 0 };
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 || !job)
		return;
	pthread_join(n->worker, NULL);
	n->job = NULL;
	if (job->rc) {
		rc_err("declared devices: %s", job->err.msg);
	} else {
		pthread_mutex_lock(&n->lock);
		rc_decl_results_free(&n->results);
		n->results = job->res;
		pthread_mutex_unlock(&n->lock);
		job->res.v = NULL;
		for (i = 0; i < n->results.n; i++)
			counts[n->results.v[i].state]++;
		if (n->results.n)
			rc_info("declared devices: %d created, %d present, %d failed, %d removed, %d kept",
				counts[RC_DECL_CREATED], counts[RC_DECL_PRESENT],
				counts[RC_DECL_FAILED], counts[RC_DECL_REMOVED],
				counts[RC_DECL_KEPT]);
	}
	rc_decl_results_free(&job->res);
	rc_decls_free(&job->decls);
	rc_ini_free(&job->conf);
	free(job);
	node_report(n, true);
	if (n->rescan && !n->stopping) {
		n->rescan = false;
		decl_start(n);
	}
}

void rcd_node_reload(struct rcd_node *n)
{
	if (!n)
		return;
	rc_info("SIGHUP: applying the [device] sections of %s",
		n->cfg->config_file ? n->cfg->config_file : "(no config file)");
	decl_start(n);
}

/* ------------------------------------------------------------------ */
/* /metrics                                                            */

/* The metrics listener's thread: the kernel's counters, then ours, under the lock. */
static void render_metrics(FILE *f, void *arg)
{
	struct rcd_node *n = arg;
	struct rc_snapshot s;
	struct rc_err err;

	if (rc_snapshot_take(&s, &err))
		memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&n->lock);
	write_metrics(f, n, &s, true);
	pthread_mutex_unlock(&n->lock);
	rc_snapshot_free(&s);
}

static int http_listen(struct rcd_node *n)
{
	struct rc_metrics_server_cfg cfg = {
		.listen = n->cfg->metrics_listen,
		.max_conns = n->cfg->metrics_max_conns,
		.idle_timeout_ms = n->cfg->metrics_idle_timeout_s * 1000,
		.render = render_metrics,
		.arg = n,
	};
	struct rc_err err;

	if (rc_metrics_server_start(&n->http, &cfg, &err)) {
		rc_err("%s", err.msg);
		return -1;
	}
	rc_info("serving metrics at http://%s/metrics (at most %u connections, %u s each)",
		rc_metrics_server_addr(n->http), cfg.max_conns,
		n->cfg->metrics_idle_timeout_s);
	return 0;
}

/* ------------------------------------------------------------------ */

int rcd_node_start(struct rcd_node **out, const struct rcd_config *cfg, struct rc_loop *loop)
{
	struct rcd_node *n = calloc(1, sizeof(*n));

	*out = n;
	if (!n)
		return -1;
	n->cfg = cfg;
	n->loop = loop;
	pthread_mutex_init(&n->lock, NULL);
	n->timer_w.fd = n->decl_w.fd = -1;
	if (n->cfg->sysfs_root[0])
		rc_topo_set_root(n->cfg->sysfs_root);
	if (n->cfg->report_file[0])
		snprintf(n->report_path, sizeof(n->report_path), "%s", n->cfg->report_file);
	else
		snprintf(n->report_path, sizeof(n->report_path), "%s/devices.json",
			 n->cfg->runtime_dir);
	n->timer_w = (struct rc_watch){ timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
					on_timer, n };
	n->decl_w = (struct rc_watch){ eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), on_decl_done, n };
	if (n->timer_w.fd < 0 || n->decl_w.fd < 0 ||
	    rc_loop_watch(loop, &n->timer_w, EPOLLIN, false) ||
	    rc_loop_watch(loop, &n->decl_w, EPOLLIN, false)) {
		rc_err("node reporting: %s", strerror(errno));
		return -1;
	}
	if (cfg->metrics_listen[0] && http_listen(n))
		return -1;
	node_report(n, true);
	arm_timer(n, cfg->report_interval_s * 1000ULL);
	decl_start(n);
	return 0;
}

bool rcd_node_stop(struct rcd_node *n)
{
	bool worker_left = false;

	if (!n)
		return false;
	n->stopping = true;
	rc_metrics_server_stop(n->http);
	if (n->job) {
		/* an origin probe may take long: it ends with the process */
		pthread_detach(n->worker);
		n->job = NULL;
		worker_left = true;
	}
	if (n->report_path[0])
		node_report(n, false);
	if (n->timer_w.fd >= 0)
		close(n->timer_w.fd);
	/* decl_w stays open: a detached worker may still write to it */
	rc_decls_free(&n->decls);
	rc_decl_results_free(&n->results);
	rc_metrics_free(&n->metrics);
	pthread_mutex_destroy(&n->lock);
	free(n);
	return worker_left;
}
