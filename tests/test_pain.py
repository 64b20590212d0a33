"""Pain diary: regions and validation, the pain-monitoring rule (Silbernagel 2007), trends, the store, and
`strideguard pain ...` as a user runs it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage.tables import AthleteRow
from strideguard.training.pain import REGIONS, PainEntry, PainInputError, check_pain, pain_trends, validate

D0 = date(2026, 5, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def entry(
    n: int, score: int, timing: str = "during", region: str = "hip-lateral", side: str = "left"
) -> PainEntry:
    return PainEntry(d(n), region, side, score, timing)


def test_body_map_has_front_and_back_regions_and_marks_hip_and_groin():
    assert {r.view for r in REGIONS.values()} == {"front", "back"}
    expected = {
        "groin-hip-front",
        "hip-lateral",
        "buttock",
        "thigh-front",
        "thigh-back",
        "knee-front",
        "knee-side",
        "knee-back",
        "shin",
        "calf",
        "achilles",
        "ankle",
        "foot",
        "lower-back",
    }
    assert set(REGIONS) == expected
    assert {r.id for r in REGIONS.values() if r.hip_or_groin} == {"groin-hip-front", "hip-lateral", "buttock"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("elbow", "left", 3, "during"), "unknown region 'elbow'"),
        (("calf", "middle", 3, "during"), "unknown side 'middle'"),
        (("calf", "left", 11, "during"), "from 0 to 10"),
        (("calf", "left", -1, "during"), "from 0 to 10"),
        (("calf", "left", 3, "lunchtime"), "unknown timing 'lunchtime'"),
    ],
)
def test_bad_entries_are_refused_with_the_reason(args, message):
    assert message in (validate(*args) or "")
    with pytest.raises(PainInputError, match=message.split("'")[0]):
        PainEntry(D0, *args)


def test_scores_up_to_five_that_settle_are_acceptable():
    entries = [entry(0, 5), entry(1, 0, "next-morning"), entry(3, 5), entry(4, 0, "next-morning")]
    assert check_pain(entries) == []


def test_over_limit_and_not_settled_and_rising_are_each_reported():
    entries = [entry(0, 3), entry(1, 0, "next-morning"), entry(7, 6, "after"), entry(8, 2, "next-morning")]
    reasons = [(b.day, b.reason, b.score, b.baseline) for b in check_pain(entries)]
    assert (d(7), "over_limit", 6, None) in reasons
    assert (d(8), "not_settled", 2, 0.0) in reasons
    # Week d(2)..d(8) mean (6+2)/2 = 4 against d(-5)..d(1) mean (3+0)/2 = 1.5.
    assert (d(8), "rising_weekly", 4.0, 1.5) in reasons


def test_history_before_the_window_is_the_baseline_but_not_reported():
    entries = [entry(0, 7), entry(1, 3, "next-morning"), entry(8, 4, "next-morning")]
    breaches = check_pain(entries, since=d(8))
    assert [b.reason for b in breaches] == ["not_settled"]
    assert breaches[0].baseline == 3.0


def test_sides_are_tracked_separately():
    entries = [entry(0, 2, "next-morning", side="left"), entry(1, 3, "next-morning", side="right")]
    (breach,) = [b for b in check_pain(entries) if b.reason == "not_settled" and b.side == "right"]
    assert breach.baseline == 0.0


def test_trends_by_region_compare_the_last_week_with_the_week_before():
    entries = [
        entry(0, 5),
        entry(2, 4),
        entry(8, 2),
        entry(9, 1),
        entry(9, 3, region="calf"),
        entry(-20, 2, region="shin"),
    ]
    trends = {(t.region, t.side): t for t in pain_trends(entries, d(9))}
    hip = trends[("hip-lateral", "left")]
    assert (hip.direction, hip.current_mean, hip.previous_mean, hip.latest_score) == ("falling", 1.5, 4.5, 1)
    assert trends[("calf", "left")].direction == "new"
    assert ("shin", "left") not in trends  # older than four weeks


def test_store_round_trip_links_runs_and_is_athlete_scoped(session, athlete_id):
    start = datetime(2026, 5, 1, 8, tzinfo=UTC)
    run_id = store.save_activity(session, athlete_id, store.manual_activity(start, 10_000, 3000)).activity_id
    saved = pain_store.add_pain(
        session, athlete_id, PainEntry(D0, "buttock", "both", 4, "during", run_id, "stairs")
    )
    assert saved.id is not None and saved.recorded_at is not None
    pain_store.add_pain(session, athlete_id, PainEntry(d(2), "calf", "left", 1, "before"))
    assert [e.region for e in pain_store.list_pain(session, athlete_id)] == ["buttock", "calf"]
    assert [e.region for e in pain_store.list_pain(session, athlete_id, since=d(1))] == ["calf"]
    assert pain_store.list_pain(session, athlete_id, region="buttock")[0].note == "stairs"
    other = AthleteRow(name="Other")
    session.add(other)
    session.flush()
    assert pain_store.list_pain(session, other.id) == []
    with pytest.raises(store.NotFound):
        pain_store.add_pain(session, other.id, PainEntry(D0, "calf", "left", 1, "before", run_id))
    pain_store.delete_pain(session, athlete_id, saved.id)
    with pytest.raises(store.NotFound):
        pain_store.delete_pain(session, athlete_id, saved.id)


def test_pain_cli_add_links_last_run_warns_and_lists(run_cli):
    assert (
        run_cli("add-run", "--date", "2026-05-01", "--distance", "10km", "--duration", "55min").returncode
        == 0
    )
    ok = run_cli(
        "pain",
        "add",
        "--region",
        "calf",
        "--side",
        "left",
        "--score",
        "3",
        "--when",
        "during",
        "--activity",
        "last",
    )
    assert ok.returncode == 0, ok.stderr
    assert "Calf (left) 3/10 during on 2026-05-01, run #1" in ok.stdout and "Pain above" not in ok.stdout
    bad = run_cli(
        "pain",
        "add",
        "--region",
        "hip-lateral",
        "--side",
        "right",
        "--score",
        "7",
        "--when",
        "during",
        "--activity",
        "1",
    )
    assert "Pain above 5/10" in bad.stdout and "strideguard triage" in bad.stdout
    morning = run_cli(
        "pain",
        "add",
        "--region",
        "calf",
        "--side",
        "left",
        "--score",
        "1",
        "--when",
        "next-morning",
        "--activity",
        "1",
    )
    assert "on 2026-05-02" in morning.stdout  # next morning is the day after the run
    listed = json.loads(run_cli("pain", "list", "--json").stdout)
    assert [(e["date"], e["region"], e["score"], e["when"], e["activity_id"]) for e in listed] == [
        ("2026-05-01", "calf", 3, "during", 1),
        ("2026-05-01", "hip-lateral", 7, "during", 1),
        ("2026-05-02", "calf", 1, "next-morning", 1),
    ]
    table = run_cli("pain", "list", "--region", "calf")
    assert "Calf" in table.stdout and "Side of hip" not in table.stdout


def test_pain_cli_regions_and_errors(run_cli):
    regions = json.loads(run_cli("pain", "regions", "--json").stdout)
    assert len(regions) == 14 and regions[0]["id"] == "groin-hip-front"
    assert "Achilles tendon" in run_cli("pain", "regions").stdout
    bad = run_cli("pain", "add", "--region", "elbow", "--side", "left", "--score", "3", "--when", "during")
    assert bad.returncode == 2 and "'elbow' is not one of" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli(
        "pain",
        "add",
        "--region",
        "calf",
        "--side",
        "left",
        "--score",
        "3",
        "--when",
        "during",
        "--activity",
        "5",
    )
    assert missing.returncode == 2 and "no activity #5" in missing.stderr  # an unknown id is bad input
