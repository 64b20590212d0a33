"""Export and restore (storage/athlete_export.py, `strideguard export` / `import`): every athlete table goes
out and comes back equal (on SQLite, and on PostgreSQL with STRIDEGUARD_TEST_DATABASE_URL); a table that is
neither exported nor listed as deliberately left out fails the suite."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import empty_database
from strideguard.activities import originals
from strideguard.activities import streams as stream_codec
from strideguard.activities.formats import gunzip
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import athlete_export
from strideguard.storage import engine as db
from strideguard.storage import pain as pain_store
from strideguard.storage import settings as settings_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import Base, TriageRow
from strideguard.training.pain import PainEntry

FILES = (
    "fit/fitparse__2013-02-06-12-11-14.fit",
    "fit/fitdecode__garmin-fr935-cr.fit",
    "gpx/fittrackee__test.gpx",
    "tcx/sportslib__movescount.tcx",
    "fit/goldencheetah__14582164182.fit.gz",  # kept unpacked
)
DERIVED = ("activity_days", "activity_weeks", "shoe_totals")


def test_every_table_is_exported_or_deliberately_left_out():
    """A new table must be added to EXPORTED (with its restore), EXPORT_ONLY or NOT_EXPORTED with a reason."""
    coverage = athlete_export.tables_in(Base.metadata.tables)
    assert [name for name, how in coverage.items() if how == "uncovered"] == []
    assert not set(athlete_export.EXPORTED) & (
        set(athlete_export.NOT_EXPORTED) | set(athlete_export.EXPORT_ONLY)
    )


def test_every_column_of_an_exported_table_is_in_the_export(tmp_path, session, athlete_id):
    add_run = store.save_activity
    from strideguard.model import Activity

    add_run(
        session, athlete_id, Activity("run", datetime(2026, 1, 5, 7, tzinfo=UTC), "manual", distance_m=5000.0)
    )
    session.commit()
    out = tmp_path / "x.zip"
    athlete_export.export_athlete(session, athlete_id, out, fit_files=False)
    with zipfile.ZipFile(out) as archive:
        (row,) = json.loads(archive.read("tables/activities.json"))
    assert set(row) == {c.name for c in Base.metadata.tables["activities"].columns}


@pytest.fixture
def second_db_url(tmp_path: Path) -> Iterator[str]:
    """Another empty database (a second SQLite file, or a second PostgreSQL schema)."""
    with empty_database(tmp_path / "restored.sqlite", prefix="r") as url:
        yield url


def _rich_athlete(run_cli, data_dir, session, athlete_id) -> None:
    """Real files imported by the CLI, then shoes, a default, RPE and feel, pain, a hip check, settings."""
    result = run_cli("import", *(str(data_dir / f) for f in FILES), "--sports", "all", "--no-progress")
    assert result.returncode == 0, result.stderr + result.stdout
    session.expire_all()
    runs = store.list_activities(session, athlete_id, newest_first=False)
    assert len(runs) >= 3
    shoe = shoe_store.add_shoe(session, athlete_id, "Trail pair", "Brand", "Model X", 12_345.5, 700_000.0)
    shoe_store.add_shoe(session, athlete_id, "Old pair")
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    store.update_activity(session, athlete_id, runs[0].id, rpe=6.5, feel="good", shoe_id=shoe.id)
    store.update_activity(session, athlete_id, runs[1].id, rpe=3.0, name="Renamed — ünïcode")
    day = runs[0].local_date
    pain_store.add_pain(
        session, athlete_id, PainEntry(day, "groin-hip-front", "left", 4, "during", runs[0].id, "a note")
    )
    pain_store.add_pain(
        session, athlete_id, PainEntry(day + timedelta(days=1), "buttock", "both", 2, "next-morning")
    )
    session.add(
        TriageRow(
            athlete_id=athlete_id,
            findings={"age": 34, "pain_at_night": False, "list": [1, 2]},
            triage_level="routine",
            result={"conditions": [{"name": "x", "score": 0.5}], "red_flags": []},
        )
    )
    settings_store.set_distance_unit(session, athlete_id, "mi")
    # Entered by hand: no original file, so the export writes a FIT from the stored data for it.
    store.save_activity(
        session,
        athlete_id,
        Activity(
            "run", datetime(2026, 1, 5, 7, tzinfo=UTC), "manual", distance_m=5000.0, elapsed_time_s=1500.0
        ),
    )
    session.commit()


def _athlete_rows(engine: sa.Engine, name: str, athlete_id: int) -> list[dict]:
    with engine.connect() as connection:
        if name in athlete_export.EXPORTED:
            query = athlete_export._scope(name, athlete_id)
        else:
            table = Base.metadata.tables[name]
            query = (
                sa.select(table).where(table.c.athlete_id == athlete_id).order_by(*table.primary_key.columns)
            )
        return [dict(r._mapping) for r in connection.execute(query)]


def test_export_then_import_restores_every_athlete_table(
    run_cli, cli_env, data_dir, session, athlete_id, engine, second_db_url, tmp_path
):
    _rich_athlete(run_cli, data_dir, session, athlete_id)
    out = tmp_path / "me.zip"
    result = run_cli("export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Exported" in result.stdout and out.exists()
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"manifest.json", "csv/activities.csv", "tables/pain_entries.json", "audit.csv"} <= names
    assert any(n.startswith("streams/") for n in names)
    assert set(manifest["not_exported"]) == set(athlete_export.NOT_EXPORTED)
    # Each imported activity's original file, byte for byte as imported (a .gz unpacked), with its SHA-256;
    # a FIT written from the stored data only for the activity entered by hand.
    session.expire_all()
    runs = store.list_activities(session, athlete_id, newest_first=False)
    imported = [r for r in runs if r.source_format != "manual"]
    assert len(imported) >= len(FILES)
    by_name = {Path(f).name.removesuffix(".gz"): data_dir / f for f in FILES}
    with zipfile.ZipFile(out) as archive:
        for run in imported:
            member = f"originals/{run.id}.{run.source_format}"
            data = archive.read(member)
            raw = by_name[run.source_name.removesuffix(".gz")].read_bytes()
            assert data == (gunzip(raw, "x.gz") if raw[:2] == b"\x1f\x8b" else raw), member
            assert manifest["files"][member] == run.source_sha256
    manual = [r.id for r in runs if r.source_format == "manual"]
    assert {n for n in names if n.startswith("fit/")} == {f"fit/{i}.fit" for i in manual}
    assert manifest["originals"]["files"] == len(imported)

    restored = run_cli("--db", second_db_url, "import", str(out))
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout

    target = db.make_engine(second_db_url)
    try:
        with target.connect() as connection:
            new_athlete = store.local_athlete(sa.orm.Session(connection))
        ids: dict[str, dict] = {"athletes": {athlete_id: new_athlete}}
        refs = athlete_export._references()
        for name in (*athlete_export.EXPORTED, *DERIVED):
            before = _athlete_rows(engine, name, athlete_id)
            after = _athlete_rows(target, name, new_athlete)
            assert len(before) == len(after), name
            table = Base.metadata.tables[name]
            if "id" in table.c and name != "athletes":
                ids[name] = {b["id"]: a["id"] for b, a in zip(before, after, strict=True)}
            for b, a in zip(before, after, strict=True):
                expected = dict(b)
                for column, value in b.items():
                    target_table = refs.get((name, column)) or (
                        "athletes" if column == "athlete_id" else "shoes" if column == "shoe_id" else None
                    )
                    if column == "id" and name in ids:
                        expected["id"] = ids[name][value]
                    elif target_table and value is not None:
                        expected[column] = ids[target_table][value]
                if name == "athletes":
                    expected["id"], expected["user_id"] = a["id"], a["user_id"]
                    # A change counter for the page cache, not the athlete's data: the restore counts anew.
                    expected["data_version"] = a.get("data_version")
                if name == "activity_streams":
                    assert (
                        stream_codec.decode(b["blob"]).columns().keys()
                        == stream_codec.decode(a["blob"]).columns().keys()
                    )
                    for key, column in stream_codec.decode(b["blob"]).columns().items():
                        other = stream_codec.decode(a["blob"]).columns()[key]
                        assert column.dtype == other.dtype and column.tobytes() == other.tobytes(), key
                    expected["blob"] = a["blob"]
                if name == "source_files":
                    assert originals.unpack(b["blob"]) == originals.unpack(a["blob"])
                    expected["blob"] = a["blob"]
                assert expected == a, name
    finally:
        target.dispose()


def test_a_damaged_export_is_refused_in_one_line_and_leaves_nothing(
    run_cli, session, athlete_id, tmp_path, second_db_url
):
    from strideguard.model import Activity

    store.save_activity(
        session, athlete_id, Activity("run", datetime(2026, 1, 5, 7, tzinfo=UTC), "manual", distance_m=5000.0)
    )
    session.commit()
    good = tmp_path / "good.zip"
    assert run_cli("export", "--out", str(good), "--no-fit").returncode == 0
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/activities.json":
                data = data.replace(b"5000.0", b"9000.0")
            dst.writestr(item, data)
    result = run_cli("--db", second_db_url, "import", str(bad))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "bad.zip: tables/activities.json is damaged" in line
    assert "Traceback" not in result.stderr
    engine = db.make_engine(second_db_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM activities")) == 0
    finally:
        engine.dispose()


def test_import_refuses_an_athlete_that_already_has_data(run_cli, session, athlete_id, tmp_path):
    from strideguard.model import Activity

    store.save_activity(
        session, athlete_id, Activity("run", datetime(2026, 1, 5, 7, tzinfo=UTC), "manual", distance_m=5000.0)
    )
    session.commit()
    out = tmp_path / "me.zip"
    assert run_cli("export", "--out", str(out), "--no-fit").returncode == 0
    result = run_cli("import", str(out))
    assert result.returncode == 1 and "restore into an empty database" in result.stderr
    session.expire_all()
    assert store.count_activities(session, athlete_id) == 1


def test_an_original_file_that_differs_from_its_row_is_refused(run_cli, data_dir, tmp_path, second_db_url):
    """Even with the manifest's SHA-256 made to match, an original must be the file its row describes."""
    gpx = data_dir / "gpx" / "fittrackee__test.gpx"
    assert run_cli("import", str(gpx), "--no-progress").returncode == 0
    good = tmp_path / "good.zip"
    assert run_cli("export", "--out", str(good)).returncode == 0
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        (member,) = [n for n in src.namelist() if n.startswith("originals/")]
        assert member.endswith(".gpx") and src.read(member) == gpx.read_bytes()
        changed = src.read(member).replace(b"<gpx", b"<gpx ", 1)
        manifest["files"][member] = hashlib.sha256(changed).hexdigest()
        for item in src.infolist():
            if item.filename == member:
                dst.writestr(item, changed)
            elif item.filename == "manifest.json":
                dst.writestr(item, json.dumps(manifest))
            else:
                dst.writestr(item, src.read(item))
    result = run_cli("--db", second_db_url, "import", str(bad))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"{member} is not the file its source_files row describes" in line
