"""The totals the database keeps (revision 0005) equal the full computation over every activity, on the
demo athlete and on a 10-year history, after imports and after edits; pages show the same numbers as the
computation they replaced."""

from __future__ import annotations

import math
import os
import random
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.demo import athlete as demo
from strideguard.demo.extras import add_demo_extras
from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates, overview
from strideguard.storage import engine as db
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.storage.tables import ActivityDayRow, ActivityRow, AthleteRow, ShoeTotalRow
from strideguard.training import load, risk, shoes
from strideguard.training import pain as pain_model
from strideguard.web import dashboard
from strideguard.web.app import create_app
from strideguard.web.common import Settings, fmt_distance, fmt_hms

pytestmark = pytest.mark.db
PG_URL = os.environ.get("STRIDEGUARD_TEST_DATABASE_URL")


def approx_equal(a, b, path="") -> None:
    """Equal, floats to 1e-9 relative (sums added in another order)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (
            path,
            a,
            b,
        )
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            approx_equal(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            approx_equal(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def as_tuple(item) -> tuple:
    return tuple(getattr(item, f) for f in item.__slots__)


def today() -> date:
    return dashboard.today_local()


def check_totals(session, athlete_id: int) -> None:
    """Day loads, weeks and shoe wear from the totals equal the pure functions over every activity."""
    session.expire_all()
    everything = store.list_activities(session, athlete_id, newest_first=False)
    runs = [a for a in everything if a.sport in RUNNING_SPORTS]
    end = today()
    for since in (end - timedelta(days=dashboard.HISTORY_DAYS), date(1990, 1, 1)):
        full = load.daily_series([r for r in runs if since <= r.local_date <= end], end=end)
        approx_equal(
            [as_tuple(d) for d in aggregates.day_loads(session, athlete_id, since, end)],
            [as_tuple(d) for d in full],
            "days",
        )
    approx_equal(
        [as_tuple(w) for w in aggregates.week_volumes(session, athlete_id)],
        [as_tuple(w) for w in load.weekly_volume(everything)],
        "weeks",
    )
    walks = aggregates.week_volumes(session, athlete_id, sports=frozenset({"walk"}))
    approx_equal(
        [as_tuple(w) for w in walks],
        [as_tuple(w) for w in load.weekly_volume(everything, frozenset({"walk"}))],
        "walks",
    )
    shoe_list = shoe_store.list_shoes(session, athlete_id)
    wears = [
        (w.shoe.id, w.distance_m, w.activities, w.last_used, w.fraction, w.level)
        for w in aggregates.shoe_wears(session, athlete_id, shoe_list)
    ]
    full_wears = [
        (w.shoe.id, w.distance_m, w.activities, w.last_used, w.fraction, w.level)
        for w in shoes.shoe_wear(shoe_list, everything)
    ]
    approx_equal(wears, full_wears, "shoes")
    # The pages' one statement for shoes and wear (a shoe without runs has no totals row; retired ones
    # left out on request) lists the same shoes, every field, with the same wear.
    for include_retired in (True, False):
        listed = shoe_store.list_shoes(session, athlete_id, include_retired=include_retired)
        approx_equal(
            [
                (w.shoe, w.distance_m, w.activities, w.last_used, w.fraction, w.level)
                for w in aggregates.shoes_with_wear(session, athlete_id, include_retired)
            ],
            [
                (w.shoe, w.distance_m, w.activities, w.last_used, w.fraction, w.level)
                for w in shoes.shoe_wear(listed, everything)
            ],
            f"shoes with wear, retired {include_retired}",
        )


def reference_dashboard(session, athlete_id: int, end: date) -> dict:
    """The dashboard's JSON as it was computed before the totals: from every activity of 400 days, and
    every activity in an active shoe for wear."""
    rules = risk.default_rules()
    since = end - timedelta(days=dashboard.HISTORY_DAYS)
    recent = store.list_activities(session, athlete_id, since=since, until=end, newest_first=False)
    shoe_list = shoe_store.list_shoes(session, athlete_id)
    active = {s.id for s in shoe_list if not s.retired}
    older = [
        a
        for a in store.list_activities(
            session, athlete_id, until=since - timedelta(days=1), newest_first=False
        )
        if a.shoe_id in active
    ]
    pain_entries = pain_store.list_pain(session, athlete_id, since=since, until=end)
    log_start = store.first_activity_date(session, athlete_id, RUNNING_SPORTS)
    runs = [a for a in recent if a.sport in RUNNING_SPORTS]
    bounds = tuple(
        rules.number("session_spike", k) for k in ("small_above_pct", "moderate_above_pct", "large_above_pct")
    )
    spikes = load.session_spikes(runs, 30, bounds)
    flags = risk.evaluate(
        older + recent, end, shoes=shoe_list, pain=pain_entries, rules=rules, log_start=log_start
    )
    wears = shoes.shoe_wear(
        shoe_list,
        older + recent,
        rules.number("shoe_retirement", "check_at_fraction"),
        rules.number("shoe_retirement", "replace_at_fraction"),
    )
    order = {"warning": 0, "watch": 1, "info": 2}
    flags.sort(key=lambda f: (order.get(f.severity, 3), f.day))
    safe = dashboard.safe_run(recent, end + timedelta(days=1), rules)
    held = risk.hold_back(
        flags,
        end,
        rules,
        triage_store.latest_triage(session, athlete_id, until=end),
        for_day=end + timedelta(days=1),
    )
    safe["hold"] = None if held is None else {"json": held.to_json(), "message": held.message}
    latest = store.list_activities(session, athlete_id, until=end, sports=RUNNING_SPORTS, limit=1)
    context = {
        "today": end,
        "unit": "km",
        "last_run": latest[0].local_date if latest else None,
        "week": dashboard.week_summary(load.weekly_volume(runs), end, spikes),
        "flags": [{"flag": f} for f in flags],
        "safe": safe,
        "info": risk.load_info(recent, end, rules),
        "wears": [w for w in wears if not w.shoe.retired],
        "pain_trends": pain_model.pain_trends(pain_entries, end),
    }
    return dashboard.dashboard_json(context)


def check_pages(client: TestClient, session, athlete_id: int) -> None:
    session.expire_all()
    approx_equal(
        client.get("/api/dashboard").json(), reference_dashboard(session, athlete_id, today()), "dash"
    )
    shoe_list = shoe_store.list_shoes(session, athlete_id)
    full = {w.shoe.id: w for w in shoes.shoe_wear(shoe_list, store.list_activities(session, athlete_id))}
    for item in client.get("/api/shoes").json():
        approx_equal(item["distance_m"], full[item["id"]].distance_m, f"shoe {item['id']}")
    check_list_totals(client, store.list_activities(session, athlete_id))


def check_list_totals(client: TestClient, everything: list[Activity]) -> None:
    """The activity list's totals (from the week totals when only a sport is chosen, else from the
    activities) equal the sums over the activities, a duration being the moving, else the elapsed time."""
    first, last = min(a.local_date for a in everything), max(a.local_date for a in everything)
    for sport in (None, "run", "walk"):
        chosen = [a for a in everything if sport is None or a.sport == sport]
        expected = (
            len(chosen),
            sum(a.distance_m or 0.0 for a in chosen),
            sum(load.duration_s_of(a) for a in chosen),
        )
        for dates in ({}, {"since": first.isoformat(), "until": last.isoformat()}):
            params = {"per_page": 5, **({"sport": sport} if sport else {}), **dates}
            got = client.get("/api/activities", params=params).json()
            assert got["total"] == expected[0], (sport, dates)
            approx_equal((got["distance_m"], got["duration_s"]), expected[1:], f"list {sport} {dates}")
            # The page's summary line says the same, above rows read from the activities themselves.
            page = BeautifulSoup(client.get("/activities", params=params).text, "html.parser")
            count, distance, duration = expected
            noun = "activity" if count == 1 else "activities"
            said = f"{count} {noun}, {fmt_distance(distance, got['unit'], 0)}, {fmt_hms(duration)} in total."
            assert page.select_one("#list-summary").get_text() == said, (sport, dates)


# --- histories ----------------------------------------------------------------------------------------------


def ten_years(end: date, seed: int = 11) -> list[Activity]:
    """~3,000 sessions over 10 years: runs, doubles, treadmill, walks, one 'other'; some without moving
    time or distance, RPE on some."""
    rng = random.Random(seed)
    out: list[Activity] = []
    for run in demo.plan(end, 520, seed):
        start = datetime.combine(run.day, run.start, tzinfo=UTC)
        duration = run.distance_m / 1000 * rng.uniform(290, 380)
        moving = rng.choice([duration, duration, duration, None, 0.0])
        out.append(
            Activity(
                sport="treadmill" if run.kind == "treadmill" else rng.choice(["run"] * 9 + ["trail_run"]),
                start_utc=start,
                utc_offset_s=rng.choice([0, 3600, -18000]),
                source_format="fit",
                distance_m=run.distance_m if rng.random() > 0.01 else None,
                moving_time_s=moving,
                elapsed_time_s=duration + 40,
                rpe=rng.choice([None, None, 3.0, 5.5, 8.0]),
                name=run.kind,
            )
        )
        if rng.random() < 0.3:
            sport = rng.choice(["run", "walk", "walk", "hike", "other"])
            out.append(replace(out[-1], sport=sport, start_utc=start + timedelta(hours=9), distance_m=4000.0))
    return out


def save_with_shoes(session, athlete_id: int, activities: list[Activity]) -> None:
    """Rotating shoes (older pairs retired), some activities without a shoe."""
    pair, worn, number = None, 0.0, 0
    for activity in activities:
        if pair is None or worn > 600_000:
            if pair is not None:
                shoe_store.retire(session, athlete_id, pair.id)
            number += 1
            pair, worn = shoe_store.add_shoe(session, athlete_id, f"Pair {number}", retire_at_m=700_000), 0.0
        worn += activity.distance_m or 0.0
        shoe_id = None if activity.sport == "other" else pair.id
        store.save_activity(session, athlete_id, replace(activity, shoe_id=shoe_id))


@pytest.fixture(scope="module")
def module_db(tmp_path_factory) -> str:
    """A database for the whole module (built once): an SQLite file or a PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('aggregates') / 'db.sqlite'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def decade(module_db, tmp_path_factory):
    """(client, session, athlete id) on a 10-year history."""
    engine = db.make_engine(module_db)
    db.upgrade(engine)
    session = db.session_factory(engine)()
    athlete_id = store.local_athlete(session)
    save_with_shoes(session, athlete_id, ten_years(today()))
    for k, score in enumerate((2, 4, 6, 3)):
        entry = pain_model.PainEntry(
            today() - timedelta(days=20 - 5 * k), "knee-front", "left", score, "during"
        )
        pain_store.add_pain(session, athlete_id, entry)
    session.commit()
    app = create_app(
        Settings(db_url=module_db, data_dir=tmp_path_factory.mktemp("web"), secret_key=b"k" * 32)
    )
    with TestClient(app) as client:
        yield client, session, athlete_id
    session.close()
    app.state.engine.dispose()
    engine.dispose()


