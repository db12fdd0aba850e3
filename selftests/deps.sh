#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian 12 packages that building, testing, benchmarking and the
# demo need.  Does nothing when they are all there already.
#   deps.sh [build|check|bench|demo]   (default: everything)
set -euo pipefail

build_pkgs="gcc make pkg-config libc6-dev libnl-3-dev libnl-genl-3-dev liburing-dev libkmod-dev libdevmapper-dev
	libcurl4-openssl-dev libexpat1-dev libjson-c-dev libinih-dev libgrpc-dev libprotobuf-c-dev
	protobuf-c-compiler linux-headers-amd64"
# iproute2: the guest brings up lo with `ip` (NFS and S3 run over 127.0.0.1),
# the demo shapes it with `tc`, the S3 scripts look for ports with `ss`;
# procps: ps, pgrep, pkill.  Neither is in a minimal Debian image.  udev: core.sh's
# udev_sync test starts systemd-udevd in the guest.
vm_pkgs="linux-image-amd64 qemu-system-x86 busybox-static cpio kmod dmsetup udev e2fsprogs
	util-linux mount procps iproute2 python3"
# NFS in the guest: the demo and the tests serve an export with the kernel's
# nfsd (rpcbind, exportfs, rpc.nfsd, rpc.mountd; mount.nfs comes with them)
nfs_pkgs="nfs-kernel-server rpcbind"
# debootstrap: selftests/fresh-machine (RCACHE_FRESH=1 make check)
check_pkgs="linux-source-6.1 sparse xz-utils fio $nfs_pkgs python3-grpcio
	python3-yaml yamllint debootstrap"
# linux-perf: BENCH_PERF=1 profiles the hit path in the guest
bench_pkgs="fio s3fs fuse3 linux-perf"
# DKMS, the systemd unit and man page checks, and the UML kernel for KUnit
# (with linux-source-6.1 and python3 above)
pkg_pkgs="dkms openssl systemd man-db bc flex bison"
# S3 test servers (selftests/s3): Ceph (radosgw, CephFS), botocore for
# s3proxy's SigV4 check, Node.js for s3rver
# s3rver from npm (over HTTPS: ca-certificates) and curl, which the test
# scripts talk to it with; the demo runs it too
node_pkgs="curl ca-certificates"
command -v npm >/dev/null || node_pkgs="$node_pkgs nodejs npm"
s3_pkgs="ceph-mon ceph-mgr ceph-osd ceph-mds radosgw ceph-common ceph-fuse python3-botocore $node_pkgs"
# make demo: NFS and S3 (s3rver behind selftests/s3/s3proxy.py) in the guest
demo_pkgs="$nfs_pkgs $node_pkgs"
# kubectl kustomize for the k8s/ manifests: Debian's kubectl unless one is there
command -v kubectl >/dev/null || check_pkgs="$check_pkgs kubernetes-client"

case "${1:-all}" in
build) want="$build_pkgs" ;;
check) want="$build_pkgs $vm_pkgs $check_pkgs $pkg_pkgs $s3_pkgs" ;;
bench) want="$build_pkgs $vm_pkgs $bench_pkgs $s3_pkgs" ;;
demo) want="$build_pkgs $vm_pkgs $demo_pkgs" ;;
*) want="$build_pkgs $vm_pkgs $check_pkgs $bench_pkgs $pkg_pkgs $s3_pkgs" ;;
esac

missing=()
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# s3rver from npm (pinned by selftests/s3/package-lock.json) into build/node
s3rver_install() { [ "${1:-all}" = build ] || "$(dirname "$0")/s3/s3rver.sh" install; }
if [ ${#missing[@]} -eq 0 ]; then
	s3rver_install "${1:-all}"
	exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
s3rver_install "${1:-all}"
