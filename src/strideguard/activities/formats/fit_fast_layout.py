"""Shared types of the fast FIT decoder: the fallback signal and one distinct definition ("layout")."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

# A developer field as its field_description declared it: (field name, base type byte, native field number,
# units).
DevInfo = tuple[str | None, int, int | None, str | None]

_NO_POSITIONS = np.zeros(0, dtype=np.int64)


class FastDecodeUnsupported(Exception):
    """The fast decoder meets something it does not handle; the caller falls back to fitdecode."""


class Layout:
    """One distinct definition message (global message, endianness, fields) and where its data messages are.

    `key` is the definition's bytes from the architecture byte on (plus the developer fields' declarations);
    it also keys the decode plans cached across files, since equal keys read equal rows. Message positions
    (of their one-byte headers) are kept compactly, 8 bytes per message or 16 per run of consecutive ones.
    """

    __slots__ = (
        "_positions",
        "big_endian",
        "compressed",
        "dev_fields",
        "fields",
        "global_num",
        "key",
        "row_size",
        "runs",
        "singles",
    )

    def __init__(
        self,
        key: Any,
        global_num: int,
        big_endian: bool,
        fields: list[tuple[int, int, int]],
        dev_fields: list[tuple[int, int, int, DevInfo | None]],
    ) -> None:
        self.key = key
        self.global_num = global_num
        self.big_endian = big_endian
        self.fields = fields  # (field number, size in bytes, base type byte)
        self.dev_fields = dev_fields  # (field number, size in bytes, developer data index, declaration)
        self.row_size = sum(f[1] for f in fields) + sum(f[1] for f in dev_fields)
        self.singles = array("q")  # normal data messages met one at a time
        self.runs = array("q")  # (first position, count) pairs of consecutive normal data messages
        self.compressed = array("q")  # compressed-timestamp data messages, in file order
        self._positions: np.ndarray | None = None

    @property
    def used(self) -> bool:
        return bool(self.singles or self.runs or self.compressed)

    def positions(self) -> np.ndarray:
        """Positions of the normal data messages, ascending (int64)."""
        if self._positions is None:
            singles = np.frombuffer(self.singles, dtype=np.int64) if self.singles else _NO_POSITIONS
            if not self.runs:
                self._positions = singles
            else:
                pairs = np.frombuffer(self.runs, dtype=np.int64).reshape(-1, 2)
                starts, counts = pairs[:, 0], pairs[:, 1]
                first_index = np.cumsum(counts) - counts
                within = np.arange(int(counts.sum())) - np.repeat(first_index, counts)
                in_runs = np.repeat(starts, counts) + within * (self.row_size + 1)
                if len(singles):
                    in_runs = np.concatenate((singles, in_runs))
                    in_runs.sort()  # each list is in file order; together they interleave
                self._positions = in_runs
        return self._positions

    def compressed_positions(self) -> np.ndarray:
        """Positions of the compressed-timestamp data messages, ascending (int64)."""
        return np.frombuffer(self.compressed, dtype=np.int64) if self.compressed else _NO_POSITIONS