def test_totals_equal_the_full_computation_on_a_ten_year_history(decade):
    client, session, athlete_id = decade
    assert store.count_activities(session, athlete_id) > 2500
    check_totals(session, athlete_id)
    check_pages(client, session, athlete_id)


def test_totals_follow_edits_of_rpe_shoe_sport_and_deletes(decade, run_cli_decade):
    client, session, athlete_id = decade
    runs = store.list_activities(session, athlete_id, since=today() - timedelta(days=60), newest_first=False)
    other_shoe = shoe_store.list_shoes(session, athlete_id)[0].id  # an old, retired pair
    edits = [
        (runs[-1].id, {"rpe": 9.0}),
        (runs[-2].id, {"rpe": None}),
        (runs[-3].id, {"shoe_id": other_shoe}),
        (runs[-4].id, {"shoe_id": None}),
        (runs[-5].id, {"sport": "walk"}),
        (runs[-6].id, {"sport": "trail_run", "rpe": 2.0}),
    ]
    for activity_id, change in edits:
        assert client.patch(f"/api/activities/{activity_id}", json=change).status_code == 200
    # A new pair not run in yet: the shoe totals hold no row for it.
    assert client.post("/api/shoes", json={"name": "Unworn pair"}).status_code == 201
    check_totals(session, athlete_id)
    check_pages(client, session, athlete_id)
    # A delete, an edit of a column only SQL can change (distance), a run added by the CLI.
    session.execute(sa.delete(ActivityRow).where(ActivityRow.id == runs[-7].id))
    session.execute(sa.update(ActivityRow).where(ActivityRow.id == runs[-8].id).values(distance_m=31_000.0))
    # Edits that keep the run's day, sport and shoe (revision 0017 recomputes only what they change) and
    # one that moves it to another day.
    session.execute(sa.update(ActivityRow).where(ActivityRow.id == runs[-9].id).values(moving_time_s=4000.0))
    session.execute(sa.update(ActivityRow).where(ActivityRow.id == runs[-10].id).values(rpe=runs[-10].rpe))
    moved = runs[-11].local_date - timedelta(days=3)
    session.execute(sa.update(ActivityRow).where(ActivityRow.id == runs[-11].id).values(local_date=moved))
    session.commit()
    result = run_cli_decade(
        "add-run", "--date", today().isoformat(), "--distance", "12km", "--duration", "1h"
    )
    assert result.returncode == 0, result.stderr
    check_totals(session, athlete_id)
    check_pages(client, session, athlete_id)


