"""Triage results in plain words for people: findings, red-flag reasons, likelihood ratios, unchecked warning
signs. Shared by the CLI and the web result page, so both say the same thing. Pure; no I/O.

Finding ids and rule traces ("pain_on_hop=True (eq True)") stay in the JSON contract for programs; people get
the phrases below, built from the knowledge (question choice labels, finding meanings) with a short
hand-written yes/no phrase per yes/no finding, because a finding's clinical `meaning` does not negate well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strideguard import rules
from strideguard.triage.knowledge_model import LEVEL_RANK, KnowledgeBase
from strideguard.triage.result import TriageResult
from strideguard.triage.scoring import known_findings

# finding id -> (phrase when true, phrase when false)
YES_NO: dict[str, tuple[str, str]] = {
    "amenorrhea": ("periods stopped for 3 months or more", "periods have not stopped"),
    "irregular_periods": ("irregular or far-apart periods", "regular periods"),
    "postmenopausal": ("periods stopped with the menopause", "not past the menopause"),
    "low_energy_availability": (
        "restricting food or feeling constantly drained",
        "eating enough for the training",
    ),
    "previous_stress_fracture": ("a stress fracture before", "no stress fracture before"),
    "low_bone_density_known": ("known low bone density", "no known low bone density"),
    "corticosteroid_use": ("long-term or repeated steroids", "no long-term steroids"),
    "heavy_alcohol_use": ("drinking well above the alcohol limits", "not drinking above the alcohol limits"),
    "smoker": ("smoking", "not smoking"),
    "history_of_cancer": ("cancer, now or in the past", "no history of cancer"),
    "immunosuppression": ("lowered immunity", "no lowered immunity"),
    "recent_infection_or_joint_injection": (
        "a recent infection or injection into the hip or spine",
        "no recent infection or injection",
    ),
    "sickle_cell_or_clotting_disorder": (
        "sickle cell, a clotting disorder or blood thinners",
        "no sickle cell, clotting disorder or blood thinners",
    ),
    "pain_bilateral": ("pain on both sides", "pain on one side only"),
    "trauma": ("it started with a fall, collision or twist", "no fall, collision or twist at the start"),
    "pain_walking": ("pain when walking normally", "no pain when walking normally"),
    "limp": ("walking with a limp", "no limp"),
    "unable_to_bear_weight": ("cannot put weight on the leg", "can put weight on the leg"),
    "pain_at_rest": ("aches at rest", "no ache at rest"),
    "night_pain": ("pain wakes you at night", "pain does not wake you at night"),
    "pain_lying_on_side": ("pain lying on that side", "no pain lying on that side"),
    "pain_on_hop": ("hopping or landing on that leg hurts", "hopping or landing does not hurt"),
    "pain_single_leg_stance": (
        "standing on that leg alone hurts",
        "standing on that leg alone does not hurt",
    ),
    "pain_sitting": ("long sitting hurts", "sitting does not hurt"),
    "pain_stairs": ("climbing stairs hurts", "climbing stairs does not hurt"),
    "pain_running_uphill": ("running uphill brings it on", "running uphill does not bring it on"),
    "pain_running_downhill": ("running downhill brings it on", "running downhill does not bring it on"),
    "pain_sprint_kick_cut": (
        "sprinting, kicking or changing direction brings it on",
        "sprinting, kicking or changing direction does not bring it on",
    ),
    "pain_crossing_legs": ("crossing the legs or low chairs hurt", "crossing the legs does not hurt"),
    "pain_deep_flexion": (
        "deep squats, getting into a car or putting socks on hurt",
        "deep bending does not hurt",
    ),
    "clicking_catching": (
        "painful clicking, catching or locking in the hip",
        "no painful clicking or catching",
    ),
    "snapping_sensation": ("a snap or clunk at the hip when moving", "no snap or clunk at the hip"),
    "pain_cough_sneeze": ("coughing or sneezing causes groin pain", "coughing or sneezing does not hurt"),
    "pain_sit_up": ("sit-ups cause groin pain", "sit-ups do not hurt"),
    "pain_squeezing_knees": (
        "squeezing the knees together hurts",
        "squeezing the knees together does not hurt",
    ),
    "groin_lump": ("a lump or bulge in the groin", "no lump or bulge in the groin"),
    "lump_irreducible_or_tender": ("the lump is tender or will not go back in", "the lump is not tender"),
    "tender_greater_trochanter": (
        "the bony point at the side of the hip is sore",
        "the side of the hip is not sore",
    ),
    "tender_sit_bone": ("the sit bone is sore to press", "the sit bone is not sore"),
    "tender_pubic_bone": ("the pubic bone is sore to press", "the pubic bone is not sore"),
    "back_pain": ("low back pain or stiffness", "no low back pain"),
    "pain_with_back_movement": ("moving the back brings on the pain", "moving the back does not bring it on"),
    "pain_below_knee": ("pain spreads below the knee", "pain stays above the knee"),
    "numbness_tingling": ("pins and needles or numbness", "no pins and needles or numbness"),
    "saddle_numbness": (
        "numbness around the genitals, back passage or inner buttocks",
        "no numbness around the saddle area",
    ),
    "bladder_bowel_change": (
        "a new change in bladder or bowel control",
        "no change in bladder or bowel control",
    ),
    "fever": ("a fever or feeling feverish", "no fever"),
    "feeling_unwell": ("feeling generally unwell", "not feeling unwell"),
    "unexplained_weight_loss": ("weight loss without trying", "no unexplained weight loss"),
    "vomiting": ("vomiting", "no vomiting"),
    "leg_swelling": ("one leg swollen, tense or warm", "no swollen leg"),
    "leg_colour_or_cold": (
        "a leg that is pale, blue, cold or numb at rest",
        "the leg's colour and warmth are normal",
    ),
    "exertional_pain_relieved_quickly": (
        "pain at hard efforts that goes within minutes of stopping",
        "no pain that comes and goes with hard efforts",
    ),
    "recent_long_travel_or_immobility": (
        "a recent long journey, surgery or time laid up",
        "no recent long journey or time laid up",
    ),
}

# finding id -> short name for "name: value" phrases (enums and numbers)
NAMES: dict[str, str] = {
    "age": "age",
    "sex": "sex",
    "bmi_category": "weight",
    "pain_location": "where it hurts",
    "onset": "how it started",
    "duration_weeks": "how long",
    "pain_trend": "over the last 1–2 weeks",
    "pain_severity": "worst pain in the last week",
    "pain_during_run_pattern": "when running",
    "morning_stiffness_minutes": "morning stiffness",
    "leg_weakness": "new leg weakness",
    "recent_mileage_increase_pct": "last week's distance compared with usual",
    "longest_run_spike_pct": "longest recent run compared with the month before",
    "recent_training_change": "main training change",
    "weekly_distance_km": "usual weekly distance",
}
UNITS = {"years": "", "weeks": " weeks", "percent": "%", "minutes": " min", "km": " km"}


def _cleaned_meaning(finding_id: str, kb: KnowledgeBase) -> str:
    """The meaning without its clinical notes (after "(", "—" or ";"); for findings without a phrase."""
    finding = kb.findings.get(finding_id)
    if finding is None:
        return finding_id.replace("_", " ")
    return re.split(r" \(| — |; ", finding.meaning)[0].strip()


def _choice_label(finding_id: str, value: str, kb: KnowledgeBase) -> str:
    question = kb.question(finding_id)
    labels = dict(question.choices) if question is not None else {}
    label = labels.get(value, value.replace("_", " "))
    first = label.split(" ")[0]
    return label if len(first) > 1 and first.isupper() else label[:1].lower() + label[1:]  # keep "MRI"


def _number(finding_id: str, value: float, kb: KnowledgeBase) -> str:
    finding = kb.findings.get(finding_id)
    unit = (finding.unit or "") if finding else ""
    text = f"{value:g}"
    if finding_id.endswith("_pct") and value > 0:
        text = f"+{text}"
    if finding_id == "pain_severity":
        return f"{text}/10"
    return text + UNITS.get(unit, f" {unit}" if unit else "")


def describe(finding_id: str, value: Any, kb: KnowledgeBase) -> str:
    """One answer in plain words: ('pain_walking', False) -> 'no pain when walking normally';
    ('pain_location', 'groin') -> 'where it hurts: front of the hip / groin crease'."""
    if isinstance(value, bool):
        if finding_id in YES_NO:
            return YES_NO[finding_id][0 if value else 1]
        meaning = _cleaned_meaning(finding_id, kb)
        return meaning if value else f"{meaning}: no"
    name = NAMES.get(finding_id) or _cleaned_meaning(finding_id, kb)
    if value is None:
        return f"{name}: not answered"
    if isinstance(value, int | float):
        return f"{name}: {_number(finding_id, value, kb)}"
    return f"{name}: {_choice_label(finding_id, str(value), kb)}"


def question_phrase(finding_id: str, kb: KnowledgeBase) -> str:
    """What a finding asks about, as a line of a list (e.g. an unchecked warning sign)."""
    if finding_id in YES_NO:
        phrase = YES_NO[finding_id][0]
    else:
        phrase = NAMES.get(finding_id) or _cleaned_meaning(finding_id, kb)
    return phrase[:1].upper() + phrase[1:]


def lr_text(lr: float) -> str:
    """A likelihood ratio as a readable factor: 300 -> '×300', 1.5 -> '×1.5', 0.05 -> '×0.05'."""
    if lr >= 10:
        return f"×{lr:,.0f}"
    return f"×{lr:.2g}" if lr < 1 else f"×{round(lr, 1):g}"


EVIDENCE_LEVELS = {
    "sourced": "from studies of patients",
    "derived": "worked out from published figures",
    "design": "StrideGuard's estimate, not yet reviewed by a clinician",
}


def evidence_level(basis: str) -> str:
    """Where a number comes from, in plain words (never a bare factor like "×300")."""
    return EVIDENCE_LEVELS.get(basis, EVIDENCE_LEVELS["design"])


def evidence_strength(lr: float) -> str:
    """How much one answer moved a cause, in words."""
    if lr >= 5:
        return "Makes it much more likely"
    if lr >= 2:
        return "Makes it more likely"
    if lr > 1:
        return "Makes it a little more likely"
    if lr <= 0.5:
        return "Makes it less likely"
    return "Makes it a little less likely"


def evidence_phrase(finding_id: str, value: Any, lr: float, basis: str, kb: KnowledgeBase) -> str:
    """'Makes it more likely (from studies of patients): a lump or bulge in the groin'."""
    return f"{evidence_strength(lr)} ({evidence_level(basis)}): {describe(finding_id, value, kb)}"


def citation_for_runner(citation_id: str, kb: KnowledgeBase) -> str:
    """A source as a runner reads it: the reference, or "StrideGuard's own rule (not yet reviewed by a
    clinician)" for StrideGuard's own design choices (never written as if it were an author)."""
    citation = kb.citations[citation_id]
    return citation.for_runner


