# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the tests that run inside the VM (sourced, bash).
#
# A test is a function run by t_run in a subshell with errexit on: it passes
# when it returns 0.  Results go to $RCACHE_OUT/results as PASS:/FAIL: lines,
# which the host counts.

T=${RCACHE_TOP:?RCACHE_TOP not set}
BIN=${RCACHE_BIN:-$T/build/bin}
TOOLS_DIR=${RCACHE_TOOLS:-$T/build/tools}

OUT=${RCACHE_OUT:-/tmp}
RESULTS=$OUT/results
LOGS=$OUT/logs
mkdir -p "$LOGS"
export PATH=$BIN:$TOOLS_DIR:$PATH

DAEMON_PID=

die() {
	echo "  -> $*" >&2
	exit 1
}

t_run() {
	local name=$1 fn=$2 rc start mark
	start=$(date +%s)
	touch "$LOGS/rcached.log"
	mark=$(wc -l <"$LOGS/rcached.log")
	echo "=== $name"
	(
		set -eE -o pipefail
		trap 'echo "  -> command failed (line $LINENO): $BASH_COMMAND" >&2' ERR
		"$fn"
	) 2>&1 | sed -u 's/^/    /' | tee "$LOGS/$name.log"
	rc=${PIPESTATUS[0]}
	t_teardown
	# sanitizer reports from the daemon (ASan/UBSan builds) fail the test
	if tail -n +"$((mark + 1))" "$LOGS/rcached.log" |
		grep -E 'Sanitizer|runtime error:' >>"$LOGS/$name.log"; then
		echo "  -> sanitizer report in rcached.log" >>"$LOGS/$name.log"
		rc=1
	fi
	if grep -qE 'Sanitizer|runtime error:' "$LOGS/$name.log"; then
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $name ($(($(date +%s) - start))s)" | tee -a "$RESULTS"
	else
		echo "FAIL: $name: $(grep -- '->' "$LOGS/$name.log" | tail -n 1 | sed 's/^ *-> //')" |
			tee -a "$RESULTS"
	fi
	return 0
}

# Whatever a test left behind (it may have failed half way) goes away.
t_teardown() {
	pkill -x rcached 2>/dev/null
	pkill -x nlprobe 2>/dev/null
	local i
	for i in $(seq 1 50); do
		pgrep -x rcached >/dev/null || break
		sleep 0.1
	done
	dmsetup remove_all --force >/dev/null 2>&1 || true
	DAEMON_PID=
	# a group may reset more (core.sh: the cache disks' superblocks)
	if declare -F t_after >/dev/null; then
		t_after
	fi
}

