"""Risk rules: the knowledge file validates and cites, and every rule fires (and stays quiet) exactly at
hand-computed thresholds."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from strideguard.model import Activity
from strideguard.training import load, risk
from strideguard.training.pain import PainEntry
from strideguard.training.shoes import Shoe
from strideguard.triage import knowledge


def run(
    day: date | str,
    km: float,
    minutes: float = 50.0,
    rpe: float | None = None,
    offset_h: float = 0.0,
    hour: int = 12,
    sport: str = "run",
    id: int | None = None,
) -> Activity:
    """A run starting at `hour`:00 local time on local `day`, with a UTC offset of `offset_h` hours."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    local = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return Activity(
        sport=sport,
        start_utc=local - timedelta(hours=offset_h),
        utc_offset_s=int(offset_h * 3600),
        source_format="manual",
        distance_m=km * 1000,
        moving_time_s=minutes * 60,
        rpe=rpe,
        id=id,
    )


D0 = date(2026, 5, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


RULES = risk.default_rules()


def flags_of(flags, rule):
    return [f for f in flags if f.rule == rule]


# --- the knowledge file ---------------------------------------------------------------------------------


def test_every_rule_is_defined_with_numbers_and_review_dates():
    assert set(RULES.rules) == set(risk.RULE_IDS)
    for rule in RULES.rules.values():
        assert rule.citations, rule.id
        assert rule.next_review > rule.date_reviewed
        assert rule.severity in risk.SEVERITIES


def test_every_rule_cites_a_load_source_with_text():
    for rule in RULES.rules.values():
        for cid in rule.citations:
            assert cid.startswith("load_"), (rule.id, cid)
            assert len(RULES.sources[cid].text) > 40


def test_load_citations_never_clash_with_the_triage_citations():
    # Risk rules (training/knowledge) and triage (triage/knowledge) keep their sources apart; an id in both
    # would name two different papers on different screens.
    kb, errors = knowledge.check_knowledge()
    assert errors == []
    assert kb is not None
    load_ids = set()
    for path in Path(risk.KNOWLEDGE_DIR).glob("citations*.yaml"):
        load_ids |= set(yaml.safe_load(path.read_text()))
    assert {"load_frandsen_2025", "load_silbernagel_2007"} <= load_ids
    assert not load_ids & set(kb.citations)


def test_thresholds_match_the_evidence_in_the_knowledge_file():
    assert RULES.number("session_spike", "small_above_pct") == 10
    assert RULES.number("session_spike", "moderate_above_pct") == 30
    assert RULES.number("session_spike", "large_above_pct") == 100
    assert RULES["session_spike"].extra["hazard_ratios"] == {
        "small": "1.64 (95% CI 1.31-2.05)",
        "moderate": "1.52 (95% CI 1.16-2.00)",
        "large": "2.28 (95% CI 1.50-3.48)",
    }
    assert RULES.number("weekly_increase", "above_pct") == 30
    assert RULES.number("shoe_retirement", "default_retire_km") == 450
    assert RULES.number("pain_rising", "max_acceptable_score") == 5
    assert RULES["acwr"].severity == "info" and RULES["weekly_increase"].severity == "watch"


def test_broken_rules_file_reports_every_problem_at_once(tmp_path: Path):
    src = Path(risk.KNOWLEDGE_DIR)
    for path in src.glob("citations*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    data = yaml.safe_load((src / "risk_rules.yaml").read_text())
    data["session_spike"]["citations"] = ["load_nobody_1999"]
    data["weekly_increase"]["numbers"]["above_pct"] = "thirty"
    data["acwr"]["message"] = "ratio {value} and {mystery}"
    del data["returning_runner"]
    (tmp_path / "risk_rules.yaml").write_text(yaml.safe_dump(data))
    rules, errors = risk.check_rules(tmp_path)
    assert rules is None
    text = "\n".join(errors)
    assert "unknown citation 'load_nobody_1999'" in text
    assert "numbers.above_pct must be a number" in text
    assert "undeclared field(s) mystery" in text
    assert "rule returning_runner is missing" in text
    with pytest.raises(risk.RiskRulesError):
        risk.load_rules(tmp_path)


# --- session spikes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("km", "category"),
    [
        (11.0, None),
        (11.01, "small"),
        (13.0, "small"),
        (13.01, "moderate"),
        (20.0, "moderate"),
        (20.01, "large"),
    ],
)
def test_session_spike_fires_above_exactly_10_30_100_percent(km, category):
    history = [run(d(0), 10, id=1), run(d(20), km, id=2)]
    spikes = flags_of(risk.evaluate(history, d(20)), "session_spike")
    if category is None:
        assert spikes == []
    else:
        (flag,) = spikes
        assert (flag.category, flag.activity_id, flag.day, flag.threshold) == (category, 2, d(20), 10.0)
        assert flag.value == pytest.approx(100 * (km / 10 - 1))
        assert RULES["session_spike"].extra["hazard_ratios"][category] in flag.message
        assert "single runs within 11.0" in flag.message  # the longest run that stays within 10%
        assert flag.citations == ("load_frandsen_2025",)


def test_session_spike_message_gives_the_numbers():
    (flag,) = flags_of(risk.evaluate([run(d(0), 10, id=1), run(d(3), 16, id=2)], d(3)), "session_spike")
    assert flag.message.startswith(
        f"16.0 km on {d(3)} was 60% longer than your longest run of the previous 30 days (10.0 km)"
    )
    assert "moderate spike" in flag.message and "1.52 (95% CI 1.16-2.00)" in flag.message


def test_flags_outside_the_window_are_left_out():
    history = [run(d(0), 10, id=1), run(d(3), 16, id=2), run(d(20), 10, id=3)]
    assert flags_of(risk.evaluate(history, d(20)), "session_spike") == []
    assert len(flags_of(risk.evaluate(history, d(20), since=d(1)), "session_spike")) == 1


# --- returning runner -----------------------------------------------------------------------------------


def test_first_run_ever_is_flagged_as_returning_runner():
    (flag,) = risk.evaluate([run(d(0), 5, id=1)], d(0))
    assert (flag.rule, flag.category, flag.value, flag.activity_id) == (
        "returning_runner",
        "first_run",
        None,
        1,
    )
    assert "first logged run" in flag.message


def test_returning_after_31_days_but_not_after_exactly_30():
    after_gap = risk.evaluate([run(d(0), 10, id=1), run(d(31), 10, id=2)], d(31))
    (flag,) = flags_of(after_gap, "returning_runner")
    assert (flag.category, flag.value, flag.threshold) == ("after_gap", 31.0, 30.0)
    assert flags_of(after_gap, "session_spike") == []  # nothing to compare with
    within = risk.evaluate([run(d(0), 10, id=1), run(d(30), 10, id=2)], d(30))
    assert flags_of(within, "returning_runner") == []


def test_two_runs_on_the_return_day_give_one_returning_flag():
    history = [run(d(0), 10, id=1), run(d(40), 4, hour=7, id=2), run(d(40), 6, hour=18, id=3)]
    (flag,) = flags_of(risk.evaluate(history, d(40)), "returning_runner")
    assert flag.activity_id == 2


# --- weekly increase --------------------------------------------------------------------------------------


def _weeks(last7_km: float):
    # Baseline weeks of 20 km each (d0-d6, d7-d13), history from d0; the last 7 days are d14-d20.
    return [
        run(d(0), 10),
        run(d(3), 10),
        run(d(7), 10),
        run(d(10), 10),
        run(d(14), last7_km / 2),
        run(d(20), last7_km / 2),
    ]


def test_weekly_increase_above_30_percent_is_a_watch_signal_that_says_the_evidence_is_weak():
    (flag,) = flags_of(risk.evaluate(_weeks(27), d(20)), "weekly_increase")
    assert flag.severity == "watch" and flag.value == pytest.approx(35.0) and flag.threshold == 30.0
    assert flag.day == d(20)
    assert "0.96-2.66" in flag.message and "not an alarm" in flag.message
    assert "load_nielsen_2014" in flag.citations and "load_buist_2008" in flag.citations


def test_weekly_increase_of_exactly_30_percent_is_not_flagged():
    assert flags_of(risk.evaluate(_weeks(26), d(20)), "weekly_increase") == []


def test_weekly_increase_needs_history_covering_the_baseline_weeks():
    late_start = [r for r in _weeks(40) if r.local_date >= d(3)]
    assert flags_of(risk.evaluate(late_start, d(20)), "weekly_increase") == []


def test_weekly_increase_from_a_given_load_series_is_the_one_computed_from_the_runs():
    """The dashboard hands `evaluate` the day totals it read (a year of days, past `until` too); its warnings
    are those computed from the runs: the flag of an increase, none at exactly 30 %, none without baseline
    weeks in the history, and none from runs after `until`."""
    # the first day of the 7 (d14) compares with a baseline that begins on the first run's day (d-6)
    reaching_back = [run(d(-6), 10), run(d(5), 10), run(d(14), 14)]
    (flag,) = flags_of(risk.evaluate(reaching_back, d(20)), "weekly_increase")
    assert flag.value == pytest.approx(40.0)
    for history in (_weeks(27), _weeks(26), [r for r in _weeks(40) if r.local_date >= d(3)], reaching_back):
        later = [*history, run(d(21), 30), run(d(22), 30)]
        for until in (d(20), d(22)):
            series = load.daily_series(later, start=d(-300), end=d(22))
            given = risk.evaluate(later, until, daily=series)
            assert given == risk.evaluate(later, until)
    assert flags_of(risk.evaluate(_weeks(27), d(20), daily=load.daily_series(_weeks(27))), "weekly_increase")


# --- shoes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("km", "level"), [(404.9, None), (405.0, "check"), (449.9, "check"), (450.0, "replace"), (600, "replace")]
)
def test_shoe_alert_at_90_and_100_percent_of_its_threshold(km, level):
    shoe = Shoe(id=7, name="Daily", start_distance_m=km * 1000 - 10_000)
    runs = [run(d(0), 10, id=1)]
    runs = [replace(r, shoe_id=7) for r in runs]
    flags = flags_of(risk.evaluate(runs, d(0), shoes=[shoe]), "shoe_retirement")
    if level is None:
        assert flags == []
    else:
        (flag,) = flags
        assert flag.category == level and flag.value == pytest.approx(100 * km / 450)
        assert flag.threshold == (90.0 if level == "check" else 100.0)
        assert "between 500 and 800 km" in flag.message and "Rotating two pairs" in flag.message


