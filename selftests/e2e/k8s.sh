#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Kubernetes node side (issue 7), in one VM boot, with the real module:
#   vm-run --disk c0:128 --disk c1:64 k8s.sh [TEST...]
# Declared devices in rcached.conf (at start, on SIGHUP, bad sections,
# devices rcached does not own), rcache-device-plugin fed by a real rcached
# against the fake kubelet (selftests/k8s/vm_plugin.py), the metrics
# endpoint and textfile against `rcachectl status --json`, and the
# node-feature-discovery feature file; topology read from a fake sysfs tree
# by the running daemon, through to the plugin's choice of device.
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
C1=$(disk 1)
MiB=$((1024 * 1024))
K8S=$T/selftests/k8s
PY=/usr/bin/python3	# Debian's, with python3-grpcio
mkdir -p /data /etc/rcache-k8s
CONF=/etc/rcache-k8s/rcached.conf
REPORT=/run/rcached/devices.json
PORT=9477
NFD=$OUT/nfd/rcache
PROM=$OUT/textfile/rcache.prom
make_origin /data/img0 $((48 * MiB)) 70
make_origin /data/img1 $((24 * MiB)) 71
make_origin /data/img2 $((16 * MiB)) 72
SHA0=$(sha_file /data/img0)
SHA1=$(sha_file /data/img1)
load_module || t_fail module-load "insmod failed"
modprobe loop || true

wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none 2>/dev/null || true
}

# after every test (lib.sh's t_teardown): fresh cache disks, no loop devices
t_after() {
	wipe "$C0"
	wipe "$C1"
	losetup -D 2>/dev/null || true
	rm -f "$REPORT"
}

# write_conf SECTION...: rcached.conf with the reporting settings and the
# given [device] sections ("name origin cache [key=value...]", or raw text
# when it starts with '[')
write_conf() {
	local s name origin cache kv
	mkdir -p "$(dirname "$NFD")" "$(dirname "$PROM")"
	cat >"$CONF" <<-EOF
		[daemon]
		report_interval = 1
		metrics_listen = 127.0.0.1:$PORT
		metrics_textfile = $PROM
		nfd_features_file = $NFD
	EOF
	[ -z "${SYSFS:-}" ] || echo "sysfs_root = $SYSFS" >>"$CONF"
	for s in "$@"; do
		if [ "${s:0:1}" = "[" ]; then
			printf '\n%s\n' "$s" >>"$CONF"
			continue
		fi
		read -r name origin cache kv <<<"$s"
		printf '\n[device %s]\norigin = %s\ncache = %s\n' "$name" "$origin" "$cache" >>"$CONF"
		for kv in $kv; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$CONF"
		done
	done
}

# report_get PYTHON-EXPR: evaluated with r = devices.json
report_get() {
	$PY -c "import json,sys; r=json.load(open('$REPORT')); print($1)"
}

# applied: how many times rcached has applied the config so far (its log)
applied() {
	grep -c "declared devices: " "$LOGS/rcached.log" || true
}

# wait_applied COUNT: until rcached applied the config once more than COUNT
# times, and reported it
wait_applied() {
	local i
	for i in $(seq 1 150); do
		if [ "$(applied)" -gt "$1" ]; then
			sleep 0.2
			return 0
		fi
		sleep 0.1
	done
	die "rcached did not apply $CONF: $(tail -n 3 "$LOGS/rcached.log" | tr '\n' ' ')"
}

# start DAEMON-ARGS...: rcached with $CONF, once its devices are made
start() {
	local n
	n=$(applied)
	start_daemon --config "$CONF" "$@"
	wait_applied "$n"
}

# declared_state NAME: its state in the report (created, present, failed, ...)
declared_state() {
	report_get "[d['state'] for d in r['declared'] if d['name'] == '$1'] or ['none']" |
		tr -d "[]'"
}

declared_reason() {
	report_get "[d['reason'] for d in r['declared'] if d['name'] == '$1']"
}

uuid() {
	dmsetup info -c --noheadings -o uuid "$1"
}

