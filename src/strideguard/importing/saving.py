"""Writing an import: batches of finished items in one transaction each, and the resumable import records.

Every item (one file, one manual CSV entry, one bad member) is written with an `ImportItemRow` inside a
per-item savepoint of its batch's transaction, together with its activities, laps and streams: a file that
fails while saving leaves nothing, and a SIGKILL loses at most the uncommitted batch. The import record
(`ImportRow`) is found again by the archive's SHA-256, and its item rows say which items are finished.

Speed: a batch is first written optimistically in one savepoint, inside `store.bulk_saving` (possible
duplicates fetched in two queries instead of two SELECTs per activity; laps, streams and item rows written
with one executemany each); only if an item fails is the batch redone with a savepoint per item.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activities.formats.archives import ShoeSpec
from strideguard.activities.formats.strava import gear_key
from strideguard.activities.originals import SourceFile
from strideguard.importing.summaries import SourceSummary
from strideguard.importing.workers import one_line
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage.engine import is_disk_full
from strideguard.storage.tables import ActivityRow, ImportItemRow, ImportRow, ShoeRow

SUMMARY_LIST_CAP = 1000  # entries kept per list in the stored summary; counts stay exact
SPORT_PREFIX = "sport:"
_ITEMS = ImportItemRow.__table__
# What saving one item can raise for bad data; anything else (interrupts, lost connection) stops the import.
_SAVE_ERRORS = (SQLAlchemyError, ValueError, TypeError, OverflowError)


@dataclass(slots=True)
class Done:
    """One finished item waiting for its batch to be written."""

    key: str
    status: str  # ok | known | skipped | failed | sport
    activities: tuple[Activity, ...] = ()
    sha256: str | None = None
    reason: str | None = None
    sport: tuple[str, str] | None = None
    streams: tuple[tuple[int, bytes] | None, ...] = ()
    enrich: Callable[[Activity], Activity] | None = None
    original: SourceFile | None = None  # the file as read, compressed: stored with each activity it gave


# ---------------------------------------------------------------------------------------------- records


class ImportRecords:
    """The athlete's import records: opened (or resumed), shoes of an export, closed with a summary."""

    def __init__(self, sessions: sessionmaker[Session], athlete_id: int, job_id: str | None = None) -> None:
        self.sessions = sessions
        self.athlete_id = athlete_id
        self.job_id = job_id  # the upload job the records belong to (its progress page reads them by it)

    def open(
        self, label: str, kind: str, sha256: str | None, resume_finished: bool = True
    ) -> tuple[int, dict[str, str], bool]:
        """The import row to use (resumed when the archive was seen before, or the folder's import is
        unfinished) and its finished item keys."""
        with self.sessions() as session, session.begin():
            row = None
            if sha256 is not None:
                row = session.scalar(
                    sa.select(ImportRow)
                    .where(ImportRow.athlete_id == self.athlete_id, ImportRow.source_sha256 == sha256)
                    .order_by(ImportRow.id.desc())
                    .limit(1)
                )
                if row is not None and not resume_finished and row.status != "running":
                    row = None
            resumed = row is not None
            if row is None:
                row = ImportRow(
                    athlete_id=self.athlete_id,
                    source=label,
                    source_sha256=sha256,
                    kind=kind,
                    job_id=self.job_id,
                )
                session.add(row)
                session.flush()
            else:
                row.status = "running"
                row.finished_at = None
                if self.job_id is not None:  # resumed by this job (its own, requeued, or a new upload)
                    row.job_id = self.job_id
                # Batches add to the counts from here: start from what is stored (a finished record's
                # counts may say more, e.g. a refused archive's failure or activities deleted since).
                store_counts(session, row.id)
            done = dict(
                session.execute(
                    sa.select(ImportItemRow.member, ImportItemRow.message).where(
                        ImportItemRow.import_id == row.id
                    )
                ).all()
            )
            return row.id, {k: v or "" for k, v in done.items()}, resumed

    def ensure_shoes(self, specs: list[ShoeSpec]) -> tuple[dict[str, int], list[str]]:
        """Shoe ids by gear name (creating shoes the athlete does not have yet) and the names created."""
        created: list[str] = []
        with self.sessions() as session, session.begin():
            rows = session.scalars(sa.select(ShoeRow).where(ShoeRow.athlete_id == self.athlete_id)).all()
            by_key = {gear_key(r.name): r.id for r in rows}
            for spec in specs:
                key = gear_key(spec.name)
                if key in by_key:
                    continue
                # Insert-or-get on the unique active (athlete, name): an import running at the same time
                # may create the same shoe first; then both use it.
                name = spec.name[:200]
                inserted = session.execute(
                    store.insert_ignoring_conflicts(
                        session,
                        ShoeRow,
                        athlete_id=self.athlete_id,
                        name=name,
                        brand=spec.brand,
                        model=spec.model,
                    )
                )
                by_key[key] = session.scalar(
                    sa.select(ShoeRow.id).where(
                        ShoeRow.athlete_id == self.athlete_id,
                        ShoeRow.name == name,
                        ShoeRow.retired_at.is_(None),
                    )
                )
                if inserted.rowcount:
                    created.append(spec.name)
        return by_key, created

    def set_kind(self, import_id: int, kind: str) -> None:
        with self.sessions() as session, session.begin():
            session.execute(sa.update(ImportRow).where(ImportRow.id == import_id).values(kind=kind))

    def fill(self, summary: SourceSummary) -> None:
        """The summary's counts and lists from the stored items (all runs so far), changing nothing."""
        with self.sessions() as session:
            self._fill(session, summary)

    @staticmethod
    def _fill(session: Session, summary: SourceSummary) -> list[Any]:
        assert summary.import_id is not None
        items = session.execute(
            sa.select(ImportItemRow.member, ImportItemRow.status, ImportItemRow.message)
            .where(ImportItemRow.import_id == summary.import_id)
            .order_by(ImportItemRow.id)
        ).all()
        by_format = dict(
            session.execute(
                sa.select(ActivityRow.source_format, sa.func.count())
                .where(ActivityRow.import_id == summary.import_id)
                .group_by(ActivityRow.source_format)
            ).all()
        )
        fill_summary(summary, items, by_format)
        return list(items)

    def finish(self, summary: SourceSummary, refused: bool = False) -> None:
        """Recompute the summary from the stored items (all runs) and close the import record."""
        assert summary.import_id is not None
        with self.sessions() as session, session.begin():
            row = session.get(ImportRow, summary.import_id)
            assert row is not None
            items = self._fill(session, summary)
            row.status = "refused" if refused else "finished"
            row.finished_at = datetime.now(UTC)
            row.n_total = len(items)
            row.n_imported = summary.imported
            row.n_duplicates = summary.n_duplicates
            row.n_skipped = summary.n_skipped
            row.n_failed = summary.n_failed + (1 if refused else 0)
            row.summary = summary.to_json()


