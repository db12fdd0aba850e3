#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host-side tests of s3proxy.py: starts s3rver (s3rver.sh) and the proxy on
loopback, then checks every fault kind, If-Match/412, stats and log, the STS
stub and SigV4 checking against requests signed by botocore (and by curl).
Prints "PASS: s3proxy/NAME" or "FAIL: s3proxy/NAME: reason" per check; exits
non-zero when any failed.

    /usr/bin/python3 selftests/s3/test_s3proxy.py [-v] [NAME...]
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

try:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("FAIL: s3proxy/setup: no botocore: run with /usr/bin/python3, apt-get install python3-botocore")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "bkt"
KEYS = {"AKTEST": {"secret": "sktest/secret+0000000000000000000000000"},
        "AKTOKEN": {"secret": "sktoken", "token": "session-token-1"}}
VERBOSE = False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Resp:
    def __init__(self):
        self.status, self.headers, self.body = None, {}, b""
        self.reset = self.eof = self.timeout = False
        self.extra = b""

    def __repr__(self):
        return (f"<status={self.status} len={len(self.body)} reset={self.reset} eof={self.eof} "
                f"timeout={self.timeout} extra={len(self.extra)} headers={self.headers}>")

    def code(self):
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.s3port, self.port = free_port(), free_port()
        self.log = os.path.join(tmp, "proxy.log")
        self.tokfile = os.path.join(tmp, "webtoken")
        with open(self.tokfile, "w") as f:
            f.write("web-token-A\n")
        kf = os.path.join(tmp, "keys.json")
        with open(kf, "w") as f:
            json.dump(KEYS, f)
        out = subprocess.run([os.path.join(HERE, "s3rver.sh"), "up", os.path.join(tmp, "s3rver"),
                              str(self.s3port), BUCKET], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"s3rver.sh up failed: {out.stderr.strip()}")
        self.proxy = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "s3proxy.py"), "--upstream", f"http://127.0.0.1:{self.s3port}",
             "--port", str(self.port), "--log", self.log, "--verify-keys", kf,
             "--sts-token-file", self.tokfile, "--sts-duration", "3", "--idle-timeout", "20"]
            + ([] if VERBOSE else ["--quiet"]),
            stdout=subprocess.PIPE, stderr=None if VERBOSE else subprocess.DEVNULL, text=True)
        line = self.proxy.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"s3proxy did not start: {line!r}")
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        if self.proxy.poll() is None:
            self.proxy.send_signal(signal.SIGTERM)
            try:
                self.proxy.wait(10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
        subprocess.run([os.path.join(HERE, "s3rver.sh"), "down", os.path.join(self.tmp, "s3rver")])

    # -- control API -----------------------------------------------------
    def ctl(self, method, ep, obj=None):
        """The control API, over one keep-alive connection (so that the
        proxy's thread count is steady)."""
        if getattr(self, "ctl_conn", None) is None:
            self.ctl_conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c = self.ctl_conn
        try:
            c.request(method, "/__proxy/" + ep, body=json.dumps(obj) if obj is not None else None)
            r = c.getresponse()
            data = json.loads(r.read())
        except (OSError, http.client.HTTPException):
            self.ctl_conn = None
            raise
        if r.status != 200:
            raise RuntimeError(f"control {ep}: {r.status} {data}")
        return data

    def config(self, **kw):
        base = {"fail_rate": 0.0, "fail_count": 0, "fail_kinds": ["503"], "fail_methods": ["GET"],
                "fail_range": None, "ttfb_ms": 0, "bandwidth_bps": 0, "replace_etag_412": False,
                "verify_sigv4": True, "reset_mode": "random", "overlong_mode": "random",
                "stall_ms": 60000, "fail_path_prefix": "", "strip_headers": [], "region": "",
                "allow_anonymous": False}
        base.update(kw)
        return self.ctl("POST", "config", base)

    # -- requests --------------------------------------------------------
    def signed(self, method, path, headers=None, body=b"", ak="AKTEST", sk=None, token=None,
               region="us-east-1"):
        """Headers for a request signed by botocore (S3, header auth)."""
        sk = sk if sk is not None else KEYS.get(ak, {}).get("secret", "x")
        req = AWSRequest(method=method, url=self.url + path, data=body, headers=headers or {})
        S3SigV4Auth(Credentials(ak, sk, token), "s3", region).add_auth(req)
        return dict(req.headers.items())

    def presign(self, path, ak="AKTEST", expires=60):
        req = AWSRequest(method="GET", url=self.url + path)
        S3SigV4QueryAuth(Credentials(ak, KEYS[ak]["secret"]), "s3", "us-east-1", expires=expires).add_auth(req)
        u = urllib.parse.urlsplit(req.url)
        return u.path + "?" + u.query

    def raw(self, method, path, headers=None, body=b"", timeout=5.0, sock=None, keep=False, linger=0.0):
        """One request on a raw socket; notes resets, early EOF, extra bytes
        after the body and timeouts instead of hiding them."""
        r = Resp()
        s = sock or socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.settimeout(timeout)
        h = {"Host": f"127.0.0.1:{self.port}"}
        h.update(headers or {})
        if (body or method in ("PUT", "POST")) and "Transfer-Encoding" not in h:
            h["Content-Length"] = str(len(body))
        msg = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        buf = b""
        try:
            s.sendall(msg.encode() + body)
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    r.eof = True
                    return r
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            r.status = int(lines[0].split()[1])
            r.headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            n = 0 if method == "HEAD" else int(r.headers.get("content-length", 0))
            while len(buf) < n:
                d = s.recv(65536)
                if not d:
                    r.eof = True
                    break
                buf += d
            r.body, r.extra = buf[:n], buf[n:]
            if linger:  # anything more after the body?
                s.settimeout(linger)
                try:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            r.eof = True
                            break
                        r.extra += d
                except socket.timeout:
                    pass
        except (ConnectionResetError, BrokenPipeError):
            r.reset = True
        except socket.timeout:
            r.timeout = True
        finally:
            if not keep:
                s.close()
        return r

    def get(self, path, rng=None, extra=None, **kw):
        h = dict(extra or {})
        if rng:
            h["Range"] = rng
        return self.raw("GET", path, self.signed("GET", path, h), **kw)

    def put(self, path, data):
        return self.raw("PUT", path, self.signed("PUT", path, {}, data), data)


# ---------------------------------------------------------------------------
OBJ = os.urandom(3 * 1024 * 1024 + 12345)
OBJ2 = os.urandom(1024 * 1024)
P = f"/{BUCKET}/dir/obj.bin"


def t_passthrough(e):
    r = e.put(P, OBJ)
    assert r.status == 200, r
    r = e.get(P)
    assert r.status == 200 and r.body == OBJ, r
    r = e.get(P, "bytes=1000-2999")
    assert r.status == 206 and r.body == OBJ[1000:3000], r
    assert r.headers["content-range"] == f"bytes 1000-2999/{len(OBJ)}", r.headers
    r = e.raw("HEAD", P, e.signed("HEAD", P))
    assert r.status == 200 and int(r.headers["content-length"]) == len(OBJ), r


def t_put_streaming(e):
    """Bodies past the 8 MiB read-ahead, and chunked ones, reach the upstream whole."""
    e.config()
    big = os.urandom(20 * 1024 * 1024 + 7)
    q = f"/{BUCKET}/big.bin"
    assert e.put(q, big).status == 200
    r = e.get(q)
    assert r.status == 200 and r.body == big, r
    h = e.signed("PUT", q, {}, big)
    r = e.raw("PUT", q, h, big[:-1] + b"x", timeout=30)
    assert r.status == 400 and r.code() == "XAmzContentSHA256Mismatch", r
    assert e.get(q).body == big, "a body with a bad hash replaced the object"
    q = f"/{BUCKET}/chunked.bin"
    data = os.urandom(300000)
    h = e.signed("PUT", q, {"Transfer-Encoding": "chunked"}, data)
    body = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 70000]), data[i:i + 70000])
                    for i in range(0, len(data), 70000)) + b"0\r\n\r\n"
    r = e.raw("PUT", q, h, body)
    assert r.status == 200, r
    assert e.get(q).body == data


