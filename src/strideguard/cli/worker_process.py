"""The import worker `serve` starts beside the web server: a `strideguard worker` child process.

Imports are CPU work (decoding, hashing, summaries). Run in the server's own process they hold its GIL
and its CPU while runners wait for pages; in a child process at a lower priority they use what the
pages leave. One child serves every server process of `serve --workers N` (they share the job queue).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from strideguard import config

log = logging.getLogger(__name__)

POLL_S = 0.5  # the child looks for new uploads this often (a cheap indexed query)
STOP_WAIT_S = 12.0  # SIGTERM lets the child put its running job back; then it is killed
RESTART_DELAY_S = 2.0  # a child that died is started again after this long


class ImportWorkerProcess:
    """Start, watch and stop one `strideguard worker` child for the lifetime of `serve`.

    The child runs in its own session so that Ctrl+C in the terminal reaches only `serve`, which then
    stops the child with SIGTERM (the child puts an unfinished job back in the queue). If `serve` dies
    without stopping it (kill -9), the child notices its parent is gone and stops itself. A child that
    dies on its own (killed, out of memory) is started again.
    """

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="import-worker-watch", daemon=True)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "strideguard",
            "worker",
            "--poll",
            str(POLL_S),
            "--child-of",
            str(os.getpid()),
        ]

    def _spawn(self) -> None:
        # The database URL goes through the environment, never argv (a password would show in `ps`).
        env = dict(os.environ, **{config.DATABASE_URL_ENV: self.db_url})
        self.process = subprocess.Popen(
            self.command(), env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def start(self) -> None:
        with self._lock:
            self._spawn()
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is not None and process.poll() is not None:
                if self._stopping.wait(RESTART_DELAY_S):
                    return
                log.warning(
                    "The import worker stopped (exit status %s); starting it again.", process.returncode
                )
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._spawn()
            self._stopping.wait(0.5)

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_WAIT_S for the child to put its job back, then kill it."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def watch_parent(parent_pid: int, stop: threading.Event, every_s: float = 0.5) -> None:
    """In the child: set `stop` once `parent_pid` is no longer this process's parent (it died)."""

    def watch() -> None:
        while not stop.wait(every_s):
            if os.getppid() != parent_pid:
                stop.set()
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def lower_priority(step: int = 10) -> None:
    """Make this process yield the CPU to the web server's (Unix `nice`); harmless where unsupported."""
    try:
        os.nice(step)
    except (AttributeError, OSError):
        pass