def store_counts(session: Session, import_id: int) -> None:
    """Set the import record's counts from its stored items and activities (as `finish` counts them), in the
    caller's transaction: once when an import is resumed or fails; batches then add their own."""
    sport_skip = ImportItemRow.message.like(f"{SPORT_PREFIX}%")
    counts: Counter[str] = Counter()
    for status, by_sport, n in session.execute(
        sa.select(ImportItemRow.status, sport_skip, sa.func.count())
        .where(ImportItemRow.import_id == import_id)
        .group_by(ImportItemRow.status, sport_skip)
    ):
        counts["total"] += n
        counts["skipped_by_sport" if status == "skipped" and by_sport else status] += n
    imported = session.scalar(
        sa.select(sa.func.count()).select_from(ActivityRow).where(ActivityRow.import_id == import_id)
    )
    session.execute(
        sa.update(ImportRow)
        .where(ImportRow.id == import_id)
        .values(
            n_total=counts["total"],
            n_imported=imported or 0,
            n_duplicates=counts["duplicate"],
            n_skipped=counts["skipped"],
            n_failed=counts["failed"],
        )
    )


def add_counts(session: Session, import_id: int, counts: Counter[str]) -> None:
    """Add what one batch stored (`counts`, from `_Batch._write`) to the import record's counts, in the
    batch's transaction: an unfinished import shows what it has saved, and a batch costs the same however
    much was stored before it (a recount of the whole import grew with it)."""
    session.execute(
        sa.update(ImportRow)
        .where(ImportRow.id == import_id)
        .values(
            n_total=ImportRow.n_total + counts["items"],
            n_imported=ImportRow.n_imported + counts["activities"],
            n_duplicates=ImportRow.n_duplicates + counts["duplicate"],
            n_skipped=ImportRow.n_skipped + counts["skipped"],
            n_failed=ImportRow.n_failed + counts["failed"],
        )
    )


