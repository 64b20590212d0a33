"""Guided routines (foam rolling, stretching, mobility, strength): loading, validation and timing.

Pure: routines are read from `knowledge/routines/*.yaml` into frozen dataclasses, `schedule()` turns a routine
into a timeline, and `PlayerState` is a clock-free state machine for a player (the CLI timer, the web player).
All times are in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from strideguard.triage.knowledge_model import ALL_CONDITION_IDS, REGIONS, ROUTINE_KINDS, knowledge_files

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
ROUTINES_DIR = KNOWLEDGE_DIR / "routines"
# the shared routines, then each region's own (knowledge/<region>/routines/, e.g. the knee's)

KINDS = ROUTINE_KINDS
SIDES = ("none", "each")
SIDE_ORDER = ("left", "right")  # a step done on each side is done left first, then right

# The condition ids of every region (hip and knee vocabularies; one list each, kept in knowledge_model.py).
CONDITION_IDS = frozenset(ALL_CONDITION_IDS)

REQUIRED_KEYS = (
    "id",
    "name",
    "kind",
    "summary",
    "equipment",
    "suitable_for",
    "contraindicated_for",
    "contraindications",
    "citations",
    "date_reviewed",
    "next_review",
    "steps",
)
STEP_KEYS = ("name", "instruction", "duration_s", "sides")
MAX_STEP_DURATION_S = 3600.0  # one step longer than an hour is a typo, not a routine

DISCLAIMER = (
    "StrideGuard gives guidance, not a diagnosis. These routines are for mild aches that are settling; "
    "stop if a movement makes the pain sharper, and see a clinician if pain persists, gets worse "
    "or worries you."
)


class RoutineError(ValueError):
    """A routine or citation file is invalid; the message lists every problem found, one per line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class UnknownRoutine(KeyError):
    """No routine has this id."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        self.name = name
        self.valid = sorted(valid)
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown routine {self.name!r}; choose one of: {', '.join(self.valid)}"


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    text: str
    url: str
    year: int | None  # None: an undated source (e.g. a conference abstract whose copy gives no year)


@dataclass(frozen=True, slots=True)
class Step:
    """One exercise. `duration_s` is per side when `sides` is "each"."""

    name: str
    instruction: str
    duration_s: float
    sides: Literal["none", "each"]

    @property
    def total_s(self) -> float:
        return self.duration_s * (len(SIDE_ORDER) if self.sides == "each" else 1)


@dataclass(frozen=True, slots=True)
class Routine:
    id: str
    name: str
    kind: str
    summary: str
    equipment: tuple[str, ...]
    suitable_for: tuple[str, ...]
    contraindicated_for: tuple[str, ...]
    contraindications: tuple[str, ...]
    citations: tuple[str, ...]
    date_reviewed: date
    next_review: date
    steps: tuple[Step, ...]

    @property
    def total_duration_s(self) -> float:
        """Whole routine, both sides included, in seconds."""
        return sum(step.total_s for step in self.steps)

    def allowed_for(self, condition_ids: Iterable[str]) -> bool:
        """False when any of these conditions (e.g. the triage's top conditions) rules this routine out."""
        return not set(condition_ids) & set(self.contraindicated_for)


@dataclass(frozen=True, slots=True)
class TimedStep:
    """One entry of a routine's timeline: a step on one side (or on none), with its start offset."""

    position: int  # index in the timeline
    step_index: int  # index of the step in routine.steps
    name: str
    instruction: str
    side: Literal["left", "right"] | None
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def schedule(routine: Routine) -> list[TimedStep]:
    """The routine as a timeline: steps in order, a two-sided step as left then right, with start offsets."""
    timeline: list[TimedStep] = []
    start_s = 0.0
    for step_index, step in enumerate(routine.steps):
        sides: tuple[Literal["left", "right"] | None, ...] = SIDE_ORDER if step.sides == "each" else (None,)
        for side in sides:
            timeline.append(
                TimedStep(
                    len(timeline), step_index, step.name, step.instruction, side, start_s, step.duration_s
                )
            )
            start_s += step.duration_s
    return timeline


# --- the player ---------------------------------------------------------------------------------------------

Event = Literal["switch", "done"]


@dataclass(frozen=True, slots=True)
class PlayerState:
    """Where a player is in a timeline. Pure: every method returns a new state (and, for moves, the events).

    Events: "switch" when a new timeline entry starts (next step or other side), "done" when the last ends.
    Time passes only through `tick(dt_s)`, so a test can drive it without a clock.
    """

    timeline: tuple[TimedStep, ...]
    position: int = 0
    elapsed_in_step_s: float = 0.0
    paused: bool = False

    @classmethod
    def start(cls, routine_or_timeline: Routine | Iterable[TimedStep]) -> PlayerState:
        timeline = (
            schedule(routine_or_timeline) if isinstance(routine_or_timeline, Routine) else routine_or_timeline
        )
        return cls(tuple(timeline))

    @property
    def done(self) -> bool:
        return self.position >= len(self.timeline)

    @property
    def current(self) -> TimedStep | None:
        return None if self.done else self.timeline[self.position]

    @property
    def side(self) -> str | None:
        step = self.current
        return step.side if step else None

    @property
    def remaining_s(self) -> float:
        """Seconds left in the current entry (0 when done)."""
        step = self.current
        return max(0.0, step.duration_s - self.elapsed_in_step_s) if step else 0.0

    @property
    def total_s(self) -> float:
        return self.timeline[-1].end_s if self.timeline else 0.0

    @property
    def elapsed_s(self) -> float:
        """Seconds of the timeline behind the player (skipped time counts as passed)."""
        step = self.current
        return step.start_s + self.elapsed_in_step_s if step else self.total_s

    @property
    def progress(self) -> float:
        """Fraction of the whole routine done, 0.0 to 1.0."""
        return 1.0 if self.done or self.total_s <= 0 else min(1.0, self.elapsed_s / self.total_s)

    @property
    def step_progress(self) -> float:
        """Fraction of the current entry done, 0.0 to 1.0."""
        step = self.current
        if step is None:
            return 1.0
        return min(1.0, self.elapsed_in_step_s / step.duration_s) if step.duration_s > 0 else 1.0

    def pause(self) -> PlayerState:
        return replace(self, paused=True)

    def resume(self) -> PlayerState:
        return replace(self, paused=False)

    def toggle_pause(self) -> PlayerState:
        return replace(self, paused=not self.paused)

    def tick(self, dt_s: float) -> tuple[PlayerState, tuple[Event, ...]]:
        """Let `dt_s` seconds pass; a long tick may cross several entries (one "switch" each)."""
        if dt_s < 0 or math.isnan(dt_s):
            raise ValueError(f"time cannot run backwards: dt_s={dt_s}")
        if self.paused or self.done:
            return self, ()
        position, elapsed = self.position, self.elapsed_in_step_s + dt_s
        events: list[Event] = []
        while position < len(self.timeline) and elapsed >= self.timeline[position].duration_s:
            elapsed -= self.timeline[position].duration_s
            position += 1
            events.append("switch" if position < len(self.timeline) else "done")
        if position >= len(self.timeline):
            elapsed = 0.0
        return replace(self, position=position, elapsed_in_step_s=elapsed), tuple(events)

    def skip(self) -> tuple[PlayerState, tuple[Event, ...]]:
        """Jump to the start of the next entry (keeps the paused state)."""
        if self.done:
            return self, ()
        position = self.position + 1
        event: Event = "switch" if position < len(self.timeline) else "done"
        state = replace(self, position=position, elapsed_in_step_s=0.0)
        return state, (event,)


# --- loading and validation ---------------------------------------------------------------------------------


def load_citations(directory: Path = KNOWLEDGE_DIR) -> dict[str, Citation]:
    """Every `citations*.yaml` in `directory`, merged; raises RoutineError listing all problems.

    Only what routines need is checked here (ids unique across files, text, year); the triage loader owns
    the rules for its own file.
    """
    citations: dict[str, Citation] = {}
    seen_in: dict[str, str] = {}
    problems: list[str] = []
    for path in knowledge_files(directory, "citations*.yaml", REGIONS):
        data, error = _read_yaml(path)
        if error:
            problems.append(error)
            continue
        if not isinstance(data, Mapping):
            problems.append(f"{path.name}: expected a mapping of citation id -> {{text, url, year}}")
            continue
        for cid, entry in data.items():
            where = f"{path.name}: citation {cid!r}"
            if cid in seen_in:
                problems.append(f"{where} is also defined in {seen_in[cid]}")
                continue
            seen_in[str(cid)] = path.name
            if not isinstance(entry, Mapping):
                problems.append(f"{where}: expected text, url and year")
                continue
            text, url, year = entry.get("text"), entry.get("url"), entry.get("year")
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: missing text")
            if not isinstance(url, str):  # other files may leave it empty for offline sources
                problems.append(f"{where}: url must be text")
            if year is not None and (
                not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100
            ):
                problems.append(f"{where}: year must be a year such as 2019, not {year!r}")
            if isinstance(text, str) and isinstance(url, str) and (year is None or isinstance(year, int)):
                citations[str(cid)] = Citation(str(cid), text.strip(), url, year)
    if problems:
        raise RoutineError(problems)
    return citations


def load_routines(
    directory: Path | None = None, citations: Mapping[str, object] | None = None
) -> dict[str, Routine]:
    """All routines in `directory` (default: the shared ones and every region's) by id, validated; raises
    RoutineError listing every problem in every file.

    `citations` defaults to the merged citations of the knowledge directory.
    """
    if citations is None:
        citations = load_citations()
    routines: dict[str, Routine] = {}
    problems: list[str] = []
    if directory is None:
        paths = knowledge_files(KNOWLEDGE_DIR, "*.yaml", REGIONS, "routines")
    else:
        paths = knowledge_files(directory, "*.yaml", ())
    if not paths:
        raise RoutineError([f"{directory or ROUTINES_DIR}: no routine files (*.yaml)"])
    for path in paths:
        data, error = _read_yaml(path)
        if error:
            problems.append(error)
            continue
        routine, file_problems = parse_routine(data, path.name, citations)
        raw_id = data.get("id") if isinstance(data, Mapping) else None
        if isinstance(raw_id, str) and raw_id.strip() and raw_id.strip() != path.stem:
            file_problems.append(f"{path.name}: id {raw_id.strip()!r} must match the file name {path.stem!r}")
        problems.extend(file_problems)
        if routine is not None and not file_problems:
            routines[routine.id] = routine
    if problems:
        raise RoutineError(problems)
    return routines


def find_routine(routines: Mapping[str, Routine], name: str) -> Routine:
    """The routine called `name` (case-insensitive; hyphens or spaces work as underscores)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in routines:
        return routines[key]
    raise UnknownRoutine(name, routines)


def parse_routine(
    data: Any, source: str, citations: Mapping[str, object]
) -> tuple[Routine | None, list[str]]:
    """One routine from its YAML mapping; returns (routine or None, problems naming `source`)."""
    if not isinstance(data, Mapping):
        return None, [f"{source}: expected a mapping with keys {', '.join(REQUIRED_KEYS)}"]
    problems: list[str] = []

    def problem(message: str) -> None:
        problems.append(f"{source}: {message}")

    for key in REQUIRED_KEYS:
        if key not in data:
            problem(f"missing key {key!r}")
    for key in data:
        if key not in REQUIRED_KEYS:
            problem(f"unknown key {key!r}")

    def text(key: str) -> str:
        value = data.get(key)
        if key in data and (not isinstance(value, str) or not value.strip()):
            problem(f"{key} must be non-empty text")
            return ""
        return value.strip() if isinstance(value, str) else ""

    def texts(key: str, allow_empty: bool = True) -> tuple[str, ...]:
        value = data.get(key)
        if key not in data:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problem(f"{key} must be a list of non-empty text")
            return ()
        if not value and not allow_empty:
            problem(f"{key} must not be empty")
        return tuple(v.strip() for v in value)

    routine_id = text("id")
    if routine_id and not routine_id.replace("_", "").isalnum():
        problem(f"id {routine_id!r} may hold only letters, digits and underscores")
    kind = text("kind")
    if kind and kind not in KINDS:
        problem(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    suitable = texts("suitable_for")
    contraindicated = texts("contraindicated_for")
    for key, ids in (("suitable_for", suitable), ("contraindicated_for", contraindicated)):
        for cid in ids:
            if cid not in CONDITION_IDS:
                problem(f"{key}: unknown condition id {cid!r}")
    for cid in sorted(set(suitable) & set(contraindicated)):
        problem(f"condition {cid!r} is both suitable_for and contraindicated_for")
    cited = texts("citations", allow_empty=False)
    for cid in cited:
        if cid not in citations:
            problem(f"citation {cid!r} is not in any knowledge/citations*.yaml")
    reviewed, next_review = _date(data, "date_reviewed", problem), _date(data, "next_review", problem)
    if reviewed and next_review and next_review <= reviewed:
        problem(f"next_review {next_review} must be after date_reviewed {reviewed}")
    steps = _steps(data.get("steps"), problem) if "steps" in data else ()

    routine = Routine(
        id=routine_id,
        name=text("name"),
        kind=kind,
        summary=text("summary"),
        equipment=texts("equipment"),
        suitable_for=suitable,
        contraindicated_for=contraindicated,
        contraindications=texts("contraindications", allow_empty=False),
        citations=cited,
        date_reviewed=reviewed or date.min,
        next_review=next_review or date.min,
        steps=steps,
    )
    return (None if problems else routine), problems


def _steps(value: Any, problem: Any) -> tuple[Step, ...]:
    if not isinstance(value, list) or not value:
        problem("steps must be a non-empty list")
        return ()
    steps: list[Step] = []
    for number, raw in enumerate(value, start=1):
        where = f"step {number}"
        if not isinstance(raw, Mapping):
            problem(f"{where}: expected a mapping with {', '.join(STEP_KEYS)}")
            continue
        ok = True
        for key in STEP_KEYS:
            if key not in raw:
                problem(f"{where}: missing key {key!r}")
                ok = False
        for key in raw:
            if key not in STEP_KEYS:
                problem(f"{where}: unknown key {key!r}")
                ok = False
        for key in ("name", "instruction"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
                problem(f"{where}: {key} must be non-empty text")
                ok = False
        duration = raw.get("duration_s")
        if "duration_s" in raw and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
            or not 0 < duration <= MAX_STEP_DURATION_S
        ):
            problem(
                f"{where}: duration_s must be a number of seconds above 0 and at most "
                f"{MAX_STEP_DURATION_S:g}, not {duration!r}"
            )
            ok = False
        sides = raw.get("sides")
        if "sides" in raw and sides not in SIDES:
            problem(f"{where}: sides {sides!r} is not one of {', '.join(SIDES)}")
            ok = False
        if ok:
            steps.append(Step(raw["name"].strip(), raw["instruction"].strip(), float(duration), sides))
    return tuple(steps)


def _date(data: Mapping[str, Any], key: str, problem: Any) -> date | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problem(f"{key} {value!r} is not a date (YYYY-MM-DD)")
        return None


def _read_yaml(path: Path) -> tuple[Any, str | None]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path.name}: cannot read: {exc}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, f"{path.name}:{where} not valid YAML: {reason}"


def format_duration(seconds: float) -> str:
    """120 -> '2:00'; 45 -> '0:45'; 3725 -> '1:02:05'."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def routine_to_dict(routine: Routine, citations: Mapping[str, Citation] | None = None) -> dict[str, Any]:
    """The routine as plain JSON-ready data (for `--json` and the web API), with its timeline."""
    return {
        "id": routine.id,
        "name": routine.name,
        "kind": routine.kind,
        "summary": routine.summary,
        "equipment": list(routine.equipment),
        "total_duration_s": routine.total_duration_s,
        "suitable_for": list(routine.suitable_for),
        "contraindicated_for": list(routine.contraindicated_for),
        "contraindications": list(routine.contraindications),
        "citations": [
            {"id": cid, "text": c.text, "url": c.url, "year": c.year}
            if citations is not None and (c := citations.get(cid)) is not None
            else {"id": cid}
            for cid in routine.citations
        ],
        "date_reviewed": routine.date_reviewed.isoformat(),
        "next_review": routine.next_review.isoformat(),
        "steps": [
            {"name": s.name, "instruction": s.instruction, "duration_s": s.duration_s, "sides": s.sides}
            for s in routine.steps
        ],
        "timeline": [
            {
                "position": t.position,
                "step_index": t.step_index,
                "name": t.name,
                "instruction": t.instruction,
                "side": t.side,
                "start_s": t.start_s,
                "duration_s": t.duration_s,
            }
            for t in schedule(routine)
        ],
        "disclaimer": DISCLAIMER,
    }
