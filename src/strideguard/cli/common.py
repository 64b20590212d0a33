"""Shared CLI plumbing: the database session, the local athlete, friendly errors, parsing of units."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TextIO

import click
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from strideguard import config, db, store


def _width(stream: TextIO) -> int | None:
    """Rich wraps at 80 columns when output is not a terminal; a log or a pipe reads better unwrapped, so
    use a wide page there unless COLUMNS says otherwise."""
    if os.environ.get("COLUMNS") or stream.isatty():
        return None
    return PIPE_WIDTH


PIPE_WIDTH = 200
console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))


class AppContext:
    """Lazily opened engine for the command being run."""

    def __init__(self, db_url: str | None) -> None:
        self.db_url = config.database_url(db_url)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = db.make_engine(self.db_url)
                db.ensure_schema(self._engine)
            except Exception as exc:  # any driver error: show it in one line, no traceback
                raise click.ClickException(
                    f"cannot open database {self.shown_url}: {_one_line(exc)}"
                ) from None
        return self._engine

    @property
    def shown_url(self) -> str:
        """The URL with any password hidden."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.db_url)

    @contextmanager
    def session(self) -> Iterator[tuple[Session, int]]:
        """A session and the local athlete id; commits on success, rolls back on error."""
        with db.session_factory(self.engine)() as session:
            athlete_id = store.local_athlete(session)
            try:
                yield session, athlete_id
                session.commit()
            except BaseException:
                session.rollback()
                raise


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


pass_app = click.make_pass_decorator(AppContext)

_DISTANCE = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(km|k|m|mi|miles?)?\s*$", re.IGNORECASE)
_DURATION_UNITS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(h|hr|hours?|min|m|minutes?|s|sec|seconds?)", re.I)


def parse_distance_m(text: str) -> float:
    """'10km', '10 k', '5000m', '6.2mi', '10' (km) -> metres."""
    match = _DISTANCE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a distance; try 10km, 5000m or 6.2mi")
    value = float(match.group(1).replace(",", "."))
    unit = (match.group(2) or "km").lower()
    if unit in {"km", "k"}:
        return value * 1000.0
    if unit == "m":
        return value
    return value * 1609.344


def parse_duration_s(text: str) -> float:
    """'55min', '1h05m', '1:05:00', '45:30', '3600s' -> seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}", text):
        parts = [int(p) for p in text.split(":")]
        while len(parts) < 3:
            parts.insert(0, 0)
        return float(parts[0] * 3600 + parts[1] * 60 + parts[2])
    total = 0.0
    pos = 0
    for match in _DURATION_UNITS.finditer(text):
        if text[pos : match.start()].strip():
            break
        value, unit = float(match.group(1)), match.group(2).lower()
        total += value * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1)
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise click.BadParameter(f"{text!r} is not a duration; try 55min, 1h05m or 1:05:00")
    return total


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; use YYYY-MM-DD") from None


class DateParam(click.ParamType):
    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD", param, ctx)


DATE = DateParam()


def km(distance_m: float | None) -> str:
    return "" if distance_m is None else f"{distance_m / 1000:.2f}"


def hms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
