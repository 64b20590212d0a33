"""Garmin Connect export ("Export Your Data"): everything under `DI_CONNECT/`.

Activity files are the original uploads inside nested `UploadedFiles_*.zip` archives (two ZIP levels, opened
one at a time); names and types come from `*_summarizedActivities.json` (`[{"summarizedActivitiesExport":
[...]}]`, possibly >100 MB, so it is streamed object by object), joined to each FIT file by start time.
Gear JSON (unverified location: any `*gear*.json` member) gives shoes, and activity links where it has them.
See shared/formats.md.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from strideguard.activities.formats import format_of
from strideguard.activities.formats.archives import (
    ArchiveItem,
    BadMember,
    ExportPlan,
    MemberProblem,
    SafeZip,
    ShoeSpec,
    nested_items,
)
from strideguard.activities.formats.dates import seconds_to_datetime, span_problem
from strideguard.activities.formats.errors import CorruptFile
from strideguard.activities.formats.sports import sport_from_name
from strideguard.model import Activity

SUMMARY_KEY = "summarizedActivitiesExport"
MAX_SUMMARY_OBJECT_CHARS = 4 * 1024 * 1024  # one activity summary is a few kB
MAX_GEAR_BYTES = 16 * 1024 * 1024
# A FIT file and its summary share the start second; allow the dedupe tolerance used by the store.
JOIN_TOLERANCE_S = 60
_UPLOADED = re.compile(r"(^|/)DI-Connect(-Fitness)?-Uploaded-Files/", re.IGNORECASE)
_SUMMARY = re.compile(r"_summarizedActivities\.json$", re.IGNORECASE)
_GEAR = re.compile(r"gear[^/]*\.json$", re.IGNORECASE)


def is_garmin_export(names: Iterable[str]) -> bool:
    return any(n.startswith("DI_CONNECT/") or "/DI_CONNECT/" in n or "DI-Connect-" in n for n in names)


@dataclass(frozen=True, slots=True)
class GarminSummary:
    """What the export's activity summary adds to a FIT file."""

    start_s: float  # Unix seconds, UTC
    activity_id: str | None = None
    name: str | None = None
    type_key: str | None = None
    utc_offset_s: int | None = None
    gear_key: str | None = None
    distance_m: float | None = None
    moving_s: float | None = None
    elapsed_s: float | None = None
    avg_hr: float | None = None
    max_hr: float | None = None


