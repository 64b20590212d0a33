"""Fast vectorised FIT decoder (placeholder until the NumPy decoder lands: always defers to fitdecode)."""

from __future__ import annotations

from strideguard.importers.fit_decoded import FitMessages


class FastDecodeUnsupported(Exception):
    """The fast decoder meets something it does not handle; the caller falls back to fitdecode."""


def decode_fast(data: bytes) -> FitMessages:
    """Decode `data` or raise FastDecodeUnsupported."""
    raise FastDecodeUnsupported("fast decoder not available")
