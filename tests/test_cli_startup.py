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
