"""Findings of a CLI walk-through as a new runner, each checked through the real `strideguard` command."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest

import exportgen

BRACKETED = "[/red] recovery [race] Parkrun PB"


def _add(run_cli, *extra: str, day: str = "2026-05-01", distance: str = "10km"):
    return run_cli("add-run", "--date", day, "--distance", distance, "--duration", "55min", *extra)


# --- 1. user text is never rich markup -----------------------------------------------------------------


def test_bracketed_user_text_prints_as_written_everywhere(run_cli, tmp_path: Path):
    assert _add(run_cli, "--name", BRACKETED).returncode == 0
    runs = run_cli("runs")
    assert runs.returncode == 0, runs.stderr
    assert BRACKETED in runs.stdout
    assert "Traceback" not in runs.stderr

    note = "[/b] tight [calf]"
    added = run_cli(
        "pain", "add", "--region", "calf", "--side", "left", "--score", "3", "--when", "after", "--note", note
    )
    assert added.returncode == 0, added.stderr
    pain = run_cli("pain", "list")
    assert pain.returncode == 0 and note in pain.stdout, pain.stderr

    shoe = run_cli("shoes", "add", "[/x] Shoe", "--brand", "[b]rand")
    assert shoe.returncode == 0 and "[/x] Shoe ([b]rand)" in shoe.stdout, shoe.stderr
    listed = run_cli("shoes", "list")
    assert listed.returncode == 0 and "[/x] Shoe ([b]rand)" in listed.stdout, listed.stderr

    folder = tmp_path / "[b]watch [x]"
    folder.mkdir()
    (folder / "[i] run.gpx").write_bytes(exportgen.gpx_bytes(exportgen.simulated_runs(1, minutes=3)[0]))
    (folder / "[red]broken.fit").write_bytes(b"\x0e\x10" + b"\x00" * 30)
    done = run_cli("import", str(folder))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(folder) in done.stdout and "[red]broken.fit: " in done.stdout
    history = run_cli("imports", "1")
    assert history.returncode == 0 and str(folder) in history.stdout, history.stderr


def test_damaged_marker_shows_in_runs(run_cli, data_dir: Path):
    # A FIT file whose records are partly broken is imported but marked damaged.
    damaged = json.loads(run_cli("import", "--json", str(data_dir / "fit")).stdout)
    names = [d["file"] for s in damaged["sources"] for d in s["damaged_list"]]
    if not names:
        pytest.skip("no damaged file among the shared FIT samples")
    assert "[damaged]" in run_cli("runs").stdout


# --- 2, 4. input bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["1900-01-01", "1989-12-31", (date.today() + timedelta(days=2)).isoformat()])
def test_dates_outside_1990_to_today_are_refused(run_cli, day):
    run = _add(run_cli, day=day)
    assert run.returncode == 2 and "--date" in run.stderr and day in run.stderr
    pain = run_cli(
        "pain", "add", "--region", "calf", "--side", "left", "--score", "3", "--when", "after", "--date", day
    )
    assert pain.returncode == 2 and "--date" in pain.stderr
    assert json.loads(run_cli("runs", "--json").stdout) == []


def test_bare_distances_need_a_unit_above_200_and_durations_are_checked(run_cli):
    refused = _add(run_cli, distance="5000")
    assert refused.returncode == 2 and "5000: give a unit, e.g. 5000m or 5km" in refused.stderr
    plan = run_cli("plan", "5000")
    assert plan.returncode == 2 and "give a unit" in plan.stderr
    assert _add(run_cli, distance="12").returncode == 0  # a bare 12 is km
    assert json.loads(run_cli("runs", "--json").stdout)[0]["distance_m"] == 12000
    for duration in ("1h65m", "1m75s", "45:75"):
        bad = run_cli("add-run", "--date", "2026-05-02", "--distance", "5km", "--duration", duration)
        assert bad.returncode == 2 and "--duration" in bad.stderr and "below 60" in bad.stderr, duration
    for offset in ("+15:00", "-13:00"):
        bad = _add(run_cli, "--utc-offset", offset, day="2026-05-03")
        assert bad.returncode == 2 and "-12:00 to +14:00" in bad.stderr
    assert _add(run_cli, "--utc-offset", "+14:00", day="2026-05-03").returncode == 0


# --- 3, 5, 6. weeks, duplicates, filters -----------------------------------------------------------------


def test_weeks_since_starts_at_the_monday_so_weeks_are_whole(run_cli):
    for day in ("2026-04-27", "2026-04-29", "2026-05-01"):  # Mon, Wed, Fri of 2026-W18
        assert _add(run_cli, day=day, distance="5km").returncode == 0
    weeks = json.loads(run_cli("weeks", "--json", "--since", "2026-04-30", "--until", "2026-05-01").stdout)
    assert weeks == [
        {"week": "2026-W18", "monday": "2026-04-27", "distance_m": 15000.0, "duration_s": 9900.0, "runs": 3}
    ]
    assert "Monday" in run_cli("weeks", "--help").stdout


def test_the_same_run_twice_is_refused_unless_forced(run_cli):
    assert _add(run_cli).returncode == 0
    again = _add(run_cli)
    assert again.returncode == 1
    assert "already logged as #1 (use --force to add it anyway)" in again.stderr
    assert _add(run_cli, "--time", "18:00").returncode == 0  # another start is another run
    assert _add(run_cli, "--force").returncode == 0
    assert len(json.loads(run_cli("runs", "--json").stdout)) == 3


def test_empty_filters_and_an_empty_log_say_different_things(run_cli):
    assert "No activities yet" in run_cli("runs").stdout
    _add(run_cli)
    walks = run_cli("runs", "--sport", "walk")
    assert walks.returncode == 0 and "No activities match these filters" in walks.stdout
    assert "No activities yet" not in walks.stdout
    reversed_range = run_cli("runs", "--since", "2026-05-02", "--until", "2026-05-01")
    assert reversed_range.returncode == 2 and "--since 2026-05-02 is after --until 2026-05-01" in (
        reversed_range.stderr
    )
    title = run_cli("runs").stdout.splitlines()[0]
    assert title.strip() == "1 activity"  # the table title, singular


# --- 7, 8. the database ---------------------------------------------------------------------------------


def test_bad_db_urls_are_refused_before_anything_is_created(run_cli, tmp_path: Path):
    typo = tmp_path / "no-such-folder" / "log.sqlite"
    result = run_cli("--db", f"sqlite:///{typo}", "runs")
    assert result.returncode == 2 and f"folder {typo.parent} does not exist" in result.stderr
    assert not typo.parent.exists()
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        memory = run_cli("--db", url, "runs")
        assert memory.returncode == 2 and "in-memory" in memory.stderr, url
    empty = run_cli("--db", "", "runs")
    assert empty.returncode == 2 and "--db" in empty.stderr and "empty" in empty.stderr
    mysql = run_cli("--db", "mysql://u@127.0.0.1/x", "runs")
    assert mysql.returncode == 1 and "no driver for mysql: install" in mysql.stderr
    assert "MySQLdb" not in mysql.stderr and len(mysql.stderr.strip().splitlines()) == 1


def test_default_database_still_creates_its_folder(run_cli, cli_env):
    del cli_env["STRIDEGUARD_DATABASE_URL"]
    assert run_cli("runs").returncode == 0
    assert (Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "strideguard.sqlite").is_file()


def _read_only_run(cli_env: dict[str, str], folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with `folder` read-only: by permissions, or for root (who ignores them) by a read-only
    bind mount in a private mount namespace."""
    command = [sys.executable, "-m", "strideguard", *args]
    if os.geteuid() != 0:
        return subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=120)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *command],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ("mount" in done.stderr and "ermission" in done.stderr) or "unshare failed" in done.stderr:
        pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()}")
    return done


