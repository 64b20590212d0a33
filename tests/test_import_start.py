"""`import --start` (and the web form's start time): dating a file that holds no usable calendar date.

FIT files with only device-relative times (seconds since power-on) keep their laps, shifted like the records;
GPX and TCX files without times or with impossible ones are dated the same way."""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.errors import CorruptFile
from strideguard.activities.formats.fit import (
    DEVICE_TIME_SUFFIX,
    FIT_EPOCH_S,
    build_activities,
    decode_with_fitdecode,
)
from strideguard.activities.formats.fit_decoded import FitMessages
from strideguard.activities.formats.fit_fast import decode_fast
from strideguard.activities.gpx_writer import encode_gpx
from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store
from test_web_import import token, wait_for_job

GIVEN = datetime(2026, 5, 1, 5, 30, tzinfo=UTC)
ANTFS = "fit/fitparse__antfs-dump.63.fit"  # Forerunner 70: only seconds since power-on (see SOURCES.md)


def device_relative_run() -> bytes:
    """A 30-minute run with three laps whose times are seconds since power-on (1990 on the FIT clock, which
    the FIT protocol calls device-relative): what a watch that never got the time writes."""
    power_on = datetime.fromtimestamp(FIT_EPOCH_S + 5_000, UTC)
    t = np.arange(1800, dtype=float)
    distance = np.cumsum(np.full(1800, 3.0))
    streams = Streams(
        time_s=t, distance_m=distance, speed_m_s=np.full(1800, 3.0), heart_rate_bpm=np.full(1800, 150.0)
    )
    laps = tuple(
        Lap(
            start_utc=power_on + timedelta(seconds=600 * i),
            elapsed_time_s=600.0 if i < 2 else 599.0,
            moving_time_s=600.0 if i < 2 else 599.0,
            distance_m=1800.0,
            avg_heart_rate_bpm=140.0 + 10 * i,
        )
        for i in range(3)
    )
    run = Activity(
        sport="run",
        start_utc=power_on,
        source_format="fit",
        distance_m=float(distance[-1]),
        elapsed_time_s=1799.0,
        moving_time_s=1799.0,
        laps=laps,
        streams=streams,
    )
    return encode_activity(run)


