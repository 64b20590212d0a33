"""Read GPX 1.0/1.1 tracks into one `Activity` per file, with a hardened streaming lxml parser.

All `<trkseg>` of all `<trk>` become one activity: GPX from watches and apps holds one recording per file,
and a new segment (or track) marks a pause or a lost signal. Distance does not bridge segment breaks
(GPX 1.1: a segment holds points "logically connected in order"), nor does moving time.

Fields read from each `<trkpt>`: lat/lon attributes, `<ele>`, `<time>`, `<speed>` (GPX 1.0 and Apple's
extension), and in `<extensions>` any namespace or prefix: `hr`/`heartrate`, `cad`/`cadence`,
`power`/`watts`, matched on local names (Garmin TrackPointExtension v1/v2 `gpxtpx:hr`/`ns3:hr`, Cluetrust
`gpxdata:hr`/`gpxdata:cadence`, Amazfit `heartrate`, plain `<hr>`/`<cad>`).
SpoQ/SportTracks files keep heart rate apart from the points, as a time series in the file's (or track's)
`<extensions>`: `<st:activity><st:heartRateTrack><st:heartRate time="..." bpm="..."/>`; each point without
its own heart rate takes the latest such sample at or before its time (cadence likewise from a
`cadenceTrack` of `cadence` samples with an `rpm` attribute).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from lxml import etree

from strideguard.activities.formats import track, xmlsafe
from strideguard.activities.formats.cadence import steps_factor
from strideguard.activities.formats.dates import GIVE_START_HINT, given_offset_s
from strideguard.activities.formats.errors import CorruptFile, LimitExceeded, NotAnActivity
from strideguard.activities.formats.sports import is_foot_sport, sport_from_name
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.model import Activity, Streams

_TAGS = ("{*}gpx", "{*}metadata", "{*}trk", "{*}trkseg", "{*}trkpt", "{*}rtept")
_HR_NAMES = frozenset({"hr", "heartrate", "heartratebpm"})
_CAD_NAMES = frozenset({"cad", "cadence"})
_POWER_NAMES = frozenset({"power", "watts"})
_NAN = float("nan")
# Share of points without <time> tolerated inside a timed segment (dropped, see _build_activity).
MAX_UNTIMED_SHARE = 0.1


def _number(text: str | None) -> float:
    if not text:
        return _NAN
    try:
        return float(text)
    except ValueError:
        return _NAN


# Column of each point field in `_Points.rows`; anything else is ignored.
_ELE, _HR, _CAD, _POWER, _SPEED = range(5)
_FIELD_OF_NAME = {"ele": _ELE, "speed": _SPEED}
_FIELD_OF_NAME.update(dict.fromkeys(_HR_NAMES, _HR))
_FIELD_OF_NAME.update(dict.fromkeys(_CAD_NAMES, _CAD))
_FIELD_OF_NAME.update(dict.fromkeys(_POWER_NAMES, _POWER))
_TIME = -1
_IGNORED = -2


class _Points:
    """Columns collected while walking the track points (plain lists: appending is the cheap part)."""

    __slots__ = ("field_of_tag", "lat", "lon", "new_segment", "rows", "time")

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.time: list[str | None] = []
        self.rows: list[list[float]] = []
        self.new_segment: list[bool] = []
        # Full tag ('{ns}hr') -> column, filled as tags are met: a file uses a handful of distinct tags.
        self.field_of_tag: dict[str, int] = {}

    def _field(self, tag: str) -> int:
        name = tag[tag.rfind("}") + 1 :]
        field = _TIME if name == "time" else _FIELD_OF_NAME.get(name.lower(), _IGNORED)
        self.field_of_tag[tag] = field
        return field

    def add(self, point: etree._Element, new_segment: bool) -> None:
        lat = _number(point.get("lat"))
        lon = _number(point.get("lon"))
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            lat = lon = _NAN
        row = [_NAN, _NAN, _NAN, _NAN, _NAN]
        moment: str | None = None
        fields = self.field_of_tag
        for child in point.iterdescendants():
            tag = child.tag
            if not isinstance(tag, str):
                continue
            field = fields.get(tag)
            if field is None:
                field = self._field(tag)
            if field >= 0:
                row[field] = _number(child.text)
            elif field == _TIME:
                moment = child.text.strip() if child.text else None
        self.lat.append(lat)
        self.lon.append(lon)
        self.time.append(moment)
        self.rows.append(row)
        self.new_segment.append(new_segment)


def read_gpx(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, start_utc: datetime | None = None
) -> list[Activity]:
    """Parse GPX bytes into a one-element list of `Activity`.

    Raises NotAnActivity for routes, waypoint-only or metadata-only files and tracks without timestamps;
    CorruptFile for malformed XML or implausible dates; LimitExceeded past `limits.max_points` points or
    `limits.max_seconds` of parsing. `start_utc` (the runner's `import --start`) dates a track without
    times or with dates the date rule refuses; a track with plausible dates keeps them.
    """
    data = xmlsafe.prepare(data, "gpx", "GPX")
    points = _Points()
    route_points = 0
    segment_started = True
    creator: str | None = None
    names: dict[str, str | None] = {}
    side_tracks: dict[int, list[tuple[str, float]]] = {}
    for event, element in xmlsafe.iter_events(data, _TAGS, max_seconds=limits.max_seconds):
        name = xmlsafe.local_name(element.tag)
        if event == "start":
            if name in ("trkseg", "trk"):
                segment_started = True
            if name == "trkseg":
                # The track's name and type precede its segments: read them now, before any pruning.
                _read_names(element.getparent(), "trk", ("name", "type", "desc"), names)
            elif name == "gpx" and creator is None:
                creator = element.get("creator")
            continue
        if name == "trkpt":
            if len(points.time) >= limits.max_points:
                raise LimitExceeded(f"more than {limits.max_points} track points")
            points.add(element, segment_started)
            segment_started = False
            xmlsafe.release(element)
        elif name == "rtept":
            route_points += 1
            if route_points > limits.max_points:
                raise LimitExceeded(f"more than {limits.max_points} route points")
            xmlsafe.release(element)
        elif name == "trk":
            _read_names(element, "trk", ("name", "type", "desc"), names)
            _read_side_tracks(element, side_tracks)
            element.clear(keep_tail=False)
        elif name == "metadata" or name == "gpx":
            # GPX 1.1 keeps name/desc in <metadata>, GPX 1.0 directly under <gpx>.
            _read_names(element, "file", ("name", "desc"), names)
            if name == "gpx":
                _read_side_tracks(element, side_tracks)
        elif name == "trkseg":
            element.clear(keep_tail=False)
    if not points.time:
        if route_points:
            raise NotAnActivity("route, not a recorded activity (no track points)")
        raise NotAnActivity("no track points")
    return [_build_activity(points, names, creator, side_tracks, start_utc)]


# SpoQ/SportTracks side tracks: (track element, sample element, value attributes) by local name -> column.
_SIDE_TRACKS = {
    ("heartratetrack", "heartrate"): (("bpm", "value"), _HR),
    ("cadencetrack", "cadence"): (("rpm", "cadence", "value"), _CAD),
}


def _read_side_tracks(element: etree._Element, found: dict[int, list[tuple[str, float]]]) -> None:
    """Collect time series kept apart from the track points (SpoQ `heartRateTrack`) under `element`."""
    for track_element in element.iter("{*}heartRateTrack", "{*}cadenceTrack", "{*}heartratetrack"):
        track_name = xmlsafe.local_name(track_element.tag).lower()
        for sample in track_element:
            if not isinstance(sample.tag, str):
                continue
            spec = _SIDE_TRACKS.get((track_name, xmlsafe.local_name(sample.tag).lower()))
            moment = sample.get("time")
            if spec is None or not moment:
                continue
            attributes, column = spec
            for attribute in attributes:
                value = _number(sample.get(attribute))
                if value == value:
                    found.setdefault(column, []).append((moment.strip(), value))
                    break


def _fill_from_side_track(
    column: np.ndarray, seconds: np.ndarray, samples: list[tuple[str, float]] | None, shift_s: float = 0.0
) -> np.ndarray:
    """Points without a value take the latest side-track sample at or before their time (within 30 s);
    `shift_s` moves the samples' times with the track's (a track dated by the runner)."""
    if not samples:
        return column
    times, _ = track.parse_times([moment for moment, _ in samples])
    times = times + shift_s
    values = np.array([value for _, value in samples], dtype=np.float64)
    ok = np.isfinite(times)
    times, values = times[ok], values[ok]
    if not len(times):
        return column
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    index = np.searchsorted(times, seconds, side="right") - 1
    usable = (index >= 0) & np.isnan(column)
    usable[usable] &= seconds[usable] - times[index[usable]] <= track.MOVING_MAX_GAP_S
    filled = column.copy()
    filled[usable] = values[index[usable]]
    return filled


def _read_names(
    element: etree._Element | None, prefix: str, fields: tuple[str, ...], names: dict[str, str | None]
) -> None:
    """Keep the first non-empty text of each child field (e.g. 'trk_name') not already known."""
    if element is None:
        return
    for field in fields:
        if names.get(f"{prefix}_{field}") is None:
            names[f"{prefix}_{field}"] = xmlsafe.child_text(element, field)


def _build_activity(
    points: _Points,
    names: dict[str, str | None],
    creator: str | None,
    side_tracks: dict[int, list[tuple[str, float]]] | None = None,
    start_utc: datetime | None = None,
) -> Activity:
    seconds, utc_offset_s = track.parse_times(points.time)
    timed = np.isfinite(seconds)
    if not timed.any():
        if start_utc is not None:  # the runner says it was run, and when
            return _undated_activity(points, names, creator, start_utc)
        # A track without times is a drawn or planned route: it says nothing about training load.
        raise NotAnActivity(
            f"track points have no timestamps: a planned route, not a recorded activity (if you ran it, "
            f"{GIVE_START_HINT})"
        )
    segment = np.cumsum(points.new_segment) - 1
    timed_per_segment = np.bincount(segment, weights=timed, minlength=segment[-1] + 1)
    points_per_segment = np.bincount(segment, minlength=segment[-1] + 1)
    untimed_in_timed = (points_per_segment - timed_per_segment)[timed_per_segment > 0].sum()
    # A segment without any time is a drawn route saved next to the recording (gpxpy's korita sample):
    # dropped whole. Inside a recorded segment a few points without time are dropped; many mean the
    # times were stripped and what is left would misstate the activity.
    if untimed_in_timed > MAX_UNTIMED_SHARE * timed_per_segment.sum():
        raise CorruptFile(f"only {int(timed.sum())} of {len(timed)} track points have a timestamp")
    if timed.sum() < 2:
        raise NotAnActivity("only one timed track point: nothing was recorded")
    lat = np.asarray(points.lat)[timed]
    lon = np.asarray(points.lon)[timed]
    rows = np.asarray(points.rows, dtype=np.float64).reshape(-1, 5)[timed]
    ele, hr, cad, power, speed = (rows[:, i].copy() for i in (_ELE, _HR, _CAD, _POWER, _SPEED))
    kept_segment = segment[timed]
    new_segment = np.concatenate(([True], np.diff(kept_segment) != 0))
    seconds = seconds[timed]
    order = track.in_time_order(seconds)
    if order is not None:
        seconds, lat, lon, ele, hr, cad, power, speed, kept_segment = (
            column[order] for column in (seconds, lat, lon, ele, hr, cad, power, speed, kept_segment)
        )
        new_segment = np.concatenate(([True], np.diff(kept_segment) != 0))
    shift_s = track.shift_to_given_start(float(seconds[0]), float(seconds[-1]), start_utc)
    if shift_s is not None and start_utc is not None:
        if seconds[-1] == seconds[0]:  # every point at one bogus instant (gpxpy's Mojstrovka): no durations
            return _undated_activity(points, names, creator, start_utc)
        seconds = seconds + shift_s  # the points keep their spacing; the first is at the given start
        utc_offset_s = given_offset_s(start_utc)
    track.check_plausible_times(float(seconds[0]), float(seconds[-1]), start_given=start_utc is not None)
    if side_tracks:
        hr = _fill_from_side_track(hr, seconds, side_tracks.get(_HR), shift_s or 0.0)
        cad = _fill_from_side_track(cad, seconds, side_tracks.get(_CAD), shift_s or 0.0)

    # No <type> means run: StrideGuard is a runners' log, and GPX from running apps and watches often
    # carries no type at all. A named type that is not foot-based (ride, swim, ...) maps to "other".
    sport = sport_from_name(names.get("trk_type"), default="run")
    if is_foot_sport(sport):
        # Garmin and Strava write running cadence per foot (one leg's strides per minute); steps = 2x, unless
        # this file's values are steps per minute already (cadence.py).
        cad = cad * steps_factor(cad, sport)

    steps = track.haversine_steps_m(lat, lon)
    breaks = new_segment[1:].copy()
    steps_counted = np.where(breaks, 0.0, steps)
    has_position = bool(np.isfinite(lat).any())
    distance_stream = (
        np.concatenate(([0.0], np.cumsum(np.nan_to_num(steps_counted, nan=0.0)))) if has_position else None
    )
    distance_m = float(distance_stream[-1]) if distance_stream is not None else None
    climb = track.climb_m(ele)
    time_s = seconds - seconds[0]
    streams = Streams(
        time_s=time_s,
        lat_deg=lat if has_position else None,
        lon_deg=lon if has_position else None,
        altitude_m=ele if np.isfinite(ele).any() else None,
        distance_m=distance_stream,
        speed_m_s=speed if np.isfinite(speed).any() else None,
        heart_rate_bpm=hr if np.isfinite(hr).any() else None,
        cadence_spm=cad if np.isfinite(cad).any() else None,
        power_w=power if np.isfinite(power).any() else None,
    )
    return Activity(
        sport=sport,
        start_utc=track.utc_datetime(float(seconds[0])),
        source_format="gpx",
        utc_offset_s=utc_offset_s,
        distance_m=distance_m,
        moving_time_s=track.moving_time_s(time_s, steps, breaks) if has_position else None,
        elapsed_time_s=float(time_s[-1]),
        ascent_m=climb[0] if climb else None,
        descent_m=climb[1] if climb else None,
        avg_heart_rate_bpm=track.time_weighted_mean(hr, time_s),
        max_heart_rate_bpm=track.finite_max(hr),
        # Cadence 0 is standing still or no sensor: averaged over samples with a cadence, like watches do.
        avg_cadence_spm=track.time_weighted_mean(cad, time_s),
        streams=streams,
        name=names.get("trk_name") or names.get("file_name"),
        description=names.get("trk_desc") or names.get("file_desc"),
        device=creator,
        extra={
            "declared_sport": names.get("trk_type") or None,  # sport_check: None means guessed
            **({"start_given": track.START_GIVEN_BAD_DATES} if shift_s is not None else {}),
        },
    )


def _undated_activity(
    points: _Points, names: dict[str, str | None], creator: str | None, start_utc: datetime
) -> Activity:
    """A track without any time, dated by the runner: where and how far, at the given start; no durations
    (nothing says how long it took), so no streams either."""
    lat, lon = np.asarray(points.lat), np.asarray(points.lon)
    if np.isfinite(lat).sum() < 2:
        raise NotAnActivity("track points have no timestamps and no positions: nothing was recorded")
    track.check_plausible_times(start_utc.timestamp(), start_utc.timestamp(), start_given=True)
    steps = track.haversine_steps_m(lat, lon)
    steps = np.where(np.asarray(points.new_segment[1:]), 0.0, steps)  # no distance across segment breaks
    ele = np.asarray(points.rows, dtype=np.float64).reshape(-1, 5)[:, _ELE]
    climb = track.climb_m(ele)
    return Activity(
        sport=sport_from_name(names.get("trk_type"), default="run"),
        start_utc=start_utc,
        source_format="gpx",
        utc_offset_s=given_offset_s(start_utc),
        distance_m=float(np.nansum(steps)),
        ascent_m=climb[0] if climb else None,
        descent_m=climb[1] if climb else None,
        name=names.get("trk_name") or names.get("file_name"),
        description=names.get("trk_desc") or names.get("file_desc"),
        device=creator,
        extra={"declared_sport": names.get("trk_type") or None, "start_given": track.START_GIVEN_NO_TIMES},
    )
