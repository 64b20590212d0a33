"""The `strideguard` command: a thin click shell over the library. Each feature registers its commands.

Feature modules are imported only when one of their commands runs (or for the full --help), so
`strideguard --version` and a simple command do not pay for charts, the web server or numpy-heavy code.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from strideguard import __version__
from strideguard.cli.common import EXIT_INTERRUPTED, AppContext

# Feature modules under strideguard.cli; each defines `register(group)`.
FEATURES = (
    "activities",
    "demo",
    "imports",
    "load",
    "owndata",
    "pain",
    "routine",
    "settings",
    "shoes",
    "status",
    "triage",
    "users",
    "web",
    "worker",
)

# Which feature module defines each top-level command (tests/test_cli_startup.py checks it is complete).
COMMAND_MODULES = {
    "runs": "activities",
    "weeks": "activities",
    "add-run": "activities",
    "db": "activities",
    "demo": "demo",
    "import": "imports",
    "imports": "imports",
    "risk": "load",
    "plan": "load",
    "rate": "load",
    "status": "status",
    "report": "load",
    "pain": "pain",
    "routine": "routine",
    "settings": "settings",
    "shoes": "shoes",
    "triage": "triage",
    "serve": "web",
    "users": "users",
    "worker": "worker",
    "export": "owndata",
    "backup": "owndata",
    "restore": "owndata",
}


class LazyGroup(click.Group):
    """Registers a feature module's commands the first time one of them is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        # Set by strideguard.__main__.run, the program's own start (never by tests that call `main`).
        self.freeze_imports = False

    def load_feature(self, feature: str) -> None:
        if feature not in self._loaded:
            self._loaded.add(feature)
            importlib.import_module(f"strideguard.cli.{feature}").register(self)

    def load_all(self) -> None:
        for feature in FEATURES:
            self.load_feature(feature)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        feature = COMMAND_MODULES.get(cmd_name)
        if feature is not None:
            self.load_feature(feature)
        if cmd_name not in self.commands:
            self.load_all()  # a command missing from the map still works, only slower
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        found = super().resolve_command(ctx, args)
        if self.freeze_imports:
            # What was imported so far lives until the process ends: keep the cyclic garbage collector off
            # it, while the command runs and at exit (strideguard.__main__.run says why).
            self.freeze_imports = False
            gc.freeze()
            gc.enable()
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Ctrl+C anywhere: one line and the shell's usual 130, no traceback
            click.echo("\nInterrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="STRIDEGUARD_DATABASE_URL",
    help="SQLAlchemy database URL (default: SQLite in your user data folder).",
)
@click.version_option(__version__, prog_name="strideguard")
@click.pass_context
def main(ctx: click.Context, db_url: str | None) -> None:
    """StrideGuard: an injury-aware training log for runners.

    Guidance, not diagnosis: see a clinician for pain that worries you.

    \b
    Example:
      strideguard demo
      strideguard import ~/Downloads/export_12345.zip
      strideguard runs --since 2026-01-01
    """
    ctx.obj = AppContext(db_url)
