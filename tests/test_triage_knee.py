"""The knee as a second triage region (issue 15): its knowledge files, validated like the hip's, and the knee
vignettes answered question by question through the real interview by a simulated patient.

Public knee vignettes are read from ../shared/clinical/knee (never copied); our own knee cases, written from
published case reports, are in tests/cases/knee.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from strideguard.triage import interview as iv
from strideguard.triage.engine import evaluate
from strideguard.triage.from_diary import prefill, triage_region
from strideguard.triage.knowledge import KNOWLEDGE_DIR, check_knowledge, default_knowledge
from strideguard.triage.knowledge_model import (
    CONDITION_IDS,
    KNEE_CONDITION_IDS,
    LEVEL_RANK,
    KnowledgeBase,
    Screen,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
KNEE_VIGNETTES = SHARED / "clinical" / "knee" / "vignettes"
KNEE_VOCABULARY = SHARED / "clinical" / "knee" / "findings-vocabulary-knee.md"
OWN_KNEE = sorted((Path(__file__).parent / "cases" / "knee").glob("*.json"))
KB = default_knowledge("knee")
MODES = ("denied", "dont_know")
# Own cases the knee check still under-triages, each for a stated reason (reported, not hidden): any other
# case given a lower level than expected fails the test.
KNOWN_UNDER_TRIAGE = {
    # Luba 2024: a 62-year-old ultra runner's back-outer knee pain was a femoral condyle stress fracture; the
    # report's history gives nothing a runner could tell apart from osteoarthritis or popliteus pain.
    "own-knee-12",
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vignettes() -> list[dict[str, Any]]:
    if not KNEE_VIGNETTES.is_dir():
        pytest.skip(f"knee vignettes not found at {KNEE_VIGNETTES}")
    return [_load(p) for p in sorted(KNEE_VIGNETTES.glob("*.json"))]


# --- knowledge ---


def test_both_regions_load_and_the_knee_has_the_22_vocabulary_ids():
    for region in ("hip", "knee"):
        kb, errors = check_knowledge(region=region)
        assert errors == [] and kb is not None and kb.region == region
    assert set(default_knowledge("hip").conditions) == set(CONDITION_IDS)
    assert set(KB.conditions) == set(KNEE_CONDITION_IDS) and len(KB.conditions) == 22
    if KNEE_VOCABULARY.exists():
        section = KNEE_VOCABULARY.read_text(encoding="utf-8").split("## Location")[0]
        assert set(KNEE_CONDITION_IDS) == set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def test_knee_findings_extend_the_shared_ones_without_changing_the_hip():
    hip = default_knowledge("hip")
    knee_places = {"anterior_knee", "patellar_tendon", "lateral_knee", "medial_knee", "posterior_knee"}
    assert knee_places | {"diffuse_knee"} <= set(KB.findings["pain_location"].values)
    assert not knee_places & set(hip.findings["pain_location"].values)
    assert set(hip.findings) < set(KB.findings)  # shared ids mean the same in both regions
    assert "knee_hot_red" in KB.findings and "knee_hot_red" not in hip.findings
    assert evaluate({"pain_location": "groin"}, hip).region == "hip"
    assert evaluate({"pain_location": "anterior_knee"}, KB).region == "knee"


def test_every_knee_item_cites_a_source_and_says_where_its_number_comes_from():
    for condition in KB.conditions.values():
        assert condition.citations and condition.prior_citations, condition.id
        for item in condition.evidence:
            assert item.citations and item.basis in ("sourced", "derived", "design"), condition.id
            assert item.provenance, (condition.id, item.finding)
            if item.basis == "design":  # never presented as measured
                assert 0.1 <= item.lr <= 10, (condition.id, item.finding)
    for flag in KB.red_flags:
        assert flag.citations and flag.level in ("see_clinician", "urgent", "emergency"), flag.id
    for routine in KB.routines.values():
        assert routine.citations, routine.id


def test_a_broken_knee_file_is_reported_by_region_and_leaves_the_hip_alone(tmp_path):
    copy = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, copy)
    path = copy / "knee" / "conditions" / "patellofemoral_pain.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["citations"] = []
    data["evidence"][0]["citations"] = ["no_such_source"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _, errors = check_knowledge(copy, region="knee")
    assert any("knee/conditions/patellofemoral_pain.yaml" in e and "no citations" in e for e in errors)
    assert any("unknown citation 'no_such_source'" in e for e in errors)
    assert check_knowledge(copy, region="hip")[1] == []
    _, errors = check_knowledge(copy, region="elbow")
    assert errors == ["unknown body region 'elbow' (one of hip, knee)"]


# --- danger first ---

SCREENED_NONE = {
    "fever": False,
    "feeling_unwell": False,
    "unable_to_bear_weight": False,
    "knee_hot_red": False,
}


@pytest.mark.parametrize(
    ("findings", "level", "flag"),
    [
        ({"pain_location": "diffuse_knee", "knee_hot_red": True}, "urgent", "hot_swollen_knee"),
        ({"knee_hot_red": True, "fever": True}, "emergency", "hot_knee_with_fever"),
        (
            {"knee_hot_red": True, "knee_wound_or_injection": True},
            "emergency",
            "hot_knee_after_injection_or_wound",
        ),
        ({"knee_locking": "locked_now"}, "urgent", "locked_knee"),
        ({"trauma": True, "cannot_straight_leg_raise": True}, "emergency", "cannot_straighten_after_injury"),
        ({"age": 12, "limp": True, "pain_location": "anterior_knee"}, "urgent", "limping_child"),
        ({"calf_pain": True, "leg_swelling": True}, "urgent", "possible_clot"),
        (
            {"tender_spot": "inner_shin_below_joint_line", "pain_on_hop": True},
            "urgent",
            "bone_stress_pattern",
        ),
        (
            {"tender_spot": "inner_shin_below_joint_line", "recent_mileage_increase_pct": 60},
            "urgent",
            "bone_spot_after_load_rise",
        ),
    ],
)
def test_knee_red_flags_set_their_level_and_withhold_every_routine(findings, level, flag):
    result = evaluate({**SCREENED_NONE, **findings} if "knee_hot_red" not in findings else findings, KB)
    assert flag in [f.id for f in result.red_flags]
    assert LEVEL_RANK[result.triage_level] >= LEVEL_RANK[level]
    assert result.routines == () and result.routines_withheld


def test_a_possible_bone_stress_injury_or_septic_knee_is_never_sent_to_a_routine():
    # a patellofemoral picture, but the bone below the knee is sore and hurts on walking
    base = {
        "age": 27,
        "sex": "female",
        "pain_location": "anterior_knee",
        "pain_squatting": True,
        "pain_stairs": True,
        **SCREENED_NONE,
    }
    assert evaluate(base, KB).routines  # the warning signs were answered: a routine is offered
    bone = evaluate({**base, "tender_spot": "shin_bone_below_knee", "pain_walking": True}, KB)
    assert bone.triage_level == "urgent" and bone.routines == ()
    hot = evaluate({**base, "knee_hot_red": True}, KB)
    assert hot.triage_level == "urgent" and hot.routines == ()
    # unanswered warning signs: no routine either (danger first)
    bare = evaluate({"pain_location": "anterior_knee", "pain_squatting": True}, KB)
    assert bare.routines == () and "warning-sign questions" in (bare.routines_withheld or "")


def test_hop_pain_after_a_load_rise_warns_of_bone_stress_behind_the_knee_too():
    """A femoral condyle stress fracture presented as back-outer knee pain (Luba 2024): the load-rise warning
    holds for every place around the knee, and the interview asks what it needs."""
    runner = {
        "age": 62,
        "sex": "male",
        "pain_location": "posterior_knee",
        "onset": "gradual",
        "trauma": False,
        "pain_on_hop": True,
        "recent_training_change": "race_or_marathon_block",
    }
    result = evaluate({**SCREENED_NONE, **runner}, KB)
    assert "bone_stress_after_load_rise" in [f.id for f in result.red_flags]
    assert result.triage_level == "urgent" and result.routines == ()
    findings, _steps = iv.simulate_interview(runner, KB)
    assert evaluate(findings, KB).triage_level == "urgent"
    # the same back of the knee without hop, walking or night pain is not a bone-stress warning
    calm = {**runner, "pain_on_hop": False, "pain_walking": False, "night_pain": False}
    assert "bone_stress_after_load_rise" not in [
        f.id for f in evaluate({**SCREENED_NONE, **calm}, KB).red_flags
    ]


def test_no_routine_for_under_16s_without_a_clinician():
    base = {"pain_location": "anterior_knee", "pain_squatting": True, "pain_stairs": True, **SCREENED_NONE}
    assert evaluate({**base, "age": 17}, KB).routines
    young = evaluate({**base, "age": 14}, KB)
    assert young.routines == () and "under-16s" in (young.routines_withheld or "")
    assert young.triage_level == "self_care"  # the level itself is not raised by age


def test_the_hip_rule_that_reaches_the_knee_keeps_working():
    # an adolescent with knee-only pain and a limp is an SCFE check, in both regions
    for region, where in (("hip", "knee"), ("knee", "diffuse_knee")):
        result = evaluate({"age": 13, "pain_location": where, "limp": True}, default_knowledge(region))
        assert result.triage_level == "urgent" and result.conditions[0].id == "scfe"


# --- the interview, a simulated patient ---


def _answer(finding: str, truth: dict[str, Any], mode: str, kb: KnowledgeBase) -> Any:
    """The case's value, else "no" to a yes/no symptom (denied) or "don't know"."""
    if finding in truth:
        return truth[finding]
    if mode != "denied":
        return None
    spec = kb.findings[finding]
    if spec.type == "boolean":
        return False
    return "none" if spec.type == "enum" and "none" in spec.values else None


