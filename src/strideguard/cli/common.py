"""Shared CLI plumbing: the database session, the local athlete, friendly errors, parsing of units.

Heavy modules (the store, numpy, SQLAlchemy) are imported when a command first opens the database, so
`strideguard --version` and `--help` start fast.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from rich.console import Console

from strideguard import config, units
from strideguard.activities.formats.dates import EARLIEST_PLAUSIBLE_DATE

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session


def _width(stream: TextIO) -> int | None:
    """Rich wraps at 80 columns when output is not a terminal; a log or a pipe reads better unwrapped, so
    use a wide page there unless COLUMNS says otherwise."""
    if os.environ.get("COLUMNS") or stream.isatty():
        return None
    return PIPE_WIDTH


PIPE_WIDTH = 200
console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))

# Exit codes (docs/cli.md): 0 done, 1 a runtime failure (database, files), 2 invalid input, 130 Ctrl+C.
EXIT_INTERRUPTED = 130


class InputError(click.ClickException):
    """Invalid input that click cannot check (an unknown id or name): exit 2 like click's usage errors."""

    exit_code = 2


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 activity', '2 activities', '1 warning', '0 warnings'."""
    if count == 1:
        return f"{count:,} {singular}"
    if plural_form is None:
        plural_form = (
            singular[:-1] + "ies"
            if singular.endswith("y") and singular[-2:-1] not in "aeiou"
            else (singular + "s")
        )
    return f"{count:,} {plural_form}"


class AppContext:
    """Lazily opened engine for the command being run."""

    def __init__(self, db_url: str | None) -> None:
        self.explicit = db_url is not None
        if db_url is not None:
            check_database_url(db_url)
        self.db_url = config.database_url(db_url)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from strideguard.storage import engine as db

            try:
                engine = db.make_engine(self.db_url)
            except Exception as exc:  # a missing driver or a malformed URL: one line, no traceback
                raise click.ClickException(self._open_error(exc)) from None
            try:
                db.ensure_schema(engine)
            except Exception as exc:  # any driver or schema error: show it in one line, no traceback
                engine.dispose()
                raise click.ClickException(self._open_error(exc)) from None
            self._engine = engine
        return self._engine

    def _open_error(self, exc: BaseException) -> str:
        return open_error(self.db_url, exc)

    @property
    def shown_url(self) -> str:
        """The URL with any password hidden."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.db_url)

    @contextmanager
    def session(self) -> Iterator[tuple[Session, int]]:
        """A session and the local athlete id; commits on success, rolls back on error."""
        from sqlalchemy.exc import OperationalError

        from strideguard.storage import activities as store
        from strideguard.storage import engine as db

        engine = self.engine
        try:
            with db.session_factory(engine)() as session:
                athlete_id = store.local_athlete(session)
                try:
                    yield session, athlete_id
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except OperationalError as exc:  # read-only file, server gone: one line, no traceback
            raise click.ClickException(database_error(self.db_url, exc)) from None


def display_unit(session: Session, athlete_id: int) -> str:
    """'km' or 'mi': the athlete's setting (`strideguard settings`), else the locale's."""
    from strideguard.storage import settings

    return settings.distance_unit(session, athlete_id)


def resolve_activity(session: Session, athlete_id: int, ref: str) -> int:
    """An activity id from 'ID', '#ID' or 'last' (the most recent activity); a one-line error otherwise."""
    from strideguard.storage import activities as store

    text = ref.strip().lstrip("#").lower()
    if text == "last":
        latest = store.latest_activity_id(session, athlete_id)
        if latest is None:
            raise click.ClickException("no activities yet, so there is no 'last' one")
        return latest
    if not text.isdigit():
        raise click.BadParameter(
            f"{ref!r} is not an activity id; use a number from `strideguard runs` or 'last'"
        )
    activity_id = int(text)
    try:
        store.get_activity(session, athlete_id, activity_id, with_streams=False)
    except store.NotFound as exc:
        raise InputError(f"{exc}; see `strideguard runs`") from None
    return activity_id


def check_database_url(url: str) -> None:
    """Refuse a --db that would silently lose or misplace data: empty, in-memory SQLite, or an SQLite
    file in a folder that does not exist (a typo would otherwise create folders and an empty log)."""
    if not url.strip():
        raise click.BadParameter(
            "is empty; give a database URL, e.g. sqlite:///path/to/strideguard.sqlite", param_hint="--db"
        )
    if not url.lower().startswith("sqlite"):
        return
    path = sqlite_path(url)
    if path is None:
        raise click.BadParameter(
            f"{url} is an in-memory database: everything would be lost when the command ends; give a "
            "file, e.g. sqlite:///path/to/strideguard.sqlite",
            param_hint="--db",
        )
    folder = path.parent
    if not folder.is_dir():
        raise click.BadParameter(
            f"folder {folder} does not exist (create it first, or check the path in {url})", param_hint="--db"
        )


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (also the `file:...?uri=true` form); None for an in-memory database."""
    from strideguard.storage.engine import sqlite_file

    return sqlite_file(url)


