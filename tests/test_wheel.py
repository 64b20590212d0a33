"""The wheel ships what the package reads at run time (knowledge YAML, migrations, templates, static files):
built from a copy of the project, installed into a fresh virtual environment, and used from there."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(bin folder of a fresh venv holding only the built wheel, its environment)."""
    tmp = tmp_path_factory.mktemp("wheel")
    project = tmp / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", project / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, project / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STRIDEGUARD_DATABASE_URL")}
    dist = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            ".",
        ],
        project,
        env,
    )
    (wheel,) = dist.glob("strideguard-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    # The fresh venv borrows this environment's dependencies (a path line in a .pth file does not process the
    # .pth files there, so the editable install of the source tree stays invisible) and holds the wheel.
    fresh_site = next((venv / "lib").glob("python3*/site-packages"))
    (fresh_site / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
          str(wheel)], tmp, env)  # fmt: skip
    env["STRIDEGUARD_DATA_DIR"] = str(tmp / "userdata")
    return venv / "bin", env


def test_wheel_holds_the_package_data():
    # Every non-Python file of the package is matched by a package-data glob, so a new kind of data file
    # without a glob fails here, not in a user's installation.
    globs = [
        "triage/knowledge/*.yaml",
        "triage/knowledge/**/*.yaml",
        "training/knowledge/*.yaml",
        "storage/migrations/*.py",
        "storage/migrations/*.mako",
        "storage/migrations/versions/*.py",
        "web/templates/*.html",
        "web/templates/**/*.html",
        "web/static/*",
        "web/static/**/*",
    ]
    text = (REPO / "pyproject.toml").read_text()
    assert all(f'"{g}"' in text for g in globs)
    package = REPO / "src" / "strideguard"
    covered = {p for g in globs for p in package.glob(g) if p.is_file()}
    data = {p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert data - covered == set()


def test_installed_wheel_contains_data_and_imports_outside_the_source_tree(installed):
    bin_dir, env = installed
    out = _run(
        [str(bin_dir / "python"), "-c", "import strideguard, json; print(json.dumps(strideguard.__file__))"],
        bin_dir,
        env,
    )
    location = Path(json.loads(out.stdout))
    assert REPO not in location.parents  # the wheel's copy, not the editable source
    wheels = list((bin_dir.parent.parent / "dist").glob("*.whl"))
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for needed in (
        "strideguard/triage/knowledge/findings.yaml",
        "strideguard/triage/knowledge/hip/red_flags.yaml",
        "strideguard/triage/knowledge/hip/conditions/scfe.yaml",
        "strideguard/triage/knowledge/routines/piriformis_foam_roll.yaml",
        "strideguard/training/knowledge/risk_rules.yaml",
        "strideguard/storage/migrations/versions/0001_initial.py",
        "strideguard/web/templates/dashboard.html",
        "strideguard/web/static/app.css",
    ):
        assert needed in names


def test_installed_wheel_runs_the_demo_and_a_triage(installed, tmp_path: Path):
    bin_dir, env = installed
    demo_db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    demo = _run([str(bin_dir / "strideguard"), "--db", demo_db, "demo", "--weeks", "6"], tmp_path, env)
    assert "runs" in demo.stdout.lower()
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"findings": {"pain_location": "lateral", "tender_greater_trochanter": True}}))
    triage = _run([str(bin_dir / "strideguard"), "triage", "--findings", str(case), "--json"], tmp_path, env)
    result = json.loads(triage.stdout)
    assert result["conditions"][0]["id"] == "gtps_gluteal_tendinopathy"
    assert result["disclaimer"]
    page = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "from fastapi.testclient import TestClient\n"
            "from strideguard.web.app import create_app\n"
            "from strideguard.web.common import Settings\n"
            "from pathlib import Path\n"
            f"app = create_app(Settings(db_url={demo_db!r}, data_dir=Path({str(tmp_path / 'web')!r}),"
            " secret_key=b'k' * 32))\n"
            "with TestClient(app) as c:\n"
            "    r = c.get('/')\n"
            "    print(r.status_code, 'Weekly' in r.text or 'week' in r.text)\n",
        ],
        tmp_path,
        env,
    )
    assert page.stdout.split() == ["200", "True"]
