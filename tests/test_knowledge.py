"""The triage knowledge loads cleanly, and a broken copy reports every problem at once."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from strideguard import rules
from strideguard.triage.knowledge import KNOWLEDGE_DIR, check_knowledge, default_knowledge, load_knowledge
from strideguard.triage.knowledge_model import CONDITION_IDS, KnowledgeError

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STRIDEGUARD_SHARED", REPO.parent / "shared"))
VOCABULARY = SHARED / "clinical" / "findings-vocabulary.md"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the packaged knowledge to break."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def _edit_yaml(path: Path, edit) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_packaged_knowledge_loads_without_errors():
    kb, errors = check_knowledge()
    assert errors == []
    assert kb is not None
    assert list(kb.conditions) == list(CONDITION_IDS)
    assert len(kb.findings) == 69
    assert len(kb.red_flags) >= 10


def test_every_clinical_item_cites_a_known_source():
    kb = default_knowledge()
    items = [*kb.conditions.values(), *kb.red_flags, *kb.questions]
    for item in items:
        assert item.citations, item
        assert set(item.citations) <= set(kb.citations)
    for condition in kb.conditions.values():
        for evidence in condition.evidence:
            assert evidence.citations and set(evidence.citations) <= set(kb.citations), (
                condition.id,
                evidence,
            )
        for escalation in condition.escalations:
            assert escalation.citations, (condition.id, escalation)
        assert condition.date_reviewed < condition.next_review


def test_findings_match_the_shared_vocabulary():
    if not VOCABULARY.is_file():
        pytest.skip(f"{VOCABULARY} not found")
    text = VOCABULARY.read_text()
    ids = re.findall(r"^\| \d+ \| `(\w+)` \|", text, re.MULTILINE)
    assert ids == list(default_knowledge().findings)
    conditions = re.findall(r"^\| `(\w+)` \| [a-z]", text, re.MULTILINE)
    assert conditions == list(CONDITION_IDS)


def test_every_red_flag_finding_has_a_question():
    kb = default_knowledge()
    asked = {q.finding for q in kb.questions}
    for flag in kb.red_flags:
        assert {leaf["finding"] for leaf in rules.leaves(flag.rule)} <= asked, flag.id


def test_routine_files_are_validated_with_the_knowledge():
    kb = default_knowledge()
    if not kb.routines:
        pytest.skip("no routine files yet")
    for routine in kb.routines.values():
        assert set(routine.suitable_for) <= set(CONDITION_IDS)
        assert set(routine.contraindicated_for) <= set(CONDITION_IDS)
        assert set(routine.citations) <= set(kb.citations)
    # No foam rolling over a suspected fracture (Bartsch 2021): the routine files must say so.
    for routine in kb.routines.values():
        if routine.kind == "foam_rolling":
            assert "femoral_neck_stress_fracture" in routine.contraindicated_for, routine.id


def test_broken_knowledge_reports_all_errors_together(kb_copy: Path):
    def unknown_finding_and_bad_value(data):
        data["evidence"].append(
            {
                "finding": "hip_wobble",
                "op": "eq",
                "value": True,
                "lr": 2,
                "citations": ["griffin_2016_warwick"],
            }
        )
        data["evidence"].append(
            {
                "finding": "pain_location",
                "op": "eq",
                "value": "elbow",
                "lr": 2,
                "citations": ["griffin_2016_warwick"],
            }
        )

    _edit_yaml(kb_copy / "hip" / "conditions" / "fai_labral.yaml", unknown_finding_and_bad_value)

    def missing_citation_and_dates(data):
        data["red_flags"][0]["citations"] = ["no_such_paper"]
        del data["red_flags"][1]["next_review"]

    _edit_yaml(kb_copy / "hip" / "red_flags.yaml", missing_citation_and_dates)
    _edit_yaml(kb_copy / "hip" / "conditions" / "scfe.yaml", lambda d: d.update(citations=[]))

    kb, errors = check_knowledge(kb_copy)
    assert kb is None
    text = "\n".join(errors)
    assert "hip/conditions/fai_labral.yaml: evidence[" in text and "unknown finding 'hip_wobble'" in text
    assert "pain_location must be one of" in text and "'elbow'" in text
    assert "hip/red_flags.yaml: cauda_equina_symptoms: unknown citation 'no_such_paper'" in text
    assert "hip/red_flags.yaml: bilateral_sciatica: missing or invalid next_review" in text
    assert "hip/conditions/scfe.yaml: no citations" in text
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kb_copy)
    assert len(caught.value.errors) == len(errors) >= 5


def test_duplicate_citation_ids_across_files_are_an_error(kb_copy: Path):
    (kb_copy / "citations_extra.yaml").write_text(
        "robertson_wood_2017:\n  text: a second entry with the same id\n  year: 2017\n"
    )
    _, errors = check_knowledge(kb_copy)
    assert any(
        "citations_extra.yaml: robertson_wood_2017: duplicate citation id (also in citations.yaml)" in e
        for e in errors
    )


def test_missing_condition_file_and_unknown_condition_are_reported(kb_copy: Path):
    (kb_copy / "hip" / "conditions" / "scfe.yaml").rename(
        kb_copy / "hip" / "conditions" / "hip_gremlins.yaml"
    )
    _, errors = check_knowledge(kb_copy)
    assert "hip/conditions/scfe.yaml: missing condition file" in errors
    assert any("hip_gremlins" in e and "unknown condition id" in e for e in errors)


def test_routine_with_unknown_condition_is_reported(kb_copy: Path):
    path = kb_copy / "routines" / "test_routine.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "id": "test_routine",
                "name": "Test",
                "kind": "juggling",
                "summary": "x",
                "suitable_for": ["sore_elbow"],
                "contraindicated_for": [],
                "citations": [],
                "date_reviewed": "2026-01-01",
                "steps": [{"name": "a", "instruction": "b", "duration_s": 0, "sides": "both"}],
            }
        )
    )
    _, errors = check_knowledge(kb_copy)
    text = "\n".join(e for e in errors if e.startswith("routines/test_routine.yaml"))
    for expected in (
        "kind must be one of",
        "unknown condition 'sore_elbow'",
        "no citations",
        "date_reviewed",
        "next_review",
        "steps[0]",
    ):
        assert expected in text, expected


def test_invalid_yaml_names_the_file_and_line(kb_copy: Path):
    (kb_copy / "hip" / "questions.yaml").write_text("questions: [\n  - {finding: age\n")
    _, errors = check_knowledge(kb_copy)
    assert any(e.startswith("hip/questions.yaml: not valid YAML (line") for e in errors)


def test_shared_citations_are_required_even_when_a_region_has_its_own(kb_copy: Path):
    for path in kb_copy.glob("citations*.yaml"):
        path.unlink()
    assert list((kb_copy / "knee").glob("citations*.yaml"))  # the knee's own are still there
    _, errors = check_knowledge(kb_copy, region="knee")
    assert f"{kb_copy}: no citations*.yaml files" in errors


def test_the_knowledge_carries_the_design_rationales_the_review_pack_names(kb_copy: Path):
    path = kb_copy / "design_rationales.yaml"
    _edit_yaml(
        path, lambda data: data["rationales"].update(test_reason="A reason   written\n for this test only.")
    )
    kb, errors = check_knowledge(kb_copy)
    assert errors == [] and kb is not None
    assert kb.rationales["test_reason"] == "A reason written for this test only."
    assert set(kb.rationales) == set(yaml.safe_load(path.read_text())["rationales"])
