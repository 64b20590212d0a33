"""Draw a route from GPS positions as an SVG path, without map tiles. Pure: arrays in, path text out.

Positions are projected equirectangularly around the route's mean latitude (metres east/north), which is
accurate to well under 1 % over a run's few kilometres, then scaled to fit the drawing keeping the aspect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class RouteDrawing:
    """An SVG path `d` in a `width` x `height` box, the start and end points, and the route's extent."""

    d: str
    width: float
    height: float
    start: tuple[float, float]
    end: tuple[float, float]
    span_m: float  # the larger of the east-west and north-south extents, in metres


def route_drawing(
    lat_deg: np.ndarray | None,
    lon_deg: np.ndarray | None,
    width: float = 400.0,
    height: float = 300.0,
    max_points: int = 800,
    pad: float = 10.0,
) -> RouteDrawing | None:
    """The route as a path, gaps (missing fixes) left as breaks; None when there are fewer than 2 fixes."""
    if lat_deg is None or lon_deg is None:
        return None
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if int(valid.sum()) < 2:
        return None
    step = max(1, math.ceil(len(lat) / max_points))
    index = np.arange(0, len(lat), step)
    if index[-1] != len(lat) - 1:
        index = np.append(index, len(lat) - 1)
    lat, lon, valid = lat[index], lon[index], valid[index]
    mean_lat = math.radians(float(np.mean(lat[valid])))
    east = np.radians(lon) * EARTH_RADIUS_M * math.cos(mean_lat)
    north = np.radians(lat) * EARTH_RADIUS_M
    e0, e1 = float(np.min(east[valid])), float(np.max(east[valid]))
    n0, n1 = float(np.min(north[valid])), float(np.max(north[valid]))
    span = max(e1 - e0, n1 - n0, 1.0)
    scale = min((width - 2 * pad) / max(e1 - e0, 1e-9), (height - 2 * pad) / max(n1 - n0, 1e-9))
    scale = min(scale, (min(width, height) - 2 * pad) / 1.0)  # a near-stationary track stays small
    x = pad + (east - e0) * scale + ((width - 2 * pad) - (e1 - e0) * scale) / 2
    y = height - pad - (north - n0) * scale - ((height - 2 * pad) - (n1 - n0) * scale) / 2
    parts: list[str] = []
    pen_down = False
    for xi, yi, ok in zip(x.tolist(), y.tolist(), valid.tolist(), strict=True):
        if not ok:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{xi:.1f} {yi:.1f}")
        pen_down = True
    first = int(np.argmax(valid))
    last = len(valid) - 1 - int(np.argmax(valid[::-1]))
    return RouteDrawing(
        d=" ".join(parts),
        width=width,
        height=height,
        start=(round(float(x[first]), 1), round(float(y[first]), 1)),
        end=(round(float(x[last]), 1), round(float(y[last]), 1)),
        span_m=span,
    )
