"""Garmin Connect export: nested UploadedFiles ZIPs, streamed summaries joined by start time, gear."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exportgen
from strideguard.activities.formats.errors import CorruptFile
from strideguard.activities.formats.garmin import (
    GarminSummary,
    SummaryIndex,
    iter_array_objects,
    parse_gear,
    summary_from_json,
)
from strideguard.importing.service import ImportOptions, run_import
from strideguard.model import SPORTS
from strideguard.storage.tables import ActivityRow, ShoeRow


@pytest.mark.parametrize("chunk_size", [1, 13, 4096])
def test_summaries_stream_object_by_object_across_chunk_boundaries(chunk_size: int) -> None:
    entries = [
        {"activityId": i, "name": f'Run ]{i}[ "quoted"', "beginTimestamp": 1_700_000_000_000 + i}
        for i in range(50)
    ]
    document = json.dumps(
        [{"summarizedActivitiesExport": entries[:30]}, {"summarizedActivitiesExport": entries[30:]}]
    ).encode()
    chunks = [document[i : i + chunk_size] for i in range(0, len(document), chunk_size)]
    assert list(iter_array_objects(chunks, "summarizedActivitiesExport")) == entries


def test_oversized_or_broken_summary_is_a_clear_error() -> None:
    document = b'[{"summarizedActivitiesExport": [{"name": "' + b"x" * 5000 + b'"}]}]'
    with pytest.raises(CorruptFile, match="larger than"):
        list(iter_array_objects([document], "summarizedActivitiesExport", max_object_chars=1000))
    with pytest.raises(CorruptFile, match="invalid JSON"):
        list(
            iter_array_objects(
                [b'{"summarizedActivitiesExport": [{"a": 1}, {"b": ]'], "summarizedActivitiesExport"
            )
        )


def test_summary_units_are_epoch_milliseconds() -> None:
    summary = summary_from_json(
        {
            "activityId": 42,
            "name": "Park Run",
            "activityType": {"typeKey": "trail_running"},
            "beginTimestamp": 1_700_000_000_000,
            "startTimeGmt": 1_700_000_000_000,
            "startTimeLocal": 1_700_000_000_000 + 3_600_000,
        }
    )
    assert summary == GarminSummary(
        start_s=1_700_000_000.0,
        activity_id="42",
        name="Park Run",
        type_key="trail_running",
        utc_offset_s=3600,
    )
    assert summary_from_json({"name": "no start"}) is None


def test_summary_index_joins_within_the_tolerance_only() -> None:
    index = SummaryIndex([GarminSummary(start_s=1000.0, name="a"), GarminSummary(start_s=5000.0, name="b")])
    assert index.find(1030.0).name == "a"  # type: ignore[union-attr]
    assert index.find(4990.0).name == "b"  # type: ignore[union-attr]
    assert index.find(3000.0) is None


def test_gear_json_gives_shoes_and_activity_links() -> None:
    gear = [
        {
            "gearPk": 7,
            "gearTypeName": "Shoes",
            "displayName": "Trail Beasts",
            "gearMakeName": "Hoka",
            "gearModelName": "Speedgoat 5",
        },
        {"gearPk": 8, "gearTypeName": "Bike", "displayName": "Road bike"},
        {"activityId": 99, "gearPk": 7},
    ]
    shoes, names = parse_gear(json.dumps(gear).encode())
    assert [(s.name, s.brand, s.model) for s in shoes] == [("Trail Beasts", "Hoka", "Speedgoat 5")]
    assert names["7"] == "Trail Beasts"
    assert names["activity:99"] == "Trail Beasts"


def _garmin(tmp_path: Path, parts: int = 2) -> Path:
    runs = exportgen.simulated_runs(5, minutes=4)
    entries = [
        exportgen.GarminEntry(run, f"Amsterdam Running {i}", gear_pk=7 if i < 2 else None)
        for i, run in enumerate(runs[:4])
    ]
    entries.append(
        exportgen.GarminEntry(exportgen.other_sport(runs[4]), "Afternoon Ride", type_key="cycling")
    )
    gear = [
        {
            "gearPk": 7,
            "gearTypeName": "Shoes",
            "displayName": "Trail Beasts",
            "gearMakeName": "Hoka",
            "gearModelName": "Speedgoat 5",
        }
    ]
    return exportgen.write_garmin_export(tmp_path / "garmin.zip", entries, parts=parts, gear=gear)


def test_garmin_export_imports_fit_files_from_nested_zips_with_summary_names(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    summary = run_import(engine, [_garmin(tmp_path)], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.kind == "garmin"
    assert source.imported == 4
    assert source.skipped_by_sport == {"cycling": 1}
    assert source.n_failed == 0
    rows = session.scalars(sa.select(ActivityRow).order_by(ActivityRow.start_utc)).all()
    assert [r.name for r in rows] == [f"Amsterdam Running {i}" for i in range(4)]
    assert all(r.source_format == "fit" for r in rows)
    (shoe,) = session.scalars(sa.select(ShoeRow)).all()
    assert (shoe.name, shoe.brand, shoe.model) == ("Trail Beasts", "Hoka", "Speedgoat 5")
    assert [r.shoe_id for r in rows] == [shoe.id, shoe.id, None, None]


def test_garmin_reimport_does_nothing_new(engine: sa.Engine, athlete_id: int, tmp_path: Path) -> None:
    path = _garmin(tmp_path)
    run_import(engine, [path], ImportOptions(workers=0))
    again = run_import(engine, [path], ImportOptions(workers=0))
    (source,) = again.sources
    assert source.imported == 4
    assert source.resumed_items == 5


def test_summaries_without_a_file_are_imported_once_as_manual_activities(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(4, minutes=3)
    entries = [exportgen.GarminEntry(run, f"Watch run {i}") for i, run in enumerate(runs[:2])]
    # A treadmill run typed in by hand, and a ride typed in by hand: summaries only.
    entries.append(
        exportgen.GarminEntry(runs[2], "Typed-in treadmill", type_key="treadmill_running", with_file=False)
    )
    entries.append(
        exportgen.GarminEntry(
            exportgen.other_sport(runs[3]), "Typed-in ride", type_key="cycling", with_file=False
        )
    )
    path = exportgen.write_garmin_export(tmp_path / "garmin.zip", entries)

    (source,) = run_import(engine, [path], ImportOptions(workers=0)).sources
    assert (source.imported, source.n_failed, source.manual) == (3, 0, 1)
    assert source.skipped_by_sport == {}  # the ride is not a wanted sport, and not a file either
    rows = session.scalars(sa.select(ActivityRow).order_by(ActivityRow.start_utc)).all()
    assert [(r.name, r.source_format) for r in rows] == [
        ("Watch run 0", "fit"),
        ("Watch run 1", "fit"),
        ("Typed-in treadmill", "manual"),
    ]
    typed = rows[2]
    assert typed.sport == "treadmill"
    assert typed.distance_m == pytest.approx(runs[2].distance_m, abs=0.01)  # centimetres in the JSON
    assert typed.elapsed_time_s == pytest.approx(runs[2].elapsed_time_s, abs=0.001)  # milliseconds

    # A newer export holding the same activities (another archive, so no resume) adds nothing.
    newer = exportgen.write_garmin_export(tmp_path / "garmin-newer.zip", entries, user="other@example.org")
    (again,) = run_import(engine, [newer], ImportOptions(workers=0)).sources
    assert again.imported == 0 and again.n_failed == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ActivityRow)) == 3

    # With every sport, the ride comes in too (once).
    (every,) = run_import(engine, [newer], ImportOptions(workers=0, sports=frozenset(SPORTS))).sources
    assert every.imported == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(ActivityRow)) == 4


def test_archive_nested_three_levels_deep_is_reported(
    engine: sa.Engine, athlete_id: int, tmp_path: Path
) -> None:
    run = exportgen.simulated_runs(1, minutes=3)[0]
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("hidden.fit", exportgen.fit_bytes(run))
    path = exportgen.write_garmin_export(
        tmp_path / "garmin.zip",
        [exportgen.GarminEntry(replace(run), "Run")],
        extra_upload_members={"sneaky.zip": buffer.getvalue()},
    )
    summary = run_import(engine, [path], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.imported == 1
    (failed,) = source.failed
    assert failed[0].endswith("UploadedFiles_0-_Part1.zip!/sneaky.zip")
    assert "nested deeper than 2 levels" in failed[1]
