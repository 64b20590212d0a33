"""Fast vectorised FIT decoder for the messages StrideGuard keeps; fitdecode is the fallback and the oracle.

How it works (FIT protocol: a 12/14-byte header, then messages, then a CRC-16; parts can be chained):
1. `fit_fast_walk`: a tight loop over message headers only. Definitions become layouts keyed by their bytes;
   a data message just appends its offset to its layout's list (a run of equal headers in one step).
2. Compressed-timestamp headers are resolved vectorised here: the running timestamp is the last explicit one
   (field 253 of any message) plus the wrapped differences of the 5-bit offsets since (a segmented cumsum).
3. `fit_fast_records`: record messages gathered per layout with NumPy into float64 columns, in file order.
4. `fit_fast_messages`: the few other kept messages decoded to dicts with a precompiled plan per layout.

Anything outside this subset raises FastDecodeUnsupported so the caller falls back to fitdecode with no loss:
a bad or truncated header or message, trailing bytes, an undefined local message, compressed speed/distance
(bit-packed accumulating components), an unknown base type or odd size on a field we read, accumulating
components in kept messages, zero-size fields. The CRC is not checked here (the caller checks it, vectorised).
Memory: nothing is sized from a header's data_size before it is checked against the real length.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from strideguard.activities.formats.fit_decoded import FitMessages
from strideguard.activities.formats.fit_fast_layout import FastDecodeUnsupported, Layout
from strideguard.activities.formats.fit_fast_messages import dict_plan
from strideguard.activities.formats.fit_fast_profile import (
    BASE_TYPES,
    DICT_MESSAGES,
    FIELD_TIMESTAMP,
    MESG_RECORD,
)
from strideguard.activities.formats.fit_fast_records import record_columns
from strideguard.activities.formats.fit_fast_walk import Walker, check_readable

__all__ = ["FastDecodeUnsupported", "decode_fast"]


def decode_fast(data: bytes) -> FitMessages:
    """Decode `data` (one FIT file, possibly several chained parts) or raise FastDecodeUnsupported.

    Output as `FitMessages` documents: records as float64 columns (Unix seconds, degrees, m, m/s, bpm, rpm, W;
    NaN for invalid/missing), the other kept messages as dicts of fitdecode profile names to profile units.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    try:
        return _decode(buf)
    except FastDecodeUnsupported:
        raise
    except (struct.error, IndexError, KeyError, ValueError, TypeError, OverflowError) as exc:
        # A defect this decoder did not foresee: never fail an import for it, let fitdecode read the file.
        raise FastDecodeUnsupported(f"unexpected input ({type(exc).__name__}: {exc})") from exc


def _decode(buf: bytes) -> FitMessages:
    walker = Walker(buf)
    walker.walk()
    layouts = [layout for layout in walker.layouts.values() if layout.used]
    for layout in layouts:
        check_readable(layout)
    buf_np = np.frombuffer(buf, dtype=np.uint8)
    compressed: dict[int, np.ndarray] = {}
    if any(layout.compressed for layout in layouts):
        compressed = _compressed_timestamps(walker, buf_np)

    msgs = FitMessages()
    msgs.records = record_columns(
        [lay for lay in layouts if lay.global_num == MESG_RECORD], buf_np, compressed
    )

    # The other kept messages, each list in file order.
    pending: list[tuple[int, Layout, int | None]] = []
    for layout in layouts:
        if layout.global_num not in DICT_MESSAGES:
            continue
        pending.extend((pos, layout, None) for pos in layout.positions().tolist())
        if layout.compressed:
            stamps = compressed[id(layout)].tolist()
            pending.extend(zip(layout.compressed, [layout] * len(stamps), stamps, strict=True))
    pending.sort(key=lambda item: item[0])
    for pos, layout, stamp in pending:
        message = dict_plan(layout).decode(buf, pos, stamp)
        target = DICT_MESSAGES[layout.global_num]
        getattr(msgs, target).append(message)
        if target == "file_ids":
            file_type = message.get("type")
            msgs.file_types.append(file_type if isinstance(file_type, str) else "")
    return msgs


