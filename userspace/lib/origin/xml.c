// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <expat.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin/xml.h"

/* expat hands names over as "URI\nlocal"; '\n' is never part of a name */
static const XML_Char ns_separator[] = "\n";

/* One wanted element: its path, and how far the open elements follow it. */
struct wanted {
	const char *name[RC_XML_MAX_DEPTH];
	size_t name_len[RC_XML_MAX_DEPTH];
	unsigned int names;
	unsigned int matched;	/* the first open elements that match the path */
	size_t len;		/* bytes of text in ->out */
	bool inside;		/* the wanted element is open */
	bool done;		/* and closed again: later ones are ignored */
};

struct reader {
	XML_Parser parser;
	struct rc_xml_want *want;
	struct wanted w[RC_XML_MAX_WANT];
	size_t n;
	unsigned int depth;	/* elements open */
	bool doctype;
};

/* The buffers hold the body (secrets, for STS): wiped before they go back. */
static void *wiped_malloc(size_t size)
{
	return malloc(size);
}

static void wiped_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *wiped_realloc(void *p, size_t size)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q;

	if (!size) {
		wiped_free(p);
		return NULL;
	}
	q = malloc(size);
	if (q && p) {
		memcpy(q, p, old < size ? old : size);
		wiped_free(p);
	}
	return q;
}

static const XML_Memory_Handling_Suite wiped_memory = {
	.malloc_fcn = wiped_malloc,
	.realloc_fcn = wiped_realloc,
	.free_fcn = wiped_free,
};

static int split_path(const char *path, struct wanted *w)
{
	const char *p = path;

	memset(w, 0, sizeof(*w));
	while (*p) {
		size_t len = strcspn(p, "/");

		if (!len || w->names == RC_XML_MAX_DEPTH)
			return -EINVAL;
		w->name[w->names] = p;
		w->name_len[w->names++] = len;
		p += len;
		if (*p == '/' && !*++p)
			return -EINVAL;
	}
	return w->names ? 0 : -EINVAL;
}

static void on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct reader *r = arg;
	const char *local = strrchr(name, ns_separator[0]);
	size_t len, i;

	(void)attrs;
	local = local ? local + 1 : name;
	len = strlen(local);
	for (i = 0; i < r->n; i++) {
		struct wanted *w = &r->w[i];

		/* each open element so far on the path, and this one next on it */
		if (w->done || w->matched != r->depth || r->depth >= w->names ||
		    len != w->name_len[r->depth] || memcmp(local, w->name[r->depth], len))
			continue;
		if (++w->matched == w->names) {
			w->inside = true;
			r->want[i].found = true;
		}
	}
	r->depth++;
}

static void on_end(void *arg, const XML_Char *name)
{
	struct reader *r = arg;
	size_t i;

	(void)name;
	r->depth--;
	for (i = 0; i < r->n; i++) {
		struct wanted *w = &r->w[i];

		if (w->done || w->matched != r->depth + 1)
			continue;
		w->matched--;
		if (w->inside) {
			w->inside = false;
			w->done = true;
		}
	}
}

/* Appends what fits, cut on a UTF-8 character boundary. */
static void append(struct rc_xml_want *want, struct wanted *w, const char *s, size_t len)
{
	size_t room = want->outlen - 1 - w->len;

	if (want->cut)
		return;
	if (len > room) {
		/* s[room] is the first byte left out: not the middle of a character */
		while (room && ((unsigned char)s[room] & 0xc0) == 0x80)
			room--;
		len = room;
		want->cut = true;
	}
	memcpy(want->out + w->len, s, len);
	w->len += len;
	want->out[w->len] = '\0';
}

static void on_text(void *arg, const XML_Char *s, int len)
{
	struct reader *r = arg;
	size_t i;

	for (i = 0; i < r->n; i++) {
		/* the element's own text: not that of an element inside it */
		if (r->w[i].inside && r->depth == r->w[i].names)
			append(&r->want[i], &r->w[i], s, len);
	}
}

/* No DTD: nothing to declare, expand or fetch an entity with. */
static void on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal_subset)
{
	struct reader *r = arg;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	r->doctype = true;
	XML_StopParser(r->parser, XML_FALSE);
}

int rc_xml_read(const char *body, size_t len, bool whole, struct rc_xml_want *want, size_t n,
		char *why, size_t whylen)
{
	struct reader r = { .want = want, .n = n };
	int ret = 0;
	size_t i;

	if (whylen)
		why[0] = '\0';
	if (n > RC_XML_MAX_WANT)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!want[i].outlen || split_path(want[i].path, &r.w[i]))
			return -EINVAL;
		want[i].out[0] = '\0';
		want[i].found = want[i].cut = false;
	}
	if (len > RC_XML_MAX_BODY) {
		len = RC_XML_MAX_BODY;
		whole = false;
	}
	r.parser = XML_ParserCreate_MM(NULL, &wiped_memory, ns_separator);
	if (!r.parser)
		return -ENOMEM;
	XML_SetUserData(r.parser, &r);
	XML_SetElementHandler(r.parser, on_start, on_end);
	XML_SetCharacterDataHandler(r.parser, on_text);
	XML_SetStartDoctypeDeclHandler(r.parser, on_doctype);
	XML_SetParamEntityParsing(r.parser, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(r.parser, body, (int)len, whole) != XML_STATUS_OK) {
		if (r.doctype)
			snprintf(why, whylen, "a DTD (<!DOCTYPE ...>) is not accepted");
		else
			snprintf(why, whylen, "%s at line %llu",
				 XML_ErrorString(XML_GetErrorCode(r.parser)),
				 (unsigned long long)XML_GetCurrentLineNumber(r.parser));
		for (i = 0; i < n; i++) {
			explicit_bzero(want[i].out, want[i].outlen);
			want[i].found = want[i].cut = false;
		}
		ret = -EBADMSG;
	} else {
		for (i = 0; i < n; i++)
			want[i].cut |= r.w[i].inside;	/* the body ended inside it */
	}
	XML_ParserFree(r.parser);
	return ret;
}

void rc_xml_one_line(char *out, size_t outlen, const char *s, bool cut)
{
	size_t len = strlen(s), keep, n;

	cut |= len >= outlen;
	keep = !cut || len + 4 <= outlen ? len : outlen - 4;
	while (keep < len && keep && ((unsigned char)s[keep] & 0xc0) == 0x80)
		keep--;		/* not in the middle of a character */
	for (n = 0; n < keep; n++)
		out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
	snprintf(out + n, outlen - n, "%s", cut ? "..." : "");
}
