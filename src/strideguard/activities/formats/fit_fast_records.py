"""Record messages to float64 columns, vectorised per layout, as fit.py's fitdecode path builds them.

Per layout, a plan (compiled once per definition and cached across files) lists the fields that feed a
column, in definition order, with fitdecode's semantics: the component expansion of 16-bit speed/altitude
into enhanced_speed/enhanced_altitude comes before the field itself, a later valid value overwrites an earlier
one, a developer field named "Power" fills record power only where the record has none, arrays are no number.
Rows are gathered with one fancy index over a sliding-window view of the buffer, read through one structured
dtype, and each field becomes a column with scale, offset and invalid values (NaN) applied.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strideguard.activities.formats.fit_decoded import (
    DEV_NATIVE_RECORD_COLUMNS,
    RECORD_COLUMNS,
    developer_unit_divisor,
    merge_developer_columns,
)
from strideguard.activities.formats.fit_fast_layout import FastDecodeUnsupported, Layout
from strideguard.activities.formats.fit_fast_profile import (
    BASE_TYPES,
    BYTE,
    FIT_EPOCH_S,
    RECORD_COMPRESSED_SPEED_DISTANCE,
    RECORD_FIELD_COLUMNS,
    RECORD_FIELDS,
)

_SEMICIRCLE_DEG = 180.0 / 2**31
# Columns that are merged into others at the end: enhanced_* win over speed/altitude, developer power fills
# record power's gaps.
_SLOT = {"enhanced_speed": "enh_speed", "enhanced_altitude": "enh_alt"}
_PLAN_CACHE_MAX = 4096

# Op: (struct field name, target slot, scale, offset, invalid value or None for NaN, (bit offset, bits) of a
# component or None, first valid wins (developer power) instead of last)
_Op = tuple[str, str, Any, Any, Any, tuple[int, int] | None, bool]


class RecordPlan:
    """The structured dtype of one record layout and the ops that turn its fields into columns."""

    __slots__ = ("dtype", "ops")

    def __init__(self, layout: Layout) -> None:
        endian = ">" if layout.big_endian else "<"
        names: list[str] = []
        formats: list[str] = []
        starts: list[int] = []
        ops: list[_Op] = []
        position = 0
        for i, (num, size, base_id) in enumerate(layout.fields):
            if num == RECORD_COMPRESSED_SPEED_DISTANCE:
                raise FastDecodeUnsupported("compressed speed/distance (bit-packed accumulating components)")
            field = RECORD_FIELDS.get(num)
            column = RECORD_FIELD_COLUMNS.get(num)
            components = (
                [c for c in (field.components or ()) if c.name in _SLOT or c.name in RECORD_COLUMNS]
                if field is not None
                else []
            )
            base = BASE_TYPES.get(base_id)
            if column is None and not components:
                position += size
                continue
            if (
                base is not None
                and base.kind in ("int", "float")
                and size > base.size
                and size % base.size == 0
            ):
                if components:
                    raise FastDecodeUnsupported(f"record field {num} written as an array")
                position += size  # an array: fitdecode yields a tuple, which is no number (FR55 altitude)
                continue
            if base is None or base.kind not in ("int", "float") or size != base.size:
                raise FastDecodeUnsupported(f"record field {num} with base type {base_id:#x} and size {size}")
            name = f"f{i}"
            names.append(name)
            formats.append(endian + base.fmt)
            starts.append(position)
            invalid = base.invalid if base.kind == "int" else None
            for component in components:
                if component.accumulate:
                    raise FastDecodeUnsupported(f"accumulating component {component.name}")
                bits = (component.bit_offset or 0, component.bits) if base.kind == "int" else None
                slot = _SLOT.get(component.name, component.name)
                ops.append((name, slot, component.scale, component.offset, invalid, bits, False))
            if column is not None:
                ops.append((name, _SLOT.get(column, column), field.scale, field.offset, invalid, None, False))
            position += size
        for i, (_num, size, _index, info) in enumerate(layout.dev_fields):
            base = BASE_TYPES.get(info[1], BYTE) if info else BYTE
            label = info[0] if info else None
            native = DEV_NATIVE_RECORD_COLUMNS.get(info[2]) if info and info[2] is not None else None
            if native is not None and base.kind in ("int", "float") and size == base.size:
                # A Connect IQ field standing in for a native one (fit_decoded.merge_developer_columns).
                name = f"n{i}"
                names.append(name)
                formats.append(endian + base.fmt)
                starts.append(position)
                invalid = base.invalid if base.kind == "int" else None
                divisor = developer_unit_divisor(info[3])
                ops.append((name, f"dev_{native}", divisor, None, invalid, None, True))
            # Stryd and other Connect IQ apps write running power as a developer field named "Power".
            if label is not None and label.lower() == "power":
                if base.kind not in ("int", "float"):
                    raise FastDecodeUnsupported("developer power field that is not a number")
                if size == base.size:  # an array never converts to a number on the fitdecode path
                    name = f"d{i}"
                    names.append(name)
                    formats.append(endian + base.fmt)
                    starts.append(position)
                    invalid = base.invalid if base.kind == "int" else None
                    ops.append((name, "dev", None, None, invalid, None, True))
            position += size
        self.dtype = np.dtype(
            {"names": names, "formats": formats, "offsets": starts, "itemsize": layout.row_size}
        )
        self.ops = ops

    def columns(self, windows: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of the rows whose message headers sit at `offsets` (windows: row-sized buffer windows)."""
        out: dict[str, np.ndarray] = {}
        if not self.ops:
            return out
        table = windows[offsets + 1].view(self.dtype)[:, 0]
        for name, slot, scale, offset, invalid, bits, first_wins in self.ops:
            raw = table[name]
            bad = np.isnan(raw) if invalid is None else raw == invalid
            if bits is not None:
                values = ((raw.astype(np.int64) >> bits[0]) & ((1 << bits[1]) - 1)).astype(np.float64)
            else:
                values = raw.astype(np.float64)
            if scale:
                values /= scale
            if offset:
                values -= offset
            values[bad] = np.nan
            current = out.get(slot)
            if current is None:
                out[slot] = values
            elif first_wins:
                np.copyto(current, values, where=np.isnan(current))
            else:
                np.copyto(current, values, where=~bad)
        return out