def t_keepalive(e):
    before = e.ctl("GET", "stats")["connections"]
    c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=10)
    for i in range(5):
        c.request("GET", P, headers=e.signed("GET", P, {"Range": f"bytes={i * 100}-{i * 100 + 99}"}))
        r = c.getresponse()
        assert r.status == 206 and r.read() == OBJ[i * 100:i * 100 + 100]
    c.close()
    after = e.ctl("GET", "stats")["connections"]
    assert after - before == 1, f"{after - before} connections for 5 requests"


def t_errors(e):
    want = {"503": (503, "ServiceUnavailable"), "slowdown": (503, "SlowDown"), "500": (500, "InternalError"),
            "502": (502, "BadGateway"), "504": (504, "GatewayTimeout")}
    for kind, (status, code) in want.items():
        e.config(fail_count=1, fail_kinds=[kind])
        s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        r = e.get(P, "bytes=0-9", sock=s, keep=True)
        assert r.status == status and r.code() == code, f"{kind}: {r} {r.body[:200]}"
        r = e.get(P, "bytes=0-9", sock=s)  # the connection is still usable
        assert r.status == 206 and r.body == OBJ[:10], f"{kind} then: {r}"
    f = e.ctl("GET", "stats")["faults"]
    assert all(f.get(k) == 1 for k in want), f


