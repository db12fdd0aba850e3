#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""rcache-device-plugin against the fake kubelet, on the host: the report
is a file this test writes as rcached would (no kernel needed).

usage: test_plugin.py PLUGIN_BINARY [WORKDIR]
Prints PASS:/FAIL: lines (k8s/plugin/...); exits 1 when one failed."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kubelet import FakeKubelet, PluginClient  # noqa: E402

PLUGIN = sys.argv[1]
WORK = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="rcache-dp-")
failed = 0


def result(name, ok, why=""):
    global failed
    if ok:
        print("PASS: k8s/plugin/%s" % name, flush=True)
    else:
        failed += 1
        print("FAIL: k8s/plugin/%s: %s" % (name, why), flush=True)


def dev(name, numa=0, health="healthy", gpus=1, **extra):
    d = {"name": name, "device": "/dev/mapper/" + name, "mode": "ready",
         "daemon": "connected", "health": health, "health_reason": "" if health == "healthy"
         else "mode failed", "numa_node": numa, "pci_address": "0000:3d:00.0",
         "gpus": [{"pci_address": "0000:3b:00.0", "vendor": "nvidia", "class": "0x030200",
                   "numa_node": numa}] * gpus}
    d.update(extra)
    return d


class Report:
    """Writes devices.json the way rcached does, every 0.5 s while alive."""

    def __init__(self, path):
        self.path = path
        self.devices = []
        self.alive = True
        self.beating = True
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def write(self):
        with self.lock:
            doc = {"version": 1, "generator": "test", "pid": os.getpid(), "alive": self.alive,
                   "updated": time.time(), "interval_s": 1, "devices": self.devices,
                   "declared": []}
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(doc, f)
            os.rename(tmp, self.path)

    def _beat(self):
        while not self.stop:
            if self.beating:
                self.write()
            time.sleep(0.5)

    def set(self, devices):
        with self.lock:
            self.devices = devices
        self.write()


def sockdir(name):
    """The device-plugins directory: short, under /tmp (a unix socket path
    has at most 107 bytes; WORK may be deep), named WORK/NAME too."""
    d = tempfile.mkdtemp(prefix="rcdp-")
    link = os.path.join(WORK, name)
    if os.path.lexists(link):
        if os.path.islink(link):
            old = os.readlink(link)
            os.unlink(link)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(link)
    os.symlink(d, link)
    return d


def restart_kubelet(kubelet, dpdir, count):
    """A kubelet restart: every socket deleted, kubelet.sock recreated; the
    registrations within 2 s of the new kubelet.sock, and how long it took."""
    kubelet.stop()
    for n in os.listdir(dpdir):
        os.unlink(os.path.join(dpdir, n))
    time.sleep(0.3)
    t0 = time.monotonic()
    kubelet.start()
    regs = kubelet.wait_registrations(count, 2.0)
    return regs, time.monotonic() - t0


def main():
    os.makedirs(WORK, exist_ok=True)
    dpdir = sockdir("device-plugins")
    report = Report(os.path.join(WORK, "devices.json"))
    conf = os.path.join(WORK, "rcached.conf")
    with open(conf, "w") as f:
        f.write("[plugin]\nreplicas = 8\n\n[device nonuma]\nreplicas = 3\n")
    longname = "l" * 60
    report.set([dev("ds0", numa=0), dev("nonuma", numa=-1, gpus=0), dev(longname, numa=1)])
    report.thread.start()

    kubelet = FakeKubelet(dpdir)
    kubelet.start()
    log = open(os.path.join(WORK, "plugin.log"), "w")
    plugin = subprocess.Popen([PLUGIN, "--device-plugin-dir", dpdir, "--report", report.path,
                               "--config", conf, "--stale-after", "3"],
                              stdout=log, stderr=subprocess.STDOUT)
    clients = []
    try:
        run(dpdir, report, kubelet, plugin, longname, clients, conf)
    finally:
        for c in clients:
            c.close()
        plugin.terminate()
        try:
            plugin.wait(timeout=10)
            result("exits-on-sigterm", plugin.returncode == 0,
                   "exit status %s" % plugin.returncode)
        except subprocess.TimeoutExpired:
            plugin.kill()
            result("exits-on-sigterm", False, "still running 10 s after SIGTERM")
        result("sockets-removed-on-exit",
               not [n for n in os.listdir(dpdir) if n.startswith("rcache-")],
               "left: %s" % os.listdir(dpdir))
        kubelet.stop()
        report.stop = True
        log.close()
    if failed:
        sys.stdout.write(open(os.path.join(WORK, "plugin.log")).read()[-3000:])


