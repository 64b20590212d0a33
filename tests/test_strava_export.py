"""Strava bulk export: activities.csv parsing (languages, repeated columns, dates, commas) and import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exportgen
from strideguard.activities.formats.strava import (
    clean_header,
    header_key,
    merge_sport,
    parse_activities_csv,
    parse_date,
    parse_number,
    strava_sport,
)
from strideguard.importing.service import ImportOptions, run_import
from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage.tables import ActivityRow, ShoeRow


@pytest.mark.parametrize(
    ("cell", "key"),
    [
        ("Activity ID", "id"),
        ("\ufeffActivity ID", "id"),
        ("Aktivitäts-ID", "id"),
        ("Dateiname", "filename"),
        ("Aktivitätsausrüstung", "gear"),
        ("Nom du fichier", "filename"),
        ("Perceived Exertion", "perceived_exertion"),
        (
            '<span class="translation_missing" title="translation missing: '
            'en-US.lib.export.portability_exporter.activities.horton_values.type">Type</span>',
            "type",
        ),
        (
            "translation missing: en-GB.lib.export.portability_exporter.activities.horton_values.start_time",
            "start_time",
        ),
        ("Weather Ozone", None),
    ],
)
def test_header_cells_map_to_canonical_fields(cell: str, key: str | None) -> None:
    assert header_key(cell) == key


def test_clean_header_takes_text_inside_html_span() -> None:
    assert clean_header('<span class="x" title="y">Start Time</span>') == "Start Time"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010-05-22 19:39:29", datetime(2010, 5, 22, 19, 39, 29, tzinfo=UTC)),
        ("Mar 15, 2024, 6:12:03 AM", datetime(2024, 3, 15, 6, 12, 3, tzinfo=UTC)),
        ("Mar 15, 2024, 6:12:03\u202fPM", datetime(2024, 3, 15, 18, 12, 3, tzinfo=UTC)),
        ("Dec 1, 2023, 12:05:00 AM", datetime(2023, 12, 1, 0, 5, tzinfo=UTC)),
        ("15.03.2024, 06:12:03", datetime(2024, 3, 15, 6, 12, 3, tzinfo=UTC)),
        ("15 mars 2024, 06:12:03", datetime(2024, 3, 15, 6, 12, 3, tzinfo=UTC)),
        ("15. März 2024, 06:12:03", datetime(2024, 3, 15, 6, 12, 3, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
    ],
)
def test_activity_dates_in_every_seen_format_parse_as_utc(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_slash_dates_are_month_first_only_in_english_exports() -> None:
    assert parse_date("03/04/2024 10:00:00", month_first=True) == datetime(2024, 3, 4, 10, tzinfo=UTC)
    assert parse_date("03/04/2024 10:00:00", month_first=False) == datetime(2024, 4, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [("12.5", 12.5), ("12,5", 12.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("", None), ("n/a", None)],
)
def test_numbers_with_decimal_commas(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("name", "sport"),
    [
        ("Run", "run"),
        ("Trail Run", "trail_run"),
        ("VirtualRun", "treadmill"),
        ("Walk", "walk"),
        ("Hike", "hike"),
        ("Ride", "other"),
        ("Lauf", "run"),
        ("Wanderung", "hike"),
        ("", None),
    ],
)
def test_strava_types_map_to_sports(name: str, sport: str | None) -> None:
    assert strava_sport(name) == sport


def test_file_sport_wins_unless_missing_or_refined() -> None:
    assert merge_sport("run", "fit", "trail_run") == "trail_run"  # Strava refines a generic run
    assert merge_sport("walk", "fit", "run") == "walk"  # the watch said walk
    assert merge_sport("other", "fit", "run") == "run"  # the file has no foot sport
    assert merge_sport("run", "gpx", "hike") == "hike"  # GPX sports are guesses
    assert merge_sport("run", "fit", None) == "run"


def _csv(**kwargs: object) -> bytes:
    runs = exportgen.simulated_runs(2, minutes=2)
    entries = [
        exportgen.StravaEntry(
            1,
            runs[0],
            name="Lunch Run",
            gear="Pegasus 39",
            rpe=7,
            commute=True,
            description="hills, then flat",
        ),
        exportgen.StravaEntry(
            2,
            None,
            name="Treadmill",
            manual_distance_m=5500.0,
            manual_time_s=1800.0,
            manual_start=datetime(2025, 1, 5, 7, 30, tzinfo=UTC),
        ),
        exportgen.StravaEntry(3, runs[1], type_name="Ride", name="Commute"),
    ]
    return exportgen.strava_csv(entries, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "style",
    [
        {"language": "en", "date_style": "us"},
        {"language": "en", "date_style": "iso", "html_headers": True},
        {"language": "de", "date_style": "de", "decimal_comma": True},
    ],
)
def test_activities_csv_rows_in_si_units(style: dict[str, object]) -> None:
    rows, problems = parse_activities_csv(_csv(**style))
    assert problems == []
    first, manual, ride = rows
    assert first.activity_id == "1"
    assert first.filename == "activities/1000001.fit.gz"
    assert first.name == "Lunch Run"
    assert first.description == "hills, then flat"
    assert first.gear == "Pegasus 39"
    assert first.rpe == 7
    assert first.commute is True
    assert first.sport == "run"
    assert manual.filename is None
    assert manual.distance_m == pytest.approx(5500.0)  # from the repeated Distance column, in metres
    assert manual.elapsed_time_s == 1800
    assert manual.start_utc == datetime(2025, 1, 5, 7, 30, tzinfo=UTC)
    assert ride.sport == "other"


def test_single_distance_column_is_kilometres() -> None:
    data = b'Activity ID,Activity Date,Activity Type,Distance,Filename\n7,2024-01-02 08:00:00,Run,"10,5",\n'
    (row,), _ = parse_activities_csv(data)
    assert row.distance_m == pytest.approx(10_500.0)


def test_filename_column_found_by_content_in_an_unknown_language() -> None:
    data = (
        b"Id,Datum X,Quux,Zork\n"
        b"1,2024-01-02 08:00:00,Run,activities/55.fit.gz\n"
        b"2,2024-01-03 08:00:00,Run,activities/56.gpx\n"
    )
    rows, _ = parse_activities_csv(data)
    assert [r.filename for r in rows] == ["activities/55.fit.gz", "activities/56.gpx"]
    assert rows[0].start_utc == datetime(2024, 1, 2, 8, tzinfo=UTC)


def test_unrecognised_csv_is_refused() -> None:
    from strideguard.activities.formats.errors import CorruptFile

    with pytest.raises(CorruptFile, match="no Filename"):
        parse_activities_csv(b"foo,bar\n1,2\n")


# ---------------------------------------------------------------------------------------------- import


def _export(
    tmp_path: Path, n: int = 6, name: str = "export_12345.zip", first_day_offset: int = 0
) -> tuple[Path, list]:
    runs = exportgen.simulated_runs(n + first_day_offset, minutes=4)[first_day_offset:]
    entries = list(exportgen.iter_strava_entries(runs[: n - 2], first_id=1000 + first_day_offset))
    entries.append(exportgen.StravaEntry(5000 + first_day_offset, runs[n - 2], type_name="Ride", name="Bike"))
    entries.append(
        exportgen.StravaEntry(
            6000 + first_day_offset, runs[n - 1], type_name="Trail Run", ext="gpx.gz", name="Dunes"
        )
    )
    entries.append(
        exportgen.StravaEntry(
            7000 + first_day_offset,
            None,
            name="Forgot my watch",
            manual_distance_m=8000.0,
            manual_time_s=2700.0,
            manual_start=datetime(2024, 12, 24, 9, tzinfo=UTC),
        )
    )
    path = exportgen.write_strava_export(
        tmp_path / name, entries, shoes=[("Pegasus 39", "Nike", "Pegasus 39")]
    )
    return path, entries


def test_strava_export_imports_runs_with_their_csv_metadata(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    path, _ = _export(tmp_path)
    summary = run_import(engine, [path], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.kind == "strava"
    assert source.imported == 6  # 4 runs + trail run + manual entry; the ride is skipped
    assert source.manual == 1
    assert source.skipped_by_sport == {"Ride": 1}
    assert source.n_failed == 0
    rows = session.scalars(sa.select(ActivityRow).order_by(ActivityRow.start_utc)).all()
    by_name = {r.name: r for r in rows}
    # The CSV's name wins over the file's own (the GPX says "Sport" or the watch's default name).
    assert by_name["Dunes"].source_format == "gpx"
    first = by_name["Morning Run 0"]
    assert first.rpe == 3
    assert first.description.startswith("Easy loop number 0, with a comma")
    assert first.commute is False
    shoes = {s.id: s for s in session.scalars(sa.select(ShoeRow))}
    assert {s.name for s in shoes.values()} == {"Pegasus 39", "Trail Shoe"}
    assert shoes[first.shoe_id].name == "Pegasus 39"
    assert shoes[first.shoe_id].brand == "Nike"
    assert shoes[by_name["Morning Run 1"].shoe_id].name == "Trail Shoe"
    assert by_name["Dunes"].sport == "trail_run"  # the file says "Easy run"; name and sport from Strava
    manual = by_name["Forgot my watch"]
    assert (manual.source_format, manual.distance_m, manual.elapsed_time_s) == ("manual", 8000.0, 2700.0)


def test_sports_all_imports_the_ride_too(engine: sa.Engine, athlete_id: int, tmp_path: Path) -> None:
    path, _ = _export(tmp_path)
    summary = run_import(engine, [path], ImportOptions(workers=0, sports=frozenset(SPORTS)))
    assert summary.sources[0].imported == 7
    assert summary.sources[0].skipped_by_sport == {}


def test_reimport_after_sports_all_imports_only_what_was_skipped(
    engine: sa.Engine, athlete_id: int, tmp_path: Path
) -> None:
    path, _ = _export(tmp_path)
    run_import(engine, [path], ImportOptions(workers=0))
    again = run_import(engine, [path], ImportOptions(workers=0, sports=frozenset(SPORTS)))
    (source,) = again.sources
    assert source.imported == 7  # totals of the (resumed) import record
    assert source.resumed_items == 6  # all but the ride, which is done again
    assert source.skipped_by_sport == {}


def test_newer_overlapping_export_adds_only_new_activities(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    old, _ = _export(tmp_path, n=6, name="export_old.zip")
    run_import(engine, [old], ImportOptions(workers=0))
    runs = exportgen.simulated_runs(9, minutes=4)
    newer_entries = list(exportgen.iter_strava_entries(runs[:4], first_id=1000))  # same runs as before
    newer_entries += list(exportgen.iter_strava_entries(runs[6:9], first_id=2000))  # three new ones
    newer = exportgen.write_strava_export(tmp_path / "export_new.zip", newer_entries)
    summary = run_import(engine, [newer], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.imported == 3
    assert source.n_duplicates == 4
    assert all(d.startswith("duplicate of #") for _, d in source.duplicates)
    count = session.scalar(sa.select(sa.func.count()).select_from(ActivityRow))
    assert count == 6 + 3


def test_strava_metadata_completes_runs_imported_before_from_bare_files(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(2, minutes=3)
    folder = tmp_path / "watch"
    folder.mkdir()
    for i, run in enumerate(runs):
        (folder / f"{i}.fit").write_bytes(exportgen.fit_bytes(run))
    run_import(engine, [folder], ImportOptions(workers=0))
    path = exportgen.write_strava_export(
        tmp_path / "export.zip",
        list(exportgen.iter_strava_entries(runs)),
        shoes=[("Pegasus 39", "Nike", "P39")],
    )
    summary = run_import(engine, [path], ImportOptions(workers=0))
    assert summary.sources[0].n_duplicates == 2
    rows = session.scalars(sa.select(ActivityRow).order_by(ActivityRow.start_utc)).all()
    assert [r.rpe for r in rows] == [3.0, 4.0]
    assert rows[0].shoe_id is not None
    assert rows[0].name == "Morning Run 0"  # FIT files carry no name: the gap is filled from the CSV


def test_missing_listed_file_fails_and_the_rest_imports(
    engine: sa.Engine, athlete_id: int, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(3, minutes=3)
    entries = list(exportgen.iter_strava_entries(runs))
    path = tmp_path / "export.zip"
    exportgen.write_strava_export(path, entries[:2])
    # Rewrite with the CSV listing all three but only two files present.
    import zipfile

    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("activities.csv.bak", b"")
    data = exportgen.strava_csv(entries)
    fixed = tmp_path / "export2.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(fixed, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == "activities.csv" else src.read(info))
    summary = run_import(engine, [fixed], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.imported == 2
    assert source.failed == [(entries[2].filename, "listed in activities.csv but missing from the archive")]


def test_damaged_member_is_reported_and_nothing_of_it_saved(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(3, minutes=3)
    entries = list(exportgen.iter_strava_entries(runs))
    path = exportgen.write_strava_export(
        tmp_path / "export.zip", entries, file_overrides={entries[1].filename: b"\x1f\x8b\x08garbage"}
    )
    summary = run_import(engine, [path], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.imported == 2
    assert [f for f, _ in source.failed] == [entries[1].filename]
    names = set(session.scalars(sa.select(ActivityRow.name)))
    assert "Morning Run 1" not in names
    assert store.list_activities(session, athlete_id)[0].name == "Morning Run 2"