def flag_reasons(flag_id: str, findings: Mapping[str, Any], kb: KnowledgeBase) -> tuple[str, ...]:
    """Why a red flag fired, in plain words: the answers that made its rule true (one phrase per finding)."""
    flag = next((f for f in kb.red_flags if f.id == flag_id), None)
    if flag is None:
        return ()
    known = known_findings(findings)
    outcome = rules.evaluate(flag.rule, known)
    phrases: dict[str, str] = {}
    for leaf in outcome.trace:
        if leaf.op == "known":  # "not answered" is not a reason anyone gave
            continue
        if leaf.finding not in phrases:
            value = known.get(leaf.finding) if leaf.op != "known" else None
            phrases[leaf.finding] = describe(leaf.finding, value, kb)
    return tuple(phrases.values())


def sentence(phrases: tuple[str, ...] | list[str]) -> str:
    """'a; b; c' with a capital first letter and a final full stop."""
    text = "; ".join(phrases)
    return (text[:1].upper() + text[1:] + ".") if text else ""


def join_sources(texts: list[str]) -> str:
    """Citation texts joined with "; " and one final full stop (no ".;")."""
    return "; ".join(t.rstrip().rstrip(".") for t in texts) + "." if texts else ""


LEVEL_IF_ANY = {
    "emergency": "If any of them apply, please go to an emergency department or call your local emergency "
    "number now.",
    "urgent": "If any of them apply, please see a doctor within the next few days, and do not run until "
    "then.",
    "see_clinician": "If any of them apply, please book an appointment with a GP or physiotherapist.",
    "self_care": "If any of them apply, run the check again and answer them.",
}