def test_retired_shoe_raises_no_alert():
    shoe = Shoe(id=1, name="Old", start_distance_m=900_000, retired_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert flags_of(risk.evaluate([], d(0), shoes=[shoe]), "shoe_retirement") == []


# --- pain ------------------------------------------------------------------------------------------------


def pain(day, score, timing, region="hip-lateral", side="left", activity_id=None):
    return PainEntry(day, region, side, score, timing, activity_id)


def test_pain_of_5_during_that_settles_is_acceptable():
    entries = [pain(d(0), 5, "during", activity_id=1), pain(d(1), 0, "next-morning")]
    assert flags_of(risk.evaluate([], d(1), pain=entries), "pain_rising") == []


def test_pain_over_5_during_a_run_breaches_and_hip_points_to_triage():
    (flag,) = flags_of(risk.evaluate([], d(0), pain=[pain(d(0), 6, "during", activity_id=3)]), "pain_rising")
    assert (flag.category, flag.value, flag.threshold, flag.activity_id) == ("over_limit", 6, 5.0, 3)
    # The way to the hip check is the shell's (a command in the terminal, a link on the web): a detail here.
    assert flag.details["triage"] is True and "Cut your load" in flag.message
    assert "strideguard" not in flag.message and flag.title == "Pain above 5/10"
    assert flag.citations == ("load_silbernagel_2007",)


def test_calf_pain_gets_no_hip_triage_hint():
    (flag,) = risk.evaluate([], d(0), pain=[pain(d(0), 7, "after", region="calf")])
    assert flag.details["triage"] is False and "Calf (left)" in flag.message


def test_next_morning_pain_above_the_level_before_the_run_has_not_settled():
    entries = [pain(d(0), 2, "before"), pain(d(0), 4, "during"), pain(d(1), 3, "next-morning")]
    (flag,) = flags_of(risk.evaluate([], d(1), pain=entries), "pain_rising")
    assert (flag.category, flag.value, flag.threshold) == ("not_settled", 3, 2.0)
    settled = [pain(d(0), 2, "before"), pain(d(0), 4, "during"), pain(d(1), 2, "next-morning")]
    assert flags_of(risk.evaluate([], d(1), pain=settled), "pain_rising") == []
    assert f"above the 2/10 you logged before a run on {d(0).isoformat()}" in flag.message


def test_next_morning_pain_without_an_earlier_entry_says_so_instead_of_inventing_a_level():
    (flag,) = flags_of(risk.evaluate([], d(1), pain=[pain(d(1), 1, "next-morning")]), "pain_rising")
    assert flag.threshold == 0.0
    assert "with nothing logged for this area and side in the two weeks before" in flag.message
    assert "/10 you logged" not in flag.message
    (over,) = flags_of(risk.evaluate([], d(1), pain=[pain(d(1), 6, "during")]), "pain_rising")
    assert "pain reached 6/10 during a run, above" in over.message  # no stray space


def test_pain_rising_week_to_week_is_flagged_once_per_region_and_side():
    entries = [
        pain(d(0), 2, "during"),
        pain(d(3), 2, "during"),
        pain(d(7), 3, "during"),
        pain(d(10), 4, "during"),
    ]
    flags = flags_of(risk.evaluate([], d(10), since=d(0), pain=entries), "pain_rising")
    (rising,) = [f for f in flags if f.category == "rising_weekly"]
    assert (
        rising.day == d(10) and rising.value == pytest.approx(3.5) and rising.threshold == pytest.approx(2.0)
    )
    other_side = [*entries, pain(d(10), 1, "during", side="right")]
    assert (
        len(
            [
                f
                for f in risk.evaluate([], d(10), since=d(0), pain=other_side)
                if f.category == "rising_weekly"
            ]
        )
        == 1
    )


# --- plan and trend -------------------------------------------------------------------------------------


def test_plan_within_ten_percent_says_how_it_compares_and_names_the_ceiling_as_a_ceiling():
    result = risk.plan([run(d(0), 14, id=1)], 15_000, d(5))
    assert result.check.category is None and result.hazard_ratio is None
    assert "is 7% longer than your longest run" in result.message
    assert "so it stays within 10%" in result.message
    assert "Up to 15.4 km stays within 10%: a ceiling, not a target." in result.message
    assert "fine" not in result.message


def test_plan_over_the_limit_names_the_category_and_hazard_ratio():
    result = risk.plan([run(d(0), 14, id=1)], 16_000, d(5))
    assert result.check.category == "small" and result.hazard_ratio == "1.64 (95% CI 1.31-2.05)"
    assert result.to_json()["max_within_10pct_m"] == pytest.approx(15_400)


def test_plan_without_recent_runs_advises_a_gradual_start():
    result = risk.plan([run(d(0), 14, id=1)], 5_000, d(40))
    assert result.check.returning and "Start short" in result.message


def test_load_info_is_informational_and_explained():
    history = [run(d(i), 5, minutes=25, rpe=4) for i in range(28)]
    info = risk.load_info(history, d(27))
    assert info.acwr == pytest.approx(1.0)
    assert info.monotony.monotony is None  # every day alike
    assert (
        "trend only" in info.messages["acwr"]
        and "not validated injury predictors" in info.messages["fitness_fatigue"]
    )
    assert info.to_json()["acwr_7_21"] == 1.0
    assert risk.load_info([], d(0)).acwr is None


def test_flag_json_has_the_documented_keys():
    (flag,) = flags_of(risk.evaluate([run(d(0), 10, id=1), run(d(3), 16, id=2)], d(3)), "session_spike")
    data = flag.to_json()
    assert {"rule", "category", "date", "activity_id", "value", "threshold", "message", "citation"} <= set(
        data
    )
    assert data["date"] == d(3).isoformat() and data["citation"] == "load_frandsen_2025"


def test_hold_back_puts_a_recent_urgent_hip_check_first_then_pain_then_nothing():
    pain_flags = risk.evaluate([], d(1), pain=[pain(d(1), 7, "during")])
    held = risk.hold_back(pain_flags, d(2), RULES)
    assert held is not None and held.reason == "pain" and held.day == d(1)
    assert "Side of hip pain on " + d(1).isoformat() in held.message
    assert "load_silbernagel_2007" in held.citations
    triage = risk.hold_back(pain_flags, d(2), RULES, triage=(d(0), "urgent"))
    assert triage is not None and triage.reason == "triage" and "said urgent" in triage.message
    # a hip check 14 days old no longer holds back; "see a clinician" never does; old pain neither
    assert risk.hold_back([], d(14), RULES, triage=(d(0), "emergency")) is None
    assert risk.hold_back([], d(13), RULES, triage=(d(0), "emergency")) is not None
    assert risk.hold_back([], d(2), RULES, triage=(d(0), "see_clinician")) is None
    assert risk.hold_back(pain_flags, d(8), RULES) is None


def test_a_spike_just_over_10_percent_never_reads_as_10_percent():
    # 11.443 km after 10.4 km is 10.03% longer; one decimal would say "10% longer ... within 11.4 km".
    numbers = risk.spike_numbers(11_443, 10_400, 11_440, 10.03, 10)
    assert numbers == {
        "distance": "11.44 km",
        "longest": "10.40 km",
        "max_within": "11.44 km",
        "spike_pct": "10.03%",
        "comparison": "10.03% longer than",
    }
    plain = risk.spike_numbers(16_000, 10_000, 11_000, 60.0, 10)
    assert plain == {
        "distance": "16.0 km",
        "longest": "10.0 km",
        "max_within": "11.0 km",
        "spike_pct": "60%",
        "comparison": "60% longer than",
    }


def test_a_spike_in_the_first_30_days_of_the_log_says_the_comparison_may_be_short():
    history = [run(d(0), 4), run(d(2), 8.7)]
    (early,) = flags_of(risk.evaluate(history, d(2), log_start=d(0)), "session_spike")
    assert early.category == "large" and early.details["short_history"] is True
    assert f"Your log starts on {d(0).isoformat()}, fewer than 30 days before this run" in early.message
    (plain,) = flags_of(risk.evaluate(history, d(2)), "session_spike")  # log start unknown: no note
    assert "Your log starts" not in plain.message
    later = [run(d(0), 4), run(d(31), 4.2), run(d(33), 8.7)]
    (settled,) = flags_of(risk.evaluate(later, d(33), log_start=d(0)), "session_spike")
    assert "Your log starts" not in settled.message and settled.details["short_history"] is False
