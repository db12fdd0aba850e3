# SPDX-License-Identifier: GPL-2.0-only
"""A fake kubelet on python3-grpcio (Debian's package, run with
/usr/bin/python3): it serves v1beta1.Registration on kubelet.sock in a
directory and, for each Register, dials the plugin's endpoint back at once
and calls GetDevicePluginOptions, as the kubelet does, so a plugin that
registers before it serves is caught."""
import os
import queue
import threading
import time
from concurrent import futures

import grpc

import kubelet_proto as kp

REGISTER = "/v1beta1.Registration/Register"


class FakeKubelet:
    def __init__(self, directory):
        self.dir = directory
        self.sock = os.path.join(directory, "kubelet.sock")
        self.registrations = queue.Queue()
        self.server = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler("v1beta1.Registration", {
            "Register": grpc.unary_unary_rpc_method_handler(self._register),
        })
        self.server.add_generic_rpc_handlers((handler,))
        self.server.add_insecure_port("unix:" + self.sock)
        self.server.start()

    def stop(self):
        if self.server:
            self.server.stop(0).wait()
            self.server = None

    def _register(self, request, context):
        req = kp.decode_register(request)
        req["time"] = time.monotonic()
        # dial back before answering: the plugin must already serve
        try:
            ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, req["endpoint"]))
            opts = ch.unary_unary("/v1beta1.DevicePlugin/GetDevicePluginOptions")(b"", timeout=4)
            req["options_on_dial_back"] = kp.decode_options(opts)
            ch.close()
        except grpc.RpcError as e:
            req["dial_back_error"] = "%s: %s" % (e.code(), e.details())
        self.registrations.put(req)
        return b""

    def wait_registrations(self, count, timeout):
        """The next @count registrations, or fewer when @timeout passes."""
        out, end = [], time.monotonic() + timeout
        while len(out) < count:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                out.append(self.registrations.get(timeout=left))
            except queue.Empty:
                break
        return out


class PluginClient:
    """The kubelet's side of one plugin endpoint."""

    def __init__(self, directory, endpoint):
        self.channel = grpc.insecure_channel("unix:" + os.path.join(directory, endpoint))
        self.frames = queue.Queue()
        self.stream = None
        self.thread = None

    def call(self, method, payload=b"", timeout=5):
        return self.channel.unary_unary("/v1beta1.DevicePlugin/" + method)(payload,
                                                                            timeout=timeout)

    def options(self):
        return kp.decode_options(self.call("GetDevicePluginOptions"))

    def allocate(self, containers):
        return kp.decode_allocate(self.call("Allocate", kp.encode_allocate(containers)))

    def preferred(self, available, must, size):
        return kp.decode_preferred(self.call("GetPreferredAllocation",
                                             kp.encode_preferred(available, must, size)))

    def watch(self):
        self.stream = self.channel.unary_stream("/v1beta1.DevicePlugin/ListAndWatch")(b"")

        def pump():
            try:
                for frame in self.stream:
                    self.frames.put(kp.decode_devices(frame))
            except grpc.RpcError as e:
                self.frames.put(e)
            self.frames.put(None)
        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()

    def next_frame(self, timeout):
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            return "timeout"

    def wait_frame(self, pred, timeout):
        """Frames until one satisfies @pred; that frame, or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            f = self.next_frame(left)
            if f == "timeout" or f is None or isinstance(f, Exception):
                return None
            if pred(f):
                return f

    def close(self):
        if self.stream:
            self.stream.cancel()
        self.channel.close()