def test_read_only_sqlite_database_can_be_read(run_cli, cli_env, tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "log.sqlite"
    cli_env["STRIDEGUARD_DATABASE_URL"] = f"sqlite:///{path}"
    assert _add(run_cli, "--name", "Kept").returncode == 0
    with sqlite3.connect(path) as connection:  # leave one file, as a copied or backed-up database is
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        runs = _read_only_run(cli_env, folder, "runs", "--json")
        assert runs.returncode == 0, runs.stderr
        assert [r["name"] for r in json.loads(runs.stdout)] == ["Kept"]
        write = _read_only_run(
            cli_env, folder, "add-run", "--date", "2026-05-02", "--distance", "5km", "--duration", "30min"
        )
        assert write.returncode == 1 and "read-only" in write.stderr and "Traceback" not in write.stderr
        # An old schema cannot be upgraded in place: say so.
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE alembic_version SET version_num = '0001'")
            connection.execute("DROP TABLE IF EXISTS import_jobs")
            connection.commit()
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.chmod(path, 0o444)
        os.chmod(folder, 0o555)
        old = _read_only_run(cli_env, folder, "runs")
        assert old.returncode == 1 and "read-only" in old.stderr and "upgrade" in old.stderr, old.stderr
        assert len(old.stderr.strip().splitlines()) == 1
    finally:
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)


# --- 9, 10. imports --------------------------------------------------------------------------------------