def open_error(url: str, exc: BaseException) -> str:
    """Why the database could not be opened, in one line: the same for every command and for `serve`."""
    from strideguard.storage import engine as db

    if isinstance(exc, (db.ReadOnlyDatabase, db.NewerDatabase)):
        shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
        return f"database {shown} {exc}"
    return database_error(url, exc)


def database_error(url: str, exc: BaseException, opening: bool = True) -> str:
    """What is wrong, in one line, without driver class names. `opening`: the error came while opening the
    database (only then does an SQLite error say "cannot open")."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{shown!r} is not a database URL; use sqlite:///PATH or postgresql://USER@HOST/DBNAME"
    backend = parsed.get_backend_name()
    if isinstance(exc, NoSuchModuleError):
        return (
            f"unknown database kind {parsed.drivername!r} in {shown}; use sqlite:///PATH or postgresql://..."
        )
    if isinstance(exc, ImportError):
        module = getattr(exc, "name", None) or "its driver"
        hint = _DRIVERS.get(backend, f"the Python package that provides {module}")
        return f"no driver for {backend}: install {hint}"
    detail = one_line(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
    if backend == "sqlite":
        path = sqlite_path(url)
        if "readonly" in detail.replace("-", "").replace(" ", "").lower():
            return f"database {path} is read-only: this command cannot save changes"
        if opening:
            return f"cannot open SQLite database {path}: {detail}"
        return f"SQLite database {path}: {detail}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or _PORTS.get(backend, '?')}"
    names = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}
    if isinstance(exc, DBAPIError) and "connect" in detail.lower():
        return f"cannot connect to {names.get(backend, backend)} at {where}: {detail}"
    return f"database error ({names.get(backend, backend)} at {where}): {detail}"


_DRIVERS = {
    "mysql": "mysqlclient (pip install mysqlclient) or use mysql+pymysql:// with PyMySQL",
    "mariadb": "mariadb (pip install mariadb)",
    "postgresql": "psycopg (pip install 'psycopg[binary]')",
    "mssql": "pyodbc (pip install pyodbc)",
    "oracle": "oracledb (pip install oracledb)",
}
_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else exc.__class__.__name__


_one_line = one_line  # the old private name, for modules that still use it


pass_app = click.make_pass_decorator(AppContext)

_DISTANCE = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(km|k|m|mi|miles?)?\s*$", re.IGNORECASE)
_DURATION_UNITS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(h|hr|hours?|min|m|minutes?|s|sec|seconds?)", re.I)
MAX_BARE_KM = 200.0  # a bare number up to this is km; above it is more likely metres, so ask for a unit


def parse_distance_m(text: str, bare_unit: str = "km", max_bare: float = MAX_BARE_KM) -> float:
    """'10km', '10 k', '5000m', '6.2mi', '10' (in `bare_unit`, km or mi, up to `max_bare`) -> metres."""
    match = _DISTANCE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a distance; try 10km, 5000m or 6.2mi")
    value = float(match.group(1).replace(",", "."))
    unit = (match.group(2) or "").lower()
    if not unit:
        if value > max_bare:
            shown = match.group(1)
            raise click.BadParameter(f"{shown}: give a unit, e.g. {shown}m or {value / 1000:g}km")
        unit = bare_unit
    if unit in {"km", "k"}:
        return value * 1000.0
    if unit == "m":
        return value
    return value * 1609.344


def parse_duration_s(text: str) -> float:
    """'55min', '1h05m', '1:05:00', '45:30', '3600s' -> seconds.

    After a larger unit, minutes and seconds must be below 60 ('1h65m' is a typo, not 2:05:00)."""
    text = text.strip()
    bad = f"{text!r} is not a duration; try 55min, 1h05m or 1:05:00"
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}", text):
        parts = [int(p) for p in text.split(":")]
        if any(p >= 60 for p in parts[1:]):
            raise click.BadParameter(f"{text!r}: minutes and seconds after ':' must be below 60")
        while len(parts) < 3:
            parts.insert(0, 0)
        return float(parts[0] * 3600 + parts[1] * 60 + parts[2])
    total = 0.0
    pos = 0
    larger = False  # an earlier, larger unit was given
    last_rank = 3
    for match in _DURATION_UNITS.finditer(text):
        if text[pos : match.start()].strip():
            break
        value, unit = float(match.group(1)), match.group(2).lower()
        rank = 2 if unit.startswith("h") else 1 if unit.startswith("m") else 0
        if rank >= last_rank:
            raise click.BadParameter(bad)  # '5m5m' or '30s1h': units must get smaller
        if larger and value >= 60:
            raise click.BadParameter(
                f"{text!r}: {match.group(0).strip()} after a larger unit must be below 60"
            )
        total += value * (3600, 60, 1)[2 - rank]
        larger, last_rank = True, rank
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise click.BadParameter(bad)
    return total


def duration_reading(text: str, seconds: float) -> str:
    """How a duration was read, and what to write for the other reading of a bare 'H:MM':
    '1:05' -> "read as 1 min 5 s; for an hour and 5 minutes write 1:05:00 or 65min"."""
    read = f"read as {units.spoken_duration(seconds)}"
    match = re.fullmatch(r"\s*(\d+):(\d{1,2})\s*", text)
    if match is None:
        return read
    hours, minutes = int(match.group(1)), int(match.group(2))
    hour_words = "an hour" if hours == 1 else f"{hours} hours"
    return (
        f"{read}; for {hour_words} and {minutes} minute{'s' if minutes != 1 else ''} write "
        f"{hours}:{minutes:02d}:00 or {hours * 60 + minutes}min"
    )


EARLIEST_DATE = EARLIEST_PLAUSIBLE_DATE  # the importers' one date rule (activities/formats/dates.py)


def today_local() -> date:
    """This machine's local calendar date (STRIDEGUARD_TODAY pretends another, see config.today_local)."""
    return config.today_local()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; use YYYY-MM-DD") from None


class DateParam(click.ParamType):
    """A YYYY-MM-DD date; `bounded` ones (the date of something you did) must lie in 1990..today."""

    name = "DATE"

    def __init__(self, bounded: bool = False) -> None:
        self.bounded = bounded

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            day = value
        else:
            try:
                day = date.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not a date; use YYYY-MM-DD", param, ctx)
        if self.bounded:
            if day < EARLIEST_DATE:
                self.fail(f"{day} is before {EARLIEST_DATE}; check the year", param, ctx)
            today = today_local()
            if day > today:
                self.fail(f"{day} is in the future (today is {today})", param, ctx)
        return day


DATE = DateParam()
PAST_DATE = DateParam(bounded=True)


hms = units.duration  # every screen shows a duration the same way: '46:22', '1:05:00'
