"""The fast import path keeps every rule of the slow one: CRC checks, lossless stream blobs (old blobs still
readable), duplicate detection in bulk, and per-file atomicity when one file of a batch cannot be saved."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fitdecode.utils import compute_crc
from sqlalchemy.orm import Session, sessionmaker

import exportgen
from strideguard.activities import originals, streams
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.fit_crc import check_parts, crc16
from strideguard.importing.saving import BatchPolicy, Done, _Batch, store_counts
from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage.engine import session_factory
from strideguard.storage.tables import ActivityRow, ImportItemRow, ImportRow, LapRow, SourceFileRow, StreamRow

T0 = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


def _run(start: datetime, sha: str | None, part: int = 0, **kw) -> Activity:
    n = 300
    return Activity(
        sport=kw.pop("sport", "run"),
        start_utc=start,
        source_format=kw.pop("source_format", "fit"),
        distance_m=kw.pop("distance_m", 10_000.0),
        elapsed_time_s=3000.0,
        source_sha256=sha,
        source_part=part,
        streams=Streams(time_s=np.arange(n, dtype=float), heart_rate_bpm=np.full(n, 150.0)),
        laps=(Lap(start_utc=start, distance_m=5000.0), Lap(start_utc=start + timedelta(minutes=25))),
        **kw,
    )


# ---------------------------------------------------------------------------------------------- CRC


@pytest.mark.parametrize("length", [447, 448, 449, 4095, 4096, 4097, 8191, 12_289, 100_003])
def test_crc16_agrees_with_fitdecode_around_block_boundaries(length: int) -> None:
    data = np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8).tobytes()
    assert crc16(data) == compute_crc(data)
    assert crc16(memoryview(data)[1:]) == compute_crc(data[1:])


def test_one_flipped_byte_in_a_one_hour_run_is_reported_not_accepted() -> None:
    data = bytearray(exportgen.fit_bytes(exportgen.simulated_runs(1, minutes=60)[0]))
    assert len(data) > 50_000  # the vectorised path, not the small-input loop
    assert check_parts(bytes(data))[1] == []
    data[len(data) // 2] ^= 0x01
    _, problems = check_parts(bytes(data))
    assert problems == ["file CRC does not match"]
    (activity,) = read_bytes(bytes(data), "flipped.fit")
    assert activity.damaged is not None and "CRC" in activity.damaged


# ---------------------------------------------------------------------------------------------- blobs


def _sgs1(columns: dict[str, np.ndarray], n: int) -> bytes:
    """A blob as databases written before SGS2 hold it (plain columns, zlib)."""
    header = {"n": n, "columns": []}
    parts = []
    for name, values in columns.items():
        dtype = "<f8" if name in ("time_s", "lat_deg", "lon_deg") else "<f4"
        parts.append(np.asarray(values, dtype=dtype).tobytes())
        header["columns"].append([name, dtype])
    head = json.dumps(header).encode()
    return b"SGS1" + struct.pack("<I", len(head)) + head + zlib.compress(b"".join(parts))


def test_blobs_written_before_the_new_format_still_decode() -> None:
    time_s = np.arange(5, dtype=float)
    hr = np.array([140.0, 141.0, np.nan, 150.0, 151.0])
    back = streams.decode(_sgs1({"time_s": time_s, "heart_rate_bpm": hr}, 5))
    np.testing.assert_array_equal(back.time_s, time_s)
    np.testing.assert_array_equal(back.heart_rate_bpm, hr)


def test_new_blobs_are_lossless_at_the_stored_precision() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    original = Streams(
        time_s=np.cumsum(rng.uniform(0.5, 1.5, n)),
        lat_deg=52.3 + np.cumsum(rng.normal(0, 1e-5, n)),
        lon_deg=np.where(rng.random(n) < 0.01, np.nan, 4.9 + np.cumsum(rng.normal(0, 1e-5, n))),
        altitude_m=rng.normal(10, 50, n),  # negative and positive
        speed_m_s=np.where(rng.random(n) < 0.5, 0.0, np.inf),
    )
    blob = streams.encode(original)
    assert blob[:4] == b"SGS2"
    back = streams.decode(blob)
    np.testing.assert_array_equal(back.time_s, original.time_s)
    np.testing.assert_array_equal(back.lon_deg, original.lon_deg)
    np.testing.assert_array_equal(back.altitude_m, original.altitude_m.astype(np.float32))
    np.testing.assert_array_equal(back.speed_m_s, original.speed_m_s)
    assert len(streams.decode(streams.encode(Streams(time_s=np.array([7.0])))).time_s) == 1


# ---------------------------------------------------------------------------------------------- dedupe


def test_bulk_saving_finds_the_same_duplicates_as_one_by_one(session: Session, athlete_id: int) -> None:
    first = store.save_activity(session, athlete_id, _run(T0, "a" * 64))
    session.commit()
    batch = [
        _run(T0 + timedelta(days=3), "a" * 64),  # the same file part again
        _run(T0 + timedelta(seconds=30), "b" * 64, source_format="gpx"),  # another recording of it
        _run(T0 + timedelta(seconds=20), "c" * 64, sport="walk"),  # another sport family
        _run(T0 + timedelta(days=1), "d" * 64),
        _run(T0 + timedelta(days=1, seconds=45), "e" * 64, sport="trail_run"),  # repeats the one above
        _run(T0, None, source_format="manual"),  # hand-entered: never merged by start
    ]
    with store.bulk_saving(session, athlete_id, batch):
        outcomes = [store.save_activity(session, athlete_id, a) for a in batch]
        late = store.save_activity(session, athlete_id, _run(T0 + timedelta(days=200), "a" * 64, part=0))
    session.commit()
    assert [o.status for o in outcomes] == [
        "duplicate",
        "duplicate",
        "imported",
        "imported",
        "duplicate",
        "imported",
    ]
    assert outcomes[0].activity_id == outcomes[1].activity_id == first.activity_id
    assert outcomes[0].duplicate_of == store.describe(session.get(ActivityRow, first.activity_id))
    assert outcomes[4].activity_id == outcomes[3].activity_id
    # Not in the prefetch list: checked against the database, still a duplicate.
    assert (late.status, late.activity_id) == ("duplicate", first.activity_id)
    saved = store.get_activity(session, athlete_id, outcomes[3].activity_id)
    assert len(saved.laps) == 2 and saved.streams is not None and len(saved.streams) == 300


def test_a_discarded_item_is_forgotten_with_its_rows(session: Session, athlete_id: int) -> None:
    runs = [_run(T0, "a" * 64), _run(T0 + timedelta(seconds=10), "b" * 64)]
    session.execute(sa.update(ActivityRow).values(name=None))  # open the transaction before SAVEPOINT
    with store.bulk_saving(session, athlete_id, runs) as bulk:
        bulk.begin_item()
        savepoint = session.begin_nested()
        store.save_activity(session, athlete_id, runs[0], source_file=originals.pack("a.fit", "fit", b"A"))
        savepoint.rollback()
        bulk.discard_item()
        bulk.begin_item()
        again = store.save_activity(
            session, athlete_id, runs[1], source_file=originals.pack("b.fit", "fit", b"B" * 1000)
        )
    session.commit()
    assert again.status == "imported"  # not a duplicate of the rolled-back activity
    assert session.scalar(sa.select(sa.func.count()).select_from(LapRow)) == 2
    assert set(session.scalars(sa.select(StreamRow.activity_id))) == {again.activity_id}
    (kept,) = session.scalars(sa.select(SourceFileRow)).all()
    assert (kept.activity_id, kept.name, kept.size) == (again.activity_id, "b.fit", 1000)
    assert originals.unpack(kept.blob) == b"B" * 1000 and len(kept.blob) < 100


# ---------------------------------------------------------------------------------------------- batches


def _new_import(sessions: sessionmaker[Session], athlete_id: int) -> int:
    with sessions() as session, session.begin():
        record = ImportRow(athlete_id=athlete_id, source="test", kind="files")
        session.add(record)
        session.flush()
        return record.id


def test_a_batch_with_one_unsavable_file_saves_the_others_whole(engine: sa.Engine, athlete_id: int) -> None:
    sessions = session_factory(engine)
    import_id = _new_import(sessions, athlete_id)
    blob = (300, streams.encode(_run(T0, None).streams))  # type: ignore[arg-type]

    def item(key: str, activity: Activity) -> Done:
        original = originals.pack(key, "fit", key.encode() * 100)
        return Done(
            key, "ok", activities=(replace(activity, streams=None),), streams=(blob,), original=original
        )

    bad = _run(T0 + timedelta(days=1), "b" * 64, shoe_id=999_999)  # no such shoe: the database refuses it
    batch = _Batch(sessions, athlete_id, import_id, frozenset({"run"}), {}, set(), BatchPolicy())
    batch.add(item("a.fit", _run(T0, "a" * 64)))
    batch.add(item("b.fit", bad))
    batch.add(item("c.fit", _run(T0 + timedelta(days=2), "c" * 64)))
    batch.add(Done("d.fit", "skipped", reason="settings file, not an activity"))
    batch.flush()
    with sessions() as session:
        items = dict(session.execute(sa.select(ImportItemRow.member, ImportItemRow.status)).all())
        assert items == {"a.fit": "imported", "b.fit": "failed", "c.fit": "imported", "d.fit": "skipped"}
        message = session.scalar(sa.select(ImportItemRow.message).where(ImportItemRow.member == "b.fit"))
        assert message is not None and message.startswith("could not save (")
        assert "foreign key" in message.lower()
        assert set(session.scalars(sa.select(ActivityRow.source_sha256))) == {"a" * 64, "c" * 64}
        assert session.scalar(sa.select(sa.func.count()).select_from(LapRow)) == 4
        assert session.scalar(sa.select(sa.func.count()).select_from(StreamRow)) == 2
        # The failed file's original went with its savepoint; the others keep theirs.
        kept = session.execute(sa.select(SourceFileRow.name, SourceFileRow.blob)).all()
        assert {(name, originals.unpack(blob)) for name, blob in kept} == {
            ("a.fit", b"a.fit" * 100),
            ("c.fit", b"c.fit" * 100),
        }
        local_dates = set(session.scalars(sa.select(ActivityRow.local_date)))
        assert local_dates == {date(2026, 5, 1), date(2026, 5, 3)}


def _counts(session: Session, import_id: int) -> tuple[int, ...]:
    row = session.get(ImportRow, import_id, populate_existing=True)
    assert row is not None
    return (row.n_total, row.n_imported, row.n_duplicates, row.n_skipped, row.n_failed)


def _recount(engine: sa.Engine, import_id: int) -> tuple[int, ...]:
    """The counts a full recount of the stored items and activities gives (as `finish` counts them)."""
    with Session(engine) as session:
        store_counts(session, import_id)
        counted = _counts(session, import_id)
        session.rollback()
    return counted


def test_the_record_counts_what_each_batch_stored_as_a_full_recount_does(
    engine: sa.Engine, athlete_id: int
) -> None:
    """Each flush adds its batch's counts to the import record instead of recounting the whole import;
    after every flush of a mixed import (new, duplicate, known, skipped, failed, unsavable, other sport,
    and an other-sport item done again when a later run selects its sport) they equal the recount."""
    sessions = session_factory(engine)
    import_id = _new_import(sessions, athlete_id)

    def ok(key: str, *activities: Activity) -> Done:
        return Done(key, "ok", activities=activities, streams=(None,) * len(activities))

    day = timedelta(days=1)
    first = _Batch(sessions, athlete_id, import_id, frozenset({"run"}), {}, set(), BatchPolicy())
    batches = [
        [
            ok("a.fit", _run(T0, "a" * 64)),
            ok("two.fit", _run(T0 + day, "t" * 64), _run(T0 + 2 * day, "t" * 64, 1)),
        ],
        [
            ok("a-copy.fit", _run(T0, "d" * 64)),  # the same run as a.fit: a duplicate
            Done("a-again.fit", "known", sha256="a" * 64),
            Done("settings.fit", "skipped", reason="settings file, not an activity"),
            Done("empty.tcx", "failed", reason="empty file"),
        ],
        [
            ok("bad.fit", _run(T0 + 3 * day, "b" * 64, shoe_id=999_999)),  # the database refuses it
            ok("c.fit", _run(T0 + 4 * day, "c" * 64)),
            Done("walk.fit", "sport", sport=("walk", "Walk")),
        ],
    ]
    with sessions() as session:
        for items in batches:
            for done in items:
                first.add(done)
            first.flush()
            assert _counts(session, import_id) == _recount(engine, import_id)
        assert _counts(session, import_id) == (9, 4, 2, 1, 2)

        # A later run selects walks: the walk's earlier record is replaced, not counted twice.
        again = _Batch(sessions, athlete_id, import_id, frozenset({"run", "walk"}), {}, {"walk.fit"})
        again.add(ok("walk.fit", _run(T0 + 5 * day, "w" * 64, sport="walk")))
        again.flush()
        assert _counts(session, import_id) == _recount(engine, import_id) == (9, 5, 2, 1, 2)


def test_a_flush_reads_no_more_when_much_was_stored_before(tmp_path: Path) -> None:
    """The work of writing a batch (SQLite's virtual-machine steps, counted by its progress handler) does
    not grow with what the import stored before: a recount of the whole import made imports quadratic."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'steps.sqlite'}")
    db.upgrade(engine)
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    sa.event.listen(engine, "connect", lambda connection, _record: connection.set_progress_handler(tick, 10))
    engine.dispose()  # connections opened from now on count
    sessions = session_factory(engine)
    with sessions() as session, session.begin():
        athlete_id = store.local_athlete(session)

    def flush_steps(import_id: int, n: int, prefix: str) -> int:
        nonlocal steps
        batch = _Batch(sessions, athlete_id, import_id, frozenset({"run"}), {}, set())
        for i in range(n):
            batch.add(Done(f"{prefix}{i}.fit", "skipped", reason="settings file, not an activity"))
        steps = 0
        batch.flush()
        return steps

    small = _new_import(sessions, athlete_id)
    flush_steps(small, 20, "warm")
    after_little = flush_steps(small, 20, "next")
    big = _new_import(sessions, athlete_id)
    flush_steps(big, 5000, "many")
    after_much = flush_steps(big, 20, "next")
    try:
        assert after_much <= 1.2 * after_little
        with Session(engine) as session:
            assert _counts(session, big)[0] == 5020
    finally:
        engine.dispose()
