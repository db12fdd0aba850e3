#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The classic cache exercise in miniature, inside the VM: an ext4 image of
# many 4 MiB files is published on NFS; rcache turns it into a local block
# device cached on a virtio disk; we mount it read-only and read every file
# cold, then warm.  Then the same with the image as an object in an S3 bucket.
source "$RCACHE_TOP/selftests/lib.sh"
set -e
CACHE=$(disk 0)
NFILES=${DEMO_FILES:-64}
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "1. A dataset image: $NFILES files x 4 MiB in ext4, served over NFS (kernel nfsd on 127.0.0.1)"
modprobe nfsd
mkdir -p /export /mnt/nfs /mnt/dataset /proc/fs/nfsd /var/lib/nfs/v4recovery /tmp/files
mount -t tmpfs -o size=1200M export /export
mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
for i in $(seq -w 1 "$NFILES"); do
	head -c $((4 * 1024 * 1024)) /dev/urandom >/tmp/files/shard-$i.bin
done
( cd /tmp/files && sha256sum -- * >/tmp/files.sha256 )
mkfs.ext4 -q -F -d /tmp/files -L dataset /export/dataset.img $(( (NFILES * 4 + 64) * 1024 ))k
rm -rf /tmp/files
echo "/export 127.0.0.1(ro,no_root_squash,insecure,fsid=0,no_subtree_check)" >/etc/exports
rpcbind -w 2>/dev/null || rpcbind
exportfs -ra
rpc.nfsd -N 3 8
rpc.mountd -N 3
# Loopback is not a network: give it the latency and bandwidth of one
# (a 1 Gbit/s link with 2 ms round trips), as between a GPU node and its filer.
modprobe sch_netem
tc qdisc add dev lo root netem delay 1ms rate 1gbit
echo "  (loopback shaped like a network: 1 Gbit/s, 2 ms round trip)"
mount -t nfs4 -o vers=4.2,ro,rsize=1048576 127.0.0.1:/ /mnt/nfs
ls -l /mnt/nfs/dataset.img

say "2. Load dm-rcache, start rcached, create the device"
load_module
start_daemon
echo "+ rcachectl create dataset --origin file:///mnt/nfs/dataset.img --cache $CACHE"
rcachectl create dataset --origin file:///mnt/nfs/dataset.img --cache $CACHE
mount -o ro,noload /dev/mapper/dataset /mnt/dataset
echo "+ mount -o ro /dev/mapper/dataset /mnt/dataset   ($(ls /mnt/dataset | grep -c shard) files)"

# Times reading every file (the bytes are checked separately: hashing under
# emulation is slower than the cache and would hide it).
read_all() {
	local t0 t1
	t0=$(date +%s%N)
	cat /mnt/dataset/shard-*.bin >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# cold_warm STEP WHAT: reads every file cold, then warm, and prints the
# times, the ratio and the warm pass's hit counters
cold_warm() {
	local step=$1 what=$2 cold_ms warm_ms hits0 misses0 hits1 misses1
	say "$step. Read every file: cold ($what)"
	cold_ms=$(read_all)
	rcachectl status dataset | sed -n '/cached/,/fetches/p'
	say "$((step + 1)). Drop the page cache and read every file again: warm (from the cache disk)"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	hits0=$(field dataset read_hits)
	misses0=$(field dataset read_misses)
	warm_ms=$(read_all)
	hits1=$(field dataset read_hits)
	misses1=$(field dataset read_misses)
	# (an "if": a failing command on the left of && would not stop set -e)
	if ! (cd /mnt/dataset && sha256sum -c --quiet /tmp/files.sha256); then
		echo "demo FAILED: $what: files read through /dev/mapper/dataset differ from the originals (sha256 above)" >&2
		exit 1
	fi
	echo "  sha256 of every file matches the original"
	say "Result ($what)"
	python3 - "$cold_ms" "$warm_ms" "$((NFILES * 4))" <<'PY'
import sys
cold, warm, mb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("  cold read: %6d ms  (%6.1f MB/s)" % (cold, mb * 1.048576 / (cold / 1000)))
print("  warm read: %6d ms  (%6.1f MB/s)" % (warm, mb * 1.048576 / (warm / 1000)))
print("  warm is %.1fx faster than cold" % (cold / warm))
PY
	echo "  warm pass: $((hits1 - hits0)) read hits, $((misses1 - misses0)) misses"
}

cold_warm 3 "blocks come from NFS through rcached"
umount /mnt/dataset
rcachectl remove dataset
tc qdisc del dev lo root

# --- the same exercise with the image as an object in an S3 bucket ---
source "$RCACHE_TOP/selftests/bench/s3env.sh"
CACHE2=$(disk 1)
say "5. The same image as an object in an S3 bucket (s3rver behind a proxy shaped like object storage: 30 ms to first byte, 3 MB/s per connection)"
mkdir -p /data
mount -t tmpfs -o size=1200M data /data
s3_up 30 3000000
s3_put dataset.img /export/dataset.img
# rcached takes its S3 endpoint and credentials from the environment s3_up set
stop_daemon
start_daemon
echo "+ rcachectl create dataset --origin s3://bkt/dataset.img --cache $CACHE2"
rcachectl create dataset --origin s3://bkt/dataset.img --cache "$CACHE2"
mount -o ro,noload /dev/mapper/dataset /mnt/dataset
echo "+ mount -o ro /dev/mapper/dataset /mnt/dataset"
cold_warm 6 "S3: range GETs, 16 in flight, prefetch ahead of the reader"
umount /mnt/dataset
rcachectl remove dataset
stop_daemon