def t_reset(e):
    e.config(fail_count=1, fail_kinds=["reset"], reset_mode="before")
    r = e.get(P, "bytes=0-99999")
    assert r.reset and r.status is None, r
    e.config(fail_count=1, fail_kinds=["reset"], reset_mode="mid")
    r = e.get(P, "bytes=0-99999")
    assert r.status == 206 and (r.reset or r.eof) and len(r.body) < 100000, r
    r = e.get(P, "bytes=0-99")
    assert r.status == 206 and r.body == OBJ[:100], r


def t_truncate(e):
    e.config(fail_count=1, fail_kinds=["truncate"])
    r = e.get(P, "bytes=100-200099")
    assert r.status == 206 and r.eof and len(r.body) < 200000, r
    assert r.headers["content-length"] == "200000", r.headers
    assert r.headers["content-range"] == f"bytes 100-200099/{len(OBJ)}", r.headers
    assert r.body == OBJ[100:100 + len(r.body)], "truncated body is not a prefix"


def t_overlong(e):
    e.config(fail_count=1, fail_kinds=["overlong"], overlong_mode="body")
    r = e.get(P, "bytes=0-999")
    assert r.status == 206 and len(r.body) > 1000 and r.body[:1000] == OBJ[:1000], r
    assert r.headers["content-range"] == f"bytes 0-999/{len(OBJ)}", r.headers
    e.config(fail_count=1, fail_kinds=["overlong"], overlong_mode="tail")
    r = e.get(P, "bytes=0-999", linger=0.5)
    assert r.status == 206 and r.body == OBJ[:1000] and r.extra, r
    e.config(fail_count=1, fail_kinds=["overlong"], overlong_mode="range")
    r = e.get(P, "bytes=0-999")
    assert r.status == 206 and r.headers["content-range"] != f"bytes 0-999/{len(OBJ)}", r
    e.config(fail_count=1, fail_kinds=["overlong"], overlong_mode="body")
    r = e.get(P)  # a whole-object 200 too
    assert r.status == 200 and len(r.body) > len(OBJ), r


def t_stall(e):
    e.config(fail_count=1, fail_kinds=["stall"], stall_ms=4000)
    t = time.monotonic()
    r = e.get(P, "bytes=0-299999", timeout=1.0)
    assert r.timeout and r.status == 206 and len(r.body) < 300000, r  # headers, part, then nothing
    assert time.monotonic() - t < 3, "stall did not stall"
    time.sleep(4 - (time.monotonic() - t) + 0.5)  # let the stalled request end before the next test
    rec = e.ctl("GET", "stats")["recent"][-1]
    assert rec["fault"] == "stall", rec


