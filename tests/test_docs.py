"""Every command is documented in docs/cli.md and shows an example in its --help."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from strideguard.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


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
