#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 5 benchmarks, inside the VM:
#   cold sequential read, 1 stream and 4 interleaved streams, prefetch on and
#   off, from a tmpfs file origin (vs reading the file) and from S3 with 30 ms
#   to first byte (vs 8 parallel curl range GETs);
#   the classic exercise: ext4 image of 256 x 4 MiB files in a bucket,
#   mounted from the device, read cold then warm;
#   replay: 2,000 small files read in a fixed shuffled order, cold, with and
#   without replaying the trace of an earlier run;
#   trace: warm reads with and without `trace record` running, and the
#   memory a recording takes.
source "$RCACHE_TOP/selftests/lib.sh"
source "$RCACHE_TOP/selftests/bench/benchlib.sh"
source "$RCACHE_TOP/selftests/bench/s3env.sh"

C0=$(disk 0)
C1=$(disk 1)
MiB=$((1024 * 1024))
SIZE=$((256 * MiB))
TTFB=30
BW=$((3 * 1000 * 1000))	# per connection: see s3.sh
S3_SIZE=$((64 * MiB))
mkdir -p /data /mnt/fs
mount -t tmpfs -o size=3G data /data
load_module
start_daemon
make_origin /data/img $SIZE 5
note "$(nproc) vCPUs under TCG; $BENCH_PAIRS interleaved pairs per figure; rcache 1 MiB blocks unless stated"

# elapsed NS0 NS1 BYTES: MB/s
rate() { mb_per_s "$3" "$1" "$2"; }

# cold_streams ORIGIN N [CREATE-ARGS...]: a fresh device read by N streams
cold_streams() {
	local origin=$1 n=$2
	shift 2
	fresh_device pf "$origin" $C0 "$@"
	read_streams /dev/mapper/pf $SIZE "$n"
}

prefetch_note() {
	note "$1: prefetch issued $(field pf prefetch_issued), used $(field pf prefetch_used), wasted $(field pf prefetch_wasted), demand misses $(field pf read_misses), streams $(field pf streams)"
}

# stream_figures LABEL BASE_NAME BASE_CMD ORIGIN BYTES: cold reads through a
# fresh device, 1 and 4 streams, prefetch on and off, against BASE_CMD
stream_figures() {
	local label=$1 base=$2 base_cmd=$3 origin=$4 bytes=$5 n
	for n in 1 4; do
		compare "${label}_cold_${n}stream_prefetch_on" MB/s "$base" "$base_cmd $n" \
			rcache "SIZE=$bytes cold_streams $origin $n"
		prefetch_note "$label, $n stream(s), last round"
		compare "${label}_cold_${n}stream_prefetch_off" MB/s "$base" "$base_cmd $n" \
			rcache "SIZE=$bytes cold_streams $origin $n --no-prefetch"
	done
}

# which parts run (all by default): "streams classic replay trace"
PARTS=${BENCH_PREFETCH_PARTS:-streams classic replay trace}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# --- tmpfs file origin ---
read_file() { read_streams /data/img $SIZE "$1" buffered; }
part streams && stream_figures tmpfs file read_file file:///data/img $SIZE

# --- trace record: what recording costs a read workload, and its memory ---
if part trace; then
	rcachectl remove pf >/dev/null 2>&1
	fresh_device tr file:///data/img $C0 --block-size 64K --no-prefetch
	rcachectl warmup tr --wait >/dev/null 2>&1
	rand_iops() { fio_run /dev/mapper/tr 0 $SIZE rand 3; }
	seq_mbs() { fio_run /dev/mapper/tr 0 $SIZE seq 3; }
	# traced CMD: CMD while `trace record` runs (a fresh trace: every
	# block's first read is recorded, the rest test its bit)
	traced() {
		local pid r
		rcachectl trace record tr --out /data/bench.trace 2>/dev/null &
		pid=$!
		sleep 0.5
		r=$("$1")
		kill -INT $pid
		wait $pid
		echo "$r"
	}
	compare trace_record_warm_4k_random IOPS plain rand_iops traced "traced rand_iops"
	compare trace_record_warm_1m_sequential MB/s plain seq_mbs traced "traced seq_mbs"
	rcachectl trace record tr --out /data/bench.trace 2>/dev/null &
	recpid=$!
	sleep 1
	ring=$(awk '/rcache_trace_start/ { n += $2 } END { print n + 0 }' /proc/vmallocinfo)
	rss=$(awk '/^VmRSS/ { print $2 }' /proc/$recpid/status)
	kill -INT $recpid
	wait $recpid
	note "trace record: 4 KiB random reads (fio, qd 32) and 1 MiB sequential reads of a warm 256 MiB device in 64 KiB blocks, with and without a recording running; kernel memory while recording: ring $ring bytes (vmallocinfo, with its guard page) + $(($(field tr total_blocks) / 8)) bytes of bitmap; rcachectl trace record RSS $rss KiB"
	rcachectl remove tr >/dev/null 2>&1
fi

