"""Per-file checks for the triage knowledge: each `_load_*` reads one kind of file, collects every problem it
finds (never stopping at the first), and returns the dataclasses of `knowledge.py`.

`build_knowledge(directory, today)` runs them all; use `knowledge.check_knowledge()` / `load_knowledge()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from strideguard import rules
from strideguard.triage.knowledge_model import (
    ALL_CONDITION_IDS,
    BASES,
    FINDING_TYPES,
    LEVELS,
    MAX_DESIGN_LR,
    MEASURES,
    MIN_UNSOURCED_LR,
    NOT_LIKELIHOOD_RATIOS,
    QUESTION_PHASES,
    REGION,
    REGION_CONDITION_IDS,
    REGIONS,
    ROUTINE_KINDS,
    Advice,
    Citation,
    Condition,
    Escalation,
    EvidenceItem,
    Finding,
    KnowledgeBase,
    Question,
    RedFlag,
    RoutineInfo,
    Screen,
    ScreenItem,
    knowledge_files,
)

# clinical.md marks: V seen in the source, S seen only in a secondary source, NV not verified (a design
# choice)
GRADES = ("V", "S", "NV")
# a design value's reasoning: a rationale id from design_rationales.yaml, or a sentence of at least this
# length
MIN_REASONING_CHARS = 20


class _Problems:
    """Collects errors with a file-relative prefix."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def __call__(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")


def _read_yaml(path: Path, problem: _Problems, where: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problem(where, f"cannot read: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark else ""
        problem(where, f"not valid YAML{at}: {getattr(exc, 'problem', None) or exc}")
    return None


def _dates(data: Mapping[str, Any], where: str, problem: _Problems, today: date) -> tuple[date, date]:
    got: list[date] = []
    for key in ("date_reviewed", "next_review"):
        value = data.get(key)
        if isinstance(value, date):
            got.append(value)
        else:
            problem(
                where,
                f"missing or invalid {key} (use YYYY-MM-DD)"
                if value is None
                else f"{key} {value!r} is not a date",
            )
            got.append(date.min)
    reviewed, due = got
    if reviewed != date.min and due != date.min:
        if due <= reviewed:
            problem(where, f"next_review {due} must be after date_reviewed {reviewed}")
        elif due < today:
            problem.warnings.append(f"{where}: review overdue since {due}")
    return reviewed, due


def _citation_list(
    value: Any, where: str, problem: _Problems, known: Mapping[str, Citation], required: bool = True
) -> tuple[str, ...]:
    if value is None or value == []:
        if required:
            problem(where, "no citations (every clinical item must cite its source)")
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        problem(where, f"citations must be a list of citation ids, got {value!r}")
        return ()
    for cid in value:
        if cid not in known:
            problem(where, f"unknown citation {cid!r}")
    return tuple(value)


def _load_findings(directory: Path, problem: _Problems, region: str = REGION) -> dict[str, Finding]:
    """The shared findings.yaml, plus the region's own findings.yaml if it has one: its `findings` are added
    (never redefining a shared id) and its `extend_values` add values to shared enums (e.g. the knee's six
    places for `pain_location`), so one "where does it hurt?" finding serves every region."""
    findings: dict[str, Finding] = {}
    _read_findings_file(directory / "findings.yaml", "findings.yaml", problem, findings)
    own = directory / region / "findings.yaml"
    if own.exists():
        data = _read_findings_file(own, f"{region}/findings.yaml", problem, findings)
        extend = data.get("extend_values") if isinstance(data, Mapping) else None
        for fid, extra in (extend or {}).items():
            where = f"{region}/findings.yaml: extend_values: {fid}"
            base = findings.get(fid)
            if base is None or base.type != "enum":
                problem(where, "only a shared enum finding can be extended")
            elif not isinstance(extra, list) or not all(isinstance(v, str) for v in extra):
                problem(where, "expected a list of new values")
            else:
                values = base.values + tuple(v for v in extra if v not in base.values)
                findings[fid] = Finding(fid, "enum", base.meaning, values, unit=base.unit)
    return findings


def _read_findings_file(path: Path, name: str, problem: _Problems, findings: dict[str, Finding]) -> Any:
    data = _read_yaml(path, problem, name)
    if not isinstance(data, Mapping) or not isinstance(data.get("findings"), list):
        problem(name, "expected a mapping with a 'findings' list")
        return data
    for i, item in enumerate(data["findings"]):
        where = f"{name}: findings[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            problem(where, "each finding needs an id")
            continue
        fid, ftype = item["id"], item.get("type")
        where = f"{name}: {fid}"
        if fid in findings:
            problem(where, "duplicate finding id")
        if ftype not in FINDING_TYPES:
            problem(where, f"type must be one of {', '.join(FINDING_TYPES)}, got {ftype!r}")
            continue
        values: tuple[str, ...] = ()
        lo = hi = None
        if ftype == "enum":
            raw = item.get("values")
            if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
                problem(where, "an enum needs a non-empty 'values' list of strings")
            else:
                values = tuple(raw)
        if ftype == "number":
            lo, hi = item.get("min"), item.get("max")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)) or lo >= hi:
                problem(where, f"a number needs numeric min < max, got min={lo!r} max={hi!r}")
                lo, hi = -math.inf, math.inf
        findings[fid] = Finding(fid, ftype, str(item.get("meaning", "")), values, lo, hi, item.get("unit"))
    return data


