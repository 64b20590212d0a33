"""What a shared dashboard or activity shows to a coach, by the athlete's share level (storage/sharing.py).

The owner sees everything. Without pain access the pain warnings, the pain trend and a pain reason for
holding the longest run back are removed; without hip-check access so is a hip check's level and date. In
their place, when the athlete allowed the plain flags, come two warnings with no detail: "Pain over limits"
and "Urgent hip or knee check". The longest-run figure stays held back either way (the hold is a safety
signal), with a reason that says only that the athlete has not shared it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from strideguard.storage.sharing import Access
from strideguard.training import risk

PAIN_FLAG_TITLE = "Pain over limits"
TRIAGE_FLAG_TITLE = "Urgent hip or knee check"
PAIN_FLAG_TEXT = (
    "Pain logged in the last 7 days was outside the pain-monitoring limits. The athlete has not shared "
    "the details with you: ask them how they are."
)
TRIAGE_FLAG_TEXT = (
    "A hip check in the last 14 days advised seeing a clinician soon. The athlete has not shared the "
    "details with you: no hard sessions until they have been seen."
)
HELD_TEXT = (
    "No longer run is suggested for now, for a reason the athlete has not shared with you. Ask them before "
    "planning a longer run."
)


def plain_flag(rule: str, title: str, message: str, day: date) -> risk.Flag:
    return risk.Flag(rule, "warning", None, day, None, None, None, message, (), {}, title)


def redact_dashboard(context: dict[str, Any], access: Access) -> dict[str, Any]:
    """The dashboard context as `access` may see it (a new dict; the cached one is never changed)."""
    out = {**context, "access": access}
    if access.owner:
        return out
    today: date = context["today"]
    flags = list(context["flags"])
    urgent_day = risk.recent_urgent_check(context.get("latest_triage"), today)
    if not access.pain:
        pain_flags = risk.active_pain_flags([i["flag"] for i in flags], today)
        flags = [i for i in flags if i["flag"].rule != "pain_rising"]
        out["pain_trends"] = []
        if pain_flags and access.flags:
            latest = max(f.day for f in pain_flags)
            flags.insert(
                0,
                {
                    "flag": plain_flag("pain_over_limits", PAIN_FLAG_TITLE, PAIN_FLAG_TEXT, latest),
                    "sources": [],
                },
            )
    if urgent_day is not None and access.flags and not access.triage:
        flags.insert(
            0,
            {
                "flag": plain_flag("urgent_hip_check", TRIAGE_FLAG_TITLE, TRIAGE_FLAG_TEXT, urgent_day),
                "sources": [],
            },
        )
    out["flags"] = flags
    if not access.triage:
        out["latest_triage"] = None
    hold = context["safe"]["hold"]
    if hold is not None:
        reason = hold["json"]["reason"]
        if (reason == "pain" and not access.pain) or (reason == "triage" and not access.triage):
            plain = {**hold["json"], "date": None, "message": HELD_TEXT, "citations": []}
            out["safe"] = {
                **context["safe"],
                "hold": {**hold, "message": HELD_TEXT, "sources": [], "json": plain},
            }
    return out


def redact_activity(context: dict[str, Any], access: Access) -> dict[str, Any]:
    """An activity page's context without the day's pain entries unless the pain diary is shared."""
    return context if access.pain else {**context, "pain": [], "pain_hidden": True}
