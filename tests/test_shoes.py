"""Shoes: wear arithmetic (pure), the shoe store (athlete-scoped), and `strideguard shoes ...` as a user "
"runs it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import AthleteRow
from strideguard.training.shoes import Shoe, progress_bar, shoe_alerts, shoe_wear, wear_level


def activity(day: date, km: float, shoe_id: int | None, sport: str = "run") -> Activity:
    return Activity(
        sport=sport,
        start_utc=datetime(day.year, day.month, day.day, 8, tzinfo=UTC),
        source_format="manual",
        distance_m=km * 1000,
        moving_time_s=km * 360,
        shoe_id=shoe_id,
    )


def save(session, athlete_id: int, day: date, km: float) -> int:
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    return store.save_activity(
        session, athlete_id, store.manual_activity(start, km * 1000, km * 360)
    ).activity_id


D0 = date(2026, 5, 1)


def test_wear_adds_start_distance_and_every_assigned_activity():
    shoes = [Shoe(1, "Daily", start_distance_m=100_000), Shoe(2, "Racer", retire_at_m=300_000)]
    acts = [
        activity(D0, 10, 1),
        activity(D0 + timedelta(days=2), 12, 1),
        activity(D0, 5, 2, "walk"),
        activity(D0, 9, None),
    ]
    daily, racer = shoe_wear(shoes, acts)
    assert (daily.distance_m, daily.activities, daily.last_used) == (122_000, 2, D0 + timedelta(days=2))
    assert daily.fraction == pytest.approx(122 / 450) and daily.level == "ok"
    assert racer.distance_m == 5000 and racer.fraction == pytest.approx(5 / 300)


@pytest.mark.parametrize(
    ("fraction", "level"),
    [(0.0, "ok"), (0.8999, "ok"), (0.9, "check"), (0.9999, "check"), (1.0, "replace"), (1.7, "replace")],
)
def test_wear_level_thresholds(fraction, level):
    assert wear_level(fraction) == level


def test_alerts_skip_retired_shoes_and_sort_most_worn_first():
    retired = Shoe(3, "Old", start_distance_m=800_000, retired_at=datetime(2026, 1, 1, tzinfo=UTC))
    worn = Shoe(1, "Worn", start_distance_m=460_000)
    near = Shoe(2, "Near", start_distance_m=420_000)
    alerts = shoe_alerts(shoe_wear([near, retired, worn], []))
    assert [(a.shoe.name, a.level) for a in alerts] == [("Worn", "replace"), ("Near", "check")]


def test_progress_bar_is_capped():
    assert progress_bar(0.5, 10) == "█████░░░░░" and progress_bar(2.0, 4) == "████"


def test_store_round_trip_defaults_assign_retire_restore(session, athlete_id):
    daily = shoe_store.add_shoe(
        session, athlete_id, "Daily", "Asics", "Novablast", 50_000, 500_000, in_use_from=date(2026, 1, 1)
    )
    trail = shoe_store.add_shoe(session, athlete_id, "Trail")
    shoe_store.set_default(session, athlete_id, daily.id, "run")
    shoe_store.set_default(session, athlete_id, trail.id, "trail_run")
    first = save(session, athlete_id, D0, 10)  # default applied on save
    assert store.get_activity(session, athlete_id, first).shoe_id == daily.id
    shoe_store.assign(session, athlete_id, first, trail.id)
    assert shoe_store.shoe_activity_ids(session, athlete_id, trail.id) == [first]
    assert shoe_store.defaults(session, athlete_id) == {"run": daily.id, "trail_run": trail.id}
    retired = shoe_store.retire(session, athlete_id, trail.id)
    assert retired.retired and "trail_run" not in shoe_store.defaults(session, athlete_id)
    # Retired shoes keep their history.
    assert store.get_activity(session, athlete_id, first).shoe_id == trail.id
    assert [s.name for s in shoe_store.list_shoes(session, athlete_id, include_retired=False)] == ["Daily"]
    with pytest.raises(shoe_store.ShoeInputError, match="retired"):
        shoe_store.set_default(session, athlete_id, trail.id, "run")
    assert not shoe_store.restore(session, athlete_id, trail.id).retired
    got = shoe_store.get_shoe(session, athlete_id, daily.id)
    assert (got.brand, got.model, got.start_distance_m, got.retire_at_m) == (
        "Asics",
        "Novablast",
        50_000,
        500_000,
    )
    assert shoe_store.find_shoe(session, athlete_id, "daily").id == daily.id
    assert shoe_store.find_shoe(session, athlete_id, f"#{trail.id}").id == trail.id


def test_store_is_athlete_scoped(session, athlete_id):
    other = AthleteRow(name="Other")
    session.add(other)
    session.flush()
    theirs = shoe_store.add_shoe(session, other.id, "Theirs")
    assert shoe_store.list_shoes(session, athlete_id) == []
    with pytest.raises(store.NotFound):
        shoe_store.get_shoe(session, athlete_id, theirs.id)
    mine = save(session, athlete_id, D0, 5)
    with pytest.raises(store.NotFound):
        shoe_store.assign(session, athlete_id, mine, theirs.id)


def test_update_shoe_changes_fields_and_keeps_history_defaults_and_retirement(session, athlete_id):
    daily = shoe_store.add_shoe(
        session, athlete_id, "Daily", "Asics", "Novablast", 50_000, 500_000, in_use_from=date(2026, 1, 1)
    )
    shoe_store.set_default(session, athlete_id, daily.id, "run")
    run = save(session, athlete_id, D0, 10)
    updated = shoe_store.update_shoe(
        session,
        athlete_id,
        daily.id,
        name="  Daily v2 ",
        brand=None,
        model="Novablast 4",
        start_distance_m=0.0,
        retire_at_m=700_000,
    )
    session.commit()
    got = shoe_store.get_shoe(session, athlete_id, daily.id)
    assert got == updated
    assert (got.name, got.brand, got.model, got.start_distance_m, got.retire_at_m) == (
        "Daily v2",
        None,
        "Novablast 4",
        0.0,
        700_000,
    )
    assert shoe_store.defaults(session, athlete_id) == {"run": daily.id}
    assert shoe_store.shoe_activity_ids(session, athlete_id, daily.id) == [run]
    retired = shoe_store.retire(session, athlete_id, daily.id)
    again = shoe_store.update_shoe(
        session,
        athlete_id,
        daily.id,
        name="Old daily",
        brand="Asics",
        model=None,
        start_distance_m=1_000,
        retire_at_m=700_000,
    )
    assert again.retired_at == retired.retired_at


def test_update_shoe_refuses_bad_values_and_other_athletes_shoes(session, athlete_id):
    mine = shoe_store.add_shoe(session, athlete_id, "Mine", retire_at_m=400_000)
    other = AthleteRow(name="Other")
    session.add(other)
    session.flush()
    theirs = shoe_store.add_shoe(session, other.id, "Theirs")
    values = {"name": "X", "brand": None, "model": None, "start_distance_m": 0.0, "retire_at_m": 1.0}
    with pytest.raises(store.NotFound, match=f"no shoe #{theirs.id}"):
        shoe_store.update_shoe(session, athlete_id, theirs.id, **values)
    for bad, message in (
        ({"name": " "}, "needs a name"),
        ({"start_distance_m": -5.0}, "cannot be negative"),
        ({"retire_at_m": 0.0}, "more than zero"),
    ):
        with pytest.raises(shoe_store.ShoeInputError, match=message):
            shoe_store.update_shoe(session, athlete_id, mine.id, **{**values, **bad})
    assert shoe_store.get_shoe(session, athlete_id, mine.id).retire_at_m == 400_000
    assert shoe_store.get_shoe(session, other.id, theirs.id).name == "Theirs"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " "}, "needs a name"),
        ({"start_distance_m": -1.0}, "cannot be negative"),
        ({"retire_at_m": 0.0}, "more than zero"),
    ],
)
def test_store_refuses_bad_shoes(session, athlete_id, kwargs, message):
    args = {"name": "X", **kwargs}
    with pytest.raises(shoe_store.ShoeInputError, match=message):
        shoe_store.add_shoe(session, athlete_id, **args)


def test_shoes_cli_add_default_applies_on_add_run_then_list_assign_retire_restore(run_cli):
    added = run_cli(
        "shoes",
        "add",
        "Daily trainer",
        "--brand",
        "Asics",
        "--start-distance",
        "400km",
        "--default-for",
        "run",
        "--from",
        "2026-01-01",
    )
    assert added.returncode == 0, added.stderr
    assert run_cli("shoes", "add", "Racer", "--retire-at", "300km").returncode == 0
    assert (
        run_cli("add-run", "--date", "2026-05-01", "--distance", "12km", "--duration", "65min").returncode
        == 0
    )
    listed = json.loads(run_cli("shoes", "list", "--json").stdout)
    daily = listed[0]
    assert (daily["distance_m"], daily["activities"], daily["default_for"]) == (412_000, 1, ["run"])
    assert daily["percent"] == pytest.approx(91.6, abs=0.05) and daily["level"] == "check"
    table = run_cli("shoes", "list")
    assert "Daily trainer" in table.stdout and "check" in table.stdout.split()  # one word, as on the web
    assert run_cli("shoes", "assign", "Racer", "last").returncode == 0
    listed = json.loads(run_cli("shoes", "list", "--json").stdout)
    assert [s["distance_m"] for s in listed] == [400_000, 12_000]
    assert run_cli("shoes", "retire", "2").returncode == 0
    listed = json.loads(run_cli("shoes", "list", "--json").stdout)
    assert listed[1]["retired"] and listed[1]["distance_m"] == 12_000
    assert [s["name"] for s in json.loads(run_cli("shoes", "list", "--active", "--json").stdout)] == [
        "Daily trainer"
    ]
    assert run_cli("shoes", "restore", "Racer").returncode == 0
    assert run_cli("shoes", "set-default", "Racer", "--sport", "treadmill").returncode == 0
    listed = json.loads(run_cli("shoes", "list", "--json").stdout)
    assert not listed[1]["retired"] and listed[1]["default_for"] == ["treadmill"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("shoes", "assign", "Nope", "1"), "no shoe 'Nope'"),
        (("shoes", "retire", "42"), "no shoe #42"),
        (("shoes", "add", "X", "--retire-at", "lots"), "--retire-at: 'lots' is not a distance"),
    ],
)
def test_shoes_cli_errors_are_one_line(run_cli, args, message):
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_retire_says_which_defaults_it_cleared(run_cli):
    assert (
        run_cli("shoes", "add", "Daily", "--default-for", "run", "--default-for", "trail_run").returncode == 0
    )
    retired = run_cli("shoes", "retire", "Daily")
    assert retired.returncode == 0, retired.stderr
    assert "It was the default for run, trail run; choose another default" in retired.stdout
    restored = run_cli("shoes", "restore", "Daily")
    assert "default for no sport" in restored.stdout
    assert json.loads(run_cli("shoes", "list", "--json").stdout)[0]["default_for"] == []
    assert "default for" not in run_cli("shoes", "retire", "Daily").stdout.split("history.")[1]