@dataclass(frozen=True, slots=True)
class UncheckedGroup:
    """Warning signs of one level left unchecked by "don't know" answers, and what to do if one applies."""

    level: str
    items: tuple[str, ...]
    if_any: str


def _is_warning_sign(finding_id: str, kb: KnowledgeBase) -> bool:
    question = kb.question(finding_id)
    return question is not None and question.phase == "red_flag"


def unchecked_groups(result: TriageResult, kb: KnowledgeBase) -> tuple[UncheckedGroup, ...]:
    """The "don't know" answers that left red flags unchecked, grouped by the most urgent flag each one
    belongs to, most urgent first. Empty when the unchecked flags were only never asked (no "don't know")."""
    level_of: dict[str, str] = {}
    for flag in result.unchecked_red_flags:
        # only the warning-sign questions themselves: "sex: don't know" is context, not a warning sign
        for fid in (f for f in flag.dont_know if _is_warning_sign(f, kb)):
            if fid not in level_of or LEVEL_RANK[flag.level] > LEVEL_RANK[level_of[fid]]:
                level_of[fid] = flag.level
    groups = []
    for level in sorted(set(level_of.values()), key=lambda lv: -LEVEL_RANK[lv]):
        items = tuple(dict.fromkeys(question_phrase(f, kb) for f, lv in level_of.items() if lv == level))
        groups.append(UncheckedGroup(level, items, LEVEL_IF_ANY[level]))
    return tuple(groups)


UNCHECKED_INTRO = 'These warning signs were not checked because you answered "Don\'t know":'

__all__ = [
    "UNCHECKED_INTRO",
    "UncheckedGroup",
    "citation_for_runner",
    "describe",
    "evidence_phrase",
    "flag_reasons",
    "join_sources",
    "lr_text",
    "question_phrase",
    "sentence",
    "unchecked_groups",
]
