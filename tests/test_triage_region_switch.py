"""A knee check whose pain is in the groin or buttock goes on as the hip check, identically in every shell:
the real CLI (answers typed on stdin), POST /api/triage/interview and the web wizard ask the same questions
in the same order and give the same region, top conditions and triage level (triage/regions.py,
settle_region)."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest
from bs4 import BeautifulSoup

from strideguard.triage.interview import AnswerError
from strideguard.triage.knowledge import KNOWLEDGE_DIR, default_knowledge
from strideguard.triage.regions import settle_region
from strideguard.web.triage import LEVEL_HEADLINES

# a 62-year-old whose "knee" pain is in the groin: the hip's osteoarthritis questions follow
HIP_OA = {
    "age": 62,
    "sex": "female",
    "pain_location": "groin",
    "onset": "gradual",
    "duration_weeks": 20,
    "morning_stiffness_minutes": 15,
    "pain_walking": True,
    "pain_deep_flexion": True,
    "pain_stairs": True,
}
# buttock pain with new numbness in the saddle area: a warning sign the hip's checklist has and the knee's
# has not, ticked after the check moved to the hip
SADDLE = {"age": 45, "sex": "male", "pain_location": "buttock", "saddle_numbness": True}


def _api_walk(client, truth: dict[str, Any]) -> tuple[list[dict[str, Any]], list[list[Any]], dict[str, Any]]:
    """Answer POST /api/triage/interview from `truth` (a region's checklist: the items that apply, else
    "none of these"; a question: the value, else "no" to a yes/no, else "don't know"), always sending the
    region the check started in. Returns the steps shown, the answers given and the result."""
    steps: list[dict[str, Any]] = []
    given: list[list[Any]] = []
    for _ in range(80):
        response = client.post("/api/triage/interview", json={"region": "knee", "answers": given})
        assert response.status_code == 200, response.text
        data = response.json()
        if data["step"] is None:
            return steps, given, data["result"]
        step = data["step"]
        steps.append(step)
        if step["kind"] == "screen":
            assert step["mode"] == "checklist"
            ticked = [
                f
                for item in step["items"]
                if any(truth.get(f) for f in item["findings"])
                for f in item["findings"]
            ]
            given.append([step["id"], ticked or "none"])
        else:
            value = truth.get(step["id"], False if step["type"] == "boolean" else None)
            given.append([step["id"], value])
    raise AssertionError("the interview did not finish")


def _typed(step: dict[str, Any], answer: Any) -> str:
    """What a runner types at the CLI for the API's answer to the same step."""
    if step["kind"] == "screen":
        if answer == "none":
            return "n"
        return " ".join(
            str(i) for i, item in enumerate(step["items"], 1) if set(item["findings"]) & set(answer)
        )
    if answer is None:
        return "?"
    if isinstance(answer, bool):
        return "y" if answer else "n"
    return str(answer)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("truth", [HIP_OA, SADDLE], ids=["hip_oa", "saddle_numbness"])
def test_cli_api_and_wizard_move_a_knee_check_to_the_hip_identically(run_cli, client, truth):
    steps, given, api_result = _api_walk(client, truth)
    assert api_result["region"] == "hip"
    assert [s["id"] for s in steps[:3]] == ["age", "sex", "pain_location"]
    assert "saddle_numbness" in [
        f for s in steps if s["kind"] == "screen" for i in s["items"] for f in i["findings"]
    ]

    # the CLI, typed answer by answer: the same prompts in the same order, then the same result
    typed = "".join(_typed(step, answer) + "\n" for step, (_, answer) in zip(steps, given, strict=True))
    cli = run_cli("triage", "--region", "knee", "--json", input=typed)
    assert cli.returncode == 0, cli.stderr
    transcript = _flat(cli.stderr)
    assert "the hip check goes on from here" in transcript
    position = 0
    for step in steps:
        found = transcript.find(_flat(step["text"]), position)
        assert found >= 0, f"the CLI did not ask {step['id']!r} next: {step['text']!r}"
        position = found + 1
    cli_result = json.loads(cli.stdout)
    assert cli_result["region"] == api_result["region"] == "hip"
    assert cli_result["triage_level"] == api_result["triage_level"]
    assert [c["id"] for c in cli_result["conditions"][:3]] == [c["id"] for c in api_result["conditions"][:3]]
    assert [f["id"] for f in cli_result["red_flags"]] == [f["id"] for f in api_result["red_flags"]]
    if truth is SADDLE:
        assert api_result["triage_level"] == "emergency"

    # the web wizard, page by page with the same answers: the same steps, then the same saved result
    hip = default_knowledge("hip")
    page = BeautifulSoup(client.get("/triage?region=knee").text, "html.parser")
    for step, (step_id, answer) in zip(steps, given, strict=True):
        form = page.select_one("form#question")
        assert form is not None and form.select_one('input[name="question"]')["value"] == step["id"]
        data = {i["name"]: i.get("value", "") for i in form.select('input[type="hidden"]')}
        if step["kind"] == "screen":
            ticks = {f"tick:{f}": "on" for f in answer} if answer != "none" else {}
            data.update(action="yes" if ticks else "none", **ticks)
        elif answer is None:
            data["action"] = "dont_know"
        else:
            value = ("yes" if answer else "no") if isinstance(answer, bool) else str(answer)
            data.update(action="answer", value=value)
        page = BeautifulSoup(client.post("/triage", data=data, follow_redirects=True).text, "html.parser")
        if step_id == "pain_location":
            assert page.select_one('input[name="region"]')["value"] == "hip"
    assert page.select_one("form#question") is None
    text = _flat(page.get_text(" "))
    assert LEVEL_HEADLINES[api_result["triage_level"]] in text
    assert hip.conditions[api_result["conditions"][0]["id"]].name in text


