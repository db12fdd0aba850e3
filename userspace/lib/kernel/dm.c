// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device-mapper through libdevmapper, the library dmsetup and lvm2 use.
 *
 * /dev/mapper/NAME: when udev runs, its rules make it (a symlink to dm-N) and
 * we wait for them through a udev cookie, as dmsetup does; when it does not,
 * libdevmapper makes the node itself (mknod), the same fallback dmsetup has.
 *
 * libdevmapper keeps process-wide state (the control fd, the queue of node
 * operations, its log function, the udev settings) and is not thread-safe,
 * while rcached calls in here from several threads: every call into it holds
 * one lock, and what it logs meanwhile is kept for the error we return.
 */
#include <errno.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>	/* DM_NAME_LEN */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kernel/dm.h"
#include "kernel/kmsg.h"

#define DM_CONTROL "/dev/mapper/control"
#define MAPPER_DIR "/dev/" DM_DIR
#define UDEV_CONTROL "/run/udev/control"
/* a udev that has not handled our event by then is stuck: go on without it */
#define UDEV_WAIT_SECONDS 60
/* what our own mknod fallback made before (udev makes 0660 too) */
#define DM_NODE_MODE 0660

/* libdevmapper's log levels (its _LOG_* values, not exported) */
#define LIB_LOG_LEVEL(l) ((l) & 0x0f)
#define LIB_LOG_ERR 3
#define LIB_LOG_WARN 4

static struct {
	pthread_mutex_t lock;
	bool set_up;			/* log function and name mode installed */
	char error[512];		/* first error logged during the current call */
	int error_errno;		/* errno when it was logged */
} lib = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * libdevmapper's messages: errors are kept (the caller's one-line error says
 * what failed, in our words or, failing those, in the library's), warnings
 * (udev did not make a node, no semaphores) are shown, the rest is debug.
 */
__attribute__((format(printf, 5, 6)))
static void lib_log(int level, const char *file, int line, int dm_errno_or_class,
		    const char *fmt, ...)
{
	int saved = errno;
	char msg[512];
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (LIB_LOG_LEVEL(level) <= LIB_LOG_ERR) {
		if (!lib.error[0]) {
			snprintf(lib.error, sizeof(lib.error), "%s", msg);
			lib.error_errno = saved;
		}
		rc_debug("libdevmapper: %s", msg);
	} else if (LIB_LOG_LEVEL(level) == LIB_LOG_WARN) {
		rc_warn("device-mapper: %s", msg);
	} else {
		rc_debug("libdevmapper: %s", msg);
	}
	errno = saved;
}

static void lib_lock(void)
{
	pthread_mutex_lock(&lib.lock);
	if (!lib.set_up) {
		dm_log_with_errno_init(lib_log);
		/* names go to the kernel as given, as our ioctls sent them */
		dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE);
		lib.set_up = true;
	}
	lib.error[0] = '\0';
	lib.error_errno = 0;
}

static void lib_unlock(void)
{
	pthread_mutex_unlock(&lib.lock);
}

