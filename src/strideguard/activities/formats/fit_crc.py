"""FIT CRC-16 and the header walk that checks every chained part of a FIT file.

The FIT protocol's CRC is CRC-16/ARC (polynomial 0x8005 reflected = 0xA001, initial value 0, no final XOR),
computed over the header and data of each FIT file and stored little-endian in the two bytes after the data.

There is no CRC-16/ARC in the standard library, and a per-byte Python loop costs ~80 ns/byte. The CRC is
linear over GF(2) and, with initial value 0, leading zero bytes do not change it. So `crc16` front-pads the
data with zeros to whole 4 KiB blocks and computes every block's CRC at once, as a NumPy tree reduction:
the CRC of every 2-byte word by one lookup in a 65,536-entry table, then pairs of equal-length neighbours
combined with ``crc(AB) = shift_len(B)(crc(A)) ^ crc(B)``, where shifting a CRC through L zero bytes is a
linear map of its 16 bits, i.e. one lookup in a 65,536-entry table per level. The blocks' CRCs are then
chained in Python (one lookup per 4 KiB). ~400 MB/s on one core (a one-hour run's 100 KB in ~0.2 ms), four
times the byte-wise tree it replaces. `ndarray.take` is used for the lookups: it is twice as fast as fancy
indexing with a uint16 index array.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_POLY_REFLECTED = 0xA001


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _byte_table()
_SMALL = 448  # up to this many bytes a Python loop is faster than NumPy's fixed costs
_BLOCK_LEVELS = 12  # blocks of 2**12 = 4096 bytes
_BLOCK = 1 << _BLOCK_LEVELS


def _crc16_loop(data: bytes | memoryview, crc: int = 0) -> int:
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _shift_tables(levels: int) -> list[np.ndarray]:
    """Per level k, a table mapping any 16-bit CRC to its value after 2**k zero bytes."""
    table = np.array(_TABLE, dtype=np.uint16)
    crcs = np.arange(1 << 16, dtype=np.uint32)
    # One zero byte: crc -> (crc >> 8) ^ T[crc & 0xff].
    one = (crcs >> 8).astype(np.uint16) ^ table[crcs & 0xFF]
    tables = [one]
    for _ in range(1, levels):
        tables.append(tables[-1].take(tables[-1]))  # shifting twice by 2**k is shifting by 2**(k+1)
    return tables


def _word_table(shift_one: np.ndarray) -> np.ndarray:
    """CRC (from 0) of every 2-byte sequence, indexed by the little-endian uint16 of the two bytes."""
    table = np.array(_TABLE, dtype=np.uint16)
    words = np.arange(1 << 16, dtype=np.uint32)
    first, second = words & 0xFF, words >> 8
    return shift_one.take(table[first]) ^ table[second]


_SHIFTS = _shift_tables(_BLOCK_LEVELS + 1)
_WORDS = _word_table(_SHIFTS[0])
_SHIFT_BLOCK = _SHIFTS[_BLOCK_LEVELS].tolist()  # a Python list: the block chaining loop indexes it


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC of `data` as the FIT protocol defines it (initial value 0)."""
    n = len(data)
    if n <= _SMALL:
        return _crc16_loop(data)
    blocks = -(-n // _BLOCK)
    padded = np.zeros(blocks * _BLOCK, dtype=np.uint8)
    padded[blocks * _BLOCK - n :] = np.frombuffer(data, dtype=np.uint8)  # leading zeros leave CRC 0 at 0
    level = _WORDS.take(padded.view("<u2")).reshape(blocks, _BLOCK // 2)
    for k in range(1, _BLOCK_LEVELS):
        level = _SHIFTS[k].take(level[:, 0::2]) ^ level[:, 1::2]
    crc = 0
    shift = _SHIFT_BLOCK
    for block_crc in level[:, 0].tolist():
        crc = shift[crc] ^ block_crc
    return crc


@dataclass(frozen=True, slots=True)
class FitPart:
    """One FIT file inside a (possibly chained) FIT byte string."""

    offset: int
    header_size: int
    data_size: int
    crc_ok: bool | None  # None when the part is truncated (no CRC bytes)


def check_parts(data: bytes | memoryview) -> tuple[list[FitPart], list[str]]:
    """Walk the headers of every chained FIT part, verify header and file CRCs.

    Returns the parts found and the problems met, each a short phrase for a user-facing message
    (e.g. "file CRC does not match", "truncated: header declares 5000 bytes of data, 300 present").
    Trailing zero padding after the last complete part is ignored (some devices pad files).
    """
    parts: list[FitPart] = []
    problems: list[str] = []
    view = memoryview(data)
    n = len(view)
    offset = 0
    while offset < n:
        rest = n - offset
        if rest < 12 or view[offset] not in (12, 14) or bytes(view[offset + 8 : offset + 12]) != b".FIT":
            if not any(view[offset:]):
                break
            where = f"part {len(parts) + 1}" if parts else "file"
            problems.append(f"{where} has no valid FIT header at byte {offset}")
            break
        header_size = view[offset]
        (data_size,) = struct.unpack_from("<I", view, offset + 4)
        if header_size == 14 and rest >= 14:
            (header_crc,) = struct.unpack_from("<H", view, offset + 12)
            if header_crc and crc16(view[offset : offset + 12]) != header_crc:
                problems.append("header CRC does not match")
        end = offset + header_size + data_size
        if end + 2 > n:
            present = max(0, n - offset - header_size)
            problems.append(f"truncated: header declares {data_size} bytes of data, {present} present")
            parts.append(FitPart(offset, header_size, data_size, None))
            break
        (stored,) = struct.unpack_from("<H", view, end)
        ok = crc16(view[offset:end]) == stored
        if not ok:
            where = f" (part {len(parts) + 1})" if parts or end + 2 < n else ""
            problems.append(f"file CRC does not match{where}")
        parts.append(FitPart(offset, header_size, data_size, ok))
        offset = end + 2
    return parts, problems