def t_head_faults(e):
    """HEAD requests get faults too (fail_methods): error replies, a reset
    before the headers, and a stall with no headers at all."""
    for kind, (status, _) in {"503": (503, 0), "slowdown": (503, 0), "500": (500, 0)}.items():
        e.config(fail_count=1, fail_kinds=[kind], fail_methods=["HEAD"])
        r = e.raw("HEAD", P, e.signed("HEAD", P))
        assert r.status == status, f"{kind}: {r}"
        assert e.raw("HEAD", P, e.signed("HEAD", P)).status == 200  # the next one passes
    e.config(fail_count=1, fail_kinds=["reset"], fail_methods=["HEAD"], reset_mode="mid")
    r = e.raw("HEAD", P, e.signed("HEAD", P))
    assert r.reset or (r.eof and r.status is None), r
    e.config(fail_count=1, fail_kinds=["stall"], fail_methods=["HEAD"], stall_ms=1500)
    r = e.raw("HEAD", P, e.signed("HEAD", P), timeout=1.0)
    assert r.timeout and r.status is None, r
    time.sleep(1)
    # GETs are not faulted when only HEAD is listed
    e.config(fail_rate=1.0, fail_kinds=["503"], fail_methods=["HEAD"])
    assert e.get(P, "bytes=0-9").status == 206
    f = e.ctl("GET", "stats")["faults"]
    assert f.get("reset", 0) >= 1 and f.get("stall", 0) >= 1, f


def t_strip_headers(e):
    e.config(strip_headers=["ETag"])
    for r in (e.raw("HEAD", P, e.signed("HEAD", P)), e.get(P, "bytes=0-9")):
        assert r.status in (200, 206) and "etag" not in r.headers, r
        assert "last-modified" in r.headers, r.headers
    e.config(strip_headers=["etag", "Last-Modified"])
    r = e.get(P, "bytes=0-9")
    assert r.body == OBJ[:10] and "etag" not in r.headers and "last-modified" not in r.headers, r
    e.config()
    assert "etag" in e.get(P, "bytes=0-9").headers


def t_region_anonymous(e):
    e.config(region="eu-west-3")
    r = e.get(P, "bytes=0-9")  # signed for us-east-1
    assert r.status == 400 and r.code() == "AuthorizationHeaderMalformed", r
    assert b"eu-west-3" in r.body, r.body
    h = e.signed("GET", P, {"Range": "bytes=0-9"}, region="eu-west-3")
    assert e.raw("GET", P, h).status == 206
    e.config(allow_anonymous=True)
    r = e.raw("GET", P, {"Range": "bytes=0-9"})
    assert r.status == 206 and r.body == OBJ[:10], r
    rec = e.ctl("GET", "stats")["recent"][-1]
    assert rec["signed"] is False and rec["akid"] is None, rec
    assert e.get(P, "bytes=0-9").status == 206  # signed requests are still checked
    assert e.raw("GET", P, e.signed("GET", P, sk="wrong")).code() == "SignatureDoesNotMatch"
    e.config()
    assert e.raw("GET", P, {}).code() == "AccessDenied"


def t_tls(e):
    """--tls-cert: HTTPS with a self-signed certificate, trusted by --cacert only."""
    cert, key = os.path.join(e.tmp, "cert.pem"), os.path.join(e.tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    port = free_port()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "s3proxy.py"), "--upstream",
                          f"http://127.0.0.1:{e.s3port}", "--port", str(port), "--quiet",
                          "--tls-cert", cert, "--tls-key", key], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith(f"s3proxy listening on https://127.0.0.1:{port}"), line
        url = f"https://127.0.0.1:{port}{P}"
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert,
                              "-r", "0-9", url], capture_output=True, text=True)
        assert out.stdout == "206", out
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-r", "0-9", url])
        assert out.returncode == 60, f"curl without the CA: exit {out.returncode}"  # peer certificate
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert,
                              f"https://127.0.0.1:{port}/__proxy/health"], capture_output=True, text=True)
        assert out.stdout == "200", out
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)


