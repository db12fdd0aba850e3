#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Persistent cache tests (issue 4), in one VM boot:
#   vm-run --disk c0:256 --disk o0:160 --disk c1:64 --disk lw:96 --disk big:4200 persist.sh
# (big is sparse: only its metadata area is ever written.)  The crash tests
# need several boots: selftests/e2e/crash-host.sh.
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
O0=$(disk 1)
C1=$(disk 2)
LW=$(disk 3)
BIG=$(disk 4)
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
	klog_has "loaded cache .*: 48 of 48 blocks cached" || die "no load message"
	rcachectl remove p1
}

test_flush_commits_idle_writes_nothing() {
	wipe $C0
	start_daemon
	# no prefetch: the blocks read later must not be cached by this pass
	rcachectl create p2 --origin file://$ORIGIN --cache $C0 --commit-interval 0 --no-prefetch
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
	rcachectl create p2 --origin file://$ORIGIN --cache $C0 --commit-interval 300 --no-prefetch
	assert_eq "$(field p2 cached_blocks)" 4 "blocks cached before the change"
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
	klog_has "holds file:///data/chg version size=" || die "no kernel detail"
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
	klog_has "in two slots (a commit cut short)" || die "the duplicate went unnoticed"
	assert_eq "$(field p8 cached_blocks)" 8 "blocks kept"
	assert_eq "$(sha_dev /dev/mapper/p8 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256"
	rcachectl remove p8
	# the remove committed the repaired page: a clean load
	dmesg -C
	rcachectl create p8 --origin file://$ORIGIN --cache $C0 --no-prefetch
	klog_has "in two slots" && die "the repair was not committed"
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
	# every range read must be right; some reads may fail (exit 3: EIO
	# only), none may return wrong bytes (exit 1)
	local rc=0
	rangecheck /dev/mapper/p5 $ORIGIN 4 60 400000 3 direct || rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 3 ] || die "rangecheck over a dm-error hole: exit $rc (wrong bytes)"
	assert_ge "$(field p5 cache_read_errors)" 1 "cache read errors counted"
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
	# no periodic commit: the flush below is what writes the metadata
	rcachectl create p5 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K \
		--commit-interval 0
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
	rcachectl create p6 --origin file://$ORIGIN --cache /dev/mapper/small --block-size 64K \
		--no-prefetch
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
	# one full sequential scan in chunks of more blocks than the cache has
	# slots, the hot set read between chunks: a plain LRU would have
	# evicted the whole hot set by each re-read (0% hits).  Only the hot
	# passes are counted.
	local hot_reads=0 hot_misses=0 m0 chunk step=$((slots + 32))
	for ((chunk = 0; chunk < nblocks; chunk += step)); do
		dd if=/dev/mapper/p6 of=/dev/null bs=$bs skip=$chunk count=$step iflag=direct status=none
		[ $((chunk + step)) -lt $nblocks ] || break
		m0=$(field p6 read_misses)
		read_hot
		hot_reads=$((hot_reads + hot))
		hot_misses=$((hot_misses + $(field p6 read_misses) - m0))
	done
	local rate=$(( (hot_reads - hot_misses) * 1000 / hot_reads ))
	echo "hot set hit rate during the scan: $((rate / 10)).$((rate % 10))% ($hot_misses misses of $hot_reads reads, $step blocks scanned between re-reads, $slots slots)"
	echo "evictions: $(field p6 evictions)"
	assert_ge "$hot_reads" $((2 * hot)) "hot reads during the scan"
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

# A loop over 1.25 times the cache (the whole 48 MiB origin in 4 KiB blocks,
# 9,830 slots), three passes: each pass after the first hits at least 90%
# of the optimum (cache / loop).  Before fills entered cold, each fill
# evicted the block the loop read next and passes 2 and 3 hit nothing.
test_eviction_loop() {
	local slots=9830 bs=4096 blocks=$((ORIGIN_SIZE / 4096)) pass h0 m0 hits misses
	dmsetup create loopc --table "0 $(((MiB + slots * bs) / 512)) linear $C0 0"
	dmsetup mknodes loopc
	dd if=/dev/zero of=/dev/mapper/loopc bs=1M count=2 oflag=direct status=none
	start_daemon
	rcachectl create lp --origin file://$ORIGIN --cache /dev/mapper/loopc --block-size 4K \
		--no-prefetch
	assert_eq "$(field lp slots)" $slots "slots"
	for pass in 1 2 3; do
		h0=$(field lp read_hits)
		m0=$(field lp read_misses)
		dd if=/dev/mapper/lp bs=64K iflag=direct status=none | cmp -s - $ORIGIN ||
			die "pass $pass read wrong bytes"
		hits=$(($(field lp read_hits) - h0))
		misses=$(($(field lp read_misses) - m0))
		echo "pass $pass: $hits hits, $misses misses of $blocks reads (optimum $slots hits)"
		assert_eq $((hits + misses)) $blocks "reads counted in pass $pass"
		[ $pass = 1 ] || assert_ge $hits $((slots * 9 / 10)) "hits in pass $pass"
	done
	rcachectl remove lp
	dmsetup remove loopc
}

