"""`strideguard routine list|show|play`: guided foam-rolling, stretching, mobility and strength routines.

The timing lives in `strideguard.routines` (pure); this module only draws it and reads keys.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import click
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from strideguard.cli.common import console, err_console, plural
from strideguard.triage import routines as rt

_TICK_S = 0.1  # how often the timer redraws and polls the keyboard, in real seconds

_DIGITS = {
    "0": ("███", "█ █", "█ █", "█ █", "███"),
    "1": ("  █", "  █", "  █", "  █", "  █"),
    "2": ("███", "  █", "███", "█  ", "███"),
    "3": ("███", "  █", "███", "  █", "███"),
    "4": ("█ █", "█ █", "███", "  █", "  █"),
    "5": ("███", "█  ", "███", "  █", "███"),
    "6": ("███", "█  ", "███", "█ █", "███"),
    "7": ("███", "  █", "  █", "  █", "  █"),
    "8": ("███", "█ █", "███", "█ █", "███"),
    "9": ("███", "█ █", "███", "  █", "███"),
    ":": (" ", "█", " ", "█", " "),
}


def _load() -> tuple[dict[str, rt.Routine], dict[str, rt.Citation]]:
    try:
        citations = rt.load_citations()
        return rt.load_routines(citations=citations), citations
    except rt.RoutineError as exc:
        raise click.ClickException("the routine files are invalid:\n  " + "\n  ".join(exc.problems)) from None


def _pick(name: str) -> tuple[rt.Routine, dict[str, rt.Citation]]:
    routines, citations = _load()
    try:
        return rt.find_routine(routines, name), citations
    except rt.UnknownRoutine as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def _side_label(side: str | None) -> str:
    return f"{side} side" if side else ""


def _condition_names(ids: tuple[str, ...]) -> list[str]:
    """Conditions as the hip or knee check names them ("Iliotibial band / TFL pain (outer hip and thigh)"),
    never their knowledge-file ids; an id the knowledge does not know is shown in words."""
    from strideguard.triage.knowledge import REGIONS, KnowledgeError, default_knowledge

    conditions: dict[str, object] = {}
    for region in REGIONS:  # the hip's names win for the ids both regions share
        if region != REGIONS[0] and all(c in conditions for c in ids):
            break  # every id named already: the other region's knowledge is not built for nothing
        try:
            conditions = {**default_knowledge(region).conditions, **conditions}
        except KnowledgeError:
            pass
    return [getattr(conditions.get(c), "name", None) or c.replace("_", " ") for c in ids]


@click.group("routine")
def routine_group() -> None:
    """Guided foam-rolling, stretching, mobility and strength routines with a timer.

    Each routine lists who it suits, who must not do it, and its sources.

    \b
    Example:
      strideguard routine list
      strideguard routine show piriformis_foam_roll
      strideguard routine play tfl_foam_roll
    """


@routine_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List the routines with their kind and total time.

    \b
    Example:
      strideguard routine list
      strideguard routine list --json
    """
    routines, _ = _load()
    if as_json:
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "total_duration_s": r.total_duration_s,
                "suitable_for": list(r.suitable_for),
                "contraindicated_for": list(r.contraindicated_for),
            }
            for r in routines.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Routines", title_justify="left")
    table.add_column("id", style="bold")
    table.add_column("name")
    table.add_column("kind")
    table.add_column("total time", justify="right")
    for r in routines.values():
        table.add_row(r.id, escape(r.name), r.kind.replace("_", " "), rt.format_duration(r.total_duration_s))
    console.print(table)
    console.print(
        "Details: [bold]strideguard routine show NAME[/]   Timer: [bold]strideguard routine play NAME[/]"
    )


