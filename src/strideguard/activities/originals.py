"""The original file of an imported activity, kept compressed (table `source_files`, the export's originals/).

The bytes are the FIT, GPX or TCX file as it was read, after unpacking a .gz or ZIP member: exactly what
the readers parsed, so its SHA-256 is the activity's `source_sha256`. The stored blob is zlib (level 1) or,
for a file that arrived gzipped (a Strava export's .fit.gz), that gzip stream itself: no compressing again.
Both are made in the import's worker processes (in parallel, like the streams); the main process only
writes the row. `unpack` reads either.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

# zlib level 1: 36 MB/s on FIT files against 10 MB/s at level 6, for 1-4 % more bytes (bench figures in
# docs/import.md, "Original files").
LEVEL = 1
_ANY_HEADER = 32 + zlib.MAX_WBITS  # zlib or gzip, told by the header


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One original file: its name as imported, format (fit, gpx or tcx), SHA-256 and size of the bytes,
    and the bytes compressed (zlib or gzip)."""

    name: str
    format: str
    sha256: str
    size: int
    blob: bytes

    def data(self) -> bytes:
        return unpack(self.blob)


def pack(
    name: str, fmt: str, data: bytes, sha256: str | None = None, gzipped: bytes | None = None
) -> SourceFile:
    """The compressed original of `data` (`sha256` when the caller has it already). `gzipped`: the gzip
    file `data` came from, kept as it is when it is one gzip stream of exactly these bytes."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    blob = gzipped if gzipped is not None and _one_stream_of(gzipped, data) else zlib.compress(data, LEVEL)
    return SourceFile(name, fmt, digest, len(data), blob)


def _one_stream_of(gzipped: bytes, data: bytes) -> bool:
    inflater = zlib.decompressobj(wbits=_ANY_HEADER)
    try:
        out = inflater.decompress(gzipped, len(data) + 1)
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data and out == data


def unpack(blob: bytes) -> bytes:
    """The original bytes of a stored blob (zlib or gzip)."""
    return zlib.decompress(blob, wbits=_ANY_HEADER)
