"""Read Garmin Training Center (TCX) files: one `Activity` per `<Activity>` element, streamed with lxml.

Summaries come from the device's own laps (the numbers the runner saw on the watch); streams come from the
trackpoints. Elements are matched on local names, so Garmin's `ns3:TPX`, Strava's default-namespace
`<TPX xmlns=...>` and files without namespaces all read the same.

- Distance: sum of lap `DistanceMeters`; else the trackpoints' cumulative `DistanceMeters`; else the
  haversine length of the positions. Indoor trackpoints without `<Position>` are kept.
- Moving time: sum of lap `TotalTimeSeconds`, the device's timer time, which stops on (auto-)pause.
- Elapsed time: from the first lap start to the last trackpoint (or the end of the last lap if later).
- Cadence: `RunCadence` (TPX extension) and, for foot sports, `<Cadence>` count one foot's strides per
  minute, so steps per minute are twice the value (the FIT counterpart of the same run agrees, see tests),
  unless the file's values are steps per minute already (a foot pod's 177): decided once per file
  (cadence.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from lxml import etree

from strideguard.activities.formats import track, xmlsafe
from strideguard.activities.formats.cadence import steps_factor
from strideguard.activities.formats.dates import GIVE_START_HINT, given_offset_s
from strideguard.activities.formats.errors import CorruptFile, FileRejected, LimitExceeded, NotAnActivity
from strideguard.activities.formats.sports import is_foot_sport, sport_from_name
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.model import Activity, Lap, Streams

_TAGS = ("{*}TrainingCenterDatabase", "{*}Activity", "{*}Lap", "{*}Trackpoint", "{*}Course")
_NAN = float("nan")
# Trackpoints this long after the last lap ends mean the laps do not cover the recording.
LAPS_COVER_SLACK_S = 30.0
# A lap starting longer than this before the first trackpoint has a broken start time.
MAX_LAP_LEAD_S = 600.0
# Lap starts this close to a whole quarter-hour offset from the trackpoints carry a time-zone error.
ZONE_SHIFT_SLACK_S = 60.0
# Index of each trackpoint field in a row of `_Builder.rows`.
_FIELDS = {
    "LatitudeDegrees": 0,
    "LongitudeDegrees": 1,
    "AltitudeMeters": 2,
    "DistanceMeters": 3,
    "Value": 4,  # HeartRateBpm/Value: the only <Value> inside a trackpoint
    "Cadence": 5,
    "RunCadence": 6,
    "Speed": 7,
    "Watts": 8,
}
_TIME = -1
_IGNORED = -2


def _number(text: str | None) -> float:
    if not text:
        return _NAN
    try:
        return float(text)
    except ValueError:
        return _NAN


@dataclass(slots=True)
class _LapSummary:
    start: str | None
    total_time_s: float
    distance_m: float
    avg_hr: float
    max_hr: float
    cadence: float  # per-foot for foot sports, as written


@dataclass(slots=True)
class _Builder:
    """What one <Activity> has yielded so far."""

    sport_text: str | None
    times: list[str | None] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    laps: list[_LapSummary] = field(default_factory=list)
    # Full tag ('{ns}Speed') -> row index, filled as tags are met (see add_point).
    field_of_tag: dict[str, int] = field(default_factory=dict)

    def add_point(self, point: etree._Element) -> None:
        row = [_NAN] * 9
        moment: str | None = None
        fields = self.field_of_tag
        for child in point.iterdescendants():
            tag = child.tag
            if not isinstance(tag, str):
                continue
            index = fields.get(tag)
            if index is None:
                name = tag[tag.rfind("}") + 1 :]
                index = fields[tag] = _TIME if name == "Time" else _FIELDS.get(name, _IGNORED)
            if index >= 0:
                row[index] = _number(child.text)
            elif index == _TIME:
                moment = child.text.strip() if child.text else None
        self.times.append(moment)
        self.rows.append(row)

    def add_lap(self, lap: etree._Element) -> None:
        get = lap.get
        text = xmlsafe.child_text
        avg_hr = max_hr = _NAN
        cadence = _number(text(lap, "Cadence"))
        for child in lap:
            name = xmlsafe.local_name(child.tag)
            if name == "AverageHeartRateBpm":
                avg_hr = _number(xmlsafe.child_text(child, "Value"))
            elif name == "MaximumHeartRateBpm":
                max_hr = _number(xmlsafe.child_text(child, "Value"))
            elif name == "Extensions" and not np.isfinite(cadence):
                for item in child.iter():
                    if xmlsafe.local_name(item.tag) == "AvgRunCadence":
                        cadence = _number(item.text.strip() if item.text else None)
        self.laps.append(
            _LapSummary(
                start=(get("StartTime") or "").strip() or None,
                total_time_s=_number(text(lap, "TotalTimeSeconds")),
                distance_m=_number(text(lap, "DistanceMeters")),
                avg_hr=avg_hr,
                max_hr=max_hr,
                cadence=cadence,
            )
        )


class _NoUsableDate(CorruptFile):
    """An activity without a usable date, which the runner's start (`import --start`) would date."""


