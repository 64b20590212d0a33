"""`status`, `weeks` and `shoes list` read the totals the database keeps (issue 13) and print exactly what the
full computation over every activity gives, on the demo athlete built by the real `strideguard demo`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from strideguard.cli import risk_text
from strideguard.cli.status import build_status
from strideguard.model import RUNNING_SPORTS
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import settings as settings_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.training import load
from strideguard.training.shoes import shoe_wear
from strideguard.web.dashboard import today_local


@pytest.fixture
def demo_db(run_cli, session):
    result = run_cli("demo", "--weeks", "30")
    assert result.returncode == 0, result.stderr
    athlete_id = store.local_athlete(session)
    session.commit()
    return athlete_id


def cli_json(run_cli, *args: str):
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def full_status(session, athlete_id, day, everything):
    """`status` as the previous code computed it, from the whole history up to `day`."""
    return build_status(
        everything,
        shoe_store.list_shoes(session, athlete_id),
        pain_store.list_pain(session, athlete_id, until=day),
        day,
        risk_text.rules(),
        shoe_store.defaults(session, athlete_id),
        triage_store.latest_triage(session, athlete_id, until=day),
        settings_store.stored_unit(session, athlete_id) or "km",
    )


def test_status_weeks_and_shoes_equal_the_full_computation(demo_db, run_cli, session):
    athlete_id = demo_db
    day = today_local()
    everything = store.list_activities(session, athlete_id, until=day, newest_first=False)
    runs = [a for a in everything if a.sport in RUNNING_SPORTS]
    assert len(runs) > 80

    # status: the previous code's computation, from the whole history.
    shoes = shoe_store.list_shoes(session, athlete_id)
    assert cli_json(run_cli, "status") == full_status(session, athlete_id, day, everything)

    # weeks --all and the default 12 weeks.
    def weeks_json(weeks):
        return [
            {
                "week": w.label,
                "monday": w.monday.isoformat(),
                "distance_m": round(w.distance_m, 1),
                "duration_s": round(w.duration_s, 1),
                "runs": w.runs,
            }
            for w in weeks
        ]

    assert cli_json(run_cli, "weeks", "--all") == weeks_json(load.weekly_volume(runs))
    monday = day - timedelta(days=day.weekday())
    first = max(
        monday - timedelta(weeks=11), runs[0].local_date - timedelta(days=runs[0].local_date.weekday())
    )
    assert cli_json(run_cli, "weeks") == weeks_json(load.calendar_weeks(runs, first, monday))
    # A week cut mid-week by --until counts only the days up to it.
    until = runs[-20].local_date
    if until.weekday() == 6:
        until -= timedelta(days=1)
    up_to = [a for a in runs if a.local_date <= until]
    since = up_to[-1].local_date - timedelta(weeks=6)
    since_monday = since - timedelta(days=since.weekday())
    until_monday = until - timedelta(days=until.weekday())
    expected = load.calendar_weeks(
        [a for a in up_to if a.local_date >= since_monday], since_monday, until_monday
    )
    got = cli_json(run_cli, "weeks", "--since", since.isoformat(), "--until", until.isoformat())
    assert got == weeks_json(expected)

    # shoes list: wear from the shoe totals equals counting every activity.
    wears = shoe_wear(shoes, store.list_activities(session, athlete_id))
    listed = {item["id"]: item for item in cli_json(run_cli, "shoes", "list")}
    assert listed.keys() == {w.shoe.id for w in wears}
    for wear in wears:
        assert listed[wear.shoe.id]["distance_m"] == pytest.approx(round(wear.distance_m, 1), abs=0.051)


def test_status_of_a_past_date_counts_only_the_runs_up_to_it(demo_db, run_cli, session):
    athlete_id = demo_db
    runs = [
        a for a in store.list_activities(session, athlete_id, newest_first=False) if a.sport in RUNNING_SPORTS
    ]
    day = runs[-15].local_date
    everything = store.list_activities(session, athlete_id, until=day, newest_first=False)
    full = full_status(session, athlete_id, day, everything)
    assert cli_json(run_cli, "status", "--date", day.isoformat()) == full
