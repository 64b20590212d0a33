"""SQLAlchemy 2.0 tables with portable types (SQLite and PostgreSQL). The engine and migrations: engine.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that refuses naive datetimes and always returns aware UTC ones."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime not allowed in the database: {value!r}")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class UserRow(Base):
    """An account on a club/coach server (local mode has none)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A coach (or an admin) may create invite links when registration is by invite.
    is_coach: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # A disabled account cannot log in and its sessions are revoked (`strideguard users disable`).
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class AuthSessionRow(Base):
    """A login: the browser's cookie holds a random id, this row only its SHA-256 (a database leak gives
    no usable cookie). Deleting the row logs that browser out."""

    __tablename__ = "auth_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute end, whatever the activity


class LoginThrottleRow(Base):
    """Failed logins per key ('account:EMAIL' or 'address:IP'), shared by every server process."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No attempt is checked before this moment (a growing delay, or the lock after too many failures).
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InviteRow(Base):
    """A single-use registration link (registration policy `invite`); the link holds the token, this row
    its SHA-256."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AthleteRow(Base):
    """Whose data a row is. Every other table hangs off an athlete."""

    __tablename__ = "athletes"
    __table_args__ = (sa.Index("uq_athletes_local_key", "local_key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # "local" for the one athlete of local mode, NULL otherwise: unique, so two processes starting on a new
    # database cannot both create one (revision 0010).
    local_key: Mapped[str | None] = mapped_column(sa.String(20))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raised by triggers (revision 0014) on every change to what this athlete's pages show: the key of the
    # page cache (web/pagecache.py), the same in every server process.
    data_version: Mapped[int] = mapped_column(sa.Integer, server_default="0", default=0)


class ShareRow(Base):
    """An athlete's data shared with another user (e.g. a coach), read-only."""

    __tablename__ = "shares"
    __table_args__ = (sa.UniqueConstraint("athlete_id", "user_id", name="uq_shares_athlete_user"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the other user sees (storage/sharing.py, migration 0012): "training", "training_pain" or
    # "everything"; with "training" only, show_flags lets them see the plain "pain over limits" and
    # "urgent hip check" flags without any detail. A new share that names no level gets the least
    # ("training"); rows from before 0012 got "everything" (the server default), which they showed.
    level: Mapped[str] = mapped_column(sa.String(20), default="training", server_default="everything")
    show_flags: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class AuditRow(Base):
    """One event of an account: login, share, export, deletion (storage/audit.py, migration 0012)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_user_at", "user_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str | None] = mapped_column(sa.Text)


# --- display settings (migration 0004) ---------------------------------------------------------------------


class AthleteSettingsRow(Base):
    """How one athlete reads numbers: kilometres or miles (`distance_unit`; no row, or NULL: from the
    locale). Stored values stay SI; only what screens show changes."""

    __tablename__ = "athlete_settings"
    athlete_id: Mapped[int] = mapped_column(
        sa.ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True
    )
    distance_unit: Mapped[str | None] = mapped_column(sa.String(2))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# ------------------------------------------------------------------------------------------------------------


class ShoeRow(Base):
    __tablename__ = "shoes"
    # One active shoe per name: concurrent imports naming the same gear share it (revision 0010). Retired
    # shoes may repeat a name (the runner bought the same model again).
    __table_args__ = (
        sa.Index(
            "uq_shoes_athlete_active_name",
            "athlete_id",
            "name",
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    brand: Mapped[str | None] = mapped_column(sa.String(200))
    model: Mapped[str | None] = mapped_column(sa.String(200))
    start_distance_m: Mapped[float] = mapped_column(sa.Float, default=0.0)
    retire_at_m: Mapped[float] = mapped_column(sa.Float, default=450_000.0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The dates it was in use (migration 0009). NULL from: its first run, else the day it was added;
    # NULL until: its retirement, else still in use. A run gets the shoe in use on its date.
    in_use_from: Mapped[date | None] = mapped_column(sa.Date)
    in_use_until: Mapped[date | None] = mapped_column(sa.Date)


class ShoeDefaultRow(Base):
    """The shoe applied on import to new activities of one sport."""

    __tablename__ = "shoe_defaults"
    athlete_id: Mapped[int] = mapped_column(
        sa.ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True
    )
    sport: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    shoe_id: Mapped[int] = mapped_column(sa.ForeignKey("shoes.id", ondelete="CASCADE"))


class ImportRow(Base):
    """One import run (files, folder or export archive) and its summary."""

    __tablename__ = "imports"
    # A job's progress page looks at the athlete's imports begun since it was queued (revision 0016).
    __table_args__ = (sa.Index("ix_imports_athlete_started", "athlete_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(sa.Text)
    # SHA-256 of an archive (of the paths given, for loose files and folders), so running the same command
    # again resumes this import.
    source_sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="files")
    status: Mapped[str] = mapped_column(sa.String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    n_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_imported: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_duplicates: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # The upload job that ran it (revision 0018): the job's progress page reads its imports by this.
    job_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)


class ImportItemRow(Base):
    """One member of an import and what became of it; finished items are not redone on resume."""

    __tablename__ = "import_items"
    __table_args__ = (sa.UniqueConstraint("import_id", "member", name="uq_import_items_import_member"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20))  # imported | duplicate | skipped | failed
    message: Mapped[str | None] = mapped_column(sa.Text)
    activity_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="SET NULL"), index=True
    )


class ImportJobRow(Base):
    """A browser upload waiting for, or being run by, an import worker (the queue of `import_jobs`)."""

    __tablename__ = "import_jobs"
    __table_args__ = (sa.Index("ix_import_jobs_status_created", "status", "created_at"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # url-safe token, in the job's URL
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")  # queued|running|finished|failed
    folder: Mapped[str] = mapped_column(sa.Text)  # absolute path of the uploaded files (shared storage)
    files: Mapped[list[str]] = mapped_column(sa.JSON)  # the names as uploaded, for the progress page
    # The job's options: a list of sports (None: the import's default sports), or, when the runner gave the
    # start of its one file, {"sports": list | None, "start": ISO date-time with offset}.
    sports: Mapped[list[str] | dict[str, Any] | None] = mapped_column(sa.JSON)
    totals: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)  # source -> items, for progress
    worker: Mapped[str | None] = mapped_column(sa.String(200))  # host:pid of the worker running it
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # ImportSummary.to_json()
    error: Mapped[str | None] = mapped_column(sa.Text)


class ActivityRow(Base):
    """Summary row per activity: everything load analytics needs, without the samples."""

    __tablename__ = "activities"
    __table_args__ = (
        sa.UniqueConstraint("athlete_id", "source_sha256", "source_part", name="uq_activities_source"),
        sa.Index("ix_activities_athlete_start", "athlete_id", "start_utc"),
        sa.Index("ix_activities_athlete_local_date", "athlete_id", "local_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"))
    sport: Mapped[str] = mapped_column(sa.String(20))
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    utc_offset_s: Mapped[int | None] = mapped_column(sa.Integer)
    local_date: Mapped[date] = mapped_column(sa.Date)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    moving_time_s: Mapped[float | None] = mapped_column(sa.Float)
    elapsed_time_s: Mapped[float | None] = mapped_column(sa.Float)
    ascent_m: Mapped[float | None] = mapped_column(sa.Float)
    descent_m: Mapped[float | None] = mapped_column(sa.Float)
    avg_heart_rate_bpm: Mapped[float | None] = mapped_column(sa.Float)
    max_heart_rate_bpm: Mapped[float | None] = mapped_column(sa.Float)
    avg_cadence_spm: Mapped[float | None] = mapped_column(sa.Float)
    name: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    device: Mapped[str | None] = mapped_column(sa.String(200))
    commute: Mapped[bool | None] = mapped_column(sa.Boolean)
    rpe: Mapped[float | None] = mapped_column(sa.Float)
    feel: Mapped[str | None] = mapped_column(sa.String(20))
    shoe_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shoes.id", ondelete="SET NULL"), index=True)
    # The shoe (or none) was chosen by date and default, not named by an export or the runner (0009).
    shoe_auto: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Why the sport was inferred from the file (not what it declared), until the runner confirms it.
    sport_note: Mapped[str | None] = mapped_column(sa.Text)
    source_format: Mapped[str] = mapped_column(sa.String(10))
    source_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    source_part: Mapped[int] = mapped_column(sa.Integer, default=0)
    source_name: Mapped[str | None] = mapped_column(sa.Text)
    damaged: Mapped[str | None] = mapped_column(sa.Text)
    # Indexed (revision 0014): an import's summary counts its runs, deleting an import clears it.
    import_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("imports.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LapRow(Base):
    __tablename__ = "laps"
    __table_args__ = (sa.UniqueConstraint("activity_id", "idx", name="uq_laps_activity_idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("activities.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(sa.Integer)
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    elapsed_time_s: Mapped[float | None] = mapped_column(sa.Float)
    moving_time_s: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    avg_heart_rate_bpm: Mapped[float | None] = mapped_column(sa.Float)
    max_heart_rate_bpm: Mapped[float | None] = mapped_column(sa.Float)
    avg_cadence_spm: Mapped[float | None] = mapped_column(sa.Float)
    ascent_m: Mapped[float | None] = mapped_column(sa.Float)
    descent_m: Mapped[float | None] = mapped_column(sa.Float)


class StreamRow(Base):
    """All samples of one activity in one compressed columnar blob (see streams.py)."""

    __tablename__ = "activity_streams"
    activity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    n_samples: Mapped[int] = mapped_column(sa.Integer)
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary)


class SourceFileRow(Base):
    """The original file an activity was imported from (activities/originals.py, revision 0015): the FIT,
    GPX or TCX as read (after unpacking .gz or a ZIP member), zlib-compressed. A file that gave several
    activities is kept once per activity, so deleting one of them never loses another's original."""

    __tablename__ = "source_files"
    activity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.Text)  # the file's name as imported (no folder)
    format: Mapped[str] = mapped_column(sa.String(10))  # fit | gpx | tcx
    sha256: Mapped[str] = mapped_column(sa.String(64))  # of the uncompressed bytes
    size: Mapped[int] = mapped_column(sa.BigInteger)  # uncompressed bytes
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary)  # zlib


class PainRow(Base):
    """A pain-diary entry: where, how much (0-10), when relative to running, optionally linked to a run."""

    __tablename__ = "pain_entries"
    __table_args__ = (sa.Index("ix_pain_entries_athlete_day", "athlete_id", "local_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"))
    region: Mapped[str] = mapped_column(sa.String(40))
    side: Mapped[str] = mapped_column(sa.String(10))
    score: Mapped[int] = mapped_column(sa.Integer)
    timing: Mapped[str] = mapped_column(sa.String(20))
    local_date: Mapped[date] = mapped_column(sa.Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activity_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str | None] = mapped_column(sa.Text)


class TriageRow(Base):
    """A saved triage: the answers given and the result shown."""

    __tablename__ = "triage_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    findings: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    triage_level: Mapped[str] = mapped_column(sa.String(20))
    result: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # the body region checked (revision 0013); checks saved before it are hip
    region: Mapped[str] = mapped_column(sa.String(10), default="hip", server_default="hip")


# --- aggregates (revision 0005): kept by triggers on `activities`, read by storage/aggregates.py ----------


class ActivityDayRow(Base):
    """Totals of one athlete's activities of one sport on one local date (the load series' input)."""

    __tablename__ = "activity_days"
    athlete_id: Mapped[int] = mapped_column(
        sa.ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True
    )
    local_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    sport: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    activities: Mapped[int] = mapped_column(sa.Integer)
    distance_m: Mapped[float] = mapped_column(sa.Float)
    duration_s: Mapped[float] = mapped_column(sa.Float)  # moving time, else elapsed
    longest_m: Mapped[float] = mapped_column(sa.Float)
    rated: Mapped[int] = mapped_column(sa.Integer)  # activities with an RPE
    rated_load_au: Mapped[float] = mapped_column(sa.Float)  # sum of RPE x minutes over those
    unrated_duration_s: Mapped[float] = mapped_column(sa.Float)  # the rest, loaded at the default RPE


class ActivityWeekRow(Base):
    """Totals of one athlete's activities of one sport in one ISO week (by local date)."""

    __tablename__ = "activity_weeks"
    athlete_id: Mapped[int] = mapped_column(
        sa.ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True
    )
    monday: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    sport: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    activities: Mapped[int] = mapped_column(sa.Integer)
    distance_m: Mapped[float] = mapped_column(sa.Float)
    duration_s: Mapped[float] = mapped_column(sa.Float)


class ShoeTotalRow(Base):
    """Every activity in one shoe, any sport: count, distance, last date."""

    __tablename__ = "shoe_totals"
    shoe_id: Mapped[int] = mapped_column(sa.ForeignKey("shoes.id", ondelete="CASCADE"), primary_key=True)
    athlete_id: Mapped[int] = mapped_column(sa.ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    activities: Mapped[int] = mapped_column(sa.Integer)
    distance_m: Mapped[float] = mapped_column(sa.Float)
    last_date: Mapped[date | None] = mapped_column(sa.Date)
