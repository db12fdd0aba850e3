#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Parses rcached's Prometheus metrics (http://HOST:PORT/metrics or a
node-exporter textfile) and checks them against `rcachectl status --json`.

usage: check_metrics.py URL|FILE STATUS_JSON_FILE
Prints what it compared; exits 1 with the first difference."""
import json
import re
import sys
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{(name, frozenset(labels)): value}, checking the exposition format."""
    samples, typed, helped = {}, {}, set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise SystemExit("line %d: unknown type %s" % (n, kind))
            if name not in helped:
                raise SystemExit("line %d: TYPE %s without HELP" % (n, name))
            typed[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in typed and base not in typed:
            raise SystemExit("line %d: %s has no TYPE" % (n, name))
        pairs = LABEL.findall(labels)
        if "".join('%s="%s",' % p for p in pairs).rstrip(",") != labels.rstrip(","):
            raise SystemExit("line %d: bad labels %r" % (n, labels))
        key = (name, frozenset(pairs))
        if key in samples:
            raise SystemExit("line %d: duplicate sample %s{%s}" % (n, name, labels))
        samples[key] = float(value)
    return samples, typed


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise SystemExit("no sample %s%s" % (name, labels))
    return samples[key]


def main():
    src, status_file = sys.argv[1], sys.argv[2]
    if src.startswith("http://"):
        with urllib.request.urlopen(src, timeout=10) as r:
            ctype = r.headers.get("Content-Type", "")
            if not ctype.startswith("text/plain"):
                raise SystemExit("Content-Type %s" % ctype)
            text = r.read().decode()
    else:
        text = open(src).read()
    samples, typed = parse(text)
    status = json.load(open(status_file))
    if isinstance(status, dict):
        status = [status]
    if value(samples, "rcache_daemon_up") != 1:
        raise SystemExit("rcache_daemon_up is not 1")
    exact = {
        "rcache_read_hits_total": "read_hits",
        "rcache_read_misses_total": "read_misses",
        "rcache_read_hit_bytes_total": "hit_bytes",
        "rcache_read_miss_bytes_total": "miss_bytes",
        "rcache_fetch_errors_total": "fetch_errors",
        "rcache_cached_blocks": "cached_blocks",
        "rcache_blocks": "total_blocks",
        "rcache_prefetch_used_blocks_total": "prefetch_used",
        "rcache_prefetch_wasted_blocks_total": "prefetch_wasted",
    }
    for st in status:
        dev = st["name"]
        for metric, field in exact.items():
            got = value(samples, metric, device=dev)
            if got != st[field]:
                raise SystemExit("%s{device=%s} = %s, rcachectl status says %s = %s" %
                                 (metric, dev, got, field, st[field]))
        got = value(samples, "rcache_cached_percent", device=dev)
        if abs(got - st["cached_percent"]) > 0.006:
            raise SystemExit("cached_percent of %s: %s, rcachectl says %s" %
                             (dev, got, st["cached_percent"]))
        got = value(samples, "rcache_hit_ratio", device=dev)
        if abs(got - st["hit_ratio"]) > 0.0001:
            raise SystemExit("hit_ratio of %s: %s, rcachectl says %s" % (dev, got, st["hit_ratio"]))
        healthy = 1 if st["health"] == "healthy" else 0
        if value(samples, "rcache_device_healthy", device=dev) != healthy:
            raise SystemExit("rcache_device_healthy of %s is not %d" % (dev, healthy))
        # the fill latency histogram: cumulative buckets ending in +Inf = count
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == "rcache_fetch_duration_seconds_bucket" and
                          dict(k[1]).get("device") == dev), key=lambda b: b[0])
        if typed.get("rcache_fetch_duration_seconds") != "histogram":
            raise SystemExit("rcache_fetch_duration_seconds is not a histogram")
        if st["read_misses"] and not buckets:
            raise SystemExit("%s had misses but no fill latency histogram" % dev)
        if buckets:
            counts = [v for _, v in buckets]
            if counts != sorted(counts) or buckets[-1][0] != float("inf"):
                raise SystemExit("histogram of %s is not cumulative: %s" % (dev, buckets))
            count = value(samples, "rcache_fetch_duration_seconds_count", device=dev)
            if counts[-1] != count or count < 1:
                raise SystemExit("histogram of %s: +Inf %s, count %s" % (dev, counts[-1], count))
            # one timed fill per block the cache holds, on a fresh device
            # that lost none (no eviction) and failed none
            if not st["evictions"] and not st["fetch_errors"] and \
                    not value(samples, "rcache_daemon_fill_errors_total", device=dev) and \
                    count != st["cached_blocks"]:
                raise SystemExit("histogram of %s: %s fills timed, %s blocks cached" %
                                 (dev, count, st["cached_blocks"]))
        print("%s: hits %d misses %d (%d/%d bytes) cached %.2f%% (%d blocks, %d fills timed) "
              "hit ratio %.4f: as rcachectl says"
              % (dev, st["read_hits"], st["read_misses"], st["hit_bytes"], st["miss_bytes"],
                 st["cached_percent"], st["cached_blocks"], count if buckets else 0,
                 st["hit_ratio"]))
    names = {dict(k[1]).get("device") for k in samples if k[0] == "rcache_read_hits_total"}
    if names != {st["name"] for st in status}:
        raise SystemExit("devices in the metrics %s, in rcachectl status %s" %
                         (sorted(names), sorted(st["name"] for st in status)))


if __name__ == "__main__":
    main()
