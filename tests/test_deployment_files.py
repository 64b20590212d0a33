"""The club deployment in docs/deploy/, tested by what runs here: the systemd units pass
`systemd-analyze verify` (when systemd is installed), and the compose file parses and its web and worker
commands run as processes against the test database (containers themselves cannot run here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from test_web_serve import free_port, wait_until_up

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
STRIDEGUARD = Path(sys.executable).parent / "strideguard"


@pytest.mark.parametrize("unit", ["strideguard-web.service", "strideguard-worker@.service"])
def test_systemd_units_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = (DEPLOY / unit).read_text()
    assert "/opt/strideguard/venv/bin/strideguard" in text
    # Verified as installed: the command at this machine's path, the environment file present.
    env_file = tmp_path / "env"
    env_file.write_text("STRIDEGUARD_DATABASE_URL=sqlite:////tmp/x.sqlite\n")
    text = text.replace("/opt/strideguard/venv/bin/strideguard", str(STRIDEGUARD))
    text = text.replace("/etc/strideguard/env", str(env_file)).replace("User=strideguard", "User=root")
    text = text.replace("Group=strideguard", "Group=root")
    name = unit.replace("@.", "@1.")
    (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / name)], capture_output=True, text=True
    )
    problems = [line for line in result.stderr.splitlines() if name in line or "strideguard" in line]
    assert result.returncode == 0 and not problems, result.stderr


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_describes_the_club_server():
    services = compose()["services"]
    assert set(services) == {"db", "web", "worker", "proxy"}
    web, worker = services["web"], services["worker"]
    assert web["command"][:2] == ["strideguard", "serve"] and "--workers" in web["command"]
    assert "--no-worker" in web["command"] and "--accounts" in web["command"]
    assert "--behind-proxy" in web["command"]  # Caddy terminates TLS: Secure cookies and HSTS
    assert worker["command"][:2] == ["strideguard", "worker"] and worker["deploy"]["replicas"] >= 1
    assert web["environment"] == worker["environment"]  # one database, one uploads volume, one key
    assert web["volumes"] == worker["volumes"]
    assert (DEPLOY / web["build"]["dockerfile"].split("/")[-1]).is_file()
    assert "./Caddyfile" in services["proxy"]["volumes"][0] and (DEPLOY / "Caddyfile").is_file()
    if shutil.which("docker-compose"):  # parse with the real tool where it exists
        env = dict(os.environ, POSTGRES_PASSWORD="x", STRIDEGUARD_SECRET_KEY="y" * 40)
        checked = subprocess.run(
            ["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
            env=env,
            capture_output=True,
        )
        assert checked.returncode == 0, checked.stderr


def test_compose_commands_run_as_processes(cli_env, db_url, tmp_path, data_dir):
    """The web command serves with its processes; the worker command imports what was uploaded."""
    services = compose()["services"]
    env = dict(cli_env, STRIDEGUARD_DATABASE_URL=db_url, STRIDEGUARD_SECRET_KEY="s" * 64)
    env["STRIDEGUARD_DATA_DIR"] = str(tmp_path / "shared-volume")
    port = free_port()
    web_command = [str(STRIDEGUARD), *services["web"]["command"][1:]]
    web_command[web_command.index("--host") + 1] = "127.0.0.1"  # loopback only here
    web_command[web_command.index("--port") + 1] = str(port)
    web_command[web_command.index("--workers") + 1] = "2"
    # Plain HTTP here, no proxy: without --behind-proxy the cookies are not Secure, so httpx sends them back.
    at = web_command.index("--behind-proxy")
    del web_command[at : at + 3 if web_command[at + 1 : at + 2] == ["--forwarded-allow-ips"] else at + 1]
    web = subprocess.Popen(web_command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(web, base)
        with httpx.Client(base_url=base, timeout=30) as http:
            page = http.get("/register")
            token = page.cookies["sg_csrf"]
            registered = http.post(
                "/register",
                data={
                    "email": "coach@club.example",
                    "password": "a long password",
                    "password2": "a long password",
                    "csrf_token": token,
                },
            )
            assert registered.status_code == 303
            logged_in = http.post(
                "/login",
                data={"email": "coach@club.example", "password": "a long password", "csrf_token": token},
            )
            assert logged_in.status_code == 303
            fit = (data_dir / "fit/fitparse__2013-02-06-12-11-14.fit").read_bytes()
            uploaded = http.post(
                "/import",
                data={"csrf_token": token, "sports": "default"},
                files={"files": ("run.fit", fit, "application/octet-stream")},
            )
            assert uploaded.status_code == 303
            job = uploaded.headers["location"].rsplit("/", 1)[1]
            assert http.get(f"/api/import-jobs/{job}").json()["status"] == "queued"  # --no-worker
            worker = subprocess.run(
                [str(STRIDEGUARD), *services["worker"]["command"][1:], "--once"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert worker.returncode == 0, worker.stderr
            assert "finished: 1 imported" in worker.stdout
            deadline = time.monotonic() + 120
            while http.get(f"/api/import-jobs/{job}").json()["status"] != "finished":
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        web.terminate()
        _out, err = web.communicate(timeout=60)
    assert web.returncode == 0 and "Traceback" not in err
