#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""What issue 7 asks of the rendered k8s/ manifests, beyond the schemas.

usage: check_manifests.py RENDERED_DIR JOB_YAML
Prints PASS:/FAIL: lines (k8s/manifests/...); exits 1 when one failed."""
import glob
import os
import re
import sys

import yaml

failed = 0


def result(name, problems):
    global failed
    if problems:
        failed += 1
        print("FAIL: k8s/manifests/%s: %s" % (name, "; ".join(problems)))
    else:
        print("PASS: k8s/manifests/%s" % name)


def objects(path):
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(path)) if d}


def declared(conf):
    """The resources (rcache.io/<name>) the [device] sections serve: each
    section's "resource", else its name."""
    out, section = {}, None
    for line in conf.splitlines():
        line = line.strip()
        m = re.match(r"\[device ([^\]]+)\]$", line)
        if line.startswith("["):
            section = m.group(1) if m else None
            if section:
                out[section] = section
        elif section:
            m = re.match(r"resource\s*=\s*(\S+)", line)
            if m:
                out[section] = m.group(1)
    return list(out.values())


def metrics_address(rcd, ds, conf):
    """With the host's network, /metrics listens where the manifest says:
    the node's address (the downward API's status.hostIP) or another named
    one; not every interface of the node (0.0.0.0, ::), and not rcached's
    default 127.0.0.1 (out of the scraper's reach).  The port is the
    container's "metrics" port and the prometheus.io/port annotation."""
    p = []
    args = rcd.get("command", []) + rcd.get("args", [])
    if "--metrics-listen" in args[:-1]:
        listen = args[args.index("--metrics-listen") + 1]
    else:
        m = re.search(r"^\s*metrics_listen\s*=\s*(\S+)", conf or "", re.M)
        listen = m.group(1) if m else None
    if not listen:
        return ["rcached serves no /metrics (no --metrics-listen or metrics_listen)"]
    host, _, port = listen.rpartition(":")
    var = re.fullmatch(r"\$\((\w+)\)", host)
    if not host:
        p.append("metrics address %s names no host: rcached binds 127.0.0.1" % listen)
    elif host in ("0.0.0.0", "::", "[::]"):
        p.append("metrics address %s: every interface of the node" % listen)
    elif var:
        env = {e["name"]: e for e in rcd.get("env", [])}
        ref = env.get(var.group(1), {}).get("valueFrom", {}).get("fieldRef", {})
        if ref.get("fieldPath") != "status.hostIP":
            p.append("metrics address %s: $(%s) is not the downward API's status.hostIP"
                     % (listen, var.group(1)))
    ports = [str(c["containerPort"]) for c in rcd.get("ports", []) if c.get("name") == "metrics"]
    if ports != [port]:
        p.append("metrics port %s is not the container's 'metrics' port %s" % (port, ports))
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    if ann.get("prometheus.io/port") != port:
        p.append("prometheus.io/port %s is not the metrics port %s"
                 % (ann.get("prometheus.io/port"), port))
    return p


