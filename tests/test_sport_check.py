"""Non-runs stored as runs (issue 11): a car trip, a ride and a 40 km "run" at 2:26/km are kept out of the
running load with a note; real runs (an easy run, a track session of fast 200 m reps, a GPS jump) stay runs;
the runner overrules in one command or one click."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from strideguard.activities import sport_check
from strideguard.activities.formats import read_bytes
from strideguard.importing.service import ImportOptions, run_import
from strideguard.model import RUNNING_SPORTS
from strideguard.storage import activities as store
from strideguard.storage import aggregates

START = datetime(2024, 5, 4, 7, 0, tzinfo=UTC)


def gpx_text(
    segments: list[tuple[float, float]],
    name: str | None = None,
    sport: str | None = None,
    creator: str = "Test",
    glitch_at: int | None = None,
    cadence: float | None = None,
) -> str:
    """A GPX track heading east, one point a second; `segments` are (seconds, km/h). `glitch_at`: that
    point jumps 1.5 km north and the next one is back on the track (a GPS jump)."""
    lat0, lon0 = 46.0, 14.0
    metres_per_deg_lon = 111_320 * math.cos(math.radians(lat0))
    points, x, t = [], 0.0, 0
    for seconds, kmh in segments:
        for _ in range(int(seconds)):
            x += kmh / 3.6
            t += 1
            lat = lat0 + (1500 / 111_320 if glitch_at == t else 0.0)
            when = (START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
            ext = (
                f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:cad>{cadence / 2:.0f}</gpxtpx:cad>"
                "</gpxtpx:TrackPointExtension></extensions>"
                if cadence
                else ""
            )
            lon = lon0 + x / metres_per_deg_lon
            points.append(f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><time>{when}</time>{ext}</trkpt>')
    head = f"<name>{name}</name>" if name else ""
    kind = f"<type>{sport}</type>" if sport else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx version="1.1" creator="{creator}" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk>{head}{kind}<trkseg>{''.join(points)}</trkseg></trk></gpx>"
    )


def verdict(text: str, filename: str = "a.gpx") -> sport_check.Verdict | None:
    (activity,) = read_bytes(text.encode(), filename)
    profile = sport_check.speed_profile(activity.streams)
    return sport_check.judge(activity, profile, sport_check.declared_sport(activity))


EASY_RUN = [(3600, 10.5)]
# 2 km warm-up, 10 x 200 m in 27 s (26.7 km/h) with 200 m jogs, 2 km cool-down.
TRACK_SESSION = [(686, 10.5)] + [(27, 26.7), (80, 9.0)] * 10 + [(686, 10.5)]
CAR_TRIP = [(60, 30.0), (20, 0.0), (150, 45.0), (15, 0.0), (40, 35.0)]  # ~2.7 km at ~1:37/km
LONG_FAST = [(5940, 24.6)]  # 40.6 km at 2:26/km
CYCLING = [(3600, 24.0)]


@pytest.mark.parametrize(
    ("segments", "kwargs", "sport", "why"),
    [
        (CAR_TRIP, {}, "other", "above 30 km/h, faster than anyone runs"),
        (LONG_FAST, {}, "other", "40.6 km at 25 km/h while moving, faster than the world record"),
        (CYCLING, {"name": "Cycling 10/2/17"}, "other", "says a ride"),
        ([(3600, 21.0)], {"name": "2017-10-02 10:00"}, "other", "cyclist's"),
        (CYCLING, {"creator": "Garmin Edge 530"}, "other", "bike computer"),
        ([(3600, 4.8)], {"name": "Sunday"}, "walk", "walking pace"),
        ([(1800, 10.0)], {"name": "Evening walk"}, "walk", "says a walk"),
        # A file that says run keeps it unless it is impossible.
        (LONG_FAST, {"sport": "running"}, "other", "the file says run, but"),
    ],
)
def test_files_that_are_not_runs_are_told_apart(segments, kwargs, sport, why):
    found = verdict(gpx_text(segments, **kwargs))
    assert found is not None and found.sport == sport
    assert why in found.note


@pytest.mark.parametrize(
    ("segments", "kwargs"),
    [
        (EASY_RUN, {}),
        (TRACK_SESSION, {"name": "Track 10x200"}),
        (EASY_RUN, {"glitch_at": 1800}),  # one GPS jump of 1.5 km and back
        ([(3600, 4.8)], {"sport": "running"}),  # a slow run the file calls a run stays one
        ([(1200, 19.0)], {"sport": "running", "name": "Race ride home"}),  # fast, named oddly, but possible
        ([(1800, 10.0)], {"name": "Morning Run", "cadence": 172}),
    ],
)
def test_real_runs_stay_runs(segments, kwargs):
    assert verdict(gpx_text(segments, **kwargs)) is None


def test_a_gps_jump_does_not_make_a_sprint():
    (activity,) = read_bytes(gpx_text(EASY_RUN, glitch_at=1800).encode(), "a.gpx")
    profile = sport_check.speed_profile(activity.streams)
    assert profile is not None and profile.longest_sprint_s == 0
    assert profile.distance_m == pytest.approx(10_500, rel=0.01)  # the jump's 3 km are not counted


REAL_NON_RUNS = {
    "gpx/gpxpy__around-visnjan-with-car.gpx": "faster than the world record",  # 2.7 km at 1:37/km
    "gpx/goldencheetah__1292585194-20906.gpx": "faster than anyone runs",  # 40.6 km at 2:26/km
}
REAL_RUNS = (
    "gpx/sportslib__garmin.gpx",
    "gpx/sportslib__6909258631.gpx",  # a 40 km trail run without <type>
    "gpx/sportslib__amazfit.gpx",
    "tcx/goldencheetah__10kUNLP2014-Garmin15.tcx",  # a 10 km race at 3:42/km
    "tcx/sportslib__movescount.tcx",
    "fit/goldencheetah__Garmin920_withFirstbeat.fit",
)


def test_real_files_non_runs_are_kept_out_of_the_load_and_runs_stay(engine, session, athlete_id, data_dir):
    paths = [data_dir / p for p in (*REAL_NON_RUNS, *REAL_RUNS)]
    summary = run_import(engine, paths, ImportOptions(workers=0))
    assert summary.imported == len(paths)
    by_file = {a.source_name: a for a in store.list_activities(session, athlete_id)}
    for path, why in REAL_NON_RUNS.items():
        stored = by_file[Path(path).name]
        assert stored.sport == "other" and why in (stored.sport_note or ""), path
    for path in REAL_RUNS:
        stored = by_file[Path(path).name]
        assert stored.sport in RUNNING_SPORTS and stored.sport_note is None, (path, stored.sport_note)
    # Out of the load: the 40 km "run" is not the longest run, nor in the weeks.
    runs = store.list_activities(session, athlete_id, sports=RUNNING_SPORTS)
    assert {a.source_name for a in runs} == {Path(p).name for p in REAL_RUNS}
    weeks = aggregates.week_volumes(session, athlete_id)
    assert sum(w.distance_m for w in weeks) == pytest.approx(sum(a.distance_m or 0 for a in runs))


def test_the_runner_overrules_in_one_command(run_cli, data_dir):
    car = data_dir / "gpx/gpxpy__around-visnjan-with-car.gpx"
    imported = run_cli("import", str(car))
    assert imported.returncode == 0, imported.stderr
    assert "stored as other, not as a run" in imported.stdout.replace("\n", " ")
    (row,) = json.loads(run_cli("runs", "--json").stdout)
    assert row["sport"] == "other" and "world record" in row["sport_note"]
    assert "other ?" in run_cli("runs").stdout
    assert _run_weeks(run_cli) == []  # out of the running load
    changed = run_cli("runs", "set-sport", str(row["id"]), "run")
    assert changed.returncode == 0, changed.stderr
    assert "now run (was other); it counts in your running load" in changed.stdout
    (row,) = json.loads(run_cli("runs", "--json").stdout)
    assert (row["sport"], row["sport_note"]) == ("run", None)
    assert _run_weeks(run_cli) == [(1, pytest.approx(2730, abs=10))]  # counted once the runner says so
    bad = run_cli("runs", "set-sport", "999", "run")
    assert bad.returncode != 0 and "no activity #999" in bad.stderr and "Traceback" not in bad.stderr


def _run_weeks(run_cli) -> list[tuple[int, float]]:
    weeks = json.loads(run_cli("weeks", "--all", "--json").stdout)
    return [(w["runs"], w["distance_m"]) for w in weeks if w["runs"]]


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_the_runner_overrules_in_one_click(client, session, athlete_id, engine, tmp_path):
    path = tmp_path / "ride.gpx"
    path.write_text(gpx_text(CYCLING, name="Cycling 10/2/17"))
    run_import(engine, [path], ImportOptions(workers=0))
    (stored,) = store.list_activities(session, athlete_id)
    assert stored.sport == "other" and "says a ride" in (stored.sport_note or "")
    page = soup(client.get(f"/activities/{stored.id}"))
    note = page.select_one(".sport-note")
    assert note is not None and "Not counted as a run" in note.text and "Cycling 10/2/17" in note.text
    token = page.select_one('meta[name="csrf-token"]')["content"]
    # Without the CSRF token nothing changes.
    refused = client.post(f"/activities/{stored.id}/sport", data={"sport": "run"}, follow_redirects=False)
    assert refused.status_code in (400, 403)
    assert (
        client.post(f"/activities/{stored.id}/sport", data={"csrf_token": token, "sport": "bike"}).status_code
        == 422
    )
    done = client.post(
        f"/activities/{stored.id}/sport", data={"csrf_token": token, "sport": "run"}, follow_redirects=False
    )
    assert done.status_code == 303
    session.expire_all()
    again = store.get_activity(session, athlete_id, stored.id, with_streams=False)
    assert (again.sport, again.sport_note) == ("run", None)
    assert soup(client.get(f"/activities/{stored.id}")).select_one(".sport-note") is None
    assert (
        client.post("/activities/99999/sport", data={"csrf_token": token, "sport": "run"}).status_code == 404
    )
