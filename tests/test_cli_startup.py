"""The commands a runner types most start fast: `add-run`, `runs` and `status` load only what they need.

Speed itself is measured by bench/cli_startup.py (figures against today's code in the same run, never a timed
test); here the deterministic part: which heavy modules each command imports.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each of these costs 0.1-0.3 s to import, and none is needed to log, list or summarise runs.
HEAVY = ("numpy", "alembic", "vl_convert", "altair", "fastapi", "uvicorn", "pandas")


def imported(cli_env: dict[str, str], *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "strideguard", *args],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    "args",
    [
        ("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "55min"),
        ("runs",),
        ("status",),
        ("weeks",),
    ],
    ids=lambda args: args[0],
)
def test_everyday_commands_load_no_numpy_alembic_or_chart_renderer(cli_env, engine, args):
    # `engine` has migrated the database, so the command finds it current (as every run after the first).
    modules = imported(cli_env, *args)
    assert "sqlalchemy" in modules  # the command really ran against the database
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == [], f"{args[0]} loads {loaded}"


@pytest.mark.parametrize(
    "args",
    [("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "55min"), ("runs",)],
    ids=lambda args: args[0],
)
def test_logging_and_listing_runs_load_no_risk_rules_or_yaml(cli_env, engine, args):
    # Only `runs set-sport` looks an activity up by reference; that lookup no longer drags in the risk
    # commands (the rules, PyYAML, the pain and triage text) for every `runs` and `add-run`.
    modules = imported(cli_env, *args)
    assert "strideguard.storage.activities" in modules
    loaded = sorted(
        m
        for m in modules
        if m.split(".")[0] == "yaml" or m in {"strideguard.cli.load", "strideguard.training.risk_rules"}
    )
    assert loaded == [], f"{args[0]} loads {loaded}"


# Prints, when the process ends, how many objects the cyclic garbage collector was told to leave alone
# and whether it is on; then runs the CLI as `python -m strideguard` does, or by calling `main` directly.
_GC_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("gc", gc.get_freeze_count(), gc.isenabled(), file=sys.stderr))
mode, sys.argv = sys.argv[1], ["strideguard", *sys.argv[2:]]
if mode == "program":
    from strideguard.__main__ import run
    run()
else:
    from strideguard.cli import main
    main(prog_name="strideguard")
"""


def _gc_at_exit(cli_env: dict[str, str], mode: str, *args: str) -> tuple[int, bool]:
    command = [sys.executable, "-c", _GC_PROBE, mode, *args]
    done = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=True)
    count, enabled = done.stderr.strip().splitlines()[-1].split()[1:]
    return int(count), enabled == "True"


def test_the_program_keeps_the_garbage_collector_off_what_it_imported(cli_env, engine):
    # The modules a command imports live until exit: frozen, the collector neither walks them while the
    # command runs nor once more at exit. It is on again for the command itself.
    count, enabled = _gc_at_exit(cli_env, "program", "runs")
    assert count > 10_000
    assert enabled


def test_calling_main_as_a_library_leaves_the_garbage_collector_alone(cli_env, engine):
    # Tests and other callers of `main` (click's CliRunner) keep Python's usual collector: nothing frozen.
    count, enabled = _gc_at_exit(cli_env, "library", "runs")
    assert count == 0
    assert enabled


def test_a_database_behind_the_code_is_still_upgraded(tmp_path, cli_env):
    # The fast path only recognises a current database; an empty one goes through Alembic as before.
    cli_env["STRIDEGUARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'new.sqlite'}"
    done = subprocess.run(
        [sys.executable, "-m", "strideguard", "db", "upgrade"], env=cli_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    from strideguard.storage import engine as db

    assert f"schema version {db.head_revision()}" in done.stdout.replace("\n", "")
    assert db._shipped_head() == db.head_revision()
