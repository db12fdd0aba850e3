#!/bin/bash
# Runs as PID 1 in the guest after switch_root: finish the minimal system
# setup the initramfs skipped, run the job the host left in the shared run
# directory, save its status and the kernel log there, and power off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
mkdir -p /dev/pts /dev/shm /run /tmp /mnt/out
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 rcout /mnt/out
hostname rcachevm
echo "127.0.0.1 rcachevm" >>/etc/hosts
ip link set lo up 2>/dev/null || ifconfig lo up
mount -t configfs none /sys/kernel/config 2>/dev/null
mount -t debugfs none /sys/kernel/debug 2>/dev/null
echo 1 >/proc/sys/kernel/sysrq
# The test servers listen on fixed ports inside the ephemeral range (Ceph
# 40000/40080, s3rver 45100, the proxies 45200/45210): keep outgoing
# connections off them, or a server can find its port taken at start.
echo 40000-40999,45000-45999 >/proc/sys/net/ipv4/ip_local_reserved_ports

# Make hung tasks visible (the host fails the run on them) in well under
# the harness timeout.
echo 60 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
cd /mnt/out || exit 1
# Shortly before the host gives up, show what everything is waiting on.
watchdog=$(sed -n 's/.*rcache.watchdog=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$watchdog" ]; then
	(
		sleep "$watchdog"
		echo "=== guest watchdog after ${watchdog}s: processes and kernel stacks"
		ps -eo pid,stat,wchan:30,args | grep -v ' \[' | tail -n 40
		for p in $(ps -eo pid,stat | awk '$2 ~ /D/ {print $1}'); do
			echo "--- $p $(cat /proc/$p/cmdline | tr '\0' ' ')"
			cat /proc/$p/stack
		done
		dmsetup table 2>&1
		dmsetup status 2>&1
		dmesg | tail -n 30
	) &
fi
status=1
if [ -r /mnt/out/job ]; then
	bash /mnt/out/job 2>&1 | tee /mnt/out/output
	status=${PIPESTATUS[0]}
fi
dmesg >/mnt/out/dmesg
echo "$status" >/mnt/out/status
sync
echo "RCACHE-VM-EXIT $status"
echo o >/proc/sysrq-trigger
sleep 30