def test_settle_region_replays_the_answers_before_the_move_under_the_hip():
    knee = default_knowledge("knee")
    start = [("age", 30), ("sex", "male"), ("pain_location", "groin")]
    answers = [*start, ("emergency_signs", ["saddle_numbness"])]
    settled = settle_region("knee", answers)
    assert settled.region == "hip" and settled.findings["saddle_numbness"] is True
    assert settle_region("hip", answers).findings == settled.findings  # as the wizard sends them
    assert settle_region("knee", [*start[:2], ("pain_location", "anterior_knee")]).kb is knee
    # a knee-only answer before the move cannot be carried: the hip would take a "no" never given
    with pytest.raises(AnswerError, match="knee_locking"):
        settle_region("knee", [("knee_locking", "none"), *start])
    with pytest.raises(AnswerError, match="knee_warning_signs"):
        settle_region("knee", [("knee_warning_signs", "none"), *start])


def test_cli_refuses_to_carry_a_knee_only_answer_into_the_hip_check(run_cli, tmp_path):
    """A reviewer's knowledge (--knowledge) whose knee asks a knee-only question before "where": the hip check
    cannot take that answer, so the CLI stops at the move with one clear line, before asking the hip's
    warning signs (it used to carry the knee finding into the hip and fail only at the result)."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    questions = folder / "knee" / "questions.yaml"
    text = questions.read_text(encoding="utf-8")
    entry = (
        "- finding: previous_knee_injury\n  phase: detail\n"
        "  text: Have you ever had a significant injury or surgery on this knee?\n"
        "  citations: [nice_ng226_2022]\n"
    )
    assert entry in text
    text = text.replace(entry, "").replace(
        "- finding: pain_location\n", entry.replace("detail", "basics") + "- finding: pain_location\n", 1
    )
    questions.write_text(text, encoding="utf-8")
    out = run_cli(
        "triage", "--region", "knee", "--knowledge", str(folder), input="30\nmale\nn\ngroin\n" + "n\n" * 40
    )
    assert out.returncode == 1, out.stdout
    assert "Have you ever had a significant injury or surgery on this knee?" in out.stdout
    assert "previous_knee_injury: answered in the knee check, which the hip check does not ask" in out.stderr
    assert "Traceback" not in out.stderr
    assert "genitals" not in out.stdout  # the hip's warning signs were not asked


@pytest.mark.parametrize("truth", [HIP_OA, SADDLE], ids=["hip_oa", "saddle"])
def test_findings_of_a_knee_check_with_hip_pain_are_scored_as_the_hip_like_the_interview(
    run_cli, client, tmp_path, truth
):
    """POST /api/triage and `triage --findings` decide the check the way the interview does: a knee check
    whose pain is in the groin or buttock is scored by the hip's knowledge (which knows the saddle-area
    warning sign), the same as the interview that moved to the hip and as a hip check of the same findings."""
    _steps, _given, interviewed = _api_walk(client, truth)
    as_knee = client.post("/api/triage", json={"region": "knee", "findings": truth})
    as_hip = client.post("/api/triage", json={"region": "hip", "findings": truth})
    assert as_knee.status_code == 200, as_knee.text
    results = {"api, knee": as_knee.json(), "api, hip": as_hip.json()}
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"findings": truth}), encoding="utf-8")
    for region in ("knee", "hip"):
        out = run_cli("triage", "--region", region, "--findings", str(case), "--json")
        assert out.returncode == 0, out.stderr
        results[f"cli, {region}"] = json.loads(out.stdout)
        assert ("That is the hip" in out.stderr) == (region == "knee")

    def summary(result: dict[str, Any]) -> tuple[Any, ...]:
        return (
            result["region"],
            result["triage_level"],
            [c["id"] for c in result["conditions"][:3]],
            sorted(f["id"] for f in result["red_flags"]),
        )

    assert {name: summary(r) for name, r in results.items()} == dict.fromkeys(
        results, summary(results["api, hip"])
    )
    assert (
        summary(results["api, knee"])[:2] == summary(interviewed)[:2]
    )  # the region and level, as interviewed
    if truth is SADDLE:
        assert results["api, knee"]["triage_level"] == "emergency"


def test_findings_the_hip_check_does_not_know_are_refused_by_name_when_a_knee_check_moves(
    run_cli, client, tmp_path
):
    knee_only = {"age": 30, "sex": "male", "pain_location": "groin", "knee_locking": "locked_episodes"}
    kb = default_knowledge("knee")
    assert "knee_locking" in kb.findings and "knee_locking" not in default_knowledge("hip").findings
    assert (
        client.post(
            "/api/triage", json={"region": "knee", "findings": {**knee_only, "pain_location": "knee"}}
        ).status_code
        == 200
    )
    response = client.post("/api/triage", json={"region": "knee", "findings": knee_only})
    assert response.status_code == 422
    assert "knee_locking" in response.text
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"findings": knee_only}), encoding="utf-8")
    out = run_cli("triage", "--region", "knee", "--findings", str(case), "--json")
    assert out.returncode == 2 and "knee_locking" in out.stderr and "Traceback" not in out.stderr
