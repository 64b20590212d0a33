"""Opening a database StrideGuard cannot use says why in one line, the same from every command and `serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from strideguard.storage import engine as db


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strideguard", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    return line


def test_database_from_a_newer_strideguard_says_so_in_one_line(cli_env, engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    lines = {
        _one_line_error(_run(cli_env, *command))
        for command in (
            ("runs",),
            ("db", "upgrade"),
            ("serve", "--port", _free_port()),
            ("serve", "--port", _free_port(), "--workers", "2"),
        )
    }
    (line,) = lines  # the same message from every command
    assert "was written by a newer StrideGuard (schema version 0099" in line
    assert f"this version knows up to {db.head_revision()}" in line and "upgrade StrideGuard" in line
    assert "Can't locate revision" not in line


def test_serve_on_a_file_that_is_not_a_database_gives_the_cli_message(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("shopping list: shoes, socks\n" * 100)
    env = {**os.environ, "STRIDEGUARD_DATA_DIR": str(tmp_path / "data")}
    env.pop("STRIDEGUARD_DATABASE_URL", None)
    url = f"sqlite:///{path}"
    cli = _one_line_error(_run(env, "--db", url, "runs"))
    served = _one_line_error(_run(env, "--db", url, "serve", "--port", _free_port()))
    assert cli == served == f"Error: cannot open SQLite database {path}: file is not a database"