# sighup: signals rcached and waits until it applied the config again
sighup() {
	local n
	n=$(applied)
	kill -HUP "$DAEMON_PID"
	wait_applied "$n"
}

# manual NAME: a device made by hand with rcachectl, on a loop device
manual() {
	local loop
	truncate -s $((40 * MiB)) /tmp/manual-$1.img
	loop=$(losetup -f --show /tmp/manual-$1.img)
	wipe "$loop"
	rcachectl create "$1" --origin file:///data/img2 --cache "$loop"
}

test_declared_at_start() {
	manual handmade
	local u0
	u0=$(uuid handmade)
	write_conf "ds0 file:///data/img0 $C0 block_size=1M replicas=8" \
		"broken file:///data/img1 /dev/does-not-exist" \
		"$(printf '[device typo]\norigin = file:///data/img1\ncache = %s\ncahce_size = 1' "$C1")" \
		"handmade file:///data/img1 $C1"
	start
	assert_eq "$(report_get 'len(r["declared"])')" 4 "declared devices in the report"
	# the good one is there, owned, and reads right
	[ -b /dev/mapper/ds0 ] || die "/dev/mapper/ds0 was not created"
	assert_eq "$(declared_state ds0)" created "ds0"
	assert_eq "$(uuid ds0)" "RCACHE-ds0.declared" "uuid of a declared device"
	assert_eq "$(sha_dev /dev/mapper/ds0 $((48 * MiB)))" "$SHA0" "sha256 of ds0"
	# each bad one reported, with its reason, in the log and the report
	assert_eq "$(declared_state broken)" failed "broken"
	declared_reason broken | grep -q "does-not-exist" || die "reason for broken: $(declared_reason broken)"
	assert_contains "$LOGS/rcached.log" "broken: not created: .*does-not-exist" "log for broken"
	assert_eq "$(declared_state typo)" failed "typo"
	assert_contains "$LOGS/rcached.log" "typo: not created: line [0-9]+: unknown setting 'cahce_size'" \
		"log for typo"
	# a device of the same name that rcached did not create: left alone
	assert_eq "$(declared_state handmade)" failed "handmade"
	declared_reason handmade | grep -q "left alone" || die "reason for handmade: $(declared_reason handmade)"
	assert_eq "$(uuid handmade)" "$u0" "uuid of the hand-made device"
	rcachectl table handmade | grep -q "file:///data/img2" || die "hand-made device changed"
	# the daemon serves them all the same
	assert_eq "$(field handmade daemon)" connected "daemon of the hand-made device"
	rcachectl status --json | $PY -c 'import json,sys; s=json.load(sys.stdin); assert sorted(d["name"] for d in s) == ["ds0", "handmade"], s'
}

test_sighup_add_remove() {
	manual mine
	write_conf "ds0 file:///data/img0 $C0"
	start
	[ -b /dev/mapper/ds0 ] || die "ds0 missing"
	# a section added, one bad: SIGHUP creates the good one
	write_conf "ds0 file:///data/img0 $C0" "ds1 file:///data/img1 $C1" \
		"bad1 relative/path $C1"
	sighup
	[ -b /dev/mapper/ds1 ] || die "ds1 not created on SIGHUP"
	assert_eq "$(declared_state ds0)" present "ds0 after SIGHUP"
	assert_eq "$(declared_state ds1)" created "ds1 after SIGHUP"
	assert_eq "$(declared_state bad1)" failed "bad1"
	assert_eq "$(sha_dev /dev/mapper/ds1 $((24 * MiB)))" "$SHA1" "sha256 of ds1"
	# ds1 leaves the config: removed (nothing holds it); ds0 leaves while
	# open: kept; the hand-made one is never touched
	write_conf
	exec 7</dev/mapper/ds0
	sighup
	exec 7<&-
	[ ! -e /dev/mapper/ds1 ] || die "ds1 still there after leaving the config"
	dmsetup info ds1 >/dev/null 2>&1 && die "ds1 still a dm device"
	assert_eq "$(declared_state ds1)" removed "ds1"
	assert_eq "$(declared_state ds0)" kept "ds0 (open)"
	dmsetup info ds0 >/dev/null 2>&1 || die "open ds0 was removed"
	dmsetup info mine >/dev/null 2>&1 || die "the hand-made device was removed"
	assert_contains "$LOGS/rcached.log" "ds0: no longer in the config, but in use: kept" "log for ds0"
	# closed now: the next SIGHUP removes it
	sighup
	dmsetup info ds0 >/dev/null 2>&1 && die "ds0 still there once closed"
	dmsetup info mine >/dev/null 2>&1 || die "the hand-made device was removed"
	# a bad config file: devices left as they are, the daemon keeps running
	write_conf "ds0 file:///data/img0 $C0"
	sighup
	printf '[device ds0\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	sleep 1
	kill -0 "$DAEMON_PID" || die "rcached died on a bad config"
	assert_contains "$LOGS/rcached.log" "unterminated section header; devices left as they are" \
		"log for a bad config"
	dmsetup info ds0 >/dev/null 2>&1 || die "ds0 removed on a bad config"
}

