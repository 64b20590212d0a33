"""Where a check continues when "where does it hurt?" names another region: the knee check's "not the knee"
answers (groin, outside of the hip, buttock) belong to the hip check. Pure; shared by the CLI, the web wizard
and the API so they stay identical step for step. The hip check never moves: its knee answers keep the hip's
rules that reach the knee (an adolescent with knee-only pain and a limp is an SCFE check)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# region -> {pain_location value -> the region that owns it}
REDIRECTS: dict[str, dict[str, str]] = {
    "knee": {"groin": "hip", "lateral": "hip", "buttock": "hip"},
}


def region_for(region: str, findings: Mapping[str, Any]) -> str:
    """The region whose check fits the answers so far (`region` unless where it hurts says otherwise)."""
    return REDIRECTS.get(region, {}).get(str(findings.get("pain_location")), region)
