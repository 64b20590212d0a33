"""Issue 11, import bugs: summaries checked against the records, developer fields, cadence units, GPX
extensions, TCX lap sanity checks and one date rule. Real files from ../shared/data where one of the kind
exists; otherwise small files of the same structure written here (the project's FIT writer, XML strings)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.model import Activity, Lap, Streams

START = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


def suunto_style_run() -> tuple[Activity, dict[str, float]]:
    """A 15.2 km run of 4,961 s in 1 km laps whose session totals (as a Suunto Ambit 3 writes them) stop
    at 12.7 km and 4,035 s, leaving out the last laps' worth of the records."""
    n = 4962
    time_s = np.arange(n, dtype=np.float64)
    distance = time_s * (15_200.0 / 4961.0)
    hr = 140.0 + 10.0 * (time_s / 4961.0)
    cadence = np.full(n, 172.0)
    streams = Streams(time_s=time_s, distance_m=distance, heart_rate_bpm=hr, cadence_spm=cadence)
    laps = []
    lap_length = 15_200.0 / 4961.0
    t = 0.0
    for _km in range(12):  # 12 whole laps, then a short 13th that ends at 12.7 km
        laps.append(
            Lap(
                start_utc=START + timedelta(seconds=t),
                elapsed_time_s=1000 / lap_length,
                moving_time_s=1000 / lap_length,
                distance_m=1000.0,
            )
        )
        t += 1000 / lap_length
    rest = 4035.0 - t
    laps.append(
        Lap(
            start_utc=START + timedelta(seconds=t),
            elapsed_time_s=rest,
            moving_time_s=rest,
            distance_m=rest * lap_length,
        )
    )
    activity = Activity(
        sport="run",
        start_utc=START,
        source_format="fit",
        distance_m=15_200.0,
        elapsed_time_s=4961.0,
        moving_time_s=4961.0,
        laps=tuple(laps),
        streams=streams,
    )
    short = {"elapsed_time_s": 4035.0, "moving_time_s": 4035.0, "distance_m": 12_700.0}
    return activity, short


def test_fit_session_totals_missing_final_lap_are_checked_against_records() -> None:
    activity, short = suunto_style_run()
    data = encode_activity(activity, manufacturer=23, session_totals=short)  # 23 = suunto
    (read,) = read_bytes(data, "ambit3.fit")
    assert read.elapsed_time_s == pytest.approx(4961.0, abs=2.0)
    assert read.moving_time_s == pytest.approx(4961.0, abs=2.0)
    assert read.distance_m == pytest.approx(15_200.0, rel=0.005)
    pace_s_per_km = read.moving_time_s / (read.distance_m / 1000)
    assert pace_s_per_km == pytest.approx(326.4, abs=2.0)  # 5:26/km, not 4:25/km
    # The laps cover the whole recording: a lap is added for what the device's laps left out.
    lap_distance = sum(lap.distance_m or 0.0 for lap in read.laps)
    assert lap_distance == pytest.approx(15_200.0, rel=0.01)
    last = read.laps[-1]
    assert last.start_utc.timestamp() + last.elapsed_time_s == pytest.approx(START.timestamp() + 4961, abs=2)
    assert any("session totals" in fix for fix in read.extra.get("fit_fixes", []))
    # Heart rate is the whole run's, not the first 4,035 s only.
    assert read.avg_heart_rate_bpm == pytest.approx(145.0, abs=0.5)


def test_fit_session_totals_kept_when_records_agree() -> None:
    """Records that agree with the session (the usual case) change nothing."""
    activity, _ = suunto_style_run()
    last_start = activity.laps[12].start_utc
    last = Lap(
        start_utc=last_start, elapsed_time_s=4961.0 - (last_start - START).total_seconds(), distance_m=3200.0
    )
    full_laps = (*activity.laps[:12], last)
    data = encode_activity(replace(activity, laps=full_laps))
    (read,) = read_bytes(data, "ok.fit")
    assert read.elapsed_time_s == pytest.approx(4961.0, abs=1.0)
    assert "fit_fixes" not in read.extra


