"""Shoes by date (issue 11): a run gets the shoe in use on its date, a 2015 run never lands on today's
pair, gear named in an export wins, and changing a shoe's dates moves only the runs assigned by date; the
per-shoe totals stay equal to the full computation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import sqlalchemy as sa
from bs4 import BeautifulSoup

import exportgen
from strideguard.importing.service import ImportOptions, run_import
from strideguard.storage import activities as store
from strideguard.storage import aggregates
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import ActivityRow
from strideguard.training.shoes import InUse, shoe_on, shoe_wear


def save(session, athlete_id: int, day: date, km: float = 10.0, sport: str = "run", shoe_id=None) -> int:
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    activity = replace(store.manual_activity(start, km * 1000, km * 360, sport=sport), shoe_id=shoe_id)
    return store.save_activity(session, athlete_id, activity).activity_id


def shoe_of(session, athlete_id: int, activity_id: int) -> tuple[int | None, bool]:
    session.expire_all()
    got = store.get_activity(session, athlete_id, activity_id, with_streams=False)
    return got.shoe_id, got.shoe_auto


def check_shoe_totals(session, athlete_id: int) -> None:
    """The totals the triggers keep equal the full computation over every activity."""
    session.expire_all()
    shoes = shoe_store.list_shoes(session, athlete_id)
    everything = store.list_activities(session, athlete_id)
    kept = [
        (w.shoe.id, w.distance_m, w.activities, w.last_used)
        for w in aggregates.shoe_wears(session, athlete_id, shoes)
    ]
    full = [(w.shoe.id, w.distance_m, w.activities, w.last_used) for w in shoe_wear(shoes, everything)]
    assert kept == full


def test_the_rule_picks_the_default_in_use_then_the_one_older_pair_else_none():
    old, new = InUse(1, date(2014, 1, 1), date(2015, 12, 31)), InUse(2, date(2016, 1, 1))
    trail = InUse(3, date(2013, 1, 1))
    defaults = {"run": 2, "trail_run": 3}
    spans = [old, new, trail]
    assert shoe_on(date(2017, 5, 1), "run", spans, defaults) == 2  # the default, in use
    assert shoe_on(date(2015, 5, 1), "run", spans, defaults) == 1  # the pair the default replaced
    assert shoe_on(date(2013, 5, 1), "run", spans, defaults) is None  # before every run shoe
    assert shoe_on(date(2015, 5, 1), "walk", spans, defaults) is None  # no default for walks
    assert shoe_on(date(2015, 5, 1), "trail_run", spans, defaults) == 3


def test_a_2015_run_does_not_go_on_todays_default_shoe(run_cli, data_dir):
    assert run_cli("shoes", "add", "Daily", "--default-for", "run").returncode == 0
    old_run = data_dir / "tcx" / "goldencheetah__10kUNLP2014-Garmin15.tcx"  # a 10 km race in 2014
    imported = run_cli("import", str(old_run))
    assert imported.returncode == 0, imported.stderr
    assert "1 activity got no shoe: no pair was in use on their dates" in imported.stdout.replace("\n", " ")
    (row,) = json.loads(run_cli("runs", "--json").stdout)
    assert row["date"].startswith("2014") or row["start_utc"].startswith("2014")
    assert row["shoe_id"] is None and row["shoe_auto"] is True
    assert json.loads(run_cli("shoes", "list", "--json").stdout)[0]["distance_m"] == 0
    # The runner says when the pair was bought: the run, assigned by date, moves onto it.
    edited = run_cli("shoes", "edit", "Daily", "--from", "2014-01-01")
    assert edited.returncode == 0, edited.stderr
    assert "1 automatically assigned run changed shoe" in edited.stdout
    (row,) = json.loads(run_cli("runs", "--json").stdout)
    assert row["shoe_id"] == 1 and row["shoe_auto"] is True
    assert "(auto)" in run_cli("runs").stdout
    shown = run_cli("shoes", "show", "Daily")
    assert "in use from 2014-01-01" in shown.stdout and "auto (by date)" in shown.stdout
    bad = run_cli("shoes", "edit", "Daily", "--from", "2014-01-01", "--until", "2013-01-01")
    assert bad.returncode != 0 and "before in use from" in bad.stderr and "Traceback" not in bad.stderr


def test_changing_dates_moves_only_automatic_runs_and_totals_stay_right(session, athlete_id):
    old = shoe_store.add_shoe(session, athlete_id, "Old pair", in_use_from=date(2020, 1, 1))
    new = shoe_store.add_shoe(session, athlete_id, "New pair", in_use_from=date(2021, 1, 1))
    shoe_store.set_default(session, athlete_id, new.id, "run")
    shoe_store.set_dates(session, athlete_id, old.id, in_use_until=date(2020, 12, 31))
    before_all = save(session, athlete_id, date(2019, 6, 1))
    in_old = save(session, athlete_id, date(2020, 6, 1))
    in_new = save(session, athlete_id, date(2021, 6, 1))
    chosen = save(
        session, athlete_id, date(2021, 7, 1), shoe_id=old.id
    )  # the runner's (or the export's) pair
    assert shoe_of(session, athlete_id, before_all) == (None, True)
    assert shoe_of(session, athlete_id, in_old) == (old.id, True)
    assert shoe_of(session, athlete_id, in_new) == (new.id, True)
    assert shoe_of(session, athlete_id, chosen) == (old.id, False)
    check_shoe_totals(session, athlete_id)
    # The new pair was bought earlier than said: runs assigned by date move to it; the chosen one stays.
    _, moved = shoe_store.set_dates(session, athlete_id, new.id, in_use_from=date(2019, 1, 1))
    assert moved == 2
    assert shoe_of(session, athlete_id, before_all) == (new.id, True)
    assert shoe_of(session, athlete_id, in_old) == (new.id, True)  # the default wins where both were in use
    assert shoe_of(session, athlete_id, chosen) == (old.id, False)
    check_shoe_totals(session, athlete_id)
    # Clearing the date again (from its first run: none chosen by the runner, so the day it was added).
    shoe_store.set_dates(session, athlete_id, new.id, in_use_from=None)
    assert (
        shoe_of(session, athlete_id, in_new)[0] is None and shoe_of(session, athlete_id, in_old)[0] == old.id
    )
    check_shoe_totals(session, athlete_id)
    # An activity the runner puts on a shoe by hand is his choice from then on.
    shoe_store.assign(session, athlete_id, in_old, new.id)
    assert shoe_of(session, athlete_id, in_old) == (new.id, False)
    shoe_store.set_dates(session, athlete_id, new.id, in_use_from=date(2022, 1, 1))
    assert shoe_of(session, athlete_id, in_old) == (new.id, False)
    check_shoe_totals(session, athlete_id)
    session.commit()


def test_gear_named_in_an_export_wins_over_the_shoe_chosen_by_date(engine, session, athlete_id, tmp_path):
    daily = shoe_store.add_shoe(session, athlete_id, "Daily", in_use_from=date(2020, 1, 1))
    shoe_store.set_default(session, athlete_id, daily.id, "run")
    session.commit()
    runs = exportgen.simulated_runs(2, minutes=3, first_day=date(2025, 3, 3))
    # First the bare watch file: it gets the shoe in use by date.
    bare = tmp_path / "watch.fit"
    bare.write_bytes(exportgen.fit_bytes(runs[0]))
    run_import(engine, [bare], ImportOptions(workers=0))
    (first,) = store.list_activities(session, athlete_id)
    assert (first.shoe_id, first.shoe_auto) == (daily.id, True)
    # Then the export naming the gear of both runs: gear wins, also for the run already stored.
    entries = [exportgen.StravaEntry(i + 1, run, gear="Pegasus 39", ext="fit") for i, run in enumerate(runs)]
    export = exportgen.write_strava_export(
        tmp_path / "export.zip", entries, shoes=[("Pegasus 39", "Nike", "Pegasus 39")]
    )
    export_file = tmp_path / "export_copy.zip"
    export_file.write_bytes(export.read_bytes())
    run_import(engine, [export_file], ImportOptions(workers=0))
    session.expire_all()
    pegasus = shoe_store.find_shoe(session, athlete_id, "Pegasus 39")
    stored = store.list_activities(session, athlete_id)
    assert len(stored) == 2
    assert {(a.shoe_id, a.shoe_auto) for a in stored} == {(pegasus.id, False)}
    # Changing the default pair's dates does not move runs whose gear the export named.
    shoe_store.set_dates(session, athlete_id, daily.id, in_use_from=date(2019, 1, 1))
    assert {a.shoe_id for a in store.list_activities(session, athlete_id)} == {pegasus.id}
    check_shoe_totals(session, athlete_id)


def test_shoe_page_and_activity_page_mark_automatic_assignment(client, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily", in_use_from=date(2020, 1, 1))
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    auto = save(session, athlete_id, date(2024, 3, 1))
    chosen = save(session, athlete_id, date(2024, 3, 2), shoe_id=shoe.id)
    session.commit()
    page = BeautifulSoup(client.get(f"/shoes/{shoe.id}").text, "html.parser")
    items = {li.a["href"]: li for li in page.select(".shoe-runs li")}
    assert "auto" in items[f"/activities/{auto}"].text and "auto" not in items[f"/activities/{chosen}"].text
    assert "In use from 2020-01-01" in page.select_one(".shoe-dates").text
    assert page.select_one("#edit-from")["value"] == "2020-01-01"
    detail = BeautifulSoup(client.get(f"/activities/{auto}").text, "html.parser")
    assert detail.select_one(".stats .tag").text == "auto"
    # The form's dates: a later "from" moves the automatic run off the shoe, never the chosen one.
    token = page.select_one('meta[name="csrf-token"]')["content"]
    form = {"csrf_token": token, "name": "Daily", "start_km": "0", "retire_km": "450"}
    saved = client.post(
        f"/shoes/{shoe.id}", data={**form, "in_use_from": "2024-03-02"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert shoe_of(session, athlete_id, auto) == (None, True)
    assert shoe_of(session, athlete_id, chosen) == (shoe.id, False)
    bad = client.post(f"/shoes/{shoe.id}", data={**form, "in_use_from": "2024-13-40"})
    assert bad.status_code == 422 and "In use from: enter a date" in bad.text


def test_migration_keeps_stored_shoes_and_marks_unassigned_runs_automatic(db_url, run_cli):
    """A database at 0008 with runs on a shoe and without one: upgraded, the shoe stays (the runner's), the
    runs without a shoe may get one when dates are given."""
    from strideguard.storage import engine as db

    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine, "0008")
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO athletes (id, name, created_at) VALUES (1, 'Me', '2024-01-01')")
            )
            connection.execute(
                sa.text(
                    "INSERT INTO shoes (id, athlete_id, name, start_distance_m, retire_at_m, created_at) "
                    "VALUES (1, 1, 'Daily', 0, 450000, '2024-06-01')"
                )
            )
            for activity_id, shoe in ((1, "1"), (2, "NULL")):
                connection.execute(
                    sa.text(
                        "INSERT INTO activities (id, athlete_id, sport, start_utc, local_date, distance_m, "
                        "shoe_id, source_format, source_part, created_at) VALUES "
                        f"({activity_id}, 1, 'run', '2023-0{activity_id}-01 08:00:00', "
                        f"'2023-0{activity_id}-01', 5000, {shoe}, 'manual', 0, '2024-01-01')"
                    )
                )
        db.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(ActivityRow.id, ActivityRow.shoe_id, ActivityRow.shoe_auto).order_by(ActivityRow.id)
            ).all()
        assert [tuple(r) for r in rows] == [(1, 1, False), (2, None, True)]
    finally:
        engine.dispose()


def test_add_form_and_api_take_the_dates(client, session, athlete_id):
    save(session, athlete_id, date(2023, 5, 1))
    session.commit()
    page = BeautifulSoup(client.get("/shoes").text, "html.parser")
    token = page.select_one('meta[name="csrf-token"]')["content"]
    form = {"csrf_token": token, "name": "Racer", "start_km": "0", "retire_km": "450"}
    added = client.post("/shoes", data={**form, "in_use_from": "2023-01-01"}, follow_redirects=False)
    assert added.status_code == 303
    racer = shoe_store.find_shoe(session, athlete_id, "Racer")
    assert racer.in_use_from == date(2023, 1, 1)
    future = client.post("/shoes", data={**form, "name": "Later", "in_use_from": "2999-01-01"})
    assert future.status_code == 422 and "not between 1990 and today" in future.text
    # The API: dates in, the automatic run moved when the pair becomes the default.
    created = client.post("/api/shoes", json={"name": "Trail", "in_use_from": "2022-01-01"})
    assert created.status_code == 201
    trail_id = created.json()["id"]
    shoe_store.set_default(session, athlete_id, trail_id, "run")
    session.commit()
    (run,) = store.list_activities(session, athlete_id)
    assert (run.shoe_id, run.shoe_auto) == (trail_id, True)
    patched = client.patch(f"/api/shoes/{trail_id}", json={"in_use_from": "2024-01-01"})
    assert patched.status_code == 200 and patched.json()["in_use_from"] == "2024-01-01"
    session.expire_all()
    (run,) = store.list_activities(session, athlete_id)
    assert run.shoe_id == racer.id  # the one pair in use then that is no other sport's default
    wrong = client.patch(f"/api/shoes/{trail_id}", json={"in_use_until": "2023-01-01"})
    assert wrong.status_code == 422 and "before in use from" in wrong.text


def test_shoes_list_shows_the_dates_in_use_also_on_a_narrow_terminal(run_cli, cli_env):
    """`shoes list` has an "in use" column (its JSON had the dates, the table did not): "since DATE" for a
    pair still in use, "DATE to DATE" for one with an end. On an 80-column terminal every column still fits
    and no date breaks inside."""
    import subprocess
    import sys

    assert (
        run_cli("shoes", "add", "Daily trainer", "--from", "2025-03-01", "--default-for", "run").returncode
        == 0
    )
    assert run_cli("shoes", "add", "Racers", "--from", "2024-01-10", "--until", "2025-02-28").returncode == 0
    wide = run_cli("shoes", "list")
    assert wide.returncode == 0, wide.stderr
    header = next(line for line in wide.stdout.splitlines() if " shoe " in line)
    assert "in use" in header and "wear" in header
    rows = {line.split("│")[2].strip(): line for line in wide.stdout.splitlines() if line.startswith("│")}
    assert "since 2025-03-01" in rows["Daily trainer"]
    assert "2024-01-10 to 2025-02-28" in rows["Racers"]

    narrow = subprocess.run(
        [sys.executable, "-m", "strideguard", "shoes", "list"],
        env={**cli_env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if " shoe " in line)
    for column in ("id", "km", "limit", "%", "runs", "in use", "last used", "status"):
        assert column in header, column
    for day in ("2025-03-01", "2024-01-10", "2025-02-28"):
        assert day in narrow.stdout  # whole, never split over two lines
    # the JSON keeps the same dates
    listed = {s["name"]: s for s in json.loads(run_cli("shoes", "list", "--json").stdout)}
    assert (listed["Racers"]["in_use_from"], listed["Racers"]["in_use_until"]) == ("2024-01-10", "2025-02-28")
