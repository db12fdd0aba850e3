#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""In the VM: rcache-device-plugin fed by a real rcached, against the fake
kubelet.  Each step prints "ok: ..." or "FAIL ..." and the script exits 1 on
the first failure (the calling shell test turns that into its FAIL line).

usage: vm_plugin.py PLUGIN REPORT DPDIR STEP...
  steps:  expect:NAME:NUMA      the first ListAndWatch frame of rcache.io/NAME:
                                8 Healthy devices on NUMA node NUMA (-1: none)
          frame:NAME:DEV=NUMA,...  the first frame of rcache.io/NAME: 8 Healthy
                                replicas of each device DEV, each on its NUMA node
          preferred:NAME:DEV    GetPreferredAllocation of one among all the IDs
                                of the last frame picks a replica of DEV
          allocate:NAME         Allocate returns /dev/mapper/NAME as /dev/rcache/NAME
          allocate:NAME:DEV     Allocate of DEV-0 returns /dev/mapper/DEV as
                                /dev/rcache/NAME
          unhealthy:NAME        a frame with every device Unhealthy (within 15 s)
          healthy:NAME          a frame with every device Healthy (within 15 s)
          run:CMD               runs a shell command
          registered:NAME       a new Register for rcache.io/NAME within 15 s
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kubelet import FakeKubelet, PluginClient  # noqa: E402

plugin_bin, report, dpdir = sys.argv[1:4]
os.makedirs(dpdir, exist_ok=True)
kubelet = FakeKubelet(dpdir)
kubelet.start()
# the plugin's log: with the test's logs when there are some
logdir = os.path.join(os.environ["RCACHE_OUT"], "logs") if os.environ.get("RCACHE_OUT") \
    else (os.path.dirname(report) or ".")
log = open(os.path.join(logdir, "plugin.log"), "a")
plugin = subprocess.Popen([plugin_bin, "--device-plugin-dir", dpdir, "--report", report,
                           "--config", "/nonexistent", "--stale-after", "4"],
                          stdout=log, stderr=subprocess.STDOUT)
clients = {}
last_ids = {}
status = 0


def fail(msg):
    print("FAIL " + msg, flush=True)
    raise SystemExit(1)


def client(name):
    if name not in clients:
        end = time.monotonic() + 15
        while True:
            regs = [r for r in seen if r["resource_name"] == "rcache.io/" + name]
            if regs:
                break
            seen.extend(kubelet.wait_registrations(1, 1))
            if time.monotonic() > end:
                fail("rcache.io/%s never registered (registered: %s)" %
                     (name, [r["resource_name"] for r in seen]))
        if "options_on_dial_back" not in regs[-1]:
            fail("registered before serving: %s" % regs[-1].get("dial_back_error"))
        c = PluginClient(dpdir, regs[-1]["endpoint"])
        c.watch()
        clients[name] = c
    return clients[name]


seen = []
try:
    for step in sys.argv[4:]:
        kind, _, arg = step.partition(":")
        if kind == "expect":
            name, numa = arg.rsplit(":", 1)
            f = client(name).next_frame(10)
            want = None if int(numa) < 0 else [int(numa)]
            if not isinstance(f, list) or len(f) != 8 or \
                    any(d["health"] != "Healthy" or d["numa"] != want for d in f):
                fail("first frame of %s: %s (want 8 Healthy on %s)" % (name, f, want))
            print("ok: %s: 8 Healthy devices, NUMA %s" % (name, want), flush=True)
        elif kind == "frame":
            name, devs = arg.split(":", 1)
            want = []
            for d in devs.split(","):
                dname, numa = d.split("=")
                want += [{"id": "%s-%d" % (dname, i), "health": "Healthy",
                          "numa": None if int(numa) < 0 else [int(numa)]} for i in range(8)]
            f = client(name).next_frame(10)
            if not isinstance(f, list) or \
                    sorted(f, key=lambda d: d["id"]) != sorted(want, key=lambda d: d["id"]):
                fail("first frame of %s: %s (want %s)" % (name, f, want))
            last_ids[name] = [d["id"] for d in f]
            print("ok: %s: %s" % (name, devs), flush=True)
        elif kind == "preferred":
            name, dname = arg.split(":")
            ids = sorted(last_ids.get(name, []))
            p = client(name).preferred(ids, [], 1)
            if len(p) != 1 or len(p[0]) != 1 or not p[0][0].startswith(dname + "-") or \
                    not p[0][0][len(dname) + 1:].isdigit():
                fail("GetPreferredAllocation(%s, 1): %s (want a replica of %s)" % (ids, p, dname))
            print("ok: %s: GetPreferredAllocation chose %s" % (name, p[0][0]), flush=True)
        elif kind == "allocate":
            name, _, dname = arg.partition(":")
            dname = dname or name
            a = client(name).allocate([[dname + "-0"]])
            want = [{"envs": {"RCACHE_DATASET": name, "RCACHE_DEVICE": "/dev/rcache/" + name},
                     "devices": [{"container_path": "/dev/rcache/" + name,
                                  "host_path": "/dev/mapper/" + dname, "permissions": "r"}],
                     "mounts": 0}]
            if a != want:
                fail("Allocate: %s" % a)
            if not os.path.exists(a[0]["devices"][0]["host_path"]):
                fail("host_path %s does not exist" % a[0]["devices"][0]["host_path"])
            print("ok: %s: Allocate %s" % (name, dname), flush=True)
        elif kind in ("unhealthy", "healthy"):
            h = "Healthy" if kind == "healthy" else "Unhealthy"
            f = client(arg).wait_frame(lambda f: f and all(d["health"] == h for d in f), 15)
            if f is None:
                fail("%s: no frame with every device %s" % (arg, h))
            print("ok: %s: %s" % (arg, h), flush=True)
        elif kind == "registered":
            end = time.monotonic() + 15
            while not [r for r in seen if r["resource_name"] == "rcache.io/" + arg]:
                seen.extend(kubelet.wait_registrations(1, 1))
                if time.monotonic() > end:
                    fail("rcache.io/%s did not register" % arg)
            print("ok: %s registered" % arg, flush=True)
        elif kind == "run":
            subprocess.run(arg, shell=True, check=True)
            print("ok: ran %s" % arg, flush=True)
        else:
            fail("unknown step " + step)
finally:
    for c in clients.values():
        c.close()
    plugin.terminate()
    plugin.wait(timeout=10)
    kubelet.stop()