def t_rate(e):
    e.config(fail_rate=0.3, fail_kinds=["503", "slowdown"], seed=7)
    e.ctl("POST", "reset")
    s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    bad = 0
    for i in range(100):
        r = e.get(P, f"bytes={i}-{i + 9}", sock=s, keep=True)
        if r.status == 503:
            bad += 1
        else:
            assert r.status == 206 and r.body == OBJ[i:i + 10], r
    s.close()
    st = e.ctl("GET", "stats")
    assert 15 <= bad <= 45, f"{bad}/100 failed at rate 0.3"
    assert sum(st["faults"].values()) == bad, (bad, st["faults"])
    # only the methods listed fail
    e.config(fail_rate=1.0, fail_kinds=["503"], fail_methods=["GET"])
    r = e.raw("HEAD", P, e.signed("HEAD", P))
    assert r.status == 200, r


def t_fail_range(e):
    e.config(fail_rate=1.0, fail_kinds=["500"], fail_range=[1048576, 2097151])
    for rng, want in (("bytes=0-1048575", 206), ("bytes=1048576-1049575", 500),
                      ("bytes=2000000-2100000", 500), ("bytes=2097152-2200000", 206)):
        r = e.get(P, rng)
        assert r.status == want, f"{rng}: {r.status}, wanted {want}"


def t_ttfb_bandwidth(e):
    e.config(ttfb_ms=300)
    t = time.monotonic()
    r = e.get(P, "bytes=0-9")
    dt = time.monotonic() - t
    assert r.status == 206 and 0.29 <= dt < 3, f"ttfb {dt:.3f}s"
    e.config(bandwidth_bps=500000)
    t = time.monotonic()
    r = e.get(P, "bytes=0-999999")
    dt = time.monotonic() - t
    assert r.status == 206 and r.body == OBJ[:1000000], r
    assert 1.7 <= dt < 6, f"1 MB at 500 kB/s took {dt:.2f}s"


def t_if_match(e):
    r = e.raw("HEAD", P, e.signed("HEAD", P))
    etag = r.headers["etag"]
    r = e.get(P, "bytes=0-9", {"If-Match": etag})
    assert r.status == 206 and r.body == OBJ[:10], r
    r = e.get(P, "bytes=0-9", {"If-Match": '"0123"'})
    assert r.status == 412 and r.code() == "PreconditionFailed", r
    r = e.get(P, "bytes=0-9", {"If-Match": "*"})
    assert r.status == 206, r
    e.config(replace_etag_412=True)
    r = e.get(P, "bytes=0-9", {"If-Match": etag})
    assert r.status == 412, r
    e.config()
    q = f"/{BUCKET}/replaced.bin"
    assert e.put(q, OBJ2).status == 200
    old = e.raw("HEAD", q, e.signed("HEAD", q)).headers["etag"]
    assert e.put(q, OBJ2[::-1]).status == 200  # the object is replaced
    r = e.get(q, "bytes=0-9", {"If-Match": old})
    assert r.status == 412, f"after replace: {r}"
    assert e.ctl("GET", "stats")["precondition_failed"] >= 3


def t_stats_log(e):
    e.config()
    e.ctl("POST", "reset")
    open(e.log, "a").close()
    n0 = sum(1 for _ in open(e.log))
    e.get(P, "bytes=0-99")
    e.get(P, "bytes=100-299", {"If-Match": '"x"'})
    e.raw("HEAD", P, e.signed("HEAD", P, token="session-token-1", ak="AKTOKEN"))
    e.config(fail_count=1, fail_kinds=["slowdown"])
    e.get(P, "bytes=0-9")
    st = e.ctl("GET", "stats")
    assert st["by_method"] == {"GET": 3, "HEAD": 1} and st["gets"] == 3, st["by_method"]
    assert st["faults"] == {"slowdown": 1}, st["faults"]
    assert st["by_status"].get("206") == 1 and st["by_status"].get("412") == 1, st["by_status"]
    rec = st["recent"]
    assert len(rec) == 4, rec
    assert rec[0]["range"] == "bytes=0-99" and rec[0]["bytes"] == 100 and rec[0]["akid"] == "AKTEST"
    assert rec[0]["signed"] is True and rec[0]["t"] <= rec[0]["t_done"] <= time.time(), rec[0]
    assert rec[1]["if_match"] == '"x"' and rec[1]["status"] == 412
    assert rec[2]["token"] is True and rec[2]["akid"] == "AKTOKEN" and rec[2]["method"] == "HEAD"
    assert rec[3]["fault"] == "slowdown"
    assert st["body_bytes"] >= 100
    for _ in range(50):  # a log line is written when its request has ended
        lines = [json.loads(x) for x in open(e.log).read().splitlines()[n0:]]
        if len(lines) >= 4:
            break
        time.sleep(0.1)
    assert sorted(x["status"] for x in lines) == [200, 206, 412, 503], lines
    e.ctl("POST", "reset")
    st = e.ctl("GET", "stats")
    assert st["requests"] == 0 and st["gets"] == 0 and not st["recent"], st


