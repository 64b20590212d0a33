"""A realistic synthetic runner: a year of training written as real FIT and GPX files by the project's own
writers, then imported through the real importer. Used by `strideguard demo` and the benchmarks.

Everything is deterministic for a given seed and end date, so the demo and the tests see the same athlete.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from strideguard.model import Activity, Lap, Streams

HOME_LAT, HOME_LON = 52.3550, 4.8880  # a park loop; the demo is offline, no map tiles needed
EARTH_RADIUS_M = 6_371_000.0


def _zone() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One session of the plan: when, how far, what kind."""

    day: date
    kind: str  # easy | long | tempo | intervals | recovery | treadmill | race
    distance_m: float
    start: time


def weekly_targets_km(weeks: int, rng: np.random.Generator) -> list[float]:
    """A year of weekly volume: base building with recovery weeks, a break, a race build and taper."""
    targets: list[float] = []
    volume = 18.0
    for week in range(weeks):
        if 17 <= week <= 19:  # a three-week break (holiday, a cold): the runner returns after it
            targets.append(0.0)
            volume = 20.0
            continue
        if week % 4 == 3:  # recovery week
            targets.append(volume * 0.72)
            continue
        if week == 44:  # race week (a half marathon), then two easy weeks, then building again
            volume = 0.6 * volume
        elif week in (45, 46):
            volume = max(22.0, 0.8 * volume)
        else:
            volume = min(52.0, volume * 1.07)
        targets.append(volume * float(rng.uniform(0.93, 1.05)))
    return targets


def plan(end: date, weeks: int = 52, seed: int = 7) -> list[PlannedRun]:
    """The sessions of `weeks` weeks ending with the week of `end` (no session after `end`)."""
    rng = np.random.default_rng(seed)
    first_monday = end - timedelta(days=end.weekday()) - timedelta(weeks=weeks - 1)
    runs: list[PlannedRun] = []
    for week, target_km in enumerate(weekly_targets_km(weeks, rng)):
        if target_km <= 0:
            continue
        monday = first_monday + timedelta(weeks=week)
        n_runs = 3 if target_km < 25 else 4 if target_km < 40 else 5
        days = {3: [1, 3, 6], 4: [1, 3, 4, 6], 5: [0, 1, 3, 4, 6]}[n_runs]
        long_km = target_km * (0.34 if n_runs == 3 else 0.30)
        quality_km = target_km * 0.2
        rest_km = (target_km - long_km - quality_km) / max(1, n_runs - 2)
        for weekday in days:
            day = monday + timedelta(days=weekday)
            if day > end:
                continue
            if weekday == 6 and week == 44:
                kind, km = "race", 21.1  # the half marathon the year builds to
                start = time(10, 0)
            elif weekday == 6:
                kind, km = "long", long_km
                start = time(9, int(rng.integers(0, 30)))
            elif weekday == 1:
                kind, km = ("intervals" if week % 2 else "tempo"), quality_km
                start = time(18, int(rng.integers(0, 45)))
            else:
                winter = day.month in (12, 1, 2)
                kind = "treadmill" if winter and rng.random() < 0.35 else "easy"
                km = rest_km
                start = time(6, 30 + int(rng.integers(0, 29)))
            if kind != "race":
                km = max(3.0, km * float(rng.uniform(0.95, 1.05)))
            runs.append(PlannedRun(day, kind, round(km * 1000, -1), start))
    return runs


def _pace_s_per_km(kind: str, fitness: float) -> float:
    base = {
        "easy": 355.0,
        "recovery": 380.0,
        "race": 290.0,
        "long": 365.0,
        "tempo": 300.0,
        "intervals": 330.0,
        "treadmill": 345.0,
    }[kind]
    return base * fitness


