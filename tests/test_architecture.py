"""The layout is the architecture (docs/architecture.md): arrows point down only, and no two files import
each other, directly or around a circle. Read from the source with `ast`, so lazy imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "strideguard"

# Each room and the rooms it may import (the ground floor, `strideguard.<module>`, is open to all).
ALLOWED: dict[str, set[str]] = {
    "activities": set(),
    "training": set(),
    "triage": set(),
    "storage": {"activities", "training", "triage"},
    "importing": {"activities", "storage"},
    "demo": {"activities", "training", "storage"},
    "cli": {"activities", "importing", "training", "triage", "storage", "demo", "web"},
    "web": {"activities", "importing", "training", "triage", "storage"},
}
GROUND = {"__init__", "__main__", "config", "model", "units", "rules"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the strideguard modules it imports (a name imported from a package counts as its module
    when such a module exists)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "versions" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("strideguard")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("strideguard"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


GRAPH = _imports()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] not in GROUND) else "ground"


def test_every_module_lives_in_a_room_or_on_the_ground_floor():
    stray = [m for m in GRAPH if _room(m) not in ALLOWED and _room(m) != "ground" and m != "strideguard"]
    assert stray == []


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_arrows_point_down_only(room: str):
    wrong = sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if _room(m) == room
        for t in targets
        if _room(t) not in ALLOWED[room] | {room, "ground"}
    )
    assert wrong == []


def test_the_ground_floor_imports_no_room():
    wrong = sorted(
        f"{m} -> {t}" for m, ts in GRAPH.items() if _room(m) == "ground" for t in ts if _room(t) != "ground"
    )
    assert wrong == [] or wrong == ["strideguard.__main__ -> strideguard.cli"]


def test_no_import_circles_between_files():
    # Tarjan-free: a depth-first search that reports the first cycle it meets, with its path.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize(
    "module",
    sorted(m for m in GRAPH if m.count(".") >= 1 and not m.endswith("__main__") and "migrations" not in m),
)
def test_every_module_imports_first_in_a_fresh_interpreter(module: str):
    # A module that only works after another was imported first hides a circle (issue: triage_interview).
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
