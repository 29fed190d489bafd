"""Minimal pure-Python safetensors reader/writer (Debian's python3 has torch but not `safetensors`).

    save(path, {name: torch.Tensor | numpy.ndarray}, metadata=None)
    load(path) -> {name: torch.Tensor}        (numpy arrays when torch is not installed)
    load_metadata(path) -> {str: str}

Writes exactly what the reference implementation writes: an 8-byte little-endian header length,
compact JSON ({"__metadata__": ..., name: {"dtype", "shape", "data_offsets"}, ...}), tensors ordered
by dtype width (widest first) then name, the header padded with spaces to a multiple of 8, then the
raw little-endian data. Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL (BF16 needs torch).
"""
import json
import struct

import numpy as np

try:
    import torch
except ImportError:  # numpy-only use still works, except for bf16
    torch = None

# dtype name -> (numpy dtype or None for bf16, bytes per element, reference write rank)
_DTYPES = {
    "F64": (np.float64, 8, 2), "I64": (np.int64, 8, 1), "F32": (np.float32, 4, 3), "I32": (np.int32, 4, 5),
    "BF16": (None, 2, 6), "F16": (np.float16, 2, 7), "I16": (np.int16, 2, 9), "I8": (np.int8, 1, 10),
    "U8": (np.uint8, 1, 11), "BOOL": (np.bool_, 1, 12),
}
_NP_TO_NAME = {np.dtype(v[0]): k for k, v in _DTYPES.items() if v[0] is not None}
if torch is not None:
    _TORCH_TO_NAME = {torch.float64: "F64", torch.int64: "I64", torch.float32: "F32", torch.int32: "I32",
                      torch.bfloat16: "BF16", torch.float16: "F16", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}


def _to_bytes(value):
    """(dtype name, shape, little-endian bytes) of a torch tensor or numpy array."""
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        if t.dtype not in _TORCH_TO_NAME:
            raise ValueError(f"unsupported torch dtype {t.dtype}")
        name = _TORCH_TO_NAME[t.dtype]
        if name == "BF16":
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(np.dtype(_DTYPES[name][0]).newbyteorder("<")).tobytes()
        return name, list(t.shape), raw
    a = np.ascontiguousarray(value)
    if a.dtype not in _NP_TO_NAME:
        raise ValueError(f"unsupported numpy dtype {a.dtype}")
    name = _NP_TO_NAME[a.dtype]
    return name, list(a.shape), a.astype(a.dtype.newbyteorder("<")).tobytes()


def save(path, tensors, metadata=None):
    items = [(k,) + _to_bytes(v) for k, v in tensors.items()]
    items.sort(key=lambda it: (_DTYPES[it[1]][2], it[0].encode("utf-8")))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    offset = 0
    for name, dtype, shape, raw in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, raw in items:
            f.write(raw)


def _read_header(f):
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n).decode("utf-8"))
    return 8 + n, header


def load_metadata(path):
    with open(path, "rb") as f:
        return _read_header(f)[1].get("__metadata__", {})


def load(path):
    with open(path, "rb") as f:
        start, header = _read_header(f)
        f.seek(0)
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[start + b:start + e]
        dtype, shape = info["dtype"], info["shape"]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor '{name}': unsupported dtype {dtype}")
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            if torch is not None:
                out[name] = torch.from_numpy(bits.view(np.float32).copy()).to(torch.bfloat16).reshape(shape)
            else:
                out[name] = bits.view(np.float32).reshape(shape)
            continue
        arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<")).reshape(shape).copy()
        out[name] = torch.from_numpy(arr) if torch is not None else arr
    return out


if __name__ == "__main__":
    import sys
    for k, v in load(sys.argv[1]).items():
        print(k, getattr(v, "dtype", None), list(v.shape))