def run(dpdir, report, kubelet, plugin, longname, clients, conf):
    regs = kubelet.wait_registrations(3, 10)
    names = sorted(r["resource_name"] for r in regs)
    result("registers-each-device", names == sorted(["rcache.io/ds0", "rcache.io/nonuma",
                                                      "rcache.io/" + longname]),
           "registered: %s" % names)
    result("serves-before-register",
           regs and all("options_on_dial_back" in r for r in regs),
           "dial-back failed: %s" % [r.get("dial_back_error") for r in regs])
    result("register-request-fields",
           regs and all(r["version"] == "v1beta1" and r["endpoint"].endswith(".sock") and
                        "/" not in r["endpoint"] and r["get_preferred_allocation_available"]
                        for r in regs), "got %s" % regs)
    ep = {r["resource_name"][len("rcache.io/"):]: r["endpoint"] for r in regs}
    if "ds0" not in ep:
        return

    c = PluginClient(dpdir, ep["ds0"])
    clients.append(c)
    o = c.options()
    result("get-device-plugin-options",
           o == {"pre_start_required": False, "get_preferred_allocation_available": True},
           "got %s" % o)
    c.watch()
    f = c.next_frame(5)
    want = [{"id": "ds0-%d" % i, "health": "Healthy", "numa": [0]} for i in range(8)]
    result("list-and-watch-first-frame", isinstance(f, list) and
           sorted(f, key=lambda d: d["id"]) == want, "got %s" % f)

    cn = PluginClient(dpdir, ep["nonuma"])
    clients.append(cn)
    cn.watch()
    f = cn.next_frame(5)
    result("topology-omitted-when-numa-unknown", isinstance(f, list) and len(f) == 3 and
           all(d["numa"] is None and d["health"] == "Healthy" for d in f),
           "got %s (replicas = 3 from [device nonuma])" % f)

    cl = PluginClient(dpdir, ep.get(longname, "x"))
    clients.append(cl)
    cl.watch()
    f = cl.next_frame(5)
    ids = [d["id"] for d in f] if isinstance(f, list) else []
    result("device-ids-at-most-63", len(ids) == 8 and all(len(i) <= 63 for i in ids) and
           len(set(ids)) == 8 and all(d["numa"] == [1] for d in f), "got %s" % f)

    a = c.allocate([["ds0-1"], ["ds0-2", "ds0-3"]])
    spec = {"container_path": "/dev/rcache/ds0", "host_path": "/dev/mapper/ds0",
            "permissions": "r"}
    envs = {"RCACHE_DATASET": "ds0", "RCACHE_DEVICE": "/dev/rcache/ds0"}
    result("allocate-spec", len(a) == 2 and all(x["devices"] == [spec] and x["envs"] == envs
                                                for x in a), "got %s" % a)
    try:
        c.allocate([["ds0-99"]])
        result("allocate-unknown-id-is-an-error", False, "Allocate(ds0-99) succeeded")
    except grpc.RpcError as e:
        result("allocate-unknown-id-is-an-error", e.code() == grpc.StatusCode.INVALID_ARGUMENT,
               "got %s %s" % (e.code(), e.details()))
    try:
        c.allocate([["nonuma-0"]])
        result("allocate-other-resources-id-is-an-error", False, "succeeded")
    except grpc.RpcError as e:
        result("allocate-other-resources-id-is-an-error",
               e.code() == grpc.StatusCode.INVALID_ARGUMENT,
               "got %s %s" % (e.code(), e.details()))

    p = c.preferred(["ds0-%d" % i for i in range(8)], ["ds0-5"], 3)
    result("preferred-allocation", len(p) == 1 and len(p[0]) == 3 and p[0][0] == "ds0-5" and
           len(set(p[0])) == 3 and "ds0-1" not in p[0] and "ds0-2" not in p[0],
           "got %s (ds0-1..3 were allocated: least used first)" % p)
    r = c.call("PreStartContainer", b"")
    result("pre-start-container", r == b"", "got %r" % r)

    # health follows the device, and recovers
    report.set([dev("ds0", health="unhealthy", mode="failed"), dev("nonuma", numa=-1, gpus=0),
                dev(longname, numa=1)])
    f = c.wait_frame(lambda f: all(d["health"] == "Unhealthy" for d in f), 5)
    result("unhealthy-when-device-fails", f is not None, "no Unhealthy frame within 5 s")
    report.set([dev("ds0"), dev("nonuma", numa=-1, gpus=0), dev(longname, numa=1)])
    f = c.wait_frame(lambda f: all(d["health"] == "Healthy" for d in f), 5)
    result("healthy-again-when-device-recovers", f is not None, "no Healthy frame within 5 s")

    # rcached gone: its report goes stale, then it comes back
    report.beating = False
    t0 = time.monotonic()
    f = c.wait_frame(lambda f: all(d["health"] == "Unhealthy" for d in f), 8)
    result("unhealthy-when-daemon-absent", f is not None,
           "no Unhealthy frame 8 s after the report stopped (stale after 3 s)")
    report.beating = True
    f = c.wait_frame(lambda f: all(d["health"] == "Healthy" for d in f), 5)
    result("healthy-when-daemon-returns", f is not None and time.monotonic() - t0 < 15,
           "no Healthy frame after the report resumed")
    report.alive = False
    report.write()
    f = c.wait_frame(lambda f: all(d["health"] == "Unhealthy" for d in f), 3)
    result("unhealthy-when-daemon-exits", f is not None, "alive=false: no Unhealthy frame")
    report.alive = True
    report.write()
    c.wait_frame(lambda f: all(d["health"] == "Healthy" for d in f), 5)

    pushes_every_change(c, report, conf, longname)

    # followed at run time: a new device, a removed one
    report.set([dev("ds0"), dev("nonuma", numa=-1, gpus=0), dev(longname, numa=1),
                dev("ds2", numa=1)])
    regs = kubelet.wait_registrations(1, 5)
    result("new-device-registers", [r["resource_name"] for r in regs] == ["rcache.io/ds2"],
           "got %s" % regs)
    report.set([dev("ds0"), dev("nonuma", numa=-1, gpus=0), dev("ds2", numa=1)])
    f = cl.wait_frame(lambda f: False, 5)  # runs until the stream ends
    gone = not os.path.exists(os.path.join(dpdir, ep.get(longname, "x")))
    result("removed-device-endpoint-stops", gone, "its socket is still there")

    # kubelet restart: plugin sockets deleted, kubelet.sock recreated
    for cc in clients:
        cc.close()
    clients.clear()
    regs, dt = restart_kubelet(kubelet, dpdir, 3)
    names = sorted(r["resource_name"] for r in regs)
    result("re-registers-within-2s-after-kubelet-restart",
           names == ["rcache.io/ds0", "rcache.io/ds2", "rcache.io/nonuma"] and dt <= 2.0 and
           all("options_on_dial_back" in r for r in regs),
           "in %.2f s: %s" % (dt, regs))
    c = PluginClient(dpdir, "rcache-ds0.sock")
    clients.append(c)
    c.watch()
    f = c.next_frame(5)
    result("serves-after-kubelet-restart", isinstance(f, list) and len(f) == 8, "got %s" % f)
    # only kubelet.sock recreated (sockets left): registers again too
    kubelet.stop()
    time.sleep(0.2)
    kubelet.start()
    regs = kubelet.wait_registrations(3, 2.0)
    result("re-registers-when-only-kubelet-sock-is-recreated", len(regs) == 3,
           "got %d registrations" % len(regs))
    result("still-running", plugin.poll() is None, "the plugin exited")


