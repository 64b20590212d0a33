"""`strideguard routine list|show|play` through the real CLI, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from strideguard.triage import routines as rt


def test_list_shows_every_routine_with_kind_and_total_time(run_cli):
    result = run_cli("routine", "list")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(lines) == {
        "copenhagen_adduction_progression",
        "hamstring_bridge_progression",
        "glute_activation",
        "hamstring_mobility",
        "hip_flexor_stretch",
        "hip_mobility_flow",
        "piriformis_foam_roll",
        "tfl_foam_roll",
        # the knee's (knowledge/knee/routines)
        "knee_hip_strength",
        "itb_hip_abductor",
        "patellar_tendon_loading",
        "thigh_foam_roll",
    }
    assert "foam rolling" in lines["piriformis_foam_roll"] and "2:15" in lines["piriformis_foam_roll"]
    assert "mobility" in lines["hip_mobility_flow"] and "4:00" in lines["hip_mobility_flow"]
    assert "strength" in lines["glute_activation"] and "2:30" in lines["glute_activation"]


def test_list_json_gives_totals_in_seconds(run_cli):
    result = run_cli("routine", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["tfl_foam_roll"]["total_duration_s"] == 135
    assert rows["hip_flexor_stretch"]["total_duration_s"] == 120
    assert "femoral_neck_stress_fracture" in rows["tfl_foam_roll"]["contraindicated_for"]


def test_show_gives_steps_contraindications_sources_and_disclaimer(run_cli):
    result = run_cli("routine", "show", "piriformis_foam_roll")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # ignore wrapping
    assert "Roll the piriformis" in out and "0:30 each side" in out
    assert "2–3 inches (5–8 cm)" in out
    assert "Do not roll over a suspected fracture" in out and "blood clot" in out
    assert "https://doi.org/10.3390/jcm10225360" in out  # Bartsch 2021, the Delphi contraindications study
    assert "StrideGuard gives guidance, not a diagnosis" in out
    assert out.index("Do not do this routine") < out.index("Sources")


def test_show_json_has_the_timeline(run_cli):
    result = run_cli("routine", "show", "hip-flexor-stretch", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == "hip_flexor_stretch"
    assert [(e["side"], e["start_s"]) for e in data["timeline"]] == [
        ("left", 0),
        ("right", 30),
        ("left", 60),
        ("right", 90),
    ]


@pytest.mark.parametrize("command", ["show", "play"])
def test_unknown_routine_is_a_one_line_error_listing_valid_names(run_cli, command):
    result = run_cli("routine", command, "yoga_flow")
    assert result.returncode == 2
    assert result.stdout == "" or "yoga_flow" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "yoga_flow" in lines[0] and "piriformis_foam_roll" in lines[0] and "hip_mobility_flow" in lines[0]
    assert "Traceback" not in result.stderr


def test_play_runs_every_step_and_side_and_never_rings_into_a_pipe(run_cli):
    result = run_cli("routine", "play", "piriformis_foam_roll", "--speed", "200", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    timeline = rt.schedule(rt.load_routines()["piriformis_foam_roll"])
    assert len(timeline) == 5
    # stdout and stderr are pipes: a bell would only be a stray control character in the output.
    assert "\a" not in out and "\a" not in result.stderr
    # The header's step count and the counter agree: a two-sided step is one step, played left then right.
    assert "3 steps (2 steps on each side in turn)" in out
    expected = [
        "[1/3] Get into position — 0:15",
        "[2/3] Roll the piriformis · left side — 0:30",
        "[2/3] Roll the piriformis · right side — 0:30",
        "[3/3] Second round, a little lighter · left side",
        "[3/3] Second round, a little lighter · right side",
        "Done: Piriformis foam roll, 2:15.",
    ]
    positions = [out.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "/5]" not in out
    # Contraindications come before the first step.
    assert out.index("Do not do this routine") < out.index("[1/3]")
    assert "StrideGuard gives guidance, not a diagnosis" in out


def test_play_takes_the_scaled_time(run_cli):
    started = time.monotonic()
    result = run_cli("routine", "play", "hip_mobility_flow", "--speed", "120", "--no-bell", timeout=60)
    wall_s = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert wall_s >= 240 / 120  # the timer really waits: 4:00 at 120x is 2 s
    assert "[5/5] Easy march" in result.stdout


def test_no_bell_is_silent(run_cli):
    result = run_cli("routine", "play", "hip_flexor_stretch", "--speed", "400", "--no-bell", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "\a" not in result.stdout
    assert "[2/2] Add an overhead reach · right side" in result.stdout


def test_speed_must_be_positive(run_cli):
    result = run_cli("routine", "play", "tfl_foam_roll", "--speed", "0")
    assert result.returncode == 2
    assert "--speed" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_keys_pause_skip_and_quit_on_a_terminal(cli_env):
    """With a terminal on stdin: Enter starts, s skips, space pauses and resumes, q quits."""
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "strideguard", "routine", "play", "glute_activation"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    os.close(slave)
    assert process.stdout is not None
    seen = b""

    def wait_for(marker: str, timeout_s: float = 20) -> None:
        nonlocal seen
        end = time.monotonic() + timeout_s
        while marker.encode() not in seen:
            assert time.monotonic() < end, f"{marker!r} never appeared in:\n{seen.decode(errors='replace')}"
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                assert chunk or process.poll() is None, seen.decode(errors="replace")
                seen += chunk

    try:
        wait_for("Press space or Enter to start")
        os.write(master, b"\n")
        wait_for("[1/3] Glute bridge")
        os.write(master, b"s")
        wait_for("[2/3] Standing wall press · left side")
        os.write(master, b" ")
        wait_for("Paused")
        os.write(master, b"n")
        wait_for("[2/3] Standing wall press · right side")
        os.write(master, b" ")
        wait_for("Resumed")
        os.write(master, b"q")
        wait_for("Stopped at step 2 of 3")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    text = seen.decode()
    assert text.count("Skipped") == 2
    assert "\a" not in text  # output and errors go to pipes: no bell characters in them
    assert "Done:" not in text


def test_show_names_conditions_in_plain_words(run_cli):
    result = run_cli("routine", "show", "tfl_foam_roll")
    assert result.returncode == 0, result.stderr
    assert "itb tfl lateral" not in result.stdout and "itb_tfl_lateral" not in result.stdout
    assert "Can help with:" in result.stdout


def test_a_stall_still_announces_every_step():
    """A busy machine or a laptop waking up can stall the player for longer than several steps: each step
    passed is still announced in order, none jumped over (the clock here leaps 10 minutes at once)."""
    import io

    from rich.console import Console

    from strideguard.cli.routine import run_player
    from strideguard.triage.routines import load_routines

    routine = load_routines()["hip_mobility_flow"]
    times = iter([0.0, 600.0])

    class NoKeys:
        def read(self, timeout_s: float) -> None:
            return None

    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=False, width=200)
    state, quit_early = run_player(
        routine, speed=1.0, bell=False, out=out, keys=NoKeys(), clock=lambda: next(times, 600.0)
    )
    assert state.done and not quit_early
    announced = [line.split("]")[0] + "]" for line in buffer.getvalue().splitlines() if line.startswith("[")]
    steps = len(routine.steps)
    numbers = [int(a[1:].split("/")[0]) for a in announced]
    assert numbers == sorted(numbers) and set(numbers) == set(range(1, steps + 1))
    assert f"[{steps}/{steps}]" in buffer.getvalue()
