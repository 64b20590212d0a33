"""What `strideguard import` says about odd input and re-imports, and the time it reports (issue 11)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import exportgen


def test_text_file_named_zip_says_it_is_not_a_zip_archive(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "export_12345.zip"
    path.write_text("<html>Your download has expired</html>\n")
    done = run_cli("import", str(path))
    assert done.returncode == 1
    assert f"{path.resolve()}: not a ZIP archive" in done.stdout.replace("\n", "")
    assert "not a FIT, GPX or TCX file" not in done.stdout


def test_zip_without_activity_files_says_what_was_inside(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("IMG_0001.jpg", b"\xff\xd8 not really")
        archive.writestr("notes/plan.pdf", b"%PDF-1.4")
    done = run_cli("import", str(path))
    assert done.returncode == 0, done.stderr  # nothing failed (docs/cli.md): it only had nothing to import
    out = " ".join(done.stdout.split())
    assert "no activity files in this archive: it holds 2 files (IMG_0001.jpg, notes/plan.pdf)" in out
    assert "StrideGuard reads .fit, .gpx and .tcx files" in out


def test_reimport_with_nothing_new_does_not_say_the_manual_entry_was_imported(
    run_cli, tmp_path: Path
) -> None:
    runs = exportgen.simulated_runs(2, minutes=3)
    entries = list(exportgen.iter_strava_entries(runs))
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
    path = exportgen.write_strava_export(tmp_path / "export_12345.zip", entries)
    first = run_cli("import", str(path))
    assert first.returncode == 0, first.stderr
    assert "1 manual entry in activities.csv (no file): 1 imported from the CSV" in first.stdout
    again = run_cli("import", str(path))
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stdout
    assert "imported from the CSV" not in again.stdout
    assert "1 manual entry in activities.csv (no file): none new to import" in again.stdout


def test_summary_time_is_the_whole_commands_time(cli_env, tmp_path: Path) -> None:
    """The process is held (SIGSTOP) before it imports anything: that wait is part of what the runner
    waited for, so the Total's time covers it (it used to add up only the time inside each source)."""
    folder = tmp_path / "watch"
    folder.mkdir()
    for i, run in enumerate(exportgen.simulated_runs(2, minutes=2)):
        (folder / f"run{i}.fit").write_bytes(exportgen.fit_bytes(run))
    held_s = 3.0
    proc = subprocess.Popen(
        [sys.executable, "-m", "strideguard", "import", str(folder)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(held_s)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    total = re.search(r"Total: .* in ([\d.]+) s", out)
    assert total is not None, out
    assert float(total.group(1)) >= held_s - 0.1  # /proc's clock ticks are 10 ms


def test_json_of_a_zip_without_activity_files_keeps_the_note(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w"):
        pass
    done = run_cli("import", str(path), "--json")
    assert done.returncode == 0, done.stderr
    (source,) = json.loads(done.stdout)["sources"]
    assert any("no activity files in this archive: it is empty" in note for note in source["notes"])