# settle NAME...: until no fetch is in flight and cached_blocks holds still
settle() {
	local d a b i
	for d in "$@"; do
		for i in $(seq 1 50); do
			a=$(field "$d" cached_blocks)
			sleep 0.3
			b=$(field "$d" cached_blocks)
			[ "$a" = "$b" ] && [ "$(field "$d" fetches_inflight)" = 0 ] && break
		done
	done
}

test_metrics_match_status() {
	write_conf "ds0 file:///data/img0 $C0" "ds1 file:///data/img1 $C1"
	start
	# cold then warm on ds0, a part of ds1
	sha_dev /dev/mapper/ds0 $((48 * MiB)) >/dev/null
	drop_caches
	dd if=/dev/mapper/ds0 of=/dev/null bs=1M count=20 iflag=direct status=none
	dd if=/dev/mapper/ds1 of=/dev/null bs=1M skip=4 count=3 iflag=direct status=none
	settle ds0 ds1
	rcachectl status --json >"$OUT/status.json"
	$PY "$K8S/check_metrics.py" "http://127.0.0.1:$PORT/metrics" "$OUT/status.json"
	# a hit ratio that is neither 0 nor 1, and a partly cached device
	$PY -c "import json; s={d['name']: d for d in json.load(open('$OUT/status.json'))}; \
assert 0 < s['ds0']['hit_ratio'] < 1 and s['ds0']['cached_percent'] == 100, s['ds0']; \
assert 0 < s['ds1']['cached_percent'] < 100, s['ds1']"
	# the textfile, rewritten within the report interval (1 s)
	sleep 2.5
	$PY "$K8S/check_metrics.py" "$PROM" "$OUT/status.json"
	# other paths and methods
	$PY -c "import urllib.request as u, sys
try:
    u.urlopen('http://127.0.0.1:$PORT/nope', timeout=5); sys.exit('no 404')
except u.HTTPError as e:
    assert e.code == 404, e.code"
	grep -q 'rcache_declared_device{device="ds1",state="created"} 1' "$PROM" ||
		die "no rcache_declared_device for ds1"
}

test_nfd_features() {
	write_conf "ds0 file:///data/img0 $C0" "ds1 file:///data/img1 $C1"
	start
	sha_dev /dev/mapper/ds0 $((48 * MiB)) >/dev/null
	settle ds0
	sleep 2
	cat "$NFD"
	grep -qx "rcache.io/dataset.ds0=warm" "$NFD" || die "ds0 is not warm: $(cat "$NFD")"
	grep -qx "rcache.io/dataset.ds1=ready" "$NFD" || die "ds1 is not ready: $(cat "$NFD")"
	# a fenced (stale) device loses its label
	truncate -s $((20 * MiB)) /data/img1
	# the daemon checks the origin's version when it fills a block
	dd if=/dev/mapper/ds1 of=/dev/null bs=1M count=1 iflag=direct status=none 2>/dev/null || true
	for i in $(seq 1 50); do
		grep -q "dataset.ds1" "$NFD" || break
		sleep 0.2
	done
	grep -q "dataset.ds1" "$NFD" && die "ds1 still labelled after it was fenced"
	assert_eq "$(field ds1 mode)" stale "mode of ds1"
	# the daemon exits: no dataset is served, the file goes
	stop_daemon
	[ ! -e "$NFD" ] || die "$NFD still there after rcached exited"
	make_origin /data/img1 $((24 * MiB)) 71
}

