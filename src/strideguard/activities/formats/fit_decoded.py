"""The FIT messages StrideGuard keeps, decoded to physical units: the one shape that both FIT decoders
(the fast NumPy decoder in fit_fast.py and the fitdecode fallback in fit.py) produce and fit.py consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Record columns, all float64 and the same length; NaN where the device wrote the invalid value or no field.
RECORD_COLUMNS = (
    "timestamp",  # seconds since the Unix epoch, UTC
    "position_lat",  # degrees (from semicircles)
    "position_long",  # degrees
    "distance",  # m
    "speed",  # m/s (enhanced_speed preferred when present)
    "altitude",  # m (enhanced_altitude preferred when present)
    "heart_rate",  # bpm
    "cadence",  # as recorded: rpm, i.e. one foot for running
    "fractional_cadence",  # rpm fraction
    "power",  # W (record power, else a developer field named like power)
)

# A message's date_time field holding a device-relative time (seconds since power-on, no date) is kept under
# its name plus this suffix ('start_time_device_s'), on the records' time base (FIT epoch + raw seconds, as
# a float), so that `import --start` can shift laps the same way as the records.
DEVICE_TIME_SUFFIX = "_device_s"


@dataclass(slots=True)
class FitMessages:
    """Messages of one FIT file (all chained parts, in file order).

    Message dicts map FIT profile field names (as fitdecode names them, e.g. 'total_distance', 'start_time',
    'sport', 'sub_sport', 'avg_heart_rate') to values in profile units: scale and offset applied, invalid
    values dropped (key absent), timestamps as aware UTC datetimes (device-relative ones under the name +
    DEVICE_TIME_SUFFIX), enums as profile strings ('running').
    """

    file_types: list[str] = field(default_factory=list)  # file_id.type per chained part: 'activity', ...
    file_ids: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    sports: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)  # 'activity' message (local_timestamp)
    device_infos: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, np.ndarray] = field(default_factory=dict)  # RECORD_COLUMNS
    damaged: str | None = None  # why decoding stopped early / CRC failed, if it did

    @property
    def n_records(self) -> int:
        column = self.records.get("timestamp")
        return 0 if column is None else len(column)


# Connect IQ apps declare, in a developer field's description, the native record field it stands for
# (native_field_num). Such a field fills the native column where the device wrote none (see
# `merge_developer_columns`). Native record field number -> column.
DEV_NATIVE_RECORD_COLUMNS = {
    2: "altitude",
    3: "heart_rate",
    4: "cadence",
    5: "distance",
    6: "speed",
    7: "power",
    73: "speed",  # enhanced_speed
    78: "altitude",  # enhanced_altitude
}
# Units Connect IQ apps write -> divisor to the native unit (m, m/s); the profile's own units need none.
_UNIT_DIVISORS = {
    "km/h": 3.6,
    "kph": 3.6,
    "kmh": 3.6,
    "mph": 1 / 0.44704,
    "km": 0.001,
    "mi": 1 / 1609.344,
    "miles": 1 / 1609.344,
    "ft": 1 / 0.3048,
    "feet": 1 / 0.3048,
    "cm": 100.0,
    "mm/s": 1000.0,
}


def developer_unit_divisor(units: object) -> float | None:
    """What to divide a developer field's values by to get the native unit; None when already native."""
    if not isinstance(units, str):
        return None
    return _UNIT_DIVISORS.get(units.strip().lower())


def merge_developer_columns(columns: dict[str, np.ndarray], developer: dict[str, np.ndarray]) -> None:
    """Fill native record columns from developer fields that declare them (in place).

    A developer value fills a sample the device left empty; when the device wrote only zeros or nothing in
    the whole file (a rowing app's distance next to a watch that measured none), the developer column is
    taken whole. A native column with real values always wins.
    """
    for name, values in developer.items():
        if name not in columns or not np.any(~np.isnan(values)):
            continue
        native = columns[name]
        if not np.any(native[~np.isnan(native)] != 0) and np.any(values[~np.isnan(values)] != 0):
            np.copyto(native, values, where=~np.isnan(values))
        else:
            np.copyto(native, values, where=np.isnan(native))
