"""safetensors written and read from the format's specification, not a library: an 8-byte
little-endian header length N, N bytes of JSON ({name: {"dtype", "shape", "data_offsets":
[begin, end]}} with offsets into the data that follows, plus an optional "__metadata__" of
strings), padded with spaces to a multiple of 8 as the reference writer does, then the tensors'
bytes, little-endian, row-major. Also the sharded layout: model.safetensors.index.json with
{"metadata": {"total_size"}, "weight_map": {name: shard file}}.

Tensors travel as numpy arrays of float32 (F32), or of uint16 bit patterns for F16 and BF16, so
a BF16 value is exactly the one a file holds; to_float64 gives the value a reader computes with."""
import json
import os
import struct

import numpy as np

DTYPES = ("F32", "F16", "BF16")


def bf16_bits(a):
    """float32 -> BF16 bit patterns, rounding to nearest even (NaN kept a NaN)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(a)
    out = rounded.astype(np.uint16)
    out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def encode(a, dtype):
    """float array -> (bytes, the array of stored values as float64)."""
    if dtype != "F64":
        a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        stored = a
        raw = a.astype("<f4").tobytes()
    elif dtype == "F16":
        h = a.astype(np.float16)
        stored = h
        raw = h.astype("<f2").tobytes()
    elif dtype == "F64":  # not a dtype spar reads: for refusal tests
        stored = np.asarray(a, dtype=np.float64)
        raw = stored.astype("<f8").tobytes()
    elif dtype == "BF16":
        bits = bf16_bits(a)
        stored = (bits.astype(np.uint32) << 16).view(np.float32)
        raw = bits.astype("<u2").tobytes()
    else:
        raise ValueError(dtype)
    return raw, np.asarray(stored, dtype=np.float64)


def decode(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2")
    elif dtype == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(f"dtype {dtype} not read here")
    return a.astype(np.float64).reshape(shape)


def write(path, tensors, dtype="F32", dtypes=None, shapes=None, metadata=None):
    """Writes {name: float array} as one safetensors file, each in dtype (or dtypes[name]); shapes
    may override a tensor's recorded shape (to make a broken file). Returns {name: stored float64}."""
    header, blobs, stored, off = {}, [], {}, 0
    header["__metadata__"] = metadata if metadata is not None else {"format": "pt"}
    for name, a in tensors.items():
        dt = (dtypes or {}).get(name, dtype)
        raw, stored[name] = encode(a, dt)
        shape = list((shapes or {}).get(name, np.shape(a)))
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    return stored


def read(path):
    """{name: (dtype, shape, float64 array)} of a safetensors file, and its metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode())
    meta = header.pop("__metadata__", None)
    base, out = 8 + n, {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        shape = tuple(e["shape"])
        out[name] = (e["dtype"], shape, decode(data[base + b:base + end], e["dtype"], shape))
    return out, meta


def write_sharded(folder, tensors, n_shards, dtype="F32"):
    """tensors split in order over n_shards files model-0000i-of-0000n.safetensors, with the
    index. Returns {name: stored float64}."""
    names = list(tensors)
    per = -(-len(names) // n_shards)
    weight_map, stored, total = {}, {}, 0
    for s in range(n_shards):
        fname = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {k: tensors[k] for k in names[s * per:(s + 1) * per]}
        stored.update(write(os.path.join(folder, fname), part, dtype))
        for k in part:
            weight_map[k] = fname
            total += np.asarray(part[k]).size * (4 if dtype == "F32" else 2)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    return stored


def read_folder(folder):
    """The tensors of a model folder, single file or sharded: {name: (dtype, shape, array)}."""
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read(single)[0]
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        index = json.load(f)
    out = {}
    for fname in sorted(set(index["weight_map"].values())):
        part, _ = read(os.path.join(folder, fname))
        out.update(part)
    if set(out) != set(index["weight_map"]):
        raise KeyError("the index and the shards name different tensors")
    return out
