"""Decode the few non-record messages StrideGuard keeps (file_id, session, lap, event, ...) to dicts.

They are a handful per file, so they are decoded one by one, but with a plan compiled once per definition
(and cached across files): one `struct.unpack_from` per message, then a precomputed step per field. The result
is what fit.py's fitdecode path builds from fitdecode's frames: the same field names (subfield names such as
'avg_running_cadence' with the parent name 'avg_cadence' as an alias), component expansion ('avg_speed' also
gives 'enhanced_avg_speed'), enum names, scale and offset, the first valid value winning, invalid values
absent, and date_time fields named in `TIME_FIELDS` as aware UTC datetimes (device-relative ones under
their name + DEVICE_TIME_SUFFIX).
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from strideguard.activities.formats.fit_decoded import DEVICE_TIME_SUFFIX
from strideguard.activities.formats.fit_fast_layout import FastDecodeUnsupported, Layout
from strideguard.activities.formats.fit_fast_profile import (
    BASE_TYPES,
    BYTE,
    FIT_EPOCH_S,
    FIT_MIN_ABSOLUTE_TIME,
    TIMESTAMP_FIELD,
    message_type,
)

# Names whose raw date_time values become aware UTC datetimes (fit.py's fitdecode path converts the same).
TIME_FIELDS = frozenset({"timestamp", "start_time", "local_timestamp", "time_created"})

_SIMPLE_INT, _SIMPLE_FLOAT, _GENERAL, _SKIP = range(4)
_PLAN_CACHE_MAX = 4096


def _parse_string(raw: bytes) -> str | None:
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", errors="replace") or None


class DictPlan:
    """How to unpack and interpret the rows of one layout, as fitdecode does message by message."""

    __slots__ = ("_resolvers", "field_nums", "fields", "mesg_type", "steps", "unpacker")

    def __init__(self, layout: Layout) -> None:
        endian = ">" if layout.big_endian else "<"
        formats: list[str] = []
        # Per field: (number, profile field or None, kind, first value index, value count, invalid value)
        fields: list[tuple[int, Any, str, int, int, Any]] = []
        index = 0
        try:
            mesg_type = message_type(layout.global_num)
        except KeyError:
            mesg_type = None
        self.mesg_type = mesg_type
        for num, size, base_id in layout.fields:
            base = BASE_TYPES.get(base_id, BYTE)
            if size % base.size:
                base = BYTE  # fitdecode reads a field whose size is not a multiple of its type as bytes
            profile_field = mesg_type.fields.get(num) if mesg_type is not None else None
            if base.kind == "string":
                formats.append(f"{size}s")
                fields.append((num, profile_field, "string", index, 1, None))
                index += 1
            else:
                count = size // base.size
                formats.append(f"{count}{base.fmt}")
                fields.append((num, profile_field, base.kind, index, count, base.invalid))
                index += count
        for _num, size, _index, info in layout.dev_fields:
            base = BASE_TYPES.get(info[1], BYTE) if info else BYTE
            if size % base.size:
                raise FastDecodeUnsupported("developer field size not a multiple of its base type")
            formats.append(f"{size}x")  # developer fields are not kept in message dicts
        self.unpacker = struct.Struct(endian + "".join(formats))
        self.fields = fields
        self.field_nums = [f[0] for f in fields]
        self.steps = [_step(position, f) for position, f in enumerate(fields)]
        self._resolvers: dict[int, list[tuple[int, Any, Any]]] = {}

    def raw_values(self, buf: bytes, pos: int) -> list[Any]:
        """fitdecode's raw values of the message at `pos`: None if invalid, tuples for arrays and bytes."""
        return self._raws(self.unpacker.unpack_from(buf, pos + 1))

    def _raws(self, values: tuple[Any, ...]) -> list[Any]:
        return [self._raw_at(values, position) for position in range(len(self.fields))]

    def _raw_at(self, values: tuple[Any, ...], position: int) -> Any:
        _num, _field, kind, i, count, invalid = self.fields[position]
        if kind == "int":
            if count == 1:
                v = values[i]
                return None if v == invalid else v
            return tuple(None if v == invalid else v for v in values[i : i + count])
        if kind == "float":
            if count == 1:
                v = values[i]
                return None if math.isnan(v) else v
            return tuple(None if math.isnan(v) else v for v in values[i : i + count])
        if kind == "string":
            return _parse_string(values[i])
        chunk = values[i : i + count]  # byte: one tuple, invalid only when every byte is 0xFF
        return None if all(b == 0xFF for b in chunk) else chunk

    def _resolve(self, field: Any, values: tuple[Any, ...]) -> tuple[Any, Any]:
        """(subfield, parent) when a reference field selects a subfield, else (field, None): fitdecode's rule
        (first subfield, then reference, then field position that matches)."""
        if not field.subfields:
            return field, None
        refs = self._resolvers.get(id(field))
        if refs is None:
            refs = self._resolvers[id(field)] = [
                (position, ref.raw_value, sub)
                for sub in field.subfields
                for ref in sub.ref_fields
                for position, num in enumerate(self.field_nums)
                if num == ref.def_num
            ]
        for position, wanted, sub in refs:
            if self._raw_at(values, position) == wanted:
                return sub, field
        return field, None

    def decode(self, buf: bytes, pos: int, timestamp: int | None) -> dict[str, Any]:
        """The message at `pos` as a dict; `timestamp` is the raw value of a compressed-timestamp header."""
        values = self.unpacker.unpack_from(buf, pos + 1)
        out: dict[str, Any] = {}
        for code, i, invalid, name, enum, scale, offset, is_time, position in self.steps:
            if code == _SIMPLE_INT:
                v = values[i]
                if v == invalid or name in out:
                    continue
                if enum is not None:
                    out[name] = enum.get(v, v)
                    continue
                if is_time:
                    if v >= FIT_MIN_ABSOLUTE_TIME:
                        out[name] = _datetime(v)
                    else:
                        out.setdefault(name + DEVICE_TIME_SUFFIX, float(FIT_EPOCH_S + v))
                    continue
                if scale:
                    v = float(v) / scale
                if offset:
                    v = v - offset
                out[name] = v
            elif code == _SIMPLE_FLOAT:
                v = values[i]
                if v != v or name in out:
                    continue
                if scale:
                    v = v / scale
                if offset:
                    v = v - offset
                out[name] = v
            elif code == _GENERAL:
                self._general(out, position, values)
        if timestamp is not None:
            _emit(out, TIMESTAMP_FIELD.name, None, timestamp)
        return out

    def _general(self, out: dict[str, Any], position: int, values: tuple[Any, ...]) -> None:
        """fitdecode's path for one field: subfield, components (expanded first), render, scale/offset."""
        raw = self._raw_at(values, position)
        field, parent = self._resolve(self.fields[position][1], values)
        if field.components:
            for component in field.components:
                try:
                    value = component.render(raw)
                except ValueError:  # fitdecode skips a component beyond the raw value's bits
                    continue
                if component.accumulate and value is not None:
                    raise FastDecodeUnsupported(f"accumulating component {component.name}")
                value = _scale_offset(component, value)
                target, target_parent = self._resolve(self.mesg_type.fields[component.def_num], values)
                _emit(out, target.name, target_parent, target.render(value))
        _emit(out, field.name, parent, _scale_offset(field, field.render(raw)))


