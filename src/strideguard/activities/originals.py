"""The original file of an imported activity, kept compressed (table `source_files`, the export's originals/).

The bytes are the FIT, GPX or TCX file as it was read, after unpacking a .gz or ZIP member: exactly what
the readers parsed, so its SHA-256 is the activity's `source_sha256`. Compressed with zlib in the import's
worker processes (in parallel, like the streams), so the main process only writes the row.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

LEVEL = 6  # zlib's default: FIT files shrink ~2.5x, GPX/TCX ~8x; level 9 gains ~1 % for twice the time


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One original file: its name as imported, format (fit, gpx or tcx), SHA-256 and size of the bytes,
    and the bytes zlib-compressed."""

    name: str
    format: str
    sha256: str
    size: int
    blob: bytes

    def data(self) -> bytes:
        return unpack(self.blob)


def pack(name: str, fmt: str, data: bytes, sha256: str | None = None) -> SourceFile:
    """The compressed original of `data` (`sha256` when the caller has it already)."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    return SourceFile(name, fmt, digest, len(data), zlib.compress(data, LEVEL))


def unpack(blob: bytes) -> bytes:
    return zlib.decompress(blob)
