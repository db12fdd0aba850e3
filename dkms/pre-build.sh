#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# dkms PRE_BUILD of dm-rcache: checks that the target kernel has
# device-mapper (CONFIG_BLK_DEV_DM=y or m), which dm-rcache plugs into, and
# says so plainly when it has not.  dkms ignores this script's exit status;
# the Kbuild then fails the build for such a kernel.
#   pre-build.sh KERNELVER KERNEL_SOURCE_DIR
kver=${1:?usage: pre-build.sh KERNELVER KERNEL_SOURCE_DIR}
ksrc=${2:-/lib/modules/$kver/build}
for config in "$ksrc/.config" "/boot/config-$kver"; do
	[ -r "$config" ] || continue
	if grep -Eq '^CONFIG_BLK_DEV_DM=(y|m)$' "$config"; then
		echo "dm-rcache: kernel $kver has device-mapper (CONFIG_BLK_DEV_DM)"
		exit 0
	fi
	echo "dm-rcache: kernel $kver is built without device-mapper (CONFIG_BLK_DEV_DM is not set in $config): dm-rcache cannot be built for it" >&2
	exit 1
done
echo "dm-rcache: no configuration found for kernel $kver ($ksrc/.config, /boot/config-$kver): cannot check CONFIG_BLK_DEV_DM" >&2
exit 0
