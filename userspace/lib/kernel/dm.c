// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "kernel/dm.h"
#include "kernel/kmsg.h"

#define DM_CONTROL "/dev/mapper/control"
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

int rc_dm_open(struct rc_dm *dm, struct rc_err *err)
{
	dm->fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (dm->fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return rc_errf(err, e, "%s: not found (is dm-mod loaded? modprobe dm-mod)",
				       DM_CONTROL);
		if (e == EACCES || e == EPERM)
			return rc_errf(err, e, "%s: permission denied (run as root)", DM_CONTROL);
		return rc_errf(err, e, "%s: %s", DM_CONTROL, strerror(e));
	}
	return 0;
}

void rc_dm_close(struct rc_dm *dm)
{
	if (dm->fd >= 0)
		close(dm->fd);
	dm->fd = -1;
}

static struct dm_ioctl *dmi_new(size_t size, const char *name)
{
	struct dm_ioctl *io = calloc(1, size);

	if (!io)
		return NULL;
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = size;
	io->data_start = ALIGN8(sizeof(*io));
	if (name)
		snprintf(io->name, sizeof(io->name), "%s", name);
	return io;
}

/* Runs @cmd, growing the buffer while the kernel says it was too small. */
static int dmi_run(struct rc_dm *dm, unsigned long cmd, struct dm_ioctl **iop)
{
	struct dm_ioctl *io = *iop;

	for (;;) {
		if (ioctl(dm->fd, cmd, io) < 0)
			return -errno;
		if (!(io->flags & DM_BUFFER_FULL_FLAG))
			return 0;
		size_t size = io->data_size * 2;
		struct dm_ioctl *bigger = realloc(io, size);

		if (!bigger)
			return -ENOMEM;
		io = bigger;
		*iop = io;
		memset((char *)io + io->data_size, 0, size - io->data_size);
		io->data_size = size;
		io->flags &= ~DM_BUFFER_FULL_FLAG;
	}
}

static void dmi_info(const struct dm_ioctl *io, struct rc_dm_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->dev = (dev_t)io->dev;
	info->open_count = io->open_count;
	info->suspended = io->flags & DM_SUSPEND_FLAG;
	info->read_only = io->flags & DM_READONLY_FLAG;
	info->active = io->flags & DM_ACTIVE_PRESENT_FLAG;
	snprintf(info->uuid, sizeof(info->uuid), "%s", io->uuid);
}

static int dm_simple(struct rc_dm *dm, unsigned long cmd, const char *name,
		     uint32_t flags, struct dm_ioctl **out)
{
	struct dm_ioctl *io = dmi_new(16384, name);
	int r;

	if (!io)
		return -ENOMEM;
	io->flags = flags;
	r = dmi_run(dm, cmd, &io);
	if (out && !r)
		*out = io;
	else
		free(io);
	return r;
}

static int dm_load(struct rc_dm *dm, const char *name,
		   const struct rc_dm_table *t, bool read_only)
{
	size_t plen = strlen(t->params) + 1;
	size_t size = ALIGN8(sizeof(struct dm_ioctl)) +
		ALIGN8(sizeof(struct dm_target_spec) + plen);
	struct dm_ioctl *io = dmi_new(size, name);
	struct dm_target_spec *spec;
	int r;

	if (!io)
		return -ENOMEM;
	io->target_count = 1;
	io->flags = read_only ? DM_READONLY_FLAG : 0;
	spec = (struct dm_target_spec *)((char *)io + io->data_start);
	spec->sector_start = t->start;
	spec->length = t->length;
	spec->next = 0;
	snprintf(spec->target_type, sizeof(spec->target_type), "%s", t->type);
	memcpy(spec + 1, t->params, plen);
	r = dmi_run(dm, DM_TABLE_LOAD, &io);
	free(io);
	return r;
}

static const char *dm_errno_text(int e)
{
	switch (e) {
	case EBUSY: return "device is busy (open, or a table is being changed)";
	case ENXIO: return "no such device";
	case EEXIST: return "a device of that name already exists";
	case EACCES:
	case EPERM: return "permission denied (run as root)";
	default: return strerror(e);
	}
}