def _timestamp_column(layout: Layout, buf_np: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """Raw field-253 values (int64, -1 where invalid) of these messages; None if the layout has none."""
    position = 0
    found = None
    for num, size, base_id in layout.fields:
        if num == FIELD_TIMESTAMP:
            if found is not None:
                raise FastDecodeUnsupported("two timestamp fields in one message")
            found = (position, size, base_id)
        position += size
    if found is None:
        return None
    where, size, base_id = found
    base = BASE_TYPES.get(base_id)
    if base is None or base.kind != "int" or size != base.size or base.size > 4:
        raise FastDecodeUnsupported("timestamp field of an unexpected type")
    cells = buf_np[(offsets + (1 + where))[:, None] + np.arange(size)]
    dtype = np.dtype((">" if layout.big_endian else "<") + base.fmt)
    raw = np.ascontiguousarray(cells).view(dtype).reshape(len(offsets)).astype(np.int64)
    return np.where(raw == base.invalid, -1, raw)


def _compressed_timestamps(walker: Walker, buf_np: np.ndarray) -> dict[int, np.ndarray]:
    """Raw timestamp of every compressed-timestamp message, per layout id (in file order).

    fitdecode keeps one accumulator per FIT part, reset to 0 at each header and set by every valid field 253
    it reads (of any message); a compressed header's 5-bit offset advances it to the next value with those low
    bits. So a compressed message's time is the last explicit timestamp plus the wrapped differences of the
    low 5 bits since then.
    """
    n_parts = len(walker.part_starts)
    positions: list[np.ndarray] = [np.asarray(walker.part_starts, dtype=np.int64)]
    values: list[np.ndarray] = [np.zeros(n_parts, dtype=np.int64)]
    explicit: list[np.ndarray] = [np.ones(n_parts, dtype=bool)]
    compressed_layouts: list[Layout] = []
    for layout in walker.layouts.values():
        if any(num == FIELD_TIMESTAMP for num, _, _, _ in layout.dev_fields):
            raise FastDecodeUnsupported("developer field numbered 253 with compressed timestamps")
        if layout.singles or layout.runs:
            offsets = layout.positions()
            stamps = _timestamp_column(layout, buf_np, offsets)
            if stamps is not None:
                ok = stamps >= 0
                positions.append(offsets[ok])
                values.append(stamps[ok])
                explicit.append(np.ones(int(ok.sum()), dtype=bool))
        if layout.compressed:
            if any(num == FIELD_TIMESTAMP for num, _, _ in layout.fields):
                raise FastDecodeUnsupported("compressed-timestamp header on a message with a timestamp field")
            compressed_layouts.append(layout)
    # Compressed messages last, so their results are one slice per layout at the end.
    for layout in compressed_layouts:
        offsets = layout.compressed_positions()
        positions.append(offsets)
        values.append((buf_np[offsets] & 31).astype(np.int64))
        explicit.append(np.zeros(len(offsets), dtype=bool))
    pos = np.concatenate(positions)
    val = np.concatenate(values)
    exp = np.concatenate(explicit)
    order = np.argsort(pos, kind="stable")
    val_s, exp_s = val[order], exp[order]
    low = np.where(exp_s, val_s & 31, val_s)
    delta = np.zeros_like(low)
    delta[1:] = (low[1:] - low[:-1]) & 31
    delta[exp_s] = 0
    total = np.cumsum(delta)
    last = np.maximum.accumulate(np.where(exp_s, np.arange(len(exp_s)), 0))
    stamps_s = val_s[last] + total - total[last]
    stamps_all = np.empty_like(stamps_s)
    stamps_all[order] = stamps_s
    result: dict[int, Any] = {}
    cursor = len(pos) - sum(len(layout.compressed) for layout in compressed_layouts)
    for layout in compressed_layouts:
        count = len(layout.compressed)
        result[id(layout)] = stamps_all[cursor : cursor + count]
        cursor += count
    return result