def read_tcx(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, start_utc: datetime | None = None
) -> list[Activity]:
    """Parse TCX bytes into one `Activity` per `<Activity>` (multisport sessions give several).

    `start_utc` (the runner's `import --start`) dates an activity without times or with dates the date rule
    refuses; an activity with plausible dates keeps them. A multisport file's later activities are dated
    from it too, each after the one before: with the same shift when their clock was as wrong (they keep
    the gaps between them), or from the previous one's end when they have no times at all.

    Raises NotAnActivity for courses and files without activities, CorruptFile for malformed XML (or when
    no activity in the file is readable), LimitExceeded past `limits.max_points` trackpoints or
    `limits.max_seconds` of parsing. An unreadable activity next to readable ones is left out and named in
    each kept activity's `extra["skipped_parts"]`.
    """
    data = xmlsafe.prepare(data, "TrainingCenterDatabase", "TCX")
    activities: list[Activity] = []
    problems: list[str] = []
    undated = 0  # problems that the runner's start would solve
    current: _Builder | None = None
    points = 0
    courses = 0
    next_start = start_utc  # where the next activity dated by the runner's start begins
    clock_shift_s: float | None = None  # the shift that dated an earlier activity whose clock was wrong
    for event, element in xmlsafe.iter_events(data, _TAGS, max_seconds=limits.max_seconds):
        name = xmlsafe.local_name(element.tag)
        if event == "start":
            if name == "Activity":
                current = _Builder(sport_text=element.get("Sport"))
            continue
        if name == "Trackpoint":
            points += 1
            if points > limits.max_points:
                raise LimitExceeded(f"more than {limits.max_points} track points")
            if current is not None:
                current.add_point(element)
            xmlsafe.release(element)
        elif name == "Lap":
            if current is not None:
                current.add_lap(element)
            element.clear(keep_tail=False)
        elif name == "Activity" and current is not None:
            part = len(activities) + len(problems) + 1
            try:
                activity, shift_s = _build_activity(current, element, next_start, clock_shift_s)
            except NotAnActivity:
                pass  # an empty <Activity/> placeholder: nothing to keep, nothing lost
            except FileRejected as exc:
                problems.append(f"activity {part}: {exc}")
                undated += isinstance(exc, _NoUsableDate)
            else:
                activities.append(activity)
                if activity.extra.get("start_given"):
                    clock_shift_s = shift_s if shift_s is not None else clock_shift_s
                    end = activity.start_utc + timedelta(seconds=activity.elapsed_time_s or 0.0)
                    next_start = end.astimezone(start_utc.tzinfo) if start_utc else end  # the runner's zone
            current = None
            xmlsafe.release(element)
        elif name == "Course":
            courses += 1
            xmlsafe.release(element)
    if not activities:
        if problems:
            message = problems[0] if len(problems) == 1 else "; ".join(problems[:3])
            # The way out only when it is one: the start dates the file's activities that have no date.
            raise CorruptFile(f"{message}; {GIVE_START_HINT}" if undated == len(problems) else message)
        if courses:
            raise NotAnActivity("course, not a recorded activity")
        raise NotAnActivity("no activities in the file")
    if problems:
        for activity in activities:
            activity.extra["skipped_parts"] = list(problems)
    return activities


