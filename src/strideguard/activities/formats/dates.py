"""The one date rule for every import (FIT, GPX, TCX, Strava manual entries, Garmin summaries, add-run).

An activity must start on or after 1990-01-01 (GPS sport watches appeared in the 1990s; a 1901, 1970 or
1900 date is a broken clock or an empty field) and end no later than tomorrow (a day of slack for clock skew
and time zones; 2099 is a broken clock). A refused activity gets one line saying which date and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from strideguard import config
from strideguard.activities.formats.errors import CorruptFile

EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
EARLIEST_PLAUSIBLE_DATE: date = EARLIEST_PLAUSIBLE.date()
FUTURE_TOLERANCE = timedelta(days=1)
# The way out for one file without a usable date: the runner gives its start (CLI, or the web upload form).
GIVE_START_HINT = (
    'to import it, give its start: `strideguard import FILE --start "YYYY-MM-DD HH:MM"`, '
    "or the start time on the upload page"
)


def date_problem(start: datetime, end: datetime | None = None, *, now: datetime | None = None) -> str | None:
    """Why these activity times are implausible, or None when they are fine."""
    now = now or _now()
    end = end or start
    if start < EARLIEST_PLAUSIBLE:
        return f"implausible date: starts on {start:%Y-%m-%d}, before 1990 (a device clock that was not set?)"
    if end > now + FUTURE_TOLERANCE:
        return f"implausible date: {end:%Y-%m-%d} is in the future (a device clock that was not set?)"
    return None


def span_problem(start: datetime, elapsed_s: float | None, *, now: datetime | None = None) -> str | None:
    """`date_problem` of an activity starting at `start` and lasting `elapsed_s` seconds (unknown: 0)."""
    return date_problem(start, seconds_to_datetime(start.timestamp() + (elapsed_s or 0.0)), now=now)


def _now() -> datetime:
    """Now, or the end of the pretended day when STRIDEGUARD_TODAY moves "today" later (a demo's future)."""
    pretended = datetime.combine(config.today_local(), time.max, tzinfo=UTC)
    return max(datetime.now(UTC), pretended)


def check_dates(start: datetime, end: datetime | None = None, *, now: datetime | None = None) -> None:
    """Raise CorruptFile with `date_problem`'s reason when the times are implausible."""
    problem = date_problem(start, end, now=now)
    if problem is not None:
        raise CorruptFile(problem)


def seconds_to_datetime(seconds: float) -> datetime:
    """Unix seconds as aware UTC, clamped into datetime's range (year 1..9999) so any value can be judged."""
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if seconds > 0 else datetime.min.replace(tzinfo=UTC)


def given_start(text: str, zone: tzinfo | None = None) -> datetime:
    """The start a runner gives for a file without a usable date (`import --start`, the upload form's start
    time): 'YYYY-MM-DD HH:MM', optionally with an offset (+02:00, Z). Without an offset it is wall-clock time
    in `zone` (None: this machine's). Returned aware in the runner's offset (the activity's local time comes
    from it), checked by the date rule; raises ValueError with a one-line reason."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date and time; use 'YYYY-MM-DD HH:MM'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    utc = moment.astimezone(UTC)
    if utc < EARLIEST_PLAUSIBLE:
        raise ValueError(f"{moment:%Y-%m-%d} is before 1990")
    if utc > _now() + FUTURE_TOLERANCE:
        raise ValueError(f"{moment:%Y-%m-%d} is in the future")
    return moment


def given_offset_s(start: datetime) -> int | None:
    """The local UTC offset (s) the runner's start was given in; None for UTC (like a 'Z' in a file)."""
    offset = start.utcoffset()
    return int(offset.total_seconds()) if offset else None
