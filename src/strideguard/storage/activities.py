"""Save, dedupe and list activities; rows <-> domain dataclasses. Every query is athlete-scoped.

Functions take an open `Session` and never commit: the caller decides the transaction, so a failed file
can be rolled back without touching what was already saved.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.activities.originals import SourceFile
from strideguard.model import SOURCE_FORMATS, SPORTS, Activity, Lap, require_utc
from strideguard.storage import bulk as store_bulk
from strideguard.storage import shoe_use
from strideguard.storage.engine import SINGLE_STATEMENT, plain_rows
from strideguard.storage.tables import (
    ActivityRow,
    AthleteRow,
    LapRow,
    SourceFileRow,
    StreamRow,
)

LOCAL_ATHLETE_NAME = "Me"
LOCAL_KEY = "local"  # athletes.local_key of the local athlete (unique)
# Two recordings that start within this many seconds of each other, in the same sport family, are the same
# activity (e.g. the watch's FIT and the GPX a phone app exported of the same run).
SAME_START_TOLERANCE_S = store_bulk.SAME_START_TOLERANCE_S
bulk_saving = store_bulk.bulk_saving


class NotFound(LookupError):
    """No such row for this athlete."""


def local_athlete(session: Session) -> int:
    """The single athlete of local mode, created on first use.

    Insert-or-get on the unique `local_key`: two processes starting on a new database at once get the
    same athlete (a plain check-then-insert gave each its own, and hid the runs saved under the second).
    """
    query = sa.select(AthleteRow.id).where(AthleteRow.local_key == LOCAL_KEY)
    athlete_id = session.scalar(query)
    if athlete_id is None:
        session.execute(
            insert_ignoring_conflicts(session, AthleteRow, name=LOCAL_ATHLETE_NAME, local_key=LOCAL_KEY)
        )
        athlete_id = session.scalar(query)
        assert athlete_id is not None
    return athlete_id


def insert_ignoring_conflicts(session: Session, table: Any, **values: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL): the row a concurrent writer inserted
    first wins, and no error is raised; read the row back afterwards."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**values).on_conflict_do_nothing()


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What saving one activity did: 'imported' with its new id, or 'duplicate' of an existing one."""

    status: str
    activity_id: int
    duplicate_of: str | None = None  # human label of the existing activity


_family = store_bulk.sport_family


def describe(row: ActivityRow) -> str:
    """A short label a runner recognises: '#12 run 2024-05-01 10.0 km'."""
    return store_bulk.label(row.id, row.sport, row.local_date, row.distance_m)


def find_duplicate(session: Session, athlete_id: int, activity: Activity) -> ActivityRow | None:
    """An already stored activity that `activity` repeats: same file part, or same start and sport family."""
    if activity.source_sha256:
        row = session.scalar(
            sa.select(ActivityRow).where(
                ActivityRow.athlete_id == athlete_id,
                ActivityRow.source_sha256 == activity.source_sha256,
                ActivityRow.source_part == activity.source_part,
            )
        )
        if row is not None:
            return row
    if activity.source_format == "manual":
        # Hand-entered runs carry no exact time; two on one day are two runs.
        return None
    window = timedelta(seconds=SAME_START_TOLERANCE_S)
    candidates = session.scalars(
        sa.select(ActivityRow).where(
            ActivityRow.athlete_id == athlete_id,
            ActivityRow.start_utc >= activity.start_utc - window,
            ActivityRow.start_utc <= activity.start_utc + window,
        )
    ).all()
    for row in candidates:
        if _family(row.sport) == _family(activity.sport):
            return row
    return None


def start_times(session: Session, athlete_id: int, since: datetime, until: datetime) -> list[float]:
    """Unix start times of the athlete's activities between `since` and `until`, sorted."""
    rows = session.scalars(
        sa.select(ActivityRow.start_utc).where(
            ActivityRow.athlete_id == athlete_id,
            ActivityRow.start_utc >= since,
            ActivityRow.start_utc <= until,
        )
    ).all()
    return sorted(r.timestamp() for r in rows)


_ACTIVITIES = ActivityRow.__table__
_LAPS = LapRow.__table__
_STREAMS = StreamRow.__table__
_SOURCES = SourceFileRow.__table__


