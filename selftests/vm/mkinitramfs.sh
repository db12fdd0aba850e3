#!/bin/bash
# Build the tiny virtme-style initramfs: static busybox, the modules needed to
# reach the host root over 9p, and selftests/vm/init as /init.
# usage: mkinitramfs.sh KVER OUT.cpio.gz
set -euo pipefail
kver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
[ -d "$moddir/kernel" ] || { echo "mkinitramfs: no modules for $kver under $moddir" >&2; exit 1; }
busybox=$(command -v busybox) || { echo "mkinitramfs: busybox-static is not installed" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,lower,upper,"$moddir"}
cp "$busybox" "$stage/bin/busybox"
for applet in sh mount umount mkdir modprobe insmod switch_root echo cat sleep poweroff ln mknod; do
	ln -s busybox "$stage/bin/$applet"
done
mods="virtio_pci virtio_blk 9pnet_virtio 9p overlay"
for m in $mods; do
	modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | sort -u | while read -r ko; do
	mkdir -p "$stage/$(dirname "$ko")"
	cp "$ko" "$stage/$ko"
done
cp "$moddir"/modules.{dep,dep.bin,alias,alias.bin,builtin,builtin.bin,order,symbols,symbols.bin} "$stage/$moddir/" 2>/dev/null || true
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
tmp=$out.tmp.$$
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp"
mv "$tmp" "$out"
