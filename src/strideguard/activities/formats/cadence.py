"""Running cadence units: per foot (strides per minute) or per step, decided once per file.

FIT defines running cadence per foot (rpm), and Garmin writes TCX `RunCadence`, TCX `<Cadence>` for
runs and GPX `cad` the same way, so StrideGuard doubles them to steps per minute. Some devices and apps
(treadmill foot pods, Suunto and phone apps through TCX/GPX, Connect IQ fields) write steps per minute
already; doubling those gives 350 spm. Per-foot values above these limits are impossible (a 115 rpm stride
rate is 230 steps per minute, beyond sprinters; race walkers reach about 80 rpm), so a file whose typical
value is above them is read as steps per minute and never doubled.
"""

from __future__ import annotations

import numpy as np

# Largest plausible typical cadence per foot (rpm) by sport; a file's median above it is already in steps/min.
_MAX_PER_FOOT_RPM = {"run": 115.0, "trail_run": 115.0, "treadmill": 115.0, "walk": 80.0, "hike": 80.0}
# Samples below this are standing still or a sensor warming up, not a cadence.
_MIN_MOVING_RPM = 20.0


def steps_factor(
    values: np.ndarray | list[float] | None, sport: str, *, summary: float | None = None
) -> float:
    """2.0 when this foot sport's cadence values count one foot, 1.0 when they are steps per minute already
    (or the sport is not on foot: bike cadence stays rpm).

    `values` are the file's cadence samples as written; `summary` a lap/session average, used when the file
    has no samples.
    """
    limit = _MAX_PER_FOOT_RPM.get(sport)
    if limit is None:
        return 1.0
    typical = None
    if values is not None:
        samples = np.asarray(values, dtype=np.float64)
        samples = samples[np.isfinite(samples) & (samples >= _MIN_MOVING_RPM)]
        if len(samples):
            typical = float(np.median(samples))
    if typical is None and summary is not None and np.isfinite(summary) and summary >= _MIN_MOVING_RPM:
        typical = float(summary)
    if typical is not None and typical > limit:
        return 1.0
    return 2.0
