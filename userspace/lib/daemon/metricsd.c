// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/metricsd.h"
#include "common/util.h"

#define HTTP_MAX_REQUEST 8192

struct conn {
	int fd;
	uint64_t deadline_ns;	/* request read and answer written by then */
	uint64_t accepted_ns;
	char in[HTTP_MAX_REQUEST];
	size_t in_len;
	char *out;		/* the answer, once the request is in */
	size_t out_len, out_off;
};

struct rc_metrics_server {
	struct rc_metrics_server_cfg cfg;
	int listen_fd;
	int stop_fd;		/* eventfd: stop() wakes the thread */
	pthread_t thread;
	char addr[128];
	struct conn **conns;	/* max_conns slots */
	unsigned int nconns;
	uint64_t evicted, timed_out;
};

int rc_metrics_parse_listen(const char *listen, char *host, size_t hostlen, char *port,
			    size_t portlen, struct rc_err *err)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen, *p = colon ? colon + 1 : listen;
	size_t hl = colon ? (size_t)(colon - listen) : 0;

	if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || atoi(p) > 65535)
		return rc_errf(err, EINVAL, "metrics_listen %s: expected HOST:PORT, :PORT or PORT",
			       listen);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (!hl) {
		h = RC_METRICS_DEFAULT_HOST;
		hl = strlen(h);
	}
	if (hl >= hostlen || strlen(p) >= portlen)
		return rc_errf(err, EINVAL, "metrics_listen %s: too long", listen);
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%s", p);
	return 0;
}

static void conn_close(struct rc_metrics_server *s, unsigned int i)
{
	struct conn *c = s->conns[i];

	close(c->fd);
	free(c->out);
	free(c);
	s->conns[i] = s->conns[--s->nconns];
}

/* Builds the answer to the request in c->in. */
static void respond(struct rc_metrics_server *s, struct conn *c)
{
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	char *body = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&body, &blen);

	if (!f)
		return;
	if (!strncmp(c->in, "GET /metrics ", 13) || !strncmp(c->in, "GET /metrics?", 13)) {
		s->cfg.render(f, s->cfg.arg);
	} else if (!strncmp(c->in, "GET / ", 6)) {
		ctype = "text/html";
		fprintf(f, "<html><body><a href=\"/metrics\">rcached metrics</a></body></html>\n");
	} else if (!strncmp(c->in, "GET ", 4)) {
		status = "404 Not Found";
		fprintf(f, "not found: try /metrics\n");
	} else {
		status = "405 Method Not Allowed";
		fprintf(f, "GET only\n");
	}
	fclose(f);
	f = open_memstream(&c->out, &c->out_len);
	if (!f) {
		free(body);
		return;
	}
	fprintf(f, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", status, ctype, blen);
	fwrite(body, 1, blen, f);
	fclose(f);
	free(body);
	c->out_off = 0;
}

/* Reads or writes what the socket allows; false: the connection is done. */
static bool conn_io(struct rc_metrics_server *s, struct conn *c, short revents)
{
	ssize_t r;

	if (!c->out) {
		if (revents & (POLLERR | POLLHUP) && !(revents & POLLIN))
			return false;
		r = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (r <= 0)
			return false;
		c->in_len += r;
		c->in[c->in_len] = '\0';
		if (!strstr(c->in, "\r\n\r\n") && !strstr(c->in, "\n\n") &&
		    c->in_len < sizeof(c->in) - 1)
			return true;
		respond(s, c);
		if (!c->out)
			return false;
	}
	while (c->out_off < c->out_len) {
		r = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return true;
		if (r <= 0)
			return false;
		c->out_off += r;
	}
	return false;
}

/*
 * A new connection when all slots are taken: the one that has waited
 * longest without a full request makes room; when every one is being
 * answered, the newcomer is turned away.
 */
static bool make_room(struct rc_metrics_server *s)
{
	unsigned int i, victim = s->nconns;

	for (i = 0; i < s->nconns; i++)
		if (!s->conns[i]->out &&
		    (victim == s->nconns || s->conns[i]->accepted_ns < s->conns[victim]->accepted_ns))
			victim = i;
	if (victim == s->nconns)
		return false;
	conn_close(s, victim);
	s->evicted++;
	return true;
}

