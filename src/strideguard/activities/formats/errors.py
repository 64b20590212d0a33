"""Why a file was not imported. Each carries a one-line, user-facing reason (never a traceback)."""

from __future__ import annotations


class FileRejected(Exception):
    """A file that could not be imported; str(exc) is the one-line reason."""


class CorruptFile(FileRejected):
    """The file is damaged or not what its name says (bad CRC, truncated, malformed XML, ...)."""


class LimitExceeded(CorruptFile):
    """The file is larger or longer than the parsing limits allow."""


class UnsupportedFile(FileRejected):
    """Not a format StrideGuard reads (wrong extension, unknown content)."""


class NotAnActivity(FileRejected):
    """A valid file that holds no activity (settings, monitoring, workout, course): skipped, not failed."""