# ------------------------------------------------------------------------------ 2. Connect IQ fields


@pytest.fixture(params=["fast", "fitdecode"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through read_fit's fast path, and again with the fast decoder declining (fitdecode path)."""
    if request.param == "fitdecode":
        from strideguard.activities.formats import fit

        def decline(data: bytes) -> None:
            raise fit.FastDecodeUnsupported("forced fallback in tests")

        monkeypatch.setattr(fit, "decode_fast", decline)
    return str(request.param)


def developer_values(path: Path, name: str) -> list[float]:
    """A record developer field's values as fitdecode (the reference decoder) reads them."""
    import fitdecode

    values = []
    with fitdecode.FitReader(str(path)) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "record":
                for field in frame.fields:
                    if field.field_def is not None and field.field_def.is_dev and field.name == name:
                        values.append(float(field.value))
    return values


def test_connect_iq_developer_fields_fill_missing_native_fields(data_dir: Path, decoder: str) -> None:
    """GoldenCheetah's RowingCIQspeed.FIT: the watch wrote distance 0 and no speed; a Connect IQ rowing app
    wrote both as developer fields whose descriptions name the native record fields (distance = 5,
    speed = 6, in km/h). StrideGuard showed 0 m."""
    path = data_dir / "fit" / "goldencheetah__RowingCIQspeed.FIT"
    (activity,) = read_bytes(path.read_bytes(), path.name)
    app_distance = developer_values(path, "Distance")
    assert max(app_distance) > 4000
    assert activity.distance_m == pytest.approx(max(app_distance))
    assert activity.streams.distance_m is not None
    assert np.nanmax(activity.streams.distance_m) == pytest.approx(max(app_distance))
    app_speed_kmh = developer_values(path, "Speed")
    assert np.nanmax(activity.streams.speed_m_s) == pytest.approx(max(app_speed_kmh) / 3.6, rel=1e-4)
    # The watch's own heart rate wins over the app's copy of it.
    assert activity.avg_heart_rate_bpm == 124.0


def test_native_fields_win_over_developer_copies(data_dir: Path, decoder: str) -> None:
    """The Garmin SDK sample declares a developer 'Heart Rate' for native field 3 next to a native heart
    rate: the native one is kept sample for sample."""
    path = data_dir / "fit" / "garminsdk__ActivityDevFields.fit"
    (activity,) = read_bytes(path.read_bytes(), path.name)
    developer = developer_values(path, "Heart Rate")
    assert activity.streams.heart_rate_bpm is not None
    assert len(activity.streams.heart_rate_bpm) == len(developer)


# ------------------------------------------------------------------------------ 3. cadence units

TCX_NS = (
    'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
    'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2"'
)


def treadmill_tcx(
    run_cadence: float,
    *,
    lap_start: str = "2026-05-01T06:30:00Z",
    seconds: int = 600,
    total_time: float | None = None,
) -> bytes:
    """A foot-pod treadmill run as TCX: no positions, DistanceMeters and RunCadence on every trackpoint."""
    points = []
    for i in range(0, seconds + 1, 5):
        moment = datetime(2026, 5, 1, 6, 30, tzinfo=UTC) + timedelta(seconds=i)
        points.append(
            f"<Trackpoint><Time>{moment:%Y-%m-%dT%H:%M:%SZ}</Time>"
            f"<DistanceMeters>{i * 3.0:.1f}</DistanceMeters><HeartRateBpm><Value>150</Value></HeartRateBpm>"
            f"<Extensions><ns3:TPX><ns3:RunCadence>{run_cadence:g}</ns3:RunCadence></ns3:TPX></Extensions>"
            "</Trackpoint>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase {TCX_NS}><Activities>'
        f'<Activity Sport="Running"><Id>2026-05-01T06:30:00Z</Id><Lap StartTime="{lap_start}">'
        f"<TotalTimeSeconds>{total_time or seconds}</TotalTimeSeconds>"
        f"<DistanceMeters>{seconds * 3.0:.1f}</DistanceMeters>"
        "<Intensity>Active</Intensity><TriggerMethod>Manual</TriggerMethod>"
        f"<Track>{''.join(points)}</Track>"
        f"<Extensions><ns3:LX><ns3:AvgRunCadence>{run_cadence:g}</ns3:AvgRunCadence></ns3:LX></Extensions>"
        "</Lap></Activity></Activities></TrainingCenterDatabase>"
    ).encode()


def test_tcx_cadence_already_in_steps_is_not_doubled() -> None:
    (activity,) = read_bytes(treadmill_tcx(177), "treadmill.tcx")
    assert activity.avg_cadence_spm == pytest.approx(177, abs=0.5)
    assert np.nanmax(activity.streams.cadence_spm) == pytest.approx(177, abs=0.5)
    assert activity.laps[0].avg_cadence_spm == pytest.approx(177, abs=0.5)


def test_tcx_cadence_per_foot_is_still_doubled() -> None:
    (activity,) = read_bytes(treadmill_tcx(88), "garmin.tcx")
    assert activity.avg_cadence_spm == pytest.approx(176, abs=0.5)
    assert np.nanmax(activity.streams.cadence_spm) == pytest.approx(176, abs=0.5)


def test_fit_cadence_already_in_steps_is_not_doubled(decoder: str) -> None:
    """A FIT whose record and session cadence hold steps per minute (177), as some apps write them."""
    time_s = np.arange(601, dtype=np.float64)
    # The writer halves running cadence into FIT's per-foot field, so 354 lands in the file as 177.
    streams = Streams(time_s=time_s, distance_m=time_s * 3.0, cadence_spm=np.full(601, 354.0))
    activity = Activity(
        sport="run",
        start_utc=START,
        source_format="fit",
        distance_m=1800.0,
        elapsed_time_s=600.0,
        moving_time_s=600.0,
        avg_cadence_spm=354.0,
        streams=streams,
    )
    (read,) = read_bytes(encode_activity(activity), "app.fit")
    assert read.avg_cadence_spm == pytest.approx(177, abs=0.5)
    assert np.nanmax(read.streams.cadence_spm) == pytest.approx(177, abs=0.5)


def test_gpx_cadence_already_in_steps_is_not_doubled() -> None:
    points = "".join(
        f'<trkpt lat="{46.0 + i * 1e-5:.6f}" lon="14.5">'
        f"<time>2026-05-01T06:{30 + i // 60:02d}:{i % 60:02d}Z</time>"
        f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:cad>172</gpxtpx:cad></gpxtpx:TrackPointExtension>"
        "</extensions></trkpt>"
        for i in range(0, 600, 5)
    )
    gpx = (
        '<gpx version="1.1" creator="phone app" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">'
        f"<trk><type>running</type><trkseg>{points}</trkseg></trk></gpx>"
    ).encode()
    (activity,) = read_bytes(gpx, "phone.gpx")
    assert activity.avg_cadence_spm == pytest.approx(172, abs=0.5)


# ------------------------------------------------------------------------------ 4. GPX extensions

GPX_POINT_EXTENSIONS = {
    "garmin_v1": (
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"',
        "<gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr><gpxtpx:cad>85</gpxtpx:cad>"
        "</gpxtpx:TrackPointExtension>",
    ),
    "garmin_v2_ns3": (
        'xmlns:ns3="http://www.garmin.com/xmlschemas/TrackPointExtension/v2"',
        "<ns3:TrackPointExtension><ns3:hr>150</ns3:hr><ns3:cad>85</ns3:cad></ns3:TrackPointExtension>",
    ),
    "cluetrust": (
        'xmlns:gpxdata="http://www.cluetrust.com/XML/GPXDATA/1/0"',
        "<gpxdata:hr>150</gpxdata:hr><gpxdata:cadence>85</gpxdata:cadence>",
    ),
    "plain": ("", "<hr>150</hr><cad>85</cad>"),
}


def gpx_run(namespace: str, extension: str, root_extensions: str = "") -> bytes:
    points = "".join(
        f'<trkpt lat="{46.0 + i * 2.5e-5:.6f}" lon="14.5">'
        f"<time>2026-05-01T06:{30 + i // 60:02d}:{i % 60:02d}Z</time>"
        f"<extensions>{extension}</extensions></trkpt>"
        for i in range(0, 600, 5)
    )
    return (
        f'<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1" {namespace}>'
        f"<trk><type>running</type><trkseg>{points}</trkseg></trk>{root_extensions}</gpx>"
    ).encode()


@pytest.mark.parametrize("kind", sorted(GPX_POINT_EXTENSIONS))
def test_gpx_heart_rate_and_cadence_from_common_point_extensions(kind: str) -> None:
    namespace, extension = GPX_POINT_EXTENSIONS[kind]
    (activity,) = read_bytes(gpx_run(namespace, extension), f"{kind}.gpx")
    assert activity.avg_heart_rate_bpm == pytest.approx(150)
    assert activity.avg_cadence_spm == pytest.approx(170)  # 85 per foot


def test_gpx_heart_rate_from_spoq_heart_rate_track() -> None:
    """SpoQ (SportTracks `st:` namespace) keeps heart rate in the file's <extensions> as a time series, not
    on the points; Runalyze reads it (ParserGPXSingle::parseSpoQExtension). StrideGuard showed none."""
    samples = "".join(
        f'<st:heartRate time="2026-05-01T06:{30 + i // 60:02d}:{i % 60:02d}Z" bpm="{140 + (i // 300) * 20}"/>'
        for i in range(0, 600, 10)
    )
    root = (
        '<extensions><st:activity created="2026-05-01T06:40:00Z" startTime="2026-05-01T06:30:00Z">'
        f"<st:heartRateTrack>{samples}</st:heartRateTrack></st:activity></extensions>"
    )
    data = gpx_run('xmlns:st="urn:uuid:D0EB2ED5-49B6-44e3-B13C-CF15BE7DD7DD"', "", root)
    (activity,) = read_bytes(data, "spoq.gpx")
    assert activity.streams.heart_rate_bpm is not None
    assert activity.avg_heart_rate_bpm == pytest.approx(150, abs=1)
    assert activity.max_heart_rate_bpm == 160
    assert activity.streams.heart_rate_bpm[0] == 140
    assert activity.streams.heart_rate_bpm[-1] == 160


# ------------------------------------------------------------------------------ 5. TCX lap sanity checks


def test_tcx_lap_starting_hours_before_its_points_does_not_stretch_elapsed_time() -> None:
    """A lap StartTime 6 h before its first trackpoint gave 23,429 s elapsed for a 1,371 s activity."""
    data = treadmill_tcx(88, lap_start="2026-05-01T00:29:50Z", seconds=1370)
    (activity,) = read_bytes(data, "lap-clock.tcx")
    assert abs((activity.start_utc - datetime(2026, 5, 1, 6, 30, tzinfo=UTC)).total_seconds()) <= 15
    assert activity.elapsed_time_s == pytest.approx(1370, abs=15)
    assert activity.moving_time_s <= activity.elapsed_time_s
    assert activity.laps[0].start_utc == activity.start_utc
    assert activity.extra.get("tcx_fixes")


def test_tcx_lap_starting_long_before_points_alone_starts_at_the_first_point() -> None:
    """A first lap 50 min early (not a whole zone offset) starts at its first trackpoint."""
    data = treadmill_tcx(88, lap_start="2026-05-01T05:40:00Z", seconds=1370)
    (activity,) = read_bytes(data, "early.tcx")
    assert activity.start_utc == datetime(2026, 5, 1, 6, 30, tzinfo=UTC)
    assert activity.elapsed_time_s == pytest.approx(1370, abs=2)


def test_tcx_lap_starts_in_another_zone_are_shifted_together() -> None:
    """Lap times written in local time but marked UTC (2 h off): shifted to the points, not dropped."""
    data = treadmill_tcx(88, lap_start="2026-05-01T04:30:00Z", seconds=1200)
    (activity,) = read_bytes(data, "zone.tcx")
    assert activity.start_utc == datetime(2026, 5, 1, 6, 30, tzinfo=UTC)
    assert activity.elapsed_time_s == pytest.approx(1200, abs=2)


def test_tcx_moving_time_never_exceeds_elapsed() -> None:
    """Overlapping laps whose timer totals add up to more than the recording (2 x 1,200 s of laps over
    1,200 s of points) gave a moving time longer than the elapsed time."""
    again = (
        '<Lap StartTime="2026-05-01T06:30:00Z"><TotalTimeSeconds>1200</TotalTimeSeconds>'
        "<DistanceMeters>3600</DistanceMeters></Lap></Activity>"
    )
    data = treadmill_tcx(88, seconds=1200).replace(b"</Activity>", again.encode())
    (activity,) = read_bytes(data, "overlapping.tcx")
    assert activity.elapsed_time_s == pytest.approx(1200, abs=2)
    assert activity.moving_time_s <= activity.elapsed_time_s
    assert activity.moving_time_s == pytest.approx(1200, abs=10)


# ------------------------------------------------------------------------------ 6. one date rule


def dated_run(start: datetime) -> Activity:
    time_s = np.arange(0, 1801, 5, dtype=np.float64)
    return Activity(
        sport="run",
        start_utc=start,
        source_format="fit",
        distance_m=5400.0,
        elapsed_time_s=1800.0,
        moving_time_s=1800.0,
        streams=Streams(time_s=time_s, distance_m=time_s * 3.0),
    )


def test_fit_dated_in_the_future_is_refused(decoder: str) -> None:
    """A FIT file whose clock says 2099 was imported silently (then `weeks` printed 10,406 weeks)."""
    from strideguard.activities.formats.errors import CorruptFile

    data = encode_activity(dated_run(datetime(2099, 6, 1, 7, 0, tzinfo=UTC)))
    with pytest.raises(CorruptFile, match=r"implausible date: 2099-06-01 is in the future"):
        read_bytes(data, "clock.fit")


@pytest.mark.parametrize("year", [1900, 1970, 2099])
def test_strava_manual_entries_with_implausible_dates_are_refused_one_by_one(
    engine, session, athlete_id: int, tmp_path: Path, year: int
) -> None:
    import sqlalchemy as sa

    import exportgen
    from strideguard.importing.service import ImportOptions, run_import
    from strideguard.storage.tables import ActivityRow

    entries = [
        exportgen.StravaEntry(
            7000,
            None,
            name="Typed in",
            manual_distance_m=8000.0,
            manual_time_s=2700.0,
            manual_start=datetime(year, 1, 1, 9, tzinfo=UTC),
        ),
        exportgen.StravaEntry(
            7001,
            None,
            name="Real one",
            manual_distance_m=5000.0,
            manual_time_s=1500.0,
            manual_start=datetime(2025, 3, 1, 9, tzinfo=UTC),
        ),
    ]
    path = exportgen.write_strava_export(tmp_path / "export_1.zip", entries)
    (source,) = run_import(engine, [path], ImportOptions(workers=0)).sources
    assert source.imported == 1
    assert source.n_failed == 1
    (failure,) = source.to_json()["failed_list"]
    assert f"{year}-01-01" in failure["reason"] and "implausible date" in failure["reason"]
    names = session.scalars(sa.select(ActivityRow.name)).all()
    assert names == ["Real one"]


def test_garmin_summary_with_an_implausible_date_is_refused(
    engine, session, athlete_id: int, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    import exportgen
    from strideguard.importing.service import ImportOptions, run_import
    from strideguard.storage.tables import ActivityRow

    broken = dated_run(datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC))
    fine = dated_run(datetime(2025, 3, 1, 9, tzinfo=UTC))
    entries = [
        exportgen.GarminEntry(broken, "Typed 1970", with_file=False),
        exportgen.GarminEntry(fine, "Typed 2025", with_file=False),
    ]
    path = exportgen.write_garmin_export(tmp_path / "garmin.zip", entries)
    (source,) = run_import(engine, [path], ImportOptions(workers=0)).sources
    assert (source.imported, source.n_failed) == (1, 1)
    (failure,) = source.to_json()["failed_list"]
    assert "1970-01-01" in failure["reason"]
    assert session.scalars(sa.select(ActivityRow.name)).all() == ["Typed 2025"]


def test_cli_start_dates_a_fit_file_with_only_device_relative_times(run_cli, data_dir: Path) -> None:
    """python-fitparse's antfs-dump.63.fit (a Forerunner 70) holds only seconds since power-on: refused with
    a message that names --start; with --start the run is imported at that time."""
    path = data_dir / "fit" / "fitparse__antfs-dump.63.fit"
    refused = run_cli("import", str(path), "--no-progress")
    assert refused.returncode == 1
    assert "--start" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr

    done = run_cli("import", str(path), "--no-progress", "--json", "--start", "2026-05-01T07:30:00+02:00")
    assert done.returncode == 0, done.stdout + done.stderr
    runs = run_cli("runs", "--json")
    assert runs.returncode == 0, runs.stderr
    assert "2026-05-01T05:30:00" in runs.stdout

    bad = run_cli("import", str(path), "--start", "2099-01-01 07:30")
    assert bad.returncode != 0
    assert "future" in bad.stderr
    both = run_cli("import", str(path), str(path), "--start", "2026-05-01 07:30")
    assert both.returncode != 0 and "exactly one" in both.stderr


def test_tcx_laps_that_stop_before_the_track_get_a_lap_for_the_rest(data_dir: Path) -> None:
    """sports-lib's movescount sample: two 1 km laps, then another ~900 m of trackpoints. The second lap
    used to stretch over the rest (1 km in 593 s); now the rest is a lap of its own and the laps add up to the
    run."""
    path = data_dir / "tcx" / "sportslib__movescount.tcx"
    (activity,) = read_bytes(path.read_bytes(), path.name)
    assert len(activity.laps) == 3
    assert sum(lap.distance_m for lap in activity.laps) == pytest.approx(activity.distance_m, rel=0.01)
    second = activity.laps[1]
    assert second.elapsed_time_s == pytest.approx(second.moving_time_s, abs=2)
    last = activity.laps[-1]
    end = last.start_utc.timestamp() + last.elapsed_time_s
    assert end == pytest.approx(activity.start_utc.timestamp() + activity.elapsed_time_s, abs=2)


def test_an_activity_whose_length_ends_it_after_tomorrow_is_refused_by_its_end() -> None:
    """The date rule for summaries and manual entries (Garmin, Strava, the import service): the start and
    the start plus the elapsed time; an unknown length counts as none."""
    from strideguard.activities.formats.dates import span_problem

    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    start = datetime(2026, 5, 2, 6, 0, tzinfo=UTC)  # tomorrow: still fine
    assert span_problem(start, None, now=now) is None
    assert span_problem(start, 3600.0, now=now) is None
    problem = span_problem(start, 2 * 86_400.0, now=now)
    assert problem == "implausible date: 2026-05-04 is in the future (a device clock that was not set?)"
    early = span_problem(datetime(1989, 12, 31, 23, 0, tzinfo=UTC), 7200.0, now=now)
    assert early is not None and "before 1990" in early
