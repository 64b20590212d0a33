"""The triage knowledge model: findings, citations, conditions, red flags, questions, screens and routines as
frozen dataclasses, with the fixed vocabularies they use (levels, condition ids, routine kinds). The loader
and its checks: knowledge.py and knowledge_validate.py."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# The body regions; each one's files live in knowledge/<region>/ (conditions, red flags, questions, screens,
# and optionally its own findings, citations and routines); the shared findings, citations and routines are at
# the top of knowledge/. REGION is the default region (hip, for compatibility).
REGION = "hip"
REGIONS: tuple[str, ...] = ("hip", "knee")
# Ordered from least to most urgent; a level can only be raised.
LEVELS: tuple[str, ...] = ("self_care", "see_clinician", "urgent", "emergency")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

# The 20 condition ids fixed by findings-vocabulary.md; every one needs exactly one file.
CONDITION_IDS: tuple[str, ...] = (
    "femoral_neck_stress_fracture",
    "pelvic_or_femoral_shaft_bsi",
    "fai_labral",
    "hip_osteoarthritis",
    "gtps_gluteal_tendinopathy",
    "iliopsoas_related",
    "proximal_hamstring_tendinopathy",
    "deep_gluteal_syndrome",
    "itb_tfl_lateral",
    "adductor_related",
    "athletic_pubalgia",
    "lumbar_or_si_referred",
    "cauda_equina_syndrome",
    "septic_arthritis_infection",
    "bone_tumour",
    "groin_hernia",
    "avascular_necrosis",
    "scfe",
    "vascular",
    "nonspecific_muscle_soreness",
)
# The 22 knee condition ids fixed by clinical/knee/findings-vocabulary-knee.md: 17 knee-specific and 5 shared
# with the hip (same id, same concept, knee site).
KNEE_CONDITION_IDS: tuple[str, ...] = (
    "patellofemoral_pain",
    "iliotibial_band_syndrome",
    "patellar_tendinopathy",
    "quadriceps_tendinopathy",
    "meniscal_tear",
    "knee_osteoarthritis",
    "pes_anserine_pain",
    "popliteus_tendinopathy",
    "fat_pad_impingement",
    "plica_syndrome",
    "knee_bone_stress_injury",
    "osgood_schlatter",
    "sinding_larsen_johansson",
    "osteochondritis_dissecans",
    "acute_traumatic_knee_injury",
    "gout_or_inflammatory_arthritis",
    "bakers_cyst",
    "septic_arthritis_infection",
    "bone_tumour",
    "scfe",
    "hip_osteoarthritis",
    "vascular",
)
REGION_CONDITION_IDS: dict[str, tuple[str, ...]] = {"hip": CONDITION_IDS, "knee": KNEE_CONDITION_IDS}
# Every condition id of every region (routines may serve conditions of more than one region).
ALL_CONDITION_IDS: tuple[str, ...] = tuple(dict.fromkeys(CONDITION_IDS + KNEE_CONDITION_IDS))


def knowledge_files(directory: Path, pattern: str, regions: Iterable[str], folder: str = "") -> list[Path]:
    """The files matching `pattern` in the shared `directory/folder`, then in each region's own
    `directory/<region>/folder` (knowledge/hip, knowledge/knee), each folder's sorted by name."""
    folders = [directory / folder, *(directory / region / folder for region in regions)]
    return [path for f in folders if f.is_dir() for path in sorted(f.glob(pattern))]


FINDING_TYPES = ("boolean", "enum", "number")
QUESTION_PHASES = ("basics", "red_flag", "detail")
# The three answers to a grouped screening question (a Screen).
SCREEN_NONE, SCREEN_YES, SCREEN_DONT_KNOW = "none", "yes", "dont_know"
SCREEN_ANSWERS: tuple[str, ...] = (SCREEN_NONE, SCREEN_YES, SCREEN_DONT_KNOW)
ROUTINE_KINDS = ("foam_rolling", "mobility", "strength", "stretch")
# Where an evidence item's number comes from (docs/triage.md, "How the numbers were obtained"):
# sourced - a figure in the cited source (sens/spec, an LR, or 2x2 counts) and the population it was
# measured in;
# derived - computed from sourced figures, with the arithmetic; design - a StrideGuard estimate, with the
# reasoning.
BASES: tuple[str, ...] = ("sourced", "derived", "design")
# Measures that are not diagnostic likelihood ratios and must never be used as one: they describe the risk
# of a
# *future* condition (odds, hazards) in people who do not have it yet.
NOT_LIKELIHOOD_RATIOS: tuple[str, ...] = ("odds_ratio", "hazard_ratio", "risk_ratio", "rate_ratio")
MEASURES: tuple[str, ...] = ("likelihood_ratio", "sens_spec", "two_by_two", "proportions")
# An item that lowers a condition's odds more than this (lr below it) needs a study in a comparable
# population:
# strong "no" evidence is the dangerous direction (it can push a serious condition under the safety net).
MIN_UNSOURCED_LR = 0.5
# A StrideGuard estimate never claims more than this: stronger values need a published accuracy figure.
MAX_DESIGN_LR = 10.0


