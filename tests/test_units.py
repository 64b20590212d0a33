"""Kilometres or miles, and one number format (strideguard.units) for the CLI, the web, the report and the
API's display fields; stored values stay SI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup

from histories import TODAY, add, day
from strideguard import units
from strideguard.storage import activities as store
from strideguard.storage import shoes as shoe_store


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(client, path: str = "/settings") -> str:
    return soup(client.get(path)).select_one('meta[name="csrf-token"]')["content"]


# --- the one format -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [(2.25, 1, "2.3"), (0.125, 2, "0.13"), (2.675, 2, "2.68"), (-0.04, 1, "0.0"), (1234.5, 0, "1235")],
)
def test_numbers_round_half_away_from_zero_on_the_shown_digit(value, decimals, shown):
    assert units.number(value, decimals) == shown


def test_distances_paces_speeds_and_durations_read_one_way():
    assert units.distance(10_000, "km") == "10.0 km" and units.distance(10_000, "mi") == "6.2 mi"
    assert units.activity_distance(10_020, "km") == "10.02 km"
    assert units.format_pace(10_000, 3336, "km") == "5:34/km"  # 5:33.6 rounds once, up
    assert units.format_pace(1609.344, 480, "mi") == "8:00/mi"
    assert (
        units.format_speed(40_000, 5400, "km") == "26.7 km/h"
        and units.format_speed(40_000, 5400, "mi") == "16.6 mph"
    )
    assert units.format_swim_pace(1500, 1800) == "2:00/100 m"
    assert units.duration(3900) == "1:05:00" and units.duration(2782) == "46:22"
    assert units.percent(12.4) == "12%" and units.percent(-17.2, signed=True) == "-17%"
    assert units.percent(0.3, signed=True) == "0%"  # never "+0 %"


@pytest.mark.parametrize(
    ("sport", "name", "kind"),
    [
        ("run", "Morning Swim", "pace"),  # a run is a run, whatever its name
        ("walk", None, "pace"),
        ("hike", None, "pace"),
        ("other", "Morning Ride", "speed"),
        ("other", "Pool Swim", "swim"),
        ("other", "Open water swim", "swim"),
        ("other", None, "speed"),
    ],
)
def test_pace_for_runs_and_walks_speed_for_rides_per_100m_for_swims(sport, name, kind):
    assert units.rate_kind(sport, name) == kind


def test_rides_show_speed_and_swims_time_per_100m_in_the_cli_the_web_and_the_api(
    client, run_cli, session, athlete_id
):
    # Seen: "536:38/km" for a swim and a pace for a ride.
    ride = add(session, athlete_id, day(3), 40.0, 90, "other", "Morning Ride", None)
    swim = add(session, athlete_id, day(2), 1.5, 30, "other", "Pool Swim", None)
    session.commit()
    listed = run_cli("runs").stdout
    assert "26.7 km/h" in listed and "2:00/100 m" in listed and "/km" not in listed
    rows = soup(client.get("/activities")).select("table.activities tbody tr")
    assert {r.select("td.num")[2].get_text() for r in rows} == {"26.7 km/h", "2:00/100 m"}
    page = soup(client.get(f"/activities/{ride}"))
    assert (
        next(d for d in page.select(".stats div") if d.dt.get_text() == "Speed").dd.get_text() == "26.7 km/h"
    )
    data = client.get(f"/api/activities/{swim}").json()
    assert data["display"]["rate"] == "2:00/100 m" and data["display"]["rate_kind"] == "swim"


def test_the_cli_the_web_and_the_api_write_one_activity_alike(client, run_cli, session, athlete_id):
    run_id = store.save_activity(
        session, athlete_id, store.manual_activity(datetime(2024, 4, 1, 7, tzinfo=UTC), 10_020.0, 3336.0)
    ).activity_id
    session.commit()
    cli = json.loads(run_cli("runs", "--json").stdout)[0]["display"]
    api = client.get(f"/api/activities/{run_id}").json()["display"]
    page = soup(client.get(f"/activities/{run_id}"))
    stats = {d.dt.get_text(): d.dd.get_text() for d in page.select(".stats div")}
    assert (
        cli
        == api
        == {
            "unit": "km",
            "distance": "10.02 km",
            "duration": "55:36",
            "rate": "5:33/km",
            "rate_kind": "pace",
        }
    )
    assert stats["Distance"] == "10.02 km" and stats["Pace"] == "5:33/km" and stats["Moving time"] == "55:36"
    assert "10.02" in run_cli("runs").stdout


def test_one_output_writes_every_distance_with_the_same_decimals(run_cli, session, athlete_id):
    # Seen: "20.00 km" and "20.0 km" in one output, and "+0 %, within 10 % - fine".
    add(session, athlete_id, day(10), 20.0)
    session.commit()
    text = run_cli("plan", "20km", "--date", TODAY.isoformat()).stdout
    decimals = {len(m) for m in re.findall(r"\d+\.(\d+) km", text)}
    assert len(decimals) == 1, text
    assert " %" not in text and "fine" not in text and "as long as your longest run" in text


# --- typed durations ----------------------------------------------------------------------------------------


def test_a_duration_that_makes_an_impossible_pace_says_how_it_was_read(run_cli):
    # Seen: "--duration 1:05" refused as faster than any human, without saying it was read as 1 min 5 s.
    bad = run_cli("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "1:05")
    assert bad.returncode == 2
    line = " ".join(bad.stderr.split())
    assert "read as 1 min 5 s; for an hour and 5 minutes write 1:05:00 or 65min" in line
    assert "faster than any human" in line and "Traceback" not in bad.stderr
    ok = run_cli("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "1:05:00")
    assert ok.returncode == 0 and "10.00 km in 1:05:00 (6:30/km)" in ok.stdout


# --- weeks -------------------------------------------------------------------------------------------------


def test_weeks_shows_the_last_12_weeks_and_says_how_to_see_more(run_cli, cli_env, session, athlete_id):
    # Seen: 926 weeks back to 2009 without --since.
    cli_env["STRIDEGUARD_TODAY"] = TODAY.isoformat()
    for weeks_ago in range(0, 100, 2):
        add(session, athlete_id, day(7 * weeks_ago + 1), 8.0)
    session.commit()
    text = run_cli("weeks").stdout
    assert "the last 12 weeks" in text
    assert len(re.findall(r"^│ \d{4}-W\d\d", text, re.MULTILINE)) == 12
    first = day(7 * 98 + 1).isoformat()
    assert f"Earlier weeks: --since DATE, or --all (your log starts on {first})." in text
    assert len(json.loads(run_cli("weeks", "--json").stdout)) == 12
    assert len(json.loads(run_cli("weeks", "--all", "--json").stdout)) == 99


# --- kilometres or miles ------------------------------------------------------------------------------------


def test_a_runner_who_types_miles_can_read_miles_on_every_screen(
    client, run_cli, cli_env, session, athlete_id, tmp_path
):
    # Seen: "6.2mi" typed, kilometres back.
    cli_env["STRIDEGUARD_TODAY"] = TODAY.isoformat()
    assert "kilometres" in run_cli("settings").stdout
    chosen = run_cli("settings", "--units", "mi")
    assert chosen.returncode == 0 and "Now showing miles (your choice)" in chosen.stdout
    added = run_cli("add-run", "--date", day(3).isoformat(), "--distance", "6.2mi", "--duration", "50min")
    assert "6.20 mi in 50:00 (8:04/mi)" in added.stdout
    run_cli("add-run", "--date", day(1).isoformat(), "--distance", "5", "--duration", "40min")  # bare: miles
    (stored, _) = json.loads(run_cli("runs", "--json").stdout)
    assert stored["distance_m"] == pytest.approx(5 * 1609.344)  # stored SI, shown in miles
    assert stored["display"]["distance"] == "5.00 mi"
    for args in (("runs",), ("weeks",), ("status",), ("plan", "7"), ("shoes", "list")):
        text = run_cli(*args).stdout
        assert not re.search(r"\d km\b|/km", text), (args, text)
    assert "mi" in run_cli("weeks").stdout and "Up to 6.8 mi" in " ".join(run_cli("plan", "7").stdout.split())
    report = tmp_path / "r.html"
    assert run_cli("report", "--out", str(report), "--weeks", "4").returncode == 0
    assert (
        "distances in miles" in report.read_text()
        and " km" not in BeautifulSoup(report.read_text(), "html.parser").get_text()
    )
    for path in ("/", "/activities", "/shoes"):
        text = soup(client.get(path)).select_one("main").get_text(" ")
        assert not re.search(r"\d km\b|/km", text), path
    dashboard = client.get("/api/dashboard").json()
    assert dashboard["unit"] == "mi" and dashboard["this_week"]["display"]["distance"].endswith(" mi")


def test_the_default_unit_comes_from_the_locale(run_cli, cli_env, session, athlete_id):
    add(session, athlete_id, day(1), 10.0)
    session.commit()
    cli_env.pop("LC_MEASUREMENT", None)
    cli_env["LANG"] = "en_US.UTF-8"
    assert "16.09" not in run_cli("runs").stdout and "6.21" in run_cli("runs").stdout
    assert "miles (from the locale, en_US.UTF-8)" in run_cli("settings").stdout
    cli_env["LANG"] = "de_DE.UTF-8"
    assert "10.00" in run_cli("runs").stdout
    cli_env["LC_MEASUREMENT"] = "en_US.UTF-8"  # LC_MEASUREMENT before LANG
    assert "6.21" in run_cli("runs").stdout
    assert units.unit_from_accept_language("en-US,en;q=0.9") == "mi"
    assert units.unit_from_accept_language("fr-FR,en-US;q=0.5") == "km"
    assert units.unit_from_accept_language("en") is None


def test_a_club_server_defaults_to_the_browsers_language_until_the_runner_chooses(db_url, engine, tmp_path):
    from fastapi.testclient import TestClient

    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32))
    try:
        browser = TestClient(app, headers={"Accept-Language": "en-US,en;q=0.9"})
        token = csrf(browser, "/register")
        browser.post(
            "/register",
            data={
                "csrf_token": token,
                "email": "a@example.org",
                "password": "correct horse",
                "password2": "correct horse",
            },
        )
        browser.post(
            "/login", data={"csrf_token": token, "email": "a@example.org", "password": "correct horse"}
        )
        assert browser.get("/api/settings").json() == {"distance_unit": "mi", "chosen": None, "default": "mi"}
        assert "Retire at (mi)" in browser.get("/shoes").text
        changed = browser.patch("/api/settings", json={"distance_unit": "km"}).json()
        assert changed["distance_unit"] == "km" and changed["chosen"] == "km"
        assert "Retire at (km)" in browser.get("/shoes").text
    finally:
        app.state.engine.dispose()


def test_the_settings_page_changes_the_unit_of_every_page(client, session, athlete_id):
    from strideguard.storage import settings as settings_store

    add(session, athlete_id, day(1), 10.0)
    session.commit()
    assert "10.00" in soup(client.get("/activities")).select_one("table.activities").get_text()
    page = soup(client.get("/settings"))
    assert page.select_one('input[name="distance_unit"][value="auto"]').has_attr("checked")
    saved = client.post("/settings", data={"csrf_token": csrf(client), "distance_unit": "mi"})
    assert saved.status_code == 200 and "Saved: distances in miles." in saved.text
    assert "6.21" in soup(client.get("/activities")).select_one("table.activities").get_text()
    assert settings_store.stored_unit(session, athlete_id) == "mi"
    bad = client.post("/settings", data={"csrf_token": csrf(client), "distance_unit": "furlongs"})
    assert bad.status_code == 422 and "Nothing was saved" in bad.text
    assert settings_store.stored_unit(session, athlete_id) == "mi"
    client.post("/settings", data={"csrf_token": csrf(client), "distance_unit": "auto"})
    session.expire_all()
    assert settings_store.stored_unit(session, athlete_id) is None


def test_shoe_limits_are_read_and_typed_in_the_chosen_unit(client, run_cli, session, athlete_id):
    from strideguard.storage import settings as settings_store

    settings_store.set_distance_unit(session, athlete_id, "mi")
    session.commit()
    page = soup(client.get("/shoes"))
    assert page.select_one('label[for="add-retire"]').get_text() == "Retire at (mi)"
    assert page.select_one("#add-retire")["value"] == "280"  # 450 km is about 280 mi
    assert "default limit is about 280 mi" in page.select_one("#add-retire-help").get_text()
    client.post(
        "/shoes",
        data={"csrf_token": csrf(client, "/shoes"), "name": "Trainer", "start_km": "0", "retire_km": "280"},
    )
    (shoe,) = shoe_store.list_shoes(session, athlete_id)
    assert shoe.retire_at_m == pytest.approx(280 * 1609.344)
    assert "0 mi of 280 mi" in soup(client.get("/shoes")).select_one("td.wear").get_text()
    added = run_cli("shoes", "add", "Racer", "--retire-at", "300")
    assert "retire at 300 mi" in added.stdout
    listed = json.loads(run_cli("shoes", "list", "--json").stdout)
    assert listed[-1]["retire_at_m"] == pytest.approx(300 * 1609.344)
    edit = soup(client.get(f"/shoes/{shoe.id}"))
    assert edit.select_one("#edit-retire")["value"] == "280"  # what was typed comes back unchanged