def _count_item(counts: Counter[str], status: str, message: str | None, sign: int = 1) -> None:
    """Count one item row written (`sign` 1) or deleted (-1) the way `store_counts` counts them."""
    counts["items"] += sign
    counts["sport" if status == "skipped" and (message or "").startswith(SPORT_PREFIX) else status] += sign


def fail_import(session: Session, athlete_id: int, key: str, reason: str) -> int | None:
    """Mark the unfinished import of the source `key` failed, with the reason and its stored counts (an
    upload whose job failed for good is deleted, so that import can never be resumed). Returns its id."""
    row = session.scalar(
        sa.select(ImportRow)
        .where(
            ImportRow.athlete_id == athlete_id, ImportRow.source_sha256 == key, ImportRow.status == "running"
        )
        .order_by(ImportRow.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    store_counts(session, row.id)
    row.status = "failed"
    row.finished_at = datetime.now(UTC)
    row.summary = {**(row.summary or {}), "error": reason}
    session.flush()
    return row.id


def fill_summary(summary: SourceSummary, items: Iterable[Any], by_format: dict[str, int]) -> None:
    """Counts and lists of a summary from its item rows (member, status, message)."""
    summary.imported = sum(by_format.values())
    summary.manual = by_format.get("manual", 0)
    sport_counts: Counter[str] = Counter()
    summary.duplicates, summary.skipped, summary.failed, summary.damaged = [], [], [], []
    summary.n_duplicates = summary.n_skipped = summary.n_failed = summary.items_total = 0
    for member, status, message in items:
        summary.items_total += 1
        message = message or ""
        if status == "duplicate":
            summary.n_duplicates += 1
            _capped(summary.duplicates, (member, message))
        elif status == "skipped" and message.startswith(SPORT_PREFIX):
            sport_counts[message.split(":", 2)[2]] += 1
        elif status == "skipped":
            summary.n_skipped += 1
            _capped(summary.skipped, (member, message))
        elif status == "failed":
            summary.n_failed += 1
            _capped(summary.failed, (member, message))
        elif status == "imported" and message.startswith("damaged: "):
            _capped(summary.damaged, (member, message.removeprefix("damaged: ")))
    summary.skipped_by_sport = dict(sport_counts)


def _capped(values: list[tuple[str, str]], value: tuple[str, str]) -> None:
    if len(values) < SUMMARY_LIST_CAP:
        values.append(value)


# ---------------------------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """When a batch is written: at `activities` activities or `interval_s` seconds after the last write."""

    activities: int = 200
    interval_s: float = 2.0


class _Batch:
    """Finished items waiting to be written in one transaction, one savepoint per item."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        athlete_id: int,
        import_id: int,
        sports: frozenset[str],
        shoe_ids: dict[str, int],
        redo: set[str],
        policy: BatchPolicy = BatchPolicy(),
    ) -> None:
        self.sessions = sessions
        self.athlete_id = athlete_id
        self.redo = redo  # items recorded by an earlier run that are done again (sport now selected)
        self.import_id = import_id
        self.sports = sports
        self.shoe_ids = shoe_ids
        self.policy = policy
        self.items: list[Done] = []
        self.n_activities = 0
        self.last_flush = time.monotonic()

    def add(self, done: Done) -> None:
        self.items.append(done)
        self.n_activities += max(1, len(done.activities))

    def maybe_flush(self) -> None:
        if self.n_activities >= self.policy.activities or (
            self.items and time.monotonic() - self.last_flush >= self.policy.interval_s
        ):
            self.flush()

    def flush(self) -> None:
        """Write the batch in one transaction; each item is atomic (all its rows, or none and a reason)."""
        if not self.items:
            return
        with self.sessions() as session, session.begin():
            # A write first, so SQLite's driver opens the transaction before the first SAVEPOINT.
            session.execute(
                sa.update(ImportRow).where(ImportRow.id == self.import_id).values(status="running")
            )
            try:
                with session.begin_nested():  # the common case: every item saves, rows go in bulk
                    counts = self._write(session, item_by_item=False)
            except _SAVE_ERRORS as exc:
                if is_disk_full(exc):  # no item is at fault, and the transaction is gone: stop the import
                    raise
                # One item could not be saved: the batch's savepoint is rolled back; redo it with a
                # savepoint per item, so only that item fails.
                counts = self._write(session, item_by_item=True)
            add_counts(session, self.import_id, counts)  # the record counts what is stored, also mid-way
        self.items = []
        self.n_activities = 0
        self.last_flush = time.monotonic()

    def _write(self, session: Session, item_by_item: bool) -> Counter[str]:
        """Write the batch's rows; returns what they add to the import record's counts (an item rolled
        back with its savepoint adds nothing)."""
        new = [a for done in self.items if done.status == "ok" for a in done.activities]
        records: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        with store.bulk_saving(session, self.athlete_id, new) as bulk:
            for done in self.items:
                if not item_by_item:
                    self._forget_earlier_record(session, done, counts)
                    records.append(self._record(done.key, *self._save(session, done, counts), counts=counts))
                    continue
                bulk.begin_item()
                savepoint = session.begin_nested()
                item: Counter[str] = Counter()
                try:
                    self._forget_earlier_record(session, done, item)
                    record = self._record(done.key, *self._save(session, done, item), counts=item)
                    bulk.write_pending(session.connection())
                    session.connection().execute(_ITEMS.insert(), record)
                    savepoint.commit()
                    counts.update(item)
                except _SAVE_ERRORS as exc:
                    if is_disk_full(exc):
                        raise
                    savepoint.rollback()
                    bulk.discard_item()
                    self._forget_earlier_record(session, done, counts)
                    message = f"could not save ({one_line(exc)})"[:2000]
                    failed = self._record(done.key, "failed", message, counts=counts)
                    session.connection().execute(_ITEMS.insert(), failed)
        if records:
            session.connection().execute(_ITEMS.insert(), records)
        return counts

    def _forget_earlier_record(self, session: Session, done: Done, counts: Counter[str]) -> None:
        if done.key in self.redo:
            forgotten = session.execute(
                sa.delete(ImportItemRow)
                .where(ImportItemRow.import_id == self.import_id, ImportItemRow.member == done.key)
                .returning(ImportItemRow.status, ImportItemRow.message)
            )
            for status, message in forgotten:
                _count_item(counts, status, message, -1)

    def _record(
        self,
        key: str,
        status: str,
        message: str | None,
        activity_id: int | None = None,
        *,
        counts: Counter[str],
    ) -> dict[str, Any]:
        """The item row to insert, counted in `counts`."""
        _count_item(counts, status, message)
        return {
            "import_id": self.import_id,
            "member": key,
            "status": status,
            "message": message,
            "activity_id": activity_id,
        }

    def _wanted(self, activity: Activity) -> bool:
        """Of a selected sport; a "run" stored as another sport for what the file shows (sport_check) is
        kept too, so the runner can see it and overrule it."""
        if activity.sport in self.sports:
            return True
        return activity.sport_note is not None and activity.extra.get("declared") in self.sports

    def _with_shoe(self, activity: Activity) -> Activity:
        if (activity.shoe_id is None or activity.shoe_auto) and activity.gear_name:
            shoe_id = self.shoe_ids.get(gear_key(activity.gear_name))
            if shoe_id is not None:
                return replace(activity, shoe_id=shoe_id, shoe_auto=False)
        return activity

    def _save(self, session: Session, done: Done, counts: Counter[str]) -> tuple[str, str | None, int | None]:
        """Save the item's activities (each new one counted in `counts`); its item row's status, message
        and activity."""
        athlete_id = self.athlete_id
        if done.status == "sport" and done.sport is not None:
            sport, label = done.sport
            return "skipped", f"{SPORT_PREFIX}{sport}:{label}", None
        if done.status in ("skipped", "failed"):
            return done.status, done.reason, None
        if done.status == "known":
            row = session.scalar(
                sa.select(ActivityRow)
                .where(ActivityRow.athlete_id == athlete_id, ActivityRow.source_sha256 == done.sha256)
                .order_by(ActivityRow.source_part)
                .limit(1)
            )
            if row is None:
                return "duplicate", "duplicate of a file imported before", None
            if done.enrich is not None:  # the export's metadata may complete what the bare file gave
                enriched = self._with_shoe(done.enrich(store.to_activity(row)))
                _fill_gaps(session, athlete_id, row.id, enriched)
            return "duplicate", f"duplicate of {store.describe(row)}", row.id
        imported_id: int | None = None
        duplicate: tuple[int, str] | None = None
        wanted = [(a, blob) for a, blob in zip(done.activities, done.streams, strict=True) if self._wanted(a)]
        if not wanted:
            first = done.activities[0]
            label = str(first.extra.get("source_type") or first.sport)
            return "skipped", f"{SPORT_PREFIX}{first.sport}:{label}", None
        damaged: str | None = None
        for activity, blob in wanted:
            activity = self._with_shoe(activity)
            # Streams were encoded by the worker (see workers.pack_streams).
            outcome = store.save_activity(
                session, athlete_id, activity, self.import_id, streams_blob=blob, source_file=done.original
            )
            if outcome.status == "imported":
                counts["activities"] += 1
                imported_id = imported_id or outcome.activity_id
                damaged = damaged or activity.damaged
            else:
                duplicate = duplicate or (outcome.activity_id, outcome.duplicate_of or "")
                _fill_gaps(session, athlete_id, outcome.activity_id, activity)
        if imported_id is not None:
            return "imported", f"damaged: {damaged}" if damaged else None, imported_id
        assert duplicate is not None
        return "duplicate", f"duplicate of {duplicate[1]}", duplicate[0]


def _fill_gaps(session: Session, athlete_id: int, activity_id: int, activity: Activity) -> None:
    """An export's metadata (name, description, perceived exertion, shoe) completes an activity imported
    before from the bare file; nothing the runner entered is overwritten (an automatically chosen shoe
    is not the runner's: the export's gear replaces it)."""
    row = session.get(ActivityRow, activity_id)
    if row is None:
        return
    changes: dict[str, object] = {}
    for name in ("name", "description", "rpe", "shoe_id"):
        value = getattr(activity, name)
        if value is not None and getattr(row, name) is None:
            changes[name] = value
    # Gear named in the export wins over a shoe StrideGuard chose by date.
    if activity.shoe_id is not None and not activity.shoe_auto and row.shoe_auto:
        changes.update(shoe_id=activity.shoe_id, shoe_auto=False)
    if changes:
        store.update_activity(session, athlete_id, activity_id, **changes)