def _build_activity(
    builder: _Builder,
    element: etree._Element,
    start_utc: datetime | None = None,
    clock_shift_s: float | None = None,
) -> tuple[Activity, float | None]:
    """The activity, and the seconds its times were shifted by to start at `start_utc` (None: not shifted).
    `clock_shift_s`, an earlier activity's shift, is used instead when this one's dates are as impossible."""
    sport = sport_from_name(builder.sport_text, default="run")
    foot = is_foot_sport(sport)
    seconds, utc_offset_s = track.parse_times(builder.times)
    timed = np.isfinite(seconds)
    lap_starts, lap_offset = track.parse_times([lap.start for lap in builder.laps])
    activity_id = xmlsafe.child_text(element, "Id")
    id_time = track.parse_time(activity_id)
    if utc_offset_s is None:
        utc_offset_s = lap_offset if lap_offset is not None else (id_time[1] if id_time else None)

    given: str | None = None
    lap_time = np.array([lap.total_time_s for lap in builder.laps], dtype=np.float64)
    laps_timed = bool(len(lap_time)) and bool(np.isfinite(lap_time).all())
    if not timed.any() and not np.isfinite(lap_starts).any():
        if laps_timed and start_utc is not None:
            # No time at all, but the laps' durations: the laps follow each other from the given start.
            lap_starts = start_utc.timestamp() + np.concatenate(([0.0], np.cumsum(lap_time)[:-1]))
            given = track.START_GIVEN_LAPS_ONLY
            utc_offset_s = given_offset_s(start_utc)
        elif builder.times or np.isfinite(lap_time).any():
            error = _NoUsableDate if laps_timed else CorruptFile
            raise error("no readable <Time> or lap StartTime in the activity")
        else:
            raise NotAnActivity("activity without laps or trackpoints")

    rows = np.asarray(builder.rows, dtype=np.float64).reshape(-1, 9)[timed]
    seconds = seconds[timed]
    order = track.in_time_order(seconds)
    if order is not None:
        seconds, rows = seconds[order], rows[order]
    untimed = len(builder.times) - int(timed.sum())
    damaged = (
        f"{untimed} of {len(builder.times)} trackpoints have no readable <Time>: kept the rest"
        if untimed > 0.1 * len(builder.times)
        else None
    )

    fixes: list[str] = []
    if len(seconds):
        lap_starts = _checked_lap_starts(lap_starts, seconds, fixes)
    candidates = lap_starts[np.isfinite(lap_starts)][:1].tolist() + seconds[:1].tolist()
    if not candidates and id_time:
        candidates = [id_time[0]]
    start_s = min(candidates)
    lap_distance = np.array([lap.distance_m for lap in builder.laps], dtype=np.float64)
    ends = [start_s]
    if len(seconds):
        ends.append(float(seconds[-1]))
    finite_lap = np.isfinite(lap_starts) & np.isfinite(lap_time)
    if finite_lap.any():
        ends.append(float(np.max(lap_starts[finite_lap] + lap_time[finite_lap])))
    end_s = max(ends)
    shift_s = track.shift_to_given_start(start_s, end_s, start_utc)
    if shift_s is not None and clock_shift_s is not None and start_utc is not None:
        # The same wrong clock as an earlier activity of the file: the same shift keeps the gap between them.
        shift_s = clock_shift_s if start_s + clock_shift_s >= start_utc.timestamp() - 1.0 else shift_s
    if shift_s is not None:  # trackpoints and laps keep their spacing; the activity starts at the given start
        seconds, lap_starts, start_s, end_s = (
            seconds + shift_s,
            lap_starts + shift_s,
            start_s + shift_s,
            end_s + shift_s,
        )
        given = track.START_GIVEN_BAD_DATES
        utc_offset_s = given_offset_s(start_utc) if start_utc is not None else None
    try:
        track.check_plausible_times(start_s, end_s, start_given=True)
    except CorruptFile as exc:
        raise (exc if start_utc is not None else _NoUsableDate(str(exc))) from None

    lat, lon, altitude, point_distance = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    hr, cadence, run_cadence, speed, power = rows[:, 4], rows[:, 5], rows[:, 6], rows[:, 7], rows[:, 8]
    lat_ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    lat = np.where(lat_ok, lat, np.nan)
    lon = np.where(lat_ok, lon, np.nan)
    # Per-foot cadence -> steps per minute, unless this file writes steps already (cadence.py); bike
    # cadence (rpm) stays as it is.
    lap_cadence = [lap.cadence for lap in builder.laps if np.isfinite(lap.cadence)]
    typical_lap = float(np.median(lap_cadence)) if lap_cadence else None
    raw = np.where(np.isfinite(run_cadence), run_cadence, cadence if foot else np.nan)
    factor = (
        steps_factor(raw, sport if foot else "run", summary=typical_lap)
        if np.isfinite(raw).any() or (foot and typical_lap is not None)
        else 1.0
    )
    steps = np.where(np.isfinite(run_cadence), run_cadence * factor, cadence * (factor if foot else 1.0))
    time_s = seconds - start_s

    distance_stream = _distance_stream(point_distance, lat, lon)
    track_distance = (
        float(np.nanmax(distance_stream) - np.nanmin(distance_stream))
        if distance_stream is not None
        else None
    )
    track_moving = (
        track.moving_time_s(time_s, np.diff(distance_stream))
        if distance_stream is not None and len(time_s) > 1
        else None
    )
    lap_distance_sum = float(np.nansum(lap_distance)) if np.isfinite(lap_distance).any() else None
    lap_time_sum = float(np.nansum(lap_time)) if np.isfinite(lap_time).any() else None
    lap_end = float(np.max(lap_starts[finite_lap] + lap_time[finite_lap])) if finite_lap.any() else None
    # Laps that stop well before the track does (sports-lib's movescount sample: two 1 km laps, then
    # another 900 m of trackpoints) understate the run: then the trackpoints are the better summary.
    laps_cover_track = not (
        lap_distance_sum is not None
        and track_distance is not None
        and lap_end is not None
        and len(seconds)
        and seconds[-1] > lap_end + LAPS_COVER_SLACK_S
        and track_distance > lap_distance_sum * 1.02 + 10.0
    )
    if lap_distance_sum and laps_cover_track:
        distance_m: float | None = lap_distance_sum
    else:
        distance_m = track_distance
    moving_time_s = lap_time_sum if lap_time_sum is not None and laps_cover_track else track_moving
    tail = None
    if not laps_cover_track and lap_end is not None and distance_stream is not None:
        # The laps stop before the track does: the rest of the track becomes one more lap, so the lap table
        # covers the whole recording (as for FIT).
        after = time_s >= lap_end - start_s
        rest = float(
            np.nanmax(distance_stream) - np.nanmax(distance_stream[~after]) if (~after).any() else 0.0
        )
        tail = _TailLap(
            start_s=lap_end,
            elapsed_s=float(seconds[-1]) - lap_end,
            distance_m=max(rest, 0.0),
            avg_hr=track.time_weighted_mean(hr[after], time_s[after]) if after.sum() else None,
            max_hr=track.finite_max(hr[after]) if after.sum() else None,
        )
        fixes.append(f"the laps stop {tail.elapsed_s:.0f} s before the track ends: added a lap for the rest")
    if moving_time_s is not None and moving_time_s > end_s - start_s + 1.0:
        # Timer time cannot exceed the wall-clock span (laps that overlap or count a pause twice): the track's
        # own moving time when it fits, else the span (the FIT importer's check).
        replaced = (
            track_moving if track_moving is not None and track_moving <= end_s - start_s else end_s - start_s
        )
        fixes.append(
            f"lap times add up to {moving_time_s:.0f} s, more than the {end_s - start_s:.0f} s elapsed"
        )
        moving_time_s = replaced

    avg_hr, max_hr, avg_cadence = _lap_averages(builder.laps, lap_time, factor if foot else 1.0)
    if avg_hr is None and len(time_s):
        avg_hr = track.time_weighted_mean(hr, time_s)
    if max_hr is None and len(time_s):
        max_hr = track.finite_max(hr)
    if avg_cadence is None and len(time_s):
        avg_cadence = track.time_weighted_mean(steps, time_s)
    climb = track.climb_m(altitude)

    streams = None
    if len(time_s):
        has_position = bool(np.isfinite(lat).any())
        streams = Streams(
            time_s=time_s,
            lat_deg=lat if has_position else None,
            lon_deg=lon if has_position else None,
            altitude_m=altitude if np.isfinite(altitude).any() else None,
            distance_m=distance_stream,
            speed_m_s=speed if np.isfinite(speed).any() else None,
            heart_rate_bpm=hr if np.isfinite(hr).any() else None,
            cadence_spm=steps if np.isfinite(steps).any() else None,
            power_w=power if np.isfinite(power).any() else None,
        )
    activity = Activity(
        sport=sport,
        start_utc=track.utc_datetime(start_s),
        source_format="tcx",
        utc_offset_s=utc_offset_s,
        distance_m=distance_m,
        moving_time_s=moving_time_s,
        elapsed_time_s=end_s - start_s,
        ascent_m=climb[0] if climb else None,
        descent_m=climb[1] if climb else None,
        avg_heart_rate_bpm=avg_hr,
        max_heart_rate_bpm=max_hr,
        avg_cadence_spm=avg_cadence,
        laps=_laps(builder.laps, lap_starts, end_s, factor if foot else 1.0, tail),
        streams=streams,
        description=xmlsafe.child_text(element, "Notes"),
        damaged=damaged,
        device=_creator_name(element),
        extra={
            "declared_sport": builder.sport_text or None,
            **({"tcx_fixes": fixes} if fixes else {}),
            **({"start_given": given} if given else {}),
        },
    )
    return activity, shift_s


