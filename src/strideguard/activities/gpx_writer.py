"""Write an `Activity` as GPX 1.1 the way Garmin Connect and Strava export runs.

One `<trk>` with a name and a type, one `<trkseg>`, and per sample a `<trkpt lat lon>` with `<ele>`,
`<time>` (UTC, 'Z') and a Garmin TrackPointExtension (`gpxtpx:hr`, `gpxtpx:cad`). Cadence is written per
foot (half the steps per minute), as Garmin and Strava do, so StrideGuard's reader doubles it back.
Samples without a position are left out: GPX requires lat/lon on every track point.
"""

from __future__ import annotations

import re
from datetime import UTC
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from strideguard.model import Activity

GPX_NS = "http://www.topografix.com/GPX/1/1"
TPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
# Garmin Connect's <type> names; formats.sports maps each back to the same sport.
GPX_TYPE_NAMES = {
    "run": "running",
    "trail_run": "trail_running",
    "treadmill": "treadmill_running",
    "walk": "walking",
    "hike": "hiking",
    "other": "other",
}
# Characters XML 1.0 cannot hold at all (C0 controls except tab, newline, carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    """Escaped element text with characters XML cannot carry removed."""
    return escape(_NOT_XML.sub("", value))


def _iso_times(start_s: float, time_s: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings, with milliseconds only when some sample needs them."""
    micros = np.round((start_s + time_s) * 1e6).astype("int64")
    stamps = micros.astype("datetime64[us]")
    unit = "s" if np.all(micros % 1_000_000 == 0) else "ms"
    return [f"{text}Z" for text in np.datetime_as_string(stamps, unit=unit).tolist()]


def encode_gpx(activity: Activity, creator: str = "StrideGuard") -> bytes:
    """GPX 1.1 bytes (UTF-8) for `activity`; ValueError when it has no positioned samples."""
    streams = activity.streams
    if streams is None or streams.lat_deg is None or streams.lon_deg is None:
        raise ValueError("activity has no GPS positions to write as GPX")
    keep = np.isfinite(streams.lat_deg) & np.isfinite(streams.lon_deg)
    if not keep.any():
        raise ValueError("activity has no GPS positions to write as GPX")
    start_s = activity.start_utc.astimezone(UTC).timestamp()
    times = _iso_times(start_s, streams.time_s[keep])
    lat = streams.lat_deg[keep].tolist()
    lon = streams.lon_deg[keep].tolist()
    n = len(lat)
    none = [None] * n

    def column(values: np.ndarray | None, scale: float = 1.0) -> list[float | None]:
        if values is None:
            return none
        picked = values[keep] * scale
        return [None if not np.isfinite(v) else v for v in picked.tolist()]

    ele = column(streams.altitude_m)
    hr = column(streams.heart_rate_bpm)
    cad = column(streams.cadence_spm, 0.5)

    creator_attr = quoteattr(_NOT_XML.sub("", creator))
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<gpx creator={creator_attr} version="1.1" xmlns="{GPX_NS}" xmlns:gpxtpx="{TPX_NS}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd'
        f' {TPX_NS} http://www.garmin.com/xmlschemas/TrackPointExtensionv1.xsd">\n',
        f" <metadata>\n  <time>{times[0]}</time>\n </metadata>\n",
        " <trk>\n",
    ]
    if activity.name:
        out.append(f"  <name>{_text(activity.name)}</name>\n")
    if activity.description:
        out.append(f"  <desc>{_text(activity.description)}</desc>\n")
    out.append(f"  <type>{GPX_TYPE_NAMES[activity.sport]}</type>\n  <trkseg>\n")
    for i in range(n):
        parts = [f'   <trkpt lat="{lat[i]:.7f}" lon="{lon[i]:.7f}">']
        if ele[i] is not None:
            parts.append(f"<ele>{ele[i]:.1f}</ele>")
        parts.append(f"<time>{times[i]}</time>")
        if hr[i] is not None or cad[i] is not None:
            parts.append("<extensions><gpxtpx:TrackPointExtension>")
            if hr[i] is not None:
                parts.append(f"<gpxtpx:hr>{round(hr[i])}</gpxtpx:hr>")
            if cad[i] is not None:
                parts.append(f"<gpxtpx:cad>{round(cad[i])}</gpxtpx:cad>")
            parts.append("</gpxtpx:TrackPointExtension></extensions>")
        parts.append("</trkpt>\n")
        out.append("".join(parts))
    out.append("  </trkseg>\n </trk>\n</gpx>\n")
    return "".join(out).encode("utf-8")
