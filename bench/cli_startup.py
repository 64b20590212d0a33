"""How long `strideguard add-run`, `runs` and `status` take from start to exit, against a peer in one run.

The peer is the same commands from another git revision (default: main, today's code), unpacked into a
temporary folder and run with the same Python and packages, on the same database, interleaved with this
tree's runs so machine load hits both alike. Also printed: Python's own start, `--version`, and importing
SQLAlchemy's ORM (a floor every command that opens the database pays).

    python bench/cli_startup.py                 # against main
    python bench/cli_startup.py --against HEAD~3 --runs 15

Byte-code is written for both trees first (in a temporary folder, even where PYTHONDONTWRITEBYTECODE is
set), as on a machine where StrideGuard is installed. Prints per command the min and median wall time, the
min CPU time (user + system of the process: on a busy machine the wall time counts the waits for a core,
CPU time is what the command itself costs, which is the warm idle machine's wall time), and the import
count; the target is under 0.4 s for add-run, runs and status. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 0.4


def make_history(url: str, days: int = 365) -> None:
    """A year of runs (4 a week) and a shoe, saved through the store as `add-run` would."""
    sys.path.insert(0, str(REPO / "src"))
    from strideguard.storage import activities as store
    from strideguard.storage import engine as db
    from strideguard.storage import shoes as shoe_store

    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_factory(engine)() as session:
        athlete = store.local_athlete(session)
        shoe = shoe_store.add_shoe(session, athlete, "Daily")
        shoe_store.set_default(session, athlete, shoe.id, "run")
        end = date.today()
        for n in range(days):
            day = end - timedelta(days=days - n)
            if day.weekday() in (1, 3, 5, 6):
                km = 16 if day.weekday() == 6 else 8
                start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=7)
                run = store.manual_activity(start, km * 1000, km * 330, rpe=5)
                store.save_activity(session, athlete, run)
        session.commit()
    engine.dispose()


def unpack(revision: str, into: Path) -> Path:
    """`git archive REVISION src` unpacked into `into`; returns its src folder."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO), "archive", revision, "src"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def imports(cmd: list[str], env: dict[str, str]) -> int:
    """How many modules the command imports (python -X importtime lines)."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True, check=True
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--runs", type=int, default=11, help="runs per command and tree (default 11)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
        make_history(url)
        peer_src = unpack(args.against, tmp / "peer")
        base_env = {
            **os.environ,
            "STRIDEGUARD_DATABASE_URL": url,
            "STRIDEGUARD_DATA_DIR": str(tmp / "data"),
            "COLUMNS": "120",
            # A warm machine has byte-code for every module (pip writes it on install). Where the environment
            # forbids writing it (PYTHONDONTWRITEBYTECODE), each run would compile the sources again; so both
            # trees and their libraries keep byte-code in a folder of their own for the benchmark's length.
            "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        }
        base_env.pop("PYTHONDONTWRITEBYTECODE", None)
        trees = {
            "this tree": {**base_env, "PYTHONPATH": str(REPO / "src")},
            f"{args.against}": {**base_env, "PYTHONPATH": str(peer_src)},
        }
        py = sys.executable
        day = date.today() - timedelta(days=400)
        commands: dict[str, list[str]] = {
            "python -c pass": [py, "-c", "pass"],
            "import sqlalchemy.orm": [py, "-c", "import sqlalchemy.orm"],
            "--version": [py, "-m", "strideguard", "--version"],
            "runs --limit 20": [py, "-m", "strideguard", "runs", "--limit", "20"],
            "status": [py, "-m", "strideguard", "status"],
            "add-run": [py, "-m", "strideguard", "add-run", "--distance", "8km", "--duration", "44min"],
        }
        # Warm the file cache and the byte-code of both trees first.
        for env in trees.values():
            for cmd in commands.values():
                extra = ["--date", day.isoformat(), "--force"] if "add-run" in cmd else []
                subprocess.run(cmd + extra, env=env, capture_output=True)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        counter = 0
        for _ in range(args.runs):
            for name, cmd in commands.items():
                for tree, env in trees.items():  # interleaved: load hits both trees alike
                    full = cmd
                    if name == "add-run":
                        counter += 1
                        full = [*cmd, "--date", (day + timedelta(days=counter % 300)).isoformat(), "--force"]
                    times.setdefault((name, tree), []).append(timed(full, env))
        print(
            f"CLI start to exit, {args.runs} runs each, interleaved; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end"
        )
        header = "".join(f"{t + ': wall min / median, CPU min':>44}" for t in trees)
        print(f"{'command':<24}{header}{'modules imported':>20}")
        for name, cmd in commands.items():
            row = f"{name:<24}"
            for tree in trees:
                wall = [w for w, _ in times[(name, tree)]]
                cpu = [c for _, c in times[(name, tree)]]
                row += f"{min(wall):>21.3f} s / {statistics.median(wall):.3f} s, {min(cpu):.3f} s"
            counts = []
            for env in trees.values():
                counter += 1
                extra = ["--date", (day + timedelta(days=counter % 300)).isoformat(), "--force"]
                counts.append(str(imports(cmd + (extra if name == "add-run" else []), env)))
            print(row + f"{' / '.join(counts):>16}")
        print(f"target: under {TARGET_S} s for add-run, runs and status on a warm machine")
        for name in ("add-run", "runs --limit 20", "status"):
            wall = min(w for w, _ in times[(name, "this tree")])
            cpu = min(c for _, c in times[(name, "this tree")])
            verdict = "OK" if min(wall, cpu) < TARGET_S else "over the target"
            print(f"  {name}: wall {wall:.3f} s, CPU {cpu:.3f} s: {verdict}")


if __name__ == "__main__":
    main()
