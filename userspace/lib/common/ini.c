// SPDX-License-Identifier: GPL-2.0-only
/*
 * The INI files of ini.h, parsed by inih.
 *
 * Line length.  Debian's libinih (55) is built with inih's defaults: a
 * 200-byte line buffer on the stack.  A longer line is cut there, silently,
 * and its rest is parsed as the next line: a 252-byte session token came
 * back as its first 179 bytes, with no error, and its tail (ending in "==")
 * as a key of its own.  Debian's build turns those settings into run-time
 * variables (ini_max_line, ini_use_stack, ini_allow_realloc: declared in
 * its <ini.h>; inih upstream has compile-time macros only), so we set them
 * once, before the first parse: a heap line buffer that grows as needed up to
 * RC_INI_MAX_FILE + 3 bytes.  Files larger than RC_INI_MAX_FILE are refused,
 * so no line can reach the limit and be cut.
 *
 * The reader.  The file is read into memory first, to refuse NUL bytes (inih
 * would take one as the end of its line) and invalid UTF-8, and is handed to
 * ini_parse_stream() through a reader of ours.  inih still does all the
 * parsing; the reader only watches the lines go by: it knows the number of the
 * line of each key (Debian's inih does not pass it to the handler) and the
 * last section header.  That matters because inih keeps at most 49 bytes of a
 * section name (a fixed buffer, not a setting): a longer name ("[profile
 * PowerUserAccess-123456789012-eu-central-1]", "[device NAME]" of up to 127
 * bytes) is taken whole from the header line inih has just accepted, as the
 * text between its '[' and the first ']' (which is what inih copies); inih's
 * cut copy must be its start.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <ini.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ini.h"

/* inih copies a section name into char[MAX_SECTION = 50] */
#define INIH_SECTION_KEPT 49

struct seen {			/* a key of a section, or a section (key NULL) */
	const char *section, *key;
	int line;
};

struct ini_parse {
	struct rc_ini *ini;
	struct rc_err *err;
	bool aws;		/* each section at most once */
	bool failed;		/* the handler refused a line: err says why */
	int cap;		/* of ini->e */
	/* the reader */
	const char *buf;
	size_t len, pos;
	int lineno;		/* of the line handed to inih last */
	bool at_line_start;
	const char *line;	/* its first byte */
	const char *header;	/* the last section header line, after its '[' */
	int header_line;
	int block_line;		/* header_line when the previous key came */
	void *keys, *sections;	/* tsearch trees of struct seen */
};

static pthread_once_t inih_once = PTHREAD_ONCE_INIT;

static void inih_settings(void)
{
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = RC_INI_MAX_FILE + 3;	/* + '\r', '\n', '\0' */
	/* an indented "key = value" is a key, not the previous value's continuation */
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;	/* " ;" after a value: Debian's default */
	ini_stop_on_first_error = true;
}

static int line_of(const char *buf, const char *at)
{
	int n = 1;

	for (; buf < at; buf++)
		n += *buf == '\n';
	return n;
}

/* The first byte inih looks at on the line at @s: after a UTF-8 BOM on line 1, and blanks. */
static const char *first_char(const struct ini_parse *p, const char *s, int lineno)
{
	const char *end = p->buf + p->len;

	if (lineno == 1 && end - s >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (s < end && *s != '\n' && isspace((unsigned char)*s))
		s++;
	return s < end ? s : NULL;
}

/* Called by the reader as a line starts: its number, and whether inih will take it as a header. */
static void start_line(struct ini_parse *p)
{
	const char *s;

	p->lineno++;
	p->line = p->buf + p->pos;
	s = first_char(p, p->line, p->lineno);
	if (s && *s == '[') {		/* inih's own test for a header */
		p->header = s + 1;
		p->header_line = p->lineno;
	}
}

/* inih's ini_reader: fgets over the file in memory (num is inih's buffer, which grows) */
static char *next_line(char *str, int num, void *stream)
{
	struct ini_parse *p = stream;
	const char *s, *eol;
	size_t n;

	if (p->pos >= p->len || num < 2)
		return NULL;
	if (p->at_line_start)
		start_line(p);
	s = p->buf + p->pos;
	eol = memchr(s, '\n', p->len - p->pos);
	n = eol ? (size_t)(eol - s) + 1 : p->len - p->pos;
	if (n > (size_t)num - 1)
		n = num - 1;	/* inih grows its buffer and asks for the rest */
	memcpy(str, s, n);
	str[n] = '\0';
	p->pos += n;
	p->at_line_start = str[n - 1] == '\n';
	return str;
}

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int r = strcmp(x->section, y->section);

	if (r || !x->key)
		return r;
	return strcasecmp(x->key, y->key);
}

static int refuse(struct ini_parse *p, int code, const char *why)
{
	rc_errf(p->err, code, "%s: line %d: %s", p->ini->path, p->lineno, why);
	p->failed = true;
	return 0;
}

