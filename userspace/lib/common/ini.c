// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int rc_ini_load(struct rc_ini *ini, const char *path, struct rc_err *err)
{
	char line[4096], section[256] = "";
	FILE *f;
	int lineno = 0, cap = 0;

	memset(ini, 0, sizeof(*ini));
	snprintf(ini->path, sizeof(ini->path), "%s", path);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return -ENOENT;
		return rc_errf(err, errno, "%s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close) {
				fclose(f);
				rc_ini_free(ini);
				return rc_errf(err, EINVAL, "%s:%d: unterminated section header", path,
					       lineno);
			}
			*close = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			fclose(f);
			rc_ini_free(ini);
			return rc_errf(err, EINVAL, "%s:%d: expected 'key = value'", path, lineno);
		}
		*eq = '\0';
		if (ini->n == cap) {
			struct rc_ini_entry *bigger;

			cap = cap ? cap * 2 : 32;
			bigger = realloc(ini->e, cap * sizeof(*bigger));
			if (!bigger) {
				fclose(f);
				rc_ini_free(ini);
				return rc_errf(err, ENOMEM, "out of memory");
			}
			ini->e = bigger;
		}
		ini->e[ini->n].section = strdup(section);
		ini->e[ini->n].key = strdup(trim(s));
		ini->e[ini->n].value = strdup(trim(eq + 1));
		ini->e[ini->n].line = lineno;
		ini->n++;
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));	/* it may have held a secret */
	return 0;
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
	const char *v = NULL;
	int i;

	/* the last assignment wins, as in the AWS CLI */
	for (i = 0; i < ini->n; i++)
		if (!strcmp(ini->e[i].section, section) && !strcasecmp(ini->e[i].key, key))
			v = ini->e[i].value;
	return v;
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