@pytest.fixture(scope="module")
def run_cli_decade(module_db, tmp_path_factory):
    import subprocess
    import sys

    env = dict(
        os.environ,
        STRIDEGUARD_DATABASE_URL=module_db,
        STRIDEGUARD_DATA_DIR=str(tmp_path_factory.mktemp("cli")),
    )
    env.pop("STRIDEGUARD_TEST_DATABASE_URL", None)

    def run(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "strideguard", *args], env=env, capture_output=True, text=True, timeout=120
        )

    return run


def test_totals_equal_the_full_computation_on_the_demo_athlete(client, session, athlete_id):
    """The demo: a year imported, then shoes assigned and RPE rated run by run (edits), a pain episode."""
    activities = list(demo.athlete_activities(today(), 52, seed=7))
    store.save_activities(session, athlete_id, [replace(a, streams=None) for a in activities])
    session.commit()
    add_demo_extras(
        session,
        athlete_id,
        store.list_activities(session, athlete_id, newest_first=False),
        np.random.default_rng(7),
    )
    session.commit()
    check_totals(session, athlete_id)
    check_pages(client, session, athlete_id)


def test_uploaded_files_update_the_totals(client, session, athlete_id, data_dir):
    from test_web_import import upload, wait_for_job

    response = upload(
        client, [("run.fit", (data_dir / "fit/fitparse__2013-02-06-12-11-14.fit").read_bytes())]
    )
    assert response.status_code == 303
    assert wait_for_job(client, response.headers["location"])["imported"] == 1
    rows = session.execute(sa.select(ActivityDayRow).where(ActivityDayRow.athlete_id == athlete_id)).all()
    assert len(rows) == 1
    check_totals(session, athlete_id)