def test_rerunning_a_finished_import_says_nothing_new(run_cli, tmp_path: Path):
    archive = tmp_path / "watch.zip"
    runs = exportgen.simulated_runs(2, minutes=3)
    with zipfile.ZipFile(archive, "w") as zf:
        for i, run in enumerate(runs):
            zf.writestr(f"run{i}.gpx", exportgen.gpx_bytes(run))
    first = run_cli("import", str(archive))
    assert first.returncode == 0 and "imported: 2 activities" in first.stdout, first.stdout
    again = run_cli("import", str(archive))
    assert again.returncode == 0, again.stderr
    assert "nothing new: all 2 items were done by an earlier run (import #1)" in again.stdout
    assert "Total: 0 imported, 0 duplicates, 0 skipped, 0 failed" in again.stdout
    data = json.loads(run_cli("import", "--json", str(archive)).stdout)
    assert data["imported"] == 2 and data["this_run"]["imported"] == 0  # old keys kept, this run added


def test_import_arguments_that_cannot_be_read_fail_alone(run_cli, tmp_path: Path):
    good = tmp_path / "good.gpx"
    good.write_bytes(exportgen.gpx_bytes(exportgen.simulated_runs(1, minutes=3)[0]))
    empty = tmp_path / "empty"
    empty.mkdir()
    too_long = tmp_path / ("x" * 300)
    done = run_cli("import", str(good), str(tmp_path / "missing.gpx"), str(too_long), str(empty))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "missing.gpx: no such file or folder" in done.stdout
    assert "cannot read (File name too long)" in done.stdout
    assert f"no activity files found in {empty}" in done.stdout
    assert "imported: 1 activity\n" in done.stdout
    history = json.loads(run_cli("imports", "--json").stdout)
    assert len(history) == 1 and history[0]["failed"] == 0  # the bad paths are not an import
    nothing = run_cli("import", str(tmp_path / "missing.gpx"))
    assert nothing.returncode == 1 and len(json.loads(run_cli("imports", "--json").stdout)) == 1


# --- 11, 12. exit codes and shoes ------------------------------------------------------------------------


def test_unknown_ids_are_bad_input_exit_2(run_cli):
    for args in (
        ("shoes", "retire", "nosuch"),
        (
            "pain",
            "add",
            "--region",
            "calf",
            "--side",
            "left",
            "--score",
            "3",
            "--when",
            "after",
            "--activity",
            "9999",
        ),
        ("imports", "9999"),
        ("shoes", "assign", "none", "9999"),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1


def test_shoe_names_are_unique_and_not_ids_and_state_changes_say_what_happened(run_cli):
    assert run_cli("shoes", "add", "Trail beasts").returncode == 0
    for name in ("Trail beasts", "trail BEASTS"):
        dup = run_cli("shoes", "add", name)
        assert dup.returncode == 2 and "already called 'Trail beasts'" in dup.stderr
    digits = run_cli("shoes", "add", "3")
    assert digits.returncode == 2 and "looks like a shoe id" in digits.stderr
    assert "Retired" in run_cli("shoes", "retire", "1").stdout
    assert "already retired" in run_cli("shoes", "retire", "1").stdout
    assert run_cli("shoes", "add", "trail beasts").returncode == 0  # the name is free once retired
    restore = run_cli("shoes", "restore", "1")  # ...so the old pair cannot come back under it
    assert restore.returncode == 2 and "already called" in restore.stderr
    assert "is not retired" in run_cli("shoes", "restore", "2").stdout
    run_cli("shoes", "add", "Road", "--default-for", "run")
    moved = run_cli("shoes", "set-default", "2")
    assert "go on #2 trail beasts (was: #3 Road)" in moved.stdout


# --- 13 is in test_routine_cli.py; 14, 15 ---------------------------------------------------------------


def test_cli_start_up_loads_no_charts_or_web_server():
    code = (
        "import sys, strideguard.cli; "
        "print(sorted(m for m in ('altair', 'numpy', 'sqlalchemy', 'fastapi', 'uvicorn', 'vl_convert') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    version = subprocess.run(
        [sys.executable, "-m", "strideguard", "--version"], capture_output=True, text=True, check=True
    )
    assert "strideguard, version" in version.stdout


def test_every_command_is_in_the_lazy_map():
    from strideguard.cli import COMMAND_MODULES, LazyGroup, main

    assert isinstance(main, LazyGroup)
    main.load_all()
    assert set(main.commands) == set(COMMAND_MODULES)
    for name, feature in COMMAND_MODULES.items():
        assert main.commands[name].callback.__module__ == f"strideguard.cli.{feature}", name


def test_demo_summary_names_the_weeks_it_shows(run_cli):
    done = run_cli("demo", "--weeks", "4", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Last 8 weeks" not in done.stdout
    line = next(line for line in done.stdout.splitlines() if line.startswith("Last "))
    shown = line.count(" km")
    assert line.startswith(f"Last {shown} weeks:") and shown <= 5
