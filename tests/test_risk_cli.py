"""`strideguard risk|plan|rate|status` as a user runs them (subprocess, real database), on histories
built with `add-run` and with the store directly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry


def save_run(
    session, athlete_id, day: date, km: float, minutes: float = 50, rpe=None, sport="run", hour=12, offset_h=2
):
    tz = timezone(timedelta(hours=offset_h))
    start = datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(UTC)
    activity = store.manual_activity(start, km * 1000, minutes * 60, sport, int(offset_h * 3600), rpe)
    return store.save_activity(session, athlete_id, activity).activity_id


D0 = date(2026, 5, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def risk_json(run_cli, *args):
    result = run_cli("risk", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["flags"]


def test_spike_built_with_add_run_is_flagged_with_local_date_across_midnight(run_cli):
    for args in (
        ("--date", "2026-05-01", "--distance", "10km", "--duration", "55min"),
        ("--date", "2026-05-08", "--distance", "8km", "--duration", "45min", "--sport", "treadmill"),
        # 23:30 at UTC-5 is already 05-16 in UTC; the runner's day is 05-15.
        (
            "--date",
            "2026-05-15",
            "--distance",
            "13.5km",
            "--duration",
            "80min",
            "--time",
            "23:30",
            "--utc-offset",
            "-05:00",
        ),
    ):
        added = run_cli("add-run", *args, "--json")
        assert added.returncode == 0, added.stderr
    flags = risk_json(run_cli, "--since", "2026-05-01", "--until", "2026-05-16")
    assert [(f["rule"], f["date"], f["category"]) for f in flags] == [
        ("returning_runner", "2026-05-01", "first_run"),
        ("session_spike", "2026-05-15", "moderate"),
    ]
    spike = flags[1]
    assert spike["value"] == pytest.approx(35.0) and spike["threshold"] == 10.0
    assert spike["citation"] == "load_frandsen_2025" and spike["activity_id"] == 3
    assert "1.52 (95% CI 1.16-2.00)" in spike["message"]


def test_risk_defaults_to_the_last_seven_days_and_prints_a_table(run_cli, session, athlete_id):
    save_run(session, athlete_id, d(0), 10)
    save_run(session, athlete_id, d(3), 16)
    save_run(session, athlete_id, d(12), 8)
    session.commit()
    assert risk_json(run_cli, "--until", d(12).isoformat()) == []
    result = run_cli("risk", "--until", d(4).isoformat())
    assert result.returncode == 0, result.stderr
    assert (
        "Long run: a moderate spike" in result.stdout
        and "session spike" not in result.stdout  # a title, not the rule id
        and "Source: Frandsen et al. 2025" in result.stdout
        and "load_frandsen_2025" not in result.stdout  # readable sources, not knowledge-file ids
    )
    quiet = run_cli("risk", "--until", d(12).isoformat())
    assert "No warnings" in quiet.stdout


def test_plan_reports_the_longest_run_within_ten_percent(run_cli, session, athlete_id):
    longest = save_run(session, athlete_id, d(0), 14)
    save_run(session, athlete_id, d(2), 8)
    session.commit()
    result = run_cli("plan", "16km", "--date", d(5).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["longest_30d_m"] == 14000 and data["longest_30d_activity_id"] == longest
    assert data["max_within_10pct_m"] == pytest.approx(15400)
    assert data["category"] == "small" and data["hazard_ratio"].startswith("1.64")
    text = run_cli("plan", "15km", "--date", d(5).isoformat())
    assert "so it stays within 10%" in text.stdout and "Up to 15.4 km" in text.stdout


def test_plan_rejects_a_bad_distance_in_one_line(run_cli):
    result = run_cli("plan", "far")
    assert result.returncode == 2
    assert "'far' is not a distance" in result.stderr and "Traceback" not in result.stderr


def test_rate_sets_rpe_and_feel_and_changes_the_load(run_cli, session, athlete_id):
    save_run(session, athlete_id, d(0), 10, minutes=50)
    session.commit()
    result = run_cli("rate", "last", "--rpe", "6", "--feel", "good")
    assert result.returncode == 0, result.stderr
    assert "RPE 6 (load 300)" in result.stdout and "felt good" in result.stdout
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert runs[0]["rpe"] == 6 and runs[0]["feel"] == "good"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rate", "999", "--rpe", "5"), "no activity #999"),
        (("rate", "last", "--rpe", "11"), "0<=x<=10"),
        (("rate", "last", "--feel", "meh"), "'meh' is not one of"),
        (("rate", "last"), "give --rpe, --feel or both"),
    ],
)
def test_rate_refuses_bad_input_in_one_line(run_cli, session, athlete_id, args, message):
    save_run(session, athlete_id, d(0), 10)
    session.commit()
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_status_shows_weeks_flags_safe_run_shoes_and_pain_trend(run_cli, session, athlete_id):
    # In use from the first run: a run gets the shoe in use on its date (issue 11).
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily", start_distance_m=380_000, in_use_from=d(0))
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    for n, km in ((0, 10), (7, 10), (14, 12), (17, 8), (20, 18)):
        save_run(session, athlete_id, d(n), km, rpe=5)
    pain_store.add_pain(session, athlete_id, PainEntry(d(20), "groin-hip-front", "right", 6, "during"))
    session.commit()
    result = run_cli("status", "--date", d(20).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["weeks"][-1]["distance_m"] == pytest.approx(26000)  # week of Mon 05-18: 8 + 18 km
    assert data["longest_30d_m"] == pytest.approx(18000)
    rules = {f["rule"] for f in data["flags"]}
    assert {"session_spike", "shoe_retirement", "pain_rising"} <= rules
    assert data["shoes"][0]["percent"] == pytest.approx(100 * 438 / 450, abs=0.1)
    assert data["shoes"][0]["default_for"] == ["run"]
    assert data["pain"][0]["region"] == "groin-hip-front" and data["pain"][0]["direction"] == "new"
    assert data["load"]["ctl"] > 0
    # 6/10 pain during a run: the longest-run figure is held back, so it cannot read as a target
    assert data["hold_back"]["reason"] == "pain" and data["hold_back"]["date"] == d(20).isoformat()
    assert data["longest_safe_run_tomorrow_m"] is None  # held back: no figure in the JSON either
    text = run_cli("status", "--date", d(20).isoformat())
    assert "This week against the weeks before" in text.stdout and "19.8 km" not in text.stdout
    tomorrow = (d(20) + timedelta(days=1)).isoformat()
    held = f"No longer run is suggested for tomorrow ({tomorrow}): Groin / front of hip pain on"
    assert held in text.stdout
    assert "strideguard triage" in text.stdout and "Groin / front of hip" in text.stdout


def test_plan_and_status_hold_back_after_an_urgent_hip_check(run_cli, session, athlete_id, tmp_path):
    today = date.today()
    for n in (20, 13, 6, 2):
        save_run(session, athlete_id, today - timedelta(days=n), 10)
    session.commit()
    before = json.loads(run_cli("plan", "10km", "--json").stdout)
    assert before["hold_back"] is None
    # An urgent result (hop pain in the groin: a possible stress fracture), saved to the history.
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"findings": {"age": 29, "pain_location": "groin", "pain_on_hop": True}}))
    saved = run_cli("triage", "--findings", str(case), "--save", "--json")
    assert saved.returncode == 0, saved.stderr and json.loads(saved.stdout)["triage_level"] == "urgent"
    plan = run_cli("plan", "10km")
    assert plan.returncode == 0, plan.stderr
    first = plan.stdout.strip().splitlines()[0]
    # It leads with the hold-back and speaks of the day planned (today), not "tomorrow".
    assert first.startswith(f"Hold back: No longer run is suggested for your run on {today}: your hip check")
    assert "said urgent" in first and "See a clinician" in plan.stdout
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["hold_back"]["reason"] == "triage"
    assert "Hold back" in run_cli("status").stdout or "No longer run is suggested" in run_cli("status").stdout


def test_status_of_an_empty_log_says_how_to_start(run_cli):
    result = run_cli("status")
    assert result.returncode == 0, result.stderr
    assert "No runs yet" in result.stdout and "start short" in result.stdout


def test_brackets_in_shoe_names_are_printed_as_typed_not_read_as_markup(run_cli, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "[/red] Old [b]pair", start_distance_m=440_000)
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    save_run(session, athlete_id, d(0), 10)
    session.commit()
    for args in (("status", "--date", d(0).isoformat()), ("risk", "--until", d(0).isoformat())):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert "[/red] Old [b]pair" in result.stdout, args


def test_unknown_activity_is_a_usage_error_and_an_empty_report_says_so(run_cli, tmp_path):
    from strideguard.cli import load as load_cli
    from strideguard.training import report

    assert load_cli.REPORT_WEEKS == report.DEFAULT_WEEKS  # the CLI's copy, kept to load the report lazily
    rated = run_cli("rate", "9999", "--rpe", "5")
    assert rated.returncode == 2 and "no activity #9999" in rated.stderr
    out = tmp_path / "r.html"
    made = run_cli("report", "--out", str(out), "--date", "2020-01-01")
    assert made.returncode == 0 and out.exists()
    assert "no activities on or before 2020-01-01; the report is empty." in made.stderr


def test_risk_names_a_short_log_when_a_spike_comes_in_its_first_30_days(run_cli, session, athlete_id):
    save_run(session, athlete_id, d(0), 4)
    save_run(session, athlete_id, d(2), 8.7)
    session.commit()
    (spike,) = [f for f in risk_json(run_cli, "--until", d(2).isoformat()) if f["rule"] == "session_spike"]
    assert f"Your log starts on {d(0).isoformat()}" in spike["message"]