def save_activity(
    session: Session,
    athlete_id: int,
    activity: Activity,
    import_id: int | None = None,
    streams_blob: tuple[int, bytes] | None = None,
    source_file: SourceFile | None = None,
) -> SaveOutcome:
    """Insert one activity (summary, laps, streams) unless it duplicates a stored one.

    `streams_blob` is (n_samples, streams.encode(...)) when a worker process encoded the streams already.
    Rows are written with Core INSERTs: the ORM's unit of work cost more than the database did in bulk
    imports. Inside `store_bulk.bulk_saving` the duplicate check and default shoe come from the batch's
    prefetch, and the laps and streams rows are queued for one executemany per batch.
    `source_file` is the original file the activity was read from (kept in `source_files`).
    """
    bulk = store_bulk.current(session, athlete_id)
    if bulk is not None and bulk.covers(activity):
        stored = bulk.find(activity)
        if stored is not None:
            return SaveOutcome("duplicate", stored.id, stored.label)
        auto_shoe = bulk.shoe_on
    else:
        existing = find_duplicate(session, athlete_id, activity)
        if existing is not None:
            return SaveOutcome("duplicate", existing.id, describe(existing))
        auto_shoe = None  # read the shoes only if this run needs one picked
    # A shoe named by the export's gear or the runner wins; else the one in use on the run's date.
    shoe_auto = activity.shoe_id is None
    if not shoe_auto:
        shoe_id = activity.shoe_id
    elif auto_shoe is not None:
        shoe_id = auto_shoe(activity.sport, activity.local_date)
    else:
        shoe_id = shoe_use.Picker(session, athlete_id).pick(activity.sport, activity.local_date)
    connection = session.connection()
    result = connection.execute(
        _ACTIVITIES.insert(),
        {
            "athlete_id": athlete_id,
            "sport": activity.sport,
            "start_utc": activity.start_utc,
            "utc_offset_s": activity.utc_offset_s,
            "local_date": activity.local_date,
            "distance_m": activity.distance_m,
            "moving_time_s": activity.moving_time_s,
            "elapsed_time_s": activity.elapsed_time_s,
            "ascent_m": activity.ascent_m,
            "descent_m": activity.descent_m,
            "avg_heart_rate_bpm": activity.avg_heart_rate_bpm,
            "max_heart_rate_bpm": activity.max_heart_rate_bpm,
            "avg_cadence_spm": activity.avg_cadence_spm,
            "name": activity.name,
            "description": activity.description,
            "device": activity.device,
            "commute": activity.commute,
            "rpe": activity.rpe,
            "feel": activity.feel,
            "shoe_id": shoe_id,
            "shoe_auto": shoe_auto,
            "sport_note": activity.sport_note,
            "source_format": activity.source_format,
            "source_sha256": activity.source_sha256,
            "source_part": activity.source_part,
            "source_name": activity.source_name,
            "damaged": activity.damaged,
            "import_id": import_id,
        },
    )
    activity_id = int(result.inserted_primary_key[0])
    laps = [
        {
            "activity_id": activity_id,
            "idx": idx,
            "start_utc": lap.start_utc,
            "elapsed_time_s": lap.elapsed_time_s,
            "moving_time_s": lap.moving_time_s,
            "distance_m": lap.distance_m,
            "avg_heart_rate_bpm": lap.avg_heart_rate_bpm,
            "max_heart_rate_bpm": lap.max_heart_rate_bpm,
            "avg_cadence_spm": lap.avg_cadence_spm,
            "ascent_m": lap.ascent_m,
            "descent_m": lap.descent_m,
        }
        for idx, lap in enumerate(activity.laps)
    ]
    if streams_blob is None and activity.streams is not None and len(activity.streams):
        from strideguard.activities import streams as stream_codec  # numpy: only when there are streams

        streams_blob = (len(activity.streams), stream_codec.encode(activity.streams))
    stream = (
        None
        if streams_blob is None
        else {"activity_id": activity_id, "n_samples": streams_blob[0], "blob": streams_blob[1]}
    )
    source = None
    if source_file is not None:
        source = {
            "activity_id": activity_id,
            "name": source_file.name[:1000],
            "format": source_file.format,
            "sha256": source_file.sha256,
            "size": source_file.size,
            "blob": source_file.blob,
        }
    if bulk is not None:
        bulk.queue(laps, stream, source)
        bulk.saved(activity_id, activity)
    else:
        if laps:  # one executemany: a run has tens of laps
            connection.execute(_LAPS.insert(), laps)
        if stream is not None:
            connection.execute(_STREAMS.insert(), stream)
        if source is not None:
            connection.execute(_SOURCES.insert(), source)
    return SaveOutcome("imported", activity_id)


def save_activities(
    session: Session, athlete_id: int, activities: list[Activity], import_id: int | None = None
) -> list[SaveOutcome]:
    """Save several activities in the caller's transaction; duplicates are reported, not stored."""
    return [save_activity(session, athlete_id, a, import_id) for a in activities]