def iter_array_objects(
    chunks: Iterable[bytes], key: str, max_object_chars: int = MAX_SUMMARY_OBJECT_CHARS
) -> Iterator[Any]:
    """Stream the elements of every JSON array stored under `key`, without loading the whole document.

    Raises CorruptFile when an element is not valid JSON or larger than `max_object_chars`.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    source = iter(chunks)
    buf = ""
    pos = 0
    eof = False
    marker = f'"{key}"'
    state = "seek"

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = next(source, None)
        buf = buf[pos:]
        pos = 0
        if chunk is None:
            eof = True
            buf += utf8.decode(b"", final=True)
            return False
        buf += utf8.decode(chunk)
        return True

    while True:
        if state == "seek":
            found = buf.find(marker, pos)
            if found < 0:
                pos = max(pos, len(buf) - len(marker))
                if not more():
                    return
                continue
            pos = found + len(marker)
            state = "colon"
            continue
        skip = " \t\r\n" if state in ("colon", "open") else " \t\r\n,"
        while pos < len(buf) and buf[pos] in skip:
            pos += 1
        if pos >= len(buf):
            if not more():
                return
            continue
        char = buf[pos]
        if state == "colon":
            state, pos = ("open", pos + 1) if char == ":" else ("seek", pos)
            continue
        if state == "open":
            state, pos = ("items", pos + 1) if char == "[" else ("seek", pos)
            continue
        if char == "]":
            pos += 1
            state = "seek"
            continue
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if len(buf) - pos > max_object_chars:
                raise CorruptFile(
                    f"an entry of {key} is larger than {max_object_chars:,} characters"
                ) from None
            if not more():
                raise CorruptFile(f"invalid JSON in {key} ({exc.msg})") from None
            continue
        if end - pos > max_object_chars:
            raise CorruptFile(f"an entry of {key} is larger than {max_object_chars:,} characters")
        pos = end
        yield value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def summary_from_json(entry: Any) -> GarminSummary | None:
    """A GarminSummary from one `summarizedActivitiesExport` element (epoch milliseconds), else None."""
    if not isinstance(entry, dict):
        return None
    start_ms = _number(entry.get("beginTimestamp")) or _number(entry.get("startTimeGmt"))
    if start_ms is None:
        return None
    local_ms = _number(entry.get("startTimeLocal"))
    gmt_ms = _number(entry.get("startTimeGmt")) or start_ms
    offset = None
    if local_ms is not None:
        # Offsets are whole quarter hours; round away millisecond noise.
        offset = int(round((local_ms - gmt_ms) / 1000 / 900) * 900)
        if abs(offset) > 14 * 3600:
            offset = None
    type_key = entry.get("activityType")
    if isinstance(type_key, dict):
        type_key = type_key.get("typeKey")
    if not isinstance(type_key, str) or not type_key:
        sport_type = entry.get("sportType")
        type_key = sport_type if isinstance(sport_type, str) else None
    name = entry.get("name")
    gear = entry.get("gearPk") or entry.get("gearUUID") or entry.get("gearUuid")
    activity_id = entry.get("activityId")

    def positive(key: str, scale: float) -> float | None:
        value = _number(entry.get(key))
        return value * scale if value is not None and value > 0 else None

    return GarminSummary(
        start_s=start_ms / 1000.0,
        activity_id=str(activity_id) if activity_id is not None else None,
        name=name if isinstance(name, str) and name.strip() else None,
        type_key=type_key,
        utc_offset_s=offset,
        gear_key=str(gear) if gear is not None else None,
        # Units of the export: centimetres and milliseconds (shared/formats.md); heart rate in bpm.
        distance_m=positive("distance", 0.01),
        moving_s=positive("movingDuration", 0.001),
        elapsed_s=positive("elapsedDuration", 0.001) or positive("duration", 0.001),
        avg_hr=positive("avgHr", 1.0),
        max_hr=positive("maxHr", 1.0),
    )


def summary_activity(summary: GarminSummary, gear_names: dict[str, str]) -> Activity | None:
    """An activity from a summary alone (entered by hand in Garmin Connect, or its file is missing from the
    export), or None when the summary holds neither a distance nor a duration.

    Elevation and cadence are left out: their units in the export are unverified. The source hash comes
    from the Garmin activity id, so importing the export again finds it as a duplicate.
    """
    if summary.distance_m is None and summary.elapsed_s is None and summary.moving_s is None:
        return None
    key = f"garmin-summary:{summary.activity_id or summary.start_s}"
    gear = gear_names.get(summary.gear_key or "") or gear_names.get(f"activity:{summary.activity_id}")
    return Activity(
        sport=sport_from_name(summary.type_key) if summary.type_key else "other",
        start_utc=seconds_to_datetime(summary.start_s),
        source_format="manual",
        utc_offset_s=summary.utc_offset_s,
        distance_m=summary.distance_m,
        moving_time_s=summary.moving_s or summary.elapsed_s,
        elapsed_time_s=summary.elapsed_s or summary.moving_s,
        avg_heart_rate_bpm=summary.avg_hr,
        max_heart_rate_bpm=summary.max_hr,
        name=summary.name,
        gear_name=gear,
        source_sha256=hashlib.sha256(key.encode()).hexdigest(),
        source_name=f"Garmin summary {summary.activity_id}" if summary.activity_id else "Garmin summary",
        extra={"garmin_activity_id": summary.activity_id or "", "source_type": summary.type_key or ""},
    )


class SummaryIndex:
    """Summaries by start time, for joining each FIT file to its summary."""

    def __init__(self, summaries: Iterable[GarminSummary]) -> None:
        ordered = sorted(summaries, key=lambda s: s.start_s)
        self._starts = [s.start_s for s in ordered]
        self._summaries = ordered

    def __len__(self) -> int:
        return len(self._summaries)

    def __iter__(self) -> Iterator[GarminSummary]:
        return iter(self._summaries)

    def find(self, start_s: float) -> GarminSummary | None:
        """The summary starting closest to `start_s`, within JOIN_TOLERANCE_S."""
        i = bisect.bisect_left(self._starts, start_s)
        best: GarminSummary | None = None
        for j in (i - 1, i):
            if (
                0 <= j < len(self._starts)
                and abs(self._starts[j] - start_s) <= JOIN_TOLERANCE_S
                and (best is None or abs(self._starts[j] - start_s) < abs(best.start_s - start_s))
            ):
                best = self._summaries[j]
        return best


def enrich(activity: Activity, index: SummaryIndex, gear_names: dict[str, str]) -> Activity:
    """The summary's name (as named in Garmin Connect) wins; fill the time-zone offset and (when the file
    has none) the sport from the summary."""
    summary = index.find(activity.start_utc.timestamp())
    if summary is None:
        return activity
    extra = dict(activity.extra)
    if summary.activity_id:
        extra["garmin_activity_id"] = summary.activity_id
    if summary.type_key:
        extra["source_type"] = summary.type_key
    sport = activity.sport
    if sport == "other" and summary.type_key:
        sport = sport_from_name(summary.type_key)
    gear = gear_names.get(summary.gear_key or "") or gear_names.get(f"activity:{summary.activity_id}")
    return replace(
        activity,
        sport=sport,
        name=summary.name or activity.name,
        utc_offset_s=activity.utc_offset_s if activity.utc_offset_s is not None else summary.utc_offset_s,
        gear_name=activity.gear_name or gear,
        extra=extra,
    )


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_gear(data: bytes) -> tuple[list[ShoeSpec], dict[str, str]]:
    """Shoes in a Garmin gear JSON and links gearPk -> name, 'activity:<id>' -> name (format unverified)."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFile(f"invalid gear JSON ({exc})") from None
    shoes: list[ShoeSpec] = []
    names: dict[str, str] = {}
    for entry in _walk(document):
        pk = entry.get("gearPk") or entry.get("uuid") or entry.get("gearUUID")
        gear_type = str(entry.get("gearTypeName") or "").lower()
        make, model = entry.get("gearMakeName"), entry.get("gearModelName")
        name = (
            entry.get("displayName")
            or entry.get("customMakeModel")
            or " ".join(str(p) for p in (make, model) if p)
        )
        if pk is not None and name and ("shoe" in gear_type or not gear_type) and "activityId" not in entry:
            names[str(pk)] = str(name)
            if "shoe" in gear_type:
                shoes.append(ShoeSpec(name=str(name), brand=make or None, model=model or None))
    for entry in _walk(document):
        if "activityId" in entry and entry.get("gearPk") is not None:
            linked = names.get(str(entry["gearPk"]))
            if linked:
                names[f"activity:{entry['activityId']}"] = linked
    return shoes, names