def test_deleting_an_athlete_removes_its_totals_and_keeps_the_others(session, athlete_id):
    other = AthleteRow(name="Other")
    session.add(other)
    session.flush()
    for who in (athlete_id, other.id):
        shoe = shoe_store.add_shoe(session, who, "Pair")
        for day in range(5):
            start = datetime(2026, 3, 2 + day, 7, tzinfo=UTC)
            store.save_activity(
                session, who, replace(store.manual_activity(start, 8000.0, 2600.0), shoe_id=shoe.id)
            )
    session.commit()
    session.execute(sa.delete(AthleteRow).where(AthleteRow.id == other.id))
    session.commit()
    kept = session.execute(sa.select(ActivityDayRow.athlete_id).distinct()).scalars().all()
    assert kept == [athlete_id]
    assert session.execute(sa.select(ShoeTotalRow.athlete_id).distinct()).scalars().all() == [athlete_id]
    check_totals(session, athlete_id)


def test_concurrent_writers_of_one_athlete_keep_the_day_total_whole(engine, athlete_id, db_url):
    """Two transactions adding runs on the same day: the second waits for the first (PostgreSQL: an
    advisory lock per athlete; SQLite: its write lock), so the day's total counts both."""
    sessions = db.session_factory(engine)
    day = datetime(2026, 4, 7, 7, tzinfo=UTC)
    first = sessions()
    store.save_activity(first, athlete_id, store.manual_activity(day, 5000.0, 1500.0))
    first.flush()
    done = threading.Event()

    def second() -> None:
        with sessions() as session:
            store.save_activity(
                session, athlete_id, store.manual_activity(day + timedelta(hours=5), 7000.0, 2100.0)
            )
            session.commit()
        done.set()

    worker = threading.Thread(target=second)
    worker.start()
    try:
        if db_url.startswith("postgresql"):  # wait until the second writer is blocked, then go on
            deadline = time.monotonic() + 120
            with engine.connect() as probe:
                while not probe.scalar(sa.text("select count(*) from pg_locks where not granted")):
                    assert time.monotonic() < deadline, "the second writer never waited"
                    time.sleep(0.02)
        assert not done.is_set()
        first.commit()
    finally:
        first.close()
        worker.join(timeout=60)
    assert done.is_set()
    with sessions() as session:
        row = session.execute(
            sa.select(ActivityDayRow).where(ActivityDayRow.athlete_id == athlete_id)
        ).scalar_one()
        assert (row.activities, row.distance_m) == (2, 12_000.0)
        check_totals(session, athlete_id)


