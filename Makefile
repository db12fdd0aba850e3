# SPDX-License-Identifier: GPL-2.0-only
# rcache: dm-rcache.ko, rcached, rcachectl.
#
#   make                      module (for KVER) and userspace programs
#   make install DESTDIR=D KVER=V
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

MODULE := dm-rcache.ko
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h) uapi/linux/dm-rcache.h Kbuild

.PHONY: all module userspace tools install uninstall check bench demo deps clean

all: module userspace tools

$(MODULE): $(KMOD_SRCS)
	@test -d "$(KDIR)" || { echo "no kernel headers for '$(KVER)' (apt-get install linux-headers-amd64)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

module: $(MODULE)

userspace:
	$(MAKE) -C userspace BUILD=$(BUILD)

tools: userspace
	$(MAKE) -C userspace BUILD=$(BUILD) tools

install: all
	install -D -m 0755 $(BUILD)/bin/rcached $(DESTDIR)$(SBINDIR)/rcached
	install -D -m 0755 $(BUILD)/bin/rcachectl $(DESTDIR)$(SBINDIR)/rcachectl
	install -D -m 0644 $(MODULE) $(DESTDIR)/lib/modules/$(KVER)/updates/$(MODULE)
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/rcached $(DESTDIR)$(SBINDIR)/rcachectl
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/$(MODULE)
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

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