def plan_garmin(archive: SafeZip, sports: frozenset[str]) -> ExportPlan:
    """Import items for a Garmin export: FIT/GPX/TCX members of the nested UploadedFiles ZIPs (and any
    loose activity files), each enriched from the summaries."""
    # A file's sport is known only after parsing it (the pipeline filters); summary-only activities are
    # filtered here, so a file skipped for its sport does not come back through its summary.
    plan = ExportPlan(kind="garmin", items=iter(()))
    summaries: list[GarminSummary] = []
    for info in archive.members:
        if not _SUMMARY.search(info.filename):
            continue
        try:
            for entry in iter_array_objects(
                archive.chunks(info, archive.limits.max_nested_bytes), SUMMARY_KEY
            ):
                summary = summary_from_json(entry)
                if summary is not None:
                    summaries.append(summary)
        except (BadMember, CorruptFile) as exc:
            plan.problems.append(MemberProblem(info.filename, str(exc)))
    index = SummaryIndex(summaries)
    gear_names: dict[str, str] = {}
    for info in archive.members:
        if _GEAR.search(info.filename):
            try:
                shoes, names = parse_gear(archive.read(info, MAX_GEAR_BYTES))
            except (BadMember, CorruptFile) as exc:
                plan.problems.append(MemberProblem(info.filename, str(exc)))
                continue
            plan.shoes.extend(shoes)
            gear_names.update(names)
    nested = [i for i in archive.members if i.filename.lower().endswith(".zip")]
    loose = [i for i in archive.members if format_of(i.filename)]
    plan.total = len(loose) + sum(1 for _ in nested)  # grows by each nested archive's members
    if summaries:
        read = "1 activity summary" if len(summaries) == 1 else f"{len(summaries)} activity summaries"
        plan.notes.append(f"{read} read for names and types")

    def add_summary(activity: Activity) -> Activity:
        return enrich(activity, index, gear_names)

    def items() -> Iterator[ArchiveItem]:
        for info in loose:
            yield ArchiveItem(
                key=info.filename,
                name=info.filename,
                load=lambda info=info: archive.read(info),  # type: ignore[misc]
                enrich=add_summary,
            )
        for info in nested:
            plan.total -= 1
            if not _UPLOADED.search(info.filename) and "UploadedFiles" not in info.filename:
                continue  # some other ZIP in the export: not activity uploads
            yield from nested_items(archive, info, plan, add_summary)
        # Summaries no file matched: manual entries (or files the export lacks). They come last and are
        # imported only where no activity of this athlete starts within the join tolerance.
        for summary in index:
            activity = summary_activity(summary, gear_names)
            if activity is not None and activity.sport in sports:
                problem = span_problem(activity.start_utc, activity.elapsed_time_s)
                if problem is not None:
                    key = f"garmin-summary:{summary.activity_id or summary.start_s}"
                    yield ArchiveItem(key=key, name=activity.source_name or key, load=_refuse(problem))
                    continue
                yield ArchiveItem(
                    key=f"garmin-summary:{summary.activity_id or summary.start_s}",
                    name=activity.source_name or "Garmin summary",
                    manual=activity,
                    only_if_new_start_s=JOIN_TOLERANCE_S,
                )

    plan.items = items()
    return plan


def _refuse(reason: str):  # type: ignore[no-untyped-def]
    def load() -> bytes:
        raise CorruptFile(reason)

    return load


def epoch_ms(value: datetime) -> int:
    """Garmin's timestamp unit: milliseconds since the Unix epoch."""
    return int(value.astimezone(UTC).timestamp() * 1000)
