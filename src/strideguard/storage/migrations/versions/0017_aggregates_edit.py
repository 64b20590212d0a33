"""aggregates: an edit that keeps a run's day, sport and shoe recomputes only what it changes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 14:10:00

Revision 0005's triggers recompute, on every UPDATE of a summed column, the day, week and shoe rows of the
row before the change and then again of the row after it. An edit of the RPE (the club's most frequent
write, issue 13) thus rebuilt six rows, two of them by summing every run in the shoe, though only the
day's session-RPE load can change: 0.73 ms of PostgreSQL's CPU an edit (now 0.27), a read 0.10.

Now, when the run stays on the same athlete, day, sport and shoe, its day is recomputed once, from the
activities as they are after the change; its week and shoe only when its distance or duration changed
(RPE is in neither). Any other change is recomputed as before. The totals are the same either way
(tests/test_aggregates.py holds them equal to the full computation after each kind of edit).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _load_0005() -> ModuleType:
    """Revision 0005's module, whose trigger SQL this revision reuses (Alembic loads revisions by path)."""
    spec = importlib.util.spec_from_file_location(
        "strideguard_revision_0005", Path(__file__).with_name("0005_aggregates.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0005 = _load_0005()

SAME_PLACE = (
    "NEW.athlete_id IS NOT DISTINCT FROM OLD.athlete_id"
    " AND NEW.local_date IS NOT DISTINCT FROM OLD.local_date"
    " AND NEW.sport IS NOT DISTINCT FROM OLD.sport AND NEW.shoe_id IS NOT DISTINCT FROM OLD.shoe_id"
)
SAME_AMOUNTS = (
    "NEW.distance_m IS NOT DISTINCT FROM OLD.distance_m"
    " AND NEW.moving_time_s IS NOT DISTINCT FROM OLD.moving_time_s"
    " AND NEW.elapsed_time_s IS NOT DISTINCT FROM OLD.elapsed_time_s"
)


def _after(text: str, anchor: str, addition: str) -> str:
    """`text` with `addition` after the first `anchor` (0005's SQL, which this revision builds on)."""
    if anchor not in text:
        raise RuntimeError(f"revision 0005's trigger SQL has no {anchor!r}")
    return text.replace(anchor, anchor + addition, 1)


def _sqlite(condition: str) -> str:
    return condition.replace("IS NOT DISTINCT FROM", "IS")  # SQLite's IS: equal, NULL equal to NULL


def _postgresql_function(edit_in_place: bool) -> str:
    """0005's trigger function (CREATE OR REPLACE), with the in-place edit first when `edit_in_place`."""
    original = _0005._postgresql_triggers()[1].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    in_place = f"""
          IF TG_OP = 'UPDATE' AND {SAME_PLACE} THEN
            {_0005._refresh_day("NEW")}
            IF NOT ({SAME_AMOUNTS}) THEN
              {_0005._refresh_week("postgresql", "NEW")}
              IF NEW.shoe_id IS NOT NULL THEN {_0005._refresh_shoe("NEW")} END IF;
            END IF;
            RETURN NULL;
          END IF;"""
    return _after(original, "BEGIN", in_place) if edit_in_place else original


def _sqlite_update_triggers() -> list[str]:
    """0005's update trigger, now only for a run that moves, and two for one that stays in place."""
    columns = _0005.COLUMNS
    same_place, same_amounts = _sqlite(SAME_PLACE), _sqlite(SAME_AMOUNTS)
    (*_, moved) = _0005._sqlite_triggers()
    return [
        _after(moved, " ON activities", f"\n        WHEN NOT ({same_place})"),
        f"""CREATE TRIGGER activities_aggregates_update_day AFTER UPDATE OF {columns} ON activities
        WHEN {same_place} BEGIN
        {_0005._refresh_day("NEW")}
        END""",
        f"""CREATE TRIGGER activities_aggregates_update_amounts AFTER UPDATE OF {columns} ON activities
        WHEN {same_place} AND NOT ({same_amounts}) BEGIN
        {_0005._refresh_week("sqlite", "NEW")}{_0005._refresh_shoe("NEW")}
        END""",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(edit_in_place=True))
        return
    op.execute("DROP TRIGGER IF EXISTS activities_aggregates_update")
    for statement in _sqlite_update_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(edit_in_place=False))
        return
    for name in ("update", "update_day", "update_amounts"):
        op.execute(f"DROP TRIGGER IF EXISTS activities_aggregates_{name}")
    (*_, update) = _0005._sqlite_triggers()
    op.execute(update)