@routine_group.command("show")
@click.argument("name")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (steps, timeline, sources) instead of text."
)
def show_command(name: str, as_json: bool) -> None:
    """Show a routine: steps, who must not do it, and its sources.

    \b
    Example:
      strideguard routine show piriformis_foam_roll
      strideguard routine show glute_activation --json
    """
    routine, citations = _pick(name)
    if as_json:
        click.echo(json.dumps(rt.routine_to_dict(routine, citations), indent=2, ensure_ascii=False))
        return
    console.print(
        f"[bold]{escape(routine.name)}[/] ({routine.id}) · {routine.kind.replace('_', ' ')} · "
        f"{rt.format_duration(routine.total_duration_s)}"
    )
    console.print(escape(routine.summary))
    console.print()
    console.print(f"[bold]You need:[/] {escape(', '.join(routine.equipment)) or 'nothing'}")
    if routine.suitable_for:
        console.print(f"[bold]Can help with:[/] {escape('; '.join(_condition_names(routine.suitable_for)))}")
    console.print()
    table = Table(show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("step", style="bold")
    table.add_column("time", justify="right")
    table.add_column("how")
    for number, step in enumerate(routine.steps, start=1):
        time_text = rt.format_duration(step.duration_s) + (" each side" if step.sides == "each" else "")
        table.add_row(str(number), escape(step.name), time_text, escape(step.instruction))
    console.print(table)
    _print_contraindications(console, routine)
    console.print("[bold]Sources[/]")
    sources = [citations[cid] for cid in routine.citations if cid in citations]
    console.print(_bullets([f"{c.text} {c.url}" for c in sources]))
    console.print(f"Reviewed {routine.date_reviewed}; next review {routine.next_review}.")
    console.print()
    console.print(f"[italic]{escape(rt.DISCLAIMER)}[/]")


def _bullets(lines: list[str]) -> Table:
    """A list with hanging indents, so wrapped lines stay under their bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", width=3)
    grid.add_column()
    for line in lines:
        grid.add_row("•", Text(line))
    return grid


def _print_contraindications(out: Console, routine: rt.Routine) -> None:
    out.print("[bold red]Do not do this routine, or stop, if:[/]")
    out.print(_bullets(list(routine.contraindications)))
    out.print()


# --- play ---------------------------------------------------------------------------------------------------


class KeyReader(Protocol):
    def read(self, timeout_s: float) -> str | None: ...


class _NoKeys:
    """stdin is not a terminal: no keys, just wait."""

    def read(self, timeout_s: float) -> str | None:
        time.sleep(max(0.0, timeout_s))
        return None


@contextmanager
def _keys() -> Iterator[KeyReader]:
    """Single keypresses without Enter when stdin is a terminal; otherwise a reader that only waits."""
    if not sys.stdin.isatty():
        yield _NoKeys()
        return
    try:
        import select
        import termios
        import tty
    except ImportError:  # Windows
        yield _WindowsKeys()
        return
    fd = sys.stdin.fileno()
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield _NoKeys()
        return

    class _PosixKeys:
        def read(self, timeout_s: float) -> str | None:
            ready, _, _ = select.select([fd], [], [], max(0.0, timeout_s))
            if not ready:
                return None
            data = os.read(fd, 32)
            return data.decode(errors="ignore")[:1] or None

    try:
        tty.setcbreak(fd)
        yield _PosixKeys()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _WindowsKeys:
    def read(self, timeout_s: float) -> str | None:
        import msvcrt

        end = time.monotonic() + max(0.0, timeout_s)
        while True:
            if msvcrt.kbhit():  # type: ignore[attr-defined]
                return str(msvcrt.getwch())  # type: ignore[attr-defined]
            if time.monotonic() >= end:
                return None
            time.sleep(0.02)


def _big(text: str) -> Text:
    rows = [" ".join(_DIGITS[ch][row] for ch in text if ch in _DIGITS) for row in range(5)]
    return Text("\n".join(rows), style="bold cyan")


def _countdown(seconds: float) -> str:
    whole = max(0, math.ceil(seconds - 1e-9))
    return f"{whole // 60}:{whole % 60:02d}"


def _render(routine: rt.Routine, state: rt.PlayerState) -> Panel:
    step = state.current
    if step is None:
        return Panel(Text("Done. Well done!", style="bold green"), title=routine.name)
    count = len(routine.steps)  # counted as the header counts them: a two-sided step is one step
    heading = Text(step.name, style="bold")
    if step.side:
        heading.append(f"  ·  {step.side.upper()} side", style="bold magenta")
    if state.paused:
        heading.append("  ·  PAUSED", style="bold yellow")
    body = Group(
        heading,
        Text(""),
        _big(_countdown(state.remaining_s)),
        Text(""),
        _bar(state.step_progress, "cyan", f"{_countdown(state.remaining_s)} left"),
        Text(""),
        Text(step.instruction),
        Text(""),
        _bar(
            state.progress,
            "green",
            f"{rt.format_duration(state.elapsed_s)} / {rt.format_duration(state.total_s)} total",
        ),
        Text("space pause/resume · s skip · q quit", style="dim"),
    )
    return Panel(body, title=f"{routine.name} — step {step.step_index + 1} of {count}", title_align="left")


def _bar(fraction: float, colour: str, label: str) -> Table:
    row = Table.grid(padding=(0, 2))
    row.add_row(ProgressBar(total=1.0, completed=fraction, width=50, complete_style=colour), Text(label))
    return row


def _entry_line(state: rt.PlayerState, steps: int) -> str:
    """'[2/3] Pigeon stretch · left side — 1:00': step 2 of the routine's 3 (each side is the same step)."""
    step = state.current
    assert step is not None
    side = f" · {_side_label(step.side)}" if step.side else ""
    return (
        f"[{step.step_index + 1}/{steps}] {step.name}{side}"
        f" — {rt.format_duration(step.duration_s)}\n"
        f"    {step.instruction}"
    )


def run_player(
    routine: rt.Routine,
    *,
    speed: float,
    bell: bool,
    out: Console,
    keys: KeyReader,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[rt.PlayerState, bool]:
    """Play `routine` to the end or until q; returns (final state, quit early?).

    Time runs `speed` times faster than the clock.
    """
    state = rt.PlayerState.start(routine)
    live_mode = out.is_terminal
    live: Live | None = None

    def ring() -> None:
        # Only a terminal rings: in a pipe or a log file the bell is a stray control character.
        if not bell:
            return
        if live_mode:
            out.bell()
        elif err_console.is_terminal:  # output piped (`| tee log`), but the runner still sits at a terminal
            err_console.bell()

    def say(text: str) -> None:
        if not live_mode:
            out.print(text, markup=False, highlight=False, soft_wrap=True)

    def announce(events: tuple[str, ...]) -> None:
        for event in events:
            ring()
            if event == "switch" and state.current is not None:
                say(_entry_line(state, len(routine.steps)))

    if live_mode:
        live = Live(_render(routine, state), console=out, auto_refresh=False, transient=False)
        live.start()
    say(_entry_line(state, len(routine.steps)))
    quit_early = False
    last = clock()
    try:
        while not state.done:
            wait_real_s = _TICK_S if state.paused else min(_TICK_S, state.remaining_s / speed)
            key = keys.read(max(0.001, wait_real_s))
            now = clock()
            # Time is handed over one step at a time, so a step passed during a stall (a busy machine, a
            # laptop waking up) is still announced, not jumped over in one tick.
            elapsed, last = (now - last) * speed, now
            while True:
                chunk = elapsed if state.paused or state.remaining_s <= 0 else min(elapsed, state.remaining_s)
                state, passed = state.tick(chunk)
                elapsed -= chunk
                if elapsed <= 1e-9 or state.done or chunk <= 0:
                    break
                announce(passed)
            events = passed
            if key is not None and not state.done:
                if key.lower() == "q":
                    quit_early = True
                    break
                if key == " ":
                    state = state.toggle_pause()
                    say("Paused (space to resume)" if state.paused else "Resumed")
                elif key.lower() in ("s", "n"):
                    say("Skipped")
                    state, more = state.skip()
                    events += more
            announce(events)
            if live is not None:
                live.update(_render(routine, state), refresh=True)
    finally:
        if live is not None:
            live.stop()
    return state, quit_early


@routine_group.command("play")
@click.argument("name")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True, max=10000),
    default=1.0,
    show_default=True,
    help="Run the clock this many times faster (for trying a routine out, or for tests).",
)
@click.option("--no-bell", is_flag=True, help="No terminal bell at each step or side switch.")
def play_command(name: str, speed: float, no_bell: bool) -> None:
    """Play a routine with a live timer: step, side, countdown and progress.

    Rings the terminal bell at each step or side switch and at the end (only on a terminal, never into a
    pipe or file). On a terminal it first waits: press space or Enter to start, q to quit. Keys while it
    plays: space pauses or resumes, s (or n) skips to the next step or side, q quits. Without a terminal on
    stdin it simply runs to the end.

    \b
    Example:
      strideguard routine play piriformis_foam_roll
      strideguard routine play hip_mobility_flow --speed 2 --no-bell
    """
    routine, _ = _pick(name)
    two_sided = sum(1 for step in routine.steps if step.sides == "each")
    sides = f" ({plural(two_sided, 'step')} on each side in turn)" if two_sided else ""
    console.print(
        f"[bold]{escape(routine.name)}[/] · {plural(len(routine.steps), 'step')}{sides} · "
        f"{rt.format_duration(routine.total_duration_s)}"
        + (f" (playing at {speed:g}× speed)" if speed != 1 else "")
    )
    _print_contraindications(console, routine)
    with _keys() as keys:
        if sys.stdin.isatty():
            console.print("Press [bold]space[/] or [bold]Enter[/] to start, [bold]q[/] to quit.")
            while (key := keys.read(3600)) not in (" ", "\n", "\r"):
                if key is not None and key.lower() == "q":
                    console.print("Not started.")
                    return
        try:
            state, quit_early = run_player(routine, speed=speed, bell=not no_bell, out=console, keys=keys)
        except KeyboardInterrupt:
            console.print("Stopped.")
            sys.exit(130)
    if quit_early:
        step = state.current
        where = f"step {step.step_index + 1} of {len(routine.steps)}" if step else "the end"
        console.print(
            f"Stopped at {where} "
            f"({rt.format_duration(state.elapsed_s)} of {rt.format_duration(state.total_s)})."
        )
        return
    console.print(f"[bold green]Done:[/] {escape(routine.name)}, {rt.format_duration(state.total_s)}.")
    console.print(f"[italic]{escape(rt.DISCLAIMER)}[/]")


def register(group: click.Group) -> None:
    group.add_command(routine_group)
