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
    """Answer the wizard's questions from `answers`; anything else is "don't know". Returns the result page."""
    page = soup(client.get("/triage"))
    asked = []
    for _ in range(limit):
        form = page.select_one("form#question")
        if form is None:
            return page, asked
        finding = form.select_one('input[name="question"]')["value"]
        asked.append(finding)
        if finding in answers:
            page = soup(submit(client, page, value=answers[finding]))
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


def test_hop_pain_in_the_groin_walks_to_an_urgent_result_with_ranked_conditions(client):
    answers = {"age": "29", "sex": "female", "pain_location": "groin", "pain_on_hop": "yes"}
    for finding in (
        "unable_to_bear_weight",
        "fever",
        "feeling_unwell",
        "saddle_numbness",
        "bladder_bowel_change",
        "leg_colour_or_cold",
        "groin_lump",
    ):
        answers[finding] = "no"
    answers["leg_weakness"] = "none"
    page, asked = walk(client, answers)
    assert "pain_on_hop" in asked
    banner = page.select_one("section.level-banner")
    assert "level-urgent" in banner["class"]
    conditions = page.select("#conditions ol > li.condition")
    assert len(conditions) == 5
    expected = evaluate({k: v for k, v in _typed(answers).items() if k in asked}, default_knowledge())
    assert expected.triage_level == "urgent"
    assert conditions[0].select_one("strong").get_text() == expected.conditions[0].name
    assert page.select_one("#routines a") is None  # no routine is offered with an urgent result


def _typed(answers: dict[str, str]) -> dict:
    kb = default_knowledge()
    out = {}
    for key, text in answers.items():
        ftype = kb.findings[key].type
        out[key] = (text == "yes") if ftype == "boolean" else float(text) if ftype == "number" else text
        if ftype == "number" and float(text).is_integer():
            out[key] = int(float(text))
    return out


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