def take(truth: dict[str, Any], mode: str, kb: KnowledgeBase = KB) -> tuple[dict[str, Any], list[str]]:
    """Answer the real interview (the steps the CLI, wizard and API ask) from a case, question by question."""
    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    steps: list[str] = []
    while (step := iv.next_step(findings, kb, asked)) is not None:
        steps.append(step.id)
        assert len(steps) < 80, steps
        if isinstance(step, Screen):
            shown = list(step.findings)
            if step.mode == "each":
                answer: Any = {f: _answer(f, truth, mode, kb) for f in shown}
            else:
                ticked = [f for f in shown if truth.get(f) not in (None, False, "none", "normal")]
                ticked = [f for f in ticked if f != "bmi_category" or truth[f] == "underweight"]
                known = all(f in truth for f in shown)
                answer = ticked or ("none" if mode == "denied" or known else "dont_know")
            findings, asked = iv.record(step.id, answer, findings, asked, kb)
        else:
            findings, asked = iv.record(
                step.finding, _answer(step.finding, truth, mode, kb), findings, asked, kb
            )
        findings = {k: v for k, v in findings.items() if v is not None}
    return findings, steps


def _figures(cases: list[dict[str, Any]], mode: str | None) -> dict[str, Any]:
    first = top3 = 0
    under: list[str] = []
    routines_when_serious: list[str] = []
    for case in cases:
        findings = case["findings"] if mode is None else take(case["findings"], mode)[0]
        result = evaluate(findings, KB)
        ranked = [c.id for c in result.conditions]
        first += ranked[0] == case["expected_primary"]
        top3 += case["expected_primary"] in ranked[:3]
        if LEVEL_RANK[result.triage_level] < LEVEL_RANK[case["expected_triage"]]:
            under.append(case["id"])
        if case["expected_triage"] in ("urgent", "emergency") and result.routines:
            routines_when_serious.append(case["id"])
    n = len(cases)
    return {"first": first / n, "top3": top3 / n, "under": under, "routines": routines_when_serious}


