"""Pack an activity's sample streams into one compressed columnar blob, and back.

Layout: a 4-byte magic, a little-endian uint32 JSON header length, the JSON header (column names, dtypes,
sample count), then the zlib-compressed concatenation of the columns. Positions and time stay float64
(float32 would round positions to ~1 m); the other columns are float32, which is finer than any sensor.

Two versions, both read by `decode`:
- b"SGS2" (written now): each column's values are XORed with the previous sample's bits and split into
  byte planes (all first bytes, then all second bytes, ...). Neighbouring samples share sign, exponent and
  high mantissa bits, so most planes are long zero runs: they go through zlib level 1 with the run-length
  strategy; planes of mantissa noise are appended raw. The header gives each column's raw planes as a bit
  mask. Measured on one-hour runs: 0.6 ms and 47 kB per run against 1.4 ms and 56 kB for SGS1. Lossless
  on the stored dtypes.
- b"SGS1" (older databases): the plain columns, zlib level 1.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np

from strideguard.model import Streams

MAGIC = b"SGS2"
MAGIC_V1 = b"SGS1"
_FLOAT64_COLUMNS = frozenset({"time_s", "lat_deg", "lon_deg"})
_UINT_OF = {"<f8": "<u8", "<f4": "<u4"}
# A byte plane with fewer zero bytes than this share is mostly mantissa noise: deflate would spend time on
# it for almost nothing, so it is stored as is (measured: a quarter less time, the same size).
_RAW_BELOW_ZEROS = 0.2


def encode(streams: Streams, level: int = 1) -> bytes:
    """Serialise present columns into one blob (SGS2: XOR with previous, byte planes, zlib or raw)."""
    columns = streams.columns()
    n = len(streams)
    header: dict[str, object] = {"n": n, "columns": []}
    packed: list[bytes] = []
    raw: list[bytes] = []
    for name, values in columns.items():
        dtype = "<f8" if name in _FLOAT64_COLUMNS else "<f4"
        bits = np.ascontiguousarray(values, dtype=dtype).view(_UINT_OF[dtype])
        xored = bits.copy()
        xored[1:] ^= bits[:-1]
        planes = np.ascontiguousarray(xored.view(np.uint8).reshape(-1, bits.itemsize).T)
        zeros = n - np.count_nonzero(planes, axis=1)
        raw_mask = 0
        for i, plane in enumerate(planes):
            if zeros[i] < _RAW_BELOW_ZEROS * n:
                raw_mask |= 1 << i
                raw.append(plane.tobytes())
            else:
                packed.append(plane.tobytes())
        header["columns"].append([name, dtype, raw_mask])  # type: ignore[union-attr]
    head = json.dumps(header, separators=(",", ":")).encode()
    packer = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    body = packer.compress(b"".join(packed)) + packer.flush()
    return MAGIC + struct.pack("<I", len(head)) + head + body + b"".join(raw)


def decode(blob: bytes) -> Streams:
    """Rebuild `Streams` from `encode`'s output (SGS2, or SGS1 of older databases); ValueError otherwise."""
    magic = bytes(blob[:4])
    if magic not in (MAGIC, MAGIC_V1):
        raise ValueError("not a StrideGuard stream blob")
    (head_len,) = struct.unpack_from("<I", blob, 4)
    header = json.loads(blob[8 : 8 + head_len])
    n = int(header["n"])
    values: dict[str, np.ndarray] = {}
    if magic == MAGIC_V1:
        raw = zlib.decompress(blob[8 + head_len :])
        offset = 0
        for name, dtype in header["columns"]:
            values[name] = np.frombuffer(raw, dtype=dtype, count=n, offset=offset).astype(np.float64)
            offset += np.dtype(dtype).itemsize * n
    else:
        unpacker = zlib.decompressobj()
        packed = memoryview(unpacker.decompress(blob[8 + head_len :]))
        stored = memoryview(unpacker.unused_data)
        for name, dtype, raw_mask in header["columns"]:
            size = np.dtype(dtype).itemsize
            planes = np.empty((size, n), dtype=np.uint8)
            for i in range(size):
                source = stored if raw_mask >> i & 1 else packed
                if len(source) < n:
                    raise ValueError("stream blob is truncated")
                planes[i] = np.frombuffer(source[:n], dtype=np.uint8)
                if raw_mask >> i & 1:
                    stored = stored[n:]
                else:
                    packed = packed[n:]
            xored = np.ascontiguousarray(planes.T).view(_UINT_OF[dtype]).ravel()
            values[name] = np.bitwise_xor.accumulate(xored).view(dtype).astype(np.float64)
    if "time_s" not in values:
        raise ValueError("stream blob without time_s")
    return Streams(**values)
