# SPDX-License-Identifier: GPL-2.0-only
"""A few kubelet device plugin API (v1beta1) messages in the protobuf wire
format, written by hand for the tests: independent of the plugin's .proto
and of protobuf-c, so the two sides check each other."""


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, n):
    return varint(num << 3) + varint(n)


def parse(buf):
    """{field number: [values]}; varints as int, length-delimited as bytes."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def _read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            if n >= 1 << 63:
                n -= 1 << 64
            return n, i


def s(fields, num, default=""):
    return fields.get(num, [default.encode()])[0].decode() if num in fields else default


# RegisterRequest{version=1, endpoint=2, resource_name=3, options=4}
def decode_register(buf):
    f = parse(buf)
    opts = parse(f[4][0]) if 4 in f else {}
    return {
        "version": s(f, 1), "endpoint": s(f, 2), "resource_name": s(f, 3),
        "pre_start_required": bool(opts.get(1, [0])[0]),
        "get_preferred_allocation_available": bool(opts.get(2, [0])[0]),
    }


# DevicePluginOptions{pre_start_required=1, get_preferred_allocation_available=2}
def decode_options(buf):
    f = parse(buf)
    return {"pre_start_required": bool(f.get(1, [0])[0]),
            "get_preferred_allocation_available": bool(f.get(2, [0])[0])}


# ListAndWatchResponse{devices=1 Device{ID=1, health=2, topology=3 TopologyInfo{nodes=1 NUMANode{ID=1}}}}
def decode_devices(buf):
    devs = []
    for d in parse(buf).get(1, []):
        f = parse(d)
        numa = None
        if 3 in f:
            numa = [parse(n).get(1, [0])[0] for n in parse(f[3][0]).get(1, [])]
        devs.append({"id": s(f, 1), "health": s(f, 2), "numa": numa})
    return devs


# AllocateRequest{container_requests=1 ContainerAllocateRequest{devices_ids=1}}
def encode_allocate(containers):
    return b"".join(field_bytes(1, b"".join(field_bytes(1, i) for i in ids)) for ids in containers)


# AllocateResponse{container_responses=1 ContainerAllocateResponse{envs=1 map,
#   mounts=2, devices=3 DeviceSpec{container_path=1, host_path=2, permissions=3},
#   annotations=4, cdi_devices=5}}
def decode_allocate(buf):
    out = []
    for c in parse(buf).get(1, []):
        f = parse(c)
        envs = {}
        for e in f.get(1, []):
            ef = parse(e)
            envs[s(ef, 1)] = s(ef, 2)
        specs = []
        for d in f.get(3, []):
            df = parse(d)
            specs.append({"container_path": s(df, 1), "host_path": s(df, 2),
                          "permissions": s(df, 3)})
        out.append({"envs": envs, "devices": specs, "mounts": len(f.get(2, []))})
    return out


# PreferredAllocationRequest{container_requests=1 ContainerPreferredAllocationRequest{
#   available_deviceIDs=1, must_include_deviceIDs=2, allocation_size=3}}
def encode_preferred(available, must, size):
    body = b"".join(field_bytes(1, i) for i in available)
    body += b"".join(field_bytes(2, i) for i in must)
    body += field_varint(3, size)
    return field_bytes(1, body)


# PreferredAllocationResponse{container_responses=1 {deviceIDs=1}}
def decode_preferred(buf):
    return [[x.decode() for x in parse(c).get(1, [])] for c in parse(buf).get(1, [])]