def _checked_lap_starts(lap_starts: np.ndarray, seconds: np.ndarray, fixes: list[str]) -> np.ndarray:
    """Lap start times checked against the trackpoints they hold.

    A first lap that starts long before the first trackpoint (hours: a clock or time-zone error in the lap
    alone) would stretch elapsed time. When every lap start moved by the same whole quarter hours lands inside
    the recording, the laps carry a zone offset and are all shifted; otherwise the laps that start too early
    start at the first trackpoint.
    """
    finite = np.isfinite(lap_starts)
    if not finite.any():
        return lap_starts
    first_point = float(seconds[0])
    lead = first_point - float(lap_starts[finite][0])
    if lead <= MAX_LAP_LEAD_S:
        return lap_starts
    shift = round(lead / 900.0) * 900.0
    shifted = lap_starts + shift
    if abs(shift - lead) <= ZONE_SHIFT_SLACK_S and np.all(
        (shifted[finite] >= first_point - MAX_LAP_LEAD_S) & (shifted[finite] <= float(seconds[-1]))
    ):
        fixes.append(f"lap start times {shift / 3600:g} h before the trackpoints: shifted to them")
        return shifted
    fixed = lap_starts.copy()
    early = finite & (lap_starts < first_point - MAX_LAP_LEAD_S)
    fixed[early] = first_point
    fixes.append(f"lap started {lead:.0f} s before its first trackpoint: started at the trackpoint")
    return fixed


