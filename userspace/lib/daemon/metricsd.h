/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The /metrics HTTP listener, on a thread of its own: a scrape (which asks
 * the kernel for every device's status) or a client that connects and then
 * says nothing never holds up the fill loop.  At most max_conns connections
 * are open at once: beyond that the one that has waited longest without
 * sending a full request is closed for the newcomer, so idle connections
 * cannot lock a scraper out; and each connection must have sent its request
 * and taken the answer within idle_timeout_ms, or it is closed.
 */
#ifndef RCACHE_METRICSD_H
#define RCACHE_METRICSD_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

#define RC_METRICS_DEFAULT_HOST		"127.0.0.1"
#define RC_METRICS_MAX_CONNS		16
#define RC_METRICS_IDLE_TIMEOUT_S	10

struct rc_metrics_server;

struct rc_metrics_server_cfg {
	const char *listen;		/* see rc_metrics_parse_listen() */
	unsigned int max_conns;
	unsigned int idle_timeout_ms;
	/* writes the body of /metrics; runs on the server's thread */
	void (*render)(FILE *f, void *arg);
	void *arg;
};

/*
 * "HOST:PORT", "[V6ADDR]:PORT", ":PORT" or "PORT": the last two bind
 * 127.0.0.1; every other address must be named (0.0.0.0 for all).
 */
int rc_metrics_parse_listen(const char *listen, char *host, size_t hostlen, char *port,
			    size_t portlen, struct rc_err *err);
int rc_metrics_server_start(struct rc_metrics_server **out,
			    const struct rc_metrics_server_cfg *cfg, struct rc_err *err);
/* The address it listens on, "HOST:PORT" (port 0 asked: the one given). */
const char *rc_metrics_server_addr(const struct rc_metrics_server *s);
/* Stops and joins the thread, closes every connection. */
void rc_metrics_server_stop(struct rc_metrics_server *s);

#endif
