"""From a pain-diary entry to the matching check: which region's interview fits a body-map region, and what
the diary already answers (where it hurts, one side or both, the week-on-week trend). Pure; plain values in,
wizard answers out ([[finding id, value], ...], as `interview.replay` takes them)."""

from __future__ import annotations

from typing import Any

# body-map region (training/pain.py REGIONS) -> (triage region, pain_location it implies or None when the
# body map is coarser than the check: "side of knee" may be the inner or the outer side)
DIARY_REGIONS: dict[str, tuple[str, str | None]] = {
    "groin-hip-front": ("hip", "groin"),
    "hip-lateral": ("hip", "lateral"),
    "buttock": ("hip", "buttock"),
    "thigh-front": ("hip", "thigh"),
    "knee-front": ("knee", "anterior_knee"),
    "knee-side": ("knee", None),
    "knee-back": ("knee", "posterior_knee"),
}
# pain_trends() direction -> pain_trend; "new" and "quiet" say nothing about the course
TRENDS = {"rising": "worsening", "falling": "improving", "steady": "stable"}


def triage_region(diary_region: str) -> str | None:
    """The check that fits a body-map region (hip or knee), or None when there is none yet."""
    found = DIARY_REGIONS.get(diary_region)
    return found[0] if found else None


def prefill(diary_region: str, side: str, direction: str | None = None) -> list[tuple[str, Any]]:
    """The answers a diary entry already gives: where it hurts, both sides or one, and the trend."""
    found = DIARY_REGIONS.get(diary_region)
    if found is None:
        return []
    answers: list[tuple[str, Any]] = []
    if found[1] is not None:
        answers.append(("pain_location", found[1]))
    if side in ("left", "right", "both"):
        answers.append(("pain_bilateral", side == "both"))
    if direction in TRENDS:
        answers.append(("pain_trend", TRENDS[direction]))
    return answers
