"""`strideguard triage` as a user runs it: the real CLI in a subprocess against the test's database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa

from strideguard.storage.tables import TriageRow
from strideguard.triage.knowledge import KNOWLEDGE_DIR
from strideguard.triage.knowledge_model import CONDITION_IDS
from strideguard.triage.result import DISCLAIMER


def _case(tmp_path: Path, findings: dict, **extra) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"findings": findings, **extra}))
    return path


def test_json_output_follows_the_contract(run_cli, tmp_path):
    findings = {
        "age": 24,
        "sex": "female",
        "pain_location": "groin",
        "pain_on_hop": True,
        "pain_walking": True,
    }
    result = run_cli(
        "triage", "--findings", str(_case(tmp_path, findings, summary="extra keys are ignored")), "--json"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"triage_level", "red_flags", "conditions", "advice", "routines", "disclaimer"} <= set(out)
    assert out["triage_level"] == "urgent"
    assert out["red_flags"][0]["id"] == "bone_stress_hop_pain"
    assert {"id", "level", "message", "citations"} <= set(out["red_flags"][0])
    assert sorted(c["id"] for c in out["conditions"]) == sorted(CONDITION_IDS)
    scores = [c["score"] for c in out["conditions"]]
    assert scores == sorted(scores, reverse=True)
    top = out["conditions"][0]
    assert top["id"] == "femoral_neck_stress_fracture"
    assert {"finding": "pain_on_hop", "value": True, "effect": "raises"}.items() <= top["evidence"][0].items()
    assert out["routines"] == []
    assert out["disclaimer"] == DISCLAIMER


def test_unknown_finding_and_out_of_range_value_exit_2_naming_them(run_cli, tmp_path):
    result = run_cli("triage", "--findings", str(_case(tmp_path, {"hip_wobble": True, "age": 300})), "--json")
    assert result.returncode == 2
    assert "unknown finding 'hip_wobble'" in result.stderr
    assert "age=300 is out of range 5..100" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_malformed_findings_file_exits_2_with_one_line(run_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"findings": [1, 2]}')
    result = run_cli("triage", "--findings", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"Error: {bad}: expected an object like")
    missing = run_cli("triage", "--findings", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_plain_text_result_shows_sources_and_disclaimer(run_cli, tmp_path):
    findings = {"age": 52, "sex": "female", "pain_location": "lateral", "tender_greater_trochanter": True}
    result = run_cli("triage", "--findings", str(_case(tmp_path, findings)))
    assert result.returncode == 0, result.stderr
    assert "Self-care is reasonable for now" in result.stdout
    assert "Gluteal tendinopathy" in result.stdout
    assert "Grimaldi A, Fearon A" in result.stdout  # sources are listed in full
    assert "StrideGuard gives guidance, not a diagnosis" in result.stdout


def test_interactive_session_via_stdin_stops_at_an_emergency(run_cli):
    # age, sex, location; warning signs: tick 2 (saddle numbness) and 5 (fever) on the one checklist
    answers = "41\n2\n3\n2 5\n"
    result = run_cli("triage", input=answers)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("How old are you") < out.index("Do any of these apply to you right now?")
    assert "2. New numbness around your genitals" in out  # the group lists its items, numbered
    assert "EMERGENCY" in out and "cauda equina" in out
    assert "infection in the joint or bone" in out  # both ticked signs are recorded, not only the first
    assert "Are you walking with a limp?" not in out  # no more questions after an emergency sign
    # the signs' own causes lead the list, never a "most likely" cause that contradicts them
    points = out.index("What the warning signs can point to")
    assert out.index("Cauda equina syndrome", points) < out.index("What to do")
    assert "Most likely" not in out
    assert "StrideGuard gives guidance, not a diagnosis" in out


def test_interactive_none_of_these_answers_a_whole_group_at_once(run_cli):
    # 30-year-old man with groin pain who answers "n" to everything: the safety screen takes five prompts.
    result = run_cli("triage", "--json", input="30\nmale\ngroin\n" + "n\n" * 60)
    assert result.returncode == 0, result.stderr
    transcript = result.stderr
    for header in (
        "Do any of these apply to you right now?",
        "Does any of this happen with your pain?",
        "Does any of this apply to you? (bone health)",
    ):
        assert header in transcript
    assert "Are you unable to put weight on the leg" not in transcript  # not asked one by one
    assert "Have you been vomiting" not in transcript  # no lump, so no lump follow-up
    prompts = transcript.count(") > ") - 2 * transcript.count("Let's skip that one")  # retries of numbers
    assert prompts <= 22
    out = json.loads(result.stdout)
    assert out["red_flags"] == []
    assert out["triage_level"] in ("self_care", "see_clinician")


def test_interactive_session_accepts_dont_know_and_never_asks_a_limping_runner_to_hop(run_cli):
    # Basics, "none of these" to the emergency signs, "yes" to limping, then "don't know" to the rest.
    lines = ["30", "female", "1", "n", "y"] + ["?"] * 80
    result = run_cli("triage", "--json", input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Are you walking with a limp?" in result.stderr  # prompts go to stderr with --json
    after_limp = result.stderr.split("Are you walking with a limp?")[1]
    assert "hopping" not in after_limp.lower()
    # "don't know" to the group asks its items one by one
    assert "Does any of this happen with your pain?" in after_limp
    # "don't know" asks the open items once more, on one screen with an answer per line
    assert after_limp.count("- It hurts when you walk normally") == 1
    assert "Please answer each one" in after_limp
    out = json.loads(result.stdout)
    assert out["triage_level"] == "urgent"
    assert [f["id"] for f in out["red_flags"]] == ["groin_pain_with_limp"]


def test_save_stores_the_result_for_the_local_athlete(run_cli, tmp_path, engine):
    findings = {"age": 27, "sex": "male", "pain_location": "groin", "pain_squeezing_knees": True}
    result = run_cli("triage", "--findings", str(_case(tmp_path, findings)), "--json", "--save")
    assert result.returncode == 0, result.stderr
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(TriageRow.findings, TriageRow.triage_level, TriageRow.result)
        ).all()
    assert len(rows) == 1
    assert rows[0].findings == findings
    assert rows[0].triage_level == json.loads(result.stdout)["triage_level"]
    assert rows[0].result["conditions"][0]["id"] == "adductor_related"


def test_check_knowledge_lists_every_problem(run_cli, tmp_path):
    broken = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, broken)
    (broken / "hip" / "conditions" / "scfe.yaml").unlink()
    text = (
        (broken / "hip" / "red_flags.yaml")
        .read_text()
        .replace("[nice_cks_sciatica, bmj_bp_ces]", "[nowhere_2020]")
    )
    (broken / "hip" / "red_flags.yaml").write_text(text)
    result = run_cli("triage", "--check-knowledge", "--knowledge", str(broken))
    assert result.returncode == 1
    assert "hip/conditions/scfe.yaml: missing condition file" in result.stderr
    assert "unknown citation 'nowhere_2020'" in result.stderr
    ok = run_cli("triage", "--check-knowledge")
    assert ok.returncode == 0 and "knowledge OK: 69 findings, 20 conditions" in ok.stdout


def test_dont_know_warning_signs_are_named_in_the_text_result(run_cli, tmp_path):
    findings = {
        "age": 35,
        "sex": "male",
        "pain_location": "lateral",
        "tender_greater_trochanter": True,
        "saddle_numbness": None,
        "leg_swelling": None,
        "pain_walking": False,
    }
    result = run_cli("triage", "--findings", str(_case(tmp_path, findings)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # "don't know" to a warning sign: never self-care (issue 10), and the open signs are named
    assert "See a GP or sports physiotherapist" in out and "Self-care" not in out
    assert "Warning signs not checked" in out
    assert 'These warning signs were not checked because you answered "Don\'t know":' in out
    emergency = out.index("? Numbness around the genitals, back passage or inner buttocks")
    assert out.index("If any of them apply, please go to an emergency department", emergency) > emergency
    assert "? One leg swollen, tense or warm" in out
    assert "If any of them apply, please see a doctor within the next few days" in out
    assert "No warning signs found" not in out
    assert "not:" not in out  # negatives in plain words ("no pain when walking normally")
    as_json = json.loads(run_cli("triage", "--findings", str(_case(tmp_path, findings)), "--json").stdout)
    cauda = next(u for u in as_json["unchecked_red_flags"] if u["id"] == "cauda_equina_symptoms")
    assert cauda["dont_know"] == ["saddle_numbness"]


def test_interactive_answers_that_run_out_count_as_dont_know_and_are_named(run_cli):
    # age, sex, where; then input ends at the first group of warning signs
    result = run_cli("triage", input="35\nmale\n2\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'the remaining questions count as "don\'t know"' in out
    assert "Warning signs not checked" in out
    assert "? Cannot put weight on the leg" in out
    assert "? Sex" not in out  # only warning-sign questions are listed


def test_history_lists_saved_checks_newest_first(run_cli, tmp_path):
    assert "No saved checks" in run_cli("triage", "--history").stdout
    case = tmp_path / "case.json"
    for findings in (
        {"age": 29, "pain_location": "groin", "pain_on_hop": True},
        {"unable_to_bear_weight": True},
    ):
        case.write_text(json.dumps({"findings": findings}))
        assert run_cli("triage", "--findings", str(case), "--save", "--json").returncode == 0
    listed = json.loads(run_cli("triage", "--history", "--json").stdout)["checks"]
    assert [c["triage_level"] for c in listed] == ["emergency", "urgent"]
    assert listed[0]["red_flags"] >= 1 and listed[1]["top_condition"]
    text = run_cli("triage", "--history").stdout
    assert "urgent: see a doctor within days" in text and "Guidance, not a diagnosis" in text


def test_number_prompt_names_its_scale_once(run_cli):
    # age, sex, location, then "?" to everything: the 0-10 question must not read "(0-10 0-10 scale, or ?)"
    result = run_cli("triage", input="30\nmale\n2\nn\nn\nn\nn\n" + "?\n" * 40)
    assert result.returncode == 0, result.stderr
    assert "0-10 0-10" not in result.stdout
    if "How bad was the worst pain" in result.stdout:
        assert "(0-10 scale, or ?)" in result.stdout


def test_urgent_result_says_stop_running_once(run_cli, tmp_path):
    findings = {
        "age": 24,
        "sex": "female",
        "pain_location": "groin",
        "pain_on_hop": True,
        "pain_walking": True,
        "night_pain": True,
        "amenorrhea": True,
    }
    result = run_cli("triage", "--findings", str(_case(tmp_path, findings)))
    assert result.returncode == 0, result.stderr
    assert "URGENT" in result.stdout
    assert result.stdout.lower().count("stop running") == 1, result.stdout
    assert "StrideGuard design choice" not in result.stdout and "et al. (2026)" not in result.stdout
