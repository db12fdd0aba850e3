#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""s3proxy: a fault-injecting S3 reverse proxy with SigV4 checking and an STS
stub, for rcache's tests.  Python standard library plus Debian's
python3-botocore (only for SigV4 checking).

Every request is forwarded unchanged (Host and signing headers included) to
--upstream over a keep-alive connection of its own.  On the way back the proxy
can delay the first byte, cap each connection's bandwidth, inject faults,
enforce If-Match (412), check SigV4 signatures with botocore's signer, and
answer AssumeRoleWithWebIdentity.  The control API lives under /__proxy/ on
the same port; see selftests/s3/README.md for all of it.
"""
import argparse
import collections
import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import os
import random
import re
import secrets
import select
import signal
import socket
import socketserver
import string
import struct
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

FAULT_KINDS = ("503", "slowdown", "500", "502", "504", "reset", "truncate", "overlong", "stall")
ERROR_FAULTS = {  # kind -> (status, S3 code)
    "503": (503, "ServiceUnavailable"), "slowdown": (503, "SlowDown"),
    "500": (500, "InternalError"), "502": (502, "BadGateway"), "504": (504, "GatewayTimeout"),
}
DEFAULTS = {
    "ttfb_ms": 0,              # delay before the response headers
    "bandwidth_bps": 0,        # per-connection cap on response bodies, bytes/s; 0 = none
    "fail_rate": 0.0,          # probability that an eligible request gets a fault
    "fail_count": 0,           # the next N eligible requests get a fault whatever fail_rate says
    "fail_kinds": list(FAULT_KINDS),
    "fail_methods": ["GET"],
    "fail_path_prefix": "",    # only paths starting with this are eligible
    "fail_range": None,        # [first, last] byte offsets: only GETs whose Range overlaps
    "seed": 1,
    "stall_ms": 60000,         # how long "stall" stops sending
    "reset_mode": "random",    # before | mid | random
    "overlong_mode": "random",  # body | tail | range | random
    "replace_etag_412": False,  # answer 412 to every request that carries If-Match
    "verify_sigv4": False,
    "allow_anonymous": False,  # with verify_sigv4: let unsigned requests through
    "max_skew_s": 900,
    "sts_delay_ms": 0,         # STS answers wait this long (a slow identity provider)
    "region": "",              # with verify_sigv4: the only region accepted ("" = any)
    "strip_headers": [],       # response headers to drop, e.g. ["ETag"] (a server without ETags)
}
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
       "trailer", "transfer-encoding", "upgrade"}
CHUNK = 262144
LOG_LOCK = threading.Lock()
CONN_IDS = itertools.count(1)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def s3_error(code, message, resource="", extra=None):
    rid = secrets.token_hex(8).upper()
    parts = [f"<Code>{code}</Code>", f"<Message>{escape(message)}</Message>",
             f"<Resource>{escape(resource)}</Resource>", f"<RequestId>{rid}</RequestId>"]
    for k, v in (extra or {}).items():
        parts.append(f"<{k}>{escape(str(v))}</{k}>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) +
            "</Error>\n").encode()


def sts_error(code, message, kind="Sender"):
    return ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>\n").encode()


def etag_norm(v):
    v = v.strip()
    if v.startswith("W/"):
        v = v[2:]
    return v.strip('"')


def parse_range(v):
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", v or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    return (int(m.group(1)) if m.group(1) else None, int(m.group(2)) if m.group(2) else None)


class State:
    """Configuration, keys and statistics, shared by every connection."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.cfg = dict(DEFAULTS)
        self.rng = random.Random(1)
        self.keys = {}
        self.upstream = urllib.parse.urlsplit(args.upstream) if args.upstream else None
        self.sts_token_file = args.sts_token_file
        self.sts_duration = args.sts_duration
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.quiet = args.quiet
        self.active = set()  # client sockets
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.stats = {"requests": 0, "by_method": collections.Counter(), "gets": 0,
                          "body_bytes": 0, "by_status": collections.Counter(),
                          "faults": collections.Counter(), "precondition_failed": 0,
                          "sigv4": {"checked": 0, "ok": 0, "rejected": collections.Counter(),
                                    "signed_expired": 0},
                          "sts": {"calls": 0, "issued": 0, "denied": 0, "tokens": []},
                          "connections": 0}
            self.recent = collections.deque(maxlen=1000)

    def set_config(self, new):
        bad = [k for k in new if k not in DEFAULTS]
        if bad:
            raise ValueError(f"unknown config keys {bad}; known: {sorted(DEFAULTS)}")
        kinds = new.get("fail_kinds", self.cfg["fail_kinds"])
        if not isinstance(kinds, list) or any(k not in FAULT_KINDS for k in kinds):
            raise ValueError(f"fail_kinds must be a list of {FAULT_KINDS}")
        rate = float(new.get("fail_rate", self.cfg["fail_rate"]))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fail_rate must be within 0..1")
        sh = new.get("strip_headers", self.cfg["strip_headers"])
        if not isinstance(sh, list) or not all(isinstance(h, str) for h in sh):
            raise ValueError("strip_headers must be a list of header names")
        fr = new.get("fail_range", self.cfg["fail_range"])
        if fr is not None and (not isinstance(fr, list) or len(fr) != 2):
            raise ValueError("fail_range must be null or [first, last]")
        for k, allowed in (("reset_mode", ("before", "mid", "random")),
                           ("overlong_mode", ("body", "tail", "range", "random"))):
            if k in new and new[k] not in allowed:
                raise ValueError(f"{k} must be one of {allowed}")
        with self.lock:
            for k, v in new.items():
                if isinstance(DEFAULTS[k], bool):
                    v = bool(v)
                elif isinstance(DEFAULTS[k], (int, float)):
                    v = type(DEFAULTS[k])(v)
                elif k == "fail_methods":
                    v = [m.upper() for m in v]
                self.cfg[k] = v
            if "seed" in new:
                self.rng.seed(self.cfg["seed"])

    def config(self):
        with self.lock:
            return dict(self.cfg)

    def pick_fault(self, method, path, rng_hdr):
        """The fault for this request, or None."""
        with self.lock:
            c = self.cfg
            if not c["fail_kinds"] or method not in c["fail_methods"]:
                return None
            if not path.startswith(c["fail_path_prefix"]):
                return None
            if c["fail_range"] is not None:
                r = parse_range(rng_hdr)
                if r is None or r[0] is None:
                    return None
                lo, hi = c["fail_range"]
                if r[0] > hi or (r[1] is not None and r[1] < lo):
                    return None
            if c["fail_count"] > 0:
                c["fail_count"] -= 1
            elif c["fail_rate"] <= 0 or self.rng.random() >= c["fail_rate"]:
                return None
            return self.rng.choice(c["fail_kinds"])

    def rand(self, fn, *a):
        with self.lock:
            return getattr(self.rng, fn)(*a)

    # A request is counted as it goes, before the client can see the end of
    # its response: stats read right after a response already include it.
    def begin(self, rec):
        with self.lock:
            s = self.stats
            s["requests"] += 1
            s["by_method"][rec["method"]] += 1
            if rec["method"] == "GET":
                s["gets"] += 1
            self.recent.append(rec)

    def count(self, rec, status=None, fault=None, nbytes=0):
        with self.lock:
            if status is not None:
                rec["status"] = status
                self.stats["by_status"][str(status)] += 1
            if fault is not None:
                rec["fault"] = fault
                self.stats["faults"][fault] += 1
            rec["bytes"] += nbytes
            self.stats["body_bytes"] += nbytes

    def end(self, rec):
        if self.log:
            with LOG_LOCK:
                self.log.write(json.dumps(rec, sort_keys=True) + "\n")

    def snapshot(self, recent=None):
        with self.lock:
            s = json.loads(json.dumps(self.stats))
            items = list(self.recent)
            s["recent"] = items[-recent:] if recent is not None else items
            s["active_connections"] = len(self.active)
        s["threads"] = threading.active_count()
        return s

    def msg(self, text):
        if not self.quiet:
            print(f"s3proxy: {text}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3proxy"
    timeout = 75  # idle keep-alive connections end after this long

    # -- connection life -------------------------------------------------
    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):  # --tls-cert: the handshake, off the accept loop
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
        self.st = self.server.state
        self.up = None
        self.conn_id = next(CONN_IDS)
        self.counted = False
        with self.st.lock:
            self.st.active.add(self.connection)

    def finish(self):
        with self.st.lock:
            self.st.active.discard(self.connection)
        if self.up:
            self.up.close()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):  # the --log file records requests
        pass

    def rst(self):
        """Close the client connection with a TCP RST."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    # -- request entry ---------------------------------------------------
    def do_any(self):
        self.t0 = time.monotonic()
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            u = urllib.parse.urlsplit(target)
            target = u.path + ("?" + u.query if u.query else "")
        self.target = target
        self.rpath, _, self.query = target.partition("?")
        if self.rpath.startswith("/__proxy/"):
            return self.control()
        if not self.counted:  # connections that carried S3 (or STS) requests
            self.counted = True
            with self.st.lock:
                self.st.stats["connections"] += 1
        self.rec = {"t": round(time.time(), 6), "method": self.command, "path": self.rpath,
                    "query": self.query, "range": self.headers.get("Range"),
                    "if_match": self.headers.get("If-Match"), "status": 0, "bytes": 0, "fault": None,
                    "token": "x-amz-security-token" in self.headers or
                             "X-Amz-Security-Token" in self.query,
                    "akid": self.access_key_id(), "conn": self.conn_id,
                    "signed": "Authorization" in self.headers or "X-Amz-Signature" in self.query}
        self.st.begin(self.rec)
        try:
            self.serve()
        except (OSError, http.client.HTTPException) as e:
            self.rec.setdefault("error", repr(e))
            self.close_connection = True
        finally:
            self.rec["ms"] = round((time.monotonic() - self.t0) * 1000, 1)
            self.st.end(self.rec)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_any

    def access_key_id(self):
        m = re.search(r"Credential=([^/,\s]+)/", self.headers.get("Authorization", ""))
        if m:
            return m.group(1)
        q = urllib.parse.parse_qs(self.query)
        return q.get("X-Amz-Credential", [""])[0].split("/")[0] or None

    # -- plain responses -------------------------------------------------
    def reply(self, status, body, ctype="application/xml", extra=()):
        self.wait_ttfb()
        head = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'Unknown')}",
                f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
                f"Date: {self.date_time_string()}", "Server: s3proxy"]
        head += [f"{k}: {v}" for k, v in extra]
        if self.close_connection:
            head.append("Connection: close")
        body = body if self.command != "HEAD" else b""
        self.st.count(self.rec, status=status, nbytes=len(body))
        self.done()
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def done(self):
        """Notes the time just before the last write of a response: the
        client cannot have its answer earlier, so [t, t_done] lies within
        the client's view of the request (concurrency counts stay exact)."""
        if hasattr(self, "rec"):
            self.rec["t_done"] = round(time.time(), 6)

    def wait_ttfb(self):
        ttfb = self.st.cfg["ttfb_ms"] / 1000.0
        left = self.t0 + ttfb - time.monotonic()
        if left > 0:
            self.st.stop.wait(left)

    def drain_body(self):
        """Read and discard the request body (before an early error reply)."""
        n = int(self.headers.get("Content-Length") or 0)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            for _ in self.body_pieces():
                pass
            return
        while n > 0:
            d = self.rfile.read(min(n, CHUNK))
            if not d:
                raise ConnectionError("client closed during body")
            n -= len(d)

    def body_pieces(self):
        """The request body, decoded, in pieces."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    d = self.rfile.read(min(left, CHUNK))
                    if not d:
                        raise ConnectionError("client closed during body")
                    left -= len(d)
                    yield d
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                d = self.rfile.read(min(left, CHUNK))
                if not d:
                    raise ConnectionError("client closed during body")
                left -= len(d)
                yield d

    # -- the proxy -------------------------------------------------------
    def serve(self):
        st, cfg = self.st, self.st.config()
        form = None
        if (self.command == "POST" and self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded")
                and int(self.headers.get("Content-Length") or 0) <= 65536):
            form = b"".join(self.body_pieces())
        params = dict(urllib.parse.parse_qsl(self.query, keep_blank_values=True))
        if form is not None:
            params.update(urllib.parse.parse_qsl(form.decode("latin-1"), keep_blank_values=True))
        if "Action" in params:
            return self.sts(params)

        if cfg["verify_sigv4"]:
            err = self.verify(cfg)
            if err:
                status, code, message, extra = err
                with st.lock:
                    st.stats["sigv4"]["rejected"][code] += 1
                self.rec["sigv4"] = code
                if form is None:
                    self.drain_body()
                return self.reply(status, s3_error(code, message, self.rpath, extra))
            with st.lock:
                st.stats["sigv4"]["ok"] += 1

        fault = st.pick_fault(self.command, self.rpath, self.headers.get("Range"))
        if fault in ERROR_FAULTS:
            st.count(self.rec, fault=fault)
            if form is None:
                self.drain_body()
            status, code = ERROR_FAULTS[fault]
            msg = "Please reduce your request rate." if fault == "slowdown" else "injected by s3proxy"
            return self.reply(status, s3_error(code, msg, self.rpath))
        if fault == "reset" and (self.command == "HEAD" or cfg["reset_mode"] == "before" or
                                 (cfg["reset_mode"] == "random" and st.rand("random") < 0.5)):
            st.count(self.rec, fault="reset")
            self.rec["fault_detail"] = "before"
            return self.rst()
        if fault == "stall" and self.command == "HEAD":  # no body: the headers never come
            st.count(self.rec, fault="stall")
            self.rec["fault_detail"] = "before headers"
            st.stop.wait(cfg["stall_ms"] / 1000.0)
            return self.rst()

        if st.upstream is None:
            return self.reply(502, s3_error("BadGateway", "no --upstream", self.rpath))
        resp = self.forward(form, cfg)
        if resp is None:
            return
        self.respond(resp, fault, cfg)

    def upstream_conn(self):
        if self.up is not None and self.up.sock is not None:
            r, _, _ = select.select([self.up.sock], [], [], 0)
            if r:  # the upstream closed it (or sent junk): start afresh
                self.up.close()
        if self.up is None:
            u = self.st.upstream
            self.up = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.server.up_timeout)
        return self.up

    def forward(self, form, cfg):
        """Send the request upstream; returns the response, or None after
        replying an error itself."""
        up = self.upstream_conn()
        signed = self.signed_headers()
        claimed = self.headers.get("x-amz-content-sha256", "")
        check_hash = cfg["verify_sigv4"] and re.fullmatch(r"[0-9a-f]{64}", claimed or "")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower() and form is None
        pieces = iter([form] if form is not None else self.body_pieces())
        if check_hash:  # the whole body is checked before the upstream sees any of it
            h, spool = hashlib.sha256(), tempfile.SpooledTemporaryFile(max_size=8 << 20)
            for d in pieces:
                h.update(d)
                spool.write(d)
            if h.hexdigest() != claimed:
                spool.close()
                self.rec["sigv4"] = "XAmzContentSHA256Mismatch"
                return self.reply(400, s3_error(
                    "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not "
                    "match what was computed.", self.rpath,
                    {"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": h.hexdigest()}))
            spool.seek(0)
            pieces = iter(lambda: spool.read(CHUNK), b"")
        try:
            up.putrequest(self.command, self.target, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                lk = k.lower()
                if lk in HOP and not (lk == "transfer-encoding" and chunked):
                    continue
                if lk == "expect" and lk not in signed:
                    continue  # we answered the 100-continue ourselves
                up.putheader(k, v)
            up.endheaders()
            for d in pieces:
                if d:
                    up.send(b"%x\r\n%s\r\n" % (len(d), d) if chunked else d)
            if chunked:
                up.send(b"0\r\n\r\n")
            return up.getresponse()
        except (OSError, http.client.HTTPException) as e:
            up.close()
            self.rec["error"] = f"upstream: {e!r}"
            self.close_connection = True
            self.reply(502, s3_error("BadGateway", f"upstream: {e}", self.rpath))
            return None

    def respond(self, resp, fault, cfg):
        st = self.st
        im = self.headers.get("If-Match")
        if im is not None and self.command in ("GET", "HEAD") and resp.status in (200, 206):
            etag = etag_norm(resp.getheader("ETag", ""))
            wanted = [etag_norm(x) for x in im.split(",")]
            if cfg["replace_etag_412"] or ("*" not in wanted and etag not in wanted):
                resp.close()
                self.up.close()
                with st.lock:
                    st.stats["precondition_failed"] += 1
                self.rec["etag"] = etag
                return self.reply(412, s3_error("PreconditionFailed",
                                                "At least one of the pre-conditions you specified did not hold",
                                                self.rpath, {"Condition": "If-Match"}))
        strip = HOP | {h.lower() for h in cfg["strip_headers"]}
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in strip]
        clen = resp.getheader("Content-Length")
        clen = int(clen) if clen is not None and clen.isdigit() else None
        has_body = self.command != "HEAD" and resp.status not in (204, 304) and resp.status >= 200
        if not has_body or clen is None or clen == 0 or resp.status not in (200, 206):
            fault = None  # body faults need a framed, non-empty success body
        extra_tail = b""
        cut = None
        if fault:
            st.count(self.rec, fault=fault)
        if fault == "overlong":
            mode = cfg["overlong_mode"]
            if mode == "random":
                mode = st.rand("choice", ["body", "tail", "range"] if resp.status == 206 else ["body", "tail"])
            if mode == "range" and resp.status != 206:
                mode = "body"
            self.rec["fault_detail"] = mode
            extra = os.urandom(st.rand("randint", 1, 4096))
            if mode == "body":
                headers = [(k, str(clen + len(extra)) if k.lower() == "content-length" else v)
                           for k, v in headers]
                extra_tail = extra
            elif mode == "tail":
                extra_tail = extra
            else:
                headers = [(k, self.skew_range(v) if k.lower() == "content-range" else v)
                           for k, v in headers]
        elif fault in ("truncate", "reset", "stall"):
            cut = st.rand("randrange", 0, clen)
            self.rec["fault_detail"] = f"after {cut} of {clen} bytes"
        chunked_out = has_body and clen is None
        self.wait_ttfb()
        head = [f"HTTP/1.1 {resp.status} {resp.reason}"] + [f"{k}: {v}" for k, v in headers]
        if chunked_out:
            head.append("Transfer-Encoding: chunked")
        if self.close_connection:
            head.append("Connection: close")
        st.count(self.rec, status=resp.status)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if not has_body:
            resp.read()
            self.done()
            return
        sent = self.send_body(resp, clen if cut is None else cut, chunked_out, cfg)
        if cut is not None:
            self.up.close()
            if fault == "stall":
                st.stop.wait(cfg["stall_ms"] / 1000.0)
            if fault in ("reset", "stall"):
                self.rst()
            else:
                self.close_connection = True
            return
        if extra_tail:
            st.count(self.rec, nbytes=len(extra_tail))
            self.wfile.write(extra_tail)
            self.close_connection = True  # the framing is broken now
        if not chunked_out and sent < clen:  # upstream ended early
            self.up.close()
            self.close_connection = True

    def skew_range(self, v):
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", v.strip())
        if not m:
            return v
        a, b, total = int(m.group(1)), int(m.group(2)), m.group(3)
        if total != "*" and b + 1 < int(total):
            return f"bytes {a + 1}-{b + 1}/{total}"
        if a > 0:
            return f"bytes {a - 1}-{b - 1}/{total}"
        return f"bytes {a}-{b - 1}/{total}" if b > a else f"bytes {a}-{b + 1}/{total}"

    def send_body(self, resp, limit, chunked_out, cfg):
        """Relay up to limit bytes (None: all) of the upstream body."""
        bps = cfg["bandwidth_bps"]
        t_start = time.monotonic()
        sent = 0
        while limit is None or sent < limit:
            want = CHUNK if bps <= 0 else max(1024, min(CHUNK, bps // 20))
            if limit is not None:
                want = min(want, limit - sent)
            d = resp.read1(want) if chunked_out else resp.read(want)
            if not d:
                break
            if bps > 0:
                due = t_start + (sent + len(d)) / bps
                delay = due - time.monotonic()
                if delay > 0 and self.st.stop.wait(delay):
                    raise ConnectionAbortedError("shutting down")
            self.st.count(self.rec, nbytes=len(d))
            self.done()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(d), d) if chunked_out else d)
            sent += len(d)
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")
        return sent

    # -- SigV4 -----------------------------------------------------------
    def signed_headers(self):
        m = re.search(r"SignedHeaders=([^,\s]+)", self.headers.get("Authorization", ""))
        if m:
            return set(m.group(1).split(";"))
        q = urllib.parse.parse_qs(self.query)
        return set(q.get("X-Amz-SignedHeaders", [""])[0].split(";")) - {""}

    def verify(self, cfg):
        """None if the request's SigV4 signature is right, else
        (status, code, message, extra)."""
        st = self.st
        with st.lock:
            st.stats["sigv4"]["checked"] += 1
        auth = self.headers.get("Authorization")
        q = urllib.parse.parse_qs(self.query, keep_blank_values=True)
        presigned = auth is None and "X-Amz-Signature" in q
        if auth is None and not presigned:
            if cfg["allow_anonymous"]:
                return None
            return 403, "AccessDenied", "Anonymous access is not allowed (s3proxy --verify-keys)", None
        if presigned:
            g = lambda k: q.get(k, [""])[0]  # noqa: E731
            alg, cred, signed_s, got_sig = (g("X-Amz-Algorithm"), g("X-Amz-Credential"),
                                            g("X-Amz-SignedHeaders"), g("X-Amz-Signature"))
            amz_date, token = g("X-Amz-Date"), g("X-Amz-Security-Token") or None
        else:
            m = re.fullmatch(r"\s*(\S+)\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
                             r"\s*Signature=([0-9a-fA-F]+)\s*", auth)
            if not m:
                return 400, "AuthorizationHeaderMalformed", f"cannot parse Authorization: {auth}", None
            alg, cred, signed_s, got_sig = m.groups()
            amz_date, token = self.headers.get("X-Amz-Date", ""), self.headers.get("X-Amz-Security-Token")
        if alg != "AWS4-HMAC-SHA256":
            return 400, "InvalidRequest", f"unsupported algorithm {alg}", None
        scope = cred.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            return 400, "AuthorizationHeaderMalformed", f"bad credential scope {cred}", None
        akid, sdate, region, service = scope[:4]
        if cfg["region"] and region != cfg["region"]:
            return 400, "AuthorizationHeaderMalformed", \
                f"the region '{region}' is wrong; expecting '{cfg['region']}'", {"Region": cfg["region"]}
        if service != "s3":
            return 400, "AuthorizationHeaderMalformed", f"service '{service}' is not s3", None
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return 403, "AccessDenied", f"missing or bad X-Amz-Date '{amz_date}'", None
        if sdate != amz_date[:8]:
            return 403, "SignatureDoesNotMatch", "credential scope date differs from X-Amz-Date", None
        skew = abs((now_utc() - t).total_seconds())
        if presigned:
            expires = int(q.get("X-Amz-Expires", ["0"])[0] or 0)
            if (now_utc() - t).total_seconds() > expires:
                return 403, "AccessDenied", "Request has expired", None
        elif skew > cfg["max_skew_s"]:
            return 403, "RequestTimeTooSkewed", \
                "The difference between the request time and the current time is too large.", None
        with st.lock:
            key = st.keys.get(akid)
        if key is None:
            return 403, "InvalidAccessKeyId", \
                "The AWS Access Key Id you provided does not exist in our records.", {"AWSAccessKeyId": akid}
        if key.get("expires") and time.time() > key["expires"]:
            if t.timestamp() > key["expires"]:  # not only late: signed with expired keys
                with st.lock:
                    st.stats["sigv4"]["signed_expired"] += 1
            return 400, "ExpiredToken", "The provided token has expired.", None
        if key.get("token") != token and (key.get("token") or token):
            why = "missing" if token is None else "does not match the access key"
            return 403, "InvalidToken", f"The provided token is malformed or otherwise invalid ({why}).", None
        signed = signed_s.lower().split(";")
        if "host" not in signed:
            return 403, "AccessDenied", "the host header must be signed", None
        if not presigned:
            if "x-amz-content-sha256" not in self.headers:
                return 400, "InvalidRequest", \
                    "Missing required header for this request: x-amz-content-sha256", None
            unsigned = sorted({k.lower() for k in self.headers.keys()
                               if k.lower().startswith("x-amz-")} - set(signed))
            if unsigned:
                return 403, "AccessDenied", \
                    f"There were headers present in the request which were not signed: {unsigned}", \
                    {"HeadersNotSigned": ",".join(unsigned)}
        missing = [h for h in signed if h not in self.headers]
        if missing:
            return 403, "SignatureDoesNotMatch", f"signed headers absent from the request: {missing}", None
        expected, creq, sts_ = botocore_signature(
            self.command, self.rpath, self.query, self.headers, signed, key["secret"], akid,
            region, amz_date, presigned)
        if hmac.compare_digest(expected, got_sig.lower()):
            return None
        st.msg(f"SignatureDoesNotMatch {self.command} {self.target} key={akid} "
               f"expected={expected} received={got_sig}\n--- canonical request (botocore):\n{creq}\n---")
        self.rec["sig_expected"], self.rec["sig_received"] = expected, got_sig
        self.rec["canonical_request"] = creq
        return 403, "SignatureDoesNotMatch", \
            "The request signature we calculated does not match the signature you provided.", \
            {"AWSAccessKeyId": akid, "StringToSign": sts_, "SignatureProvided": got_sig,
             "SignatureExpected": expected, "CanonicalRequest": creq}

    # -- STS -------------------------------------------------------------
    def sts(self, p):
        st = self.st
        delay = st.config()["sts_delay_ms"] / 1000.0
        if delay:
            time.sleep(delay)
        status, body, ak = self.sts_answer(p)
        token = p.get("WebIdentityToken", "")
        with st.lock:  # counted before the client can see the answer
            s = st.stats["sts"]
            s["calls"] += 1
            s["issued" if status == 200 else "denied"] += 1
            s["tokens"] = (s["tokens"] + [{"token": token, "ok": status == 200,
                                           "role": p.get("RoleArn"), "t": round(time.time(), 3)}])[-100:]
        self.rec["sts"] = "issued" if status == 200 else "denied"
        self.rec["akid"] = ak
        return self.reply(status, body, "text/xml")

    def sts_answer(self, p):
        """(status, XML, access key issued) for an STS request."""
        st = self.st
        action = p.get("Action")
        if action != "AssumeRoleWithWebIdentity":
            return 400, sts_error("InvalidAction", f"{action} is not supported by s3proxy"), None
        for k in ("RoleArn", "RoleSessionName", "WebIdentityToken"):
            if not p.get(k):
                return 400, sts_error("MissingParameter", f"missing {k}"), None
        try:
            want = open(st.sts_token_file).read().strip() if st.sts_token_file else None
        except OSError as e:
            want = None
            st.msg(f"sts: cannot read --sts-token-file: {e}")
        if want is None or not hmac.compare_digest(p["WebIdentityToken"].strip().encode(), want.encode()):
            return 403, sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity "
                                  "(web identity token does not match --sts-token-file)"), None
        try:
            dur = int(p.get("DurationSeconds") or 3600)
        except ValueError:
            return 400, sts_error("ValidationError", "DurationSeconds is not a number"), None
        dur = max(1, min(dur, st.sts_duration))
        ak = "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        sk = secrets.token_urlsafe(30)[:40]
        tok = "FwoGZXIvYXdzE" + secrets.token_urlsafe(96)
        exp = time.time() + dur
        with st.lock:
            st.keys[ak] = {"secret": sk, "token": tok, "expires": exp}
            if len(st.keys) > 10000:  # forget the longest expired
                for old in sorted((k for k, v in st.keys.items() if v.get("expires", 1e18) < time.time()),
                                  key=lambda k: st.keys[k]["expires"])[:1000]:
                    del st.keys[old]
        role, sess = p["RoleArn"], escape(p["RoleSessionName"])
        exp_s = datetime.datetime.fromtimestamp(exp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = ('<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleWithWebIdentityResult>"
                "<SubjectFromWebIdentityToken>s3proxy-subject</SubjectFromWebIdentityToken>"
                "<Audience>sts.amazonaws.com</Audience>"
                f"<AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/{escape(role.rsplit('/', 1)[-1])}/"
                f"{sess}</Arn><AssumedRoleId>AROA0000000000000000:{sess}</AssumedRoleId></AssumedRoleUser>"
                f"<Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{sk}</SecretAccessKey>"
                f"<SessionToken>{tok}</SessionToken><Expiration>{exp_s}</Expiration></Credentials>"
                "<Provider>s3proxy</Provider></AssumeRoleWithWebIdentityResult>"
                f"<ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId></ResponseMetadata>"
                "</AssumeRoleWithWebIdentityResponse>\n").encode()
        return 200, body, ak

    # -- control API -----------------------------------------------------
    def control(self):
        st = self.st
        body = b"".join(self.body_pieces())
        ep = self.rpath[len("/__proxy/"):]
        q = dict(urllib.parse.parse_qsl(self.query))
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self.ctl_reply(400, {"error": f"bad JSON: {e}"})
        if ep == "health":
            return self.ctl_reply(200, {"ok": True})
        if ep == "config" and self.command == "GET":
            return self.ctl_reply(200, st.config())
        if ep == "config" and self.command == "POST":
            try:
                st.set_config(data)
            except (ValueError, TypeError) as e:
                return self.ctl_reply(400, {"error": str(e)})
            st.msg(f"config {json.dumps(data)}")
            return self.ctl_reply(200, st.config())
        if ep == "stats" and self.command == "GET":
            return self.ctl_reply(200, st.snapshot(int(q["recent"]) if "recent" in q else None))
        if ep == "reset" and self.command == "POST":
            st.reset_stats()
            return self.ctl_reply(200, {"ok": True})
        if ep == "keys" and self.command == "GET":
            with st.lock:  # ?secrets=1: in full (tests look for them where they must not be)
                if q.get("secrets") == "1":
                    return self.ctl_reply(200, dict(st.keys))
                return self.ctl_reply(200, {k: {"token": bool(v.get("token")), "expires": v.get("expires")}
                                            for k, v in st.keys.items()})
        if ep == "keys" and self.command == "POST":
            with st.lock:
                for k, v in data.items():
                    if v is None:
                        st.keys.pop(k, None)
                    else:
                        st.keys[k] = v
            return self.ctl_reply(200, {"ok": True, "keys": len(st.keys)})
        return self.ctl_reply(404, {"error": f"no control endpoint {self.command} {self.rpath}"})

    def ctl_reply(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        head = (f"HTTP/1.1 {status} {http.client.responses[status]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if self.close_connection else "")
                + "\r\n")
        self.wfile.write(head.encode() + body)


def botocore_signature(method, path, query, headers, signed, secret, akid, region, amz_date, presigned):
    """Recompute a SigV4 signature with botocore's S3 signer over exactly the
    headers the client listed as signed.  Returns (signature, canonical
    request, string to sign)."""
    from botocore.auth import S3SigV4Auth, UNSIGNED_PAYLOAD
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Verifier(S3SigV4Auth):
        def headers_to_sign(self, request):  # the client's list, no more, no less
            from botocore.compat import HTTPHeaders
            hm = HTTPHeaders()
            for name in signed:
                for v in request.headers.get_all(name) or []:
                    hm[name] = v
            return hm

        def payload(self, request):
            return UNSIGNED_PAYLOAD  # only reached when no x-amz-content-sha256 header (presigned)

    # As S3 does, canonicalize what the client sent: decode, then encode all but
    # the unreserved characters (and '/' in the path).  botocore's S3 signer
    # takes the URL as it is, since botocore's own URLs are canonical already.
    pairs = []
    for p in query.split("&") if query else []:
        k, _, val = p.partition("=")
        if presigned and k == "X-Amz-Signature":
            continue  # the canonical query string is everything but the signature
        pairs.append(quote(unquote(k), safe="-_.~") + "=" + quote(unquote(val), safe="-_.~"))
    query = "&".join(pairs)
    path = quote(unquote(path), safe="/~")
    req = AWSRequest(method=method, url="http://s3proxy.invalid" + path + ("?" + query if query else ""))
    for k, v in headers.items():
        if k.lower() in signed:
            req.headers[k] = v
    if not presigned and "x-amz-content-sha256" not in signed:
        # an unsigned payload hash still enters the canonical request
        req.headers["X-Amz-Content-SHA256"] = headers.get("x-amz-content-sha256")
    req.context["timestamp"] = amz_date
    v = Verifier(Credentials(akid, secret), "s3", region)
    creq = v.canonical_request(req)
    sts = v.string_to_sign(req, creq)
    return v.signature(sts, req), creq, sts


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):  # a failed TLS handshake, a client gone
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", help="upstream S3 server, http://HOST:PORT")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port (see --port-file)")
    ap.add_argument("--port-file", help="write the port number here once listening")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--verify-keys", help='JSON {"AKID": {"secret": S, "token": T?}}: check SigV4')
    ap.add_argument("--verify", action="store_true", help="check SigV4 even without --verify-keys "
                    "(keys from the STS stub or POST /__proxy/keys)")
    ap.add_argument("--allow-anonymous", action="store_true", help="with --verify-keys: pass unsigned requests")
    ap.add_argument("--region", default="", help="with --verify-keys: the only region accepted")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; the upstream stays HTTP)")
    ap.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    ap.add_argument("--sts-token-file", help="the web identity token the STS stub accepts (re-read each call)")
    ap.add_argument("--sts-duration", type=int, default=900, help="lifetime of STS credentials, s")
    ap.add_argument("--ttfb-ms", type=int, default=0)
    ap.add_argument("--bandwidth-bps", type=int, default=0)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--fail-kinds", default=",".join(FAULT_KINDS))
    ap.add_argument("--fail-methods", default="GET")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default="{}", help="JSON merged into the config last")
    ap.add_argument("--idle-timeout", type=float, default=75, help="close idle client connections, s")
    ap.add_argument("--upstream-timeout", type=float, default=60)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    st = State(args)
    try:
        st.set_config({"ttfb_ms": args.ttfb_ms, "bandwidth_bps": args.bandwidth_bps,
                       "fail_rate": args.fail_rate, "seed": args.seed,
                       "fail_kinds": [k for k in args.fail_kinds.split(",") if k],
                       "fail_methods": [m for m in args.fail_methods.split(",") if m],
                       "verify_sigv4": bool(args.verify_keys) or args.verify, "allow_anonymous": args.allow_anonymous,
                       "region": args.region})
        st.set_config(json.loads(args.config))
    except ValueError as e:
        ap.error(str(e))
    if args.verify_keys:
        with open(args.verify_keys) as f:
            st.keys.update(json.load(f))
    if st.cfg["verify_sigv4"]:
        __import__("botocore.auth")  # fail now, not at the first request
    Handler.timeout = args.idle_timeout
    srv = Server((args.bind, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.state = st
    srv.up_timeout = args.upstream_timeout
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(args.port_file + ".tmp", args.port_file)
    scheme = "https" if args.tls_cert else "http"
    print(f"s3proxy listening on {scheme}://{args.bind}:{port} upstream {args.upstream}", flush=True)

    def on_signal(signum, frame):
        st.stop.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv.serve_forever(poll_interval=0.2)
    st.stop.set()
    with st.lock:
        socks = list(st.active)
    for s in socks:  # wake every connection thread so server_close can join it
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    srv.server_close()
    st.msg(f"stopped ({threading.active_count()} threads left)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