def pushes_every_change(c, report, conf, longname):
    """ListAndWatch sends a new frame for each change of the device list:
    the replica count (from rcached's report, and from a config reload),
    the NUMA node, and health.  Each time the very next frame must show
    the change: no change is lost, and nothing unchanged is re-sent."""
    others = [dev("nonuma", numa=-1, gpus=0), dev(longname, numa=1)]
    plain = "[plugin]\nreplicas = 8\n\n[device nonuma]\nreplicas = 3\n"

    def step(name, change, want, why):
        change()
        f = c.next_frame(5)
        result("pushes-" + name, isinstance(f, list) and want(f),
               "%s; the next frame: %s" % (why, f))

    def write_conf(text):
        with open(conf + ".tmp", "w") as fh:
            fh.write(text)
        os.rename(conf + ".tmp", conf)

    def ids(f):
        return sorted(d["id"] for d in f)

    step("replicas-from-report", lambda: report.set([dev("ds0", replicas=4)] + others),
         lambda f: ids(f) == ["ds0-%d" % i for i in range(4)],
         "the report says replicas 4")
    step("replicas-on-config-reload",
         lambda: write_conf(plain + "\n[device ds0]\nreplicas = 5\n"),
         lambda f: ids(f) == ["ds0-%d" % i for i in range(5)],
         "[device ds0] replicas = 5 added to --config")
    step("replicas-config-removed", lambda: write_conf(plain),
         lambda f: ids(f) == ["ds0-%d" % i for i in range(4)],
         "the section removed: the report's 4 again")
    step("replicas-default", lambda: report.set([dev("ds0")] + others),
         lambda f: len(f) == 8, "no replicas anywhere: 8")
    step("numa-node-change", lambda: report.set([dev("ds0", numa=1)] + others),
         lambda f: len(f) == 8 and all(d["numa"] == [1] for d in f),
         "the cache device moved to NUMA node 1")
    step("numa-node-unknown", lambda: report.set([dev("ds0", numa=-1)] + others),
         lambda f: len(f) == 8 and all(d["numa"] is None for d in f),
         "NUMA node unknown: no TopologyInfo")
    step("numa-node-known-again", lambda: report.set([dev("ds0", numa=0)] + others),
         lambda f: all(d["numa"] == [0] for d in f), "back on node 0")
    step("health-change",
         lambda: report.set([dev("ds0", health="unhealthy", mode="stale")] + others),
         lambda f: len(f) == 8 and all(d["health"] == "Unhealthy" for d in f), "stale")
    step("health-recovers", lambda: report.set([dev("ds0")] + others),
         lambda f: len(f) == 8 and all(d["health"] == "Healthy" for d in f), "ready again")
    # nothing changed: rcached rewrites its report (every 0.5 s here), no frame
    f = c.next_frame(2)
    result("no-frame-without-a-change", f == "timeout", "got %s" % f)