def _load_citations(directory: Path, problem: _Problems, region: str = REGION) -> dict[str, Citation]:
    """The shared citations*.yaml files and the region's own (knowledge/<region>/citations*.yaml)."""
    citations: dict[str, Citation] = {}
    origin: dict[str, str] = {}
    files = knowledge_files(directory, "citations*.yaml", (region,))
    if not any(path.parent == directory for path in files):
        problem(str(directory), "no citations*.yaml files")
    for path in files:
        data = _read_yaml(path, problem, path.name)
        if data is None:
            continue
        if not isinstance(data, Mapping):
            problem(path.name, "expected a mapping of citation id -> {text, url, year}")
            continue
        for cid, entry in data.items():
            where = f"{path.name}: {cid}"
            if cid in origin:
                problem(where, f"duplicate citation id (also in {origin[cid]})")
                continue
            origin[cid] = path.name
            if (
                not isinstance(entry, Mapping)
                or not isinstance(entry.get("text"), str)
                or not entry["text"].strip()
            ):
                problem(where, "needs a non-empty 'text'")
                continue
            year = entry.get("year")
            if year is not None and (
                not isinstance(year, int) or isinstance(year, bool) or not 1800 <= year <= 2100
            ):
                problem(where, f"year must be a whole number like 2021, got {year!r}")
            url = entry.get("url") or ""
            if not isinstance(url, str):
                problem(where, f"url must be text, got {url!r}")
                url = ""
            grade = entry.get("grade")
            if grade not in GRADES:
                problem(where, f"grade must be one of {', '.join(GRADES)} (clinical.md marks), got {grade!r}")
            runner_text = entry.get("runner_text")
            if runner_text is not None and (not isinstance(runner_text, str) or not runner_text.strip()):
                problem(where, "runner_text must be a non-empty sentence")
                runner_text = None
            citations[cid] = Citation(
                cid,
                entry["text"].strip(),
                url,
                year if isinstance(year, int) else None,
                grade,
                runner_text.strip() if runner_text else None,
            )
    return citations


def _check_leaf_values(
    rule: Mapping[str, Any], where: str, problem: _Problems, findings: Mapping[str, Finding]
) -> None:
    """Leaves must name known findings with values of the right type and range."""
    shape_errors = rules.check(rule, where)
    if shape_errors:
        problem.errors.extend(shape_errors)
        return
    for leaf in rules.leaves(rule):
        fid, op, value = leaf.get("finding"), leaf.get("op"), leaf.get("value")
        finding = findings.get(fid) if isinstance(fid, str) else None
        if finding is None:
            problem(where, f"unknown finding {fid!r}")
            continue
        if op == "known":
            continue
        if op in rules.NUMERIC_OPS:
            if finding.type != "number":
                problem(where, f"op {op!r} needs a number finding, but {fid} is {finding.type}")
            continue
        for v in value if isinstance(value, list) else [value]:
            error = finding.problem(v)
            if error:
                problem(where, f"bad value: {error}")