static void accept_all(struct rc_metrics_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		if (s->nconns == s->cfg.max_conns && !make_room(s)) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->accepted_ns = rc_now_ns();
		c->deadline_ns = c->accepted_ns + s->cfg.idle_timeout_ms * 1000000ULL;
		s->conns[s->nconns++] = c;
	}
}

static void *server_main(void *arg)
{
	struct rc_metrics_server *s = arg;
	struct pollfd *pfd = calloc(s->cfg.max_conns + 2, sizeof(*pfd));

	if (!pfd) {
		rc_err("metrics: out of memory; not serving");
		return NULL;
	}
	for (;;) {
		uint64_t now = rc_now_ns(), next = UINT64_MAX;
		unsigned int i, n;
		int timeout, r;

		/* the ones past their time go first */
		for (i = 0; i < s->nconns;) {
			if (s->conns[i]->deadline_ns <= now) {
				conn_close(s, i);
				s->timed_out++;
				continue;
			}
			if (s->conns[i]->deadline_ns < next)
				next = s->conns[i]->deadline_ns;
			i++;
		}
		pfd[0] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (i = 0; i < s->nconns; i++)
			pfd[i + 2] = (struct pollfd){ .fd = s->conns[i]->fd,
						      .events = s->conns[i]->out ? POLLOUT : POLLIN };
		n = s->nconns;
		timeout = next == UINT64_MAX ? -1 : (int)((next - now) / 1000000ULL) + 1;
		r = poll(pfd, n + 2, timeout);
		if (r < 0 && errno != EINTR) {
			rc_err("metrics: poll: %s; not serving", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		if (pfd[0].revents)
			break;
		/* backwards: conn_close() moves the last connection into the gap */
		for (i = n; i-- > 0;)
			if (pfd[i + 2].revents && !conn_io(s, s->conns[i], pfd[i + 2].revents))
				conn_close(s, i);
		if (pfd[1].revents)
			accept_all(s);
	}
	free(pfd);
	return NULL;
}

int rc_metrics_server_start(struct rc_metrics_server **out,
			    const struct rc_metrics_server_cfg *cfg, struct rc_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	struct rc_metrics_server *s;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char host[128], port[16], name[INET6_ADDRSTRLEN];
	int one = 1, r;

	*out = NULL;
	if (rc_metrics_parse_listen(cfg->listen, host, sizeof(host), port, sizeof(port), err))
		return -EINVAL;
	if (!cfg->max_conns || !cfg->idle_timeout_ms || !cfg->render)
		return rc_errf(err, EINVAL, "metrics: a connection cap and an idle timeout are needed");
	r = getaddrinfo(host, port, &hints, &ai);
	if (r)
		return rc_errf(err, EINVAL, "metrics_listen %s: %s", cfg->listen, gai_strerror(r));
	s = calloc(1, sizeof(*s));
	if (!s || !(s->conns = calloc(cfg->max_conns, sizeof(*s->conns)))) {
		freeaddrinfo(ai);
		free(s);
		return rc_errf(err, ENOMEM, "out of memory");
	}
	s->cfg = *cfg;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd >= 0)
		setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->stop_fd < 0 || s->listen_fd < 0 || bind(s->listen_fd, ai->ai_addr, ai->ai_addrlen) ||
	    listen(s->listen_fd, 64) || getsockname(s->listen_fd, (struct sockaddr *)&sa, &salen)) {
		r = rc_errf(err, errno, "metrics_listen %s: %s", cfg->listen, strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	ai = NULL;
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &a6->sin6_addr, name, sizeof(name));
		snprintf(s->addr, sizeof(s->addr), "[%s]:%u", name, ntohs(a6->sin6_port));
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &a4->sin_addr, name, sizeof(name));
		snprintf(s->addr, sizeof(s->addr), "%s:%u", name, ntohs(a4->sin_port));
	}
	r = pthread_create(&s->thread, NULL, server_main, s);
	if (r) {
		r = rc_errf(err, r, "metrics: cannot start a thread: %s", strerror(r));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (ai)
		freeaddrinfo(ai);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->conns);
	free(s);
	return r;
}

const char *rc_metrics_server_addr(const struct rc_metrics_server *s)
{
	return s->addr;
}

void rc_metrics_server_stop(struct rc_metrics_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		rc_warn("metrics: cannot wake the listener thread: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	while (s->nconns)
		conn_close(s, 0);
	close(s->listen_fd);
	close(s->stop_fd);
	free(s->conns);
	free(s);
}