class KnowledgeError(ValueError):
    """The knowledge directory has problems; `.errors` lists every one."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(errors)} problem(s) in the triage knowledge:\n" + "\n".join(errors))


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of the vocabulary. Numbers use `unit` (e.g. years, weeks, percent)."""

    id: str
    type: str
    meaning: str
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for this finding, or None if it is."""
        if self.type == "boolean":
            return None if isinstance(value, bool) else f"{self.id} must be true or false, got {value!r}"
        if self.type == "enum":
            if value in self.values:
                return None
            return f"{self.id} must be one of {', '.join(self.values)}; got {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"{self.id} must be a number ({self.unit}), got {value!r}"
        assert self.min is not None and self.max is not None
        if not self.min <= value <= self.max:
            return f"{self.id}={value!r} is out of range {self.min:g}..{self.max:g} ({self.unit})"
        return None


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    text: str
    url: str = ""
    year: int | None = None
    grade: str | None = None  # V / S / NV, see citations.yaml
    # what a runner reads instead of `text` (e.g. "StrideGuard's own rule (not yet reviewed by a clinician)")
    runner_text: str | None = None

    @property
    def for_runner(self) -> str:
        return self.runner_text or self.text


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """If `finding op value` holds, multiply the odds of the condition by `lr` (a likelihood-ratio grade)."""

    finding: str
    op: str
    value: Any
    lr: float
    citations: tuple[str, ...]
    note: str | None = None
    basis: str = "design"  # sourced | derived | design (BASES)
    provenance: str = ""  # the figure and population, the arithmetic, or the reasoning

    @property
    def rule(self) -> dict[str, Any]:
        return {"finding": self.finding, "op": self.op, "value": self.value}


@dataclass(frozen=True, slots=True)
class Escalation:
    """Raise the condition's level to `level` when `when` holds (e.g. self-care pain lasting > 6 weeks)."""

    level: str
    when: Mapping[str, Any]
    reason: str
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Advice:
    """A sentence of advice; shown unless `when` is definitely false (e.g. never mention tingling to a runner
    who said they have none)."""

    text: str
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    name: str
    summary: str
    prior: float
    triage_level: str
    advice: tuple[Advice, ...]
    evidence: tuple[EvidenceItem, ...]
    escalations: tuple[Escalation, ...]
    citations: tuple[str, ...]
    prior_citations: tuple[str, ...]
    date_reviewed: date
    next_review: date
    # findings the interview must have asked (or had answered "don't know") before it concludes while this
    # condition is among the top three: the questions that tell it apart (docs/triage.md, "The questions")
    key_findings: tuple[str, ...] = ()
    # the condition is only considered while this rule is not definitely false (e.g. SCFE needs an open growth
    # plate): a fact about who can have it, not a likelihood ratio
    applies_if: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RedFlag:
    id: str
    level: str
    message: str
    rule: Mapping[str, Any]
    suggests: tuple[str, ...]
    citations: tuple[str, ...]
    date_reviewed: date
    next_review: date


@dataclass(frozen=True, slots=True)
class Question:
    """One question; answering it sets `finding`. `choices` are (value, plain label) pairs for enums."""

    finding: str
    phase: str
    text: str
    citations: tuple[str, ...]
    choices: tuple[tuple[str, str], ...] = ()
    ask_if: Mapping[str, Any] | None = None
    skip_if: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.finding


@dataclass(frozen=True, slots=True)
class RoutineInfo:
    """What triage needs to know about a routine (the full routine is routines.py's business)."""

    id: str
    name: str
    kind: str
    summary: str
    suitable_for: tuple[str, ...]
    contraindicated_for: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScreenItem:
    """One line of a grouped screening question; it stands for one or more findings.

    `none_values` holds the value each finding takes when the runner answers "none of these" (false for a
    boolean, e.g. `leg_weakness: none` for an enum). An enum finding without one stays unknown: "I am not
    underweight" does not say which other weight category applies.
    """

    label: str
    findings: tuple[str, ...]
    none_values: Mapping[str, Any]
    citations: tuple[str, ...]
    ask_if: Mapping[str, Any] | None = None
    # the value a tick gives each finding (true for yes/no findings); a finding without one (e.g. which leg is
    # weak) is asked with its own question after the screen
    yes_values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Screen:
    """A grouped question over several red-flag items (knowledge/<region>/screens.yaml).

    As a checklist ("tick every one that applies"): the ticked items' findings take their `yes_values`, the
    others their `none_values`; "none of these" gives every item its `none_values`. "Don't know" (or "yes"
    without ticks) shows the same items once more as one screen with an answer per item (`mode` "each":
    yes / no / don't know, or the finding's choices).
    """

    id: str
    text: str
    items: tuple[ScreenItem, ...]
    citations: tuple[str, ...]
    date_reviewed: date
    next_review: date
    ask_if: Mapping[str, Any] | None = None
    mode: str = "checklist"  # "checklist" or "each" (the follow-up after "don't know")

    @property
    def phase(self) -> str:
        return "red_flag"

    @property
    def findings(self) -> tuple[str, ...]:
        return tuple(f for item in self.items for f in item.findings)


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    findings: Mapping[str, Finding]
    citations: Mapping[str, Citation]
    conditions: Mapping[str, Condition]
    red_flags: tuple[RedFlag, ...]
    questions: tuple[Question, ...]
    routines: Mapping[str, RoutineInfo]
    directory: Path
    warnings: tuple[str, ...] = field(default=())
    screens: tuple[Screen, ...] = field(default=())
    region: str = REGION
    rationales: Mapping[str, str] = field(default_factory=dict)  # design_rationales.yaml: id -> reasoning

    def question(self, finding_id: str) -> Question | None:
        return next((q for q in self.questions if q.finding == finding_id), None)

    def screen(self, screen_id: str) -> Screen | None:
        return next((s for s in self.screens if s.id == screen_id), None)
