"""The knee check as users meet it (issue 15): the real CLI in a subprocess, the web wizard, the API, the pain
diary's "Check this knee", and saved checks that record their region."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.storage import pain as pain_store
from strideguard.storage.tables import TriageRow
from strideguard.training.pain import PainEntry
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import KNEE_CONDITION_IDS

KB = default_knowledge("knee")
# kpub-03's story (patellar tendinopathy), as a runner would type it
TENDON = {
    "age": 21,
    "sex": "male",
    "pain_location": "patellar_tendon",
    "tender_spot": "bottom_tip_of_kneecap",
    "onset": "gradual",
    "duration_weeks": 4,
    "pain_on_hop": True,
    "jumping_or_court_sport": True,
    "pain_during_run_pattern": "eases_with_warmup",
    "pain_sitting": False,
    "knee_swelling": "none",
}


def _case(tmp_path: Path, findings: dict) -> Path:
    path = tmp_path / "knee.json"
    path.write_text(json.dumps({"findings": findings}))
    return path


# --- CLI ---


def test_cli_knee_findings_json_names_the_region_and_ranks_knee_causes(run_cli, tmp_path):
    result = run_cli("triage", "--region", "knee", "--findings", str(_case(tmp_path, TENDON)), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["region"] == "knee"
    assert sorted(c["id"] for c in out["conditions"]) == sorted(KNEE_CONDITION_IDS)
    assert out["conditions"][0]["id"] == "patellar_tendinopathy"
    # the hip stays the default, and a knee finding is unknown to it: exit 2 naming it, no traceback
    hip = run_cli("triage", "--findings", str(_case(tmp_path, {"knee_hot_red": True})), "--json")
    assert hip.returncode == 2 and "unknown finding 'knee_hot_red'" in hip.stderr
    assert "Traceback" not in hip.stderr


def test_cli_knee_interview_via_stdin_and_saved_history_shows_the_region(run_cli):
    # age, sex, where (a value name works), then "none of these" / "no" to every warning sign and detail
    result = run_cli("triage", "--region", "knee", "--save", input="34\nmale\nlateral_knee\n" + "n\n" * 80)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("How old are you") < out.index("Do any of these apply to you right now?")
    assert "Where in the knee do you mainly feel the pain?" in out
    assert "Does any of this apply to your knee or leg?" in out
    assert "Saved to your triage history." in out
    history = run_cli("triage", "--history", "--json")
    assert json.loads(history.stdout)["checks"][0]["region"] == "knee"
    table = run_cli("triage", "--history")
    assert "region" in table.stdout and "knee" in table.stdout


def test_cli_interactive_knee_emergency_stops_at_once(run_cli):
    # age, sex, where; the first checklist: tick 1 (cannot bear weight)
    result = run_cli("triage", "--region", "knee", input="40\nfemale\ndiffuse_knee\n1\n")
    assert result.returncode == 0, result.stderr
    assert "EMERGENCY" in result.stdout
    assert "Does any of this apply to your knee or leg?" not in result.stdout


def test_cli_check_knowledge_checks_every_region(run_cli):
    result = run_cli("triage", "--check-knowledge")
    assert result.returncode == 0, result.stderr
    assert "hip knowledge OK: " in result.stdout and "knee knowledge OK: " in result.stdout
    assert "22 conditions" in result.stdout
    only = run_cli("triage", "--check-knowledge", "--region", "knee")
    assert only.stdout.startswith("knowledge OK:") and "22 conditions" in only.stdout
    bad = run_cli("triage", "--region", "elbow")
    assert bad.returncode == 2 and "elbow" in bad.stderr and "Traceback" not in bad.stderr


# --- web wizard ---


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def submit(client: TestClient, page: BeautifulSoup, action: str = "answer", extra: dict | None = None):
    form = page.select_one("form#question")
    data = {i["name"]: i.get("value", "") for i in form.select('input[type="hidden"]')}
    data["action"] = action
    data.update(extra or {})
    return client.post("/triage", data=data, follow_redirects=True)


def walk_knee(
    client: TestClient, truth: dict, start: str = "/triage?region=knee"
) -> tuple[BeautifulSoup, list]:
    """Answer the knee wizard from `truth`; warning-sign groups "none of these" unless an item is true; other
    questions "don't know"."""
    page = soup(client.get(start))
    asked = []
    for _ in range(80):
        form = page.select_one("form#question")
        if form is None:
            return page, asked
        assert form.select_one('input[name="region"]')["value"] == "knee"
        step_id = form.select_one('input[name="question"]')["value"]
        asked.append(step_id)
        if KB.screen(step_id) is not None:
            boxes = [i["name"][5:] for i in form.select('input[type="checkbox"][name^="tick:"]')]
            ticks = {f"tick:{f}": "on" for f in boxes if truth.get(f) is True}
            page = soup(submit(client, page, "yes", ticks) if ticks else submit(client, page, "none"))
        elif step_id in truth:
            value = truth[step_id]
            text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            page = soup(submit(client, page, extra={"value": text}))
        else:
            page = soup(submit(client, page, "dont_know"))
    raise AssertionError("the wizard did not finish")


def test_wizard_offers_the_region_and_walks_a_knee_check_to_a_saved_knee_result(client, session):
    start = soup(client.get("/triage"))
    assert start.select_one("h1").get_text() == "Hip check"
    regions = {a["data-region"]: a["href"] for a in start.select("nav.region-choice a")}
    assert regions == {"hip": "/triage?region=hip", "knee": "/triage?region=knee"}
    page, asked = walk_knee(client, TENDON)
    assert asked[:4] == ["age", "sex", "pain_location", "emergency_signs"]
    assert page.select_one("title").get_text().startswith("Knee check result")
    first = page.select_one("#conditions ol > li.condition strong").get_text()
    assert first == KB.conditions["patellar_tendinopathy"].name
    row = session.scalars(sa.select(TriageRow)).one()
    assert row.region == "knee" and row.findings["tender_spot"] == "bottom_tip_of_kneecap"
    # the saved result is recomputed with the knee's knowledge, and the history names the region
    again = soup(client.get(f"/triage/results/{row.id}"))
    assert again.select_one("#conditions ol > li.condition strong").get_text() == first
    history = soup(client.get("/triage")).select_one("ul.triage-history").get_text()
    assert "(knee check)" in history


def test_knee_wizard_page_asks_where_in_the_knee(client):
    page = soup(client.get("/triage?region=knee"))
    assert page.select_one("h1").get_text() == "Knee check"
    page = soup(submit(client, page, extra={"value": "30"}))
    page = soup(submit(client, page, extra={"value": "female"}))
    assert page.select_one(".question-text").get_text() == "Where in the knee do you mainly feel the pain?"
    labels = page.select_one("form#question").get_text()
    assert "Around, behind or on the kneecap" in labels and "Back of the knee" in labels


def test_a_hot_knee_is_urgent_on_the_web_and_offers_no_routine(client):
    page, _ = walk_knee(
        client, {"age": 45, "sex": "male", "pain_location": "diffuse_knee", "knee_hot_red": True}
    )
    banner = page.select_one("section.level-banner")
    assert "level-urgent" in banner["class"]
    assert page.select_one("#routines a") is None


# --- API ---


def test_api_triage_and_interview_take_a_region(client):
    out = client.post("/api/triage", json={"findings": TENDON, "region": "knee"})
    assert out.status_code == 200, out.text
    assert out.json()["region"] == "knee" and out.json()["conditions"][0]["id"] == "patellar_tendinopathy"
    hip = client.post("/api/triage", json={"findings": {"pain_location": "groin"}})
    assert hip.json()["region"] == "hip"  # the default stays the hip
    bad = client.post("/api/triage", json={"findings": {}, "region": "elbow"})
    assert bad.status_code == 422
    step = client.post(
        "/api/triage/interview", json={"region": "knee", "answers": [["age", 30], ["sex", "male"]]}
    )
    assert step.status_code == 200, step.text
    data = step.json()
    assert data["region"] == "knee" and data["step"]["id"] == "pain_location"
    assert "anterior_knee" in [c["value"] for c in data["step"]["choices"]]
    nxt = client.post("/api/triage/next", json={"region": "knee", "findings": {"age": 30}, "asked": ["age"]})
    assert nxt.status_code == 200 and nxt.json()["question"]["finding"] == "sex"


# --- pain diary ---


def test_a_knee_diary_entry_links_to_the_knee_check_with_what_it_knows(client, session, athlete_id):
    today = date.today()
    knee = pain_store.add_pain(session, athlete_id, PainEntry(today, "knee-front", "both", 4, "after"))
    calf = pain_store.add_pain(session, athlete_id, PainEntry(today, "calf", "left", 2, "after"))
    session.commit()
    diary = soup(client.get("/pain"))
    links = {a["href"]: a.get_text() for a in diary.select("a[data-check]")}
    assert links == {f"/triage?pain={knee.id}": "Check this knee"}  # no check for the calf yet
    assert calf.id is not None
    page = soup(client.get(f"/triage?pain={knee.id}"))
    assert page.select_one("h1").get_text() == "Knee check"
    assert "diary entry of" in page.select_one("#diary-note").get_text()
    answers = json.loads(page.select_one('input[name="answers"]')["value"])
    assert ["pain_location", "anterior_knee"] in answers and ["pain_bilateral", True] in answers
    assert page.select_one('input[name="question"]')["value"] == "age"
    assert client.get("/triage?pain=999999").status_code == 404


# --- a real browser ---

# The journey's fixtures (a real server, Chromium), under names that do not clash with the soups above.
from test_browser import page as browser_page  # noqa: E402, F401
from test_browser import server as browser_server  # noqa: E402, F401
from test_browser import shot, shots_dir  # noqa: E402, F401
from test_web_triage_routines import CONTRAST_JS  # noqa: E402


def test_knee_check_from_the_diary_in_a_real_browser(session, athlete_id, request):
    server, page = (request.getfixturevalue(n) for n in ("browser_server", "browser_page"))
    pain_store.add_pain(session, athlete_id, PainEntry(date.today(), "knee-front", "both", 4, "during"))
    session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(server + "/pain")
    with page.expect_navigation():
        page.click("a[data-check='knee']")
    assert page.locator("h1").first.inner_text() == "Knee check"
    assert "diary entry" in page.locator("#diary-note").inner_text()
    typed = {
        "age": "26",
        "sex": "female",
        "pain_squatting": "yes",
        "pain_stairs": "yes",
        "pain_sitting": "yes",
    }
    for _ in range(60):
        if page.locator("form#question").count() == 0:
            break
        step = page.locator('input[name="question"]').get_attribute("value")
        if page.locator("form#question[data-kind='screen']").count():
            action = "none"
        elif step in typed and page.locator("#answer-number").count():
            page.fill("#answer-number", typed[step])
            action = "answer"
        elif step in typed:
            page.check(f'input[name="value"][value="{typed[step]}"]')
            action = "answer"
        else:  # "no" to anything else the runner was not told about, else "don't know"
            denied = [v for v in ("no", "none") if page.locator(f'input[name="value"][value="{v}"]').count()]
            if denied:
                page.check(f'input[name="value"][value="{denied[0]}"]')
            action = "answer" if denied else "dont_know"
        with page.expect_navigation():
            page.click(f'form#question button[value="{action}"]')
    else:
        raise AssertionError("the wizard did not finish")
    assert page.title().startswith("Knee check result")
    assert page.locator("main > *").first.get_attribute("class").startswith("level-banner")
    assert "Patellofemoral pain" in page.locator("#conditions").inner_text()
    assert page.locator("#routines a").count() >= 1  # warning signs answered, none fired: a routine
    # the knee view shows where it hurts (the diary's "front of knee": around the kneecap)
    assert page.locator("#knee-map svg ellipse.selected").count() == 1
    label = page.locator("#knee-map svg").get_attribute("aria-label") or ""
    assert "around, behind or on the kneecap" in label.lower()
    assert page.evaluate(CONTRAST_JS) == []
    shot(page, "knee-result")
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing wider than a phone
    shot(page, "knee-result-375")


# --- migration 0013 ---


def test_migration_0013_marks_existing_checks_as_hip(db_url):
    from alembic import command

    from strideguard.storage import activities as store
    from strideguard.storage import engine as db

    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        with db.session_factory(engine)() as s:
            athlete = store.local_athlete(s)
            s.commit()
        command.downgrade(db.alembic_config(engine), "0012")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("triage_sessions")}
        assert "region" not in columns
        with engine.begin() as connection:  # a check saved before the knee existed
            connection.execute(
                sa.text(
                    "INSERT INTO triage_sessions (athlete_id, created_at, findings, triage_level, result) "
                    "VALUES (:a, :t, :f, 'urgent', :r)"
                ),
                {"a": athlete, "t": "2026-01-05 10:00:00", "f": '{"pain_on_hop": true}', "r": "{}"},
            )
        db.upgrade(engine)
        with engine.connect() as connection:
            regions = connection.execute(sa.text("SELECT region FROM triage_sessions")).scalars().all()
        assert regions == ["hip"]
    finally:
        engine.dispose()


# --- the pain-monitoring warning points to the knee check ---


def test_a_knee_pain_warning_points_to_the_knee_check(run_cli, client, session, athlete_id):
    today = date.today()
    pain_store.add_pain(session, athlete_id, PainEntry(today, "knee-side", "left", 6, "during"))
    session.commit()
    text = run_cli("status", "--date", today.isoformat())
    assert text.returncode == 0, text.stderr
    assert "Knee pain: check it for warning signs with `strideguard triage --region knee`." in text.stdout
    assert "Hip or groin pain" not in text.stdout
    dashboard = soup(client.get("/"))
    hints = [a["href"] for a in dashboard.select("p.triage-hint a")]
    assert hints == ["/triage?region=knee"]


def test_an_urgent_knee_check_holds_back_and_says_it_was_the_knee():
    from strideguard.training import risk

    today = date.today()
    held = risk.hold_back([], today, triage=(today, "urgent", "knee"))
    assert held is not None and held.reason == "triage"
    assert f"your knee check on {today.isoformat()} said urgent" in held.message
    hip = risk.hold_back([], today, triage=(today, "urgent"))  # hip when the region is not given
    assert hip is not None and f"your hip check on {today.isoformat()}" in hip.message


def test_the_knee_wizard_and_the_api_ask_the_same_steps(client):
    truth = {"age": 45, "sex": "male", "pain_location": "diffuse_knee", "knee_hot_red": True}
    _page, wizard_steps = walk_knee(client, truth)
    given: list[list[object]] = []
    for _ in range(80):
        data = client.post("/api/triage/interview", json={"region": "knee", "answers": given}).json()
        step = data["step"]
        if step is None:
            break
        if step["kind"] == "screen":
            shown = [f for i in step["items"] for f in i["findings"]]
            given.append([step["id"], [f for f in shown if truth.get(f) is True] or "none"])
        else:
            given.append([step["id"], truth.get(step["id"])])
    assert [a[0] for a in given] == wizard_steps
    assert data["result"]["region"] == "knee" and data["result"]["triage_level"] == "urgent"


# --- "where does it hurt?" chooses the region ---


def test_a_knee_check_whose_pain_is_in_the_groin_goes_on_as_the_hip_check(run_cli, client):
    from strideguard.triage.regions import region_for

    assert region_for("knee", {"pain_location": "groin"}) == "hip"
    assert region_for("knee", {"pain_location": "anterior_knee"}) == "knee"
    assert region_for("hip", {"pain_location": "knee"}) == "hip"  # the hip's SCFE rule needs it
    # CLI: the hip's warning-sign groups follow, and the result is a hip result
    out = run_cli("triage", "--region", "knee", "--json", input="30\nmale\ngroin\n" + "n\n" * 60)
    assert out.returncode == 0, out.stderr
    assert "the hip check goes on from here" in out.stderr
    assert json.loads(out.stdout)["region"] == "hip"
    # API: the same answers give the hip's next step and say so
    data = client.post(
        "/api/triage/interview",
        json={"region": "knee", "answers": [["age", 30], ["sex", "male"], ["pain_location", "groin"]]},
    ).json()
    assert data["region"] == "hip" and data["step"]["id"] == "emergency_signs"
    assert "saddle_numbness" in [f for i in data["step"]["items"] for f in i["findings"]]
    # web: the wizard's next page belongs to the hip check, with the answers kept
    page = soup(client.get("/triage?region=knee"))
    for value in ("30", "male", "groin"):
        page = soup(submit(client, page, extra={"value": value}))
    assert page.select_one("h1").get_text() == "Hip check"
    assert page.select_one('input[name="region"]')["value"] == "hip"
    assert len(json.loads(page.select_one('input[name="answers"]')["value"])) == 3


def _next_walk(client, region: str, findings: dict) -> tuple[str, dict, list[str]]:
    """Answer POST /api/triage/next to the end: the case's value, else "no" to a yes/no, else "don't know"."""
    given = dict(findings)
    asked = list(findings)
    for _ in range(80):
        data = client.post("/api/triage/next", json={"region": region, "findings": given, "asked": asked})
        assert data.status_code == 200, data.text
        question = data.json()["question"]
        if question is None:
            return data.json()["region"], given, asked[len(findings) :]
        given[question["finding"]] = False if question["type"] == "boolean" else None
        asked.append(question["finding"])
    raise AssertionError("the interview did not finish")