def simulate(run: PlannedRun, index: int, seed: int = 7, fitness: float = 1.0) -> Activity:
    """1 Hz streams for one planned run: speed, a closed loop route, terrain altitude, HR and cadence."""
    rng = np.random.default_rng(seed * 100_003 + index)
    mean_speed = 1000.0 / _pace_s_per_km(run.kind, fitness)
    n = int(run.distance_m / mean_speed)
    t = np.arange(n, dtype=np.float64)
    # Speed: slow start, AR(1) wobble, interval blocks for quality days.
    wobble = np.zeros(n)
    noise = rng.normal(0, 0.05, n)
    for i in range(1, n):
        wobble[i] = 0.97 * wobble[i - 1] + noise[i]
    speed = mean_speed * (1 + 0.04 * wobble) * np.minimum(1.0, 0.75 + t / 240.0)
    if run.kind == "intervals":
        block = ((t - 900) % 360 < 180) & (t > 900) & (t < n - 600)
        speed = np.where(block, speed * 1.22, speed * 0.9)
    speed = np.clip(speed, 1.2, 7.0)
    distance = np.cumsum(speed)
    speed *= run.distance_m / distance[-1]  # land exactly on the planned distance
    distance = np.cumsum(speed)
    indoor = run.kind == "treadmill"
    lat = lon = None
    altitude = None
    if not indoor:
        # A loop: heading turns steadily through 360 degrees over the run, with random meanders.
        turn = 2 * math.pi * distance / distance[-1]
        meander = np.cumsum(rng.normal(0, 0.02, n))
        meander -= np.linspace(0, meander[-1], n)
        heading = turn + meander + rng.uniform(0, 2 * math.pi)
        east = np.cumsum(speed * np.cos(heading))
        north = np.cumsum(speed * np.sin(heading))
        east -= np.linspace(0, east[-1], n)  # close the loop back home
        north -= np.linspace(0, north[-1], n)
        lat = HOME_LAT + np.degrees(north / EARTH_RADIUS_M)
        lon = HOME_LON + np.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(HOME_LAT))))
        altitude = 4.0 + 9.0 * np.sin(east / 700.0) + 6.0 * np.cos(north / 450.0)
    easy_speed = 1000.0 / (_pace_s_per_km("easy", fitness))
    target_hr = 80 + 62 * speed / easy_speed + 0.003 * t  # harder running, higher HR; plus cardiac drift
    heart_rate = np.empty(n)
    heart_rate[0] = 92
    alpha = 1 - math.exp(-1 / 30.0)  # HR follows effort with a ~30 s lag
    for i in range(1, n):
        heart_rate[i] = heart_rate[i - 1] + alpha * (target_hr[i] - heart_rate[i - 1])
    heart_rate = np.round(np.clip(heart_rate + rng.normal(0, 1.0, n), 60, 200))
    cadence = np.round((150 + 7.5 * speed + rng.normal(0, 1.5, n)) * 2) / 2
    zone = _zone()
    local = datetime.combine(run.day, run.start, tzinfo=zone or UTC)
    offset = local.utcoffset() or timedelta()
    start_utc = local.astimezone(UTC)
    streams = Streams(
        time_s=t,
        lat_deg=lat,
        lon_deg=lon,
        altitude_m=altitude,
        distance_m=distance,
        speed_m_s=speed,
        heart_rate_bpm=heart_rate,
        cadence_spm=cadence,
    )
    laps = tuple(_auto_laps(start_utc, streams))
    ascent = descent = None
    if altitude is not None:
        steps = np.diff(altitude)
        ascent, descent = float(steps[steps > 0].sum()), float(-steps[steps < 0].sum())
    sport = "treadmill" if indoor else "run"
    return Activity(
        sport=sport,
        start_utc=start_utc,
        utc_offset_s=int(offset.total_seconds()),
        source_format="fit",
        distance_m=float(distance[-1]),
        moving_time_s=float(n),
        elapsed_time_s=float(n),
        ascent_m=ascent,
        descent_m=descent,
        avg_heart_rate_bpm=float(heart_rate.mean()),
        max_heart_rate_bpm=float(heart_rate.max()),
        avg_cadence_spm=float(cadence.mean()),
        laps=laps,
        streams=streams,
        name="Half marathon" if run.kind == "race" else f"{run.kind.capitalize()} run",
        device="StrideGuard demo watch",
    )


def _auto_laps(start_utc: datetime, streams: Streams) -> Iterator[Lap]:
    """1 km auto-laps, as a watch records them."""
    distance = streams.distance_m
    assert distance is not None
    marks = np.searchsorted(distance, np.arange(1000.0, distance[-1], 1000.0))
    bounds = [0, *marks.tolist(), len(distance) - 1]
    for a, b in pairwise(bounds):
        if b <= a:
            continue
        hr = streams.heart_rate_bpm[a : b + 1] if streams.heart_rate_bpm is not None else None
        yield Lap(
            start_utc=start_utc + timedelta(seconds=float(streams.time_s[a])),
            elapsed_time_s=float(streams.time_s[b] - streams.time_s[a]),
            moving_time_s=float(streams.time_s[b] - streams.time_s[a]),
            distance_m=float(distance[b] - (distance[a] if a else 0.0)),
            avg_heart_rate_bpm=float(hr.mean()) if hr is not None else None,
            max_heart_rate_bpm=float(hr.max()) if hr is not None else None,
        )


def athlete_activities(end: date, weeks: int = 52, seed: int = 7) -> Iterator[Activity]:
    """The demo athlete's runs, oldest first, with fitness improving over the year."""
    sessions = plan(end, weeks, seed)
    for index, run in enumerate(sessions):
        fitness = 1.0 - 0.06 * index / max(1, len(sessions) - 1)
        yield simulate(run, index, seed, fitness)


def file_name(activity: Activity, index: int) -> str:
    """Mostly watch FIT files (some gzipped, as in a Strava export), every sixth outdoor run a phone GPX."""
    stamp = activity.start_utc.strftime("%Y-%m-%d-%H%M")
    if activity.streams is not None and activity.streams.lat_deg is not None and index % 6 == 5:
        return f"{stamp}-phone.gpx"
    return f"{stamp}-watch.fit" + (".gz" if index % 4 == 3 else "")


def encode(activity: Activity, name: str) -> bytes:
    """The file bytes for `name`'s format, written by the project's own FIT and GPX writers."""
    import gzip

    from strideguard.activities.fit_writer import encode_activity
    from strideguard.activities.gpx_writer import encode_gpx

    data = encode_gpx(activity) if ".gpx" in name else encode_activity(activity)
    return gzip.compress(data, 6, mtime=0) if name.endswith(".gz") else data


def write_files(
    folder: Path,
    end: date,
    weeks: int = 52,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write the demo athlete's runs into `folder` as FIT/GPX files; return their paths, oldest first."""
    folder.mkdir(parents=True, exist_ok=True)
    sessions = plan(end, weeks, seed)
    paths: list[Path] = []
    for index, activity in enumerate(athlete_activities(end, weeks, seed)):
        path = folder / file_name(activity, index)
        path.write_bytes(encode(activity, path.name))
        paths.append(path)
        if progress is not None:
            progress(index + 1, len(sessions))
    return paths