def numa_preference():
    """One dataset on two cache devices, one per NUMA node ([device] key
    resource): one resource, each device's replicas on its own NUMA node,
    and GetPreferredAllocation choosing the device on the GPUs' node."""
    dpdir = sockdir("device-plugins-numa")
    report = Report(os.path.join(WORK, "devices-numa.json"))
    # img-n0 on node 0 (no GPU there), img-n1 on node 1 (two GPUs), both
    # made by rcached from its config; "img" made by hand, of another dataset
    origin = "s3://datasets/img.ext4"
    copies = [dev("img-n0", numa=0, gpus=0, resource="img", origin=origin, owned=True),
              dev("img-n1", numa=1, gpus=2, resource="img", origin=origin, owned=True)]
    report.set(copies + [dev("solo", numa=0, gpus=0),
                         dev("img", numa=1, gpus=2, origin="s3://other/x.ext4", owned=False)])
    report.thread.start()
    kubelet = FakeKubelet(dpdir)
    kubelet.start()
    log = open(os.path.join(WORK, "plugin-numa.log"), "w")
    plugin = subprocess.Popen([PLUGIN, "--device-plugin-dir", dpdir, "--report", report.path,
                               "--config", "/nonexistent"],
                              stdout=log, stderr=subprocess.STDOUT)
    c = None
    try:
        regs = kubelet.wait_registrations(2, 10) + kubelet.wait_registrations(1, 1)
        names = sorted(r["resource_name"] for r in regs)
        result("resource-of-several-devices-registers-once",
               names == ["rcache.io/img", "rcache.io/solo"], "registered: %s" % names)
        ep = {r["resource_name"]: r["endpoint"] for r in regs}
        c = PluginClient(dpdir, ep.get("rcache.io/img", "x"))
        c.watch()
        f = c.next_frame(5)
        want = sorted([{"id": "img-n0-%d" % i, "health": "Healthy", "numa": [0]}
                       for i in range(8)] +
                      [{"id": "img-n1-%d" % i, "health": "Healthy", "numa": [1]}
                       for i in range(8)], key=lambda d: d["id"])
        result("each-device-on-its-numa-node",
               isinstance(f, list) and sorted(f, key=lambda d: d["id"]) == want,
               "got %s" % f)
        result("device-of-another-dataset-left-out",
               isinstance(f, list) and not [d for d in f if d["id"].startswith("img-") and
                                            d["id"][4:].isdigit()],
               "the hand-made img (another origin) is in rcache.io/img: %s" % f)
        n0 = ["img-n0-%d" % i for i in range(8)]
        n1 = ["img-n1-%d" % i for i in range(8)]
        # node 0's replicas listed first, and lower in every tie-break: the
        # GPUs' node wins all the same
        p = c.preferred(n0 + n1, [], 1)
        result("preferred-on-the-gpus-numa-node", p == [["img-n1-0"]],
               "got %s (img-n1 sits on the NUMA node with the GPUs)" % p)
        p = c.preferred(n0 + n1, [], 2)
        result("preferred-keeps-a-container-on-one-device",
               p == [["img-n1-0", "img-n1-1"]], "got %s" % p)
        # the kubelet (Topology Manager) already picked node 0's device: stay
        p = c.preferred(n0 + n1, ["img-n0-3"], 2)
        result("preferred-follows-must-include", p == [["img-n0-3", "img-n0-0"]],
               "got %s" % p)
        # only node 0's replicas left (the others Unhealthy or used up)
        p = c.preferred(n0, [], 1)
        result("preferred-falls-back-to-other-nodes", p == [["img-n0-0"]], "got %s" % p)
        a = c.allocate([["img-n1-0"], ["img-n0-1", "img-n1-2", "img-n1-3"]])
        spec = {"container_path": "/dev/rcache/img", "permissions": "r"}
        envs = {"RCACHE_DATASET": "img", "RCACHE_DEVICE": "/dev/rcache/img"}
        result("allocate-gives-the-chosen-device",
               len(a) == 2 and all(x["envs"] == envs for x in a) and
               a[0]["devices"] == [dict(spec, host_path="/dev/mapper/img-n1")] and
               a[1]["devices"] == [dict(spec, host_path="/dev/mapper/img-n1")],
               "got %s (the device most of a container's IDs name)" % a)
        # handed out: img-n1-0 (x1), -2, -3; least used of node 1 first
        p = c.preferred(n0 + n1, [], 1)
        result("preferred-spreads-over-replicas", p == [["img-n1-1"]], "got %s" % p)
        # the GPUs' node device fails: its replicas Unhealthy, the rest not
        report.set([copies[0], dict(copies[1], health="unhealthy", mode="failed"),
                    dev("solo", numa=0, gpus=0)])
        f = c.next_frame(5)
        result("health-per-device",
               isinstance(f, list) and len(f) == 16 and
               all(d["health"] == ("Unhealthy" if d["id"].startswith("img-n1") else "Healthy")
                   for d in f), "got %s" % f)
        # a copy leaves the config: its replicas go, the resource stays
        report.set([copies[0], dev("solo", numa=0, gpus=0)])
        f = c.next_frame(5)
        result("device-leaves-its-resource",
               isinstance(f, list) and sorted(d["id"] for d in f) == n0, "got %s" % f)
    finally:
        if c:
            c.close()
        plugin.terminate()
        plugin.wait(timeout=10)
        kubelet.stop()
        report.stop = True
        log.close()


