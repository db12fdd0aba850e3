#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Persistent cache tests (issue 4), in one VM boot:
#   vm-run --disk c0:256 --disk o0:160 --disk c1:64 persist.sh
# The crash tests need several boots: selftests/e2e/crash-host.sh.
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
O0=$(disk 1)
C1=$(disk 2)
MiB=$((1024 * 1024))
mkdir -p /data
ORIGIN=/data/img
ORIGIN_SIZE=$((48 * MiB))
make_origin $ORIGIN $ORIGIN_SIZE 4
ORIGIN_SHA=$(sha_file $ORIGIN)
load_module || t_fail module-load "insmod failed"

wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none 2>/dev/null || true
}

devt() {
	printf '%d:%d' $((0x$(stat -L -c %t "$1"))) $((0x$(stat -L -c %T "$1")))
}

# writes completed on a block device (/sys/block/X/stat field 5)
writes() {
	local name
	name=$(basename "$(readlink -f "$1")")
	awk '{print $5}' /sys/block/$name/stat
}

test_reload_keeps_cache() {
	wipe $C0
	start_daemon
	rcachectl create p1 --origin file://$ORIGIN --cache $C0
	assert_eq "$(sha_dev /dev/mapper/p1 $ORIGIN_SIZE)" "$ORIGIN_SHA" "cold sha256"
	dmsetup remove p1
	stop_daemon
	unload_module
	load_module
	rcachectl inspect $C0
	assert_eq "$(rcachectl inspect $C0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cached_blocks"])')" 48 "blocks recorded on disk"
	# no daemon at all: every read must be a hit
	rcachectl create p1 --origin file://$ORIGIN --cache $C0 --fail-fast
	assert_eq "$(field p1 cached_blocks)" 48 "cached blocks after reload"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p1 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after reload, no daemon"
	assert_eq "$(field p1 read_misses)" 0 "misses after reload"
	assert_eq "$(field p1 fetch_errors)" 0 "fetch errors"
	dmesg | grep -q "loaded cache .*: 48 of 48 blocks cached" || die "no load message"
	rcachectl remove p1
}

test_flush_commits_idle_writes_nothing() {
	wipe $C0
	start_daemon
	rcachectl create p2 --origin file://$ORIGIN --cache $C0 --commit-interval 0
	local w0 w1 c0
	dd if=/dev/mapper/p2 of=/dev/null bs=1M count=4 iflag=direct status=none
	sleep 0.5
	c0=$(field p2 md_commits)
	w0=$(writes $C0)
	sleep 2
	assert_eq "$(writes $C0)" "$w0" "cache writes while idle (commit_interval 0)"
	flush_dev /dev/mapper/p2
	w1=$(writes $C0)
	assert_ge "$w1" $((w0 + 1)) "cache writes after a flush"
	assert_eq "$(field p2 md_commits)" $((c0 + 1)) "commits after a flush"
	# nothing changed since: a flush writes no metadata
	flush_dev /dev/mapper/p2
	assert_eq "$(writes $C0)" "$w1" "cache writes after a second flush"
	assert_eq "$(field p2 md_commits)" $((c0 + 1)) "commits after a flush with nothing changed"
	rcachectl remove p2
	# periodic commits: a change is written within about a second, then quiet
	rcachectl create p2 --origin file://$ORIGIN --cache $C0 --commit-interval 300
	dd if=/dev/mapper/p2 of=/dev/null bs=1M skip=10 count=2 iflag=direct status=none
	sleep 1.5
	w0=$(writes $C0)
	c0=$(field p2 md_commits)
	assert_ge "$c0" 1 "periodic commits after a change"
	sleep 3
	assert_eq "$(writes $C0)" "$w0" "cache writes over 3 idle seconds"
	assert_eq "$(field p2 md_commits)" "$c0" "commits over 3 idle seconds"
	rcachectl remove p2
}

