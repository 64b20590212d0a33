"""Settings from the environment and flags: database URL and parsing limits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import platformdirs

APP_NAME = "strideguard"
DATABASE_URL_ENV = "STRIDEGUARD_DATABASE_URL"
DATA_DIR_ENV = "STRIDEGUARD_DATA_DIR"
TODAY_ENV = "STRIDEGUARD_TODAY"


def today_local() -> date:
    """This machine's local calendar date, the "today" of every screen (CLI and web).

    STRIDEGUARD_TODAY=YYYY-MM-DD pretends another day, so a demo, a screenshot or a test of a fixed history
    reads the same on any day; a value that is not a date is ignored.
    """
    override = os.environ.get(TODAY_ENV, "").strip()
    if override:
        try:
            return date.fromisoformat(override)
        except ValueError:
            pass
    return datetime.now(UTC).astimezone().date()


def data_dir() -> Path:
    """The per-user data directory (created on demand); STRIDEGUARD_DATA_DIR overrides it."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """SQLite file in the user data directory."""
    return f"sqlite:///{data_dir() / 'strideguard.sqlite'}"


def database_url(flag: str | None = None) -> str:
    """--db flag, else STRIDEGUARD_DATABASE_URL, else the default SQLite file."""
    return flag or os.environ.get(DATABASE_URL_ENV) or default_database_url()


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds for parsing one file, so one hostile file cannot exhaust the machine.

    A 24-hour ultra at 1 Hz is 86,400 points and a few MB of FIT; the limits leave room for
    several times that.
    """

    max_file_bytes: int = 64 * 1024 * 1024  # after gunzip
    max_compressed_bytes: int = 32 * 1024 * 1024
    max_points: int = 400_000
    # CPU seconds of the parsing thread, not wall time: a busy server must not refuse a real file.
    max_seconds: float = 30.0


DEFAULT_LIMITS = Limits()
