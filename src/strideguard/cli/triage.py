"""`strideguard triage`: hip or knee triage (`--region`) from a findings file (`--findings FILE --json`) or by
questions.

A thin shell over `strideguard.triage`: question choice, scoring and red flags all live there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
from rich.markup import escape
from rich.table import Table

from strideguard.cli.common import AppContext, console, err_console, pass_app
from strideguard.storage import triage as triage_store
from strideguard.storage.tables import TriageRow
from strideguard.triage.engine import evaluate
from strideguard.triage.interview import AnswerError, item_choices, next_step
from strideguard.triage.knowledge import REGION, REGIONS, check_knowledge, load_knowledge
from strideguard.triage.knowledge_model import (
    SCREEN_DONT_KNOW,
    SCREEN_NONE,
    SCREEN_YES,
    KnowledgeBase,
    KnowledgeError,
    Question,
    Screen,
)
from strideguard.triage.regions import region_for, settle_region
from strideguard.triage.result import TriageResult
from strideguard.triage.scoring import FindingsError, validate_findings
from strideguard.triage.text import (
    UNCHECKED_INTRO,
    citation_for_runner,
    describe,
    evidence_level,
    flag_reasons,
    unchecked_groups,
)

LEVEL_HEADLINES = {
    "emergency": ("bold white on red", "EMERGENCY: please get help now"),
    "urgent": ("bold red", "URGENT: see a doctor within 1-3 days"),
    "see_clinician": ("bold yellow", "See a GP or sports physiotherapist"),
    "self_care": ("bold green", "Self-care is reasonable for now"),
}
DONT_KNOW = {"", "?", "dk", "don't know", "dont know", "do not know", "not sure", "skip", "unknown", "idk"}
YES = {"y", "yes", "true", "1"}
NO = {"n", "no", "false", "0"}
NONE_OF_THESE = NO | {"none", "none of these", "nothing"}
MAX_TRIES = 3


class _EndOfInput(Exception):
    """stdin closed: the remaining questions count as "don't know"."""


def register(group: click.Group) -> None:
    group.add_command(triage_command)


@click.command("triage")
@click.option(
    "--findings",
    "findings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help='JSON file {"findings": {...}} keyed by finding ids; skips the questions.',
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON (the contract in docs/triage.md)."
)
@click.option("--save", is_flag=True, help="Store the result in your triage history (local athlete).")
@click.option(
    "--history", is_flag=True, help="List your saved checks, hip and knee (newest first), and exit."
)
@click.option(
    "--region",
    type=click.Choice(REGIONS),
    default=None,
    help="Where it hurts: hip (the default) or knee. --check-knowledge without it checks every region.",
)
@click.option(
    "--knowledge",
    "knowledge_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Use this knowledge folder instead of the packaged one (for reviewers editing the YAML).",
)
@click.option(
    "--check-knowledge", is_flag=True, help="Validate the knowledge files, list every problem, and exit."
)
@pass_app
def triage_command(
    app: AppContext,
    findings_file: Path | None,
    as_json: bool,
    save: bool,
    history: bool,
    knowledge_dir: Path | None,
    check_knowledge: bool,
    region: str | None,
) -> None:
    """Hip or knee triage: warning signs first, then the likely causes with their evidence.

    Without --findings it asks questions: warning signs first, mostly grouped ("do any of these
    apply?": n = none of these, y = yes, ? = don't know - yes or ? then asks them one by one), then
    a few questions that tell the likely causes apart. Answer y / n, a number or a choice, or ? for
    "don't know". Guidance, not a diagnosis.

    \b
    Example:
      strideguard triage
      echo '{"findings": {"pain_location": "lateral", "tender_greater_trochanter": true}}' > case.json
      strideguard triage --findings case.json --json
      strideguard triage --findings case.json --save
      strideguard triage --region knee
      strideguard triage --region knee --findings knee.json --json
      strideguard triage --history
      strideguard triage --check-knowledge
    """
    if history:
        _history(app, as_json)
        return
    if check_knowledge:
        _check(knowledge_dir, (region,) if region else REGIONS)
        return
    kb = _knowledge(knowledge_dir, region or REGION)
    if findings_file is not None:
        kb, findings = _read_findings(findings_file, kb, err_console if as_json else console)
    else:
        out = err_console if as_json else console
        findings, kb = interview(kb, sys.stdin, out.print)
    try:
        result = evaluate(findings, kb)
    except FindingsError as exc:  # already validated for files; answers are parsed to valid values
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print_result(result, kb, findings)
    if save:
        with app.session() as (session, athlete_id):
            session.add(
                TriageRow(
                    athlete_id=athlete_id,
                    findings=dict(findings),
                    triage_level=result.triage_level,
                    result=result.to_json(),
                    region=kb.region,
                )
            )
        (err_console if as_json else console).print("Saved to your triage history.")


LEVEL_WORDS = {
    "emergency": "emergency",
    "urgent": "urgent: see a doctor within days",
    "see_clinician": "see a clinician",
    "self_care": "self-care",
}


def _history(app: AppContext, as_json: bool) -> None:
    with app.session() as (session, athlete_id):
        checks = triage_store.list_triage(session, athlete_id)
    if as_json:
        click.echo(json.dumps({"checks": checks}, indent=2, ensure_ascii=False))
        return
    if not checks:
        console.print("No saved checks. Run `strideguard triage --save` to keep one.")
        return
    table = Table(title="Your hip and knee checks (newest first)", title_justify="left")
    for header in ("#", "when", "region", "level", "most likely", "warning signs"):
        table.add_column(header, justify="right" if header in {"#", "warning signs"} else "left")
    for check in checks:
        table.add_row(
            str(check["id"]),
            str(check["time"]).replace("T", " ")[:16],
            str(check.get("region") or REGION),
            LEVEL_WORDS.get(str(check["triage_level"]), str(check["triage_level"])),
            escape(str(check["top_condition"] or "")),
            str(check["red_flags"]),
        )
    console.print(table)
    console.print("[dim]Guidance, not a diagnosis.[/]")


def _check(knowledge_dir: Path | None, regions: tuple[str, ...]) -> None:
    """Validate each region's knowledge; every problem of every region is listed before exiting 1."""
    failed = False
    for region in regions:
        kb, errors = check_knowledge(knowledge_dir, region=region)
        for error in errors:
            err_console.print(f"Error: {region}: {error}", markup=False)
        if kb is None:
            failed = True
            continue
        prefix = f"{region} " if len(regions) > 1 else ""
        console.print(
            f"{prefix}knowledge OK: {len(kb.findings)} findings, {len(kb.conditions)} conditions, "
            f"{len(kb.red_flags)} red flags, {len(kb.questions)} questions, {len(kb.screens)} screens, "
            f"{len(kb.routines)} routines, "
            f"{len(kb.citations)} citations"
        )
        for warning in kb.warnings:
            console.print(f"warning: {warning}", markup=False)
    if failed:
        raise SystemExit(1)


def _knowledge(knowledge_dir: Path | None, region: str = REGION) -> KnowledgeBase:
    try:
        return load_knowledge(knowledge_dir, region)
    except KnowledgeError as exc:
        first = exc.errors[0] if exc.errors else "unknown problem"
        more = f" (and {len(exc.errors) - 1} more; run with --check-knowledge)" if len(exc.errors) > 1 else ""
        raise click.ClickException(f"triage knowledge is broken: {first}{more}") from None


def _fail(message: str) -> None:
    err_console.print(f"Error: {message}", markup=False)
    raise SystemExit(2)


def _read_findings(path: Path, kb: KnowledgeBase, out: Any) -> tuple[KnowledgeBase, dict[str, Any]]:
    """The check that scores FILE and its `findings` object, validated; exit 2 naming every bad id or value.

    As in the interview, where it hurts decides the check: a knee check with pain in the groin, outer hip or
    buttock is the hip's (whose rules know the femoral neck and the saddle-area warning signs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"{path}: file not found")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path}: cannot read: {exc}")
    except json.JSONDecodeError as exc:
        _fail(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}")
    if not isinstance(data, dict) or not isinstance(data.get("findings"), dict):
        _fail(f'{path}: expected an object like {{"findings": {{"pain_location": "groin"}}}}')
    findings: dict[str, Any] = data["findings"]
    target = region_for(kb.region, findings)
    if target != kb.region:
        kb = _knowledge(kb.directory, target)
        out.print(f"That is the {target}: the {target} check scores these findings.")
    errors = validate_findings(findings, kb)
    if errors:
        _fail(f"{path}: " + "; ".join(errors))
    return kb, findings


# ---------------------------------------------------------------------------------------------------------
# interactive


def interview(
    kb: KnowledgeBase, stream: TextIO, say: Callable[..., None]
) -> tuple[dict[str, Any], KnowledgeBase]:
    """Ask the steps chosen by `triage.interview.next_step` (single or grouped questions) until it returns
    None or input ends. Questions answered "don't know" come back as explicit nulls (docs/triage.md), so the
    result can name the warning signs they left unchecked; when input ends, every remaining question counts
    as "don't know" the same way. Returns the findings and the knowledge of the region checked (a knee check
    whose pain is in the groin, outer hip or buttock goes on as the hip check, keeping its answers)."""
    say(
        f"[bold]{kb.region.capitalize()} pain check[/bold]. I'll ask about warning signs first, then "
        "questions that help tell the likely causes apart. Answer y or n, a number or a choice; "
        "type ? if you don't know.\n"
    )
    start = kb.region
    loaded = {start: kb}

    def knowledge(region: str) -> KnowledgeBase:  # the same --knowledge folder for the region it moves to
        if region not in loaded:
            loaded[region] = _knowledge(kb.directory, region)
        return loaded[region]

    answers: list[tuple[str, Any]] = []
    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    ended = False
    while (step := next_step(findings, kb, asked)) is not None:
        try:
            answer: Any
            if isinstance(step, Screen) and step.mode == "each":
                answer = dict.fromkeys(step.findings) if ended else ask_each(step, kb, stream, say)
            elif isinstance(step, Screen):
                answer = SCREEN_DONT_KNOW if ended else ask_screen(step, stream, say)
            else:
                answer = None if ended else ask(step, kb, stream, say)
            answers.append((step.id, answer))
            # the answers so far, replayed under the check they belong to (as the web wizard and the API do)
            settled = settle_region(start, answers, knowledge)
            if settled.region != kb.region:
                say(
                    f"\nThat is the {settled.region}: the {settled.region} check goes on from here, "
                    "with your answers."
                )
            kb, findings, asked = settled.kb, settled.findings, settled.asked
        except AnswerError as exc:  # only a reviewer's --knowledge can ask a knee-only step before "where"
            raise click.ClickException(str(exc)) from None
        except _EndOfInput:
            say('\n(No more answers: the remaining questions count as "don\'t know".)')
            ended = True  # go on silently, so the unanswered warning signs are named in the result
    say("")
    return findings, kb  # "don't know" answers are explicit nulls (docs/triage.md)


def ask_screen(screen: Screen, stream: TextIO, say: Callable[..., None]) -> Any:
    """Ask a checklist ("tick every one that applies"); returns the ticked finding ids, "none" or "dont_know".
    Re-asks up to MAX_TRIES times."""
    say(f"[bold]{screen.text}[/bold] Tick every one that applies.", markup=True)
    for i, item in enumerate(screen.items, 1):
        say(f"  {i}. {item.label}", markup=False)
    for _ in range(MAX_TRIES):
        say("  (the numbers that apply, e.g. 1 3; n = none of these; ? = don't know) > ", end="")
        line = stream.readline()
        if not line:
            raise _EndOfInput
        text = line.strip().lower()
        if not stream.isatty():
            say(text, markup=False)
        numbers = text.replace(",", " ").split()
        if numbers and all(n.isdigit() and 1 <= int(n) <= len(screen.items) for n in numbers):
            return [f for n in dict.fromkeys(numbers) for f in screen.items[int(n) - 1].findings]
        if text in DONT_KNOW:
            return SCREEN_DONT_KNOW
        if text in NONE_OF_THESE:
            return SCREEN_NONE
        if text in YES:  # "yes" without saying which: ask each one in turn
            return SCREEN_YES
        say(
            f"  Sorry, I didn't understand that: numbers from 1 to {len(screen.items)}, n or ?.", markup=False
        )
    say("  Let's go through them one by one (don't know).")
    return SCREEN_DONT_KNOW


def ask_each(screen: Screen, kb: KnowledgeBase, stream: TextIO, say: Callable[..., None]) -> dict[str, Any]:
    """The follow-up screen after "don't know": an answer per item (None = don't know), as one step."""
    say(f"[bold]{screen.text}[/bold] Please answer each one (? if you don't know).", markup=True)
    answers: dict[str, Any] = {}
    for item in screen.items:
        for fid in item.findings:
            choices = item_choices(fid, kb)
            question = kb.question(fid)
            if kb.findings[fid].type == "boolean" or question is None:
                answers[fid] = _ask_choice(item.label, choices, "y/n/?", stream, say)
            else:
                answers[fid] = ask(question, kb, stream, say)
    return answers


def _ask_choice(
    label: str, choices: list[tuple[Any, str]], hint: str, stream: TextIO, say: Callable[..., None]
) -> Any:
    say(f"  - {label}", markup=False)
    for _ in range(MAX_TRIES):
        say(f"    ({hint}) > ", end="")
        line = stream.readline()
        if not line:
            raise _EndOfInput
        text = line.strip().lower()
        if not stream.isatty():
            say(text, markup=False)
        if text in DONT_KNOW:
            return None
        if text in YES:
            return choices[0][0]
        if text in NO:
            return choices[1][0]
        say("    Sorry, I didn't understand that.", markup=False)
    return None


def ask(question: Question, kb: KnowledgeBase, stream: TextIO, say: Callable[..., None]) -> Any:
    """Ask one question; returns the value, or None for "don't know". Re-asks up to MAX_TRIES times."""
    finding = kb.findings[question.finding]
    if finding.type == "boolean":
        hint = "y/n/?"
    elif finding.type == "enum":
        hint = "number or ?"
    elif finding.unit and finding.unit.endswith("scale"):  # "0-10 scale" already says its range
        hint = f"{finding.unit}, or ?"
    else:
        hint = f"{finding.min:g}-{finding.max:g} {finding.unit or ''}, or ?".replace("  ", " ")
    say(f"[bold]{question.text}[/bold]", markup=True)
    for i, (_, label) in enumerate(question.choices, 1):
        say(f"  {i}. {label}", markup=False)
    for _ in range(MAX_TRIES):
        say(f"  ({hint}) > ", end="")
        line = stream.readline()
        if not line:
            raise _EndOfInput
        text = line.strip().lower()
        if not stream.isatty():  # piped answers are not echoed by a terminal: show them in the transcript
            say(text, markup=False)
        if text in DONT_KNOW:
            return None
        value = _parse(text, question, finding.type)
        if value is not None:
            problem = finding.problem(value)
            if problem is None:
                return value
            say(f"  Sorry, {problem}.", markup=False)
        else:
            say("  Sorry, I didn't understand that.", markup=False)
    say("  Let's skip that one (don't know).")
    return None


def _parse(text: str, question: Question, ftype: str) -> Any:
    if ftype == "boolean":
        return True if text in YES else False if text in NO else None
    if ftype == "enum":
        values = [v for v, _ in question.choices]
        if text.isdigit() and 1 <= int(text) <= len(values):
            return values[int(text) - 1]
        if text in NO and "none" in values:  # "n" to "any new weakness?" means none
            return "none"
        exact = [v for v, label in question.choices if text in (v, label.lower())]
        if exact:
            return exact[0]
        prefix = [v for v, label in question.choices if v.startswith(text) or label.lower().startswith(text)]
        return prefix[0] if len(prefix) == 1 else None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


# ---------------------------------------------------------------------------------------------------------
# plain-words result


def print_result(result: TriageResult, kb: KnowledgeBase, findings: dict[str, Any] | None = None) -> None:
    style, headline = LEVEL_HEADLINES[result.triage_level]
    console.print(f"[{style}]{headline}[/{style}]")
    sources: list[str] = []

    def cite(ids: tuple[str, ...]) -> str:
        numbers = []
        for cid in ids:
            if cid not in sources:
                sources.append(cid)
            numbers.append(str(sources.index(cid) + 1))
        return f"[{', '.join(numbers)}]" if numbers else ""

    if result.red_flags:
        console.print("\n[bold]Warning signs[/bold]")
        for flag in result.red_flags:
            console.print(f"  ! {flag.message} {cite(flag.citations)}", markup=False)
            why = "; ".join(flag_reasons(flag.id, findings or {}, kb))
            if why:
                console.print(f"    because you said: {why}", markup=False)
    groups = unchecked_groups(result, kb)
    if groups:
        console.print("\n[bold]Warning signs not checked[/bold]")
        console.print(UNCHECKED_INTRO, markup=False)
        for group in groups:
            for item in group.items:
                console.print(f"  ? {item}", markup=False)
            console.print(f"  {group.if_any}", markup=False)
    pulled = [c for c in result.conditions if c.pulled_by]
    if pulled:
        # the warning signs' own causes come first, never under a "most likely" cause they contradict
        console.print("\n[bold]What the warning signs can point to[/bold] (not a diagnosis)")
        for c in pulled:
            condition = kb.conditions[c.id]
            console.print(
                f"  - {condition.name}: {condition.summary} {cite(condition.citations[:2])}", markup=False
            )
    if result.triage_level != "emergency":
        # after an emergency sign the questions stop early: a ranking would rest on too little (see --json)
        _print_ranking(result, kb, cite, skip={c.id for c in pulled})
    console.print("\n[bold]What to do[/bold]")
    for line in result.advice:
        console.print(f"  - {line}", markup=False)
    if result.routines:
        console.print("\n[bold]Routines you could try[/bold] (stop if they hurt)")
        for routine in result.routines:
            console.print(f"  - {routine.name}: strideguard routine play {routine.id}", markup=False)
    elif result.routines_withheld:
        console.print(f"\n{result.routines_withheld}", markup=False)
    console.print("\n[bold]Sources[/bold]")
    for i, cid in enumerate(sources, 1):
        citation = kb.citations[cid]
        url = f" {citation.url}" if citation.url and not citation.runner_text else ""
        console.print(f"  {i}. {citation_for_runner(cid, kb)}{url}", markup=False)
    console.print(f"\n[italic]{result.disclaimer}[/italic]")


def _print_ranking(
    result: TriageResult,
    kb: KnowledgeBase,
    cite: Callable[[tuple[str, ...]], str],
    skip: set[str] | frozenset[str] = frozenset(),
) -> None:
    title = "Other possible causes" if skip else "What it might be"
    console.print(f"\n[bold]{title}[/bold] (most likely first; this is not a diagnosis)")
    for condition in [c for c in result.conditions if c.id not in skip][:3]:
        reasons = "; ".join(
            f"{_plain(e.finding, e.value, kb)} ({evidence_level(e.basis)})"
            for e in [e for e in condition.evidence if e.lr > 1][:4]
        )
        console.print(
            f"  {condition.score:4.0%}  {condition.name} {cite(condition.citations[:2])}", markup=False
        )
        if reasons:
            console.print(f"        because: {reasons}", markup=False)


def _plain(finding_id: str, value: Any, kb: KnowledgeBase) -> str:
    """A finding in plain words for the 'because' line (shared with the web result page)."""
    return describe(finding_id, value, kb)
