"""The coach's roster (web/roster.py): who needs attention first, warnings by share level, and the cost of a
30-athlete roster (statements per athlete do not grow with an athlete's history)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts_helpers import (
    add_pain,
    add_run,
    add_urgent_triage,
    athlete_of,
    register,
    share,
    soup,
    steady_weeks,
    today,
)
from strideguard.web.app import create_app
from strideguard.web.common import Settings


@pytest.fixture
def app(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32))
    yield app
    app.state.engine.dispose()


def _athlete(app, session, name: str, level: str = "training", show_flags: bool = True):
    client = register(app, f"{name.lower()}@example.org", name)
    athlete_id = athlete_of(session, f"{name.lower()}@example.org")
    share(client, "coach@example.org", level, show_flags)
    return athlete_id


def test_roster_puts_who_needs_attention_first_and_respects_each_share(app, session):
    coach = register(app, "coach@example.org", "Coach")
    calm = _athlete(app, session, "Calm")
    steady_weeks(session, calm)
    spiky = _athlete(app, session, "Spiky")
    steady_weeks(session, spiky)
    add_run(session, spiky, today(), 21.0, "Long one")
    hip = _athlete(app, session, "Hip", "training", show_flags=True)
    steady_weeks(session, hip)
    add_urgent_triage(session, hip)
    hidden = _athlete(app, session, "Hidden", "training", show_flags=False)
    steady_weeks(session, hidden)
    add_pain(session, hidden, score=9)
    add_urgent_triage(session, hidden)
    sore = _athlete(app, session, "Sore", "training_pain")
    steady_weeks(session, sore)
    add_pain(session, sore, score=8, note="the secret note")

    data = coach.get("/api/roster").json()
    names = [a["name"] for a in data["athletes"]]
    assert names[:3] == ["Hip", "Sore", "Spiky"]
    by_name = {a["name"]: a for a in data["athletes"]}
    assert [w["kind"] for w in by_name["Hip"]["warnings"]] == ["urgent_hip_check"]
    assert by_name["Hip"]["warnings"][0]["detail"] is None  # training only: a plain flag
    assert by_name["Sore"]["warnings"][0]["kind"] == "pain" and by_name["Sore"]["warnings"][0]["detail"]
    assert "spike" in [w["kind"] for w in by_name["Spiky"]["warnings"]]
    assert by_name["Hidden"]["warnings"] == []  # flags off: nothing, and not moved up the list
    assert "secret note" not in str(data)
    spiky_row = by_name["Spiky"]
    assert spiky_row["last_7_days_m"] > spiky_row["four_week_mean_m"] > 0
    assert spiky_row["last_run_date"] == today().isoformat()

    page = soup(coach.get("/coach"))
    rows = page.select("table.roster tr.roster-row")
    assert [r.select_one("td.name a").get_text() for r in rows][:3] == ["Hip", "Sore", "Spiky"]
    link = rows[0].select_one("td.name a")["href"]
    assert link == f"/coach/athletes/{hip}"
    # the row opens that athlete's read-only dashboard
    dashboard = coach.get(link)
    assert dashboard.status_code == 200 and "read-only" in soup(dashboard).select_one("p.banner").get_text()


def test_roster_of_someone_nobody_shares_with_is_empty(app):
    loner = register(app, "loner@example.org")
    assert loner.get("/api/roster").json()["athletes"] == []
    assert "Nobody shares their log with you yet" in loner.get("/coach").text


def test_roster_cost_per_athlete_does_not_grow_with_history(app, session, engine):
    """30 athletes: the statements the roster runs are the same per athlete for a 5-week and a 2-year log."""
    coach = register(app, "coach@example.org", "Coach")
    for i in range(30):
        athlete_id = _athlete(app, session, f"A{i:02d}")
        steady_weeks(session, athlete_id, weeks=5 if i % 2 else 100, km=6.0 + i % 5)

    statements: list[str] = []
    app_engine = app.state.engine

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    sa.event.listen(app_engine, "before_cursor_execute", count)
    try:
        data = coach.get("/api/roster").json()
    finally:
        sa.event.remove(app_engine, "before_cursor_execute", count)
    assert len(data["athletes"]) == 30
    assert len(statements) <= 30 * 8 + 10
    assert all(a["four_week_mean_m"] > 0 for a in data["athletes"])
    # the aggregates, not the whole history: no statement reads activities without a date bound
    unbounded = [
        s for s in statements if "FROM activities" in s and "local_date" not in s and "LIMIT" not in s.upper()
    ]
    assert unbounded == []
