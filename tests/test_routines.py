"""Routines as data: the shipped files validate, schedules add up, and the player state machine behaves."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date
from pathlib import Path

import pytest

from strideguard.triage import routines as rt
from strideguard.triage.knowledge_model import CONDITION_IDS, KNEE_CONDITION_IDS

SHARED_VOCABULARY = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "clinical" / "findings-vocabulary.md"
)

EXPECTED_IDS = {
    # the knee's (knowledge/knee/routines/)
    "knee_hip_strength",
    "patellar_tendon_loading",
    "itb_hip_abductor",
    "thigh_foam_roll",
    "piriformis_foam_roll",
    "tfl_foam_roll",
    "hip_flexor_stretch",
    "glute_activation",
    "hamstring_mobility",
    "hip_mobility_flow",
    "hamstring_bridge_progression",
    "copenhagen_adduction_progression",
}

# Conditions whose advice is "stop and see a clinician" (clinical.md 0 and 1e): no routine may be offered.
# a knee routine is never offered with a possible bone stress injury, clot, infection, tumour, slipped growth
# plate, acute injury, hot joint, locked knee (meniscus, loose body) or a burst cyst (clinical-knee.md 1c)
NEVER_WITH_KNEE = {
    "knee_bone_stress_injury",
    "vascular",
    "septic_arthritis_infection",
    "bone_tumour",
    "scfe",
    "acute_traumatic_knee_injury",
    "gout_or_inflammatory_arthritis",
    "meniscal_tear",
    "osteochondritis_dissecans",
    "bakers_cyst",
}
NEVER_WITH = {
    "femoral_neck_stress_fracture",
    "pelvic_or_femoral_shaft_bsi",
    "vascular",
    "septic_arthritis_infection",
    "bone_tumour",
    "cauda_equina_syndrome",
    "scfe",
    "avascular_necrosis",
    "groin_hernia",
}


def make_routine(*steps: tuple[str, float, str]) -> rt.Routine:
    return rt.Routine(
        id="t",
        name="Test",
        kind="mobility",
        summary="s",
        equipment=(),
        suitable_for=(),
        contraindicated_for=(),
        contraindications=("c",),
        citations=(),
        date_reviewed=date(2026, 1, 1),
        next_review=date(2027, 1, 1),
        steps=tuple(rt.Step(name, f"do {name}", duration, sides) for name, duration, sides in steps),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def shipped() -> dict[str, rt.Routine]:
    return rt.load_routines()


@pytest.fixture(scope="module")
def citations() -> dict[str, rt.Citation]:
    return rt.load_citations()


# --- schedule ----------------------------------------------------------------------------------------------


def test_two_sided_steps_expand_left_then_right_with_start_offsets():
    routine = make_routine(("setup", 15, "none"), ("roll", 30, "each"), ("rest", 10, "none"))
    timeline = rt.schedule(routine)
    assert [(t.name, t.side, t.start_s, t.duration_s) for t in timeline] == [
        ("setup", None, 0.0, 15.0),
        ("roll", "left", 15.0, 30.0),
        ("roll", "right", 45.0, 30.0),
        ("rest", None, 75.0, 10.0),
    ]
    assert [t.position for t in timeline] == [0, 1, 2, 3]
    assert [t.step_index for t in timeline] == [0, 1, 1, 2]
    assert routine.total_duration_s == 85.0 == timeline[-1].end_s


def test_two_steps_on_each_side_of_30_s_take_two_minutes():
    routine = make_routine(("a", 30, "each"), ("b", 30, "each"))
    timeline = rt.schedule(routine)
    assert len(timeline) == 4
    assert routine.total_duration_s == 2 * 2 * 30 == 120
    assert [t.side for t in timeline] == ["left", "right", "left", "right"]


@pytest.mark.parametrize(
    ("routine_id", "total_s", "entries"),
    [
        ("piriformis_foam_roll", 15 + 2 * 30 + 2 * 30, 5),
        ("tfl_foam_roll", 15 + 2 * 30 + 2 * 30, 5),
        ("hip_flexor_stretch", 2 * 30 + 2 * 30, 4),
        ("glute_activation", 45 + 2 * 30 + 45, 4),
        ("hamstring_mobility", 2 * 30 + 2 * 30 + 30, 5),
        ("hip_mobility_flow", 3 * 2 * 30 + 30 + 30, 8),
    ],
)
def test_shipped_routine_totals(shipped, routine_id, total_s, entries):
    routine = shipped[routine_id]
    timeline = rt.schedule(routine)
    assert routine.total_duration_s == total_s
    assert timeline[-1].end_s == total_s
    assert len(timeline) == entries
    for before, after in itertools.pairwise(timeline):
        assert after.start_s == before.end_s  # no gaps, no overlaps


def test_foam_rolling_is_about_30_seconds_each_side(shipped):
    # Issue 5 / clinical.md 1e: roll 2–3 inches up and down, then rotate, about 30 s each side.
    for routine_id in ("piriformis_foam_roll", "tfl_foam_roll"):
        rolling = [s for s in shipped[routine_id].steps if s.sides == "each"]
        assert rolling and all(s.duration_s == 30 for s in rolling)
        assert "2–3 inches (5–8 cm)" in rolling[0].instruction


def test_format_duration():
    assert rt.format_duration(135) == "2:15"
    assert rt.format_duration(45) == "0:45"
    assert rt.format_duration(3725) == "1:02:05"


# --- player ------------------------------------------------------------------------------------------------


def player() -> rt.PlayerState:
    return rt.PlayerState.start(make_routine(("setup", 10, "none"), ("roll", 30, "each")))


def test_player_starts_on_the_first_step_with_full_time():
    state = player()
    assert state.current.name == "setup" and state.side is None
    assert state.remaining_s == 10 and state.total_s == 70
    assert state.progress == 0.0 and not state.done and not state.paused


def test_tick_counts_down_and_switches_to_the_left_side():
    state, events = player().tick(4)
    assert events == () and state.remaining_s == 6
    assert state.progress == pytest.approx(4 / 70)
    state, events = state.tick(6)
    assert events == ("switch",)
    assert state.current.name == "roll" and state.side == "left" and state.remaining_s == 30


def test_a_long_tick_crosses_several_entries_and_keeps_the_overflow():
    state, events = player().tick(45)  # 10 s setup + 30 s left side + 5 s into the right side
    assert events == ("switch", "switch")
    assert state.side == "right" and state.remaining_s == 25
    assert state.elapsed_s == 45


def test_finishing_emits_done_once_and_further_ticks_do_nothing():
    state, events = player().tick(70)
    assert events == ("switch", "switch", "done")
    assert state.done and state.current is None and state.progress == 1.0 and state.remaining_s == 0
    again, events = state.tick(5)
    assert events == () and again == state


def test_pause_freezes_time_and_resume_continues():
    state, _ = player().tick(3)
    paused = state.pause()
    held, events = paused.tick(100)
    assert events == () and held.remaining_s == 7 and held.paused
    running, events = held.resume().tick(7)
    assert events == ("switch",) and running.side == "left"
    assert player().toggle_pause().paused and not player().toggle_pause().toggle_pause().paused


def test_skip_jumps_to_the_next_entry_and_counts_skipped_time_as_passed():
    state, _ = player().tick(3)
    state, events = state.skip()
    assert events == ("switch",)
    assert state.side == "left" and state.remaining_s == 30 and state.elapsed_s == 10
    assert state.progress == pytest.approx(10 / 70)


def test_skip_keeps_a_paused_player_paused():
    state, events = player().pause().skip()
    assert events == ("switch",) and state.paused and state.side == "left"
    still, _ = state.tick(50)
    assert still.remaining_s == 30


def test_skipping_the_last_entry_finishes():
    state = player()
    events: tuple[str, ...] = ()
    for _ in range(3):
        state, events = state.skip()
    assert events == ("done",) and state.done
    assert state.skip() == (state, ())


def test_time_cannot_run_backwards():
    with pytest.raises(ValueError, match="backwards"):
        player().tick(-1)


def test_player_is_immutable():
    state = player()
    state.tick(5)
    state.pause()
    state.skip()
    assert state.remaining_s == 10 and not state.paused and state.position == 0


# --- the shipped knowledge files ----------------------------------------------------------------------------


def test_every_shipped_routine_loads_and_the_agreed_ids_exist(shipped):
    assert set(shipped) == EXPECTED_IDS


def test_every_cited_source_exists_in_the_merged_citation_files(shipped, citations):
    for routine in shipped.values():
        assert routine.citations, routine.id
        for cid in routine.citations:
            assert cid in citations, f"{routine.id}: {cid}"


def test_routine_citations_are_prefixed_and_have_a_link_and_year(citations):
    ours = rt.KNOWLEDGE_DIR / "citations_routines.yaml"
    import yaml

    data = yaml.safe_load(ours.read_text(encoding="utf-8"))
    assert data
    for cid, entry in data.items():
        assert cid.startswith("routine_")
        assert entry["url"].startswith(("https://", "http://")), cid
        assert 1990 <= entry["year"] <= 2026, cid
        assert citations[cid].text


def test_condition_ids_are_the_20_of_the_vocabulary():
    if not SHARED_VOCABULARY.exists():
        pytest.skip(f"{SHARED_VOCABULARY} not found")
    section = SHARED_VOCABULARY.read_text(encoding="utf-8").split("## Findings")[0]
    ids = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert len(ids) == 20
    assert ids == set(CONDITION_IDS)
    # routines serve both regions: the hip's 20 ids and the knee's 22 (5 of them shared)
    assert rt.CONDITION_IDS == set(CONDITION_IDS) | set(KNEE_CONDITION_IDS)
    assert len(rt.CONDITION_IDS) == 37


def test_routine_condition_ids_are_known_and_durations_positive(shipped):
    for routine in shipped.values():
        assert set(routine.suitable_for) <= rt.CONDITION_IDS
        assert set(routine.contraindicated_for) <= rt.CONDITION_IDS
        assert routine.suitable_for, routine.id
        assert all(step.duration_s > 0 for step in routine.steps)
        assert routine.next_review > routine.date_reviewed


def test_no_routine_is_offered_for_a_stop_running_condition(shipped):
    knee = {p.stem for p in (rt.KNOWLEDGE_DIR / "knee" / "routines").glob("*.yaml")}
    assert knee
    for routine in shipped.values():
        never = NEVER_WITH | NEVER_WITH_KNEE if routine.id in knee else NEVER_WITH
        assert set(routine.contraindicated_for) >= never, routine.id
        assert not routine.allowed_for(["itb_tfl_lateral", "femoral_neck_stress_fracture"])


def test_foam_rolling_warns_about_fracture_and_clot_in_plain_words(shipped):
    for routine in shipped.values():
        if routine.kind != "foam_rolling":
            continue
        words = " ".join(routine.contraindications).lower()
        assert "fracture" in words and "blood clot" in words and "swollen" in words
        assert "routine_bartsch_2021" in routine.citations


def test_hamstring_stretching_is_not_offered_for_hamstring_tendinopathy(shipped):
    routine = shipped["hamstring_mobility"]
    assert "proximal_hamstring_tendinopathy" in routine.contraindicated_for
    assert not routine.allowed_for(["proximal_hamstring_tendinopathy"])
    assert shipped["tfl_foam_roll"].allowed_for(["itb_tfl_lateral", "gtps_gluteal_tendinopathy"])


def test_find_routine_accepts_hyphens_and_capitals_and_names_the_valid_ones(shipped):
    assert rt.find_routine(shipped, "TFL-Foam-Roll").id == "tfl_foam_roll"
    with pytest.raises(rt.UnknownRoutine) as info:
        rt.find_routine(shipped, "yoga")
    message = str(info.value)
    assert "'yoga'" in message and "glute_activation" in message and "tfl_foam_roll" in message


def test_routine_as_json_carries_timeline_and_resolved_sources(shipped, citations):
    data = json.loads(json.dumps(rt.routine_to_dict(shipped["piriformis_foam_roll"], citations)))
    assert data["total_duration_s"] == 135
    assert [e["side"] for e in data["timeline"]] == [None, "left", "right", "left", "right"]
    assert data["citations"][0]["url"].startswith("http")
    assert data["disclaimer"].startswith("StrideGuard gives guidance, not a diagnosis")


# --- the loader reports every problem ----------------------------------------------------------------------

GOOD = """\
id: {id}
name: Good
kind: stretch
summary: A summary.
equipment: [mat]
suitable_for: [itb_tfl_lateral]
contraindicated_for: [vascular]
contraindications: [Not with a swollen leg.]
citations: [routine_x]
date_reviewed: 2026-01-01
next_review: 2027-01-01
steps:
  - {{name: One, instruction: Do it., duration_s: 30, sides: each}}