def _newest_five(session, athlete_id: int, end: date) -> list[int | None]:
    """What the dashboard listed before it took its latest activities from the runs it had read."""
    since = end - timedelta(days=dashboard.HISTORY_DAYS)
    return [a.id for a in store.list_activities(session, athlete_id, since=since, until=end, limit=5)]


def _history(session, name: str, days_ago: list[int], same_start: bool = False) -> int:
    """A new athlete with one run (or a walk, every third) on each of `days_ago`; with `same_start` all at
    one instant of today (ties broken by id)."""
    athlete = AthleteRow(name=name)
    session.add(athlete)
    session.flush()
    for k, ago in enumerate(days_ago):
        day = today() - timedelta(days=0 if same_start else ago)
        store.save_activity(
            session,
            athlete.id,
            Activity(
                sport="walk" if k % 3 == 2 else "run",
                start_utc=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7),
                utc_offset_s=0,
                source_format="fit",
                distance_m=5000.0 + k,
                elapsed_time_s=1800.0,
                name=f"{name} {k}",
            ),
        )
    session.commit()
    return athlete.id


def test_latest_activities_are_the_newest_five_of_the_last_year(decade):
    """The dashboard takes its five latest activities from the runs of the last RUNS_DAYS days it has read
    when there are five, else from the database; either way the same list as asking for them."""
    client, session, athlete_id = decade
    cases = {
        "ten years": athlete_id,
        # fewer than five in the recent window, more within the year: the older ones fill the list
        "sparse": _history(session, "Sparse", [3, 40, 200, 250, 300, 330, 380, 390]),
        "two": _history(session, "Two", [1, 260]),
        "same start": _history(session, "Ties", [0] * 7, same_start=True),
        "over a year ago": _history(session, "Old", [420, 500]),
    }
    for label, athlete in cases.items():
        context = dashboard.dashboard_context(session, athlete, today())
        assert [a.id for a in context["recent"]] == _newest_five(session, athlete, today()), label
    assert len(_newest_five(session, cases["sparse"], today())) == 5
    assert _newest_five(session, cases["over a year ago"], today()) == []
    # The page: its list and its "no runs" note agree with the database.
    page = client.get("/").text
    assert "No runs in the last year" not in page
    for activity_id in _newest_five(session, athlete_id, today()):
        assert f'href="/activities/{activity_id}"' in page


def test_recent_runs_are_the_window_and_the_last_run_before_it(decade):
    """The dashboard's one statement for its single runs returns what two `list_activities` calls did: the
    last run (not a walk) before the window within the history, first, then the window oldest first; also
    when that run started after the window's first one in UTC (a later local date in another time zone)."""
    _client, session, athlete_id = decade
    end = today()
    days, history = overview.RUNS_DAYS, overview.HISTORY_DAYS
    since = end - timedelta(days=days)

    def as_before(athlete: int) -> list[int]:
        before = store.list_activities(
            session,
            athlete,
            since=end - timedelta(days=history),
            until=since - timedelta(days=1),
            sports=RUNNING_SPORTS,
            limit=1,
        )
        window = store.list_activities(session, athlete, since=since, until=end, newest_first=False)
        return [a.id for a in before + window]

    edge = AthleteRow(name="Time zones")
    session.add(edge)
    session.flush()
    midnight = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    for sport, start, offset in (
        ("run", midnight - timedelta(minutes=30), 0),  # the day before the window, 23:30 UTC
        ("walk", midnight - timedelta(hours=2), 0),  # a walk is never "the last run before"
        ("run", midnight - timedelta(hours=3), 4 * 3600),  # the window's first day, 01:00 local
    ):
        store.save_activity(
            session,
            edge.id,
            Activity(
                sport=sport, start_utc=start, utc_offset_s=offset, source_format="fit", distance_m=5000.0
            ),
        )
    session.commit()
    cases = {
        "ten years": athlete_id,
        "time zones": edge.id,
        "none before": _history(session, "None before", [1, 2, 3]),
        "only older than the history": _history(session, "Older", [2, history + 5]),
        "a walk before": _history(session, "Walk", [200, 210, days + 5]),  # the third, latest, is a walk
        "empty window": _history(session, "Quiet", [days + 3, days + 9]),
    }
    for label, athlete in cases.items():
        got = [a.id for a in aggregates.recent_runs(session, athlete, end, days, history)]
        assert got == as_before(athlete), label
    got = aggregates.recent_runs(session, edge.id, end, days, history)
    assert [a.sport for a in got] == ["run", "run"] and got[0].start_utc > got[1].start_utc
