"""Every command is documented in docs/cli.md and shows an example in its --help."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from strideguard.cli import main

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "cli.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


main.load_all()  # commands register lazily (see strideguard.cli.LazyGroup)
COMMANDS = _commands(main)


def test_there_are_commands():
    assert ("runs",) in COMMANDS and ("db", "upgrade") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_is_documented(path):
    headings = set(re.findall(r"^#+ `?strideguard ([a-z0-9 -]+?)`?\s*$", DOCS.read_text(), re.MULTILINE))
    assert " ".join(path) in headings, f"docs/cli.md has no heading for `strideguard {' '.join(path)}`"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_has_an_example(path, flag):
    result = CliRunner().invoke(main, [*path, flag])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_the_readme_test_command_is_the_parallel_one_and_ci_runs_the_same():
    # The serial `pytest` took ~10 minutes on 2 cores; `-n auto` ~3.5.
    readme = (REPO / "README.md").read_text()
    block = readme.split("Run the tests", 1)[1].split("```", 2)[1]
    command = block.strip().splitlines()[-1]
    assert command == "pip install -e '.[test]' && pytest -n auto"
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]' && pytest -n auto\n" in ci
    assert re.search(r'pytest -n auto -m "db and not browser"', ci)
    assert not re.search(r"pytest -n 2\b", ci)
