#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# S3 and CephFS tests against a real one-node Ceph (radosgw verifies SigV4
# and If-Match for real), in one VM boot:
#   vm-run --mem 3072 --disk c0:160 --disk c1:160 s3-ceph.sh
source "$RCACHE_TOP/selftests/lib.sh"

S3DIR=$T/selftests/s3
C0=$(disk 0)
C1=$(disk 1)
MiB=$((1024 * 1024))
export CEPH_DIR=/tmp/ceph
mkdir -p /data

if ! "$S3DIR/ceph.sh" up >/data/ceph.env 2>"$LOGS/ceph-up.log"; then
	t_fail ceph/up "Ceph did not start: $(tail -n 3 "$LOGS/ceph-up.log" | tr '\n' ' ')"
	exit 0
fi
# shellcheck disable=SC1091
. "$CEPH_DIR/env"
export AWS_ENDPOINT_URL=$S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
load_module

put() {
	"$S3DIR/ceph.sh" s3 -sf -T "$2" "$S3_ENDPOINT/$S3_BUCKET/$1" -o /dev/null
}

wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none
}

t_after() {
	wipe $C0
	wipe $C1
}

SIZE=$((40 * MiB + 777))
make_origin /data/obj $SIZE 31
put obj /data/obj || t_fail ceph/put "upload to radosgw failed"
SHA=$(sha_file /data/obj)

test_radosgw_sha() {
	start_daemon
	rcachectl create r1 --origin s3://$S3_BUCKET/obj --cache $C0 --block-size 512K
	rangecheck /dev/mapper/r1 /data/obj 16 30 900000 2 direct
	assert_eq "$(sha_dev /dev/mapper/r1 $SIZE)" "$SHA" "cold sha256 through radosgw"
	local misses
	misses=$(field r1 read_misses)
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/r1 $SIZE)" "$SHA" "warm sha256"
	assert_eq "$(sha_readers /dev/mapper/r1 $SIZE 16 | sort | uniq -c | awk '{print $1, $2}')" \
		"16 $SHA" "warm sha256 of 16 concurrent readers"
	assert_eq "$(field r1 read_misses)" "$misses" "misses in the warm passes"
	assert_eq "$(field r1 fetch_errors)" 0 "fetch errors"
	rcachectl remove r1
}

# A key that needs encoding ('/', space, '+', '=', '%', non-ASCII), signed as
# radosgw checks it
test_radosgw_encoded_key() {
	local enc='dir/sub%20dir/a%20b%2Bc%3Dd%25%C3%A9%E4%B8%AD.img'
	put "$enc" /data/obj || die "upload of the encoded key failed"
	"$S3DIR/ceph.sh" s3 -s "$S3_ENDPOINT/$S3_BUCKET?list-type=2" | grep -q '<Key>dir/sub dir/a b+c=d%é中.img</Key>' ||
		die "radosgw does not hold the key as meant"
	start_daemon
	rcachectl create r6 --origin "s3://$S3_BUCKET/dir/sub%20dir/a%20b+c=d%25%C3%A9%E4%B8%AD.img" --cache $C0 \
		--block-size 1M
	rangecheck /dev/mapper/r6 /data/obj 8 10 900000 4 direct
	assert_eq "$(sha_dev /dev/mapper/r6 $SIZE)" "$SHA" "sha256 of the object with an encoded key"
	assert_eq "$(field r6 fetch_errors)" 0 "fetch errors"
	rcachectl remove r6
}