# The columns `to_activity` reads: lists select only these, as plain rows. Building ORM instances cost
# three quarters of the dashboard's time on a 10-year history.
SUMMARY_COLUMNS = tuple(
    getattr(ActivityRow, name)
    for name in (
        "id", "sport", "start_utc", "utc_offset_s", "source_format", "distance_m", "moving_time_s",
        "elapsed_time_s", "ascent_m", "descent_m", "avg_heart_rate_bpm", "max_heart_rate_bpm",
        "avg_cadence_spm", "name", "description", "device", "commute", "rpe", "feel", "shoe_id",
        "shoe_auto", "sport_note", "source_sha256", "source_part", "source_name", "damaged", "import_id",
    )
)  # fmt: skip


_SUMMARY_NAMES = tuple(column.key for column in SUMMARY_COLUMNS)


def _summary(fields: dict[str, Any], **more: Any) -> Activity:
    """An Activity from the SUMMARY_COLUMNS values by name (and laps or streams)."""
    fields["shoe_auto"] = bool(fields["shoe_auto"])
    return Activity(**fields, **more)


def _stored_summary_builder() -> Any:
    """A function from one row of SUMMARY_COLUMNS to the Activity `_summary` makes of it, three times as
    fast: it fills the frozen dataclass's slots directly instead of through its generated __init__ (8 us
    an activity; a dashboard view reads about two hundred). It checks what __post_init__ checks."""
    setters = tuple(getattr(Activity, name).__set__ for name in _SUMMARY_NAMES)
    defaults = []
    for spec in fields(Activity):
        if spec.init and spec.name not in _SUMMARY_NAMES:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise TypeError(f"Activity.{spec.name} has no default: add it to SUMMARY_COLUMNS")
            defaults.append((getattr(Activity, spec.name).__set__, spec.default, spec.default_factory))
    start_at, offset_at, auto_at = (
        _SUMMARY_NAMES.index(n) for n in ("start_utc", "utc_offset_s", "shoe_auto")
    )
    sport_at, format_at = _SUMMARY_NAMES.index("sport"), _SUMMARY_NAMES.index("source_format")
    set_start, set_auto = Activity.start_utc.__set__, Activity.shoe_auto.__set__
    set_local = Activity.local_date.__set__
    sports, formats = frozenset(SPORTS), frozenset(SOURCE_FORMATS)
    new = object.__new__

    def build(values: Sequence[Any]) -> Activity:
        if values[sport_at] not in sports or values[format_at] not in formats:
            return _summary(dict(zip(_SUMMARY_NAMES, values, strict=True)))  # raises as the constructor does
        activity = new(Activity)
        for setter, value in zip(setters, values, strict=True):
            setter(activity, value)
        for setter, default, factory in defaults:
            setter(activity, factory() if default is MISSING else default)
        start = require_utc(values[start_at])
        set_start(activity, start)
        set_auto(activity, bool(values[auto_at]))
        set_local(activity, (start + timedelta(seconds=values[offset_at] or 0)).date())
        return activity

    return build


_from_stored = _stored_summary_builder()


def summaries(
    session: Session, query: sa.Select[Any], parameters: dict[str, Any] | None = None
) -> list[Activity]:
    """Activities (no laps, no streams) from a `select(*SUMMARY_COLUMNS)` query."""
    # By position: a Row's attribute lookups cost more than building the Activity (the dashboard reads
    # a few hundred of these per view); all rows in one call (iterating fetches them one by one).
    return [_from_stored(values) for values in plain_rows(session, query, parameters).all()]


def to_activity(
    row: ActivityRow | sa.Row[Any], laps: tuple[Lap, ...] = (), with_streams: StreamRow | None = None
) -> Activity:
    """The domain object for a stored row (an ORM row, or a plain row of SUMMARY_COLUMNS)."""
    return _summary(
        {name: getattr(row, name) for name in _SUMMARY_NAMES},
        laps=laps,
        streams=_decode(with_streams.blob) if with_streams is not None else None,
    )


def _decode(blob: bytes) -> Any:
    from strideguard.activities import streams as stream_codec  # numpy: only when streams are read

    return stream_codec.decode(blob)