def _distance_stream(point_distance: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """Cumulative distance per trackpoint: the device's DistanceMeters, else haversine along positions.

    Missing device values (a point without <DistanceMeters>) carry the last known value forward, so the
    stream never runs backwards.
    """
    if np.isfinite(point_distance).any():
        known = np.isfinite(point_distance)
        index = np.where(known, np.arange(len(point_distance)), 0)
        np.maximum.accumulate(index, out=index)
        filled = point_distance[index]
        first = int(np.argmax(known))
        filled[:first] = point_distance[first]
        return np.maximum.accumulate(filled)
    if np.isfinite(lat).any():
        steps = np.nan_to_num(track.haversine_steps_m(lat, lon), nan=0.0)
        return np.concatenate(([0.0], np.cumsum(steps)))
    return None


def _lap_averages(
    laps: list[_LapSummary], lap_time: np.ndarray, factor: float
) -> tuple[float | None, float | None, float | None]:
    """Average HR and cadence weighted by lap timer time, max HR over laps; None where laps lack them."""

    def weighted(values: np.ndarray) -> float | None:
        usable = np.isfinite(values) & (values > 0) & np.isfinite(lap_time) & (lap_time > 0)
        if not usable.any():
            return None
        return float(np.average(values[usable], weights=lap_time[usable]))

    avg_hr = weighted(np.array([lap.avg_hr for lap in laps], dtype=np.float64))
    max_values = np.array([lap.max_hr for lap in laps], dtype=np.float64)
    max_hr = track.finite_max(max_values)
    cadence = weighted(np.array([lap.cadence for lap in laps], dtype=np.float64))
    if cadence is not None:
        cadence *= factor
    return avg_hr, max_hr, cadence


@dataclass(frozen=True, slots=True)
class _TailLap:
    """The part of the track after the device's last lap ended."""

    start_s: float
    elapsed_s: float
    distance_m: float
    avg_hr: float | None
    max_hr: float | None


def _laps(
    laps: list[_LapSummary], lap_starts: np.ndarray, end_s: float, factor: float, tail: _TailLap | None = None
) -> tuple[Lap, ...]:
    result: list[Lap] = []
    for i, lap in enumerate(laps):
        start = lap_starts[i]
        if not np.isfinite(start):
            continue
        following = [s for s in lap_starts[i + 1 :].tolist() if np.isfinite(s)]
        elapsed = (following[0] if following else (tail.start_s if tail is not None else end_s)) - start
        cadence = lap.cadence * factor
        result.append(
            Lap(
                start_utc=track.utc_datetime(float(start)),
                elapsed_time_s=max(elapsed, lap.total_time_s) if np.isfinite(lap.total_time_s) else elapsed,
                moving_time_s=_or_none(lap.total_time_s),
                distance_m=_or_none(lap.distance_m),
                avg_heart_rate_bpm=_or_none(lap.avg_hr),
                max_heart_rate_bpm=_or_none(lap.max_hr),
                avg_cadence_spm=_or_none(cadence),
            )
        )
    if tail is not None and result:
        result.append(
            Lap(
                start_utc=track.utc_datetime(tail.start_s),
                elapsed_time_s=tail.elapsed_s,
                moving_time_s=tail.elapsed_s,
                distance_m=tail.distance_m,
                avg_heart_rate_bpm=tail.avg_hr,
                max_heart_rate_bpm=tail.max_hr,
            )
        )
    return tuple(result)


def _or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _creator_name(element: etree._Element) -> str | None:
    for child in element:
        if xmlsafe.local_name(child.tag) == "Creator":
            return xmlsafe.child_text(child, "Name")
    return None
