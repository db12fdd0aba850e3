#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest side of the crash test (crash-host.sh boots the VM several times on
# the same disk images and kills it hard while a cold read runs).
#
#   crash.sh prepare        write the origin image onto the origin disk
#   crash.sh run K          check what survived kill K-1, read everything
#                           (sha256), drop a third of the cache, start cold
#                           readers and record what is committed, for the
#                           host to kill us at a random moment
#   crash.sh final K        check what survived kill K and read everything
#
# The cache holds a quarter of the origin, so the cold reads evict and slots
# are reused while the host kills the VM.  "What is committed" is the
# current copy of each metadata page with its commit number: mdstate.py
# --watch records every commit it sees during the cold read; after the kill
# a page must hold exactly what a seen commit with that number wrote, or
# come from a later commit, and never go back to an older one.
source "$RCACHE_TOP/selftests/lib.sh"

CACHE=$(disk 0)
ODISK=$(disk 1)
MiB=$((1024 * 1024))
SIZE=$((96 * MiB))
mode=$1
k=${2:-0}

# The origin: a slow block device (dm-delay), always the first dm device so
# its dev_t (part of the origin's identity) is the same at every boot.
setup_origin() {
	dmsetup create slow --table "0 $((SIZE / 512)) delay $ODISK 0 40"
	dmsetup mknodes slow
}

committed() {
	rcachectl inspect "$CACHE" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cached_blocks"])'
}

# committed_pages FILE: the committed state of every metadata page
committed_pages() {
	python3 "$T/selftests/tools/mdstate.py" "$CACHE" >"$1.new" && mv "$1.new" "$1"
}

# same_or_newer SEEN AFTER: each page on disk after the kill holds what a
# commit seen before it (SEEN: mdstate.py --watch lines) wrote with that
# seq, or comes from a later commit; none went back to an older one
same_or_newer() {
	python3 - "$1" "$2" <<'PY'
import json, sys
seen, top, fid = {}, {}, None
for line in open(sys.argv[1]):
    try:
        st = json.loads(line)
    except ValueError:
        continue        # the last line, cut by the kill
    fid = st["format_id"]
    for page, (seq, entries) in st["pages"].items():
        seen[(page, seq)] = entries
        top[page] = max(top.get(page, 0), seq)
after = json.load(open(sys.argv[2]))
if fid is None:
    sys.exit("no commit seen before the kill")
if after["format_id"] != fid:
    sys.exit("the cache was reformatted")
exact = newer = 0
for page, seq in top.items():
    if page not in after["pages"]:
        sys.exit("page %s (commit %d seen) is gone" % (page, seq))
    aseq, aentries = after["pages"][page]
    if aseq < seq:
        sys.exit("page %s went back from commit %d to %d" % (page, seq, aseq))
    if (page, aseq) in seen:
        if seen[(page, aseq)] != aentries:
            lost = sorted(e - 1 for e in set(seen[(page, aseq)]) - set(aentries) if e)
            sys.exit("page %s, commit %d: not as committed (blocks %s gone)" % (page, aseq, lost[:10]))
        exact += 1
    else:
        newer += 1
print("%d pages exactly as a commit seen before the kill wrote them, %d from later commits" %
      (exact, newer))
PY
}

if [ "$mode" = prepare ]; then
	make_origin /data.img $SIZE 12
	dd if=/data.img of="$ODISK" bs=1M oflag=direct status=none
	sha_file /data.img >"$OUT/origin.sha"
	dd if=/dev/zero of="$CACHE" bs=1M count=8 oflag=direct status=none
	exit 0
fi

load_module
setup_origin
want=$(cat "$OUT/origin.sha")

# verify PREV: after kill PREV (none when 0), the cache is accepted, keeps
# what was committed, and serves every byte right
verify() {
	local prev=$1 now why
	if [ "$prev" -gt 0 ]; then
		now=$(committed) || { t_fail "crash-$prev/superblock" "inspect failed after kill $prev"; return 1; }
		committed_pages "$OUT/after.$prev"
		if why=$(same_or_newer "$OUT/seen.$prev" "$OUT/after.$prev" 2>&1); then
			echo "PASS: crash-$prev/committed-blocks-kept ($why; $now blocks on disk)" | tee -a "$RESULTS"
		else
			t_fail "crash-$prev/committed-blocks-kept" "$why"
		fi
	fi
	# few fills at a time, so that a cold read lasts seconds
	start_daemon --max-fills 4
	if ! rcachectl create crash --origin file:///dev/mapper/slow --cache "$CACHE" \
		--block-size 256K --commit-interval 200; then
		t_fail "crash-$prev/re-create" "the cache was refused after the kill"
		return 1
	fi
	[ "$prev" -gt 0 ] || return 0
	if [ "$(field crash cached_blocks)" = "$now" ]; then
		echo "PASS: crash-$prev/loaded-what-disk-holds" | tee -a "$RESULTS"
	else
		t_fail "crash-$prev/loaded-what-disk-holds" "kernel loaded $(field crash cached_blocks) blocks, disk says $now"
	fi
	if rangecheck /dev/mapper/crash /dev/mapper/slow 4 40 2000000 $prev direct >/dev/null &&
		[ "$(sha_dev /dev/mapper/crash $SIZE)" = "$want" ]; then
		echo "PASS: crash-$prev/bytes-after-kill" | tee -a "$RESULTS"
	else
		t_fail "crash-$prev/bytes-after-kill" "wrong bytes after kill $prev"
	fi
}

if [ "$mode" = final ]; then
	verify "$k"
	exit 0
fi
verify $((k - 1)) || exit 0

# drop a third of the cache (a different third each time), then read cold
third=$((SIZE / 3))
start=$(( (k % 3) * third ))
rcachectl invalidate crash --range $start-$((start + third))
flush_dev /dev/mapper/crash
rm -f "$OUT/seen.$k"
# every commit from now on, until the host pulls the plug
python3 "$T/selftests/tools/mdstate.py" --watch "$OUT/seen.$k" "$CACHE" &
for i in $(seq 1 300); do
	[ -s "$OUT/seen.$k" ] && break
	sleep 0.1
done
[ -s "$OUT/seen.$k" ] || { t_fail "crash-$k/watch" "the commit watcher did not start"; exit 0; }
sync
dd if=/dev/mapper/crash of=/dev/null bs=1M iflag=direct status=none &
rangecheck /dev/mapper/crash /dev/mapper/slow 4 1000 3000000 $((k + 100)) direct >/dev/null &
touch "$OUT/running.$k"
sync
wait