_PLANS: dict[Any, RecordPlan] = {}


def record_plan(layout: Layout) -> RecordPlan:
    """The (cached) plan of a record layout; equal definitions share one across files."""
    plan = _PLANS.get(layout.key)
    if plan is None:
        plan = RecordPlan(layout)
        if len(_PLANS) >= _PLAN_CACHE_MAX:
            _PLANS.clear()
        _PLANS[layout.key] = plan
    return plan


def record_columns(
    layouts: list[Layout], buf_np: np.ndarray, compressed: dict[int, np.ndarray]
) -> dict[str, np.ndarray]:
    """RECORD_COLUMNS of every record message in file order; `compressed` holds the raw timestamps of
    compressed-timestamp messages per layout id. Empty dict when there is no record."""
    layouts = [layout for layout in layouts if layout.used]
    if not layouts:
        return {}
    offsets_per_layout = [
        np.concatenate((layout.positions(), layout.compressed_positions()))
        if layout.compressed
        else layout.positions()
        for layout in layouts
    ]
    total = sum(len(offsets) for offsets in offsets_per_layout)
    # Where each layout's rows go in file order.
    if len(layouts) == 1 and not layouts[0].compressed:
        merged = _layout_columns(layouts[0], buf_np, offsets_per_layout[0], {})
    else:
        order = np.argsort(np.concatenate(offsets_per_layout), kind="stable")
        rank = np.empty(total, dtype=np.int64)
        rank[order] = np.arange(total)
        bounds = np.cumsum([len(offsets) for offsets in offsets_per_layout])[:-1]
        merged = {}
        windows: dict[int, np.ndarray] = {}
        for layout, offsets, destination in zip(
            layouts, offsets_per_layout, np.split(rank, bounds), strict=True
        ):
            for slot, column in _layout_columns(layout, buf_np, offsets, windows).items():
                target = merged.get(slot)
                if target is None:
                    target = merged[slot] = np.full(total, np.nan)
                target[destination] = column
            if layout.compressed:
                stamps = merged.get("timestamp")
                if stamps is None:
                    stamps = merged["timestamp"] = np.full(total, np.nan)
                stamps[destination[len(offsets) - len(layout.compressed) :]] = compressed[id(layout)]
    for name in RECORD_COLUMNS:
        if name not in merged:
            merged[name] = np.full(total, np.nan)
    merged["timestamp"] += FIT_EPOCH_S
    merged["position_lat"] *= _SEMICIRCLE_DEG
    merged["position_long"] *= _SEMICIRCLE_DEG
    # enhanced_* (wider range) wins over the 16-bit field; record power wins over developer power.
    for name, preferred in (("speed", "enh_speed"), ("altitude", "enh_alt")):
        better = merged.get(preferred)
        if better is not None:
            np.copyto(merged[name], better, where=~np.isnan(better))
    developer = merged.get("dev")
    if developer is not None:
        np.copyto(merged["power"], developer, where=np.isnan(merged["power"]))
    stand_ins = {name[4:]: column for name, column in merged.items() if name[:4] == "dev_"}
    merge_developer_columns(merged, stand_ins)
    return {name: merged[name] for name in RECORD_COLUMNS}


def _layout_columns(
    layout: Layout, buf_np: np.ndarray, offsets: np.ndarray, windows: dict[int, np.ndarray]
) -> dict[str, np.ndarray]:
    """One layout's columns; `windows` caches the row-sized sliding-window views of the buffer by size."""
    size = layout.row_size
    if not size:
        return {}
    view = windows.get(size)
    if view is None:
        view = windows[size] = np.lib.stride_tricks.sliding_window_view(buf_np, size)
    return record_plan(layout).columns(view, offsets)