int rc_dm_create(struct rc_dm *dm, const char *name, const char *uuid,
		 const struct rc_dm_table *table, bool read_only, dev_t *dev,
		 struct rc_err *err)
{
	struct dm_ioctl *io = dmi_new(sizeof(struct dm_ioctl) + 64, name);
	char reason[512];
	int mark, r;

	if (!io)
		return rc_errf(err, ENOMEM, "out of memory");
	if (strlen(name) >= DM_NAME_LEN || !*name || strchr(name, '/'))
		return free(io), rc_errf(err, EINVAL, "invalid device name '%s'", name);
	if (uuid)
		snprintf(io->uuid, sizeof(io->uuid), "%s", uuid);
	r = dmi_run(dm, DM_DEV_CREATE, &io);
	if (r) {
		free(io);
		return rc_errf(err, -r, "create %s: %s", name,
			       r == -EBUSY ? "a device of that name already exists" :
			       dm_errno_text(-r));
	}
	if (dev)
		*dev = (dev_t)io->dev;
	free(io);

	mark = rc_kmsg_mark();
	r = dm_load(dm, name, table, read_only);
	if (r) {
		if (rc_kmsg_find(mark, ": table: ", reason, sizeof(reason)))
			rc_errf(err, -r, "%s: kernel rejected the table: %s", name,
				strstr(reason, ": table: ") + 9);
		else
			rc_errf(err, -r, "%s: kernel rejected the table: %s", name,
				dm_errno_text(-r));
		dm_simple(dm, DM_DEV_REMOVE, name, 0, NULL);
		return r;
	}
	close(mark);
	r = dm_simple(dm, DM_DEV_SUSPEND, name, 0, NULL);	/* resume */
	if (r) {
		rc_errf(err, -r, "%s: resume failed: %s", name, dm_errno_text(-r));
		dm_simple(dm, DM_DEV_REMOVE, name, 0, NULL);
		return r;
	}
	return 0;
}

int rc_dm_remove(struct rc_dm *dm, const char *name, struct rc_err *err)
{
	struct dm_ioctl *io = NULL;
	int r;

	r = dm_simple(dm, DM_DEV_STATUS, name, 0, &io);
	if (r)
		return rc_errf(err, -r, "%s: %s", name, dm_errno_text(-r));
	if (io->open_count > 0) {
		r = io->open_count;
		free(io);
		return rc_errf(err, EBUSY, "%s: device is in use (open count %d)", name, r);
	}
	free(io);
	r = dm_simple(dm, DM_DEV_REMOVE, name, 0, NULL);
	if (r)
		return rc_errf(err, -r, "remove %s: %s", name, dm_errno_text(-r));
	rc_dm_remove_node(name);
	return 0;
}

int rc_dm_reload(struct rc_dm *dm, const char *name,
		 const struct rc_dm_table *table, struct rc_err *err)
{
	char reason[512];
	int mark = rc_kmsg_mark();
	int r = dm_load(dm, name, table, false);

	if (r) {
		if (rc_kmsg_find(mark, ": table: ", reason, sizeof(reason)))
			return rc_errf(err, -r, "%s: kernel rejected the table: %s", name,
				       strstr(reason, ": table: ") + 9);
		return rc_errf(err, -r, "%s: kernel rejected the table: %s", name,
			       dm_errno_text(-r));
	}
	close(mark);
	r = dm_simple(dm, DM_DEV_SUSPEND, name, DM_SUSPEND_FLAG, NULL);
	if (!r)
		r = dm_simple(dm, DM_DEV_SUSPEND, name, 0, NULL);
	if (r)
		return rc_errf(err, -r, "%s: swapping in the new table failed: %s", name,
			       dm_errno_text(-r));
	return 0;
}

int rc_dm_status(struct rc_dm *dm, const char *name, bool table,
		 struct rc_dm_table *out, struct rc_dm_info *info,
		 struct rc_err *err)
{
	struct dm_ioctl *io = NULL;
	struct dm_target_spec *spec;
	int r;

