"""The clinical review packs (docs/clinical-review.md for the hip, docs/clinical-review-knee.md for the
knee), written from the knowledge files so they never drift from what the app uses:
`python -m strideguard.triage.review` writes both, `--region knee` one, `--check` fails when a file on
disk is stale (tests/test_triage_honest.py runs the same comparison). A PATH writes one region's pack there
(the hip unless `--region` says otherwise).

One page a reviewing physiotherapist or sports physician can work through outside the code: every threshold
of the engine and interview, every red flag and escalation, every StrideGuard estimate (basis design) with
its reasoning, and every sourced or derived value with its figure or arithmetic.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strideguard.triage import interview, scoring
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import (
    BASES,
    MAX_DESIGN_LR,
    MIN_UNSOURCED_LR,
    REGION,
    REGIONS,
    EvidenceItem,
    KnowledgeBase,
)

# region -> its pack; the hip keeps the name it had before there were regions
DEFAULT_PATHS: dict[str, Path] = {
    region: Path("docs") / ("clinical-review.md" if region == REGION else f"clinical-review-{region}.md")
    for region in REGIONS
}
DEFAULT_PATH = DEFAULT_PATHS[REGION]
DESIGN_CITATION = "strideguard_design_nv"


def _command(region: str) -> str:
    """The command that rewrites `region`'s pack."""
    return "python -m strideguard.triage.review" + ("" if region == REGION else f" --region {region}")


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _num(value: float) -> str:
    return f"{value:g}"


def _test(item: EvidenceItem) -> str:
    value = item.value
    shown = f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)
    return f"{item.op} {shown}"


def _rule(rule: Mapping[str, Any]) -> str:
    """A rule in one line: `age between [8, 16]` and `limp eq True`, groups in brackets."""
    for key, word in (("all", " and "), ("any", " or ")):
        if key in rule:
            parts = [_rule(part) for part in rule[key]]
            return "(" + word.join(parts) + ")" if len(parts) > 1 else parts[0]
    if "not" in rule:
        return f"not {_rule(rule['not'])}"
    value = rule.get("value")
    shown = f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)
    return f"`{rule.get('finding')}` {rule.get('op')} {shown}"


def _sources(ids: tuple[str, ...], kb: KnowledgeBase) -> str:
    return ", ".join(f"{c} ({kb.citations[c].grade or 'ungraded'})" for c in ids)