# --- S3: s3rver behind the shaping proxy ---
if s3_up $TTFB $BW; then
	# the daemon reads its S3 settings from the environment s3_up set
	stop_daemon
	start_daemon
	head -c $S3_SIZE /data/img >/data/img.s3
	s3_put img /data/img.s3
	rm -f /data/img.s3
	note "S3: $((S3_SIZE / MiB)) MiB object, ${TTFB} ms to first byte, $((BW / 1000000)) MB/s per connection"
	curl8() { curl_get8 img $S3_SIZE; }	# the same for any number of streams
	part streams && stream_figures s3 curl8 curl8 s3://bkt/img $S3_SIZE
	rcachectl remove pf >/dev/null 2>&1
	rm -f /data/img
else
	note "s3rver did not start: no S3 figures"
fi

# --- the classic exercise: an ext4 image of 256 x 4 MiB files in a bucket ---
mkfs_files() {	# mkfs_files IMAGE MB COUNT MIN_KIB MAX_KIB SEED
	rm -rf /data/tree
	python3 - /data/tree "$3" "$4" "$5" "$6" <<'PY'
import os, random, sys
top, count, lo, hi, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(seed)
for i in range(count):
    d = os.path.join(top, "d%02d" % (i % 16))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(lo, hi) * 1024))
PY
	mkfs.ext4 -q -F -b 4096 -O ^has_journal -d /data/tree "$1" "$2M"
	rm -rf /data/tree
}

# mount_dev NAME: mounts /dev/mapper/NAME read-only on /mnt/fs, page cache cold
mount_dev() {
	echo 3 >/proc/sys/vm/drop_caches
	mount -o ro /dev/mapper/"$1" /mnt/fs
}

# read_tree: every file, in name order; prints MB/s of file data
read_tree() {
	local t0 t1 bytes
	# bytes counted apart: a pipe into wc would be the bottleneck under TCG
	bytes=$(find /mnt/fs -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
	t0=$(date +%s%N)
	find /mnt/fs -type f -print0 | sort -z | xargs -0 cat >/dev/null
	t1=$(date +%s%N)
	rate "$t0" "$t1" "$bytes"
}

if [ -n "${PROXY:-}" ] && part classic; then
	mkfs_files /data/classic.img 1100 256 4096 4096 1
	s3_put classic /data/classic.img
	rm -f /data/classic.img
	declare -a cold warm rs
	for ((i = 0; i < BENCH_PAIRS; i++)); do
		fresh_device cl s3://bkt/classic $C1
		mount_dev cl
		cold+=("$(read_tree)")
		umount /mnt/fs
		mount_dev cl
		warm+=("$(read_tree)")
		umount /mnt/fs
		rs+=("$(python3 -c "print('%.2f' % (${warm[i]} / ${cold[i]}))")")
	done
	echo "BENCH $(printf '%-34s warm/cold median %s  (cold %s MB/s, warm %s MB/s; rounds: %s)' \
		classic_256x4MiB_ext4 "$(median "${rs[@]}")" "$(median "${cold[@]}")" \
		"$(median "${warm[@]}")" "${rs[*]}")" | tee -a "$REPORT"
	note "classic: S3 origin as above; each round a fresh cache, mounted read-only, every file read with cat in name order; page cache dropped and remounted for the warm pass"
	rcachectl remove cl >/dev/null 2>&1
fi

# --- replay: 2,000 small files in a fixed shuffled order ---
# read_shuffled: prints files per second
read_shuffled() {
	python3 - /mnt/fs <<'PY'
import os, random, sys, time
top = sys.argv[1]
names = sorted(os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs)
random.Random(42).shuffle(names)
t = time.monotonic()
for n in names:
    with open(n, "rb") as f:
        f.read()
print("%.1f" % (len(names) / (time.monotonic() - t)))
PY
}

if [ -n "${PROXY:-}" ] && part replay; then
	mkfs_files /data/small.img 120 2000 8 56 2
	s3_put small /data/small.img
	rm -f /data/small.img
	# record the workload once, on its own cache
	fresh_device rec s3://bkt/small $C0 --block-size 64K
	rcachectl trace record rec --out /data/small.trace 2>"$LOGS/trace.log" &
	recpid=$!
	sleep 0.5
	mount_dev rec
	read_shuffled >/dev/null
	umount /mnt/fs
	kill -INT $recpid
	wait $recpid
	note "replay: 2,000 files of 8-56 KiB (ext4, 64 KiB blocks), S3 origin as above; trace of $(($(wc -l </data/small.trace) - 1)) blocks, $(stat -c %s /data/small.trace) bytes"
	rcachectl remove rec >/dev/null
	without() {
		fresh_device rp s3://bkt/small $C0 --block-size 64K
		mount_dev rp
		read_shuffled
		umount /mnt/fs
	}
	with() {
		local wp r
		fresh_device rp s3://bkt/small $C0 --block-size 64K
		rcachectl warmup rp --trace /data/small.trace >/dev/null 2>&1 &
		wp=$!
		mount_dev rp
		r=$(read_shuffled)
		umount /mnt/fs
		wait $wp
		echo "$r"
	}
	compare replay_2000_small_files files/s cold "without" replayed "with"
	note "replay, last round: demand misses $(field rp read_misses), warm-up fetched $(($(field rp cached_blocks) - $(field rp read_misses))) blocks"
	rcachectl remove rp >/dev/null 2>&1
fi
stop_daemon
exit 0