def poll_fallback():
    """Without inotify, polling alone finds a recreated kubelet.sock in time."""
    dpdir = sockdir("device-plugins-poll")
    report = Report(os.path.join(WORK, "devices-poll.json"))
    report.set([dev("pa", numa=0)])
    report.thread.start()
    kubelet = FakeKubelet(dpdir)
    kubelet.start()
    log = open(os.path.join(WORK, "plugin-poll.log"), "w")
    plugin = subprocess.Popen([PLUGIN, "--device-plugin-dir", dpdir, "--report", report.path,
                               "--config", "/nonexistent", "--no-inotify"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        regs = kubelet.wait_registrations(1, 10)
        ok = len(regs) == 1
        times = []
        for _ in range(3):
            regs, dt = restart_kubelet(kubelet, dpdir, 1)
            times.append(dt)
            ok = ok and len(regs) == 1 and "options_on_dial_back" in regs[0]
        result("re-registers-within-2s-by-polling", ok and max(times) <= 2.0,
               "times %s" % ["%.2f" % t for t in times])
    finally:
        plugin.terminate()
        plugin.wait(timeout=10)
        kubelet.stop()
        report.stop = True
        log.close()


if __name__ == "__main__":
    main()
    numa_preference()
    poll_fallback()
    sys.exit(1 if failed else 0)
