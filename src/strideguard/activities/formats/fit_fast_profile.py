"""The FIT profile subset the fast decoder needs: base types and the messages StrideGuard keeps.

Field numbers, names, types, scales, offsets, components, subfields and enum names come from fitdecode's
MIT-licensed profile module (`fitdecode.profile`, generated from Garmin's profile spreadsheet) at import time,
so both decoders read the same profile. Base-type sizes and invalid values are those of the FIT protocol
(FIT SDK "Base Types" table, also spelled out in `fitdecode.types.BASE_TYPES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fitdecode import profile as _profile


@dataclass(frozen=True, slots=True)
class BaseType:
    """One FIT base type: its size in bytes, struct/NumPy type letter and the value meaning "invalid"."""

    name: str
    size: int
    fmt: str  # struct format letter ('s' = string, 'B' for byte arrays)
    invalid: int | None  # None: NaN is invalid (floats) or handled by kind (string, byte)
    kind: str  # 'int', 'float', 'string' or 'byte'


# Keyed by the full base-type byte of a field definition (endian bit included), as fitdecode keys them; a byte
# missing here is decoded by fitdecode as 'byte' (a tuple of ints).
BASE_TYPES: dict[int, BaseType] = {
    0x00: BaseType("enum", 1, "B", 0xFF, "int"),
    0x01: BaseType("sint8", 1, "b", 0x7F, "int"),
    0x02: BaseType("uint8", 1, "B", 0xFF, "int"),
    0x83: BaseType("sint16", 2, "h", 0x7FFF, "int"),
    0x84: BaseType("uint16", 2, "H", 0xFFFF, "int"),
    0x85: BaseType("sint32", 4, "i", 0x7FFFFFFF, "int"),
    0x86: BaseType("uint32", 4, "I", 0xFFFFFFFF, "int"),
    0x07: BaseType("string", 1, "s", None, "string"),
    0x88: BaseType("float32", 4, "f", None, "float"),
    0x89: BaseType("float64", 8, "d", None, "float"),
    0x0A: BaseType("uint8z", 1, "B", 0, "int"),
    0x8B: BaseType("uint16z", 2, "H", 0, "int"),
    0x8C: BaseType("uint32z", 4, "I", 0, "int"),
    0x0D: BaseType("byte", 1, "B", None, "byte"),
    0x8E: BaseType("sint64", 8, "q", 0x7FFFFFFFFFFFFFFF, "int"),
    0x8F: BaseType("uint64", 8, "Q", 0xFFFFFFFFFFFFFFFF, "int"),
    0x90: BaseType("uint64z", 8, "Q", 0, "int"),
}
BYTE_ID = 0x0D
BYTE = BASE_TYPES[BYTE_ID]

# Global message numbers.
MESG_FILE_ID = 0
MESG_SPORT = 12
MESG_SESSION = 18
MESG_LAP = 19
MESG_RECORD = 20
MESG_EVENT = 21
MESG_DEVICE_INFO = 23
MESG_ACTIVITY = 34
MESG_FIELD_DESCRIPTION = 206
MESG_DEVELOPER_DATA_ID = 207

# Messages decoded to dicts, and the FitMessages list each one goes to.
DICT_MESSAGES: dict[int, str] = {
    MESG_FILE_ID: "file_ids",
    MESG_SPORT: "sports",
    MESG_SESSION: "sessions",
    MESG_LAP: "laps",
    MESG_EVENT: "events",
    MESG_DEVICE_INFO: "device_infos",
    MESG_ACTIVITY: "activities",
}

FIELD_TIMESTAMP = 253
FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z as Unix seconds
FIT_MIN_ABSOLUTE_TIME = 0x10000000  # smaller date_time values are seconds since device power-up

# Record fields read into columns (field number -> column), and the fields whose components expand into
# 'enhanced_speed' / 'enhanced_altitude' (16-bit speed and altitude).
RECORD_FIELD_COLUMNS: dict[int, str] = {
    253: "timestamp",
    0: "position_lat",
    1: "position_long",
    2: "altitude",
    3: "heart_rate",
    4: "cadence",
    5: "distance",
    6: "speed",
    7: "power",
    53: "fractional_cadence",
    73: "enhanced_speed",
    78: "enhanced_altitude",
}
# Record fields whose components write a column (the compressed speed/distance bytes are not supported).
RECORD_COMPRESSED_SPEED_DISTANCE = 8


def message_type(mesg_num: int) -> Any:
    """fitdecode's MessageType for a global message number (its `.fields` maps field number -> Field)."""
    return _profile.MESSAGE_TYPES[mesg_num]


TIMESTAMP_FIELD: Any = _profile.FIELD_TYPE_TIMESTAMP
RECORD_FIELDS: dict[int, Any] = message_type(MESG_RECORD).fields