def t_sigv4(e):
    e.config()
    g = lambda h, **kw: e.raw("GET", P, h, **kw)  # noqa: E731
    r = g(e.signed("GET", P, {"Range": "bytes=0-9"}))
    assert r.status == 206, r
    h = e.signed("GET", P, {"Range": "bytes=0-9"})
    h["Authorization"] = h["Authorization"][:-4] + ("0000" if not h["Authorization"].endswith("0000") else "1111")
    r = g(h)
    assert r.status == 403 and r.code() == "SignatureDoesNotMatch", r
    assert b"<CanonicalRequest>" in r.body
    h = e.signed("GET", P, {"Range": "bytes=0-9"})
    h["Range"] = "bytes=0-10"  # a signed header changed on the way
    assert g(h).code() == "SignatureDoesNotMatch"
    assert g(e.signed("GET", P, sk="wrong")).code() == "SignatureDoesNotMatch"
    assert g(e.signed("GET", P, ak="AKNOPE")).code() == "InvalidAccessKeyId"
    assert g({}).code() == "AccessDenied"  # anonymous
    # session tokens
    assert g(e.signed("GET", P, ak="AKTOKEN")).code() == "InvalidToken"
    assert g(e.signed("GET", P, ak="AKTOKEN", token="other")).code() == "InvalidToken"
    assert g(e.signed("GET", P, ak="AKTEST", token="session-token-1")).code() == "InvalidToken"
    assert g(e.signed("GET", P, ak="AKTOKEN", token="session-token-1")).status == 200
    # unsigned x-amz-* header, missing payload hash, other region, old date
    h = e.signed("GET", P)
    h["x-amz-meta-sneaky"] = "1"
    assert g(h).status == 403
    h = e.signed("GET", P)
    del h["X-Amz-Content-SHA256"]
    r = g(h)
    assert r.status == 400 and r.code() == "InvalidRequest", r  # (also unsigned-list mismatch)
    assert g(e.signed("GET", P, region="eu-west-3")).status == 200
    # a body that does not match its signed hash never reaches the upstream
    q = f"/{BUCKET}/hashcheck.bin"
    h = e.signed("PUT", q, {}, b"good body")
    r = e.raw("PUT", q, h, b"evil body")
    assert r.status == 400 and r.code() == "XAmzContentSHA256Mismatch", r
    assert e.raw("HEAD", q, e.signed("HEAD", q)).status == 404
    # presigned URLs
    u = e.presign(P)
    assert e.raw("GET", u).status == 200
    assert e.raw("GET", u.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status == 403
    assert e.raw("GET", u, {"Range": "bytes=0-4"}).status == 206  # Range is not signed there
    # keys can be added at run time
    e.ctl("POST", "keys", {"AKNEW": {"secret": "sknew"}})
    assert g(e.signed("GET", P, ak="AKNEW", sk="sknew")).status == 200
    assert e.ctl("GET", "keys?secrets=1")["AKNEW"]["secret"] == "sknew"
    assert "secret" not in e.ctl("GET", "keys")["AKNEW"]
    e.ctl("POST", "keys", {"AKNEW": None})
    assert g(e.signed("GET", P, ak="AKNEW", sk="sknew")).code() == "InvalidAccessKeyId"
    st = e.ctl("GET", "stats")["sigv4"]
    assert st["ok"] >= 5 and st["rejected"].get("SignatureDoesNotMatch", 0) >= 3, st


def t_sigv4_curl(e):
    """curl's CURLOPT_AWS_SIGV4 (what rcached uses) against botocore's signer,
    with the headers rcached sends."""
    e.config()
    etag = e.raw("HEAD", P, e.signed("HEAD", P)).headers["etag"]
    base = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3"]
    cases = [
        (["--user", "AKTEST:" + KEYS["AKTEST"]["secret"], "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
          "-H", f"If-Match: {etag}", "-r", "0-4095"], "206"),
        (["--user", "AKTOKEN:sktoken", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
          "-H", "x-amz-security-token: session-token-1", "-H", "Range: bytes=10-20"], "206"),
        (["--user", "AKTEST:" + KEYS["AKTEST"]["secret"], "-I", "-H",
          "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"], "200"),
        (["--user", "AKTEST:wrong", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"], "403"),
    ]
    for args, want in cases:
        out = subprocess.run(base + args + [e.url + P], capture_output=True, text=True).stdout
        assert out == want, f"curl {' '.join(args)}: {out}, wanted {want}"
    # a key that needs encoding, as rcached sends it (every byte but A-Za-z0-9-_.~/ as %XX)
    q = "/" + BUCKET + "/" + urllib.parse.quote("dir/sub dir/a b+c=d%\u00e9\u4e2d.img", safe="/-_.~")
    assert e.put(q, OBJ2).status == 200
    out = subprocess.run(["curl", "-s", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                                     "AKTEST:" + KEYS["AKTEST"]["secret"], "-H", "x-amz-content-sha256: "
                                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                     "-r", "0-99", "-o", os.path.join(e.tmp, "enc"), e.url + q],
                         capture_output=True, text=True).stdout
    assert out == "206" and open(os.path.join(e.tmp, "enc"), "rb").read() == OBJ2[:100], f"{q}: {out}"


def t_sts(e):
    e.config()
    c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=10)

    def assume(token, how="POST"):
        form = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                                       "RoleArn": "arn:aws:iam::123456789012:role/rcache",
                                       "RoleSessionName": "node1", "WebIdentityToken": token,
                                       "DurationSeconds": "900"})
        if how == "POST":
            c.request("POST", "/", body=form,
                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        else:
            c.request("GET", "/?" + form)
        r = c.getresponse()
        return r.status, r.read().decode()

    status, body = assume("web-token-A")
    assert status == 200, body
    creds = {k: re.search(f"<{k}>([^<]*)</{k}>", body).group(1)
             for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}
    exp = time.mktime(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 0 < exp - time.time() <= 4, creds["Expiration"]
    assert "<AssumeRoleWithWebIdentityResult>" in body
    ak, sk, tok = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    r = e.raw("GET", P, e.signed("GET", P, {}, ak=ak, sk=sk, token=tok))
    assert r.status == 200 and r.body == OBJ, r
    r = e.raw("GET", P, e.signed("GET", P, {}, ak=ak, sk=sk))
    assert r.code() == "InvalidToken", r
    status, body = assume("web-token-B", how="GET")
    assert status == 403 and "AccessDenied" in body, (status, body)
    with open(e.tokfile, "w") as f:  # the token file is re-read at every call
        f.write("web-token-B")
    status, _ = assume("web-token-B", how="GET")
    assert status == 200
    status, _ = assume("web-token-A")
    assert status == 403
    time.sleep(3.2)
    r = e.raw("GET", P, e.signed("GET", P, {}, ak=ak, sk=sk, token=tok))
    assert r.status == 400 and r.code() == "ExpiredToken", r
    time.sleep(1.1)  # X-Amz-Date counts whole seconds: now surely past the expiry
    r = e.raw("GET", P, e.signed("GET", P, {}, ak=ak, sk=sk, token=tok))
    assert r.code() == "ExpiredToken" and e.ctl("GET", "stats")["sigv4"]["signed_expired"] >= 1, r
    st = e.ctl("GET", "stats")["sts"]
    assert st["calls"] == 4 and st["issued"] == 2 and st["denied"] == 2, st
    assert [t["token"] for t in st["tokens"]][-4:] == ["web-token-A", "web-token-B", "web-token-B", "web-token-A"]
    c.close()
    # botocore's own STS client parses the answer
    import botocore.session
    sts = botocore.session.get_session().create_client(
        "sts", endpoint_url=e.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    out = sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/rcache",
                                            RoleSessionName="boto", WebIdentityToken="web-token-B")
    cr = out["Credentials"]
    assert cr["AccessKeyId"].startswith("ASIA") and cr["Expiration"].timestamp() > time.time(), out
    r = e.raw("GET", P, e.signed("GET", P, {}, ak=cr["AccessKeyId"], sk=cr["SecretAccessKey"],
                                  token=cr["SessionToken"]))
    assert r.status == 200, r
    try:
        sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/rcache",
                                          RoleSessionName="boto", WebIdentityToken="web-token-A")
        raise AssertionError("a wrong token was accepted")
    except sts.exceptions.ClientError as ex:
        assert ex.response["Error"]["Code"] == "AccessDenied", ex.response


def t_threads(e):
    """Connections end, threads go away; idle keep-alive ones are held."""
    e.config()
    for _ in range(50):  # the main thread and the one answering this
        base = e.ctl("GET", "stats")["threads"]
        if base == 2:
            break
        time.sleep(0.1)
    assert base == 2, f"{base} threads with no client connection"
    socks = []
    for i in range(8):
        s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        assert e.get(P, "bytes=0-9", sock=s, keep=True).status == 206
        socks.append(s)
    st = e.ctl("GET", "stats")
    assert st["threads"] >= base + 8, (base, st["threads"])
    for s in socks:
        s.close()
    for _ in range(50):
        if e.ctl("GET", "stats")["threads"] <= base:
            break
        time.sleep(0.1)
    n = e.ctl("GET", "stats")["threads"]
    assert n <= base, f"{n} threads left behind, {base} before"


def t_shutdown(e):
    """SIGTERM with a stalled request and idle connections: a prompt, clean exit."""
    e.config(fail_count=1, fail_kinds=["stall"], stall_ms=60000)
    idle = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    res = {}
    th = threading.Thread(target=lambda: res.update(r=e.get(P, "bytes=0-99999", timeout=30)))
    th.start()
    time.sleep(0.5)
    t = time.monotonic()
    e.proxy.send_signal(signal.SIGTERM)
    rc = e.proxy.wait(10)
    dt = time.monotonic() - t
    th.join(10)
    idle.close()
    assert rc == 0 and dt < 5, f"exit {rc} after {dt:.1f}s"
    assert res["r"].status == 206 and not res["r"].timeout, res["r"]


TESTS = [("passthrough", t_passthrough), ("put-streaming", t_put_streaming), ("keepalive", t_keepalive), ("errors", t_errors),
         ("reset", t_reset), ("truncate", t_truncate), ("overlong", t_overlong), ("stall", t_stall),
         ("head-faults", t_head_faults),
         ("strip-headers", t_strip_headers), ("region-anonymous", t_region_anonymous), ("tls", t_tls),
         ("fail-rate", t_rate), ("fail-range", t_fail_range), ("ttfb-bandwidth", t_ttfb_bandwidth),
         ("if-match", t_if_match), ("stats-log", t_stats_log), ("sigv4-botocore", t_sigv4),
         ("sigv4-curl", t_sigv4_curl), ("sts", t_sts), ("threads", t_threads), ("shutdown", t_shutdown)]


def main():
    global VERBOSE
    args = sys.argv[1:]
    if "-v" in args:
        VERBOSE = True
        args.remove("-v")
    tmp = tempfile.mkdtemp(prefix="s3proxy-test.")
    failed = 0
    try:
        e = Env(tmp)
    except Exception as ex:  # noqa: BLE001
        print(f"FAIL: s3proxy/setup: {ex}")
        return 1
    try:
        for name, fn in TESTS:
            if args and name not in args and name != "passthrough":
                continue
            try:
                fn(e)
                print(f"PASS: s3proxy/{name}", flush=True)
            except Exception as ex:  # noqa: BLE001
                failed += 1
                why = str(ex).replace("\n", " ")[:300] or type(ex).__name__
                print(f"FAIL: s3proxy/{name}: {why}", flush=True)
                if VERBOSE:
                    traceback.print_exc()
    finally:
        e.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
