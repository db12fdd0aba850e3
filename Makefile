# SPDX-License-Identifier: GPL-2.0-only
# rcache: dm-rcache.ko, rcached, rcachectl, rcache-device-plugin.
#
#   make                      module (for KVER) and userspace programs
#   make install DESTDIR=D KVER=V
#                             programs, module, systemd unit, modules-load.d
#                             entry, example config, man pages
#   make install-userspace    the same without the module (DKMS nodes)
#   make uninstall            removes what install put there
#   make dkms-install KVER=V  the module through DKMS (dkms add/build/install)
#   make kunit                the KUnit suites under UML
#   make check                static checks, unit tests, VM end-to-end tests
#   make bench                benchmarks in the VM (ratios, side by side)
#   make demo                 the cold/warm exercise in a VM
#   make deps                 install the Debian packages all of this needs

# The running kernel when its headers exist, else the newest installed ones.
KVER ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; else \
	  ls -d /lib/modules/*/build 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f4; fi)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
DESTDIR ?=
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
# The one place the version is kept (module, dkms.conf, --version).
RCACHE_VERSION := $(shell cat $(CURDIR)/VERSION)

MODULE := dm-rcache.ko
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h) uapi/linux/dm-rcache.h Kbuild VERSION

.PHONY: all module userspace tools install uninstall check bench demo deps clean
.PHONY: install-userspace dkms-source dkms-install dkms-uninstall kunit

all: module userspace tools

$(MODULE): $(KMOD_SRCS)
	@test -d "$(KDIR)" || { echo "no kernel headers for '$(KVER)' (apt-get install linux-headers-amd64)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

module: $(MODULE)

userspace:
	$(MAKE) -C userspace BUILD=$(BUILD)

tools: userspace
	$(MAKE) -C userspace BUILD=$(BUILD) tools

install: all install-userspace
	install -D -m 0644 $(MODULE) $(DESTDIR)/lib/modules/$(KVER)/updates/$(MODULE)
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

# Everything but the module (which DKMS installs on a node: make dkms-install).
install-userspace: userspace
	install -D -m 0755 $(BUILD)/bin/rcached $(DESTDIR)$(SBINDIR)/rcached
	install -D -m 0755 $(BUILD)/bin/rcachectl $(DESTDIR)$(SBINDIR)/rcachectl
	install -D -m 0755 $(BUILD)/bin/rcache-device-plugin $(DESTDIR)$(SBINDIR)/rcache-device-plugin
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/sbin/|ExecStart=$(SBINDIR)/|' dist/rcached.service \
		>$(DESTDIR)$(UNITDIR)/rcached.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/rcached.service
	install -D -m 0644 dist/dm-rcache.modules-load.conf \
		$(DESTDIR)$(SYSCONFDIR)/modules-load.d/dm-rcache.conf
	@# an existing configuration is the administrator's: left as it is
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf ]; then \
		install -D -m 0644 dist/rcached.conf $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf; fi
	install -D -m 0644 docs/man/rcached.8 $(DESTDIR)$(MANDIR)/man8/rcached.8
	install -D -m 0644 docs/man/rcachectl.8 $(DESTDIR)$(MANDIR)/man8/rcachectl.8
	install -D -m 0644 docs/man/rcache-device-plugin.8 \
		$(DESTDIR)$(MANDIR)/man8/rcache-device-plugin.8
	install -D -m 0644 docs/man/dm-rcache.7 $(DESTDIR)$(MANDIR)/man7/dm-rcache.7
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/rcached $(DESTDIR)$(SBINDIR)/rcachectl \
		$(DESTDIR)$(SBINDIR)/rcache-device-plugin
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/$(MODULE)
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now rcached.service 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(UNITDIR)/rcached.service
	rm -f $(DESTDIR)$(SYSCONFDIR)/modules-load.d/dm-rcache.conf
	rm -f $(DESTDIR)$(MANDIR)/man8/rcached.8 $(DESTDIR)$(MANDIR)/man8/rcachectl.8 \
		$(DESTDIR)$(MANDIR)/man8/rcache-device-plugin.8 $(DESTDIR)$(MANDIR)/man7/dm-rcache.7
	@# the example configuration goes; one the administrator changed stays
	if cmp -s dist/rcached.conf $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/rcache 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/rcache/rcached.conf: it was changed"; fi
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# DKMS.  dkms-source puts the module's sources and a dkms.conf (its version
# from VERSION) in $(DESTDIR)/usr/src/dm-rcache-<version>, as a dkms package
# ships them; dkms-install then runs the documented dkms add, build and
# install for KVER (on this machine, as root).
DKMS_NAME := dm-rcache
DKMS_MOD := $(DKMS_NAME)/$(RCACHE_VERSION)
DKMS_FILES := VERSION Kbuild $(filter-out %_kunit.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h) \
	      uapi/linux/dm-rcache.h dkms/pre-build.sh

dkms-source:
	rm -rf $(DESTDIR)/usr/src/$(DKMS_NAME)-$(RCACHE_VERSION)
	for f in $(DKMS_FILES); do \
		install -D -m 0644 $$f $(DESTDIR)/usr/src/$(DKMS_NAME)-$(RCACHE_VERSION)/$$f || exit 1; done
	chmod 0755 $(DESTDIR)/usr/src/$(DKMS_NAME)-$(RCACHE_VERSION)/dkms/pre-build.sh
	sed 's/@VERSION@/$(RCACHE_VERSION)/' dkms/dkms.conf \
		>$(DESTDIR)/usr/src/$(DKMS_NAME)-$(RCACHE_VERSION)/dkms.conf

dkms-install:
	@command -v dkms >/dev/null || { echo "dkms is not installed (apt-get install dkms)"; exit 1; }
	@test -d "$(KDIR)" || { echo "no kernel headers for '$(KVER)' (apt-get install linux-headers-$(KVER))"; exit 1; }
	if [ -n "$$(dkms status $(DKMS_MOD))" ]; then dkms remove $(DKMS_MOD) --all; fi
	$(MAKE) dkms-source DESTDIR=
	dkms add $(DKMS_MOD)
	dkms build $(DKMS_MOD) -k $(KVER)
	dkms install $(DKMS_MOD) -k $(KVER)

dkms-uninstall:
	if [ -n "$$(dkms status $(DKMS_MOD))" ]; then dkms remove $(DKMS_MOD) --all; fi
	rm -rf /usr/src/$(DKMS_NAME)-$(RCACHE_VERSION)

kunit:
	selftests/kunit/run.sh

deps:
	selftests/deps.sh

check:
	selftests/run-check

bench:
	selftests/run-bench

demo:
	selftests/run-demo

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)