@pytest.mark.parametrize("mode", [None, *MODES])
def test_public_knee_vignettes_meet_the_targets_in_every_answer_mode(vignettes, mode):
    figures = _figures(vignettes, mode)
    # measured: first 14/15 (findings), 15/15 (denied), 14/15 (don't know); top 3 15/15 in all three
    assert figures["first"] >= 0.8, figures
    assert figures["top3"] >= 0.95, figures
    assert figures["under"] == [], figures  # no case given a lower level than expected
    assert figures["routines"] == [], figures  # no routine in any urgent or emergency case


@pytest.mark.parametrize("mode", [None, *MODES])
def test_own_knee_cases_from_case_reports(mode):
    cases = [_load(p) for p in OWN_KNEE]
    assert len(cases) >= 30 and all(c["source"] for c in cases)
    figures = _figures(cases, mode)
    # measured: first 26/30 and top 3 29/30 in every mode (cases 13-30 were written after the knowledge and
    # not used to tune it; cases 1-12 were, see docs/triage.md)
    assert figures["first"] >= 0.8, figures
    assert figures["top3"] >= 0.95, figures
    assert set(figures["under"]) <= KNOWN_UNDER_TRIAGE, figures
    assert figures["routines"] == [], figures


def test_knee_interview_asks_basics_then_warning_signs_then_details():
    _, steps = take({"age": 30, "sex": "male", "pain_location": "lateral_knee"}, "denied")
    assert steps[:4] == ["age", "sex", "pain_location", "emergency_signs"]
    assert {"knee_warning_signs", "pain_pattern", "health_history"} <= set(steps)
    kinds = ["screen" if KB.screen(s) else KB.question(s).phase for s in steps]
    last_safety = max(i for i, k in enumerate(kinds) if k in ("screen", "red_flag"))
    assert "detail" in kinds and kinds.index("detail") > last_safety


def test_an_emergency_answer_ends_the_knee_interview_at_once():
    findings, steps = take(
        {"age": 40, "pain_location": "diffuse_knee", "unable_to_bear_weight": True}, "denied"
    )
    assert steps[-1] == "emergency_signs"
    assert evaluate(findings, KB).triage_level == "emergency"


# --- from the pain diary ---


def test_diary_regions_choose_the_check_and_fill_in_what_the_diary_knows():
    assert triage_region("knee-front") == "knee" and triage_region("groin-hip-front") == "hip"
    assert triage_region("achilles") is None
    answers = prefill("knee-front", "both", "rising")
    assert answers == [
        ("pain_location", "anterior_knee"),
        ("pain_bilateral", True),
        ("pain_trend", "worsening"),
    ]
    assert prefill("knee-side", "left", "new") == [("pain_bilateral", False)]  # inner or outer: not known
    findings, asked = iv.replay(answers, KB)  # the interview takes them as answers
    assert findings["pain_location"] == "anterior_knee" and "pain_location" in asked
    assert iv.next_step(findings, KB, asked).id == "age"
