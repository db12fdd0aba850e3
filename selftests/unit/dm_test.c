// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/kernel/dm.c on a machine without device-mapper (no dm-mod, no
 * /dev/mapper/control): opening fails with one line that says so, nothing of
 * libdevmapper's own output reaches stderr, and the control node libdevmapper
 * makes on the way is not left behind; rcachectl prints just that line.
 * On a machine with device-mapper these checks have nothing to check.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/dm.h"

#include "unit.h"

#define CONTROL "/dev/mapper/control"

static bool have_device_mapper(void)
{
	char line[256];
	bool found = false;
	FILE *f;

	if (!access(CONTROL, F_OK))
		return true;
	f = fopen("/proc/misc", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " device-mapper") != NULL;
	fclose(f);
	return found;
}

static bool skip(void)
{
	if (!have_device_mapper())
		return false;
	fprintf(stderr, "  (nothing to check: this machine has device-mapper)\n");
	return true;
}

static void open_without_device_mapper(void)
{
	char tmpl[] = "/tmp/dm_test.XXXXXX", out[512] = "";
	bool had_dir = !access("/dev/mapper", F_OK);
	struct rc_err err = { 0 };
	struct rc_dm dm;
	int fd, saved, r;
	ssize_t n;

	if (skip())
		return;
	fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(tmpl);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	r = rc_dm_open(&dm, &err);
	if (!r)
		rc_dm_close(&dm);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	CHECK(r < 0);
	CHECK(err.code == ENODEV || err.code == ENXIO || err.code == ENOENT);
	CHECK(strstr(err.msg, CONTROL ": no device-mapper in the kernel") == err.msg);
	CHECK(strstr(err.msg, "modprobe dm-mod") != NULL);
	CHECK(!strchr(err.msg, '\n'));
	CHECK(n == 0);		/* libdevmapper printed nothing of its own */
	if (n > 0)
		fprintf(stderr, "  stderr had: %s\n", out);
	CHECK(access(CONTROL, F_OK) && errno == ENOENT);
	CHECK(had_dir || access("/dev/mapper", F_OK));
}

/* rcachectl next to this test's directory: build/tests/.. -> build/bin */
static void rcachectl_without_device_mapper(void)
{
	static const char *const cmds[] = { "list", "status", "table x", "remove x",
					    "clear-stats x" };
	char exe[PATH_MAX], cmd[PATH_MAX + 64], out[2048];
	ssize_t len;
	size_t i;

	if (skip())
		return;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(len > 0);
	if (len <= 0)
		return;
	exe[len] = '\0';
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		size_t got;
		FILE *p;
		int status;

		snprintf(cmd, sizeof(cmd), "%s/../bin/rcachectl %s 2>&1", dirname(exe), cmds[i]);
		p = popen(cmd, "r");
		CHECK(p != NULL);
		if (!p)
			return;
		got = fread(out, 1, sizeof(out) - 1, p);
		out[got] = '\0';
		status = pclose(p);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
		CHECK_STR(out, "rcachectl: " CONTROL
			  ": no device-mapper in the kernel (is dm-mod loaded? modprobe dm-mod)\n");
		CHECK(access(CONTROL, F_OK) && errno == ENOENT);
		len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = '\0';
	}
}

int main(void)
{
	RUN("dm", open_without_device_mapper);
	RUN("dm", rcachectl_without_device_mapper);
	UNIT_EXIT();
}
