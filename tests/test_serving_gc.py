"""Every server process runs with the garbage collector's server settings (web/serving_gc.py, issue 13):
`serve` with one process and each process of `serve --workers N`, and no other command. Checked in real
child processes, since the settings are process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from strideguard.web import serving_gc

SERVING = [serving_gc.YOUNG_THRESHOLD, serving_gc.MIDDLE_THRESHOLD, serving_gc.OLD_THRESHOLD]


def _child(code: str, tmp_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"STRIDEGUARD_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(line)


def test_serve_with_one_process_tunes_the_collector_before_it_serves(tmp_path: Path) -> None:
    seen = _child(
        f"""
        import gc, json
        from strideguard.cli import web

        class Server:  # stands in for uvicorn's: reports what the process runs with, instead of serving
            started, should_exit = True, False
            def __init__(self, config):
                pass
            def run(self):
                print(json.dumps({{"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}}))

        web._server_class = lambda: Server
        web.serve_app("sqlite:///{tmp_path / "sg.db"}", port=0, run_worker=False)
        """,
        tmp_path,
    )
    assert seen["threshold"] == SERVING and seen["frozen"] > 10_000


def test_each_process_of_serve_workers_tunes_the_collector(tmp_path: Path) -> None:
    seen = _child(
        f"""
        import gc, json
        from pathlib import Path
        from strideguard.web.app import app_from_environment, settings_to_environment
        from strideguard.web.common import Settings

        url = "sqlite:///{tmp_path / "sg.db"}"
        settings_to_environment(Settings(db_url=url, data_dir=Path("{tmp_path}")))
        before = gc.get_threshold()
        app_from_environment()
        after = {{"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}}
        print(json.dumps({{"before": before, **after}}))
        """,
        tmp_path,
    )
    assert seen["before"] != SERVING, "a plain Python process starts with Python's defaults"
    assert seen["threshold"] == SERVING and seen["frozen"] > 10_000
