"""add-run, runs and weeks through the real `strideguard` command, as a runner would use them."""

from __future__ import annotations

import json


def test_add_run_then_runs_and_weeks(run_cli):
    assert (
        run_cli(
            "add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "55min", "--rpe", "6"
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "add-run",
            "--date",
            "2026-05-03",
            "--distance",
            "8000m",
            "--duration",
            "0:48:00",
            "--sport",
            "treadmill",
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "add-run", "--date", "2026-05-04", "--distance", "5km", "--duration", "50min", "--sport", "walk"
        ).returncode
        == 0
    )
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert [(r["date"], r["sport"], r["distance_m"]) for r in runs] == [
        ("2026-05-04", "walk", 5000.0),
        ("2026-05-03", "treadmill", 8000.0),
        ("2026-05-01", "run", 10000.0),
    ]
    assert runs[2]["rpe"] == 6 and runs[2]["moving_time_s"] == 3300
    only_runs = json.loads(run_cli("runs", "--json", "--sport", "run").stdout)
    assert len(only_runs) == 1
    weeks = json.loads(run_cli("weeks", "--json", "--all").stdout)
    # 2026-05-01 (Fri) is ISO week 18; 05-03 (Sun) too; the walk (Mon, week 19) does not count as running.
    assert weeks == [
        {"week": "2026-W18", "monday": "2026-04-27", "distance_m": 18000.0, "duration_s": 6180.0, "runs": 2}
    ]
    table = run_cli("runs").stdout
    assert "5:30/km" in table and "treadmill" in table


def test_local_date_follows_the_given_offset(run_cli):
    # 00:30 on 2 May in UTC+09:00 is still 1 May in UTC, but the runner's day is 2 May.
    run_cli(
        "add-run",
        "--date",
        "2026-05-02",
        "--time",
        "00:30",
        "--utc-offset",
        "+09:00",
        "--distance",
        "5km",
        "--duration",
        "30min",
    )
    (run,) = json.loads(run_cli("runs", "--json").stdout)
    assert run["date"] == "2026-05-02"
    assert run["start_utc"] == "2026-05-01T15:30:00+00:00"


def test_weeks_with_a_gap_show_the_empty_week(run_cli):
    for day in ("2026-05-01", "2026-05-15"):
        run_cli("add-run", "--date", day, "--distance", "10km", "--duration", "1h")
    weeks = json.loads(run_cli("weeks", "--json", "--all").stdout)
    assert [(w["week"], w["runs"]) for w in weeks] == [("2026-W18", 1), ("2026-W19", 0), ("2026-W20", 1)]


def test_bad_values_get_one_line_errors(run_cli):
    bad = run_cli("add-run", "--date", "2026-13-01", "--distance", "10km", "--duration", "55min")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    bad = run_cli("add-run", "--date", "2026-05-01", "--distance", "ten", "--duration", "55min")
    assert bad.returncode == 2 and "'ten' is not a distance" in bad.stderr
    bad = run_cli("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "soon")
    assert bad.returncode == 2 and "is not a duration" in bad.stderr
    bad = run_cli("add-run", "--date", "2026-05-01", "--distance", "100km", "--duration", "5min")
    assert bad.returncode == 2 and "faster than any human" in bad.stderr
    bad = run_cli(
        "add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "55min", "--rpe", "11"
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert json.loads(run_cli("runs", "--json").stdout) == []


def test_empty_log_says_what_to_do(run_cli):
    assert "strideguard import" in run_cli("runs").stdout