/* The whole name of the section of the current key, trimmed; NULL when out of memory. */
static char *section_name(struct ini_parse *p, const char *kept)
{
	size_t n = strlen(kept);
	const char *name = kept, *close = NULL;

	if (n >= INIH_SECTION_KEPT && p->header) {
		const char *end = memchr(p->header, '\n', p->buf + p->len - p->header);

		close = memchr(p->header, ']', (end ? end : p->buf + p->len) - p->header);
		if (close && (size_t)(close - p->header) >= n && !memcmp(p->header, kept, n)) {
			name = p->header;
			n = close - p->header;
		}
	}
	while (n && isspace((unsigned char)*name))
		name++, n--;
	while (n && isspace((unsigned char)name[n - 1]))
		n--;
	return strndup(name, n);
}

/* '#' that starts the value or follows a blank: meant as a comment, which inih does not see */
static bool hash_comment(const char *value)
{
	const char *s;

	for (s = strchr(value, '#'); s; s = strchr(s + 1, '#'))
		if (s == value || isspace((unsigned char)s[-1]))
			return true;
	return false;
}

/* A section seen again: AWS files allow each once (the AWS CLI refuses a repeat). */
static int check_section(struct ini_parse *p, const char *section)
{
	struct seen *s, **found;

	p->block_line = p->header_line;
	s = malloc(sizeof(*s) + strlen(section) + 1);
	if (!s)
		return refuse(p, ENOMEM, "out of memory");
	s->section = strcpy((char *)(s + 1), section);
	s->key = NULL;
	s->line = p->header_line;
	found = tsearch(s, &p->sections, seen_cmp);
	if (!found) {
		free(s);
		return refuse(p, ENOMEM, "out of memory");
	}
	if (*found == s)
		return 1;
	free(s);
	rc_errf(p->err, EINVAL, "%s: line %d: [%.200s] appears again (first at line %d); an AWS file has each section once",
		p->ini->path, p->header_line, section, (*found)->line);
	p->failed = true;
	return 0;
}

static int add_entry(struct ini_parse *p, char *section, const char *key, const char *value)
{
	struct rc_ini *ini = p->ini;
	struct rc_ini_entry *e;

	if (ini->n == p->cap) {
		struct rc_ini_entry *bigger;

		p->cap = p->cap ? p->cap * 2 : 32;
		bigger = realloc(ini->e, p->cap * sizeof(*bigger));
		if (!bigger) {
			free(section);
			return -ENOMEM;
		}
		ini->e = bigger;
	}
	e = &ini->e[ini->n];
	e->section = section;
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = p->lineno;
	ini->n++;	/* rc_ini_free frees what is there */
	return e->key && e->value ? 0 : -ENOMEM;
}

/* inih's handler: one "key = value" line; nonzero to go on */
static int on_key(void *user, const char *kept_section, const char *key, const char *value)
{
	struct ini_parse *p = user;
	struct seen *s, **found;
	char why[400], *section;

	if (p->failed)
		return 0;
	if (!*key)
		return refuse(p, EINVAL, "a key is missing before '='");
	if (!*kept_section) {
		snprintf(why, sizeof(why), "%.200s is outside a [section]", key);
		return refuse(p, EINVAL, why);
	}
	if (hash_comment(value)) {
		snprintf(why, sizeof(why),
			 "%.200s: '#' in the value: a comment after a value starts with ';' (\"#\" only at the start of a line)",
			 key);
		return refuse(p, EINVAL, why);
	}
	section = section_name(p, kept_section);
	if (!section)
		return refuse(p, ENOMEM, "out of memory");
	if (p->aws && p->block_line != p->header_line && !check_section(p, section)) {
		free(section);
		return 0;
	}
	if (add_entry(p, section, key, value))
		return refuse(p, ENOMEM, "out of memory");
	s = malloc(sizeof(*s));
	if (!s)
		return refuse(p, ENOMEM, "out of memory");
	s->section = section;	/* owned by the entry, which outlives the tree */
	s->key = p->ini->e[p->ini->n - 1].key;
	s->line = p->lineno;
	found = tsearch(s, &p->keys, seen_cmp);
	if (!found) {
		free(s);
		return refuse(p, ENOMEM, "out of memory");
	}
	if (*found != s) {
		free(s);
		snprintf(why, sizeof(why), "%.200s is set again in [%.150s] (first at line %d)", key,
			 section, (*found)->line);
		return refuse(p, EINVAL, why);
	}
	return 1;
}