# fill_all_slots DEV: records every slot valid in the metadata, slot s
# holding block s (the data area is sparse: zeros, as the origin's blocks
# are).  A cache of 262,144 slots "filled" in a second instead of minutes.
fill_all_slots() {
	rcachectl inspect "$1" --json | python3 -c '
import json, mmap, os, struct, sys
j = json.load(sys.stdin)
tab = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    tab.append(c)
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc = tab[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc        # the kernel crc32c(): no final inversion
slots, pages, fmt = j["slots"], j["metadata_pages"], int(j["format_id"], 16)
epp = (4096 - 32) // 4
buf = mmap.mmap(-1, 4096 * pages)
for p in range(pages):
    first = p * epp
    ents = [s + 1 if s < slots else 0 for s in range(first, first + epp)]
    page = bytearray(struct.pack("<IIQQII", 0, 0x52434D44, fmt, 7, p, 0))
    page += struct.pack("<%dI" % epp, *ents)
    struct.pack_into("<I", page, 0, crc32c(bytes(page[4:])))
    buf[4096 * p:4096 * (p + 1)] = bytes(page)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
os.pwritev(fd, [buf], 4096)        # copy 0 of every page, newer than the format
os.close(fd)
print("%d slots recorded valid in %d metadata pages" % (slots, pages))
' "$1"
}

# Eviction never stalls: a cache of 262,144+ slots of 4 KiB, every slot
# valid and referenced, then cold reads.  The hand needs up to three turns
# of the cache to find a victim, 65,536 slots per run of the worker; the
# worker must go on by itself while fetches wait (before, a run that found
# no victim was the last one, and the read waited for good).
test_eviction_progress_all_referenced() {
	local slots t0 t1 i gib=$((1024 * MiB))
	dmsetup create evbig --table "0 $(((gib + 4 * MiB) / 512)) linear $BIG 0"
	dmsetup mknodes evbig
	dd if=/dev/zero of=/dev/mapper/evbig bs=1M count=4 oflag=direct status=none
	truncate -s $((gib + 64 * MiB)) /data/ev-origin	# sparse: zeros
	start_daemon
	rcachectl create ev --origin file:///data/ev-origin --cache /dev/mapper/evbig \
		--block-size 4K --no-prefetch
	slots=$(field ev slots)
	rcachectl remove ev
	assert_ge "$slots" 262144 "slots"
	fill_all_slots /dev/mapper/evbig
	rcachectl create ev --origin file:///data/ev-origin --cache /dev/mapper/evbig \
		--block-size 4K --no-prefetch
	# the reserve of free slots the worker evicts ahead of need at once: let
	# it settle (it takes unreferenced slots), then reference every other one
	sleep 2
	assert_ge "$(field ev cached_blocks)" $((slots - 1024)) "cached blocks after loading"
	local free=$((slots - $(field ev cached_blocks)))
	echo "free slots kept in reserve: $free"
	assert_le "$free" 1024 "free slots after loading"
	t0=$(date +%s)
	dd if=/dev/mapper/ev of=/dev/null bs=1M skip=4 count=$((slots / 256 - 4)) iflag=direct \
		status=none
	t1=$(date +%s)
	echo "re-read $((slots / 256 - 4)) MiB of hits in $((t1 - t0)) s: every cached slot referenced"
	assert_eq "$(field ev read_misses)" 0 "misses while re-reading"
	# the reserve goes in one burst of misses, then single cold reads, each
	# of which needs eviction
	timeout 120 dd if=/dev/mapper/ev of=/dev/null bs=4M skip=$((slots / 1024 + 1)) count=1 \
		iflag=direct status=none || die "a burst of cold reads did not complete"
	for i in 1 2 3; do
		t0=$(date +%s)
		timeout 60 dd if=/dev/mapper/ev of=/dev/null bs=4K skip=$((slots + 2048 + i)) count=1 \
			iflag=direct status=none || die "cold read $i with every slot referenced hung"
		t1=$(date +%s)
		echo "cold read $i: $((t1 - t0)) s, $(field ev evictions) evictions so far"
		assert_le $((t1 - t0)) 30 "seconds for cold read $i"
	done
	assert_ge "$(field ev evictions)" 1 "evictions"
	cmp <(dd if=/dev/mapper/ev bs=4K skip=$((slots + 2049)) count=3 iflag=direct status=none) \
		<(dd if=/data/ev-origin bs=4K skip=$((slots + 2049)) count=3 status=none) ||
		die "cold blocks read wrong"
	rcachectl remove ev
	dmsetup remove evbig
	# the superblock of a 1 GiB cache on $BIG: later tests use the whole disk
	wipe $BIG
	rm -f /data/ev-origin
}

# A slot whose cache write failed is retired: dm-error over part of the
# data area, every miss still succeeds (into other slots), the retired
# slots are counted, recorded on disk and stay retired after a re-create.
test_cache_write_error_retires_slot() {
	local sz retired log_from
	wipe $C1
	sz=$(blockdev --getsz $C1)
	dmsetup create cdev --table "0 $sz linear $C1 0"
	dmsetup mknodes cdev
	start_daemon
	rcachectl create p9 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K \
		--no-prefetch
	rcachectl remove p9
	# 4 MiB of the data area (16 slots of 256 KiB) now fails every write
	cache_table "0 20480 linear $C1 0
20480 8192 error
28672 $((sz - 28672)) linear $C1 28672"
	rcachectl create p9 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K \
		--no-prefetch
	# this test's own log lines: the retirement message is rate-limited
	# (DMERR_LIMIT), so a burst shows up as "callbacks suppressed"
	log_from=$(($(dmesg | wc -l) + 1))
	assert_eq "$(sha_dev /dev/mapper/p9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 over failing slots"
	retired=$(field p9 retired_slots)
	echo "retired slots: $retired of $(field p9 slots), $(field p9 fetch_errors) failed fills"
	assert_ge "$retired" 1 "retired slots"
	assert_le "$retired" 16 "retired slots (only the failing ones)"
	dmesg | tail -n +"$log_from" | grep -E "slot retired|callbacks suppressed" >/dev/null ||
		die "no log line for a retired slot"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 again"
	rcachectl remove p9
	assert_eq "$(rcachectl inspect /dev/mapper/cdev --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["retired_slots"])')" \
		"$retired" "retired slots recorded on disk"
	# persisted: a new table loads them retired and never writes there
	rcachectl create p9 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 256K \
		--no-prefetch
	assert_eq "$(field p9 retired_slots)" "$retired" "retired slots after re-creating"
	rcachectl invalidate p9
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after re-creating"
	assert_eq "$(field p9 retired_slots)" "$retired" "no new retirement"
	rcachectl remove p9
	dmsetup remove cdev
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
	klog_has "unknown message 'bogus'" || die "no message for an unknown message"
	rcachectl remove p7
}

# A hit still reading its slot outlives the slot's reuse (dm-rcache.h: hits
# and slot reuse).  The cache device's data area delays reads by 8 s
# (dm-delay; writes and metadata are not delayed): block 5 is a hit in
# flight when it is invalidated and a flush commits, which may hand its slot
# to the next miss (block 20, whose fill writes at once) only after that hit
# ended.  Without the drain, the delayed read returns block 20's bytes.
test_hit_in_flight_outlives_slot_reuse() {
	local sz ds t0 took want got hit miss
	wipe $C1
	sz=$(blockdev --getsz $C1)
	dmsetup create cdev --table "0 $sz delay $C1 0 0 $C1 0 0"
	dmsetup mknodes cdev
	start_daemon
	rcachectl create p10 --origin file://$ORIGIN --cache /dev/mapper/cdev --block-size 1M \
		--no-prefetch --commit-interval 0
	dd if=/dev/mapper/p10 of=/dev/null bs=1M skip=5 count=1 iflag=direct status=none
	assert_eq "$(field p10 cached_blocks)" 1 "block 5 cached"
	# the data area only: metadata reads of the commit are not delayed
	ds=$(($(rcachectl inspect /dev/mapper/cdev --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["data_start"])') / 512))
	cache_table "0 $ds linear $C1 0
$ds $((sz - ds)) delay $C1 $ds 8000 $C1 $ds 0"
	want=$(dd if=$ORIGIN bs=1M skip=5 count=1 status=none | sha256sum | cut -d' ' -f1)
	dd if=/dev/mapper/p10 bs=1M skip=5 count=1 iflag=direct status=none | sha256sum |
		cut -d' ' -f1 >hit.sha &
	hit=$!
	sleep 0.5
	rcachectl invalidate p10 --range 5M-6M
	t0=$(date +%s%N)
	flush_dev /dev/mapper/p10
	took=$((($(date +%s%N) - t0) / 1000000))
	dd if=/dev/mapper/p10 of=/dev/null bs=1M skip=20 count=1 iflag=direct status=none &
	miss=$!
	wait $hit $miss
	echo "flush with a hit in flight: $took ms"
	got=$(cat hit.sha)
	assert_eq "$got" "$want" "sha256 of the hit that was in flight"
	assert_ge "$took" 5000 "ms the commit waited for the hit in flight"
	assert_eq "$(field p10 read_hits)" 1 "hits (the one in flight)"
	cache_table "0 $sz delay $C1 0 0 $C1 0 0"
	rcachectl remove p10
	dmsetup remove cdev
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

# check_cached DEV ORIGIN BLOCK_BYTES: reads every block of DEV (a device
# with no daemon and fail_fast: a miss fails at once); each one that reads
# must hold ORIGIN's bytes.  Prints "<valid> <wrong>".
check_cached() {
	python3 - "$@" <<'PY'
import mmap, os, sys
dev, origin, bs = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd, of = os.open(dev, os.O_RDONLY | os.O_DIRECT), os.open(origin, os.O_RDONLY)
size, buf, valid, wrong = os.fstat(of).st_size, mmap.mmap(-1, bs), 0, 0
for b in range((size + bs - 1) // bs):
    try:
        os.preadv(fd, [buf], b * bs)
    except OSError:
        continue
    valid += 1
    want = os.pread(of, bs, b * bs)
    if bytes(buf[:len(want)]) != want:
        wrong += 1
        print("block %d: wrong bytes" % b, file=sys.stderr)
print(valid, wrong)
PY
}

# Fills the daemon still holds when a device is removed must not land in a
# device re-created at once on the same cache: the kernel waits for the
# daemon's answers (it cancels a removed device's fills and writes none of
# them), at most 10 s, and keeps the slots of fills still unanswered then
# out of use in the new device.  Here the origin's first half hangs (its dm
# device is suspended) while the warm-up reads it, so the remove gives up
# waiting; the new device fills blocks of the second half, and then the
# hung reads complete.  Without both guards they would overwrite the new
# device's blocks in the slots the warm-up had.
test_remove_recreate_during_fills() {
	local t0 t1 i pids=() half=$((ORIGIN_SIZE / 1024)) v w
	wipe $C0
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	dmsetup create slowhalf --table "0 $half linear $O0 0"
	dmsetup mknodes slowhalf
	dmsetup create slowo --table "0 $half linear /dev/mapper/slowhalf 0
$half $half linear $O0 $half"
	dmsetup mknodes
	start_daemon
	rcachectl create p9 --origin file:///dev/mapper/slowo --cache $C0 --no-prefetch
	dmsetup suspend slowhalf
	dmsetup message p9 0 warmup 0-$half
	sleep 1
	# (dmsetup status: quicker than rcachectl under TCG; field 10: in flight)
	i=$(dmsetup status p9 | cut -d' ' -f10)
	echo "before remove: $i fills in flight"
	assert_ge "$i" 8 "warm-up fills in flight"
	dmesg -C
	t0=$(date +%s%N)
	rcachectl remove p9
	t1=$(date +%s%N)
	echo "remove took $(((t1 - t0) / 1000000)) ms"
	assert_le $(((t1 - t0) / 1000000)) 15000 "ms to remove with hung fills (at most 10 s of waiting)"
	# at once: the second half, in parallel, into the lowest free slots
	rcachectl create p9 --origin file:///dev/mapper/slowo --cache $C0
	dmesg >/data/p9.dmesg
	for ((i = 47; i >= 24; i--)); do
		dd if=/dev/mapper/p9 of=/dev/null bs=1M skip=$i count=1 iflag=direct status=none &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || die "a read of the re-created device failed"
	done
	# the hung reads complete now; the daemon must not write them
	dmsetup resume slowhalf
	sleep 3
	assert_eq "$(dd if=/dev/mapper/p9 bs=1M skip=24 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(dd if=$ORIGIN bs=1M skip=24 status=none | sha256sum | cut -d' ' -f1)" \
		"sha256 of the blocks the new device filled"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/p9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 of the re-created device"
	assert_eq "$(field p9 fetch_errors)" 0 "fetch errors"
	# the kernel's part: it gave up waiting and kept those slots unused
	grep -E "removed with [0-9]+ fills unanswered" /data/p9.dmesg || die "no fill left unanswered"
	grep -E "fills of a removed device unanswered: their slots stay unused" /data/p9.dmesg ||
		die "the new device did not keep the slots out of use"
	rcachectl remove p9
	stop_daemon
	# and what it committed is right, read with no daemon at all
	rcachectl create p9 --origin file:///dev/mapper/slowo --cache $C0 --fail-fast
	read -r v w < <(check_cached /dev/mapper/p9 $ORIGIN $MiB)
	echo "re-created from the cache alone: $v blocks valid, $w wrong"
	assert_eq "$w" 0 "blocks with wrong bytes"
	# the slots kept out of use left fewer than 48 for the blocks
	assert_ge "$v" 1 "blocks committed"
	rcachectl remove p9
	dmsetup remove slowo slowhalf
}

# A table reloaded onto the live device (same cache device) while a reader
# fills it: the old table commits and stops at its suspend, the new one loads
# the metadata at its resume; major:minor stays.  Right after one reload the
# device is removed and re-created with no daemon: every block the metadata
# calls valid must be right (were the metadata loaded while the old table
# still filled and committed, the two tables' commits would mix).  Then more
# reloads under a reader, a warm-up carried across a reload, and a reload
# with reset refused; a re-created device then serves every block without a
# fetch.
test_reload_live_device() {
	local table devt i pid out f v w
	wipe $C0
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	dmsetup create slowo --table "0 $((ORIGIN_SIZE / 512)) delay $O0 0 100"
	dmsetup mknodes slowo
	# two fills at a time from a slow origin: the reader stays cold a while
	start_daemon --max-fills 2
	# no periodic commit: the old table commits on flushes, the new one
	# only when it is removed
	rcachectl create p10 --origin file:///dev/mapper/slowo --cache $C0 --block-size 256K \
		--commit-interval 0
	table=$(dmsetup table p10)
	rangecheck /dev/mapper/p10 $ORIGIN 6 4000 600000 21 direct &
	pid=$!
	sleep 1
	i=$(field p10 cached_blocks)
	echo "at the load: $i cached"
	assert_le "$i" 150 "blocks cached when the reload began (the reader must still fill)"
	dmsetup load p10 --table "$table"
	# the live table goes on filling and committing meanwhile
	for i in 1 2 3 4 5; do
		sleep 0.3
		flush_dev /dev/mapper/p10
	done
	echo "at the suspend: $(field p10 cached_blocks) cached"
	dmsetup suspend p10
	dmsetup resume p10
	sleep 1.5	# the new table fills
	echo "after one reload: $(field p10 cached_blocks) cached"
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	rcachectl remove p10
	stop_daemon
	rcachectl create p10 --origin file:///dev/mapper/slowo --cache $C0 --block-size 256K --fail-fast
	read -r v w < <(check_cached /dev/mapper/p10 $ORIGIN 262144)
	echo "re-created after a reload: $v blocks valid, $w wrong"
	assert_eq "$w" 0 "blocks with wrong bytes after a reload"
	assert_ge "$v" 1 "blocks kept"
	rcachectl remove p10

	start_daemon
	rcachectl create p10 --origin file:///dev/mapper/slowo --cache $C0 --block-size 256K \
		--commit-interval 100
	table=$(dmsetup table p10)
	devt=$(dmsetup info -c --noheadings -o major,minor p10)
	rangecheck /dev/mapper/p10 $ORIGIN 6 300 600000 22 direct &
	pid=$!
	for i in 1 2 3; do
		sleep 1
		dmsetup load p10 --table "$table"
		sleep 0.5
		dmsetup suspend p10
		dmsetup resume p10
	done
	wait $pid || die "wrong bytes or errors while reloading (rangecheck exit $?)"
	assert_eq "$(dmsetup info -c --noheadings -o major,minor p10)" "$devt" "major:minor after reloads"
	assert_eq "$(dmsetup table p10)" "$table" "table after reloads"
	assert_eq "$(sha_dev /dev/mapper/p10 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after reloads"
	assert_eq "$(field p10 cached_blocks)" 192 "cached blocks after reloads"
	# a warm-up queued in the old table goes on in the new one
	rcachectl invalidate p10
	dmsetup message p10 0 warmup 0-$((ORIGIN_SIZE / 512)) 8
	sleep 1
	dmsetup load p10 --table "$table"
	dmsetup suspend p10
	dmsetup resume p10
	for i in $(seq 1 200); do
		[ "$(field p10 warmup_pending)" = 0 ] && break
		sleep 0.2
	done
	assert_eq "$(field p10 warmup_pending)" 0 "warm-up blocks left after the reload"
	assert_eq "$(field p10 cached_blocks)" 192 "blocks warmed across the reload"
	# reset in a reload would wipe the live device's cache: refused
	read -r -a f <<<"$table"
	if out=$(dmsetup load p10 --table "${f[*]:0:6} $((${f[6]:-0} + 1)) ${f[*]:7} reset" 2>&1); then
		die "a reload with reset was accepted"
	fi
	echo "$out"
	klog_has "Cannot reset a live device's cache" || die "no reason for the refused reset"
	assert_eq "$(sha_dev /dev/mapper/p10 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 after the refused reload"
	rcachectl remove p10
	stop_daemon
	# everything was committed: served with no daemon, no miss
	rcachectl create p10 --origin file:///dev/mapper/slowo --cache $C0 --block-size 256K --fail-fast
	assert_eq "$(field p10 cached_blocks)" 192 "blocks recorded after reloads"
	assert_eq "$(sha_dev /dev/mapper/p10 $ORIGIN_SIZE)" "$ORIGIN_SHA" "sha256 from the cache alone"
	assert_eq "$(field p10 read_misses)" 0 "misses after re-create"
	rcachectl remove p10
	dmsetup remove slowo
}

# No daemon, a cache smaller than the origin, more misses than slots: some
# wait for a slot.  A suspend does not wait for them (daemon_timeout is 60
# s): it returns at once, failing them (or, with --noflush, handing them
# back to be retried after resume, when a daemon serves them).
test_suspend_no_daemon_small_cache() {
	local i n=72 pids=() t0 t1 failed=0
	dmsetup create small2 --table "0 $((5 * 2048)) linear $C1 0"
	dmsetup mknodes small2
	dd if=/dev/zero of=/dev/mapper/small2 bs=1M count=2 oflag=direct status=none
	rcachectl create p11 --origin file://$ORIGIN --cache /dev/mapper/small2 --block-size 64K \
		--daemon-timeout 60 --no-prefetch
	assert_eq "$(field p11 slots)" 64 "slots"
	for ((i = 0; i < n; i++)); do
		dd if=/dev/mapper/p11 of=/dev/null bs=64K skip=$((i * 7)) count=1 iflag=direct \
			status=none 2>/dev/null &
		pids+=($!)
	done
	sleep 3
	i=$(dmsetup status p11 | cut -d' ' -f10)
	echo "misses parked: $i"
	assert_ge "$i" 66 "misses parked (more than the slots)"
	t0=$(date +%s%N)
	timeout 30 dmsetup suspend p11 || die "suspend failed or hung"
	t1=$(date +%s%N)
	echo "suspend took $(((t1 - t0) / 1000000)) ms"
	assert_le $(((t1 - t0) / 1000000)) 10000 "ms to suspend with misses waiting for slots"
	for i in "${pids[@]}"; do
		wait "$i" || failed=$((failed + 1))
	done
	assert_eq "$failed" $n "reads failed by the suspend"
	dmsetup resume p11
	assert_eq "$(dmsetup status p11 | cut -d' ' -f10)" 0 "fetches left after resume"
	# --noflush: the parked reads wait through it and complete with a daemon
	pids=()
	for ((i = 0; i < n; i++)); do
		dd if=/dev/mapper/p11 of=/data/sn.$i bs=64K skip=$((i * 7)) count=1 iflag=direct \
			status=none &
		pids+=($!)
	done
	sleep 3
	t0=$(date +%s%N)
	timeout 30 dmsetup suspend --noflush p11 || die "noflush suspend failed or hung"
	t1=$(date +%s%N)
	assert_le $(((t1 - t0) / 1000000)) 10000 "ms to suspend --noflush"
	dmsetup resume p11
	start_daemon
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || die "read $i failed after resume"
	done
	python3 - $ORIGIN $n <<'PY' || die "wrong bytes after the noflush suspend"
import sys
origin, n = open(sys.argv[1], "rb"), int(sys.argv[2])
for i in range(n):
    origin.seek(i * 7 * 65536)
    if open("/data/sn.%d" % i, "rb").read() != origin.read(65536):
        sys.exit("read %d: wrong bytes" % i)
PY
	rcachectl remove p11
	dmsetup remove small2
}

# Kernel memory per origin block, as the module measures it from its
# allocations (logged at table load), checked against the kernel's own
# accounting (slab and vmalloc), with a cache as large as the origin: 2^20
# blocks of 4 KiB, a slot for each; and, exactly, for a small device.
meminfo_kb() {
	awk '/^(Slab|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo
}

# memory_line: "<blocks> <slots> <bytes per block x10000>" of the last table load
memory_line() {
	dmesg | grep "bytes of state per origin block" | tail -n 1 |
		sed -n 's/.*: \([0-9]*\) blocks, \([0-9]*\) slots: \([0-9]*\)\.\([0-9]*\) bytes of state per origin block.*/\1 \2 \3\4/p'
}

test_memory_per_origin_block() {
	local sectors=$((8 * 1024 * 1024)) m0 m1 blocks slots per delta
	dmsetup create memt --table "0 $sectors error"
	sync
	m0=$(meminfo_kb)
	dmsetup load memt --table "0 $sectors rcache $BIG file:///data/no-such-origin 8"
	m1=$(meminfo_kb)
	dmesg | grep "bytes of state per origin block" | tail -n 1
	read -r blocks slots per < <(memory_line)
	assert_eq "$blocks" 1048576 "origin blocks"
	assert_eq "$slots" 1048576 "slots (a slot for every block)"
	delta=$(( (m1 - m0) * 1024 * 10000 / blocks ))
	echo "reported: $((per / 10000)).$(printf %04d $((per % 10000))) bytes per origin block; slab + vmalloc grew by $((m1 - m0)) KiB: $((delta / 10000)).$(printf %04d $((delta % 10000))) bytes per origin block"
	assert_le "$per" 80000 "reported bytes per origin block (x10000)"
	# the kernel's accounting agrees (it adds the fixed part, < 0.5 B here)
	assert_ge "$delta" $((per - 1000)) "slab + vmalloc growth per block (x10000)"
	assert_le "$delta" $((per + 5000)) "slab + vmalloc growth per block (x10000)"
	dmsetup remove memt
	# 48 blocks, 48 slots: a small device, where bitmaps per metadata page
	# rounded up to longs would show
	dmsetup create memt --table "0 $((48 * 2048)) error"
	dmsetup load memt --table "0 $((48 * 2048)) rcache $BIG file:///data/no-such-origin-2 2048 1 reset"
	dmesg | grep "bytes of state per origin block" | tail -n 1
	read -r blocks slots per < <(memory_line)
	assert_eq "$blocks $slots" "48 48" "blocks and slots"
	assert_le "$per" 80000 "reported bytes per origin block for 48 blocks (x10000)"
	dmsetup remove memt
}

# The commit order, checked at every point power could fail: dm-log-writes
# between rcache and its cache device records, in the order they became
# durable, the writes of a cold read with eviction (cache 25% of the origin,
# concurrent readers, periodic commits); selftests/tools/logreplay.py
# replays the log onto a scratch device up to each flush and FUA write,
# loads rcache on it (no daemon, fail_fast) and reads every block: each
# block the metadata calls valid must hold the origin's bytes.  Without the
# flush before a commit's metadata writes this fails at the first commit.
test_commit_order_log_replay() {
	local cache_sectors=$((2 * 2048)) log_sectors=$((80 * 2048)) pid lwdev
	modprobe dm-log-writes
	modprobe dm-snapshot
	make_origin /data/lw-origin $((4 * MiB)) 9
	# LW: the recorded cache device, the scratch copy, a snapshot COW, the log
	dmsetup create lwrec --table "0 $cache_sectors linear $LW 0"
	dmsetup create lwscratch --table "0 $cache_sectors linear $LW $cache_sectors"
	dmsetup create lwcow --table "0 16384 linear $LW $((2 * cache_sectors))"
	dmsetup create lwlog --table "0 $log_sectors linear $LW $((2 * cache_sectors + 16384))"
	dmsetup mknodes
	dd if=/dev/zero of=/dev/mapper/lwrec bs=1M count=2 oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/lwscratch bs=1M count=2 oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/lwlog bs=1M count=1 oflag=direct status=none
	dmsetup create lw --table "0 $cache_sectors log-writes /dev/mapper/lwrec /dev/mapper/lwlog"
	dmsetup mknodes lw
	start_daemon --max-fills 4
	# 256 blocks of 16 KiB, 64 slots
	rcachectl create lwc --origin file:///data/lw-origin --cache /dev/mapper/lw --block-size 16K \
		--commit-interval 100
	assert_eq "$(field lwc slots)" 64 "slots"
	rangecheck /dev/mapper/lwc /data/lw-origin 6 150 40000 31 direct &
	pid=$!
	dd if=/dev/mapper/lwc of=/dev/null bs=16K iflag=direct status=none
	dd if=/dev/mapper/lwc of=/dev/null bs=64K iflag=direct status=none
	wait $pid || die "wrong bytes or errors while recording"
	echo "recorded: $(field lwc evictions) evictions, $(field lwc md_commits) commits"
	assert_ge "$(field lwc evictions)" 150 "evictions while recording"
	dmsetup table lwc >/data/lw-table
	rcachectl remove lwc
	stop_daemon
	echo "log-writes: $(dmsetup status lw)"
	dmsetup remove lw
	python3 "$T/selftests/tools/logreplay.py" /dev/mapper/lwlog /dev/mapper/lwscratch \
		/dev/mapper/lwcow /data/lw-table /data/lw-origin 50 | tee /data/lw-result ||
		die "$(tail -n 1 /data/lw-result)"
	grep -q "^logreplay: [1-9][0-9]* points checked" /data/lw-result || die "no point checked"
	dmsetup remove lwlog lwcow lwscratch lwrec
}

# A duplicate repaired at load is reused only after its empty entry is on
# disk.  The cache holds blocks 0..1015 in slots 0..1015 (metadata page 0)
# and block 0 again in slot 1016 (page 1), as a commit cut short leaves
# it; loading keeps slot 0 and frees slot 1016.  Recorded with dm-log-writes:
# block 0 is dropped (page 0 dirty), four cold reads fill the free slots,
# and a flush commits page 0, then page 1.  Had slot 1016 been reused at
# once, a crash between those two page writes would leave block 0 named by
# slot 1016 alone, over another block's bytes; logreplay.py checks the
# cache at every flush and FUA point.
test_dup_repair_log_replay() {
	local slots=1020 bs=4096 cache_sectors log_sectors=$((40 * 2048)) geo
	cache_sectors=$(((MiB + slots * bs) / 512))
	modprobe dm-log-writes
	modprobe dm-snapshot
	make_origin /data/dr-origin $((slots * bs)) 12
	dmsetup create lwrec --table "0 $cache_sectors linear $LW 0"
	dmsetup create lwscratch --table "0 $cache_sectors linear $LW $cache_sectors"
	dmsetup create lwcow --table "0 16384 linear $LW $((2 * cache_sectors))"
	dmsetup create lwlog --table "0 $log_sectors linear $LW $((2 * cache_sectors + 16384))"
	dmsetup mknodes
	dd if=/dev/zero of=/dev/mapper/lwrec bs=1M count=2 oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/lwlog bs=1M count=1 oflag=direct status=none
	start_daemon
	rcachectl create dr --origin file:///data/dr-origin --cache /dev/mapper/lwrec --block-size 4K \
		--no-prefetch --commit-interval 0
	assert_eq "$(field dr slots)" $slots "slots"
	rcachectl remove dr
	# the data of blocks 0..1015 in slots 0..1015, block 0's again in slot 1016
	dd if=/data/dr-origin of=/dev/mapper/lwrec bs=$bs count=1016 seek=$((MiB / bs)) \
		oflag=direct conv=notrunc status=none
	dd if=/data/dr-origin of=/dev/mapper/lwrec bs=$bs count=1 seek=$((MiB / bs + 1016)) \
		oflag=direct conv=notrunc status=none
	rcachectl inspect /dev/mapper/lwrec --json | python3 -c '
import json, mmap, os, struct, sys
tab = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    tab.append(c)
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc = tab[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc
fmt = int(json.load(sys.stdin)["format_id"], 16)
buf = mmap.mmap(-1, 8192)
for p, ents in ((0, list(range(1, 1017))), (1, [1, 0, 0, 0] + [0] * 1012)):
    page = bytearray(struct.pack("<IIQQII", 0, 0x52434D44, fmt, 5, p, 0))
    page += struct.pack("<1016I", *ents)
    struct.pack_into("<I", page, 0, crc32c(bytes(page[4:])))
    buf[4096 * p:4096 * (p + 1)] = bytes(page)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
os.pwritev(fd, [buf], 4096)        # copy 0 of pages 0 and 1
os.close(fd)
' /dev/mapper/lwrec
	assert_eq "$(rcachectl inspect /dev/mapper/lwrec --json | python3 -c \
		'import json,sys; j = json.load(sys.stdin); print(j["cached_blocks"], j["duplicate_entries"])')" \
		"1016 1" "blocks and duplicates recorded"
	# logging starts from these bytes
	dd if=/dev/mapper/lwrec of=/dev/mapper/lwscratch bs=1M oflag=direct status=none
	dmsetup create lw --table "0 $cache_sectors log-writes /dev/mapper/lwrec /dev/mapper/lwlog"
	dmsetup mknodes lw
	dmesg -C
	rcachectl create dr --origin file:///data/dr-origin --cache /dev/mapper/lw --block-size 4K \
		--no-prefetch --commit-interval 0
	klog_has "block 0 in two slots (a commit cut short): slot 1016 freed" ||
		die "the duplicate was not repaired"
	rcachectl invalidate dr --range 0-4K
	dd if=/dev/mapper/dr of=/dev/null bs=$bs skip=1016 count=4 iflag=direct status=none
	flush_dev /dev/mapper/dr
	assert_eq "$(sha_dev /dev/mapper/dr $((slots * bs)))" "$(sha_file /data/dr-origin)" "sha256"
	dmsetup table dr >/data/dr-table
	rcachectl remove dr
	stop_daemon
	dmsetup remove lw
	python3 "$T/selftests/tools/logreplay.py" /dev/mapper/lwlog /dev/mapper/lwscratch \
		/dev/mapper/lwcow /data/dr-table /data/dr-origin 40 | tee /data/dr-result ||
		die "$(tail -n 1 /data/dr-result)"
	grep -q "^logreplay: [1-9][0-9]* points checked" /data/dr-result || die "no point checked"
	dmsetup remove lwlog lwcow lwscratch lwrec
}

TESTS=(
	reload_keeps_cache test_reload_keeps_cache
	flush_commits_idle_writes_nothing test_flush_commits_idle_writes_nothing
	origin_changed test_origin_changed
	corrupt_superblock test_corrupt_superblock
	block_in_two_slots test_block_in_two_slots
	media_errors test_media_errors
	eviction_scan_resistance test_eviction_scan_resistance
	eviction_loop test_eviction_loop
	eviction_progress_all_referenced test_eviction_progress_all_referenced
	cache_write_error_retires_slot test_cache_write_error_retires_slot
	hit_in_flight_outlives_slot_reuse test_hit_in_flight_outlives_slot_reuse
	invalidate_and_clear_stats test_invalidate_and_clear_stats
	invalidate_all_then_miss test_invalidate_all_then_miss
	remove_recreate_during_fills test_remove_recreate_during_fills
	reload_live_device test_reload_live_device
	suspend_no_daemon_small_cache test_suspend_no_daemon_small_cache
	memory_per_origin_block test_memory_per_origin_block
	commit_order_log_replay test_commit_order_log_replay
	dup_repair_log_replay test_dup_repair_log_replay
)
t_run_all "$@"
cleanup_devices
exit 0
