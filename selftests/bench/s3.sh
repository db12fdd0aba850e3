#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 3 benchmarks, inside the VM.  The S3 test server adds 30 ms to the
# first byte of every response and caps each connection's bandwidth.
#   cold sequential read of a 1 GiB object through rcache vs one curl GET,
#   8 parallel curl range GETs, and s3fs (FUSE, no disk cache); the second
#   full read vs s3fs's second read; cold random 256 KiB p50 latency vs a
#   single curl range GET.
#   vm-run --mem 3072 --disk c0:1100 --disk c1:300 --disk d0:2600 s3.sh
# BENCH_S3_MIB sets the object's size (1024), BENCH_S3_PAIRS the pairs (3:
# one curl GET of 1 GiB at 3 MB/s alone takes six minutes).
source "$RCACHE_TOP/selftests/lib.sh"
source "$RCACHE_TOP/selftests/bench/benchlib.sh"
source "$RCACHE_TOP/selftests/bench/s3env.sh"

C0=$(disk 0)	# the sequential device's cache: the whole object
C1=$(disk 1)	# the random-read device's cache (it evicts)
D0=$(disk 2)	# s3rver's data when RAM is short
MiB=$((1024 * 1024))
SIZE=$((${BENCH_S3_MIB:-1024} * MiB))
BENCH_PAIRS=${BENCH_S3_PAIRS:-3}
TTFB=30
# Under TCG the test server itself tops out near 30 MB/s (s3rver alone about
# 45): a per-connection cap of 3 MB/s keeps 8 connections below that
# ceiling, so that parallelism, not the emulated CPU, decides the figures.
BW=$((3 * 1000 * 1000))	# per connection
mkdir -p /data /mnt/s3fs
# s3rver's data and the upload's source: in RAM when the guest has room
# for them (twice the object) besides the page cache, else on a disk
need=$((2 * SIZE / MiB + 256))
if [ "$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)" -gt $((need + SIZE / MiB + 512)) ]; then
	mount -t tmpfs -o size=${need}M data /data
	where=tmpfs
elif [ -n "$D0" ] && mkfs.ext4 -q -F "$D0" && mount "$D0" /data; then
	where="ext4 on a virtio disk"
else
	note "no room for a $((SIZE / MiB)) MiB object: give the VM --mem or a third disk"
	exit 0
fi
load_module
s3_up $TTFB $BW || { note "s3rver did not start"; exit 0; }
head -c $SIZE /dev/urandom >/data/obj
s3_put obj /data/obj
rm -f /data/obj
start_daemon
note "object $((SIZE / MiB)) MiB on s3rver ($where) behind s3proxy: ${TTFB} ms to first byte, $((BW / 1000000)) MB/s per connection; rcache 1 MiB blocks, 16 GETs in flight; $BENCH_PAIRS interleaved rounds"

modprobe fuse
echo "BENCH:bench-secret" >/data/s3fs.passwd
chmod 600 /data/s3fs.passwd
s3fs_mount() {
	s3fs bkt /mnt/s3fs -o url=$PROXY -o use_path_request_style -o passwd_file=/data/s3fs.passwd \
		-o endpoint=us-east-1 -o nonempty 2>"$LOGS/s3fs.log"
}
s3fs_read() {	# prints MB/s
	local t0 t1
	t0=$(date +%s%N)
	dd if=/mnt/s3fs/obj of=/dev/null bs=1M status=none
	t1=$(date +%s%N)
	mb_per_s $SIZE $t0 $t1
}

declare -a single par8 cold warm fuse1 fuse2
for ((i = 0; i < BENCH_PAIRS; i++)); do
	single+=("$(curl_get obj $SIZE)")
	par8+=("$(curl_get8 obj $SIZE)")
	fresh_device b s3://bkt/obj $C0
	cold+=("$(read_dev /dev/mapper/b $SIZE)")
	warm+=("$(read_dev /dev/mapper/b $SIZE)")
	s3fs_mount
	fuse1+=("$(s3fs_read)")
	echo 3 >/proc/sys/vm/drop_caches
	fuse2+=("$(s3fs_read)")
	umount /mnt/s3fs
	echo "round $i: curl ${single[i]} curl8 ${par8[i]} rcache ${cold[i]}/${warm[i]} s3fs ${fuse1[i]}/${fuse2[i]} MB/s"
done

# per-round ratios, medians
ratios() {	# ratios NAME A[@] B[@]: prints median of B/A per round
	local -n a=$2 b=$3
	local i rs=()
	for ((i = 0; i < ${#a[@]}; i++)); do
		rs+=("$(python3 -c "print('%.3f' % (${b[i]} / ${a[i]}))")")
	done
	printf '%-34s median %s  (%s; pairs: %s)\n' "$1" "$(median "${rs[@]}")" \
		"$(median "${a[@]}") vs $(median "${b[@]}") MB/s" "${rs[*]}"
}
echo "BENCH $(ratios 'rcache_cold/curl_single' single cold)" | tee -a "$REPORT"
echo "BENCH $(ratios 'rcache_cold/curl_8_parallel' par8 cold)" | tee -a "$REPORT"
echo "BENCH $(ratios 'rcache_cold/s3fs_cold' fuse1 cold)" | tee -a "$REPORT"
echo "BENCH $(ratios 'rcache_second_read/s3fs_second' fuse2 warm)" | tee -a "$REPORT"

# cold random 256 KiB reads: p50 latency, rcache (256 KiB blocks) vs curl
p50_rcache() {
	fresh_device r s3://bkt/obj $C1 --block-size 256K --no-prefetch
	python3 - $SIZE <<'PY'
import mmap, os, random, statistics, sys, time
size = int(sys.argv[1])
fd = os.open("/dev/mapper/r", os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 262144)
rnd = random.Random(3)
lat = []
for _ in range(40):
    off = rnd.randrange(size // 262144) * 262144
    t = time.monotonic()
    os.preadv(fd, [buf], off)
    lat.append((time.monotonic() - t) * 1000)
print("%.1f" % statistics.median(lat))
PY
}
p50_curl() {
	python3 - $SIZE $PROXY <<'PY'
import random, statistics, subprocess, sys
size, proxy = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(3)
lat = []
for _ in range(40):
    off = rnd.randrange(size // 262144) * 262144
    # curl's own clock: the request, not the process start
    out = subprocess.run(["curl", "-sf", "-w", "%{time_total}", "-r", "%d-%d" % (off, off + 262143),
                          proxy + "/bkt/obj", "-o", "/dev/null"], check=True, capture_output=True, text=True)
    lat.append(float(out.stdout) * 1000)
print("%.1f" % statistics.median(lat))
PY
}
declare -a lr lc
for ((i = 0; i < BENCH_PAIRS; i++)); do
	lc+=("$(p50_curl)")
	lr+=("$(p50_rcache)")
done
echo "BENCH $(printf '%-34s rcache p50 %s ms, curl range GET p50 %s ms (rounds: rcache %s; curl %s)' \
	cold_random_256k_p50_latency "$(median "${lr[@]}")" "$(median "${lc[@]}")" "${lr[*]}" "${lc[*]}")" |
	tee -a "$REPORT"
rcachectl remove r >/dev/null 2>&1
rcachectl remove b >/dev/null 2>&1
stop_daemon
exit 0
