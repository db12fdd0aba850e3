#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vm-run job: brings up every S3 test server inside the guest and checks it,
# as an example of how a VM test starts them.  On the host:
#   selftests/s3/s3rver.sh install      # once (npm)
#   selftests/vm/vm-run --mem 3072 --timeout 600 selftests/s3/vm-smoke.sh [full]
# "full" also runs test_s3proxy.py in the guest.  Results: PASS:/FAIL: lines
# in $RCACHE_OUT/results; timings in $RCACHE_OUT/timings.
set -u
T=${RCACHE_TOP:?}
S3=$T/selftests/s3
OUT=${RCACHE_OUT:-/tmp}
results=$OUT/results
: >"$results"
pass() { echo "PASS: s3/$1" | tee -a "$results"; }
fail() { echo "FAIL: s3/$1: $2" | tee -a "$results"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./; s/\(\.[0-9][0-9]\).*/\1/'; }

head -c $((32 << 20)) /dev/urandom >/tmp/f32

# 1. Ceph: radosgw + CephFS
export CEPH_DIR=/tmp/ceph
t=$(now)
if "$S3/ceph.sh" up >"$OUT/ceph.env"; then
	tee -a "$OUT/timings" <"$CEPH_DIR/timings"
	echo "ceph_up_total_s=$(since "$t")" | tee -a "$OUT/timings"
	pass ceph-up
	if "$S3/ceph.sh" check; then pass ceph-s3-check; else fail ceph-s3-check "see output"; fi
	t=$(now)
	if "$S3/ceph.sh" mount-cephfs /mnt/cephfs; then
		echo "cephfs_mount_s=$(since "$t")" | tee -a "$OUT/timings"
		cp /tmp/f32 /mnt/cephfs/f32 && sync
		echo 3 >/proc/sys/vm/drop_caches
		t=$(now)
		if cmp /tmp/f32 /mnt/cephfs/f32 && grep -q "/mnt/cephfs ceph" /proc/mounts; then
			echo "cephfs_cold_read_32MiB_s=$(since "$t")" | tee -a "$OUT/timings"
			pass cephfs-kernel-mount
		else
			fail cephfs-kernel-mount "file differs or not a ceph mount"
		fi
		"$S3/ceph.sh" umount-cephfs /mnt/cephfs || fail cephfs-umount "umount failed"
	else
		fail cephfs-kernel-mount "mount failed"
	fi
else
	fail ceph-up "$(tail -n 5 "$CEPH_DIR"/log/*.out 2>/dev/null | tail -n 5 | tr '\n' ' ')"
fi

# 2. s3proxy in front of radosgw: signatures pass through untouched
if [ -s "$CEPH_DIR/env" ]; then
	# shellcheck disable=SC1091
	. "$CEPH_DIR/env"
	/usr/bin/python3 "$S3/s3proxy.py" --upstream "$S3_ENDPOINT" --port 45210 --quiet \
		--log "$OUT/proxy-rgw.log" >"$OUT/proxy-rgw.out" 2>&1 &
	ppid=$!
	for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:45210/__proxy/health && break; sleep 0.1; done
	s3c() { curl -s --aws-sigv4 aws:amz:us-east-1:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
	head -c $((1 << 20)) /dev/urandom >/tmp/o1
	a=$(s3c --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -T /tmp/o1 -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:45210/$S3_BUCKET/o1")
	b=$(s3c --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -r 100-199 -o /tmp/o1.r -w '%{http_code}' \
		"http://127.0.0.1:45210/$S3_BUCKET/o1")
	c=$(s3c --user "$AWS_ACCESS_KEY_ID:wrong" -o /dev/null -w '%{http_code}' "http://127.0.0.1:45210/$S3_BUCKET/o1")
	if [ "$a $b $c" = "200 206 403" ] && cmp -s /tmp/o1.r <(tail -c +101 /tmp/o1 | head -c 100); then
		pass proxy-radosgw-sigv4
	else
		fail proxy-radosgw-sigv4 "PUT $a, range GET $b, wrong secret $c"
	fi
	kill -TERM $ppid
	wait $ppid || fail proxy-radosgw-exit "exit status $?"
fi

# 3. s3rver + s3proxy (faults, SigV4 with botocore, STS) in the guest
t=$(now)
if "$S3/s3rver.sh" up /tmp/s3rver 45100 bkt >"$OUT/s3rver.env"; then
	echo "s3rver_up_s=$(since "$t")" | tee -a "$OUT/timings"
	pass s3rver-up
	echo '{"AKVM": {"secret": "skvm"}}' >/tmp/keys.json
	/usr/bin/python3 "$S3/s3proxy.py" --upstream http://127.0.0.1:45100 --port 45200 --quiet \
		--verify-keys /tmp/keys.json --log "$OUT/proxy.log" >"$OUT/proxy.out" 2>&1 &
	ppid=$!
	for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:45200/__proxy/health && break; sleep 0.1; done
	s3c() { curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user AKVM:skvm -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
	a=$(s3c -T /tmp/f32 -o /dev/null -w '%{http_code}' http://127.0.0.1:45200/bkt/f32)
	t=$(now)
	b=$(s3c -o /tmp/f32.get -w '%{http_code}' http://127.0.0.1:45200/bkt/f32)
	echo "proxy_s3rver_get_32MiB_s=$(since "$t")" | tee -a "$OUT/timings"
	curl -s -X POST -d '{"fail_count": 1, "fail_kinds": ["slowdown"]}' http://127.0.0.1:45200/__proxy/config >/dev/null
	c=$(s3c -r 0-9 -o /dev/null -w '%{http_code}' http://127.0.0.1:45200/bkt/f32)
	d=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:45200/bkt/f32)
	if [ "$a $b $c $d" = "200 200 503 403" ] && cmp -s /tmp/f32 /tmp/f32.get &&
		curl -s http://127.0.0.1:45200/__proxy/stats | grep -q '"slowdown": 1'; then
		pass proxy-s3rver
	else
		fail proxy-s3rver "PUT $a, GET $b, SlowDown $c, anonymous $d"
	fi
	kill -TERM $ppid
	wait $ppid || fail proxy-s3rver-exit "exit status $?"
	"$S3/s3rver.sh" down /tmp/s3rver
else
	fail s3rver-up "see $OUT/s3rver.env"
fi

if [ "${1:-}" = full ]; then
	t=$(now)
	/usr/bin/python3 "$S3/test_s3proxy.py" | tee -a "$results"
	echo "test_s3proxy_s=$(since "$t")" | tee -a "$OUT/timings"
fi

t=$(now)
"$S3/ceph.sh" down
echo "ceph_down_s=$(since "$t")" | tee -a "$OUT/timings"
! grep -q '^FAIL' "$results"