test_origin_changed() {
	wipe $C0
	cp $ORIGIN /data/chg
	start_daemon
	rcachectl create p3 --origin file:///data/chg --cache $C0
	cat /dev/mapper/p3 >/dev/null
	rcachectl remove p3
	# a new version of the origin: same size, other bytes
	make_origin /data/chg $ORIGIN_SIZE 77
	local out
	if out=$(rcachectl create p3 --origin file:///data/chg --cache $C0 2>&1); then
		die "changed origin accepted"
	fi
	echo "$out"
	echo "$out" | grep -q "Origin changed since the cache was filled (reset starts over)" ||
		die "unclear message: $out"
	dmsetup info p3 >/dev/null 2>&1 && die "device left behind"
	dmesg | grep -q "holds file:///data/chg version size=" || die "no kernel detail"
	# another origin altogether
	out=$(rcachectl create p3 --origin file://$ORIGIN --cache $C0 2>&1) && die "other origin accepted"
	echo "$out" | grep -q "holds another origin" || die "unclear message: $out"
	# --reset: everything is fetched again, and the bytes are the new ones
	rcachectl create p3 --origin file:///data/chg --cache $C0 --reset
	assert_eq "$(field p3 cached_blocks)" 0 "cached blocks after reset"
	assert_eq "$(sha_dev /dev/mapper/p3 $ORIGIN_SIZE)" "$(sha_file /data/chg)" "sha256 after reset"
	assert_eq "$(field p3 cached_blocks)" 48 "refetched blocks"
	rcachectl remove p3
}

test_corrupt_superblock() {
	wipe $C0
	start_daemon
	rcachectl create p4 --origin file://$ORIGIN --cache $C0
	dd if=/dev/mapper/p4 of=/dev/null bs=1M count=8 iflag=direct status=none
	rcachectl remove p4
	# flip one byte of the superblock (in the origin URL)
	poke $C0 1000
	local out
	out=$(rcachectl create p4 --origin file://$ORIGIN --cache $C0 2>&1) && die "damaged superblock accepted"
	echo "$out"
	echo "$out" | grep -q "superblock checksum mismatch" || die "unclear message: $out"
	out=$(rcachectl inspect $C0 2>&1) && die "inspect accepted a damaged superblock"
	echo "$out" | grep -q "superblock checksum mismatch" || die "inspect did not say so: $out"
	# a damaged magic is not taken for a fresh device
	poke $C0 1000
	poke $C0 4
	out=$(rcachectl create p4 --origin file://$ORIGIN --cache $C0 2>&1) && die "damaged magic accepted"
	echo "$out"
	echo "$out" | grep -q "no rcache superblock and is not zeroed" || die "unclear message: $out"
	out=$(rcachectl inspect $C0 2>&1) && die "inspect accepted a damaged magic"
	echo "$out" | grep -q "no rcache superblock, and not zeroed" || die "inspect did not say so: $out"
	# a damaged metadata page (both copies) is refused too
	rcachectl create p4 --origin file://$ORIGIN --cache $C0 --reset
	dd if=/dev/mapper/p4 of=/dev/null bs=1M count=8 iflag=direct status=none
	rcachectl remove p4
	poke $C0 $((4096 + 100))
	poke $C0 $((8192 + 100))
	out=$(rcachectl create p4 --origin file://$ORIGIN --cache $C0 2>&1) && die "damaged metadata accepted"
	echo "$out" | grep -q "metadata checksum mismatch" || die "unclear message: $out"
	# the newest copy of a page torn: the older one is used (what was
	# committed after it is fetched again, nothing wrong is served).
	# Commit 1 goes to copy 1 (8 blocks), commit 2 to copy 0 (16 blocks).
	rcachectl create p4 --origin file://$ORIGIN --cache $C0 --reset --commit-interval 0 --no-prefetch
	dd if=/dev/mapper/p4 of=/dev/null bs=1M count=8 iflag=direct status=none
	flush_dev /dev/mapper/p4
	dd if=/dev/mapper/p4 of=/dev/null bs=1M skip=8 count=8 iflag=direct status=none
	flush_dev /dev/mapper/p4
	assert_eq "$(field p4 md_commits)" 2 "commits"
	rcachectl remove p4
	poke $C0 $((4096 + 100))
	rcachectl create p4 --origin file://$ORIGIN --cache $C0 --no-prefetch
	assert_eq "$(field p4 cached_blocks)" 8 "blocks from the older copy"
	assert_eq "$(sha_dev /dev/mapper/p4 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256"
	rcachectl remove p4
}

# dup_entry DEV: in the newest copy of metadata page 0, gives the first free
# slot the block of the first used one, and its data, as a crash in the
# middle of a multi-page commit leaves it; re-checksums the page
dup_entry() {
	local geo
	geo=$(rcachectl inspect "$1" --json |
		python3 -c "import json, sys; j = json.load(sys.stdin); print(j['data_start'], j['block_size'])")
	python3 - "$1" $geo <<'PY'
import mmap, os, struct, sys
def crc32c(data, crc=0xffffffff):
    tab = crc32c.tab
    for b in data:
        crc = tab[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc        # the kernel's crc32c(): no final inversion
crc32c.tab = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    crc32c.tab.append(c)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
best = None
for off in (4096, 8192):
    os.preadv(fd, [buf], off)
    page = bytes(buf)
    csum, magic, fmt, seq, idx = struct.unpack_from("<IIQQI", page)
    if magic == 0x52434d44 and csum == crc32c(page[4:]) and (best is None or seq > best[1]):
        best = (off, seq, bytearray(page))
off, seq, page = best
ents = list(struct.unpack_from("<1016I", page, 32))
used = next(j for j, e in enumerate(ents) if e)
free = next(j for j, e in enumerate(ents) if not e)
struct.pack_into("<I", page, 32 + 4 * free, ents[used])
struct.pack_into("<I", page, 0, crc32c(bytes(page[4:])))
data_start, bs = int(sys.argv[2]), int(sys.argv[3])
blk = mmap.mmap(-1, bs)
os.preadv(fd, [blk], data_start + used * bs)
os.pwritev(fd, [blk], data_start + free * bs)
buf[:] = bytes(page)
os.pwritev(fd, [buf], off)
os.close(fd)
print("slot %d now also holds block %d (page copy at %d, seq %d)" % (free, ents[used] - 1, off, seq))
PY
}

test_block_in_two_slots() {
	wipe $C0
	start_daemon
	rcachectl create p8 --origin file://$ORIGIN --cache $C0 --no-prefetch
	dd if=/dev/mapper/p8 of=/dev/null bs=1M count=8 iflag=direct status=none
	rcachectl remove p8
	dup_entry $C0
	dmesg -C
	rcachectl create p8 --origin file://$ORIGIN --cache $C0 --no-prefetch
	dmesg | grep -q "in two slots (a commit cut short)" || die "the duplicate went unnoticed"
	assert_eq "$(field p8 cached_blocks)" 8 "blocks kept"
	assert_eq "$(sha_dev /dev/mapper/p8 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256"
	rcachectl remove p8
	# the remove committed the repaired page: a clean load
	dmesg -C
	rcachectl create p8 --origin file://$ORIGIN --cache $C0 --no-prefetch
	dmesg | grep -q "in two slots" && die "the repair was not committed"
	assert_eq "$(field p8 cached_blocks)" 48 "blocks cached"
	rcachectl remove p8
}

# The cache device is a dm device whose table the test swaps under rcache.
cache_table() {
	dmsetup load cdev --table "$1"
	dmsetup suspend cdev
	dmsetup resume cdev
}

test_media_errors() {
	local sz
	wipe $C1
	sz=$(blockdev --getsz $C1)
	dmsetup create cdev --table "0 $sz linear $C1 0"
	dmsetup mknodes cdev
	start_daemon
	rcachectl create p5 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K
	cat /dev/mapper/p5 >/dev/null
	flush_dev /dev/mapper/p5
	# 1) dm-error over the middle of the data slots: those hits fail, the
	#    blocks are fetched again into good slots, bytes stay right
	cache_table "0 20480 linear $C1 0
20480 8192 error
28672 $((sz - 28672)) linear $C1 28672"
	drop_caches
	rangecheck /dev/mapper/p5 $ORIGIN 4 60 400000 3 direct || true
	assert_ge "$(field p5 cache_read_errors)" 1 "cache read errors counted"
	# whatever was read successfully was right (rangecheck fails on EIO too):
	# now every byte again, from good slots or refetched
	cache_table "0 $sz linear $C1 0"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p5 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after read errors"
	# 2) dm-flakey, up 1 s / down 1 s, under reads that keep missing: every
	#    read returns the right bytes or a clean EIO, nothing hangs; the
	#    device may end in failed mode (a metadata write failed) and a
	#    re-created one serves the last committed state, byte-exact
	rcachectl invalidate p5
	cache_table "0 $sz flakey $C1 0 1 1"
	local i ok=0 eio=0
	for i in $(seq 0 23); do
		if timeout 60 dd if=/dev/mapper/p5 of=/data/flaky bs=256K skip=$((i * 8)) count=8 \
			iflag=direct status=none 2>/dev/null; then
			cmp -s /data/flaky <(dd if=$ORIGIN bs=256K skip=$((i * 8)) count=8 status=none) ||
				die "wrong bytes from a flaky cache device (chunk $i)"
			ok=$((ok + 1))
		else
			[ $? -eq 124 ] && die "a read hung on a flaky cache device"
			eio=$((eio + 1))
		fi
	done
	echo "flaky cache: $ok chunks read right, $eio clean EIO, mode $(field p5 mode)"
	cache_table "0 $sz linear $C1 0"
	rcachectl remove p5
	rcachectl create p5 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p5 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after flakey, re-created"
	# 3) the metadata cannot be written: failed mode, a dm event, hits still served
	local ev0
	ev0=$(dmsetup info -c --noheadings -o events p5 | tr -d ' ')
	rcachectl invalidate p5 --range 0-2M
	cache_table "0 8 linear $C1 0
8 2040 error
2048 $((sz - 2048)) linear $C1 2048"
	flush_dev /dev/mapper/p5 2>/dev/null || true
	sleep 0.5
	assert_eq "$(field p5 mode)" failed "mode after a failed metadata write"
	rcachectl status p5 | grep -q "metadata write to the cache device failed" || die "no reason in status"
	assert_ge "$(dmsetup info -c --noheadings -o events p5 | tr -d ' ')" $((ev0 + 1)) "dm event number"
	assert_eq "$(dd if=/dev/mapper/p5 bs=1M skip=8 count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(dd if=$ORIGIN bs=1M skip=8 count=8 status=none | sha256sum | cut -d' ' -f1)" "hits in failed mode"
	assert_fails "a miss in failed mode" dd if=/dev/mapper/p5 of=/dev/null bs=1M count=1 iflag=direct
	rcachectl remove p5
	dmsetup remove cdev
}

test_eviction_scan_resistance() {
	# origin 48 MiB in 64 KiB blocks = 768 blocks; cache of ~25%: 192 slots
	local bs=65536 nblocks=768 hot=24 cache_mb
	cache_mb=$(( (1 + 192 * bs / MiB) ))
	dmsetup create small --table "0 $((cache_mb * 2048 + 256)) linear $C1 0"
	dmsetup mknodes small
	dd if=/dev/zero of=/dev/mapper/small bs=1M count=2 oflag=direct status=none
	start_daemon
	rcachectl create p6 --origin file://$ORIGIN --cache /dev/mapper/small --block-size 64K
	local slots
	slots=$(field p6 slots)
	echo "slots: $slots of $nblocks blocks"
	assert_le "$slots" 200 "slots"
	assert_ge "$slots" 180 "slots"
	# the hot set: 24 blocks spread over the device, read a few times
	local hotblocks=() i b
	for ((i = 0; i < hot; i++)); do
		hotblocks+=($((i * 31 + 5)))
	done
	read_hot() {
		for b in "${hotblocks[@]}"; do
			dd if=/dev/mapper/p6 of=/dev/null bs=$bs skip=$b count=1 iflag=direct status=none
		done
	}
	for i in 1 2 3 4; do
		read_hot
		sleep 0.3
	done
	# one full sequential scan in chunks, the hot set read between chunks;
	# only the hot passes are counted
	local hot_reads=0 hot_misses=0 m0 chunk
	for ((chunk = 0; chunk < nblocks; chunk += 64)); do
		dd if=/dev/mapper/p6 of=/dev/null bs=$bs skip=$chunk count=64 iflag=direct status=none
		m0=$(field p6 read_misses)
		read_hot
		hot_reads=$((hot_reads + hot))
		hot_misses=$((hot_misses + $(field p6 read_misses) - m0))
	done
	local rate=$(( (hot_reads - hot_misses) * 1000 / hot_reads ))
	echo "hot set hit rate during the scan: $((rate / 10)).$((rate % 10))% ($hot_misses misses of $hot_reads reads)"
	echo "evictions: $(field p6 evictions)"
	assert_ge "$(field p6 evictions)" 400 "evictions"
	assert_le "$(field p6 cached_blocks)" "$slots" "cached blocks (never more than the slots)"
	assert_ge "$(field p6 cached_blocks)" $((slots / 2)) "cached blocks after the scan"
	assert_ge "$rate" 900 "hot set hit rate (per mille)"
	dmesg | grep -E "bytes of state per origin block" | tail -n 1
	# and every byte right, scanned twice over the small cache
	rangecheck /dev/mapper/p6 $ORIGIN 8 80 300000 11 direct
	assert_eq "$(sha_dev /dev/mapper/p6 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 through a 25% cache"
	rcachectl remove p6
	dmsetup remove small
}

test_invalidate_and_clear_stats() {
	wipe $C0
	start_daemon
	rcachectl create p7 --origin file://$ORIGIN --cache $C0
	cat /dev/mapper/p7 >/dev/null
	assert_eq "$(field p7 cached_blocks)" 48 "cached"
	rcachectl invalidate p7 --range 4M-8M
	assert_eq "$(field p7 cached_blocks)" 44 "cached after invalidating 4 MiB"
	rcachectl clear-stats p7
	assert_eq "$(field p7 read_hits)" 0 "hits after clear-stats"
	assert_eq "$(field p7 read_misses)" 0 "misses after clear-stats"
	# one bio per block: a miss is a fetched block
	assert_eq "$(dd if=/dev/mapper/p7 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$ORIGIN_SHA" "sha256 after invalidate"
	# fetched blocks, on demand or ahead of the reader
	assert_eq "$(($(field p7 read_misses) + $(field p7 prefetch_issued)))" 4 \
		"fetches: the invalidated blocks only"
	assert_fails "bad invalidate range" dmsetup message p7 0 invalidate 9-3
	assert_fails "unknown message" dmsetup message p7 0 bogus
	dmesg | grep -q "unknown message 'bogus'" || die "no message for an unknown message"
	rcachectl remove p7
}

# Every slot emptied by invalidate waits for a commit before reuse; with no
# periodic commit and nothing left to evict, a miss must still get its slot
# (the worker commits for it) instead of waiting forever.
test_invalidate_all_then_miss() {
	local pid i
	wipe $C0
	start_daemon
	rcachectl create p8 --origin file://$ORIGIN --cache $C0 --commit-interval 0 --no-prefetch
	cat /dev/mapper/p8 >/dev/null
	assert_eq "$(field p8 cached_blocks)" "$(field p8 total_blocks)" "cached before invalidate"
	rcachectl invalidate p8
	dd if=/dev/mapper/p8 of=/data/after-inval bs=1M count=4 iflag=direct status=none &
	pid=$!
	for i in $(seq 1 300); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null; then
		# a flush commits the emptied slots and the next miss hands them out
		sync /dev/mapper/p8
		dd if=/dev/mapper/p8 of=/dev/null bs=1M skip=40 count=1 iflag=direct status=none || true
		wait $pid || true
		die "a miss after invalidating every block waited 30 s for a slot"
	fi
	wait $pid
	cmp /data/after-inval <(head -c $((4 * MiB)) $ORIGIN) || die "wrong bytes after invalidate"
	assert_eq "$(sha_dev /dev/mapper/p8 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after invalidating every block"
	rcachectl remove p8
}

TESTS=(
	reload_keeps_cache test_reload_keeps_cache
	flush_commits_idle_writes_nothing test_flush_commits_idle_writes_nothing
	origin_changed test_origin_changed
	corrupt_superblock test_corrupt_superblock
	block_in_two_slots test_block_in_two_slots
	media_errors test_media_errors
	eviction_scan_resistance test_eviction_scan_resistance
	invalidate_and_clear_stats test_invalidate_and_clear_stats
	invalidate_all_then_miss test_invalidate_all_then_miss
)
t_run_all "$@"
cleanup_devices
exit 0
