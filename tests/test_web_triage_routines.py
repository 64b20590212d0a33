"""Web triage wizard (adaptive questions, don't know, back, result page) and the routine pages and API."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.storage.tables import TriageRow
from strideguard.triage.engine import evaluate
from strideguard.triage.knowledge import default_knowledge


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def submit(
    client: TestClient,
    page: BeautifulSoup,
    action: str = "answer",
    value: str | None = None,
    extra: dict[str, str] | None = None,
):
    form = page.select_one("form#question")
    data = {i["name"]: i.get("value", "") for i in form.select('input[type="hidden"]')}
    data["action"] = action
    if value is not None:
        data["value"] = value
    data.update(extra or {})
    return client.post("/triage", data=data, follow_redirects=True)


def answer_screen_page(client: TestClient, page: BeautifulSoup, answers: dict[str, str], default: str):
    """A checklist page: tick what `answers` says applies ("These apply"), else `default` (none/dont_know);
    a follow-up page: each item from `answers` (yes/no/a choice), else "don't know"."""
    form = page.select_one("form#question")
    if form.get("data-mode") == "each":
        items = {i["name"][5:] for i in form.select('input[type="radio"][name^="item:"]')}
        extra = {f"item:{f}": answers.get(f, "dont_know") for f in items}
        return submit(client, page, extra=extra)
    boxes = [i["name"][5:] for i in form.select('input[type="checkbox"][name^="tick:"]')]
    ticks = {f"tick:{f}": "on" for f in boxes if answers.get(f, "no") not in ("no", "none", "dont_know")}
    if ticks:
        return submit(client, page, action="yes", extra=ticks)
    return submit(client, page, action=default)


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
            page = soup(answer_screen_page(client, page, answers, "none"))
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
    assert asked[-1] == "emergency_signs"  # ticked on the checklist; no more questions after an emergency
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
    assert "pain_pattern" in asked and "pain_on_hop" not in asked  # ticked on the group's checklist
    banner = page.select_one("section.level-banner")
    assert "level-urgent" in banner["class"]
    conditions = page.select("#conditions ol > li.condition")
    assert len(conditions) == 5
    row = session.query(TriageRow).one()
    assert row.findings["fever"] is False and row.findings["pain_on_hop"] is True
    assert row.findings["pain_walking"] is False  # not ticked on a submitted checklist: no
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
    assert len(items) == 9 and any("put weight on the leg" in i for i in items)
    buttons = {b["value"]: b.get_text(strip=True) for b in form.select('button[name="action"]')}
    assert buttons == {
        "none": "None of these",
        "yes": "These apply",
        "dont_know": "Don't know",
        "back": "Back",
    }
    assert len(form.select("input[type=checkbox]")) == 9  # "tick every one that applies"
    # "don't know" shows the group once more, with an answer per line, on one page
    drilled = soup(submit(client, page, action="dont_know"))
    assert drilled.select_one('input[name="question"]')["value"] == "emergency_signs"
    assert drilled.select_one("form#question")["data-mode"] == "each"
    assert len(drilled.select('input[type=radio][value="dont_know"]')) == 9
    # two ticks are both recorded: the whole group on one screen (issue 10)
    ticked = soup(
        submit(client, page, action="yes", extra={"tick:unable_to_bear_weight": "on", "tick:fever": "on"})
    )
    assert "level-emergency" in ticked.select_one("section.level-banner")["class"]
    flags = " ".join(t.get_text() for t in ticked.select("#red-flags h3"))
    assert "weight on the leg" in flags and "fever" in flags
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
    default_knowledge()
    given: list[list[object]] = []
    for _ in range(60):
        response = client.post("/api/triage/interview", json={"answers": given})
        assert response.status_code == 200, response.text
        data = response.json()
        step = data["step"]
        if step is None:
            return data, [a[0] for a in given]
        if step["kind"] == "screen" and step["mode"] == "each":
            given.append([step["id"], {f: answers.get(f) for i in step["items"] for f in i["findings"]}])
        elif step["kind"] == "screen":
            assert [a["value"] for a in step["answers"]] == ["none", "dont_know"]
            assert all(item["findings"] for item in step["items"]) and step["citations"]
            shown = [f for i in step["items"] for f in i["findings"]]
            ticked = [f for f in shown if answers.get(f, False) not in (False, "none")]
            given.append([step["id"], ticked or "none"])
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
    assert data["findings"]["pain_on_hop"] is True and data["findings"]["pain_walking"] is False
    # An emergency answer ends the interview at once.
    stop, steps = api_walk(client, {"age": 34, "pain_location": "groin", "unable_to_bear_weight": True})
    assert steps[-1] == "emergency_signs" and stop["result"]["triage_level"] == "emergency"
    assert stop["result"]["conditions"][0]["pulled_by"] == ["cannot_bear_weight"]
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


# --- QA round: plain words, unchecked warning signs, Back keeps the answer, equal buttons, local times ---


def walk_with(
    client: TestClient, answers: dict[str, str], screens: dict[str, str], yes_no: str | None = None
) -> BeautifulSoup:
    """Like `walk`, but each group of warning signs gets the answer in `screens` (default "none"), and yes/no
    questions not in `answers` get `yes_no` if given (else "don't know")."""
    kb = default_knowledge()
    page = soup(client.get("/triage"))
    for _ in range(80):
        form = page.select_one("form#question")
        if form is None:
            return page
        step_id = form.select_one('input[name="question"]')["value"]
        if kb.screen(step_id) is not None:
            page = soup(answer_screen_page(client, page, answers, screens.get(step_id, "none")))
        elif step_id in answers:
            page = soup(submit(client, page, value=answers[step_id]))
        elif yes_no is not None and kb.findings[step_id].type == "boolean":
            page = soup(submit(client, page, value=yes_no))
        else:
            page = soup(submit(client, page, action="dont_know"))
    raise AssertionError("the wizard did not finish")


def texts(page: BeautifulSoup, selector: str) -> list[str]:
    return [el.get_text(" ", strip=True) for el in page.select(selector)]


def test_urgent_result_speaks_plain_words_and_says_each_thing_once(client):
    answers = {"age": "24", "sex": "female", "pain_location": "groin", "pain_on_hop": "yes"}
    answers |= {"pain_walking": "yes", "amenorrhea": "yes", "pain_during_run_pattern": "builds_during_run"}
    page = walk_with(client, answers, {"pain_pattern": "yes", "bone_health": "yes"})
    assert "level-urgent" in page.select_one("section.level-banner")["class"]
    flags = page.select("#red-flags article.flag")
    assert len(flags) >= 2
    # the banner counts the warning signs instead of repeating their messages
    banner = texts(page, "section.level-banner p")
    assert banner[0] == f"{len(flags)} warning signs found: see “Warning signs” below."
    body = texts(page, "#level p, #red-flags h3, #red-flags p, #unchecked li, #advice li")
    repeated = {t for t in body if body.count(t) > 1}
    assert not repeated, repeated
    because = " ".join(texts(page, "#red-flags .because"))
    assert "Because you said: Hopping or landing on that leg hurts" in because
    assert "front of the hip / groin crease" in because
    evidence = texts(page, "#conditions ul.evidence li")
    assert any(
        e.startswith(
            "Makes it much more likely (StrideGuard's estimate, not yet reviewed by a clinician): hop"
        )
        for e in evidence
    )
    assert not any("×" in e for e in evidence)  # never a bare factor
    assert "design choice" not in page.get_text() and "et al. (2026)" not in page.get_text()
    assert page.get_text().lower().count("stop running") == 1
    shown = " ".join(because.split() + evidence)
    for internal in ("=True", "(eq", "(in [", "e+0", "not:", "_"):
        assert internal not in shown, internal
    assert ".;" not in page.get_text()


def test_negative_answers_are_phrased_kindly_and_big_ratios_readably(client):
    answers = {"age": "35", "sex": "male", "pain_location": "lateral", "tender_greater_trochanter": "yes"}
    page = walk_with(client, answers, {"pain_pattern": "none"})
    evidence = " ".join(texts(page, "#conditions ul.evidence li"))
    assert "no pain when walking normally" in evidence
    assert "not:" not in evidence and "e+0" not in evidence


def test_dont_know_to_warning_signs_is_named_never_called_no_warning_signs(client, session):
    answers = {"age": "35", "sex": "male", "pain_location": "lateral", "tender_greater_trochanter": "yes"}
    page = walk_with(client, answers, {"emergency_signs": "dont_know"})
    row = session.query(TriageRow).one()
    assert row.findings["saddle_numbness"] is None and row.findings["fever"] is None
    # "don't know" to warning signs never leaves the result at self-care (issue 10); the ranking is unchanged
    known = {k: v for k, v in row.findings.items() if v is not None}
    kb = default_knowledge()
    assert evaluate(row.findings, kb).triage_level == "see_clinician"
    assert [c.id for c in evaluate(row.findings, kb).conditions] == [
        c.id for c in evaluate(known, kb).conditions
    ]
    assert "No warning signs found" not in page.get_text()
    section = page.select_one("#unchecked")
    assert section is not None
    text = section.get_text(" ", strip=True)
    assert 'These warning signs were not checked because you answered "Don\'t know":' in text
    items = texts(section, "li")
    assert "Numbness around the genitals, back passage or inner buttocks" in items
    assert "A fever or feeling feverish" in items
    assert "If any of them apply, please go to an emergency department or call your local emergency" in text
    # the section comes right after the level banner, before the advice
    order = [s.get("id") for s in page.select("main > section")]
    assert order.index("unchecked") == order.index("level") + 1 < order.index("advice")
    # the saved result page says the same
    again = soup(client.get(f"/triage/results/{row.id}"))
    assert texts(again, "#unchecked li") == items


def test_answering_none_of_these_everywhere_lists_nothing_unchecked(client):
    answers = {"age": "35", "sex": "male", "pain_location": "lateral", "tender_greater_trochanter": "yes"}
    page = walk_with(client, answers, {}, yes_no="no")
    assert page.select_one("#unchecked") is None
    assert "level-self_care" in page.select_one("section.level-banner")["class"]


def test_back_shows_the_answer_being_revisited(client):
    page = soup(client.get("/triage"))
    page = soup(submit(client, page, value="41"))
    back = soup(submit(client, page, action="back"))
    assert back.select_one("#answer-number")["value"] == "41"
    page = soup(submit(client, back, value="41"))
    page = soup(submit(client, page, value="female"))  # sex
    back = soup(submit(client, page, action="back"))
    assert back.select_one('input[name="question"]')["value"] == "sex"
    checked = [i["value"] for i in back.select('input[name="value"][checked]')]
    assert checked == ["female"]
    page = soup(submit(client, back, value="male"))  # change the answer
    assert json.loads(page.select_one('input[name="answers"]')["value"])[-1] == ["sex", "male"]
    page = soup(submit(client, page, action="dont_know"))  # pain location: don't know
    back = soup(submit(client, page, action="back"))
    assert back.select('input[name="value"][checked]') == []
    assert back.select_one("#previous-answer").get_text() == "Your answer before: “Don't know”."
    page = soup(submit(client, back, value="groin"))
    screen = soup(submit(client, page, action="none"))  # the first group of warning signs
    back = soup(submit(client, screen, action="back"))
    assert back.select_one('input[name="question"]')["value"] == "emergency_signs"
    assert back.select_one("#previous-answer").get_text() == "Your answer before: “None of these”."
    # an ordinary forward step shows no previous answer
    assert soup(submit(client, back, action="none")).select_one("#previous-answer") is None


def test_warning_sign_answers_have_equal_weight_and_progress_is_honest(client):
    page = soup(client.get("/triage"))
    assert page.select_one(".wizard-step").get_text(" ", strip=True).startswith("Question 1")
    assert page.select_one('.wizard-stages [aria-current="step"]').get_text() == "About you"
    for value in ("30", "male", "groin"):
        page = soup(submit(client, page, value=value))
    form = page.select_one("form#question")
    answers = form.select(".screen-answers button")
    assert [b["value"] for b in answers] == ["yes", "none", "dont_know"]
    assert {tuple(b.get("class", [])) for b in answers} == {("screen-answer",)}  # no primary, no default
    assert form.select_one(".wizard-step").get_text(" ", strip=True) == (
        "Question 4 · Warning signs first, then a few questions about the pain."
    )
    assert form.select_one('.wizard-stages [aria-current="step"]').get_text() == "Warning signs"
    assert " of " not in form.select_one(".wizard-progress").get_text()  # no made-up total
    why = form.select_one("p.sources").get_text()
    assert why.startswith("Why we ask: ") and why.endswith(".") and ".;" not in why


def test_earlier_checks_are_listed_in_local_time(client, session, athlete_id, monkeypatch):
    import time
    from datetime import UTC, datetime

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no daylight saving: 12:00 UTC is 17:30 there
    time.tzset()
    try:
        result = evaluate({"unable_to_bear_weight": True})
        row = TriageRow(
            athlete_id=athlete_id,
            created_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
            findings={"unable_to_bear_weight": True},
            triage_level=result.triage_level,
            result=result.to_json(),
        )
        session.add(row)
        session.commit()
        line = soup(client.get("/triage")).select_one("ul.triage-history li").get_text(" ", strip=True)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert line == "Mon 02 Mar 2026 at 17:30 : Emergency: get help now"
    assert "UTC" not in line


# --- in a real browser: contrast of every text on the result pages, and the question box at 375 px ---------

CONTRAST_JS = """() => {
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92
    : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => { for (; el; el = el.parentElement) { const c = rgba(getComputedStyle(el)
    .backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const low = [];
  for (const el of document.querySelectorAll("main *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const fg = rgba(getComputedStyle(el).color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push(`${ratio.toFixed(2)}: ${el.textContent.trim().slice(0, 60)}`);
  }
  return low;
}"""


@pytest.mark.browser
def test_every_text_on_the_result_pages_meets_wcag_aa_contrast(session, athlete_id, request):
    server, page = (request.getfixturevalue(n) for n in ("browser_server", "browser_page"))
    cases = {
        "emergency": {"saddle_numbness": True, "pain_location": "buttock"},
        "urgent": {"age": 24, "sex": "female", "pain_location": "groin", "pain_on_hop": True, "fever": None},
        "see_clinician": {
            "pain_location": "lateral",
            "tender_greater_trochanter": True,
            "duration_weeks": 10,
        },
        "self_care": {"pain_location": "lateral", "tender_greater_trochanter": True},
    }
    for level, findings in cases.items():
        result = evaluate(findings)
        assert result.triage_level == level
        row = TriageRow(athlete_id=athlete_id, findings=findings, triage_level=level, result=result.to_json())
        session.add(row)
        session.commit()
        page.goto(f"{server}/triage/results/{row.id}")
        assert page.evaluate(CONTRAST_JS) == [], level
        assert page.locator("main > *").first.get_attribute("class").startswith("level-banner")


@pytest.mark.browser
def test_question_text_stays_clear_of_borders_at_375_px(request):
    server, page = (request.getfixturevalue(n) for n in ("browser_server", "browser_page"))
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(server + "/triage")
    for step in ("30", "male", "groin"):
        if page.locator("#answer-number").count():
            page.fill("#answer-number", step)
        else:
            page.check(f'input[name="value"][value="{step}"]')
        with page.expect_navigation():
            page.click('button[value="answer"]')
    with page.expect_navigation():
        page.click('button[value="yes"]')  # nothing ticked: the group again, an answer per (long) line
    # no border of any box may cross the question's text
    crossings = page.evaluate("""() => {
      const q = document.querySelector('.question-text').getBoundingClientRect();
      const hits = [];
      for (const el of document.querySelectorAll('form#question, form#question *')) {
        const s = getComputedStyle(el), r = el.getBoundingClientRect();
        if (el.closest('.question-text')) continue;
        // a fieldset draws its top border through the middle of its legend, not at its box's top
        const legend = el.tagName === 'FIELDSET' && el.querySelector(':scope > legend');
        const top = legend ? legend.getBoundingClientRect().top + legend.offsetHeight / 2 : r.top;
        for (const [side, y] of [['top', top], ['bottom', r.bottom]]) {
          if (parseFloat(s[`border-${side}-width`]) > 0 && y > q.top && y < q.bottom
              && r.left < q.right && r.right > q.left) hits.push(`${el.tagName} ${side}`);
        }
      }
      return hits;
    }""")
    assert crossings == []
    shot(page, "triage-question-375")


# The journey's fixtures (a real server, Chromium), under names that do not clash with the soups above.
from test_browser import page as browser_page  # noqa: E402, F401
from test_browser import server as browser_server  # noqa: E402, F401
from test_browser import shot, shots_dir  # noqa: E402, F401

# --- routines, QA round: the timeline carries each step's instruction; list and player count alike -------


def test_routine_timeline_carries_instruction_and_side_for_the_player(client):
    data = client.get("/api/routines/piriformis_foam_roll").json()
    by_step = [s["instruction"] for s in data["steps"]]
    for entry in data["timeline"]:
        assert entry["instruction"] == by_step[entry["step_index"]] and entry["instruction"]
    assert [e["side"] for e in data["timeline"]] == [None, "left", "right", "left", "right"]
    assert [e["position"] for e in data["timeline"]] == list(range(5))
    player = soup(client.get("/routines/piriformis_foam_roll"))
    assert player.select_one("#step-instruction").get_text() == data["timeline"][0]["instruction"]


def test_routine_list_counts_steps_as_the_player_does(client):
    page = soup(client.get("/routines"))
    for card in page.select(".routine-list li.card"):
        href = card.select_one("h2 a")["href"]
        player = soup(client.get(href))
        total = player.select_one("#step-count").get_text().removeprefix("Step 1 of ")
        listed = card.select("p")[0].get_text()
        assert f"· {total} " in listed, (href, listed, total)
    foam = next(c for c in page.select(".routine-list li.card") if "piriformis" in c.select_one("a")["href"])
    assert "5 timed steps (3 exercises; 2 done on each side)" in foam.get_text()