/* The library's first error of this call, for failures without an errno. */
static const char *lib_error(void)
{
	return lib.error[0] ? lib.error : "libdevmapper failed";
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

/* A failed task: the ioctl's errno when there was one, else the library's words. */
static int task_fail(struct rc_err *err, struct dm_task *dmt, const char *what)
{
	int e = dmt ? dm_task_get_errno(dmt) : 0;

	if (e)
		return rc_errf(err, e, "%s: %s", what, dm_errno_text(e));
	return rc_errf(err, EIO, "%s: %s", what, lib_error());
}

static struct dm_task *task_new(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	if (dmt && name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/*
 * udevd is there when its control socket takes a connection: the socket file
 * alone (all libudev looks at) outlives a stopped udevd, and waiting for a
 * udev that is not there would never end.
 */
static bool udev_answers(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = UDEV_CONTROL };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool up;

	if (fd < 0)
		return false;
	up = !connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || errno == EAGAIN;
	close(fd);
	return up;
}

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Waits until udev has handled the events of @cookie (then /dev/mapper/NAME
 * is udev's), and carries out the node operations libdevmapper queued for
 * itself (all of them when udev does not run).  A udev that does not answer
 * in time is reported, and the library's fallback makes the nodes.
 */
static void udev_wait(uint32_t cookie, const char *name)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t deadline = now_s() + UDEV_WAIT_SECONDS;
	int ready = 0;

	if (!cookie) {
		dm_udev_wait(0);
		return;
	}
	for (;;) {
		if (!dm_udev_wait_immediate(cookie, &ready)) {
			dm_task_update_nodes();
			return;
		}
		if (ready)
			return;
		if (now_s() >= deadline)
			break;
		nanosleep(&tick, NULL);
	}
	rc_warn("%s: udev did not handle the device's event within %d s; making its node without udev",
		name, UDEV_WAIT_SECONDS);
	dm_udev_complete(cookie);	/* what udev's 95-dm-notify rule would do */
	dm_udev_wait(cookie);
}

/*
 * Runs a task that sends a uevent (resume, remove) with a udev cookie, then
 * waits for udev.  Returns 0 or the ioctl's -errno (-EIO without one).
 */
static int run_synced(struct rc_dm *dm, struct dm_task *dmt, const char *name)
{
	uint32_t cookie = 0;
	int ok;

	dm_udev_set_sync_support(dm->udev_sync);
	dm_task_set_mode(dmt, DM_NODE_MODE);
	/* no semaphore to be had: the library then makes the nodes itself */
	if (!dm_task_set_cookie(dmt, &cookie, 0))
		cookie = 0;
	ok = dm_task_run(dmt);
	udev_wait(cookie, name);
	if (ok)
		return 0;
	return dm_task_get_errno(dmt) ? -dm_task_get_errno(dmt) : -EIO;
}

int rc_dm_open(struct rc_dm *dm, struct rc_err *err)
{
	bool had_control = !access(DM_CONTROL, F_OK), had_dir = !access(MAPPER_DIR, F_OK);
	char version[64];
	int e;

	memset(dm, 0, sizeof(*dm));
	lib_lock();
	/*
	 * Opens the control node, making it first (dm-mod loads on its open).
	 * A failure here is remembered by libdevmapper for the life of the
	 * process; rcached loads dm-rcache, and with it dm-mod, before.
	 */
	if (dm_driver_version(version, sizeof(version))) {
		dm_udev_set_sync_support(udev_answers());
		dm->udev_sync = dm_udev_get_sync_support();
		lib_unlock();
		rc_debug("device-mapper %s, udev sync %s", version, dm->udev_sync ? "on" : "off");
		return 0;
	}
	e = lib.error_errno ? lib.error_errno : ENODEV;
	/* a control node made for a kernel without device-mapper helps nobody */
	if (!had_control && e != EACCES && e != EPERM) {
		unlink(DM_CONTROL);
		if (!had_dir)
			rmdir(MAPPER_DIR);
	}
	if (e == EACCES || e == EPERM)
		rc_errf(err, e, "%s: permission denied (run as root)", DM_CONTROL);
	else if (e == ENODEV || e == ENXIO || e == ENOENT)
		rc_errf(err, e, "%s: no device-mapper in the kernel (is dm-mod loaded? modprobe dm-mod)",
			DM_CONTROL);
	else
		rc_errf(err, e, "device-mapper: %s", lib_error());
	lib_unlock();
	return -e;
}

void rc_dm_close(struct rc_dm *dm)
{
	(void)dm;
	lib_lock();
	dm_lib_release();	/* closes the control fd, does queued node operations */
	lib_unlock();
}

static void info_from(const struct dm_info *di, struct dm_task *dmt, struct rc_dm_info *info)
{
	const char *uuid = dm_task_get_uuid(dmt);

	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->dev = makedev(di->major, di->minor);
	info->open_count = di->open_count;
	info->suspended = di->suspended;
	info->read_only = di->read_only;
	info->active = di->live_table;
	snprintf(info->uuid, sizeof(info->uuid), "%s", uuid ? uuid : "");
}

/* A plain task on @name (suspend, resume without a cookie, remove on cleanup). */
static int run_simple(int type, const char *name, bool no_flush)
{
	struct dm_task *dmt = task_new(type, name);
	int r;

	if (!dmt)
		return -EIO;
	if (no_flush)
		dm_task_no_flush(dmt);
	r = dm_task_run(dmt) ? 0 : (dm_task_get_errno(dmt) ? -dm_task_get_errno(dmt) : -EIO);
	dm_task_destroy(dmt);
	return r;
}

/* Loads @t into @name's inactive slot; the kernel's reason when it refuses. */
static int load_table(const char *name, const struct rc_dm_table *t, bool read_only,
		      struct rc_err *err)
{
	struct dm_task *dmt = task_new(DM_DEVICE_RELOAD, name);
	char reason[512];
	int mark, e;

	if (!dmt)
		return rc_errf(err, EIO, "%s: %s", name, lib_error());
	if (!dm_task_add_target(dmt, t->start, t->length, t->type, t->params) ||
	    (read_only && !dm_task_set_ro(dmt))) {
		dm_task_destroy(dmt);
		return rc_errf(err, ENOMEM, "%s: %s", name, lib_error());
	}
	mark = rc_kmsg_mark();
	if (dm_task_run(dmt)) {
		dm_task_destroy(dmt);
		if (mark >= 0)
			close(mark);
		return 0;
	}
	e = dm_task_get_errno(dmt) ? dm_task_get_errno(dmt) : EIO;
	dm_task_destroy(dmt);
	/* device-mapper logs the target's reason (ti->error); the errno is generic */
	if (rc_kmsg_find(mark, ": table: ", reason, sizeof(reason)))
		return rc_errf(err, e, "%s: kernel rejected the table: %s", name,
			       strstr(reason, ": table: ") + 9);
	return rc_errf(err, e, "%s: kernel rejected the table: %s", name, dm_errno_text(e));
}

int rc_dm_create(struct rc_dm *dm, const char *name, const char *uuid,
		 const struct rc_dm_table *table, bool read_only, dev_t *dev,
		 struct rc_err *err)
{
	struct dm_task *dmt;
	struct dm_info di;
	int e, r;

	if (strlen(name) >= DM_NAME_LEN || !*name || strchr(name, '/'))
		return rc_errf(err, EINVAL, "invalid device name '%s'", name);
	lib_lock();
	dmt = task_new(DM_DEVICE_CREATE, name);
	if (!dmt || (uuid && !dm_task_set_uuid(dmt, uuid))) {
		r = task_fail(err, dmt, "create");
		goto out_task;
	}
	/* the node comes with the resume, once the table is live */
	if (!dm_task_run(dmt)) {
		e = dm_task_get_errno(dmt);
		if (e == EBUSY)
			r = rc_errf(err, e, "create %s: a device of that name already exists", name);
		else
			r = rc_errf(err, e ? e : EIO, "create %s: %s", name,
				    e ? dm_errno_text(e) : lib_error());
		goto out_task;
	}
	if (dev && dm_task_get_info(dmt, &di))
		*dev = makedev(di.major, di.minor);
	dm_task_destroy(dmt);

	r = load_table(name, table, read_only, err);
	if (r)
		goto undo;
	dmt = task_new(DM_DEVICE_RESUME, name);
	r = dmt ? run_synced(dm, dmt, name) : -EIO;
	if (r) {
		e = dmt ? dm_task_get_errno(dmt) : 0;
		rc_errf(err, -r, "%s: resume failed: %s", name, e ? dm_errno_text(e) : lib_error());
		if (dmt)
			dm_task_destroy(dmt);
		goto undo;
	}
	dm_task_destroy(dmt);
	lib_unlock();
	return 0;

undo:
	dmt = task_new(DM_DEVICE_REMOVE, name);
	if (dmt) {
		run_synced(dm, dmt, name);
		dm_task_destroy(dmt);
	}
	lib_unlock();
	return r;
out_task:
	if (dmt)
		dm_task_destroy(dmt);
	lib_unlock();
	return r;
}

int rc_dm_remove(struct rc_dm *dm, const char *name, struct rc_err *err)
{
	struct dm_task *dmt;
	struct dm_info di;
	int r;

	lib_lock();
	dmt = task_new(DM_DEVICE_INFO, name);
	if (!dmt || !dm_task_run(dmt) || !dm_task_get_info(dmt, &di)) {
		r = task_fail(err, dmt, name);
		goto out;
	}
	if (!di.exists) {
		r = rc_errf(err, ENXIO, "%s: %s", name, dm_errno_text(ENXIO));
		goto out;
	}
	if (di.open_count > 0) {
		r = rc_errf(err, EBUSY, "%s: device is in use (open count %d)", name,
			    di.open_count);
		goto out;
	}
	dm_task_destroy(dmt);
	dmt = task_new(DM_DEVICE_REMOVE, name);
	if (!dmt) {
		r = rc_errf(err, EIO, "remove %s: %s", name, lib_error());
		goto out;
	}
	/* udev's rules open a device briefly after its events: retry those EBUSYs */
	if (dm->udev_sync)
		dm_task_retry_remove(dmt);
	r = run_synced(dm, dmt, name);
	if (r)
		rc_errf(err, -r, "remove %s: %s", name,
			dm_task_get_errno(dmt) ? dm_errno_text(-r) : lib_error());
out:
	if (dmt)
		dm_task_destroy(dmt);
	lib_unlock();
	return r;
}

int rc_dm_reload(struct rc_dm *dm, const char *name,
		 const struct rc_dm_table *table, struct rc_err *err)
{
	struct dm_task *dmt;
	int r;

	lib_lock();
	r = load_table(name, table, false, err);
	if (r)
		goto out;
	r = run_simple(DM_DEVICE_SUSPEND, name, false);
	if (!r) {
		dmt = task_new(DM_DEVICE_RESUME, name);
		r = dmt ? run_synced(dm, dmt, name) : -EIO;
		if (dmt)
			dm_task_destroy(dmt);
	}
	if (r)
		rc_errf(err, -r, "%s: swapping in the new table failed: %s", name,
			dm_errno_text(-r));
out:
	lib_unlock();
	return r;
}

int rc_dm_status(struct rc_dm *dm, const char *name, bool table,
		 struct rc_dm_table *out, struct rc_dm_info *info,
		 struct rc_err *err)
{
	struct dm_task *dmt;
	struct dm_info di;
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int r = 0;

	(void)dm;
	memset(out, 0, sizeof(*out));
	lib_lock();
	dmt = task_new(table ? DM_DEVICE_TABLE : DM_DEVICE_STATUS, name);
	if (!dmt || !dm_task_run(dmt) || !dm_task_get_info(dmt, &di)) {
		r = task_fail(err, dmt, name);
		goto out;
	}
	if (!di.exists) {	/* the library's status of a missing device */
		r = rc_errf(err, ENXIO, "%s: %s", name, dm_errno_text(ENXIO));
		goto out;
	}
	info_from(&di, dmt, info);
	dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	if (!type) {
		r = rc_errf(err, ENODATA, "%s: device has no active table", name);
		goto out;
	}
	out->start = start;
	out->length = length;
	snprintf(out->type, sizeof(out->type), "%s", type);
	out->params = strdup(params ? params : "");
	if (!out->params)
		r = rc_errf(err, ENOMEM, "out of memory");
out:
	if (dmt)
		dm_task_destroy(dmt);
	lib_unlock();
	return r;
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
	struct dm_task *dmt;
	struct dm_names *names;
	char **list = NULL;
	dev_t *devs = NULL;
	size_t n = 0, i;
	int r = 0;

	(void)dm;
	lib_lock();
	dmt = task_new(DM_DEVICE_LIST, NULL);
	if (!dmt || !dm_task_run(dmt) || !(names = dm_task_get_names(dmt))) {
		r = task_fail(err, dmt, "list devices");
		if (dmt)
			dm_task_destroy(dmt);
		lib_unlock();
		return r;
	}
	/* copied out, so that @fn may call in here again */
	for (struct dm_names *nl = names; nl->dev; nl = (void *)((char *)nl + nl->next)) {
		char **l = realloc(list, (n + 1) * sizeof(*list));
		dev_t *d = realloc(devs, (n + 1) * sizeof(*devs));

		if (l)
			list = l;
		if (d)
			devs = d;
		if (!l || !d || !(list[n] = strdup(nl->name))) {
			r = rc_errf(err, ENOMEM, "list devices: out of memory");
			break;
		}
		devs[n++] = (dev_t)nl->dev;
		if (!nl->next)
			break;
	}
	dm_task_destroy(dmt);
	lib_unlock();
	for (i = 0; i < n && !r; i++)
		r = fn(list[i], devs[i], arg);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	free(devs);
	return r;
}

int rc_dm_message(struct rc_dm *dm, const char *name, const char *msg,
		  char **reply, struct rc_err *err)
{
	struct dm_task *dmt;
	const char *resp;
	char reason[512];
	int mark, e, r = 0;

	(void)dm;
	if (reply)
		*reply = NULL;
	lib_lock();
	dmt = task_new(DM_DEVICE_TARGET_MSG, name);
	if (!dmt || !dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
		r = rc_errf(err, EIO, "%s: message '%s': %s", name, msg, lib_error());
		goto out;
	}
	mark = rc_kmsg_mark();
	if (!dm_task_run(dmt)) {
		e = dm_task_get_errno(dmt) ? dm_task_get_errno(dmt) : EIO;
		/* the target says why in the kernel log */
		if (rc_kmsg_find(mark, "rcache", reason, sizeof(reason)))
			r = rc_errf(err, e, "%s: message '%s' rejected: %s", name, msg, reason);
		else
			r = rc_errf(err, e, "%s: message '%s' rejected: %s", name, msg,
				    dm_task_get_errno(dmt) ? dm_errno_text(e) : lib_error());
		goto out;
	}
	if (mark >= 0)
		close(mark);
	resp = dm_task_get_message_response(dmt);
	if (reply && resp && !(*reply = strdup(resp)))
		r = rc_errf(err, ENOMEM, "out of memory");
out:
	if (dmt)
		dm_task_destroy(dmt);
	lib_unlock();
	return r;
}

static bool node_matches(const char *path, dev_t dev)
{
	struct stat st;

	return !stat(path, &st) && S_ISBLK(st.st_mode) && st.st_rdev == dev;
}

/* "dmsetup mknodes NAME": makes /dev/mapper/NAME right, or removes a stale one. */
static void mknodes(const char *name)
{
	struct dm_task *dmt = task_new(DM_DEVICE_MKNODES, name);

	if (dmt) {
		dm_task_set_mode(dmt, DM_NODE_MODE);
		dm_task_run(dmt);
		dm_task_destroy(dmt);
	}
	dm_task_update_nodes();
}

int rc_dm_ensure_node(const char *name, dev_t dev, struct rc_err *err)
{
	char path[512];
	int r = 0;

	snprintf(path, sizeof(path), MAPPER_DIR "/%s", name);
	lib_lock();
	if (!node_matches(path, dev)) {
		mknodes(name);
		if (!node_matches(path, dev))
			r = rc_errf(err, lib.error_errno ? lib.error_errno : ENOENT,
				    "%s: cannot make the device node: %s", path, lib_error());
	}
	lib_unlock();
	return r;
}

void rc_dm_remove_node(const char *name)
{
	lib_lock();
	mknodes(name);
	lib_unlock();
}
