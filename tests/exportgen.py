"""Build realistic Strava and Garmin export ZIPs for tests and the bulk-import benchmark.

Runs are simulated by `strideguard.demo.simulate` (1 Hz streams) and written as real FIT files by the
project's FIT writer (GPX by the GPX writer where asked). Layouts follow shared/formats.md: Strava's
activities.csv (current English header with its repeated columns, or German, or HTML-span headers),
activities/<n>.fit.gz, shoes.csv and side files; Garmin's DI_CONNECT tree with nested
UploadedFiles_*.zip and *_summarizedActivities.json. Files are streamed into the ZIP one at a time, so a
1,000-run export does not sit in memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from strideguard.demo import athlete as demo
from strideguard.model import Activity

# Current English header (shared/formats.md), with its repeated names.
STRAVA_HEADER_EN = [
    "Activity ID",
    "Activity Date",
    "Activity Name",
    "Activity Type",
    "Activity Description",
    "Elapsed Time",
    "Distance",
    "Max Heart Rate",
    "Relative Effort",
    "Commute",
    "Activity Private Note",
    "Activity Gear",
    "Filename",
    "Athlete Weight",
    "Bike Weight",
    "Elapsed Time",
    "Moving Time",
    "Distance",
    "Max Speed",
    "Average Speed",
    "Elevation Gain",
    "Elevation Loss",
    "Elevation Low",
    "Elevation High",
    "Max Grade",
    "Average Grade",
    "Average Positive Grade",
    "Average Negative Grade",
    "Max Cadence",
    "Average Cadence",
    "Max Heart Rate",
    "Average Heart Rate",
    "Max Watts",
    "Average Watts",
    "Calories",
    "Max Temperature",
    "Average Temperature",
    "Relative Effort",
    "Total Work",
    "Number of Runs",
    "Uphill Time",
    "Downhill Time",
    "Other Time",
    "Perceived Exertion",
    "Type",
    "Start Time",
    "Weighted Average Power",
    "Power Count",
    "Prefer Perceived Exertion",
    "Perceived Relative Effort",
    "Commute",
    "Total Weight Lifted",
    "From Upload",
    "Grade Adjusted Distance",
    "Gear",
    "Media",
]
# German names for the columns the importer reads (public importers of German exports).
_GERMAN = {
    "Activity ID": "Aktivitäts-ID",
    "Activity Date": "Aktivitätsdatum",
    "Activity Name": "Name der Aktivität",
    "Activity Type": "Aktivitätsart",
    "Activity Description": "Beschreibung der Aktivität",
    "Elapsed Time": "Verstrichene Zeit",
    "Distance": "Distanz",
    "Commute": "Pendeln",
    "Activity Gear": "Aktivitätsausrüstung",
    "Filename": "Dateiname",
    "Moving Time": "Bewegungszeit",
    "Perceived Exertion": "Wahrgenommene Anstrengung",
}
_SPAN = (
    '<span class="translation_missing" title="translation missing: '
    'en-US.lib.export.portability_exporter.activities.horton_values.{key}">{text}</span>'
)


def simulated_runs(
    n: int, minutes: float = 10.0, first_day: date = date(2025, 3, 3), seed: int = 11, every_days: int = 1
) -> list[Activity]:
    """`n` runs of about `minutes` minutes, one every `every_days` days at 07:xx local (Amsterdam)."""
    runs: list[Activity] = []
    for i in range(n):
        distance_m = round(minutes * 60 * 2.8, -1)  # ~6 min/km
        planned = demo.PlannedRun(
            first_day + timedelta(days=i * every_days), "easy", distance_m, time(7, (i * 7) % 50)
        )
        runs.append(demo.simulate(planned, i, seed))
    return runs


def fit_bytes(activity: Activity) -> bytes:
    from strideguard.activities.fit_writer import encode_activity

    return encode_activity(activity)


def gpx_bytes(activity: Activity) -> bytes:
    from strideguard.activities.gpx_writer import encode_gpx

    return encode_gpx(activity)


def file_bytes(activity: Activity, ext: str) -> bytes:
    """Bytes of `activity` in the format of `ext` ('fit', 'fit.gz', 'gpx', 'gpx.gz')."""
    data = gpx_bytes(activity) if ext.startswith("gpx") else fit_bytes(activity)
    return gzip.compress(data, 6, mtime=0) if ext.endswith(".gz") else data


@dataclass(frozen=True)
class StravaEntry:
    """One row of activities.csv; `activity` None makes a manual entry (empty Filename)."""

    activity_id: int
    activity: Activity | None
    type_name: str = "Run"
    name: str | None = None
    description: str | None = None
    gear: str | None = None
    commute: bool = False
    rpe: float | None = None
    ext: str = "fit.gz"
    file_number: int | None = None  # defaults to a number unlike the activity id
    manual_start: datetime | None = None
    manual_distance_m: float | None = None
    manual_time_s: float | None = None

    @property
    def filename(self) -> str:
        if self.activity is None:
            return ""
        number = self.file_number if self.file_number is not None else self.activity_id + 1_000_000
        return f"activities/{number}.{self.ext}"


def _date_text(value: datetime, style: str) -> str:
    if style == "iso":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if style == "de":
        return value.strftime("%d.%m.%Y, %H:%M:%S")
    hour = value.hour % 12 or 12
    ampm = "AM" if value.hour < 12 else "PM"
    clock = f"{hour}:{value.minute:02d}:{value.second:02d}"
    return f"{value.strftime('%b')} {value.day}, {value.year}, {clock}\u202f{ampm}"


def _number(value: float | None, decimal_comma: bool, digits: int = 2) -> str:
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if decimal_comma else text


def strava_csv(
    entries: Iterable[StravaEntry],
    language: str = "en",
    date_style: str = "us",
    decimal_comma: bool = False,
    html_headers: bool = False,
) -> bytes:
    """activities.csv for `entries`, as Strava writes it in the given language and styles."""
    header = list(STRAVA_HEADER_EN)
    if language == "de":
        header = [_GERMAN.get(h, h) for h in header]
    if html_headers:
        header[header.index("Type")] = _SPAN.format(key="type", text="Type")
        header[header.index("Start Time")] = (
            "translation missing: en-GB.lib.export.portability_exporter.activities.horton_values.start_time"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for entry in entries:
        activity = entry.activity
        if activity is not None:
            start = activity.start_utc
            distance_m = activity.distance_m
            elapsed_s = activity.elapsed_time_s
            moving_s = activity.moving_time_s
        else:
            start = entry.manual_start or datetime(2025, 1, 1, 8, tzinfo=UTC)
            distance_m = entry.manual_distance_m
            elapsed_s = moving_s = entry.manual_time_s
        values = {
            0: str(entry.activity_id),
            1: _date_text(start, date_style),
            2: entry.name or "",
            3: entry.type_name,
            4: entry.description or "",
            5: str(int(elapsed_s or 0)),
            6: _number(distance_m / 1000 if distance_m else None, decimal_comma),
            9: "true" if entry.commute else "false",
            11: entry.gear or "",
            12: entry.filename,
            15: _number(elapsed_s, decimal_comma, 1),
            16: _number(moving_s, decimal_comma, 1),
            17: _number(distance_m, decimal_comma, 1),
            43: _number(entry.rpe, decimal_comma, 1) if entry.rpe is not None else "",
            54: "10370891.0" if entry.gear else "",
        }
        writer.writerow([values.get(i, "") for i in range(len(header))])
    return out.getvalue().encode("utf-8")


def write_strava_export(
    path: Path,
    entries: list[StravaEntry],
    *,
    shoes: Iterable[tuple[str, str, str]] = (),
    language: str = "en",
    date_style: str = "us",
    decimal_comma: bool = False,
    html_headers: bool = False,
    extra_members: dict[str, bytes] | None = None,
    file_overrides: dict[str, bytes] | None = None,
) -> Path:
    """Write a Strava export ZIP to `path`: activities.csv, activities/, shoes.csv and a few side files.

    `file_overrides` replaces the bytes of listed files (e.g. to plant a damaged one).
    """
    overrides = file_overrides or {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "activities.csv", strava_csv(entries, language, date_style, decimal_comma, html_headers)
        )
        shoe_rows = io.StringIO()
        writer = csv.writer(shoe_rows, lineterminator="\n")
        writer.writerow(["Shoe Name", "Shoe Brand", "Shoe Model", "Shoe Default Sport Types"])
        for name, brand, model in shoes:
            writer.writerow([name, brand, model, "Run"])
        archive.writestr("shoes.csv", shoe_rows.getvalue())
        archive.writestr("bikes.csv", "Bike Name,Bike Brand,Bike Model\nRoad bike,Canyon,Endurace\n")
        archive.writestr("profile.csv", "Athlete ID,Email Address,First Name\n12345,runner@example.org,Ann\n")
        archive.writestr("media/", b"")
        for entry in entries:
            if entry.activity is None:
                continue
            ext = entry.ext
            data = overrides.get(entry.filename) or file_bytes(entry.activity, ext)
            # Strava stores the per-file gzip deflated again inside the ZIP.
            archive.writestr(entry.filename, data)
        for name, data in (extra_members or {}).items():
            archive.writestr(name, data)
    return path


def iter_strava_entries(runs: Iterable[Activity], first_id: int = 9_000_000_000) -> Iterator[StravaEntry]:
    """Plain English entries for runs: names, a shoe, alternating perceived exertion."""
    for i, run in enumerate(runs):
        yield StravaEntry(
            activity_id=first_id + i,
            activity=run,
            name=f"Morning Run {i}",
            description=f"Easy loop number {i}, with a comma, and a\nnew line",
            gear="Pegasus 39" if i % 2 == 0 else "Trail Shoe",
            rpe=float(3 + i % 5),
        )


# ---------------------------------------------------------------------------------------------- Garmin


@dataclass(frozen=True)
class GarminEntry:
    activity: Activity
    name: str
    type_key: str = "running"
    upload_id: int = 0
    gear_pk: int | None = None
    with_file: bool = True  # False: entered by hand in Garmin Connect, only a summary


def garmin_summary(entry: GarminEntry, activity_id: int) -> dict[str, object]:
    """One `summarizedActivitiesExport` element (epoch ms, cm, ms), as Garmin writes it."""
    activity = entry.activity
    start_ms = int(activity.start_utc.timestamp() * 1000)
    offset_ms = (activity.utc_offset_s or 0) * 1000
    summary: dict[str, object] = {
        "activityId": activity_id,
        "name": entry.name,
        "activityType": entry.type_key,
        "sportType": "RUNNING" if "run" in entry.type_key else entry.type_key.upper(),
        "beginTimestamp": start_ms,
        "startTimeGmt": start_ms,
        "startTimeLocal": start_ms + offset_ms,
        "duration": (activity.elapsed_time_s or 0) * 1000.0,
        "elapsedDuration": (activity.elapsed_time_s or 0) * 1000.0,
        "movingDuration": (activity.moving_time_s or 0) * 1000.0,
        "distance": (activity.distance_m or 0) * 100.0,
        "avgHr": activity.avg_heart_rate_bpm,
        "maxHr": activity.max_heart_rate_bpm,
        "lapCount": len(activity.laps),
        "splits": [{"distance": 100000.0, "duration": 300000.0}],
    }
    if entry.gear_pk is not None:
        summary["gearPk"] = entry.gear_pk
    return summary


def write_garmin_export(
    path: Path,
    entries: list[GarminEntry],
    *,
    user: str = "runner@example.org",
    parts: int = 1,
    gear: list[dict[str, object]] | None = None,
    extra_upload_members: dict[str, bytes] | None = None,
) -> Path:
    """Write a Garmin Connect export ZIP: DI_CONNECT with nested UploadedFiles_*.zip of FIT files."""
    root = "DI_CONNECT"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        summaries = [garmin_summary(e, 10_000_000_000 + i) for i, e in enumerate(entries)]
        archive.writestr(
            f"{root}/DI-Connect-Fitness/{user}_0_summarizedActivities.json",
            json.dumps([{"summarizedActivitiesExport": summaries}]),
        )
        archive.writestr(f"{root}/DI-Connect-User/user_profile.json", json.dumps({"userName": user}))
        archive.writestr(
            f"{root}/DI-Connect-Wellness/UDSFile_2025-01-01_2025-04-11.json",
            json.dumps([{"calendarDate": "2025-01-01", "totalSteps": 9000}]),
        )
        if gear is not None:
            archive.writestr(f"{root}/DI-Connect-Fitness/{user}_gear.json", json.dumps(gear))
        for part in range(parts):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as inner:
                for i, entry in enumerate(entries):
                    if i % parts != part or not entry.with_file:
                        continue
                    number = entry.upload_id or 20_000_000_000 + i
                    inner.writestr(f"{number}.fit", fit_bytes(entry.activity))
                for name, data in (extra_upload_members or {}).items():
                    if part == 0:
                        inner.writestr(name, data)
            archive.writestr(
                f"{root}/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part{part + 1}.zip", buffer.getvalue()
            )
    return path


def other_sport(activity: Activity) -> Activity:
    """The same recording as a non-foot sport (a ride, as far as StrideGuard can tell)."""
    return replace(activity, sport="other", name="Ride")