# t_run_all [NAME...]: runs the test name / function pairs listed in TESTS,
# or only the named ones.
t_run_all() {
	local i name fn want
	for ((i = 0; i < ${#TESTS[@]}; i += 2)); do
		name=${TESTS[i]}
		fn=${TESTS[i + 1]}
		if [ $# -gt 0 ]; then
			for want in "$@"; do
				[ "$want" = "$name" ] && t_run "$name" "$fn"
			done
		else
			t_run "$name" "$fn"
		fi
	done
	return 0
}

# A failure outside any test (setup), counted once.
t_fail() {
	echo "FAIL: $1: $2" | tee -a "$RESULTS"
}

assert_eq() {
	[ "$1" = "$2" ] || die "${3:-value}: expected '$2', got '$1'"
}

assert_ne() {
	[ "$1" != "$2" ] || die "${3:-value}: expected something other than '$2'"
}

assert_le() {
	[ "$1" -le "$2" ] || die "${3:-value}: expected <= $2, got $1"
}

assert_ge() {
	[ "$1" -ge "$2" ] || die "${3:-value}: expected >= $2, got $1"
}

# assert_fails MSG CMD...: CMD must exit non-zero.
assert_fails() {
	local msg=$1
	shift
	if "$@" >/dev/null 2>&1; then
		die "$msg: '$*' succeeded"
	fi
}

# assert_contains FILE|- PATTERN MSG
assert_contains() {
	grep -qE -- "$2" "$1" || die "$3: no line matching '$2' in $1"
}

load_module() {
	modprobe dm-mod
	modprobe libcrc32c
	lsmod | grep -q '^dm_rcache' || insmod "$T/dm-rcache.ko"
}

unload_module() {
	rmmod dm_rcache
}

# start_daemon [ARGS...]: starts rcached and waits until it registered.
start_daemon() {
	local i log=$LOGS/rcached.log mark
	touch "$log"
	mark=$(wc -l <"$log")
	rcached "$@" >>"$log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		if tail -n +"$((mark + 1))" "$log" | grep -q "registered with dm-rcache"; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || die "rcached exited: $(tail -n 2 "$log" | tr '\n' ' ')"
		sleep 0.1
	done
	die "rcached did not register"
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

kill9_daemon() {
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

# field NAME KEY: one value from `rcachectl status NAME --json`.
field() {
	rcachectl status "$1" --json |
		python3 -c "import json,sys; v=json.load(sys.stdin)['$2']; print(str(v).lower() if isinstance(v,bool) else v)"
}

# make_origin FILE BYTES [SEED]: deterministic pseudo-random content.
make_origin() {
	local file=$1 bytes=$2 seed=${3:-1}
	python3 - "$file" "$bytes" "$seed" <<'EOF'
import hashlib, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
block = hashlib.sha256(seed.encode()).digest()
chunk = bytearray()
i = 0
while len(chunk) < (1 << 20):
    chunk += hashlib.sha256(block + i.to_bytes(8, 'little')).digest()
    i += 1
with open(path, 'wb') as f:
    left, n = size, 0
    while left:
        piece = bytes(chunk[:min(left, len(chunk))])
        # vary each MiB so blocks differ
        piece = n.to_bytes(8, 'little') + piece[8:] if len(piece) >= 8 else piece
        f.write(piece)
        left -= len(piece)
        n += 1
EOF
}

sha_file() {
	sha256sum <"$1" | cut -d' ' -f1
}

# sha_dev DEV BYTES: sha256 of the first BYTES bytes of DEV.
sha_dev() {
	head -c "$2" "$1" | sha256sum | cut -d' ' -f1
}

# sha_readers DEV BYTES N: N threads read DEV at once, O_DIRECT, each from
# the start to BYTES; prints each one's sha256 (or what went wrong)
sha_readers() {
	python3 - "$1" "$2" "$3" <<'PY'
import hashlib, mmap, os, sys, threading
dev, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = ["no result"] * n

def reader(i):
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        buf, h, off = mmap.mmap(-1, 1 << 20), hashlib.sha256(), 0
        while off < size:
            got = os.preadv(fd, [buf], off)
            if got <= 0:
                break
            h.update(buf[:min(got, size - off)])
            off += got
        os.close(fd)
        out[i] = h.hexdigest() if off >= size else "short read at %d" % off
    except OSError as e:
        out[i] = "error: %s" % e

ts = [threading.Thread(target=reader, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("\n".join(out))
PY
}

# poke DEV OFFSET: flips the bits of one byte on DEV, with O_DIRECT (the
# kernel writes cache metadata past the page cache, so buffered I/O here
# could write back stale data)
poke() {
	python3 - "$1" "$2" <<'PY'
import mmap, os, sys
dev, off = sys.argv[1], int(sys.argv[2])
fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
base = off - off % 4096
os.preadv(fd, [buf], base)
buf[off - base] ^= 0xff
os.pwritev(fd, [buf], base)
os.close(fd)
PY
}

# flush_dev DEV: fsync the block device, which sends it a REQ_PREFLUSH
flush_dev() {
	python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$1"
}

# klog_has [GREP-OPTION...] PATTERN: the kernel log has a matching line.
# grep reads all of it (no -q): grep leaving early would kill dmesg with
# SIGPIPE, which pipefail counts as a failure of the whole test.
klog_has() {
	dmesg | grep "$@" >/dev/null
}

# drop the page cache so reads reach the device again
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# the Nth disk given to vm-run (0-based)
disk() {
	local -a d
	read -r -a d <<<"$RCACHE_DISKS"
	echo "${d[$1]}"
}

# cleanup_devices: removes every dm device (tests leave nothing behind)
cleanup_devices() {
	dmsetup remove_all --force >/dev/null 2>&1 || true
}