def _step(position: int, spec: tuple[int, Any, str, int, int, Any]) -> tuple[Any, ...]:
    """Precomputed handling of one field: the common scalar cases inline, everything else general."""
    _num, field, kind, i, count, invalid = spec
    if field is None:  # not in the profile: fit.py leaves unknown fields out (they still select subfields)
        return (_SKIP, i, None, "", None, None, None, False, position)
    enum = getattr(field.type, "enum", None) or None
    is_time = field.name in TIME_FIELDS
    scale, offset = field.scale, field.offset
    simple = (
        count == 1
        and not field.subfields
        and not field.components
        and not (enum is not None and (scale or offset))
        and not (is_time and (scale or offset or enum is not None))
    )
    if simple and kind == "int":
        return (_SIMPLE_INT, i, invalid, field.name, enum, scale, offset, is_time, position)
    if simple and kind == "float" and enum is None and not is_time:
        return (_SIMPLE_FLOAT, i, None, field.name, None, scale, offset, False, position)
    return (_GENERAL, i, None, field.name, None, None, None, False, position)


def _scale_offset(field: Any, value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_scale_offset(field, v) for v in value)
    if isinstance(value, int | float):
        if field.scale:
            value = float(value) / field.scale
        if field.offset:
            value = value - field.offset
    return value


def _emit(out: dict[str, Any], name: str, parent: Any, value: Any) -> None:
    """Add one decoded field: the first valid value of a name wins; a subfield also sets its parent's name."""
    if value is None:
        return
    if isinstance(value, tuple) and all(v is None for v in value):
        return
    if name in TIME_FIELDS and isinstance(value, int):
        if value < FIT_MIN_ABSOLUTE_TIME:  # device-relative time, no date
            out.setdefault(name + DEVICE_TIME_SUFFIX, float(FIT_EPOCH_S + value))
            return
        value = _datetime(value)
    if name not in out:
        out[name] = value
    if parent is not None and parent.name not in out:
        out[parent.name] = value


def _datetime(raw: int) -> datetime:
    """A FIT date_time as aware UTC; 64-bit garbage beyond year 9999 goes to fitdecode's path."""
    try:
        return datetime.fromtimestamp(FIT_EPOCH_S + raw, UTC)
    except (OverflowError, OSError, ValueError):
        raise FastDecodeUnsupported(f"date_time value {raw} out of range") from None


_PLANS: dict[Any, DictPlan] = {}


def dict_plan(layout: Layout) -> DictPlan:
    """The (cached) plan for a layout; equal definitions share one across files."""
    plan = _PLANS.get(layout.key)
    if plan is None:
        plan = DictPlan(layout)
        if len(_PLANS) >= _PLAN_CACHE_MAX:
            _PLANS.clear()
        _PLANS[layout.key] = plan
    return plan
