// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

#define JSON_MAX_DEPTH 32

struct parser {
	const char *s, *p;
	struct rc_err *err;
	int depth;
};

static int fail(struct parser *ps, const char *what)
{
	return rc_errf(ps->err, EINVAL, "JSON: %s at byte %ld", what, (long)(ps->p - ps->s));
}

static void ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int hex4(const char *p, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote; a malloc'd, decoded copy. */
static char *string(struct parser *ps)
{
	const char *p = ps->p + 1;
	size_t n = 0;
	char *out, *o;

	/* an upper bound of the decoded size */
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			p++;
		p++;
		n++;
	}
	if (*p != '"') {
		fail(ps, "unterminated string");
		return NULL;
	}
	out = o = malloc(n * 4 + 1);
	if (!out) {
		rc_errf(ps->err, ENOMEM, "out of memory");
		return NULL;
	}
	p = ps->p + 1;
	while (*p != '"') {
		unsigned int cp, lo;

		if ((unsigned char)*p < 0x20) {
			ps->p = p;
			fail(ps, "control character in string");
			free(out);
			return NULL;
		}
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case '"': case '\\': case '/':
			*o++ = *p;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(p + 1, &cp))
				goto bad;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u' &&
			    !hex4(p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (cp == 0)
				goto bad;
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
		p++;
	}
	*o = '\0';
	ps->p = p + 1;
	return out;
bad:
	ps->p = p;
	fail(ps, "bad escape in string");
	free(out);
	return NULL;
}

static struct rc_json *value(struct parser *ps);

static struct rc_json *node(enum rc_json_type type)
{
	struct rc_json *j = calloc(1, sizeof(*j));

	if (j)
		j->type = type;
	return j;
}

static struct rc_json *container(struct parser *ps, bool obj)
{
	struct rc_json *j = node(obj ? RC_JSON_OBJ : RC_JSON_ARR), **tail;
	char close = obj ? '}' : ']';

	if (!j)
		return NULL;
	if (++ps->depth > JSON_MAX_DEPTH) {
		fail(ps, "nested too deep");
		free(j);
		return NULL;
	}
	tail = &j->child;
	ps->p++;
	ws(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return j;
	}
	for (;;) {
		struct rc_json *v;
		char *key = NULL;

		ws(ps);
		if (obj) {
			if (*ps->p != '"') {
				fail(ps, "expected a member name");
				goto bad;
			}
			key = string(ps);
			if (!key)
				goto bad;
			ws(ps);
			if (*ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				goto bad;
			}
			ps->p++;
		}
		v = value(ps);
		if (!v) {
			free(key);
			goto bad;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			break;
		}
		fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto bad;
	}
	ps->depth--;
	return j;
bad:
	rc_json_free(j);
	return NULL;
}

static struct rc_json *value(struct parser *ps)
{
	struct rc_json *j;
	char *end;

	ws(ps);
	switch (*ps->p) {
	case '{':
		return container(ps, true);
	case '[':
		return container(ps, false);
	case '"':
		j = node(RC_JSON_STR);
		if (j && !(j->str = string(ps))) {
			free(j);
			return NULL;
		}
		return j;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
			j = node(RC_JSON_BOOL);
			if (j)
				j->b = *ps->p == 't';
			ps->p += *ps->p == 't' ? 4 : 5;
			return j;
		}
		if (!strncmp(ps->p, "null", 4)) {
			ps->p += 4;
			return node(RC_JSON_NULL);
		}
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			double v = strtod(ps->p, &end);

			if (end == ps->p)
				break;
			ps->p = end;
			j = node(RC_JSON_NUM);
			if (j)
				j->num = v;
			return j;
		}
	}
	fail(ps, "unexpected character");
	return NULL;
}

struct rc_json *rc_json_parse(const char *text, struct rc_err *err)
{
	struct parser ps = { text, text, err, 0 };
	struct rc_json *j = value(&ps);

	if (!j)
		return NULL;
	ws(&ps);
	if (*ps.p) {
		fail(&ps, "trailing data");
		rc_json_free(j);
		return NULL;
	}
	return j;
}

void rc_json_free(struct rc_json *j)
{
	while (j) {
		struct rc_json *next = j->next;

		rc_json_free(j->child);
		free(j->key);
		free(j->str);
		free(j);
		j = next;
	}
}

const struct rc_json *rc_json_get(const struct rc_json *obj, const char *key)
{
	const struct rc_json *c;

	if (!obj || obj->type != RC_JSON_OBJ)
		return NULL;
	for (c = obj->child; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

const char *rc_json_get_str(const struct rc_json *obj, const char *key, const char *dflt)
{
	const struct rc_json *v = rc_json_get(obj, key);

	return v && v->type == RC_JSON_STR ? v->str : dflt;
}

double rc_json_get_num(const struct rc_json *obj, const char *key, double dflt)
{
	const struct rc_json *v = rc_json_get(obj, key);

	return v && v->type == RC_JSON_NUM ? v->num : dflt;
}

bool rc_json_get_bool(const struct rc_json *obj, const char *key, bool dflt)
{
	const struct rc_json *v = rc_json_get(obj, key);

	return v && v->type == RC_JSON_BOOL ? v->b : dflt;
}
