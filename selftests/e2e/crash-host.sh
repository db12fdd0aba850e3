#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Crash test, host side: boots the VM on the same cache and origin images
# again and again; each time a cold read runs, the VM is killed (kill -9 of
# qemu: no shutdown) at a random moment; the next boot checks that the cache
# is accepted, that what was committed before the kill is still there (page
# by page: the same blocks, or a later commit), and that every byte read is
# right.  Prints PASS:/FAIL: lines.  vm-run's disks are cache=unsafe, so
# the kill keeps every write the guest made: this tests recovery at any
# moment, not the flush order (persist.sh's commit_order_log_replay does).
#
#   crash-host.sh OUT_DIR [KILLS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$1
kills=${2:-5}
vmrun=$top/selftests/vm/vm-run
mkdir -p "$out"
out=$(realpath "$out")
rm -f "$out"/results "$out"/running.* "$out"/seen.* "$out"/after.*
# the cache holds a quarter of the 96 MiB origin (96 slots of 256 KiB)
truncate -s 25M "$out/cache.img"
truncate -s 100M "$out/origin.img"
disks=(--image "cache:$out/cache.img" --image "origin:$out/origin.img")

fail() { echo "FAIL: crash/$1: $2" | tee -a "$out/results"; }

if ! "$vmrun" --out "$out" --timeout 300 "${disks[@]}" "$here/crash.sh" prepare >"$out/prepare.log" 2>&1; then
	fail prepare "see $out/prepare.log"
	exit 0
fi

for ((k = 1; k <= kills; k++)); do
	"$vmrun" --out "$out" --timeout 400 "${disks[@]}" "$here/crash.sh" run $k >"$out/run.$k.log" 2>&1 &
	vm=$!
	waited=0
	while [ ! -e "$out/running.$k" ] && kill -0 $vm 2>/dev/null && [ $waited -lt 3000 ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	if [ ! -e "$out/running.$k" ]; then
		wait $vm
		fail "run-$k" "the cold read never started (see $out/run.$k.log)"
		break
	fi
	# somewhere in the cold read: 0.5 to 4.5 s in
	sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.1f", 0.5 + rand() * 4 }')"
	pkill -9 -f "qemu-system-x86_64.*$out" || fail "kill-$k" "no qemu to kill"
	wait $vm 2>/dev/null
	echo "crash: killed the VM during run $k"
done
"$vmrun" --out "$out" --timeout 400 "${disks[@]}" "$here/crash.sh" final $kills >"$out/final.log" 2>&1 ||
	fail final "exit $? (see $out/final.log)"
cat "$out/results"
rm -f "$out/cache.img" "$out/origin.img"
