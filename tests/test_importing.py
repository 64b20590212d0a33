"""The import service: folders of real files, atomic saves, resume after a crash, worker processes."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import exportgen
from strideguard.activities import originals
from strideguard.importing import service as importing
from strideguard.importing.saving import ImportRecords
from strideguard.importing.service import ImportOptions, parse_file, run_import
from strideguard.importing.summaries import SourceSummary
from strideguard.storage import activities as store
from strideguard.storage.engine import session_factory
from strideguard.storage.tables import ActivityRow, ImportItemRow, ImportRow, LapRow, SourceFileRow, StreamRow


def _folder(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "watch" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "fit" / "fitparse__Settings.fit", folder / "settings.fit")
    runs = exportgen.simulated_runs(3, minutes=3)
    (folder / "run0.fit").write_bytes(exportgen.fit_bytes(runs[0]))
    (folder / "run1.fit.gz").write_bytes(gzip.compress(exportgen.fit_bytes(runs[1])))
    (folder / "run2.gpx").write_bytes(exportgen.gpx_bytes(runs[2]))
    (folder / "empty.tcx").write_bytes(b"")
    (folder / "notes.txt").write_text("not an activity file")  # ignored by folder expansion
    return tmp_path / "watch"


def test_folder_import_reports_imported_skipped_and_failed(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path, data_dir: Path
) -> None:
    summary = run_import(engine, [_folder(tmp_path, data_dir)], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.kind == "files"
    assert source.imported == 3
    assert [Path(f).name for f, _ in source.skipped] == ["settings.fit"]
    assert "settings" in source.skipped[0][1]
    assert [(Path(f).name, r) for f, r in source.failed] == [("empty.tcx", "empty file")]
    assert not summary.ok
    (record,) = session.scalars(sa.select(ImportRow)).all()
    assert (record.status, record.n_imported, record.n_skipped, record.n_failed) == ("finished", 3, 1, 1)


def test_reimporting_a_folder_names_the_activity_each_file_duplicates(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path, data_dir: Path
) -> None:
    folder = _folder(tmp_path, data_dir)
    run_import(engine, [folder], ImportOptions(workers=0))
    again = run_import(engine, [folder], ImportOptions(workers=0))
    (source,) = again.sources
    assert source.imported == 0
    assert source.n_duplicates == 3
    ids = {a.id for a in store.list_activities(session, athlete_id)}
    for _, label in source.duplicates:
        assert label.startswith("duplicate of #")
        assert int(label.split("#")[1].split()[0]) in ids


def test_missing_path_is_a_failure_not_a_crash(engine: sa.Engine, athlete_id: int, tmp_path: Path) -> None:
    summary = run_import(engine, [tmp_path / "nope.fit"], ImportOptions(workers=0))
    assert summary.sources[0].failed == [(str(tmp_path / "nope.fit"), "no such file or folder")]


def test_a_file_that_fails_while_saving_leaves_nothing(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = exportgen.simulated_runs(3, minutes=3)
    for i, run in enumerate(runs):
        (tmp_path / f"{i}.fit").write_bytes(exportgen.fit_bytes(run))
    real_save = store.save_activity

    def save_then_fail(session: Session, athlete_id: int, activity, import_id=None, **kw):  # type: ignore[no-untyped-def]
        outcome = real_save(session, athlete_id, activity, import_id, **kw)
        if (
            activity.source_name == "1.fit"
        ):  # activity and laps are already flushed: the savepoint must undo them
            raise ValueError("disk full (simulated)")
        return outcome

    monkeypatch.setattr(importing.store, "save_activity", save_then_fail)
    summary = run_import(engine, [tmp_path], ImportOptions(workers=0))
    (source,) = summary.sources
    assert source.imported == 2
    assert source.failed == [(str((tmp_path / "1.fit").resolve()), "could not save (disk full (simulated))")]
    names = set(session.scalars(sa.select(ActivityRow.source_name)))
    assert names == {"0.fit", "2.fit"}
    assert session.scalar(sa.select(sa.func.count()).select_from(StreamRow)) == 2
    assert set(session.scalars(sa.select(SourceFileRow.name))) == {"0.fit", "2.fit"}
    lap_owners = set(session.scalars(sa.select(LapRow.activity_id)))
    assert lap_owners == set(session.scalars(sa.select(ActivityRow.id)))


def test_interrupted_archive_import_resumes_without_redoing_or_duplicating(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = exportgen.simulated_runs(12, minutes=2)
    path = exportgen.write_strava_export(tmp_path / "export.zip", list(exportgen.iter_strava_entries(runs)))
    flushes = 0
    real_flush = importing._Batch.flush

    def crash_on_third_flush(self):  # type: ignore[no-untyped-def]
        nonlocal flushes
        flushes += 1
        if flushes == 3:
            raise KeyboardInterrupt  # the process dies here: this batch is never committed
        real_flush(self)

    monkeypatch.setattr(importing._Batch, "flush", crash_on_third_flush)
    with pytest.raises(KeyboardInterrupt):
        run_import(engine, [path], ImportOptions(workers=0, batch_activities=4))
    committed = session.scalar(sa.select(sa.func.count()).select_from(ImportItemRow))
    assert committed == 8
    assert session.scalar(sa.select(sa.func.count()).select_from(ActivityRow)) == 8
    monkeypatch.setattr(importing._Batch, "flush", real_flush)
    parsed: list[str] = []
    real_parse = importing.parse_file
    monkeypatch.setattr(
        importing, "parse_file", lambda name, *a, **k: parsed.append(name) or real_parse(name, *a, **k)
    )
    summary = run_import(engine, [path], ImportOptions(workers=0, batch_activities=4))
    (source,) = summary.sources
    assert source.resumed_items == 8
    assert len(parsed) == 4  # only the unfinished files were read again
    assert source.imported == 12
    assert session.scalar(sa.select(sa.func.count()).select_from(ActivityRow)) == 12
    assert session.scalar(sa.select(sa.func.count()).select_from(ImportRow)) == 1


def test_the_import_record_counts_what_is_stored_at_every_commit_of_a_multi_batch_import(
    engine: sa.Engine, athlete_id: int, tmp_path: Path, data_dir: Path
) -> None:
    """Batches add their counts to the import record; after every commit of a real import in many batches
    (imported, duplicate, skipped and failed files) the record says what a full recount of it says."""
    folder = _folder(tmp_path, data_dir)
    for i, run in enumerate(exportgen.simulated_runs(6, minutes=2, first_day=date(2024, 3, 4))):
        (folder / f"more{i}.fit").write_bytes(exportgen.fit_bytes(run))
    shutil.copy(folder / "more0.fit", folder / "more0-copy.fit")  # the same file again: a duplicate
    checked: list[tuple[int, ...]] = []

    def compare(_session: Session) -> None:
        with Session(engine) as session:
            row = session.scalar(sa.select(ImportRow))
            if row is None:
                return
            stored = (row.n_total, row.n_imported, row.n_duplicates, row.n_skipped, row.n_failed)
        recount = SourceSummary(row.source, row.kind, import_id=row.id)
        ImportRecords(session_factory(engine), athlete_id).fill(recount)  # what `finish` counts
        n = recount.items_total, recount.imported, recount.n_duplicates, recount.n_skipped, recount.n_failed
        assert stored == n
        checked.append(stored)

    sa.event.listen(Session, "after_commit", compare)
    try:
        summary = run_import(
            engine, [folder], ImportOptions(workers=0, batch_activities=2, commit_interval_s=60)
        )
    finally:
        sa.event.remove(Session, "after_commit", compare)
    (source,) = summary.sources
    assert (source.imported, source.n_duplicates, source.n_skipped, source.n_failed) == (9, 1, 1, 1)
    assert len(set(checked)) >= 5  # the counts were compared after several batches, not only at the end
    assert checked[-1] == (12, 9, 1, 1, 1)


def test_many_files_are_parsed_in_worker_processes(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(20, minutes=2)
    path = exportgen.write_strava_export(tmp_path / "export.zip", list(exportgen.iter_strava_entries(runs)))
    events: list[importing.ProgressEvent] = []
    summary = run_import(
        engine, [path], ImportOptions(workers=2, batch_activities=7), on_progress=events.append
    )
    assert summary.sources[0].imported == 20
    assert summary.ok
    import_events = [e for e in events if e.stage == "import"]
    assert import_events[-1].done == import_events[-1].total == 20
    one = store.get_activity(session, athlete_id, 1)
    assert one.streams is not None and len(one.streams) > 100  # streams stored from the worker's blob
    assert one.laps


def test_parse_file_recognises_known_content_without_parsing() -> None:
    data = exportgen.fit_bytes(exportgen.simulated_runs(1, minutes=2)[0])
    first = parse_file("a.fit", data)
    assert first.status == "ok"
    sha = first.activities[0].source_sha256
    again = parse_file("copy.fit.gz", gzip.compress(data), known=frozenset({sha}))  # type: ignore[arg-type]
    assert (again.status, again.sha256) == ("known", sha)


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        ("x.doc", b"hello", "failed", "not a FIT, GPX or TCX"),
        ("x.fit", b"", "failed", "empty file"),
        ("x.gpx", b"<?xml version='1.0'?><html/>", "failed", "neither GPX nor TCX"),
    ],
)
def test_parse_file_turns_bad_input_into_reasons(name: str, data: bytes, status: str, reason: str) -> None:
    parsed = parse_file(name, data)
    assert parsed.status == status
    assert reason in (parsed.reason or "")


def test_loose_files_source_is_labelled_with_the_paths_given(engine, athlete_id, tmp_path):
    run = exportgen.simulated_runs(1, minutes=3)[0]
    (tmp_path / "a.fit").write_bytes(exportgen.fit_bytes(run))
    summary = run_import(engine, (p for p in [tmp_path / "a.fit"]), ImportOptions(workers=0))
    assert summary.sources[0].source == str(tmp_path / "a.fit")


def test_a_run_at_car_speed_is_stored_as_other_with_a_note(
    engine: sa.Engine, session: Session, athlete_id: int, data_dir: Path
) -> None:
    # A GPX without a type (so "run") covering ~195 km in two hours: a car trip, not a run.
    path = data_dir / "gpx" / "gpxpy__first_and_last_elevation.gpx"
    (source,) = run_import(engine, [path], ImportOptions(workers=0)).sources
    assert source.imported == 1
    (note,) = [n for n in source.notes if "faster than the world record" in n]
    assert note.startswith("gpxpy__first_and_last_elevation.gpx: stored as other, not as a run: ")
    assert "195.5 km at 98 km/h on average" in note
    row = session.scalars(sa.select(ActivityRow)).one()
    assert row.sport == "other" and row.distance_m > 150_000 and "world record" in row.sport_note
    # and it is not a run to the load analytics
    assert store.list_activities(session, athlete_id, sports={"run"}) == []


def test_each_activity_keeps_its_original_file_once_and_reimport_adds_none(
    engine: sa.Engine, session: Session, athlete_id: int, tmp_path: Path, data_dir: Path
) -> None:
    """The file as read (a .gz unpacked) is kept, compressed, with each activity it gave (parsed in worker
    processes); importing it again adds no activity and no original; deleting an activity deletes its
    original only."""
    folder = tmp_path / "watch"
    folder.mkdir()
    runs = exportgen.simulated_runs(12, minutes=3)
    expected: dict[str, bytes] = {}
    for i, run in enumerate(runs):
        data = exportgen.fit_bytes(run) if i % 2 else exportgen.gpx_bytes(run)
        name = f"run{i}.fit.gz" if i % 2 else f"run{i}.gpx"
        (folder / name).write_bytes(gzip.compress(data) if i % 2 else data)
        expected[name.removesuffix(".gz")] = data
    multisport = data_dir / "fit" / "fitparse__activity-large-fenxi2-multisport.fit"
    shutil.copy(multisport, folder / multisport.name)
    expected[multisport.name] = multisport.read_bytes()
    options = ImportOptions(workers=2, sports=frozenset({"run", "other"}))

    first = run_import(engine, [folder], options)
    assert first.sources[0].imported == 12 + 7  # the multisport file holds seven sessions
    rows = session.execute(
        sa.select(SourceFileRow, ActivityRow.source_sha256).join(
            ActivityRow, ActivityRow.id == SourceFileRow.activity_id
        )
    ).all()
    assert len(rows) == store.count_activities(session, athlete_id) == 19
    for row, activity_sha in rows:
        data = originals.unpack(row.blob)
        assert data == expected[row.name], row.name
        assert row.sha256 == activity_sha == hashlib.sha256(data).hexdigest() and row.size == len(data)
        assert row.format == Path(row.name).suffix[1:]
        gzipped = folder / f"{row.name}.gz"
        if gzipped.exists():  # arrived gzipped: that gzip stream is kept as it is, not compressed again
            assert row.blob == gzipped.read_bytes()
    # One multisport file, seven activities: kept with each, so deleting one loses no other's original.
    multi = [row.activity_id for row, _ in rows if row.name == multisport.name]
    assert len(multi) == 7

    again = run_import(engine, [folder], options)
    assert again.sources[0].imported == 0 and again.sources[0].n_duplicates == 13
    assert session.scalar(sa.select(sa.func.count()).select_from(SourceFileRow)) == 19

    session.execute(sa.delete(ActivityRow).where(ActivityRow.id == multi[0]))
    session.commit()
    left = set(session.scalars(sa.select(SourceFileRow.activity_id)))
    assert multi[0] not in left and set(multi[1:]) <= left and len(left) == 18
