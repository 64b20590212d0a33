"""`strideguard import` and `strideguard imports`, run as a user would: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

import exportgen
from strideguard.storage.tables import ActivityRow, ImportItemRow, ImportRow, StreamRow


def _strava(tmp_path: Path, n: int = 5, minutes: float = 3) -> Path:
    runs = exportgen.simulated_runs(n + 1, minutes=minutes)
    entries = list(exportgen.iter_strava_entries(runs[:n]))
    entries.append(exportgen.StravaEntry(77, runs[n], type_name="Ride", name="Bike"))
    entries.append(
        exportgen.StravaEntry(
            78,
            None,
            name="Treadmill",
            manual_distance_m=6000.0,
            manual_time_s=1900.0,
            manual_start=datetime(2025, 1, 2, 7, tzinfo=UTC),
        )
    )
    return exportgen.write_strava_export(
        tmp_path / "export_12345.zip", entries, shoes=[("Pegasus 39", "Nike", "Pegasus 39")]
    )


def test_import_strava_export_prints_summary_and_is_listed(run_cli, tmp_path: Path) -> None:
    path = _strava(tmp_path)
    done = run_cli("import", str(path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Strava export, import #1" in out
    assert "imported: 6 activities (1 without a file, from the export's activity list)" in out
    assert "skipped by sport: Ride 1 (use --sports all to import them)" in out
    assert "shoes created: Pegasus 39, Trail Shoe" in out
    assert "Traceback" not in done.stderr
    listed = run_cli("imports")
    assert listed.returncode == 0
    assert "Strava export" in listed.stdout and "finished" in listed.stdout
    rows = json.loads(run_cli("imports", "--json").stdout)
    assert [(r["import_id"], r["kind"], r["imported"], r["status"]) for r in rows] == [
        (1, "strava", 6, "finished")
    ]
    detail = run_cli("imports", "1")
    assert "imported: 6 activities" in detail.stdout


def test_import_json_summary_and_reimport_duplicates(run_cli, tmp_path: Path) -> None:
    path = _strava(tmp_path)
    first = json.loads(run_cli("import", str(path), "--json").stdout)
    assert (first["imported"], first["failed"]) == (6, 0)
    assert first["sources"][0]["skipped_by_sport"] == {"Ride": 1}
    runs = exportgen.simulated_runs(2, minutes=3)
    (tmp_path / "again.fit").write_bytes(exportgen.fit_bytes(runs[0]))
    second = run_cli("import", str(tmp_path / "again.fit"))
    assert second.returncode == 0
    assert "duplicates: 1" in second.stdout
    assert "again.fit: duplicate of #" in second.stdout


def test_failed_file_exits_1_with_a_one_line_reason(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "broken.fit"
    bad.write_bytes(b"\x0e\x10" + b"\x00" * 30)
    good = tmp_path / "good.gpx"
    good.write_bytes(exportgen.gpx_bytes(exportgen.simulated_runs(1, minutes=3)[0]))
    done = run_cli("import", str(bad), str(good), str(tmp_path / "missing.tcx"))
    assert done.returncode == 1
    assert "imported: 1 activity\n" in done.stdout
    assert "broken.fit: " in done.stdout
    assert "missing.tcx: no such file or folder" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_piped_output_keeps_each_failure_on_one_line(run_cli, cli_env, tmp_path: Path) -> None:
    # Rich would wrap at 80 columns when not writing to a terminal; a log must keep "file: reason" whole.
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "nested"
    deep.mkdir(parents=True)
    bad = deep / "broken-activity-file-with-a-long-name.fit"
    bad.write_bytes(b"\x0e\x10" + b"\x00" * 30)
    del cli_env["COLUMNS"]
    done = run_cli("import", str(bad))
    assert done.returncode == 1
    name = "broken-activity-file-with-a-long-name.fit: "
    (line,) = [line for line in done.stdout.splitlines() if name in line]
    assert len(line) > 80 and line.strip().startswith(str(deep)) and "FIT" in line.split(name, 1)[1]


def test_hostile_archive_is_refused_with_a_message(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "overlap.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.fit", b"x" * 100)
        archive.writestr("b.fit", b"y" * 100)
    data = bytearray(path.read_bytes())
    second = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    data[second + 42 : second + 46] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    done = run_cli("import", str(path))
    assert done.returncode == 1
    assert "refused: overlapping entries 'a.fit' and 'b.fit'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_bomb_member_is_reported_and_the_rest_imported(run_cli, tmp_path: Path) -> None:
    runs = exportgen.simulated_runs(2, minutes=3)
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("runs/a.fit", exportgen.fit_bytes(runs[0]))
        archive.writestr("runs/b.fit", exportgen.fit_bytes(runs[1]))
        archive.writestr("runs/bomb.fit", bytes(40 * 1024 * 1024))
        archive.writestr("../escape.fit", b"x")
    done = run_cli("import", str(path), "--json")
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    source = summary["sources"][0]
    assert (source["kind"], source["imported"]) == ("zip", 2)
    failed = {f["file"]: f["reason"] for f in source["failed_list"]}
    assert "zip bomb" in failed["runs/bomb.fit"]
    assert "'..'" in failed["../escape.fit"]
    assert not (tmp_path.parent / "escape.fit").exists()


def test_unknown_sport_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    done = run_cli("import", str(tmp_path), "--sports", "run,swim")
    assert done.returncode == 2
    assert "unknown sport 'swim'" in done.stderr


def test_help_shows_examples(run_cli) -> None:
    for command in ("import", "imports"):
        done = run_cli(command, "--help")
        assert done.returncode == 0
        assert "Example:" in done.stdout


def test_sigkill_mid_import_then_rerun_loses_and_duplicates_nothing(
    run_cli, cli_env, engine: sa.Engine, tmp_path: Path
) -> None:
    n = 200
    runs = exportgen.simulated_runs(n, minutes=2)
    path = exportgen.write_strava_export(tmp_path / "export.zip", list(exportgen.iter_strava_entries(runs)))
    command = [sys.executable, "-m", "strideguard", "import", str(path), "--batch-size", "5", "--no-progress"]
    proc = subprocess.Popen(
        command, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    committed = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with engine.connect() as connection:
                    committed = connection.scalar(sa.select(sa.func.count()).select_from(ImportItemRow)) or 0
            except sa.exc.DBAPIError:
                committed = 0  # schema not created yet, or the database is busy
            if committed >= 10:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the import finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, at once
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with engine.connect() as connection:
        items = connection.scalar(sa.select(sa.func.count()).select_from(ImportItemRow))
        activities = connection.scalar(sa.select(sa.func.count()).select_from(ActivityRow))
        with_streams = connection.scalar(sa.select(sa.func.count()).select_from(StreamRow))
    assert 10 <= items < n
    assert activities == items == with_streams  # every committed item has its whole activity, nothing more

    done = run_cli("import", str(path), "--json")
    assert done.returncode == 0, done.stderr
    source = json.loads(done.stdout)["sources"][0]
    assert source["resumed_items"] == items
    assert source["imported"] == n
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(ActivityRow)) == n
        distinct = connection.scalar(sa.select(sa.func.count(sa.distinct(ActivityRow.source_sha256))))
        assert distinct == n
        assert connection.scalar(sa.select(sa.func.count()).select_from(StreamRow)) == n
        assert connection.scalar(sa.select(sa.func.count()).select_from(ImportRow)) == 1
        assert connection.scalar(sa.select(sa.func.count()).select_from(ImportItemRow)) == n