def list_activities(
    session: Session,
    athlete_id: int,
    since: date | None = None,
    until: date | None = None,
    sports: frozenset[str] | set[str] | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[Activity]:
    """Summaries (no laps, no streams) of the athlete's activities by local date, filtered."""
    query = _list_statement(
        since is not None, until is not None, tuple(sorted(sports or ())), limit is not None, newest_first
    )
    # Parameters the statement's shape does not use are ignored.
    return summaries(session, query, {"athlete": athlete_id, "since": since, "until": until, "limit": limit})


@functools.lru_cache(maxsize=64)
def _list_statement(
    since: bool, until: bool, sports: tuple[str, ...], limited: bool, newest_first: bool
) -> sa.Select[Any]:
    """The statement of `list_activities` for one shape of filter, built once: building and keying it
    cost as much as running it (the dashboard asks three times per view)."""
    query = sa.select(*SUMMARY_COLUMNS).where(ActivityRow.athlete_id == sa.bindparam("athlete"))
    if since:
        query = query.where(ActivityRow.local_date >= sa.bindparam("since"))
    if until:
        query = query.where(ActivityRow.local_date <= sa.bindparam("until"))
    if sports:
        query = query.where(ActivityRow.sport.in_(sports))
    order = (
        (ActivityRow.start_utc.desc(), ActivityRow.id.desc())
        if newest_first
        else (ActivityRow.start_utc, ActivityRow.id)
    )
    query = query.order_by(*order)
    if limited:
        query = query.limit(sa.bindparam("limit", type_=sa.Integer))
    return query


def count_activities(
    session: Session, athlete_id: int, since: date | None = None, until: date | None = None
) -> int:
    """How many activities the athlete has with a local date in [since, until]."""
    query = sa.select(sa.func.count()).select_from(ActivityRow).where(ActivityRow.athlete_id == athlete_id)
    if since is not None:
        query = query.where(ActivityRow.local_date >= since)
    if until is not None:
        query = query.where(ActivityRow.local_date <= until)
    return int(session.scalar(query) or 0)


def get_activity(session: Session, athlete_id: int, activity_id: int, with_streams: bool = True) -> Activity:
    """One activity with its laps (and streams); NotFound if it is not this athlete's."""
    parameters = {"id": activity_id, "athlete": athlete_id}
    found = plain_rows(session, _ONE_ACTIVITY, parameters).first()
    if found is None:
        raise NotFound(f"no activity #{activity_id}")
    laps = tuple(
        Lap(**dict(zip(_LAP_FIELDS, values, strict=True)))
        for values in plain_rows(session, _LAPS_OF, parameters)
    )
    return to_activity(found, laps, session.get(StreamRow, activity_id) if with_streams else None)


def get_summary(session: Session, athlete_id: int, activity_id: int) -> Activity:
    """One activity's summary (no laps, no streams); NotFound if it is not this athlete's. One statement:
    what an edit answers with."""
    found = summaries(session, _ONE_ACTIVITY, {"id": activity_id, "athlete": athlete_id})
    if not found:
        raise NotFound(f"no activity #{activity_id}")
    return found[0]


# Plain statements built once: an activity's page and every edit read one activity (the ORM's entity
# loading was half of an edit's time on a busy server, issue 13).
_ONE_ACTIVITY = sa.select(*SUMMARY_COLUMNS).where(
    ActivityRow.id == sa.bindparam("id"), ActivityRow.athlete_id == sa.bindparam("athlete")
)
_LAP_FIELDS = (
    "start_utc", "elapsed_time_s", "moving_time_s", "distance_m", "avg_heart_rate_bpm", "max_heart_rate_bpm",
    "avg_cadence_spm", "ascent_m", "descent_m",
)  # fmt: skip
_LAPS_OF = (  # of an activity the query above found to be the athlete's
    sa.select(*(getattr(LapRow, name) for name in _LAP_FIELDS))
    .where(LapRow.activity_id == sa.bindparam("id"))
    .order_by(LapRow.idx)
)


def first_activity_date(
    session: Session, athlete_id: int, sports: frozenset[str] | set[str] | None = None
) -> date | None:
    """The local date of the athlete's first logged activity (of `sports`), or None for an empty log."""
    query = _first_date_statement(tuple(sorted(sports or ())))
    return plain_rows(session, query, {"athlete": athlete_id}).scalar()


@functools.lru_cache(maxsize=8)
def _first_date_statement(sports: tuple[str, ...]) -> sa.Select[Any]:
    """`first_activity_date`'s statement per set of sports, built once (the dashboard asks every view)."""
    query = sa.select(sa.func.min(ActivityRow.local_date)).where(
        ActivityRow.athlete_id == sa.bindparam("athlete")
    )
    return query.where(ActivityRow.sport.in_(sports)) if sports else query


def latest_activity_id(session: Session, athlete_id: int, sports: frozenset[str] | None = None) -> int | None:
    """The most recent activity's id (for `--activity last`)."""
    query = sa.select(ActivityRow.id).where(ActivityRow.athlete_id == athlete_id)
    if sports:
        query = query.where(ActivityRow.sport.in_(sorted(sports)))
    return session.scalar(query.order_by(ActivityRow.start_utc.desc(), ActivityRow.id.desc()).limit(1))


_EDITABLE = frozenset({"rpe", "feel", "shoe_id", "shoe_auto", "name", "description", "sport", "sport_note"})


def _holds_no_rows(session: Session) -> bool:
    """Nothing loaded or pending in the session: a plain UPDATE has no ORM objects to keep in step."""
    return not (session.identity_map or session.new or session.dirty or session.deleted)


def _check_editable(changes: dict[str, object]) -> None:
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")


def edit_activity(
    session: Session, athlete_id: int, activity_id: int, alone: bool = False, **changes: object
) -> Activity:
    """`update_activity`, answering with the activity's summary as it now is: in one statement (UPDATE ...
    RETURNING) where the database can return the row it changes and the session holds no loaded rows (a
    web request's; the ORM keeps loaded rows in step), else the UPDATE and a read. `alone`: the caller
    commits right after and wrote nothing before, so on a session that reads outside transactions
    (PostgreSQL, the web's) the statement may commit by itself (storage/engine.SINGLE_STATEMENT)."""
    # update_returning: False for an SQLite older than 3.35
    if not (changes and _holds_no_rows(session) and session.get_bind().dialect.update_returning):
        if changes:
            update_activity(session, athlete_id, activity_id, **changes)
        return get_summary(session, athlete_id, activity_id)
    _check_editable(changes)
    parameters = {"edited": activity_id, "owner": athlete_id, **{f"new_{k}": v for k, v in changes.items()}}
    row = session.connection().execute(_edit_statement(tuple(sorted(changes)), alone), parameters).first()
    if row is None:
        raise NotFound(f"no activity #{activity_id}")
    return _from_stored(row)


@functools.lru_cache(maxsize=64)
def _edit_statement(names: tuple[str, ...], alone: bool) -> Any:
    """`edit_activity`'s UPDATE ... RETURNING for one set of changed fields, built once (building it cost
    as much as running it)."""
    statement = (
        sa.update(ActivityRow)
        .where(ActivityRow.id == sa.bindparam("edited"), ActivityRow.athlete_id == sa.bindparam("owner"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
        .returning(*SUMMARY_COLUMNS)
    )
    return statement.execution_options(**{SINGLE_STATEMENT: True}) if alone else statement


def update_activity(session: Session, athlete_id: int, activity_id: int, **changes: object) -> None:
    """Change editable fields (rpe, feel, shoe_id, name, description) of one of the athlete's activities."""
    _check_editable(changes)
    mine = (ActivityRow.id == activity_id, ActivityRow.athlete_id == athlete_id)
    if not changes:
        if session.scalar(sa.select(ActivityRow.id).where(*mine)) is None:
            raise NotFound(f"no activity #{activity_id}")
        return
    # One UPDATE, without loading the row first. Rows already loaded in the session are kept in step by the
    # ORM's UPDATE; a session that holds none (a web request's) runs it plainly: a fifth of an edit's time.
    statement = sa.update(ActivityRow).where(*mine).values(**changes)
    plain = _holds_no_rows(session)
    result = session.connection().execute(statement) if plain else session.execute(statement)
    if result.rowcount == 0:
        raise NotFound(f"no activity #{activity_id}")


def set_sport(session: Session, athlete_id: int, activity_id: int, sport: str) -> None:
    """The runner's word on an activity's sport: stored, its note cleared (confirmed), and an automatically
    chosen shoe chosen again for that sport. The aggregate triggers move it in or out of the load."""
    if sport not in SPORTS:
        raise ValueError(f"unknown sport {sport!r}; use one of {', '.join(SPORTS)}")
    update_activity(session, athlete_id, activity_id, sport=sport, sport_note=None)
    shoe_use.reassign(session, athlete_id, activity_ids=[activity_id])


def manual_activity(
    start_utc: datetime,
    distance_m: float,
    duration_s: float,
    sport: str = "run",
    utc_offset_s: int | None = None,
    rpe: float | None = None,
    name: str | None = None,
) -> Activity:
    """An activity entered by hand (treadmill without a file, forgotten watch)."""
    activity = Activity(
        sport=sport,
        start_utc=start_utc,
        utc_offset_s=utc_offset_s,
        source_format="manual",
        distance_m=distance_m,
        moving_time_s=duration_s,
        elapsed_time_s=duration_s,
        rpe=rpe,
        name=name,
    )
    return replace(activity)
