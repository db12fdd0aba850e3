// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/*
 * How many bytes of @s, from the start, are valid UTF-8.  glibc's decoder
 * does the work: converting to UTF-16 fails at an overlong form, a
 * surrogate, a code point past U+10FFFF (none fits UTF-16) or a cut-off
 * sequence.  json-c's own check lets the first three through.
 */
static size_t utf8_valid_prefix(const char *s, size_t len)
{
	char *in = (char *)s, scratch[1024];
	size_t left = len, i;
	iconv_t cd;

	for (i = 0; i < len && !(s[i] & 0x80); i++)
		;
	if (i == len)
		return len;	/* ASCII */
	cd = iconv_open("UTF-16LE", "UTF-8");
	if (cd == (iconv_t)-1)
		return len;	/* glibc always has UTF-8; nothing better to do */
	while (left) {
		char *out = scratch;
		size_t room = sizeof(scratch);

		if (iconv(cd, &in, &left, &out, &room) != (size_t)-1 || errno != E2BIG)
			break;
	}
	iconv_close(cd);
	return (size_t)(in - s);
}

struct json_object *rc_json_parse(const char *text, size_t len, struct rc_err *err)
{
	const char *nul = memchr(text, '\0', len);
	struct json_tokener *tok;
	struct json_object *j;
	enum json_tokener_error why;

	if (nul) {
		rc_errf(err, EINVAL, "JSON: NUL byte at byte %zu", (size_t)(nul - text));
		return NULL;
	}
	if (len > INT32_MAX) {
		rc_errf(err, EFBIG, "JSON: %zu bytes is too large", len);
		return NULL;
	}
	tok = json_tokener_new_ex(RC_JSON_MAX_DEPTH);
	if (!tok) {
		rc_errf(err, ENOMEM, "JSON: out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, text, (int)len);
	why = json_tokener_get_error(tok);
	if (!j && why == json_tokener_continue) {
		/* all of @text read: an end of input completes a number, or is an error */
		j = json_tokener_parse_ex(tok, "", 1);
		why = json_tokener_get_error(tok);
		if (!j) {
			rc_errf(err, EINVAL, "JSON: %s at byte %zu (truncated?)",
				json_tokener_error_desc(why), len);
			json_tokener_free(tok);
			return NULL;
		}
	}
	if (!j)
		rc_errf(err, EINVAL, "JSON: %s at byte %zu", json_tokener_error_desc(why),
			json_tokener_get_parse_end(tok));
	json_tokener_free(tok);
	return j;
}

static const char *type_name(enum json_type type)
{
	switch (type) {
	case json_type_boolean: return "true or false";
	case json_type_double: return "a number";
	case json_type_int: return "an integer";
	case json_type_string: return "a string";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	default: return "null";
	}
}

/* Member @key: 1 when absent or null, -1 when not of @type, else 0 with *out. */
static int member(struct json_object *obj, const char *key, enum json_type type,
		  struct json_object **out, struct rc_err *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 1;
	if (!json_object_is_type(v, type) &&
	    !(type == json_type_double && json_object_is_type(v, json_type_int)))
		return rc_errf(err, EINVAL, "%s: expected %s, got %s", key, type_name(type),
			       json_type_to_name(json_object_get_type(v)));
	*out = v;
	return 0;
}

int rc_json_get_str(struct json_object *obj, const char *key, const char **out,
		    struct rc_err *err)
{
	struct json_object *v;
	const char *s;
	size_t len, ok;
	int r = member(obj, key, json_type_string, &v, err);

	if (r)
		return r;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return rc_errf(err, EINVAL, "%s: NUL character at byte %zu of the string", key,
			       strlen(s));
	ok = utf8_valid_prefix(s, len);
	if (ok != len)
		return rc_errf(err, EILSEQ, "%s: not UTF-8 at byte %zu of the string", key, ok);
	*out = s;
	return 0;
}

int rc_json_get_bool(struct json_object *obj, const char *key, bool *out, struct rc_err *err)
{
	struct json_object *v;
	int r = member(obj, key, json_type_boolean, &v, err);

	if (!r)
		*out = json_object_get_boolean(v);
	return r;
}

int rc_json_get_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
		    int64_t *out, struct rc_err *err)
{
	struct json_object *v;
	int64_t n;
	int r = member(obj, key, json_type_int, &v, err);

	if (r)
		return r;
	/* an integer past INT64_MAX is held as uint64 and reads here as INT64_MAX */
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < min || n > max || (n == INT64_MAX && json_object_get_uint64(v) > INT64_MAX))
		return rc_errf(err, ERANGE, "%s: %s is out of range (%" PRId64 " to %" PRId64 ")",
			       key, json_object_to_json_string(v), min, max);
	*out = n;
	return 0;
}

int rc_json_get_u64(struct json_object *obj, const char *key, uint64_t *out, struct rc_err *err)
{
	struct json_object *v;
	uint64_t n;
	int r = member(obj, key, json_type_int, &v, err);

	if (r)
		return r;
	errno = 0;
	n = json_object_get_uint64(v);
	if (errno || json_object_get_int64(v) < 0)
		return rc_errf(err, ERANGE, "%s: %s is out of range (0 to %" PRIu64 ")", key,
			       json_object_to_json_string(v), UINT64_MAX);
	*out = n;
	return 0;
}

int rc_json_get_double(struct json_object *obj, const char *key, double *out,
		       struct rc_err *err)
{
	struct json_object *v;
	double d;
	int r = member(obj, key, json_type_double, &v, err);

	if (r)
		return r;
	d = json_object_get_double(v);
	if (!isfinite(d))
		return rc_errf(err, ERANGE, "%s: %s is not a finite number", key,
			       json_object_to_json_string(v));
	*out = d;
	return 0;
}

int rc_json_get_array(struct json_object *obj, const char *key, struct json_object **out,
		      struct rc_err *err)
{
	return member(obj, key, json_type_array, out, err);
}

struct json_object *rc_json_string(const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */
	size_t len = s ? strlen(s) : 0, ok;
	struct json_object *j;
	char *clean, *o;

	if (!s)
		return json_object_new_string("");
	ok = utf8_valid_prefix(s, len);
	if (ok == len)
		return json_object_new_string_len(s, (int)len);
	/* worst case: every byte replaced */
	clean = o = malloc(len * 3 + 1);
	if (!clean)
		return NULL;
	while (len) {
		memcpy(o, s, ok);
		o += ok;
		s += ok;
		len -= ok;
		if (!len)
			break;
		memcpy(o, replacement, 3);
		o += 3;
		s++;
		len--;
		ok = utf8_valid_prefix(s, len);
	}
	j = json_object_new_string_len(clean, (int)(o - clean));
	free(clean);
	return j;
}

struct json_object *rc_json_fixed(double v, int decimals)
{
	char text[64];

	snprintf(text, sizeof(text), "%.*f", decimals, v);
	return json_object_new_double_s(v, text);
}

int rc_json_print(FILE *f, struct json_object *j)
{
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);

	return text && fputs(text, f) >= 0 ? 0 : -1;
}
