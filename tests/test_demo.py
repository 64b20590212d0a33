"""The demo athlete: a plausible year of training, written as real files and imported by the real importer."""

from __future__ import annotations

import json
from datetime import date

import numpy as np

from strideguard.demo import athlete as demo
from strideguard.training import load

END = date(2026, 11, 26)


def test_plan_is_a_plausible_year_with_a_break():
    sessions = demo.plan(END, weeks=52)
    weekly = load.weekly_volume(demo.athlete_activities(END, weeks=52))
    km = [w.distance_m / 1000 for w in weekly]
    assert 150 < len(sessions) < 260
    assert 1000 < sum(km) < 2500
    assert max(km) < 70  # an amateur half-marathon build, not an elite's
    assert sum(1 for k in km if k == 0) >= 3  # the three-week break the returning-runner rule needs
    assert all(s.day <= END for s in sessions)


def test_simulated_run_is_physically_consistent():
    run = demo.PlannedRun(END, "easy", 10_000.0, demo.time(7, 0))
    activity = demo.simulate(run, 0)
    s = activity.streams
    assert s is not None
    assert abs(s.distance_m[-1] - 10_000) < 1
    assert np.all(np.diff(s.distance_m) > 0)
    pace_s_per_km = activity.moving_time_s / 10
    assert 300 < pace_s_per_km < 420
    assert 120 < activity.avg_heart_rate_bpm < 165
    assert 160 < activity.avg_cadence_spm < 190  # steps per minute, both feet
    # The loop comes back home (within a few metres).
    assert abs(s.lat_deg[-1] - s.lat_deg[0]) < 1e-4 and abs(s.lon_deg[-1] - s.lon_deg[0]) < 1e-4
    assert activity.utc_offset_s == 3600  # Amsterdam in November


def test_demo_command_builds_the_athlete_into_the_given_database(run_cli):
    result = run_cli("demo", "--weeks", "6")
    assert result.returncode == 0, result.stderr
    assert "Demo athlete" in result.stdout
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert len(runs) >= 12
    formats = {r["source_format"] for r in runs}
    assert {"fit", "gpx"} <= formats  # written as real files, imported by the real readers
    assert all(r["distance_m"] > 2500 for r in runs)
    again = run_cli("demo", "--weeks", "6")
    assert again.returncode == 1 and "already holds activities" in again.stderr