"""

BAD = """\
id: not_the_file_name
name: Bad
kind: yoga
summary: A summary.
equipment: [mat]
suitable_for: [itb_tfl_lateral, broken_hip]
contraindicated_for: [itb_tfl_lateral]
contraindications: [Careful.]
citations: [routine_x, routine_missing]
date_reviewed: 2026-01-01
next_review: 2025-01-01
colour: red
steps:
  - {name: One, instruction: Do it., duration_s: -5, sides: both}
  - {name: Two, instruction: Do it.}
"""

CITES = """\
routine_x: {text: "A source.", url: "https://example.org/x", year: 2020}
"""


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def test_loader_reports_every_problem_naming_the_file(tmp_path):
    write(tmp_path / "k", "citations_test.yaml", CITES)
    write(tmp_path / "k" / "routines", "good.yaml", GOOD.format(id="good"))
    write(tmp_path / "k" / "routines", "bad.yaml", BAD)
    citations = rt.load_citations(tmp_path / "k")
    with pytest.raises(rt.RoutineError) as info:
        rt.load_routines(tmp_path / "k" / "routines", citations)
    problems = info.value.problems
    text = "\n".join(problems)
    assert all(p.startswith("bad.yaml") for p in problems), text
    for expected in (
        "kind 'yoga'",
        "unknown condition id 'broken_hip'",
        "'itb_tfl_lateral' is both suitable_for and contraindicated_for",
        "citation 'routine_missing'",
        "next_review 2025-01-01 must be after",
        "unknown key 'colour'",
        "step 1: duration_s must be a number of seconds above 0",
        "step 1: sides 'both'",
        "step 2: missing key 'duration_s'",
        "step 2: missing key 'sides'",
        "must match the file name 'bad'",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_valid_files_load(tmp_path):
    write(tmp_path, "citations_test.yaml", CITES)
    write(tmp_path / "routines", "good.yaml", GOOD.format(id="good"))
    loaded = rt.load_routines(tmp_path / "routines", rt.load_citations(tmp_path))
    assert loaded["good"].total_duration_s == 60


def test_broken_yaml_names_file_and_line(tmp_path):
    write(tmp_path / "routines", "broken.yaml", "id: x\nsteps: [\n  - oops: {\n")
    with pytest.raises(rt.RoutineError, match=r"broken\.yaml: line \d+ not valid YAML"):
        rt.load_routines(tmp_path / "routines", {})


def test_duplicate_citation_ids_across_files_are_an_error(tmp_path):
    write(tmp_path, "citations.yaml", CITES)
    write(tmp_path, "citations_routines.yaml", CITES)
    with pytest.raises(rt.RoutineError, match=r"routine_x.*also defined in citations\.yaml"):
        rt.load_citations(tmp_path)
