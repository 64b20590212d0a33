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


@dataclass(slots=True)
class FitMessages:
    """Messages of one FIT file (all chained parts, in file order).

    Message dicts map FIT profile field names (as fitdecode names them, e.g. 'total_distance', 'start_time',
    'sport', 'sub_sport', 'avg_heart_rate') to values in profile units: scale and offset applied, invalid
    values dropped (key absent), timestamps as aware UTC datetimes, enums as profile strings ('running').
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