/* The file, whole: config files are small, and lines may be long. */
static int read_file(const char *path, char **out, size_t *outlen, struct rc_err *err)
{
	size_t cap = 65536, len = 0;
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : rc_errf(err, errno, "%s: %s", path, strerror(errno));
	if (!fstat(fd, &st) && S_ISREG(st.st_mode))
		cap = st.st_size < RC_INI_MAX_FILE ? (size_t)st.st_size + 1 : RC_INI_MAX_FILE + 1;
	for (;;) {
		if (!buf || len == cap) {
			size_t bigger = buf ? cap * 2 : cap;
			char *b;

			if (buf && cap > RC_INI_MAX_FILE) {
				r = rc_errf(err, EFBIG, "%s: larger than %d MiB", path, RC_INI_MAX_FILE >> 20);
				break;
			}
			if (bigger > RC_INI_MAX_FILE + 1)
				bigger = RC_INI_MAX_FILE + 1;
			b = malloc(bigger);
			if (!b) {
				r = rc_errf(err, ENOMEM, "%s: out of memory", path);
				break;
			}
			if (buf) {
				memcpy(b, buf, len);
				explicit_bzero(buf, len);	/* credentials */
				free(buf);
			}
			buf = b;
			cap = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = rc_errf(err, errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	if (r) {
		if (buf)
			explicit_bzero(buf, len);
		free(buf);
		return r;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* inih takes bytes: NUL would end its line early; the values go to paths, URLs, JSON */
static int check_text(const char *path, const char *buf, size_t len, struct rc_err *err)
{
	const char *nul = memchr(buf, '\0', len);
	char out[4096], *in = (char *)buf, *o;
	size_t left = len, room;
	iconv_t cd;
	int r = 0;

	if (nul)
		return rc_errf(err, EINVAL, "%s: line %d: a NUL byte", path, line_of(buf, nul));
	/* glibc's converter refuses what is not UTF-8: bad bytes, overlong forms, surrogates, > U+10FFFF */
	cd = iconv_open("UTF-32LE", "UTF-8");
	if (cd == (iconv_t)-1)
		return rc_errf(err, errno, "%s: iconv: %s", path, strerror(errno));
	while (left && !r) {
		o = out;
		room = sizeof(out);
		if (iconv(cd, &in, &left, &o, &room) == (size_t)-1 && errno != E2BIG)
			r = rc_errf(err, EILSEQ, "%s: line %d: not UTF-8", path, line_of(buf, in));
	}
	explicit_bzero(out, sizeof(out));
	iconv_close(cd);
	return r;
}

static int load(struct rc_ini *ini, const char *path, bool aws, struct rc_err *err)
{
	struct ini_parse p = { .ini = ini, .err = err, .aws = aws, .at_line_start = true };
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(ini, 0, sizeof(*ini));
	snprintf(ini->path, sizeof(ini->path), "%s", path);
	pthread_once(&inih_once, inih_settings);
	r = read_file(path, &buf, &len, err);
	if (r)
		return r;
	r = check_text(path, buf, len, err);
	if (!r) {
		p.buf = buf;
		p.len = len;
		r = ini_parse_stream(next_line, &p, on_key, &p);
		if (p.failed) {
			r = -(err->code ? err->code : EINVAL);
		} else if (r == -2) {
			r = rc_errf(err, ENOMEM, "%s: out of memory", path);
		} else if (r) {
			/* inih's syntax errors: the line it stopped at is the last one read */
			const char *s = first_char(&p, p.line, r);

			r = rc_errf(err, EINVAL, "%s: line %d: %s", path, r,
				    s && *s == '[' ? "unterminated section header" :
				    "expected 'key = value', a [section] or a comment");
		}
	}
	tdestroy(p.keys, free);
	tdestroy(p.sections, free);
	explicit_bzero(buf, len);	/* it may hold secrets */
	free(buf);
	if (r)
		rc_ini_free(ini);
	return r;
}

int rc_ini_load(struct rc_ini *ini, const char *path, struct rc_err *err)
{
	return load(ini, path, false, err);
}

int rc_ini_load_aws(struct rc_ini *ini, const char *path, struct rc_err *err)
{
	return load(ini, path, true, err);
}

void rc_ini_free(struct rc_ini *ini)
{
	int i;

	for (i = 0; i < ini->n; i++) {
		free(ini->e[i].section);
		free(ini->e[i].key);
		/* credentials files: secret keys, session tokens */
		if (ini->e[i].value)
			explicit_bzero(ini->e[i].value, strlen(ini->e[i].value));
		free(ini->e[i].value);
	}
	free(ini->e);
	ini->e = NULL;
	ini->n = 0;
}

const char *rc_ini_get(const struct rc_ini *ini, const char *section, const char *key)
{
	int i;

	/* a key is in a section once (rc_ini_load refuses a second one) */
	for (i = 0; i < ini->n; i++)
		if (!strcmp(ini->e[i].section, section) && !strcasecmp(ini->e[i].key, key))
			return ini->e[i].value;
	return NULL;
}

int rc_ini_sections(const struct rc_ini *ini,
		    int (*fn)(const char *section, void *arg), void *arg)
{
	int i, j, r;

	for (i = 0; i < ini->n; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(ini->e[j].section, ini->e[i].section))
				break;
		if (j < i)
			continue;
		r = fn(ini->e[i].section, arg);
		if (r)
			return r;
	}
	return 0;
}