@pytest.mark.parametrize("place", ["groin", "lateral", "buttock"])
def test_api_next_moves_a_knee_check_to_the_hip_like_the_interview(client, place):
    """POST /api/triage/next applies the knee -> hip switch of the wizard, the CLI and /api/triage/interview:
    after "groin" (or the outside of the hip, or the buttock) it asks the hip's questions and says so."""
    start = {"age": 30, "sex": "male", "pain_location": place}
    interview = client.post(
        "/api/triage/interview", json={"region": "knee", "answers": [[k, v] for k, v in start.items()]}
    ).json()
    nxt = client.post("/api/triage/next", json={"region": "knee", "findings": start, "asked": list(start)})
    assert nxt.status_code == 200, nxt.text
    as_hip = client.post("/api/triage/next", json={"findings": start, "asked": list(start)}).json()
    assert interview["region"] == nxt.json()["region"] == "hip"
    assert nxt.json()["question"] == as_hip["question"]  # the hip's next question, not the knee's
    shown = [f for item in interview["step"]["items"] for f in item["findings"]]
    assert nxt.json()["question"]["finding"] in shown  # the first item of the interview's hip screen
    # to the end: every question is the hip's (its cauda equina screen included, which the knee lacks)
    region, findings, asked = _next_walk(client, "knee", start)
    hip = default_knowledge("hip")
    assert region == "hip" and set(asked) <= set(hip.findings) and "saddle_numbness" in asked
    knee_asks = {q.finding for q in KB.questions} | {f for screen in KB.screens for f in screen.findings}
    assert "saddle_numbness" not in knee_asks and "knee_locking" not in asked
    assert (region, findings) == _next_walk(client, "hip", start)[:2]  # identical to a hip check
    result = client.post("/api/triage", json={"findings": findings, "region": region}).json()
    assert result["region"] == "hip"


def test_api_next_keeps_a_knee_check_on_the_knee_and_refuses_knee_answers_taken_to_the_hip(client):
    start = {"age": 30, "sex": "male", "pain_location": "anterior_knee"}
    data = client.post("/api/triage/next", json={"region": "knee", "findings": start, "asked": list(start)})
    assert data.json()["region"] == "knee" and data.json()["question"]["finding"] in KB.findings
    hip_check = client.post("/api/triage/next", json={"findings": {**start, "pain_location": "knee"}})
    assert hip_check.json()["region"] == "hip"  # the hip check never moves
    # a knee-only answer cannot go on into the hip check: 422 naming it, as the interview does
    knee_only = {"age": 30, "knee_locking": "none", "pain_location": "groin"}
    refused = client.post("/api/triage/next", json={"region": "knee", "findings": knee_only})
    assert refused.status_code == 422 and "knee_locking" in refused.text
    replayed = client.post(
        "/api/triage/interview", json={"region": "knee", "answers": [[k, v] for k, v in knee_only.items()]}
    )
    assert replayed.status_code == 422 and "knee_locking" in replayed.text