test_device_plugin() {
	write_conf "ds0 file:///data/img0 $C0"
	start
	local numa restart
	# both cache disks are virtio disks of one VM: the same NUMA node
	numa=$(field ds0 numa_node)
	restart="rcached --config $CONF >>$LOGS/rcached.log 2>&1 &"
	$PY "$K8S/vm_plugin.py" "$BIN/rcache-device-plugin" "$REPORT" /tmp/device-plugins \
		"expect:ds0:$numa" "allocate:ds0" \
		"run:dd if=/dev/mapper/ds0 of=/dev/null bs=1M count=2 status=none" \
		"run:pkill -9 -x rcached" "unhealthy:ds0" \
		"run:$restart" "healthy:ds0" \
		"run:printf '\n[device ds1]\norigin = file:///data/img1\ncache = $C1\n' >>$CONF; pkill -HUP -x rcached" \
		"registered:ds1" "expect:ds1:$numa" "allocate:ds1" \
		"run:truncate -s $((20 * MiB)) /data/img0; dd if=/dev/mapper/ds0 of=/dev/null bs=1M skip=30 count=1 iflag=direct status=none 2>/dev/null || true" \
		"unhealthy:ds0"
	make_origin /data/img0 $((48 * MiB)) 70
	[ "$(sha_file /data/img0)" = "$SHA0" ] || die "img0 not restored"
}

# A fake sysfs tree laid out like /sys on a two-socket GPU node (the unit
# tests build the same kind, selftests/unit/k8s_test.c): the VM's cache
# disks appear as NVMe namespaces on NUMA nodes 0 and 1.
FAKESYS=/tmp/fake-sysfs

# pci_fn DIR CLASS VENDOR NUMA: a PCI function, listed in bus/pci/devices
pci_fn() {
	mkdir -p "$FAKESYS/$1" "$FAKESYS/bus/pci/devices"
	echo "$2" >"$FAKESYS/$1/class"
	echo "$3" >"$FAKESYS/$1/vendor"
	echo "$4" >"$FAKESYS/$1/numa_node"
	ln -s "../../../$1" "$FAKESYS/bus/pci/devices/${1##*/}"
}

# block_on DISK PCI_DIR NAMESPACE: DISK's major:minor, a namespace of the
# NVMe controller at PCI_DIR
block_on() {
	local devt ns=$2/nvme/${3%n1}/$3
	devt=$(printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")")
	mkdir -p "$FAKESYS/$ns" "$FAKESYS/dev/block"
	echo "$devt" >"$FAKESYS/$ns/dev"
	ln -s "../../$ns" "$FAKESYS/dev/block/$devt"
}

