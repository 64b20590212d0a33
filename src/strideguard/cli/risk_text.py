"""How warnings, hold-backs and sources read in the terminal (risk, plan, status, pain add share it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import click
from rich.markup import escape
from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.training import risk
from strideguard.triage.from_diary import triage_region

SEVERITY_STYLE = {"warning": "bold red", "watch": "yellow", "info": "cyan"}
# The terminal's way to the hip check, added under a hip or groin pain warning (the web links to it).
TRIAGE_HINT = "Hip or groin pain: check it for warning signs with `strideguard triage`."
KNEE_TRIAGE_HINT = "Knee pain: check it for warning signs with `strideguard triage --region knee`."


def rules() -> risk.RiskRules:
    """The packaged risk rules, or a one-line error when the file is broken."""
    try:
        return risk.default_rules()
    except risk.RiskRulesError as exc:
        raise click.ClickException(f"the risk rules are broken: {exc.errors[0]}") from None


def history(session: Session, athlete_id: int, until: date) -> list[Activity]:
    """Every activity up to `until`, oldest first (shoes need the whole history, rules 30+ days)."""
    return store.list_activities(session, athlete_id, until=until, newest_first=False)


def log_start(activities: list[Activity]) -> date | None:
    """The first run's local date in a whole history (oldest first, as `history` returns it)."""
    return next((a.local_date for a in activities if a.sport in RUNNING_SPORTS), None)


def flag_parts(flag: Mapping[str, Any] | risk.Flag) -> tuple[str, str, str, list[str], tuple[str, ...]]:
    """(severity, title, date, message lines, citations) of a flag or its JSON."""
    data = flag.to_json() if isinstance(flag, risk.Flag) else flag
    lines = [data["message"]]
    details = data.get("details") or {}
    if details.get("triage"):
        lines.append(TRIAGE_HINT)
    elif triage_region(str(details.get("region") or "")) == "knee":
        lines.append(KNEE_TRIAGE_HINT)
    return data["severity"], data["title"], data["date"], lines, tuple(data["citations"])


def flag_markup(flag: Mapping[str, Any] | risk.Flag, rules: risk.RiskRules, indent: str = "  ") -> str:
    """One warning as rich markup: its title and date, what it means, the hip-check hint, its sources."""
    severity, title, day, lines, citations = flag_parts(flag)
    style = SEVERITY_STYLE[severity]
    out = [f"{indent}[{style}]{escape(title)}[/] {day}: {escape(lines[0])}"]
    out += [f"{indent}  {escape(line)}" for line in lines[1:]]
    out.append(f"{indent}  [dim]{escape(rules.source_line(citations))}[/]")
    return "\n".join(out)


def hold_markup(held: Mapping[str, Any], rules: risk.RiskRules) -> str:
    """The hold-back, first and in red: no longest-run figure goes with it."""
    return (
        f"[bold red]{escape(held['title'])}: {escape(held['message'])}[/]\n"
        f"[dim]{escape(rules.source_line(held['citations']))}[/]"
    )