@pytest.mark.parametrize("decoder", [decode_fast, decode_with_fitdecode])
def test_laps_of_a_device_relative_fit_are_kept_and_shifted_like_the_records(decoder) -> None:
    data = device_relative_run()
    (activity,) = build_activities(decoder(data), start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    assert [lap.start_utc for lap in activity.laps] == [GIVEN + timedelta(seconds=600 * i) for i in range(3)]
    assert [lap.avg_heart_rate_bpm for lap in activity.laps] == [140.0, 150.0, 160.0]
    assert activity.streams is not None and activity.streams.time_s[0] == 0.0
    # the laps end where the records end: nothing outside the run
    last = activity.laps[-1]
    assert last.start_utc.timestamp() + last.elapsed_time_s == pytest.approx(
        GIVEN.timestamp() + activity.streams.time_s[-1], abs=1.0
    )


def test_real_device_relative_fit_keeps_its_lap(data_dir: Path) -> None:
    """The Forerunner 70's session starts a second before its first record: the run starts at the given
    time, its one lap with it, and the records one second later, as in a dated file."""
    (activity,) = read_bytes((data_dir / ANTFS).read_bytes(), "antfs.fit", start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    (lap,) = activity.laps
    assert lap.start_utc == GIVEN
    assert lap.elapsed_time_s == pytest.approx(3426.898)
    assert (lap.avg_heart_rate_bpm, lap.max_heart_rate_bpm) == (162.0, 195.0)
    assert activity.streams is not None and activity.streams.time_s[0] == pytest.approx(1.0)


def test_cli_start_stores_the_laps_of_a_device_relative_fit(
    run_cli, session, athlete_id, tmp_path: Path
) -> None:
    path = tmp_path / "old-watch.fit"
    path.write_bytes(device_relative_run())
    done = run_cli("import", str(path), "--no-progress", "--json", "--start", "2026-05-01T07:30:00+02:00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["this_run"]["imported"] == 1
    (summary,) = store.list_activities(session, athlete_id)
    stored = store.get_activity(session, athlete_id, summary.id)
    assert stored.start_utc == GIVEN
    assert [lap.start_utc for lap in stored.laps] == [GIVEN + timedelta(seconds=600 * i) for i in range(3)]


# --- GPX and TCX ------------------------------------------------------------------------------------------

MOJSTROVKA = "gpx/gpxpy__Mojstrovka.gpx"  # every point at 1901-12-13T20:45:52: a clock that was not set
NO_TIMES_GPX = "gpx/gpxpy__track-with-small-floats.gpx"  # a track without any <time>


def gpx_from_1970(seconds: int = 1200) -> bytes:
    """A 20-minute run recorded by a phone whose clock stood at 1970 (the start of Unix time)."""
    t = np.arange(seconds, dtype=float)
    run = Activity(
        sport="run",
        start_utc=datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC),
        source_format="gpx",
        streams=Streams(
            time_s=t,
            lat_deg=46.05 + np.cumsum(np.full(seconds, 3.0)) / 111_000,
            lon_deg=np.full(seconds, 14.5),
            heart_rate_bpm=np.full(seconds, 150.0),
        ),
        name="Clockless phone",
    )
    return encode_gpx(run)


def tcx(laps: str, activity_id: str = "1970-01-01T00:00:00Z") -> bytes:
    return multisport_tcx(("Running", laps), activity_id=activity_id)


def multisport_tcx(*activities: tuple[str, str], activity_id: str = "run") -> bytes:
    """A TCX file with one <Activity> per (sport, laps): several make a multisport file."""
    body = "".join(
        f'<Activity Sport="{sport}"><Id>{activity_id}</Id>{laps}</Activity>' for sport, laps in activities
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
 <Activities>{body}</Activities>
</TrainingCenterDatabase>""".encode()


def tcx_lap(start: str | None, seconds: float, metres: float, points: str = "") -> str:
    attribute = f' StartTime="{start}"' if start else ""
    track = f"<Track>{points}</Track>" if points else ""
    return (
        f"<Lap{attribute}><TotalTimeSeconds>{seconds}</TotalTimeSeconds><DistanceMeters>{metres}</DistanceMeters>"
        f"<Intensity>Active</Intensity><TriggerMethod>Manual</TriggerMethod>{track}</Lap>"
    )


def tcx_point(time: str, metres: float) -> str:
    return f"<Trackpoint><Time>{time}</Time><DistanceMeters>{metres}</DistanceMeters></Trackpoint>"


def tcx_from_1970() -> bytes:
    """Two 5-minute laps, 1 km each, trackpoints every minute, all in January 1970."""
    first = "".join(tcx_point(f"1970-01-01T00:{m:02d}:00Z", m * 200.0) for m in range(0, 5))
    second = "".join(tcx_point(f"1970-01-01T00:{m:02d}:00Z", m * 200.0) for m in range(5, 11))
    return tcx(
        tcx_lap("1970-01-01T00:00:00Z", 300, 1000, first) + tcx_lap("1970-01-01T00:05:00Z", 300, 1000, second)
    )


def test_gpx_with_a_clock_from_1970_is_dated_by_the_given_start_and_keeps_its_spacing() -> None:
    data = gpx_from_1970()
    with pytest.raises(CorruptFile, match="--start"):
        read_bytes(data, "phone.gpx")
    (activity,) = read_bytes(data, "phone.gpx", start_utc=datetime.fromisoformat("2026-05-01T07:30+02:00"))
    assert activity.start_utc == GIVEN
    assert activity.utc_offset_s == 7200  # the runner's local time, given with the start
    assert activity.elapsed_time_s == pytest.approx(1199.0)
    assert activity.distance_m == pytest.approx(3597.0, rel=0.01)
    assert activity.extra["start_given"]


def test_gpx_with_plausible_dates_keeps_them_whatever_start_is_given(data_dir: Path) -> None:
    path = data_dir / "gpx" / "fittrackee__test.gpx"
    (own,) = read_bytes(path.read_bytes(), path.name)
    (given,) = read_bytes(path.read_bytes(), path.name, start_utc=GIVEN)
    assert given.start_utc == own.start_utc != GIVEN
    assert "start_given" not in given.extra


def test_gpx_whose_points_share_one_1901_instant_is_dated_without_durations(data_dir: Path) -> None:
    data = (data_dir / MOJSTROVKA).read_bytes()
    with pytest.raises(CorruptFile, match=r"1901-12-13.*--start"):
        read_bytes(data, "mojstrovka.gpx")
    (activity,) = read_bytes(data, "mojstrovka.gpx", start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    assert activity.distance_m == pytest.approx(2697.6, abs=1.0)
    assert (activity.elapsed_time_s, activity.moving_time_s, activity.streams) == (None, None, None)


def test_tcx_with_a_clock_from_1970_is_dated_with_its_laps() -> None:
    data = tcx_from_1970()
    with pytest.raises(CorruptFile, match=r"1970-01-01.*--start"):
        read_bytes(data, "old.tcx")
    (activity,) = read_bytes(data, "old.tcx", start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    assert [lap.start_utc for lap in activity.laps] == [GIVEN, GIVEN + timedelta(minutes=5)]
    assert (activity.elapsed_time_s, activity.distance_m) == (600.0, 2000.0)


def test_tcx_without_any_time_takes_its_laps_one_after_the_other_from_the_start() -> None:
    data = tcx(tcx_lap(None, 300, 1000) + tcx_lap(None, 330.5, 1000), activity_id="run")
    with pytest.raises(CorruptFile, match="--start"):
        read_bytes(data, "laps-only.tcx")
    (activity,) = read_bytes(data, "laps-only.tcx", start_utc=GIVEN)
    assert [lap.start_utc for lap in activity.laps] == [GIVEN, GIVEN + timedelta(seconds=300)]
    assert (activity.elapsed_time_s, activity.moving_time_s, activity.distance_m) == (630.5, 630.5, 2000.0)


def test_cli_start_dates_gpx_and_tcx_files(run_cli, data_dir: Path, tmp_path: Path) -> None:
    """The CLI as a runner uses it, on a real SQLite file: refused with a message naming --start, imported
    with it; a route without times gets the start and its distance."""
    phone = tmp_path / "phone.gpx"
    phone.write_bytes(gpx_from_1970())
    old = tmp_path / "old.tcx.gz"
    old.write_bytes(gzip.compress(tcx_from_1970()))
    route = data_dir / NO_TIMES_GPX

    refused = run_cli("import", str(phone), "--no-progress")
    assert refused.returncode == 1 and "--start" in refused.stdout
    skipped = run_cli("import", str(route), "--no-progress")
    assert "--start" in skipped.stdout, skipped.stdout

    for path, start in (
        (phone, "2026-05-01T07:30+02:00"),
        (old, "2026-05-02 07:30+02:00"),
        (route, "2026-05-03 18:00Z"),
    ):
        done = run_cli("import", str(path), "--no-progress", "--json", "--start", start)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["this_run"]["imported"] == 1, done.stdout
    runs = run_cli("runs", "--json")
    assert runs.returncode == 0, runs.stderr
    listed = {run["date"]: run for run in json.loads(runs.stdout)}
    assert set(listed) == {"2026-05-01", "2026-05-02", "2026-05-03"}
    assert listed["2026-05-01"]["start_utc"].startswith("2026-05-01T05:30:00")
    assert listed["2026-05-02"]["distance_m"] == pytest.approx(2000.0)
    assert listed["2026-05-03"]["distance_m"] == pytest.approx(9465.6, abs=1.0)

    both = run_cli("import", str(phone), str(old), "--start", "2026-05-01 07:30")
    assert both.returncode == 2 and "exactly one FIT, GPX or TCX file" in both.stderr
    future = run_cli("import", str(phone), "--start", "2099-01-01 07:30")
    assert future.returncode == 2 and "future" in future.stderr
    nonsense = run_cli("import", str(phone), "--start", "last tuesday")
    assert nonsense.returncode == 2 and "'last tuesday' is not a date and time" in nonsense.stderr
    assert "Traceback" not in both.stderr + future.stderr + nonsense.stderr


# --- the web upload form --------------------------------------------------------------------------------


def upload_with_start(client, files: list[tuple[str, bytes]], start: str, zone: str = ""):
    return client.post(
        "/import",
        data={"csrf_token": token(client), "sports": "default", "start": start, "start_zone": zone},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        follow_redirects=False,
    )


def test_web_form_explains_the_start_time_and_dates_one_file_with_it(client, data_dir, session, athlete_id):
    page = BeautifulSoup(client.get("/import").text, "html.parser")
    field = page.select_one('form#upload-form input[name="start"]')
    assert field is not None and field["type"] == "datetime-local"
    assert "no date" in page.select_one(f"#{field['aria-describedby']}").get_text()

    data = (data_dir / ANTFS).read_bytes()
    refused = wait_for_job(client, upload_with_start(client, [("old.fit", data)], "").headers["location"])
    assert (refused["imported"], refused["failed"]) == (0, 1)
    assert "start time on the upload page" in refused["recent_errors"][0]["reason"]

    response = upload_with_start(client, [("old.fit", data)], "2026-05-01T07:30", zone="Europe/Zurich")
    assert response.status_code == 303
    done = wait_for_job(client, response.headers["location"])
    assert (done["imported"], done["failed"]) == (1, 0), done
    (summary,) = store.list_activities(session, athlete_id)
    stored = store.get_activity(session, athlete_id, summary.id)
    assert stored.start_utc == GIVEN  # 07:30 in Zurich in May is 05:30 UTC
    assert stored.utc_offset_s == 7200
    assert [lap.start_utc for lap in stored.laps] == [GIVEN]


def test_web_start_time_is_checked_and_refused_with_the_file_named(client, data_dir, session, athlete_id):
    data = (data_dir / ANTFS).read_bytes()
    cases = [
        ([("old.fit", data)], "2099-01-01T07:30", "old.fit: start time 2099-01-01 is in the future"),
        ([("old.fit", data)], "yesterday", "old.fit: start time 'yesterday' is not a date and time"),
        ([("a.fit", data), ("b.fit", data)], "2026-05-01T07:30", "Start time dates one file"),
        ([("export.zip", b"PK")], "2026-05-01T07:30", "Start time dates one file"),
    ]
    for files, start, message in cases:
        response = upload_with_start(client, files, start)
        assert response.status_code == 422, start
        alert = BeautifulSoup(response.text, "html.parser").select_one("div.error").get_text(" ", strip=True)
        assert message in alert
    assert store.list_activities(session, athlete_id) == []
    assert list((client.app.state.data_dir / "uploads").glob("*/*")) == []  # nothing kept of refused uploads


def test_the_start_rides_the_job_queue_with_its_offset_and_old_jobs_still_claim(
    engine, session, athlete_id, tmp_path
):
    """The upload's start is kept in the job's options column (no migration), read back by the worker with
    the runner's offset; a job queued before (its sports as a plain list) is claimed as before."""
    from strideguard.importing import jobs as import_jobs

    start = datetime.fromisoformat("2026-05-01T07:30+02:00")
    import_jobs.enqueue(session, "a" * 20, athlete_id, tmp_path / "a", ["old.fit"], None, start)
    session.commit()
    claimed = import_jobs.claim(engine)
    assert claimed is not None and claimed.id == "a" * 20
    assert claimed.start_utc == start and claimed.start_utc.utcoffset() == timedelta(hours=2)
    assert claimed.sports is None

    import_jobs.enqueue(session, "b" * 20, athlete_id, tmp_path / "b", ["x.fit"], frozenset({"run", "walk"}))
    session.commit()
    plain = import_jobs.claim(engine)
    assert plain is not None and plain.sports == frozenset({"run", "walk"}) and plain.start_utc is None


def test_a_start_zone_that_is_no_zone_name_falls_back_to_the_servers_zone() -> None:
    from strideguard.web.imports import given_upload_start

    for zone in ("../../etc/passwd", "/etc/passwd", "Nowhere/Town", "x" * 5000):
        start = given_upload_start("2026-05-01T07:30", zone, ["old.fit"])
        assert start == datetime(2026, 5, 1, 7, 30).astimezone()
    zurich = given_upload_start("2026-01-10T07:30", "Europe/Zurich", ["old.fit"])
    assert isinstance(zurich, datetime) and zurich.utcoffset() == timedelta(hours=1)  # winter time


def test_multisport_tcx_without_times_dates_each_activity_after_the_one_before() -> None:
    """One start for a whole file: a brick session (ride, then run) without any time must not put both legs
    at the same instant (they would overlap, and a re-import could take one for the other)."""
    data = multisport_tcx(
        ("Biking", tcx_lap(None, 3600, 30000)),
        ("Running", tcx_lap(None, 600, 2000) + tcx_lap(None, 620, 2000)),
    )
    start = datetime.fromisoformat("2026-05-01T07:30+02:00")
    ride, run = read_bytes(data, "brick.tcx", start_utc=start)
    assert (ride.sport, ride.start_utc, ride.elapsed_time_s) == ("other", GIVEN, 3600.0)  # a ride
    assert run.sport == "run"
    assert run.start_utc == GIVEN + timedelta(hours=1)
    laps = [lap.start_utc for lap in run.laps]
    assert laps == [GIVEN + timedelta(hours=1), GIVEN + timedelta(seconds=4200)]
    assert run.utc_offset_s == ride.utc_offset_s == 7200  # both in the zone the start was given in


def test_multisport_tcx_with_a_wrong_clock_keeps_the_gap_between_its_activities() -> None:
    """Two legs recorded on a clock set to 1970, ten minutes apart: one shift dates both, so the run starts
    ten minutes after the ride ended, as recorded."""
    ride_points = "".join(tcx_point(f"1970-01-01T00:{m:02d}:00Z", m * 500.0) for m in range(0, 31))
    run_points = "".join(tcx_point(f"1970-01-01T00:{m:02d}:00Z", (m - 40) * 200.0) for m in range(40, 51))
    data = multisport_tcx(
        ("Biking", tcx_lap("1970-01-01T00:00:00Z", 1800, 15000, ride_points)),
        ("Running", tcx_lap("1970-01-01T00:40:00Z", 600, 2000, run_points)),
    )
    with pytest.raises(CorruptFile, match="--start"):
        read_bytes(data, "brick.tcx")
    ride, run = read_bytes(data, "brick.tcx", start_utc=GIVEN)
    assert ride.start_utc == GIVEN
    assert run.start_utc == GIVEN + timedelta(minutes=40)
    assert run.laps[0].start_utc == GIVEN + timedelta(minutes=40)
    assert (run.elapsed_time_s, run.distance_m) == (600.0, 2000.0)
    assert run.extra["start_given"] and ride.extra["start_given"]


def test_cli_start_imports_both_legs_of_an_undated_multisport_tcx(run_cli, tmp_path: Path) -> None:
    """Through the CLI into a real SQLite file: both legs are stored, one after the other."""
    brick = tmp_path / "brick.tcx"
    brick.write_bytes(
        multisport_tcx(("Biking", tcx_lap(None, 3600, 30000)), ("Running", tcx_lap(None, 1200, 4000)))
    )
    done = run_cli("import", str(brick), "--no-progress", "--json", "--start", "2026-05-01 07:30Z")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["this_run"]["imported"] == 2, done.stdout
    runs = run_cli("runs", "--json")
    assert runs.returncode == 0, runs.stderr
    starts = sorted(run["start_utc"][:19] for run in json.loads(runs.stdout))
    assert starts == ["2026-05-01T07:30:00", "2026-05-01T08:30:00"]


MULTISPORT_FIT = "fit/muktihari__activity_multisport.fit"  # Garmin SDK sample: a ride, then a run
FIT_TIME_FIELDS = ("timestamp", "start_time", "local_timestamp", "time_created")


def as_device_relative(msgs: FitMessages, power_on_s: float) -> FitMessages:
    """The same messages as a watch that never got the time would write them: every date becomes seconds since
    power-on (`power_on_s` is when the first leg started), the spacing between them kept."""
    first = min(s["start_time"].timestamp() for s in msgs.sessions)

    def moved(message: dict) -> dict:
        out = {}
        for key, value in message.items():
            if key in FIT_TIME_FIELDS and isinstance(value, datetime):
                out[key + DEVICE_TIME_SUFFIX] = value.timestamp() - first + power_on_s
            else:
                out[key] = value
        return out

    records = dict(msgs.records)
    records["timestamp"] = records["timestamp"] - first + power_on_s
    return dataclasses.replace(
        msgs,
        sessions=[moved(m) for m in msgs.sessions],
        laps=[moved(m) for m in msgs.laps],
        events=[moved(m) for m in msgs.events],
        activities=[moved(m) for m in msgs.activities],
        records=records,
    )


@pytest.mark.parametrize("decoder", [decode_fast, decode_with_fitdecode])
def test_device_relative_multisport_fit_keeps_its_legs_and_the_gap_between_them(decoder, data_dir: Path):
    """Both legs of a real multisport file, its dates turned into seconds since power-on: one start dates
    the file, and each leg is the dated file's leg moved to it (the run still starts when the ride ended)."""
    msgs = decoder((data_dir / MULTISPORT_FIT).read_bytes())
    dated = build_activities(msgs)
    assert [a.sport for a in dated] == ["other", "trail_run"]
    relative = as_device_relative(msgs, FIT_EPOCH_S + 5_000)
    with pytest.raises(CorruptFile, match="--start"):
        build_activities(relative)
    legs = build_activities(relative, start_utc=GIVEN)
    shift = GIVEN - dated[0].start_utc
    assert [a.sport for a in legs] == [a.sport for a in dated]
    assert [a.start_utc for a in legs] == [a.start_utc + shift for a in dated]
    assert legs[1].start_utc == GIVEN + timedelta(seconds=55)  # the ride's 55 s, then the run
    for leg, original in zip(legs, dated, strict=True):
        assert (leg.elapsed_time_s, leg.distance_m) == (original.elapsed_time_s, original.distance_m)
        assert [lap.start_utc for lap in leg.laps] == [lap.start_utc + shift for lap in original.laps]
        assert leg.streams is not None and original.streams is not None
        assert np.array_equal(leg.streams.time_s, original.streams.time_s)
