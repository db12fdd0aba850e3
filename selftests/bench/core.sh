#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 2 benchmarks, inside the VM:
#   warm sequential 1 MiB O_DIRECT and warm 4 KiB random (iodepth 32) reads:
#   rcache vs the raw cache device, and dm-cache over the same devices;
#   cold sequential read from a tmpfs file origin vs reading the file.
source "$RCACHE_TOP/selftests/lib.sh"
source "$RCACHE_TOP/selftests/bench/benchlib.sh"

C0=$(disk 0)
C1=$(disk 1)
O0=$(disk 2)
MiB=$((1024 * 1024))
SIZE=$((256 * MiB))
mkdir -p /data
mount -t tmpfs -o size=600M tmp /data
make_origin /data/img $SIZE 5
load_module
note "origin 256 MiB, block 1 MiB, $(nproc) vCPUs under TCG, $BENCH_PAIRS interleaved pairs per figure"

# perf_hit_path RCACHE_DEV LINEAR_DEV SIZE (BENCH_PERF=1; needs linux-perf):
# where the CPU goes during warm 4 KiB random reads through each device, in
# the run directory: perf-DEV-dso.txt (share per module), perf-DEV-sym.txt
# (symbols by self time) and perf-DEV-children.txt (by time including
# callees).  Under TCG there is no PMU: perf samples the cpu-clock, which
# lands where interrupts get enabled again, so read shares, not hot spots.
# The samples go to the guest's /tmp: writing them over 9p would be sampled.
perf_hit_path() {
	local dev which data
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	for which in rcache linear; do
		dev=$1
		[ $which = linear ] && dev=$2
		data=/tmp/perf-$which.data
		perf record -q -a -g -F 2000 -o $data -- \
			fio --name=p --filename="$dev" --size="$3" --direct=1 --ioengine=io_uring \
			--time_based --runtime=8 --rw=randread --bs=4k --iodepth=32 --randrepeat=0 \
			>/dev/null 2>"$OUT/perf-$which.err"
		perf report -q -i $data --no-children --sort dso --stdio -g none \
			>"$OUT/perf-$which-dso.txt" 2>>"$OUT/perf-$which.err"
		perf report -q -i $data --no-children --sort sym --stdio -g none --percent-limit 0.03 \
			>"$OUT/perf-$which-sym.txt" 2>>"$OUT/perf-$which.err"
		perf report -q -i $data --children --sort sym --stdio -g none --percent-limit 0.03 \
			>"$OUT/perf-$which-children.txt" 2>>"$OUT/perf-$which.err"
		rm -f $data
		# (module symbols are folded into [kernel.kallsyms]: the share of
		# dm_submit_bio and __map_bio with their callees is the dm path's)
		note "perf, warm 4 KiB random reads through $which: $(awk '$NF == "dm_submit_bio" || $NF == "__map_bio" {printf "%s %s  ", $NF, $1}' "$OUT/perf-$which-children.txt")of all samples (perf-$which-*.txt in the run directory)"
	done
}

# --- warm reads: rcache vs the raw cache device (the same sectors) ---
start_daemon
rcachectl create w --origin file:///data/img --cache $C0 >/dev/null
cat /dev/mapper/w >/dev/null
[ "$(field w cached_blocks)" = 256 ] || t_fail bench/warm "device not fully cached"
data_start=$((1 * MiB))	# 256 slots: superblock + metadata fit below 1 MiB
# calibration and target: the thinnest dm target over the same sectors of
# the same disk, measured in the same rounds as rcache
dmsetup create lin --table "0 $((SIZE / 512)) linear $C0 $((data_start / 512))"
dmsetup mknodes lin
hit_path seq "warm_seq_1M_direct" MB/s "$C0" "$data_start" /dev/mapper/w /dev/mapper/lin $SIZE
hit_path rand "warm_rand_4k_qd32" IOPS "$C0" "$data_start" /dev/mapper/w /dev/mapper/lin $SIZE
[ "${BENCH_PERF:-0}" = 1 ] && perf_hit_path /dev/mapper/w /dev/mapper/lin $SIZE
dmsetup remove lin
rcachectl remove w

# --- the in-kernel peer: dm-cache (smq, writethrough) over the same devices:
# origin = the image on a virtio disk, cache = the same cache disk ---
dd if=/data/img of=$O0 bs=1M oflag=direct status=none
c0_sectors=$(blockdev --getsz $C0)
dmsetup create dmc-meta --table "0 16384 linear $C0 0"
dmsetup create dmc-data --table "0 $((c0_sectors - 16384)) linear $C0 16384"
dmsetup mknodes
dd if=/dev/zero of=/dev/mapper/dmc-meta bs=1M count=8 oflag=direct status=none
dmsetup create dmc --table "0 $((SIZE / 512)) cache /dev/mapper/dmc-meta /dev/mapper/dmc-data $O0 2048 1 writethrough smq 0"
dmsetup mknodes
# smq does not promote sequential streams: warm it with repeated random reads
for i in 1 2 3 4 5 6 7 8; do
	fio --name=warm --filename=/dev/mapper/dmc --rw=randread --bs=64k --direct=1 \
		--ioengine=io_uring --iodepth=8 --size=$SIZE --io_size=$SIZE >/dev/null
	[ "$(dmsetup status dmc | awk '{split($7, a, "/"); print a[1]}')" -ge 256 ] && break
done
note "dm-cache (smq, 1 MiB cache blocks) after warming: $(dmsetup status dmc | awk '{print $7}') cache blocks used"
compare dmcache_warm_seq_1M MB/s raw "fio_run $C0 $data_start $SIZE seq" \
	dm-cache "fio_run /dev/mapper/dmc 0 $SIZE seq"
compare dmcache_warm_rand_4k_qd32 IOPS raw "fio_run $C0 $data_start $SIZE rand" \
	dm-cache "fio_run /dev/mapper/dmc 0 $SIZE rand"
dmsetup remove dmc dmc-data dmc-meta

# --- cold sequential read from a tmpfs origin vs reading the file itself ---
cold_rcache() {
	rcachectl remove cold >/dev/null 2>&1
	dd if=/dev/zero of=$C1 bs=1M count=4 oflag=direct status=none
	rcachectl create cold --origin file:///data/img --cache $C1 >/dev/null
	local t0 t1
	t0=$(date +%s%N)
	dd if=/dev/mapper/cold of=/dev/null bs=1M iflag=direct status=none
	t1=$(date +%s%N)
	python3 -c "print('%.1f' % ($SIZE / (($t1 - $t0) / 1e9) / 1e6))"
}
direct_file() {
	local t0 t1
	t0=$(date +%s%N)
	dd if=/data/img of=/dev/null bs=1M status=none
	t1=$(date +%s%N)
	python3 -c "print('%.1f' % ($SIZE / (($t1 - $t0) / 1e9) / 1e6))"
}
compare cold_seq_tmpfs_origin MB/s file "direct_file" rcache "cold_rcache"
rcachectl remove cold
stop_daemon
exit 0