test_radosgw_wrong_secret() {
	local out
	if out=$(AWS_SECRET_ACCESS_KEY=not-the-secret rcachectl create r2 --origin s3://$S3_BUCKET/obj --cache $C0 2>&1); then
		die "created with a wrong secret"
	fi
	echo "$out"
	[ "$(echo "$out" | wc -l)" = 1 ] || die "more than one line: $out"
	echo "$out" | grep -q "origin s3://$S3_BUCKET/obj: HTTP 403 SignatureDoesNotMatch" || die "unclear: $out"
	dmsetup info r2 >/dev/null 2>&1 && die "device left behind"
	return 0
}

test_radosgw_object_replaced() {
	cp /data/obj /data/rep
	put rep /data/rep
	start_daemon
	# no prefetch: exactly blocks 0-9 are cached before the replacement
	rcachectl create r3 --origin s3://$S3_BUCKET/rep --cache $C0 --block-size 1M --no-prefetch
	dd if=/dev/mapper/r3 of=/data/rep.head bs=1M count=10 iflag=direct status=none
	make_origin /data/rep2 $SIZE 32
	put rep /data/rep2
	assert_fails "a miss after the object was replaced" \
		dd if=/dev/mapper/r3 of=/dev/null bs=1M skip=30 count=1 iflag=direct
	assert_eq "$(field r3 mode)" stale "mode"
	field r3 reason | grep -q "replaced: HTTP 412" || die "no clear reason: $(field r3 reason)"
	cmp -s /data/rep.head <(dd if=/dev/mapper/r3 bs=1M count=10 iflag=direct status=none) ||
		die "cached blocks changed"
	cmp -s /data/rep.head <(head -c $((10 * MiB)) /data/rep) || die "cached blocks are not the old version"
	rcachectl remove r3
}

test_presigned_url() {
	local url
	url=$(/usr/bin/python3 - <<EOF
import botocore.session
from botocore.config import Config
s = botocore.session.get_session()
c = s.create_client("s3", endpoint_url="$S3_ENDPOINT", region_name="us-east-1",
                    aws_access_key_id="$AWS_ACCESS_KEY_ID", aws_secret_access_key="$AWS_SECRET_ACCESS_KEY",
                    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(c.generate_presigned_url("get_object", Params={"Bucket": "$S3_BUCKET", "Key": "obj"}, ExpiresIn=3600))
EOF
)
	echo "presigned: ${url%%\?*}?..."
	local sig where
	sig=$(sed -n 's/.*X-Amz-Signature=\([0-9a-f]*\).*/\1/p' <<<"$url")
	[ ${#sig} -eq 64 ] || die "no signature in the presigned URL"
	# no credentials at all: the URL carries its signature; "--origin -"
	# keeps it out of the process list too
	start_daemon
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
		rcachectl create r4 --origin - --cache $C0 --block-size 256K <<<"$url"
	rangecheck /dev/mapper/r4 /data/obj 8 20 700000 6 direct
	assert_eq "$(sha_dev /dev/mapper/r4 $SIZE)" "$SHA" "sha256 through a presigned URL"
	# the signature is a credential: only the root-only file holds it
	assert_eq "$(rcachectl table r4 | awk '{print $5}')" "${url%%\?*}#secret=r4" "origin in the table"
	assert_eq "$(stat -c %a /run/rcache/secrets/r4)" 600 "mode of the kept query string"
	for where in "dmsetup table" "dmsetup status" "rcachectl status r4" "rcachectl status r4 --json" \
		"rcachectl table r4" "cat $LOGS/rcached.log" "dmesg"; do
		if $where 2>&1 | grep -qF "$sig"; then
			die "the signature shows in '$where'"
		fi
	done
	# a restarted daemon reads the query string back
	kill9_daemon
	start_daemon
	rcachectl invalidate r4
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/r4 $SIZE)" "$SHA" "sha256 after a daemon restart"
	rcachectl remove r4
	[ ! -e /run/rcache/secrets/r4 ] || die "remove left the query string behind"
	rcachectl inspect $C0 | grep -F "${url%%\?*}#secret=r4" >/dev/null || die "superblock origin"
	if rcachectl inspect $C0 | grep -qF "$sig"; then die "the signature is on the cache device"; fi
	# the same object under a new presigned URL (or given in argv) reuses the cache
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
		rcachectl create r4 --origin "$url" --cache $C0 --block-size 256K
	assert_eq "$(sha_dev /dev/mapper/r4 $SIZE)" "$SHA" "sha256 re-created"
	assert_eq "$(field r4 read_misses)" 0 "misses after re-create"
	rcachectl remove r4
}

test_cephfs_file_origin() {
	"$S3DIR/ceph.sh" mount-cephfs /mnt/cephfs || die "CephFS mount failed"
	grep -q " /mnt/cephfs ceph " /proc/mounts || die "not a kernel CephFS mount"
	cp /data/obj /mnt/cephfs/dataset.img
	sync
	start_daemon
	rcachectl create r5 --origin file:///mnt/cephfs/dataset.img --cache $C1 --block-size 1M
	rangecheck /dev/mapper/r5 /data/obj 16 30 900000 8 direct
	assert_eq "$(sha_dev /dev/mapper/r5 $SIZE)" "$SHA" "cold sha256 from CephFS"
	local misses
	misses=$(field r5 read_misses)
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/r5 $SIZE)" "$SHA" "warm sha256 from CephFS"
	assert_eq "$(sha_readers /dev/mapper/r5 $SIZE 16 | sort | uniq -c | awk '{print $1, $2}')" \
		"16 $SHA" "warm sha256 of 16 concurrent readers"
	assert_eq "$(field r5 read_misses)" "$misses" "misses in the warm passes"
	rcachectl remove r5
	"$S3DIR/ceph.sh" umount-cephfs /mnt/cephfs
}

TESTS=(
	radosgw_sha_cold_warm_concurrent test_radosgw_sha
	radosgw_wrong_secret test_radosgw_wrong_secret
	radosgw_encoded_key test_radosgw_encoded_key
	radosgw_object_replaced_412 test_radosgw_object_replaced
	radosgw_presigned_url test_presigned_url
	cephfs_file_origin test_cephfs_file_origin
)
t_run_all "$@"
cleanup_devices
"$S3DIR/ceph.sh" down >/dev/null 2>&1
exit 0
