"""Web triage wizard (adaptive questions, don't know, back, result page) and the routine pages and API."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.db import TriageRow
from strideguard.knowledge import default_knowledge
from strideguard.triage import evaluate
from strideguard.web.app import create_app
from strideguard.web.common import Settings


@pytest.fixture
def client(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def submit(client: TestClient, page: BeautifulSoup, action: str = "answer", value: str | None = None):
    form = page.select_one("form#question")
    data = {i["name"]: i.get("value", "") for i in form.select('input[type="hidden"]')}
    data["action"] = action
    if value is not None:
        data["value"] = value
    return client.post("/triage", data=data, follow_redirects=True)


def walk(client: TestClient, answers: dict[str, str], limit: int = 60) -> tuple[BeautifulSoup, list[str]]:
    """Answer the wizard from `answers`; anything else is "don't know". A group of warning signs gets "yes"
    if `answers` has a yes for one of its items, else "none of these". Returns the result page."""
    kb = default_knowledge()
    page = soup(client.get("/triage"))
    asked = []
    for _ in range(limit):
        form = page.select_one("form#question")
        if form is None:
            return page, asked
        step_id = form.select_one('input[name="question"]')["value"]
        asked.append(step_id)
        screen = kb.screen(step_id)
        if screen is not None:
            hit = any(answers.get(f, "no") not in ("no", "none") for f in screen.findings)
            page = soup(submit(client, page, action="yes" if hit else "none"))
        elif step_id in answers:
            page = soup(submit(client, page, value=answers[step_id]))
        else:
            page = soup(submit(client, page, action="dont_know"))
    raise AssertionError("the wizard did not finish")


def test_wizard_starts_with_the_basics_and_offers_dont_know(client):
    page = soup(client.get("/triage"))
    assert page.select_one('input[name="question"]')["value"] == "age"
    assert page.select_one('#answer-number[type="number"]') is not None
    buttons = {b["value"] for b in page.select('form#question button[name="action"]')}
    assert buttons == {"answer", "dont_know"}  # no back on the first question


def test_cannot_bear_weight_gives_an_emergency_result_first_and_plainly(client, session, athlete_id):
    page, asked = walk(client, {"age": "34", "pain_location": "groin", "unable_to_bear_weight": "yes"})
    assert asked[-1] == "unable_to_bear_weight"  # stops asking once an emergency flag fires
    banner = page.select_one("main > section.level-banner")
    assert "level-emergency" in banner["class"]
    assert banner.select_one("h1").get_text() == "Emergency: get help now"
    assert "emergency number" in banner.get_text()
    # the level comes before everything else in the page body
    assert page.select_one("main").find(["section", "h1", "p"]) is banner
    assert page.select("#red-flags article.flag")
    assert page.select_one("#sources ol li a")["href"].startswith("http")
    assert "guidance, not a diagnosis" in page.select_one("p.disclaimer").get_text()
    row = session.query(TriageRow).one()
    assert row.triage_level == "emergency" and row.findings["unable_to_bear_weight"] is True


def test_hop_pain_in_the_groin_walks_to_an_urgent_result_with_ranked_conditions(client, session):
    answers = {"age": "29", "sex": "female", "pain_location": "groin", "pain_on_hop": "yes"}
    page, asked = walk(client, answers)
    assert asked[3] == "emergency_signs" and "unable_to_bear_weight" not in asked  # "none of these"
    assert asked.index("pain_pattern") < asked.index("pain_on_hop")  # "yes" asks the group's items
    banner = page.select_one("section.level-banner")
    assert "level-urgent" in banner["class"]
    conditions = page.select("#conditions ol > li.condition")
    assert len(conditions) == 5
    row = session.query(TriageRow).one()
    assert row.findings["fever"] is False and row.findings["pain_on_hop"] is True
    assert "pain_walking" not in row.findings  # "don't know" stays unknown
    expected = evaluate(row.findings, default_knowledge())
    assert expected.triage_level == "urgent"
    assert conditions[0].select_one("strong").get_text() == expected.conditions[0].name
    assert page.select_one("#routines a") is None  # no routine is offered with an urgent result


def test_grouped_question_page_offers_none_yes_dont_know_and_back(client):
    page = soup(client.get("/triage"))
    for value in ("30", "male", "groin"):
        page = soup(submit(client, page, value=value))
    form = page.select_one("form#question")
    assert form.select_one('input[name="question"]')["value"] == "emergency_signs"
    assert form.select_one('input[name="csrf_token"]')["value"]
    items = [li.get_text(" ", strip=True) for li in form.select("ul.screen-items > li")]
    assert len(items) == 8 and any("put weight on the leg" in i for i in items)
    buttons = {b["value"]: b.get_text(strip=True) for b in form.select('button[name="action"]')}
    assert buttons == {
        "none": "None of these",
        "yes": "Yes, one or more",
        "dont_know": "Don't know",
        "back": "Back",
    }
    assert form.select("input[type=radio]") == []  # three buttons, nothing to tick: keyboard friendly
    # "don't know" drills down into the group's items, one by one
    drilled = soup(submit(client, page, action="dont_know"))
    assert drilled.select_one('input[name="question"]')["value"] == "unable_to_bear_weight"
    # back returns to the group and forgets the answer
    again = soup(submit(client, drilled, action="back"))
    assert again.select_one('input[name="question"]')["value"] == "emergency_signs"
    assert json.loads(again.select_one('input[name="answers"]')["value"])[-1] == ["pain_location", "groin"]
    # "none of these" answers the whole group at once
    after = soup(submit(client, again, action="none"))
    assert after.select_one('input[name="question"]')["value"] == "limp"
    assert json.loads(after.select_one('input[name="answers"]')["value"])[-1] == ["emergency_signs", "none"]
    bad = submit(client, again, action="maybe")
    assert bad.status_code == 422


def test_tampered_history_is_cut_at_the_first_bad_entry(client):
    page = soup(client.get("/triage"))
    form = page.select_one("form#question")
    data = {i["name"]: i.get("value", "") for i in form.select('input[type="hidden"]')}
    data["answers"] = json.dumps([["age", 30], ["emergency_signs", "perhaps"], ["sex", "male"]])
    data["question"] = "sex"
    data["value"] = "female"
    page = soup(client.post("/triage", data=data))
    assert json.loads(page.select_one('input[name="answers"]')["value"]) == [["age", 30], ["sex", "female"]]


def test_back_returns_to_the_previous_question_and_forgets_its_answer(client):
    page = soup(client.get("/triage"))
    page = soup(submit(client, page, value="41"))
    second = page.select_one('input[name="question"]')["value"]
    assert second != "age"
    assert json.loads(page.select_one('input[name="answers"]')["value"]) == [["age", 41]]
    page = soup(submit(client, page, action="back"))
    assert page.select_one('input[name="question"]')["value"] == "age"
    assert json.loads(page.select_one('input[name="answers"]')["value"]) == []


def test_bad_number_is_explained_and_kept(client):
    page = soup(client.get("/triage"))
    response = submit(client, page, value="two hundred")
    assert response.status_code == 422
    again = soup(response)
    assert "'two hundred' is not a number" in again.select_one("#answer-error").get_text()
    assert again.select_one("#answer-number")["value"] == "two hundred"
    assert again.select_one('input[name="question"]')["value"] == "age"


def test_triage_api_follows_the_contract_and_rejects_unknown_findings(client):
    result = client.post("/api/triage", json={"findings": {"unable_to_bear_weight": True}}).json()
    assert result["triage_level"] == "emergency"
    assert {"red_flags", "conditions", "advice", "routines", "disclaimer"} <= set(result)
    bad = client.post("/api/triage", json={"findings": {"no_such_finding": True}})
    assert bad.status_code == 422
    first = client.post("/api/triage/next", json={"findings": {}, "asked": []}).json()
    assert first["question"]["finding"] == "age"


def api_walk(client: TestClient, answers: dict[str, object]) -> tuple[dict, list[str]]:
    """Answer /api/triage/interview as `walk` answers the wizard; returns the final response."""
    kb = default_knowledge()
    given: list[list[object]] = []
    for _ in range(60):
        response = client.post("/api/triage/interview", json={"answers": given})
        assert response.status_code == 200, response.text
        data = response.json()
        step = data["step"]
        if step is None:
            return data, [a[0] for a in given]
        if step["kind"] == "screen":
            assert [a["value"] for a in step["answers"]] == ["none", "yes", "dont_know"]
            assert all(item["findings"] for item in step["items"]) and step["citations"]
            hit = any(answers.get(f, False) not in (False, "none") for f in kb.screen(step["id"]).findings)
            given.append([step["id"], "yes" if hit else "none"])
        else:
            given.append([step["id"], answers.get(step["id"])])
    raise AssertionError("the interview did not finish")


def test_api_interview_asks_what_the_wizard_asks_and_ends_with_the_result(client):
    typed = {"age": "29", "sex": "female", "pain_location": "groin", "pain_on_hop": "yes"}
    _page, wizard_steps = walk(client, typed)
    data, api_steps = api_walk(
        client, {"age": 29, "sex": "female", "pain_location": "groin", "pain_on_hop": True}
    )
    assert api_steps == wizard_steps  # same library functions, same interview, screens included
    assert data["result"]["triage_level"] == "urgent"
    assert data["findings"]["pain_on_hop"] is True and "pain_walking" not in data["findings"]
    # An emergency answer ends the interview at once.
    stop, steps = api_walk(client, {"age": 34, "pain_location": "groin", "unable_to_bear_weight": True})
    assert steps[-1] == "unable_to_bear_weight" and stop["result"]["triage_level"] == "emergency"
    # Answers that do not fit their question: 422 naming the problem.
    bad = client.post("/api/triage/interview", json={"answers": [["age", "old"]]})
    assert bad.status_code == 422 and "age" in bad.text.lower()
    unknown = client.post("/api/triage/interview", json={"answers": [["emergency_signs", "maybe"]]})
    assert unknown.status_code == 422 and "none, yes, dont_know" in unknown.text


def test_routine_list_player_and_api(client):
    page = soup(client.get("/routines"))
    links = [a["href"] for a in page.select(".routine-list h2 a")]
    assert "/routines/hip_mobility_flow" in links
    player = soup(client.get("/routines/hip_mobility_flow"))
    section = player.select_one("#player")
    assert section["data-module"] == "routinePlayer"
    assert player.select_one("#countdown")["role"] == "timer"
    assert player.select_one('script[src^="/static/player.js"]') is not None
    data = client.get("/api/routines/hip_mobility_flow").json()
    steps = player.select("#steps li")
    assert len(steps) == len(data["timeline"])
    assert client.get("/routines/no_such_routine").status_code == 404
    assert client.get("/api/routines/no_such_routine").status_code == 404
