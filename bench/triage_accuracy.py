"""Triage accuracy on a folder of cases: `python bench/triage_accuracy.py DIR [--verbose]`.

Each case is a JSON file like the public vignettes: {"findings": {...}, "expected_primary": id,
"acceptable": [...], "expected_triage": level}. Prints the four figures the product is judged on
(issue 5): expected condition first (target >= 80%), in the top 3 (>= 95%), emergency/urgent cases
triaged at or above their level (100%), and self-care cases sent to a clinician (<= 20%), next to the
symptom-checker and physician anchors from Semigran et al. 2015/2016 (clinical.md 1f).

A fifth figure simulates the interactive interview from each case (`triage.interview.simulate_interview`):
the number of prompts (single or grouped questions) a runner who answers every question sees, median and
maximum (targets <= 15 and <= 22). The interview is also checked for safety with the strictest runner, who
answers only what the case states and "don't know" to everything else: every emergency/urgent case must
still come out at or above its level.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from strideguard.triage.engine import evaluate
from strideguard.triage.interview import simulate_interview
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import LEVEL_RANK
from strideguard.triage.scoring import FindingsError


def run(directory: Path, verbose: bool = False) -> dict[str, float]:
    kb = default_knowledge()
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise SystemExit(f"error: no *.json cases in {directory}")
    top1 = top3 = serious = serious_ok = selfcare = selfcare_sent = interviewed_ok = 0
    prompts: list[int] = []
    for path in paths:
        case = json.loads(path.read_text())
        try:
            result = evaluate(case["findings"], kb)
        except FindingsError as exc:
            raise SystemExit(f"error: {path.name}: {exc}") from None
        ranked = [c.id for c in result.conditions]
        expected, level = case["expected_primary"], case["expected_triage"]
        first, in3 = ranked[0] == expected, expected in ranked[:3]
        top1 += first
        top3 += in3
        prompts.append(len(simulate_interview(case["findings"], kb)[1]))
        if level in ("emergency", "urgent"):
            serious += 1
            serious_ok += LEVEL_RANK[result.triage_level] >= LEVEL_RANK[level]
            strict = evaluate(simulate_interview(case["findings"], kb, unknown_means_no=False)[0], kb)
            interviewed_ok += LEVEL_RANK[strict.triage_level] >= LEVEL_RANK[level]
            if verbose and LEVEL_RANK[strict.triage_level] < LEVEL_RANK[level]:
                print(f"  {path.stem}: interviewed, triaged {strict.triage_level} (expected {level})")
        if level == "self_care":
            selfcare += 1
            selfcare_sent += result.triage_level != "self_care"
        if verbose and (not first or result.triage_level != level):
            scores = ", ".join(f"{c.id} {c.score:.2f}" for c in result.conditions[:3])
            print(f"  {path.stem}: expected {expected}/{level}; got {result.triage_level}; top: {scores}")
    n = len(paths)
    figures = {
        "cases": n,
        "top1_pct": 100 * top1 / n,
        "top3_pct": 100 * top3 / n,
        "serious_at_or_above_pct": 100 * serious_ok / serious if serious else 100.0,
        "self_care_sent_to_clinician_pct": 100 * selfcare_sent / selfcare if selfcare else 0.0,
        "prompts_median": statistics.median(prompts),
        "prompts_max": max(prompts),
        "interviewed_serious_at_or_above_pct": 100 * interviewed_ok / serious if serious else 100.0,
    }
    rows = [
        (
            "expected condition first",
            figures["top1_pct"],
            f"{top1}/{n}; target >= 80; checkers 34, physicians 72",
        ),
        (
            "expected condition in top 3",
            figures["top3_pct"],
            f"{top3}/{n}; target >= 95; checkers 51, physicians 84",
        ),
        (
            "emergency/urgent at or above",
            figures["serious_at_or_above_pct"],
            f"{serious_ok}/{serious}; target 100",
        ),
        (
            "self-care sent to a clinician",
            figures["self_care_sent_to_clinician_pct"],
            f"{selfcare_sent}/{selfcare}; <= 20",
        ),
    ]
    print(f"{directory}: {n} cases")
    for label, pct, detail in rows:
        print(f"  {label:<30} {pct:5.1f}%  ({detail})")
    print(
        f"  {'questions asked (interview)':<30} median {figures['prompts_median']:g}, max {max(prompts)}"
        "  (runner answers every question; targets <= 15 / <= 22)"
    )
    print(
        f"  {'interviewed, emergency/urgent':<30} {figures['interviewed_serious_at_or_above_pct']:5.1f}%"
        f"  ({interviewed_ok}/{serious} at or above, answering only what the case states; target 100)"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="+")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the cases that missed")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    for directory in args.directory:
        figures = run(directory, args.verbose)
        if args.json:
            print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
