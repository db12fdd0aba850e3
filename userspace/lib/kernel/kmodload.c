// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel/kmodload.h"
#include "common/log.h"

/* libkmod's own messages are details: shown with -v only. */
static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	char msg[512];
	size_t n;

	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(msg, sizeof(msg), format, args);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	rc_debug("libkmod: %s", msg);
}

static int not_installed(const char *kver, struct rc_err *err)
{
	return rc_errf(err, ENOENT,
		       "%s is not installed for the running kernel %s: install it with DKMS "
		       "('dkms install %s/%s', or 'make dkms-install' in the source tree)",
		       RC_KMOD_NAME, kver, RC_KMOD_NAME, RCACHE_VERSION);
}

/* The kernel refused the module: say what an operator can do about it. */
static int refused(int code, const char *path, struct rc_err *err)
{
	switch (code) {
	case EPERM:
		if (geteuid() != 0)
			return rc_errf(err, EPERM,
				       "loading %s needs root (CAP_SYS_MODULE): run 'modprobe %s' first",
				       RC_KMOD_NAME, RC_KMOD_NAME);
		return rc_errf(err, EPERM,
			       "the kernel refused to load %s: %s (with Secure Boot the module must be "
			       "signed by a key enrolled with mokutil, see docs/install.md)",
			       path, strerror(code));
	case ENOKEY:
	case EKEYREJECTED:
	case EKEYEXPIRED:
	case EKEYREVOKED:
	case EBADMSG:
		return rc_errf(err, code,
			       "the kernel rejected the signature of %s: %s (enroll the signing key: "
			       "mokutil --import /var/lib/dkms/mok.pub, then reboot)",
			       path, strerror(code));
	case ENOEXEC:
		return rc_errf(err, code,
			       "%s does not fit the running kernel: %s (rebuild it: dkms autoinstall)",
			       path, strerror(code));
	default:
		return rc_errf(err, code, "cannot load %s: %s", path, strerror(code));
	}
}

int rc_kmod_load(char *path, size_t path_size, struct rc_err *err)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	struct utsname u;
	const char *file;
	int r, state;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "(unknown)");
	ctx = kmod_new(NULL, NULL);
	if (!ctx)
		return rc_errf(err, ENOMEM, "libkmod: cannot set up a context for /lib/modules/%s",
			       u.release);
	kmod_set_log_fn(ctx, kmod_log, NULL);

	r = kmod_module_new_from_name(ctx, RC_KMOD_NAME, &mod);
	if (r < 0) {
		r = rc_errf(err, -r, "libkmod: %s: %s", RC_KMOD_NAME, strerror(-r));
		goto out;
	}
	state = kmod_module_get_initstate(mod);
	kmod_module_unref(mod);
	mod = NULL;
	if (state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN ||
	    state == KMOD_MODULE_COMING) {
		r = RC_KMOD_WAS_LOADED;
		goto out;
	}

	r = kmod_module_new_from_lookup(ctx, RC_KMOD_NAME, &list);
	if (r < 0 || !list) {
		r = not_installed(u.release, err);
		goto out;
	}
	/* a module name, not an alias: one match */
	l = list;
	mod = kmod_module_get_module(l);
	file = kmod_module_get_path(mod);
	r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL,
					    NULL);
	if (r == KMOD_PROBE_APPLY_BLACKLIST) {
		r = rc_errf(err, EPERM,
			    "%s is blacklisted in modprobe.d, so it is not loaded automatically; "
			    "load it with 'modprobe %s'", RC_KMOD_NAME, RC_KMOD_NAME);
	} else if (r == 0 || r == -EEXIST) {
		r = r ? RC_KMOD_WAS_LOADED : RC_KMOD_LOADED;
		if (path && path_size)
			snprintf(path, path_size, "%s", file ? file : RC_KMOD_NAME);
	} else if (r == -ENOENT) {
		/* in modules.dep, but the file (or a dependency) is gone */
		r = not_installed(u.release, err);
		if (file)
			rc_err_prefix(err, "%s is missing", file);
	} else {
		r = refused(r < 0 ? -r : EINVAL, file ? file : RC_KMOD_NAME, err);
	}
out:
	if (mod)
		kmod_module_unref(mod);
	if (list)
		kmod_module_unref_list(list);
	kmod_unref(ctx);
	return r;
}