	r = dm_simple(dm, DM_TABLE_STATUS, name, table ? DM_STATUS_TABLE_FLAG : 0, &io);
	if (r)
		return rc_errf(err, -r, "%s: %s", name, dm_errno_text(-r));
	dmi_info(io, info);
	memset(out, 0, sizeof(*out));
	if (io->target_count < 1) {
		free(io);
		return rc_errf(err, ENODATA, "%s: device has no active table", name);
	}
	spec = (struct dm_target_spec *)((char *)io + io->data_start);
	out->start = spec->sector_start;
	out->length = spec->length;
	snprintf(out->type, sizeof(out->type), "%s", spec->target_type);
	out->params = strdup((char *)(spec + 1));
	free(io);
	if (!out->params)
		return rc_errf(err, ENOMEM, "out of memory");
	return 0;
}

void rc_dm_table_free(struct rc_dm_table *t)
{
	free(t->params);
	t->params = NULL;
}

int rc_dm_list(struct rc_dm *dm,
	       int (*fn)(const char *name, dev_t dev, void *arg), void *arg,
	       struct rc_err *err)
{
	struct dm_ioctl *io = NULL;
	struct dm_name_list *nl;
	int r;

	r = dm_simple(dm, DM_LIST_DEVICES, NULL, 0, &io);
	if (r)
		return rc_errf(err, -r, "list devices: %s", dm_errno_text(-r));
	nl = (struct dm_name_list *)((char *)io + io->data_start);
	if (nl->dev) {
		for (;;) {
			r = fn(nl->name, (dev_t)nl->dev, arg);
			if (r || !nl->next)
				break;
			nl = (struct dm_name_list *)((char *)nl + nl->next);
		}
	}
	free(io);
	return r;
}

int rc_dm_message(struct rc_dm *dm, const char *name, const char *msg,
		  char **reply, struct rc_err *err)
{
	size_t mlen = strlen(msg) + 1;
	size_t size = ALIGN8(sizeof(struct dm_ioctl)) +
		ALIGN8(sizeof(struct dm_target_msg) + mlen) + 65536;	/* room for a reply (trace read) */
	struct dm_ioctl *io = dmi_new(size, name);
	struct dm_target_msg *tm;
	char reason[512];
	int mark, r;

	if (!io)
		return rc_errf(err, ENOMEM, "out of memory");
	tm = (struct dm_target_msg *)((char *)io + io->data_start);
	tm->sector = 0;
	memcpy(tm->message, msg, mlen);
	mark = rc_kmsg_mark();
	r = dmi_run(dm, DM_TARGET_MSG, &io);
	if (r) {
		free(io);
		if (rc_kmsg_find(mark, "rcache", reason, sizeof(reason)))
			return rc_errf(err, -r, "%s: message '%s' rejected: %s", name, msg, reason);
		return rc_errf(err, -r, "%s: message '%s' rejected: %s", name, msg,
			       dm_errno_text(-r));
	}
	close(mark);
	if (reply) {
		*reply = NULL;
		if (io->flags & DM_DATA_OUT_FLAG)
			*reply = strdup((char *)io + io->data_start);
	}
	free(io);
	return 0;
}

static bool node_matches(const char *path, dev_t dev)
{
	struct stat st;

	return !stat(path, &st) && S_ISBLK(st.st_mode) && st.st_rdev == dev;
}

int rc_dm_ensure_node(const char *name, dev_t dev, struct rc_err *err)
{
	char path[512];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	if (!access("/run/udev/control", F_OK)) {
		for (i = 0; i < 100 && !node_matches(path, dev); i++)
			nanosleep(&ts, NULL);
	}
	if (node_matches(path, dev))
		return 0;
	unlink(path);
	mkdir("/dev/mapper", 0755);
	if (mknod(path, S_IFBLK | 0660, dev) && errno != EEXIST)
		return rc_errf(err, errno, "%s: mknod: %s", path, strerror(errno));
	return 0;
}

void rc_dm_remove_node(const char *name)
{
	char path[512];
	struct stat st;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	if (!access("/run/udev/control", F_OK))
		for (i = 0; i < 100 && !lstat(path, &st); i++)
			nanosleep(&ts, NULL);
	if (!lstat(path, &st) && S_ISBLK(st.st_mode))
		unlink(path);
}
