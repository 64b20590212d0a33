"""Header walk of the fast FIT decoder: FIT parts, definition messages, and where each data message sits.

The loop touches only the one-byte record header of a data message and appends the message's offset to the
list of its layout (one layout per distinct definition, keyed by the definition's bytes, so the identical
redefinitions some apps write before every message cost one dict look-up). A run of consecutive messages with
the same header byte is taken in one step: their headers sit at a fixed stride, so one strided slice of the
buffer finds the run's length. Nothing else is decoded here, except developer data ids and field descriptions,
which change how later definitions read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strideguard.activities.formats.fit_fast_layout import DevInfo, FastDecodeUnsupported, Layout
from strideguard.activities.formats.fit_fast_messages import dict_plan
from strideguard.activities.formats.fit_fast_profile import (
    BASE_TYPES,
    BYTE,
    BYTE_ID,
    MESG_DEVELOPER_DATA_ID,
    MESG_FIELD_DESCRIPTION,
)

_RUN_WINDOW = 512  # messages looked at per strided slice when a run of identical headers starts
_HEADER_BYTES = [bytes([b]) for b in range(256)]


class Walker:
    """Walks every chained FIT part of `buf`; afterwards `layouts` know where every data message is."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.layouts: dict[Any, Layout] = {}
        self.part_starts: list[int] = []
        self.registry: dict[int | None, dict[int | None, DevInfo]] = {}

    def walk(self) -> None:
        """Raise FastDecodeUnsupported on anything but a sequence of complete FIT parts."""
        buf = self.buf
        n = len(buf)
        pos = 0
        if n == 0:
            raise FastDecodeUnsupported("empty file")
        while pos < n:
            header_size = buf[pos]
            if n - pos < 12 or header_size not in (12, 14) or buf[pos + 8 : pos + 12] != b".FIT":
                where = "trailing bytes after the last FIT part" if pos else "no valid FIT header"
                raise FastDecodeUnsupported(f"{where} at byte {pos}")
            data_size = int.from_bytes(buf[pos + 4 : pos + 8], "little")
            start = pos + header_size
            end = start + data_size
            if end + 2 > n:  # checked before anything is sized from data_size
                present = max(0, n - start)
                raise FastDecodeUnsupported(
                    f"truncated: header declares {data_size} bytes of data, {present} present"
                )
            self.part_starts.append(pos)
            self.registry = {}  # developer data is per FIT part, as local messages are
            self._walk_part(start, end)
            pos = end + 2

    def _walk_part(self, pos: int, end: int) -> None:
        """Walk one part's messages in [pos, end); bytes end and end+1 (the CRC) exist in the buffer."""
        buf = self.buf
        header_bytes = _HEADER_BYTES
        # Per header byte (not per local number, to save the bit masking in the loop): the message size
        # (header included; 0 = a definition or an undefined local message) and where its position goes.
        sizes = [0] * 256
        appends: list[Callable[[int], None]] = [_undefined] * 256
        runs: list[Callable[[tuple[int, int]], None]] = [_undefined_run] * 256
        while pos < end:
            header = buf[pos]
            size = sizes[header]
            if size:  # a data message (normal or compressed-timestamp header)
                after = pos + size
                if buf[after] == header:  # (when after == end this reads the CRC: harmless)
                    # A run: the following headers sit every `size` bytes as long as they repeat this one.
                    window = buf[pos : min(end, pos + size * _RUN_WINDOW) : size]
                    count = len(window) - len(window.lstrip(header_bytes[header]))
                    runs[header]((pos, count))
                    after = pos + count * size
                else:
                    appends[header](pos)
                pos = after
            elif header & 0xC0 == 0x40:  # a definition message
                local = header & 15
                layout, pos = self._define(pos, end, header)
                size = layout.row_size + 1
                if layout.global_num in (MESG_DEVELOPER_DATA_ID, MESG_FIELD_DESCRIPTION):
                    append = self._developer_handler(layout)
                    run = _each(append, size)
                else:
                    append = layout.singles.append
                    run = layout.runs.extend
                # Data message headers of this local number: bits 4-5 are reserved, so 4 normal ones ...
                for normal in range(local, 0x40, 0x10):
                    sizes[normal], appends[normal], runs[normal] = size, append, run
                if local < 4:  # ... and 32 compressed-timestamp ones (local number in bits 5-6)
                    compressed = layout.compressed.append
                    compressed_run = _each(compressed, size)
                    base = 0x80 | (local << 5)
                    for first in range(base, base + 32):
                        sizes[first], appends[first], runs[first] = size, compressed, compressed_run
            else:
                raise FastDecodeUnsupported(f"data message with undefined local message at byte {pos}")
        if pos != end:
            raise FastDecodeUnsupported(f"a message runs past the end of the data at byte {end}")

    def _define(self, pos: int, end: int, header: int) -> tuple[Layout, int]:
        buf = self.buf
        if pos + 6 > end:
            raise FastDecodeUnsupported(f"truncated definition message at byte {pos}")
        arch = buf[pos + 2]
        if arch > 1:
            raise FastDecodeUnsupported(f"unknown architecture {arch} at byte {pos}")
        dev_start = stop = pos + 6 + 3 * buf[pos + 5]
        if header & 0x20:
            if stop >= end:
                raise FastDecodeUnsupported(f"truncated definition message at byte {pos}")
            stop += 1 + 3 * buf[stop]
        if stop > end:
            raise FastDecodeUnsupported(f"truncated definition message at byte {pos}")
        key: Any = buf[pos + 2 : stop]
        dev_info: tuple[DevInfo, ...] = ()
        if header & 0x20:
            dev_info = tuple(self._dev_type(buf[p + 2], buf[p]) for p in range(dev_start + 1, stop, 3))
            key = (key, dev_info)
        layout = self.layouts.get(key)
        if layout is None:
            big = arch == 1
            global_num = int.from_bytes(buf[pos + 3 : pos + 5], "big" if big else "little")
            fields = [(buf[p], buf[p + 1], buf[p + 2]) for p in range(pos + 6, dev_start, 3)]
            dev_fields = [
                (buf[p], buf[p + 1], buf[p + 2], info)
                for p, info in zip(range(dev_start + 1, stop, 3), dev_info, strict=True)
            ]
            layout = Layout(key, global_num, big, fields, dev_fields)
            self.layouts[key] = layout
        return layout, stop

    def _dev_type(self, dev_index: int, field_num: int) -> DevInfo:
        # fitdecode (errors IGNORE/WARN) registers an undeclared developer field as a nameless byte field.
        fields = self.registry.setdefault(dev_index, {})
        return fields.setdefault(field_num, (None, BYTE_ID, None, None))

    def _developer_handler(self, layout: Layout) -> Callable[[int], None]:
        """Parse developer_data_id / field_description messages as they come, as fitdecode does."""
        plan = dict_plan(layout)

        def handle(pos: int) -> None:
            raws = plan.raw_values(self.buf, pos)
            by_num = {num: raw for (num, _, _), raw in zip(layout.fields, raws, strict=True)}
            if layout.global_num == MESG_DEVELOPER_DATA_ID:
                if 3 not in by_num:
                    self.registry[None] = {}
                    return
                index = by_num[3]
                if not isinstance(index, int):
                    raise FastDecodeUnsupported("developer_data_id without a valid developer_data_index")
                self.registry[index] = {}
                return
            index = by_num.get(0)
            number = by_num.get(1)
            if index not in self.registry or not isinstance(number, int):
                raise FastDecodeUnsupported("field_description for an undeclared developer data index")
            base = by_num.get(2)
            if base is None:
                base = BYTE_ID
            elif base not in BASE_TYPES:
                raise FastDecodeUnsupported(f"developer field with unknown base type {base}")
            name = by_num.get(3)
            native = by_num.get(15)
            units = by_num.get(8)
            self.registry[index][number] = (
                name if isinstance(name, str) else None,
                base,
                native if isinstance(native, int) else None,
                units if isinstance(units, str) else None,
            )

        return handle


def _each(handle: Callable[[int], None], step: int) -> Callable[[tuple[int, int]], None]:
    def run(first_and_count: tuple[int, int]) -> None:
        first, count = first_and_count
        for pos in range(first, first + count * step, step):
            handle(pos)

    return run


def _undefined(pos: int) -> None:
    raise FastDecodeUnsupported(f"data message with undefined local message at byte {pos}")


def _undefined_run(first_and_count: tuple[int, int]) -> None:
    raise FastDecodeUnsupported(f"data message with undefined local message at byte {first_and_count[0]}")


def check_readable(layout: Layout) -> None:
    """Refuse layouts that make fitdecode stop or lose its place, so both decoders see the same messages."""
    if any(size == 0 for _, size, _ in layout.fields) or any(f[1] == 0 for f in layout.dev_fields):
        raise FastDecodeUnsupported("field of size 0 in a definition")
    for _num, size, _index, info in layout.dev_fields:
        base = BASE_TYPES.get(info[1], BYTE) if info else BYTE
        if size % base.size:
            # fitdecode reads int(size / base size) values and loses its place in the stream.
            raise FastDecodeUnsupported("developer field size not a multiple of its base type")