# rcached with sysfs_root on a fake tree: `rcachectl status --json`,
# devices.json (what the plugin reads) and the metrics show that tree's NUMA
# nodes, PCI paths and GPUs; the plugin puts each copy of the dataset on its
# node and prefers the one next to the GPUs.
test_topology_fake_sysfs() {
	local n0=devices/pci0000:00/0000:00:1c.0/0000:3d:00.0
	local n1=devices/pci0000:80/0000:80:02.0/0000:b1:00.0
	rm -rf "$FAKESYS"
	pci_fn "$n0" 0x010802 0x144d 0
	pci_fn "$n1" 0x010802 0x144d 1
	pci_fn devices/pci0000:80/0000:80:03.0/0000:ca:00.0 0x030200 0x10de 1
	pci_fn devices/pci0000:80/0000:80:04.0/0000:cb:00.0 0x030000 0x1002 1
	# on node 1 too, neither counted: a NIC, and a display device of a
	# vendor that is not NVIDIA, AMD or Intel
	pci_fn devices/pci0000:80/0000:80:05.0/0000:d3:00.0 0x020000 0x15b3 1
	pci_fn devices/pci0000:80/0000:80:06.0/0000:d4:00.0 0x030200 0x1234 1
	block_on "$C0" "$n0" nvme0n1
	block_on "$C1" "$n1" nvme1n1
	# one dataset, a copy on each node's disk: one resource
	SYSFS=$FAKESYS write_conf "img-n0 file:///data/img1 $C0 resource=img" \
		"img-n1 file:///data/img1 $C1 resource=img"
	start
	[ -b /dev/mapper/img-n0 ] && [ -b /dev/mapper/img-n1 ] || die "img-n0/img-n1 not created"
	# rcachectl reads sysfs itself: the same tree through $RCACHE_SYSFS_ROOT
	RCACHE_SYSFS_ROOT=$FAKESYS rcachectl status --json >"$OUT/topo-status.json"
	$PY - "$OUT/topo-status.json" "$REPORT" <<-'EOF'
		import json, sys
		want = {
		    "img-n0": {"numa_node": 0, "pci_address": "0000:3d:00.0",
		               "pci_path": "pci0000:00/0000:00:1c.0/0000:3d:00.0", "gpus": []},
		    "img-n1": {"numa_node": 1, "pci_address": "0000:b1:00.0",
		               "pci_path": "pci0000:80/0000:80:02.0/0000:b1:00.0",
		               "gpus": [{"pci_address": "0000:ca:00.0", "vendor": "nvidia",
		                         "class": "0x030200", "numa_node": 1},
		                        {"pci_address": "0000:cb:00.0", "vendor": "amd",
		                         "class": "0x030000", "numa_node": 1}]},
		}
		status = {d["name"]: d for d in json.load(open(sys.argv[1]))}
		report = {d["name"]: d for d in json.load(open(sys.argv[2]))["devices"]}
		for what, got in (("rcachectl status --json", status), ("devices.json", report)):
		    for name, fields in want.items():
		        for k, v in fields.items():
		            if got.get(name, {}).get(k) != v:
		                sys.exit("%s: %s: %s is %r, want %r"
		                         % (what, name, k, got.get(name, {}).get(k), v))
		    print("ok: %s: NUMA nodes, PCI paths and GPUs of the fake tree" % what)
		for name in want:
		    if report[name].get("resource") != "img":
		        sys.exit("devices.json: %s: resource %r" % (name, report[name].get("resource")))
	EOF
	# without it, rcachectl sees the VM's own /sys: not the fake tree
	assert_ne "$(field img-n1 pci_address)" "0000:b1:00.0" "pci_address from the real /sys"
	$PY -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$PORT/metrics', timeout=5).read().decode())" \
		>"$OUT/topo-metrics.txt"
	assert_contains "$OUT/topo-metrics.txt" \
		'^rcache_device_info\{device="img-n1",.*numa_node="1",pci_address="0000:b1:00.0"\} 1$' \
		"rcache_device_info of img-n1"
	# the plugin: each copy's replicas on its node; the copy next to the GPUs
	# preferred; Allocate gives that copy as /dev/rcache/img
	$PY "$K8S/vm_plugin.py" "$BIN/rcache-device-plugin" "$REPORT" /tmp/device-plugins-topo \
		"frame:img:img-n0=0,img-n1=1" "preferred:img:img-n1" "allocate:img:img-n1"
	grep -qx "rcache.io/dataset.img=ready" "$NFD" || die "NFD label of img: $(cat "$NFD")"
	rm -rf "$FAKESYS"
}

TESTS=(
	declared_at_start test_declared_at_start
	sighup_add_remove test_sighup_add_remove
	metrics_match_status test_metrics_match_status
	nfd_features test_nfd_features
	device_plugin test_device_plugin
	topology_fake_sysfs test_topology_fake_sysfs
)
t_run_all "$@"
cleanup_devices
exit 0