def render(kb: KnowledgeBase, region: str | None = None) -> str:
    """The review pack for `kb` (of `region`, default the knowledge's own) as Markdown."""
    region = region or kb.region
    bench_region = "" if region == REGION else f" --region {region}"
    items = [(c, i) for c in kb.conditions.values() for i in c.evidence]
    counts = Counter(i.basis for _, i in items)
    rationale_of = {text: rid for rid, text in kb.rationales.items()}  # the tables name a shared reason once
    out: list[str] = [
        f"# Clinical review pack: every StrideGuard estimate and threshold in the {region} triage",
        "",
        "For a reviewing physiotherapist or sports physician. Everything here is read by the app from "
        f"`src/strideguard/triage/knowledge/` (shared files at the top, the {region}'s in `{region}/`); "
        "this page lists what is **not** measured in a study, so that "
        "review can happen outside the code. Mark each line agree / change to … / remove, and send it back; "
        "the engineers edit the YAML and re-run `bench/triage_accuracy.py` and "
        f"`bench/triage_interview.py{bench_region}`.",
        "",
        "This file is generated from the knowledge files: `python -m strideguard.triage.review` rewrites "
        f"every region's pack (`--region {region}` only this one), and a test fails when it is out of date. "
        "Do not edit it by hand.",
        "",
        "## How values were obtained",
        "",
        "- **sourced**: a sensitivity/specificity, likelihood ratio or 2×2 count in the cited study, with "
        "its population.",
        "- **derived**: computed from sourced figures; the arithmetic is in the file (`arithmetic:`).",
        "- **design**: StrideGuard's estimate on a fixed scale (`knowledge/design_rationales.yaml`, listed "
        f"below): never beyond ×{_num(MAX_DESIGN_LR)} either way, never below ×{_num(MIN_UNSOURCED_LR)} "
        '(a strong "no" needs a study in a comparable population). Odds and hazard ratios are refused as '
        "likelihood ratios by the validator.",
        "",
        "Counts: "
        + ", ".join(f"{counts.get(b, 0)} {b}" for b in BASES)
        + f" evidence items (of {len(items)}).",
        "",
        "## Thresholds and rules of the engine and interview (design)",
        "",
        "| value | where | reasoning |",
        "|---|---|---|",
        f"| safety net {scoring.SAFETY_NET_PROBABILITY:.0%} | scoring.SAFETY_NET_PROBABILITY | an "
        "urgent-or-worse condition at or above it cannot be ruled out: level urgent |",
        f"| pull-up {scoring.PULL_MIN_PROBABILITY:.0%} | scoring.PULL_MIN_PROBABILITY | a red flag's causes "
        "below it (e.g. SCFE at 40) are not pulled to the top |",
        f"| {interview.MAX_DETAIL_QUESTIONS} chosen detail questions | interview.MAX_DETAIL_QUESTIONS | "
        "patience; key questions of the top three, level-deciding and safety questions are not capped |",
        f"| stop at {interview.STOP_PROBABILITY:.0%} | interview.STOP_PROBABILITY | leader clear and no "
        "likely answer changes level or top three |",
        f"| {_num(interview.MIN_GAIN_BITS)} bits | interview.MIN_GAIN_BITS | a question expected to tell "
        "less than this is not asked |",
        f"| {interview.MIN_ANSWER_PROBABILITY:.0%} | interview.MIN_ANSWER_PROBABILITY | an answer less "
        "likely than this is not a reason to ask (for raising the level or changing the top three) |",
        '| unchecked warning sign → see a clinician | scoring.level_reasons | a "don\'t know" to a '
        "warning-sign question never leaves a result at self-care |",
        "",
        "## Red flags",
        "",
        "Each raises the level to at least its own, whatever the scores. *StrideGuard's choice*: the flag "
        f"cites `{DESIGN_CITATION}`, or none of its sources has grade V (seen in the source itself).",
        "",
        "| red flag | level | when | sources (grade) | StrideGuard's choice |",
        "|---|---|---|---|---|",
    ]
    for flag in kb.red_flags:
        choice = DESIGN_CITATION in flag.citations or not any(
            kb.citations[c].grade == "V" for c in flag.citations
        )
        out.append(
            f"| `{flag.id}` | {flag.level} | {_cell(_rule(flag.rule))} | {_sources(flag.citations, kb)} | "
            f"{'yes' if choice else ''} |"
        )
    out += [
        "",
        "## Escalations (a condition's own level raised by a threshold)",
        "",
        "| condition | level | when | reason | sources |",
        "|---|---|---|---|---|",
    ]
    for condition in kb.conditions.values():
        for e in condition.escalations:
            out.append(
                f"| `{condition.id}` | {e.level} | {_cell(_rule(e.when))} | {_cell(e.reason)} | "
                f"{', '.join(e.citations)} |"
            )
    out += ["", "## Design values by condition", ""]
    for condition in kb.conditions.values():
        design = [i for i in condition.evidence if i.basis == "design"]
        if not design:
            continue
        out += [
            f"### {condition.name} (`{condition.id}`), prior {_num(condition.prior)}, level "
            f"{condition.triage_level}",
            "",
            "| finding | test | ×LR | reasoning |",
            "|---|---|---|---|",
        ]
        for item in design:
            text = " ".join(item.provenance.split())
            reason = f"*{rationale_of[text]}*" if text in rationale_of else _cell(text)
            out.append(f"| `{item.finding}` | {_cell(_test(item))} | {_num(item.lr)} | {reason} |")
        out.append("")
    out += [
        "## The shared reasons (design_rationales.yaml)",
        "",
        "| reason | text |",
        "|---|---|",
    ]
    out += [f"| *{rid}* | {_cell(text)} |" for text, rid in sorted(rationale_of.items(), key=lambda t: t[1])]
    out += [
        "",
        "## Sourced and derived values (check the figures)",
        "",
        "| condition | finding | ×LR | basis | figure / arithmetic |",
        "|---|---|---|---|---|",
    ]
    for condition, item in items:
        if item.basis != "design":
            out.append(
                f"| `{condition.id}` | `{item.finding}` {_cell(_test(item))} | {_num(item.lr)} | "
                f"{item.basis} | {_cell(item.provenance)} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", help="one region's pack here (default: docs/)")
    parser.add_argument("--region", choices=REGIONS, help="only this region (default: every region)")
    parser.add_argument("--check", action="store_true", help="fail if a file differs, write nothing")
    args = parser.parse_args(argv)
    if args.path is not None:
        targets = {args.region or REGION: args.path}
    else:
        regions = (args.region,) if args.region else REGIONS
        targets = {region: DEFAULT_PATHS[region] for region in regions}
    stale = 0
    for region, path in targets.items():
        text = render(default_knowledge(region), region)
        if args.check:
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
            if current != text:
                print(f"error: {path} is out of date; run {_command(region)}", file=sys.stderr)
                stale += 1
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
