"""Snapshots of the main screens (status, risk, plan, weeks, runs in the terminal; the dashboard in the
browser's text) for fixed histories, so a contradiction or a changed number cannot come back unnoticed.

Each screen is compared with tests/snapshots/<history>/<screen>.txt. After a deliberate change, rewrite them
with `STRIDEGUARD_UPDATE_SNAPSHOTS=1 pytest tests/test_screen_snapshots.py` and read the diff before
committing it. Every screen is also checked against the rules of one voice (no ceiling next to a hold-back,
no rule ids, ...), which hold whatever the snapshot says.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from histories import HISTORIES, TODAY, build

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("STRIDEGUARD_UPDATE_SNAPSHOTS") == "1"
CLI_SCREENS = {
    "status": ("status",),
    "risk": ("risk",),
    "plan": ("plan", "16"),
    "weeks": ("weeks",),
    "runs": ("runs", "--limit", "8"),
}
# What no screen may show: rule and category ids, knowledge-file names and citation ids.
IDS = re.compile(
    r"session_spike|returning_runner|weekly_increase|shoe_retirement|pain_rising|hold_back|not_settled|"
    r"over_limit|rising_weekly|after_gap|first_run|load_[a-z]+_\d{4}|\.yaml|et al\. \(|design choice et al"
)


def compare(history: str, screen: str, text: str) -> None:
    path = SNAPSHOTS / history / f"{screen}.txt"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"new snapshot written to {path}; read it, then run the test again")
    assert text == path.read_text(encoding="utf-8"), f"{history}/{screen} changed; see {path}"


def one_voice(text: str, unit: str) -> None:
    """The rules every screen keeps, whatever its snapshot says."""
    assert not IDS.search(text), IDS.search(text)
    if "Hold back" in text or "No longer run is suggested" in text:
        # held back: no ceiling, no verdict beside it
        assert not re.search(r"Up to \d+\.\d+ (km|mi)", text) and " fine" not in text
    other = "mi" if unit == "km" else "km"
    assert not re.search(rf"\d {other}\b", text), f"a distance in {other} on a {unit} screen"
    assert not re.search(r"\d \%", text)  # one percent format: "12%", never "12 %"


@pytest.fixture
def screen_env(cli_env: dict[str, str]) -> dict[str, str]:
    cli_env["STRIDEGUARD_TODAY"] = TODAY.isoformat()
    cli_env["COLUMNS"] = "120"
    return cli_env


@pytest.mark.parametrize("history", sorted(HISTORIES))
@pytest.mark.parametrize("screen", sorted(CLI_SCREENS))
def test_cli_screen_matches_its_snapshot(history, screen, run_cli, screen_env, session, athlete_id):
    build(history, session, athlete_id)
    done = run_cli(*CLI_SCREENS[screen])
    assert done.returncode == 0, done.stderr
    one_voice(done.stdout, "mi" if history == "miles" else "km")
    compare(history, screen, done.stdout)


@pytest.mark.parametrize("history", sorted(HISTORIES))
def test_dashboard_matches_its_snapshot(history, client, session, athlete_id, monkeypatch):
    monkeypatch.setenv("STRIDEGUARD_TODAY", TODAY.isoformat())
    build(history, session, athlete_id)
    page = BeautifulSoup(client.get("/").text, "html.parser")
    main = page.select_one("main")
    for svg in main.select("svg"):  # the charts' numbers are checked in test_charts; keep their titles
        svg.replace_with(f"[chart: {svg.title.get_text() if svg.title else ''}]")
    text = "\n".join(line for line in main.get_text("\n", strip=True).splitlines() if line.strip()) + "\n"
    one_voice(text, "mi" if history == "miles" else "km")
    compare(history, "dashboard", text)
