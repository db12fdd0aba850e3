#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian 12 packages that building, testing, benchmarking and the
# demo need.  Does nothing when they are all there already.
#   deps.sh [build|check|bench|demo]   (default: everything)
set -euo pipefail

build_pkgs="gcc make pkg-config libc6-dev libnl-3-dev libnl-genl-3-dev liburing-dev
	linux-headers-amd64"
vm_pkgs="linux-image-amd64 qemu-system-x86 busybox-static cpio kmod dmsetup e2fsprogs
	util-linux python3"
check_pkgs="linux-source-6.1 sparse xz-utils fio nfs-kernel-server rpcbind"
bench_pkgs="fio"

case "${1:-all}" in
build) want="$build_pkgs" ;;
check) want="$build_pkgs $vm_pkgs $check_pkgs" ;;
bench | demo) want="$build_pkgs $vm_pkgs $bench_pkgs" ;;
*) want="$build_pkgs $vm_pkgs $check_pkgs $bench_pkgs" ;;
esac

missing=()
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