def _provenance(
    item: Mapping[str, Any], lr: float, where: str, problem: _Problems, rationales: Mapping[str, str]
) -> tuple[str, str]:
    """(basis, provenance text) of an evidence item, with every problem reported: a missing basis, a sourced
    figure without its population, an odds or hazard ratio used as a likelihood ratio, a design value stronger
    than MAX_DESIGN_LR, and an item lowering the odds below MIN_UNSOURCED_LR without a comparable study."""
    basis = item.get("basis")
    if basis not in BASES:
        problem(
            where, f"basis must be one of {', '.join(BASES)} (where the number comes from), got {basis!r}"
        )
        return "design", ""
    measure = item.get("measure")
    if measure in NOT_LIKELIHOOD_RATIOS:
        problem(
            where,
            f"{'an' if measure[0] in 'aeiou' else 'a'} {measure.replace('_', ' ')} is not a likelihood ratio "
            "(it describes future risk, not a test "
            "result): use a design value with its reasoning instead",
        )
    if basis == "sourced":
        figure, population = item.get("figure"), item.get("population")
        if measure not in MEASURES:
            problem(where, f"a sourced value needs measure: one of {', '.join(MEASURES)}, got {measure!r}")
        if not isinstance(figure, str) or not figure.strip():
            problem(
                where, "a sourced value needs figure: the numbers in the source (sens/spec, LR or 2x2 counts)"
            )
        if not isinstance(population, str) or not population.strip():
            problem(where, "a sourced value needs population: who the figure was measured in")
        text = f"{figure}; {population}"
    elif basis == "derived":
        arithmetic = item.get("arithmetic")
        if not isinstance(arithmetic, str) or "=" not in arithmetic:
            problem(where, "a derived value needs arithmetic: how it was computed from sourced figures")
        text = str(arithmetic or "")
    else:
        why = item.get("why")
        text = rationales.get(why, why) if isinstance(why, str) else ""
        if not isinstance(why, str) or (why not in rationales and len(why.strip()) < MIN_REASONING_CHARS):
            problem(
                where, f"a design value needs why: a rationale id or a sentence of reasoning, got {why!r}"
            )
        if lr > MAX_DESIGN_LR or lr < 1 / MAX_DESIGN_LR:
            problem(where, f"a design value may not exceed x{MAX_DESIGN_LR:g} either way (got x{lr:g})")
    if lr < MIN_UNSOURCED_LR and not (basis in ("sourced", "derived") and item.get("comparable") is True):
        problem(
            where,
            f"lr {lr:g} lowers the odds below x{MIN_UNSOURCED_LR:g}: that needs a study in a comparable "
            "population (basis sourced or derived, comparable: true)",
        )
    return str(basis), text


def _advice(value: Any, where: str, problem: _Problems, findings: Mapping[str, Finding]) -> list[Advice]:
    """Advice sentences: plain strings, or {text, when} for advice that mentions a symptom."""
    if not isinstance(value, list) or not value:
        problem(where, "advice must be a non-empty list of sentences")
        return []
    out: list[Advice] = []
    for i, entry in enumerate(value):
        if isinstance(entry, str) and entry.strip():
            out.append(Advice(entry.strip()))
        elif isinstance(entry, Mapping) and isinstance(entry.get("text"), str) and entry["text"].strip():
            if entry.get("when") is not None:
                _check_leaf_values(entry["when"], f"{where}: advice[{i}]: when", problem, findings)
            out.append(Advice(entry["text"].strip(), entry.get("when")))
        else:
            problem(where, f"advice[{i}] must be a sentence or {{text, when}}")
    return out


def _load_rationales(directory: Path, problem: _Problems) -> dict[str, str]:
    """design_rationales.yaml: id -> the reasoning behind a family of StrideGuard estimates."""
    path = directory / "design_rationales.yaml"
    if not path.exists():
        return {}
    data = _read_yaml(path, problem, path.name)
    if not isinstance(data, Mapping) or not isinstance(data.get("rationales"), Mapping):
        problem(path.name, "expected a mapping with a 'rationales' mapping of id -> reasoning")
        return {}
    out: dict[str, str] = {}
    for rid, text in data["rationales"].items():
        if not isinstance(text, str) or len(text.strip()) < MIN_REASONING_CHARS:
            problem(f"{path.name}: {rid}", "needs a sentence of reasoning")
            continue
        out[str(rid)] = " ".join(text.split())
    return out


