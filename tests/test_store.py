"""Store: saving, deduplication, listing and athlete scope on a real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa

from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store
from strideguard.storage.tables import ActivityRow, AthleteRow, LapRow, StreamRow


def _run(start: datetime, km: float = 10.0, sha: str | None = "a" * 64, part: int = 0, **kw) -> Activity:
    n = 600
    streams = Streams(
        time_s=np.arange(n, dtype=float),
        lat_deg=np.linspace(52.0, 52.01, n),
        lon_deg=np.linspace(4.0, 4.01, n),
        heart_rate_bpm=np.full(n, 150.0),
        distance_m=np.linspace(0, km * 1000, n),
    )
    return Activity(
        sport=kw.pop("sport", "run"),
        start_utc=start,
        source_format="fit",
        distance_m=km * 1000,
        moving_time_s=3000.0,
        elapsed_time_s=3100.0,
        source_sha256=sha,
        source_part=part,
        streams=streams,
        laps=(Lap(start_utc=start, distance_m=km * 500), Lap(start_utc=start + timedelta(minutes=25))),
        **kw,
    )


T0 = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


def test_save_and_read_back_keeps_summary_laps_and_streams(session, athlete_id):
    outcome = store.save_activity(session, athlete_id, _run(T0, utc_offset_s=7200))
    session.commit()
    assert outcome.status == "imported"
    got = store.get_activity(session, athlete_id, outcome.activity_id)
    assert got.start_utc == T0
    assert got.local_date == date(2026, 5, 1)
    assert got.distance_m == 10_000
    assert [lap.distance_m for lap in got.laps] == [5000, None]
    assert got.streams is not None and len(got.streams) == 600
    np.testing.assert_allclose(got.streams.lat_deg, np.linspace(52.0, 52.01, 600), atol=1e-9)
    assert got.streams.speed_m_s is None


def test_same_file_part_is_a_duplicate_naming_the_original(session, athlete_id):
    first = store.save_activity(session, athlete_id, _run(T0))
    again = store.save_activity(session, athlete_id, _run(T0 + timedelta(hours=3)))
    assert again.status == "duplicate"
    assert again.activity_id == first.activity_id
    assert again.duplicate_of == f"#{first.activity_id} run 2026-05-01 10.0 km"


def test_same_start_in_another_format_is_a_duplicate(session, athlete_id):
    store.save_activity(session, athlete_id, _run(T0))
    gpx_copy = replace(_run(T0 + timedelta(seconds=20), sha="b" * 64), source_format="gpx")
    assert store.save_activity(session, athlete_id, gpx_copy).status == "duplicate"
    # A walk starting at the same time is another activity.
    walk = _run(T0 + timedelta(seconds=20), sha="c" * 64, sport="walk")
    assert store.save_activity(session, athlete_id, walk).status == "imported"


def test_multisport_legs_of_one_file_are_separate(session, athlete_id):
    a = store.save_activity(session, athlete_id, _run(T0, part=0))
    b = store.save_activity(session, athlete_id, _run(T0 + timedelta(hours=1), part=1))
    assert a.status == b.status == "imported"


def test_manual_runs_on_one_day_are_not_merged(session, athlete_id):
    one = store.manual_activity(T0, 5000, 1500)
    two = store.manual_activity(T0, 8000, 2400)
    assert store.save_activity(session, athlete_id, one).status == "imported"
    assert store.save_activity(session, athlete_id, two).status == "imported"


def test_list_filters_by_local_date_and_sport(session, athlete_id):
    # 23:30 UTC on 30 April is 1 May in UTC+02:00: the local date decides the day.
    late = _run(datetime(2026, 4, 30, 23, 30, tzinfo=UTC), sha="d" * 64, utc_offset_s=7200)
    store.save_activity(session, athlete_id, late)
    store.save_activity(session, athlete_id, _run(T0 + timedelta(days=3), sha="e" * 64, sport="walk"))
    session.commit()
    may = store.list_activities(session, athlete_id, since=date(2026, 5, 1))
    assert [a.sport for a in may] == ["walk", "run"]
    runs = store.list_activities(session, athlete_id, sports={"run"})
    assert len(runs) == 1 and runs[0].local_date == date(2026, 5, 1)


def test_other_athletes_data_is_invisible(session, athlete_id):
    other = AthleteRow(name="Someone else")
    session.add(other)
    session.flush()
    saved = store.save_activity(session, other.id, _run(T0))
    session.commit()
    assert store.list_activities(session, athlete_id) == []
    with pytest.raises(store.NotFound):
        store.get_activity(session, athlete_id, saved.activity_id)
    with pytest.raises(store.NotFound):
        store.update_activity(session, athlete_id, saved.activity_id, rpe=5)


def test_an_edit_changes_only_that_runs_fields_and_keeps_loaded_rows_in_step(session, athlete_id):
    other = AthleteRow(name="Someone else")
    session.add(other)
    session.flush()
    theirs = store.save_activity(session, other.id, _run(T0, rpe=3.0))
    mine = store.save_activity(session, athlete_id, _run(T0, sha="f" * 64, name="Easy"))
    session.commit()
    loaded = session.get(ActivityRow, mine.activity_id)  # a row the session already holds
    assert loaded is not None and loaded.rpe is None
    store.update_activity(session, athlete_id, mine.activity_id, rpe=6.0, feel="tired")
    assert (loaded.rpe, loaded.feel) == (6.0, "tired")
    session.commit()
    got = store.get_activity(session, athlete_id, mine.activity_id, with_streams=False)
    assert (got.rpe, got.feel, got.name, got.distance_m) == (6.0, "tired", "Easy", 10_000)
    assert [lap.distance_m for lap in got.laps] == [5000, None] and got.streams is None
    with pytest.raises(store.NotFound):
        store.update_activity(session, athlete_id, theirs.activity_id, rpe=9.0)
    with pytest.raises(store.NotFound):
        store.update_activity(session, athlete_id, theirs.activity_id)  # nothing to change: still checked
    store.update_activity(session, athlete_id, mine.activity_id)  # nothing to change on one's own: fine
    session.commit()
    assert store.get_activity(session, other.id, theirs.activity_id).rpe == 3.0
    with pytest.raises(ValueError, match="cannot edit"):
        store.update_activity(session, athlete_id, mine.activity_id, distance_m=1.0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        Activity(sport="run", start_utc=datetime(2026, 5, 1, 6, 30), source_format="fit")


def test_aware_non_utc_start_is_normalised():
    local = datetime(2026, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    assert Activity(sport="run", start_utc=local, source_format="fit").start_utc == T0


def test_failed_transaction_leaves_nothing(engine, athlete_id):
    from strideguard.storage.engine import session_factory

    with session_factory(engine)() as session:
        store.save_activity(session, athlete_id, _run(T0))
        session.rollback()
    with engine.connect() as connection:
        for table in (ActivityRow, LapRow, StreamRow):
            assert connection.scalar(sa.select(sa.func.count()).select_from(table)) == 0


def test_listed_summaries_are_the_activities_the_constructor_makes_of_the_same_rows(session, athlete_id):
    """Lists build their activities without the dataclass's __init__ (three times as fast); each is, field
    by field, what the constructor gives for the same stored row, and a row it would refuse is refused."""
    from dataclasses import fields

    varied = [
        _run(T0, utc_offset_s=7200, rpe=6.0, feel="good", name="Tempo", description="4 x 1 km", commute=True),
        _run(T0 + timedelta(days=1, hours=20), sha="b" * 64, utc_offset_s=-5 * 3600, damaged="bad CRC"),
        _run(T0 + timedelta(days=3), sha=None, sport="walk", device="Forerunner 265", source_name="w.fit"),
        replace(
            _run(T0 + timedelta(days=4), sha="c" * 64), shoe_auto=True, sport_note="no sport in the file"
        ),
    ]
    for activity in varied:
        store.save_activity(session, athlete_id, activity)
    session.commit()
    listed = store.list_activities(session, athlete_id, newest_first=False)
    rows = session.execute(
        sa.select(*store.SUMMARY_COLUMNS)
        .where(ActivityRow.athlete_id == athlete_id)
        .order_by(ActivityRow.start_utc)
    ).all()
    expected = [store._summary(dict(zip(store._SUMMARY_NAMES, row, strict=True))) for row in rows]
    assert len(listed) == len(varied) == len(expected)
    for got, want in zip(listed, expected, strict=True):
        for spec in fields(Activity):
            assert getattr(got, spec.name) == getattr(want, spec.name), spec.name
        assert got.local_date == want.local_date and got.start_utc.tzinfo is UTC
    assert [a.local_date for a in listed] == [
        date(2026, 5, 1),
        date(2026, 5, 2),
        date(2026, 5, 4),
        date(2026, 5, 5),
    ]
    assert all(a.shoe_auto is True for a in listed)  # a bool, as stored: no shoe named, chosen by date
    assert listed[3].sport_note == "no sport in the file" and listed[1].damaged == "bad CRC"
    assert listed[0].extra == {} and listed[0].laps == () and listed[0].streams is None
    assert listed[0].extra is not listed[1].extra  # a dict each, as the default factory gives
    session.execute(sa.update(ActivityRow).where(ActivityRow.id == listed[0].id).values(sport="swim"))
    with pytest.raises(ValueError, match="unknown sport 'swim'"):
        store.list_activities(session, athlete_id)