def check_node(name, objs, conf):
    p = []
    for kind, n in (("Namespace", "rcache-system"), ("ServiceAccount", "rcache"),
                    ("ConfigMap", "rcache-config"), ("Secret", "rcache-s3-credentials"),
                    ("DaemonSet", "rcache")):
        if (kind, n) not in objs:
            p.append("no %s %s" % (kind, n))
    ds = objs.get(("DaemonSet", "rcache"))
    if not ds:
        return p
    spec = ds["spec"]["template"]["spec"]
    if spec.get("serviceAccountName") != "rcache":
        p.append("the DaemonSet does not use the rcache ServiceAccount")
    ctrs = {c["name"]: c for c in spec["containers"]}
    inits = spec.get("initContainers", [])
    init_cmd = " ".join(" ".join(c.get("command", []) + c.get("args", [])) for c in inits)
    if "dkms autoinstall" not in init_cmd or "modprobe dm-rcache" not in init_cmd:
        p.append("no init container running dkms autoinstall and modprobe dm-rcache")
    if not all(c.get("securityContext", {}).get("privileged") for c in inits):
        p.append("the module init container is not privileged")
    rcd = ctrs.get("rcached")
    plugin = ctrs.get("device-plugin")
    if not rcd or not rcd.get("securityContext", {}).get("privileged"):
        p.append("no privileged rcached container")
    if not plugin or "/usr/sbin/rcache-device-plugin" not in plugin.get("command", []):
        p.append("no rcache-device-plugin container")
    host = {v["hostPath"]["path"]: v["name"] for v in spec["volumes"] if "hostPath" in v}
    for path in ("/var/lib/kubelet/device-plugins", "/dev", "/lib/modules", "/usr/src",
                 "/var/lib/rcache"):
        if path not in host:
            p.append("no hostPath %s" % path)

    def mounts(c):
        return {m["name"]: m["mountPath"] for m in (c or {}).get("volumeMounts", [])}
    if plugin and mounts(plugin).get(host.get("/var/lib/kubelet/device-plugins")) != \
            "/var/lib/kubelet/device-plugins":
        p.append("the plugin does not see the kubelet's device-plugins directory")
    if rcd and mounts(rcd).get(host.get("/dev")) != "/dev":
        p.append("rcached does not see the host's /dev")
    if rcd and not any(e.get("secretRef", {}).get("name") == "rcache-s3-credentials"
                       for e in rcd.get("envFrom", [])):
        p.append("rcached does not take the S3 Secret as env")
    conf_vol = [v["name"] for v in spec["volumes"]
                if v.get("configMap", {}).get("name") == "rcache-config"]
    for c in (rcd, plugin):
        if c and not any(mounts(c).get(v) == "/etc/rcache" for v in conf_vol):
            p.append("%s does not mount the ConfigMap at /etc/rcache" % c["name"])
    # issue 11: the genetlink family lives in the host's network namespace
    if spec.get("hostNetwork") is not True:
        p.append("no hostNetwork: true (rcached cannot reach dm-rcache's netlink family)")
    elif spec.get("dnsPolicy") != "ClusterFirstWithHostNet":
        p.append("hostNetwork without dnsPolicy: ClusterFirstWithHostNet")
    if rcd:
        p += metrics_address(rcd, ds, conf)
    # the report rcached writes and the plugin reads: one volume
    if rcd and plugin:
        run = [n for n, path in mounts(rcd).items() if path == "/run/rcached"]
        if not run or mounts(plugin).get(run[0]) != "/run/rcached":
            p.append("the plugin does not share rcached's /run/rcached")
    result("daemonset-" + name, p)
    return p


def check_job(job_path, confs):
    p = []
    job = yaml.safe_load(open(job_path))
    if job["kind"] != "Job":
        p.append("not a Job")
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    wants = [r for r in c["resources"]["limits"] if r.startswith("rcache.io/")]
    if len(wants) != 1 or c["resources"]["limits"][wants[0]] != 1:
        p.append("does not request one rcache.io/<dataset>: %s" % wants)
    else:
        ds = wants[0][len("rcache.io/"):]
        where = [n for n, conf in confs.items() if ds in declared(conf)]
        if not where:
            p.append("%s is declared in no overlay's rcached.conf" % ds)
    script = " ".join(c.get("command", []) + c.get("args", []))
    if not re.search(r"mount\b[^\n]*-o (ro|ro,\S*)\b[^\n]*\$RCACHE_DEVICE", script):
        p.append("does not mount $RCACHE_DEVICE read-only")
    if c.get("securityContext", {}).get("privileged"):
        p.append("privileged: it would see every host device")
    result("example-job", p)


def main():
    rendered, job = sys.argv[1], sys.argv[2]
    confs = {}
    for path in sorted(glob.glob(os.path.join(rendered, "*.yaml"))):
        name = os.path.basename(path)[:-5]
        objs = objects(path)
        cm = objs.get(("ConfigMap", "rcache-config"))
        if cm:
            confs[name] = cm["data"]["rcached.conf"]
        check_node(name, objs, confs.get(name))
    over = {n: c for n, c in confs.items() if n != "base"}
    result("overlays-declare-datasets",
           [] if over and all(declared(c) for c in over.values()) else
           ["an overlay without [device] sections: %s" % sorted(over)])
    check_job(job, confs)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