def _load_conditions(
    directory: Path,
    problem: _Problems,
    findings: Mapping[str, Finding],
    citations: Mapping[str, Citation],
    today: date,
    rationales: Mapping[str, str] | None = None,
    region: str = REGION,
) -> dict[str, Condition]:
    rationales = rationales or {}
    condition_ids = REGION_CONDITION_IDS[region]
    conditions: dict[str, Condition] = {}
    cdir = directory / region / "conditions"
    paths = {p.stem: p for p in sorted(cdir.glob("*.yaml"))} if cdir.is_dir() else {}
    for stem in paths:
        if stem not in condition_ids:
            problem(
                f"{region}/conditions/{stem}.yaml",
                f"unknown condition id {stem!r} (the {len(condition_ids)} {region} ids are fixed)",
            )
    for cid in condition_ids:
        where = f"{region}/conditions/{cid}.yaml"
        if cid not in paths:
            problem(where, "missing condition file")
            continue
        data = _read_yaml(paths[cid], problem, where)
        if not isinstance(data, Mapping):
            if data is not None:
                problem(where, "expected a mapping")
            continue
        if data.get("id") != cid:
            problem(where, f"id {data.get('id')!r} does not match the file name")
        for key in ("name", "summary"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                problem(where, f"missing {key}")
        prior = data.get("prior")
        if not isinstance(prior, int | float) or isinstance(prior, bool) or not 0 < prior < 1:
            problem(where, f"prior must be a number between 0 and 1, got {prior!r}")
            prior = 0.01
        level = data.get("triage_level")
        if level not in LEVELS:
            problem(where, f"triage_level must be one of {', '.join(LEVELS)}, got {level!r}")
            level = "see_clinician"
        advice = _advice(data.get("advice"), where, problem, findings)
        evidence: list[EvidenceItem] = []
        for i, item in enumerate(data.get("evidence") or []):
            ewhere = f"{where}: evidence[{i}]"
            if not isinstance(item, Mapping):
                problem(ewhere, "expected {finding, op, value, lr, citations, basis}")
                continue
            leaf = {k: item.get(k) for k in ("finding", "op", "value")}
            _check_leaf_values(leaf, ewhere, problem, findings)
            lr = item.get("lr")
            if not isinstance(lr, int | float) or isinstance(lr, bool) or not 0 < lr <= 1000 or lr == 1:
                problem(ewhere, f"lr must be a positive number other than 1 (at most 1000), got {lr!r}")
                lr = 1.0
            cites = _citation_list(item.get("citations"), ewhere, problem, citations)
            basis, provenance = _provenance(
                item, float(lr), f"{ewhere} ({leaf['finding']})", problem, rationales
            )
            evidence.append(
                EvidenceItem(
                    leaf["finding"],
                    leaf["op"],
                    leaf["value"],
                    float(lr),
                    cites,
                    item.get("note"),
                    basis,
                    provenance,
                )
            )
        if not evidence:
            problem(where, "no evidence items")
        escalations: list[Escalation] = []
        for i, item in enumerate(data.get("escalations") or []):
            ewhere = f"{where}: escalations[{i}]"
            if (
                not isinstance(item, Mapping)
                or item.get("level") not in LEVELS
                or not isinstance(item.get("reason"), str)
            ):
                problem(ewhere, "needs level (one of the triage levels), when (a rule) and reason")
                continue
            _check_leaf_values(item.get("when"), ewhere, problem, findings)
            cites = _citation_list(item.get("citations"), ewhere, problem, citations)
            escalations.append(Escalation(item["level"], item.get("when") or {}, item["reason"], cites))
        key_findings = data.get("key_findings") or []
        if not isinstance(key_findings, list) or not all(isinstance(k, str) for k in key_findings):
            problem(where, "key_findings must be a list of finding ids")
            key_findings = []
        used = {e.finding for e in evidence}
        for fid in key_findings:
            if fid not in used:
                problem(where, f"key finding {fid!r} is not used by any of the condition's evidence items")
        applies_if = data.get("applies_if")
        if applies_if is not None:
            _check_leaf_values(applies_if, f"{where}: applies_if", problem, findings)
        reviewed, due = _dates(data, where, problem, today)
        conditions[cid] = Condition(
            id=cid,
            name=str(data.get("name", cid)),
            summary=str(data.get("summary", "")),
            prior=float(prior),
            triage_level=level,
            advice=tuple(advice),
            evidence=tuple(evidence),
            escalations=tuple(escalations),
            citations=_citation_list(data.get("citations"), where, problem, citations),
            prior_citations=_citation_list(
                data.get("prior_citations"), f"{where}: prior", problem, citations
            ),
            date_reviewed=reviewed,
            next_review=due,
            key_findings=tuple(key_findings),
            applies_if=applies_if,
        )
    return conditions


def _load_red_flags(
    directory: Path,
    problem: _Problems,
    findings: Mapping[str, Finding],
    citations: Mapping[str, Citation],
    today: date,
    region: str = REGION,
) -> tuple[RedFlag, ...]:
    data = _read_yaml(directory / region / "red_flags.yaml", problem, f"{region}/red_flags.yaml")
    if not isinstance(data, Mapping) or not isinstance(data.get("red_flags"), list):
        problem(f"{region}/red_flags.yaml", "expected a mapping with a 'red_flags' list")
        return ()
    flags: list[RedFlag] = []
    seen: set[str] = set()
    for i, item in enumerate(data["red_flags"]):
        where = f"{region}/red_flags.yaml: red_flags[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            problem(where, "each red flag needs an id")
            continue
        where = f"{region}/red_flags.yaml: {item['id']}"
        if item["id"] in seen:
            problem(where, "duplicate red flag id")
        seen.add(item["id"])
        if item.get("level") not in LEVELS or item.get("level") == "self_care":
            problem(where, f"level must be see_clinician, urgent or emergency, got {item.get('level')!r}")
        if not isinstance(item.get("message"), str) or not item["message"].strip():
            problem(where, "missing message")
        _check_leaf_values(item.get("rule"), where, problem, findings)
        suggests = item.get("suggests") or []
        for cid in suggests:
            if cid not in REGION_CONDITION_IDS[region]:
                problem(where, f"suggests unknown condition {cid!r}")
        reviewed, due = _dates(item, where, problem, today)
        flags.append(
            RedFlag(
                id=item["id"],
                level=str(item.get("level")),
                message=str(item.get("message", "")),
                rule=item.get("rule") or {},
                suggests=tuple(suggests),
                citations=_citation_list(item.get("citations"), where, problem, citations),
                date_reviewed=reviewed,
                next_review=due,
            )
        )
    return tuple(flags)


def _load_questions(
    directory: Path,
    problem: _Problems,
    findings: Mapping[str, Finding],
    citations: Mapping[str, Citation],
    red_flags: tuple[RedFlag, ...],
    today: date,
    region: str = REGION,
) -> tuple[Question, ...]:
    data = _read_yaml(directory / region / "questions.yaml", problem, f"{region}/questions.yaml")
    if not isinstance(data, Mapping) or not isinstance(data.get("questions"), list):
        problem(f"{region}/questions.yaml", "expected a mapping with a 'questions' list")
        return ()
    _dates(data, f"{region}/questions.yaml", problem, today)
    questions: list[Question] = []
    for i, item in enumerate(data["questions"]):
        where = f"{region}/questions.yaml: questions[{i}]"
        if not isinstance(item, Mapping):
            problem(where, "expected a mapping")
            continue
        fid = item.get("finding")
        finding = findings.get(fid) if isinstance(fid, str) else None
        if finding is None:
            problem(where, f"unknown finding {fid!r}")
            continue
        where = f"{region}/questions.yaml: {fid}"
        if any(q.finding == fid for q in questions):
            problem(where, "asked twice")
        if item.get("phase") not in QUESTION_PHASES:
            problem(where, f"phase must be one of {', '.join(QUESTION_PHASES)}")
        if not isinstance(item.get("text"), str) or not item["text"].strip():
            problem(where, "missing text")
        choices: tuple[tuple[str, str], ...] = ()
        if finding.type == "enum":
            raw = item.get("choices")
            if not isinstance(raw, Mapping) or set(raw) != set(finding.values):
                problem(where, f"choices must label exactly the values {', '.join(finding.values)}")
            else:
                choices = tuple((v, str(raw[v])) for v in raw)  # in the file's order (knee places first)
        for key in ("ask_if", "skip_if"):
            if item.get(key) is not None:
                _check_leaf_values(item[key], f"{where}: {key}", problem, findings)
        questions.append(
            Question(
                finding=fid,
                phase=str(item.get("phase")),
                text=str(item.get("text", "")),
                citations=_citation_list(item.get("citations"), where, problem, citations),
                choices=choices,
                ask_if=item.get("ask_if"),
                skip_if=item.get("skip_if"),
            )
        )
    # The interactive screen must be able to ask about every finding a red flag depends on.
    asked = {q.finding for q in questions}
    needed = {
        leaf["finding"] for flag in red_flags for leaf in rules.leaves(flag.rule) if isinstance(leaf, Mapping)
    }
    for fid in sorted(needed - asked):
        if fid in findings:
            problem(f"{region}/questions.yaml", f"no question for red-flag finding {fid!r}")
    return tuple(questions)


def _load_routines(
    directory: Path, problem: _Problems, citations: Mapping[str, Citation], today: date, region: str = REGION
) -> dict[str, RoutineInfo]:
    """Routine files (written by the routines feature) checked against the agreed schema: the shared ones in
    knowledge/routines/ and the region's own in knowledge/<region>/routines/."""
    routines: dict[str, RoutineInfo] = {}
    for path in knowledge_files(directory, "*.yaml", (region,), "routines"):
        where = str(path.relative_to(directory))
        data = _read_yaml(path, problem, where)
        if not isinstance(data, Mapping):
            if data is not None:
                problem(where, "expected a mapping")
            continue
        rid = data.get("id")
        if rid != path.stem:
            problem(where, f"id {rid!r} does not match the file name")
        if data.get("kind") not in ROUTINE_KINDS:
            problem(where, f"kind must be one of {', '.join(ROUTINE_KINDS)}, got {data.get('kind')!r}")
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("suitable_for", "contraindicated_for"):
            value = data.get(key) or []
            if not isinstance(value, list):
                problem(where, f"{key} must be a list of condition ids")
                value = []
            for cid in value:
                if cid not in ALL_CONDITION_IDS:
                    problem(where, f"{key}: unknown condition {cid!r}")
            lists[key] = tuple(value)
        overlap = set(lists["suitable_for"]) & set(lists["contraindicated_for"])
        if overlap:
            problem(where, f"both suitable and contraindicated for {', '.join(sorted(overlap))}")
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            problem(where, "steps must be a non-empty list")
        else:
            for i, step in enumerate(steps):
                ok = isinstance(step, Mapping) and isinstance(step.get("duration_s"), int | float)
                if not ok or step["duration_s"] <= 0 or step.get("sides") not in ("none", "each"):
                    problem(where, f"steps[{i}] needs name, instruction, duration_s > 0 and sides none|each")
        _dates(data, where, problem, today)
        routines[str(rid or path.stem)] = RoutineInfo(
            id=str(rid or path.stem),
            name=str(data.get("name", path.stem)),
            kind=str(data.get("kind")),
            summary=" ".join(str(data.get("summary", "")).split()),
            suitable_for=lists["suitable_for"],
            contraindicated_for=lists["contraindicated_for"],
            citations=_citation_list(data.get("citations"), where, problem, citations),
        )
    return routines


def _load_screens(
    directory: Path,
    problem: _Problems,
    findings: Mapping[str, Finding],
    citations: Mapping[str, Citation],
    questions: tuple[Question, ...],
    today: date,
    region: str = REGION,
) -> tuple[Screen, ...]:
    """knowledge/screens.yaml: grouped screening questions over red-flag findings (optional file)."""
    path = directory / region / "screens.yaml"
    if not path.exists():
        return ()
    data = _read_yaml(path, problem, f"{region}/screens.yaml")
    if data is None:
        return ()
    if not isinstance(data, Mapping) or not isinstance(data.get("screens"), list):
        problem(f"{region}/screens.yaml", "expected a mapping with a 'screens' list")
        return ()
    asked = {q.finding for q in questions}
    owner: dict[str, str] = {}
    screens: list[Screen] = []
    for i, entry in enumerate(data["screens"]):
        where = f"{region}/screens.yaml: screens[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            problem(where, "each screen needs an id")
            continue
        sid = entry["id"]
        where = f"{region}/screens.yaml: {sid}"
        if any(s.id == sid for s in screens):
            problem(where, "duplicate screen id")
        if sid in findings:
            problem(where, "a screen id must not be a finding id")
        if not isinstance(entry.get("text"), str) or not entry["text"].strip():
            problem(where, "missing text")
        if entry.get("ask_if") is not None:
            _check_leaf_values(entry["ask_if"], f"{where}: ask_if", problem, findings)
        items: list[ScreenItem] = []
        raw_items = entry.get("items")
        if not isinstance(raw_items, list) or len(raw_items) < 2:
            problem(where, "items must be a list of at least two {label, findings, citations}")
            raw_items = []
        for j, raw in enumerate(raw_items):
            iwhere = f"{where}: items[{j}]"
            item = _screen_item(raw, iwhere, problem, findings, citations, asked)
            if item is None:
                continue
            for fid in item.findings:
                if fid in owner:
                    problem(iwhere, f"{fid} is already screened in {owner[fid]}")
                owner[fid] = sid
            items.append(item)
        reviewed, due = _dates(entry, where, problem, today)
        screens.append(
            Screen(
                id=sid,
                text=str(entry.get("text", "")).strip(),
                items=tuple(items),
                citations=_citation_list(entry.get("citations"), where, problem, citations),
                date_reviewed=reviewed,
                next_review=due,
                ask_if=entry.get("ask_if"),
            )
        )
    return tuple(screens)


def _screen_item(
    raw: Any,
    where: str,
    problem: _Problems,
    findings: Mapping[str, Finding],
    citations: Mapping[str, Citation],
    asked: set[str],
) -> ScreenItem | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("label"), str) or not raw["label"].strip():
        problem(where, "needs a label")
        return None
    ids = raw.get("findings")
    if not isinstance(ids, list) or not ids or not all(isinstance(f, str) for f in ids):
        problem(where, "findings must be a non-empty list of finding ids")
        return None
    none_raw = raw.get("none") or {}
    if not isinstance(none_raw, Mapping):
        problem(where, "none must map finding ids to the value a 'none of these' answer gives them")
        none_raw = {}
    none_values: dict[str, Any] = {}
    yes_raw = raw.get("yes", raw.get(True)) or {}  # YAML 1.1 reads an unquoted `yes:` key as true
    if not isinstance(yes_raw, Mapping):
        problem(where, "yes must map finding ids to the value a tick gives them")
        yes_raw = {}
    yes_values: dict[str, Any] = {}
    for fid in ids:
        finding = findings.get(fid)
        if finding is not None and fid in yes_raw:
            error = finding.problem(yes_raw[fid])
            if error:
                problem(where, f"bad yes value: {error}")
            else:
                yes_values[fid] = yes_raw[fid]
        elif finding is not None and finding.type == "boolean":
            yes_values[fid] = True
    for fid in ids:
        finding = findings.get(fid)
        if finding is None:
            problem(where, f"unknown finding {fid!r}")
            continue
        if fid not in asked:
            problem(where, f"no question for {fid!r} (needed when the runner answers yes or don't know)")
        if finding.type == "number":
            problem(where, f"{fid} is a number; a screen can only hold yes/no or choice findings")
        elif fid in none_raw:
            error = finding.problem(none_raw[fid])
            if error:
                problem(where, f"bad none value: {error}")
            else:
                none_values[fid] = none_raw[fid]
        elif finding.type == "boolean":
            none_values[fid] = False
    for fid in none_raw:
        if fid not in ids:
            problem(where, f"none names {fid!r}, which is not one of the item's findings")
    if raw.get("ask_if") is not None:
        _check_leaf_values(raw["ask_if"], f"{where}: ask_if", problem, findings)
    return ScreenItem(
        label=" ".join(raw["label"].split()),
        findings=tuple(ids),
        none_values=none_values,
        citations=_citation_list(raw.get("citations"), where, problem, citations),
        ask_if=raw.get("ask_if"),
        yes_values=yes_values,
    )


def build_knowledge(
    directory: Path, today: date, region: str = REGION
) -> tuple[KnowledgeBase | None, list[str]]:
    """Load and check every knowledge file of `region` in `directory`; (kb, []) or (None, every error)."""
    problem = _Problems()
    if region not in REGIONS:
        return None, [f"unknown body region {region!r} (one of {', '.join(REGIONS)})"]
    if not directory.is_dir():
        return None, [f"{directory}: knowledge directory not found"]
    findings = _load_findings(directory, problem, region)
    citations = _load_citations(directory, problem, region)
    rationales = _load_rationales(directory, problem)
    conditions = _load_conditions(directory, problem, findings, citations, today, rationales, region)
    red_flags = _load_red_flags(directory, problem, findings, citations, today, region)
    questions = _load_questions(directory, problem, findings, citations, red_flags, today, region)
    screens = _load_screens(directory, problem, findings, citations, questions, today, region)
    routines = _load_routines(directory, problem, citations, today, region)
    if problem.errors:
        return None, problem.errors
    kb = KnowledgeBase(
        findings,
        citations,
        conditions,
        red_flags,
        questions,
        routines,
        directory,
        tuple(problem.warnings),
        screens,
        region,
        rationales,
    )
    return kb, []
