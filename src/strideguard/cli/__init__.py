"""The `strideguard` command: a thin click shell over the library. Each feature registers its commands."""

from __future__ import annotations

import importlib

import click

from strideguard import __version__
from strideguard.cli.common import AppContext

# Feature modules under strideguard.cli; each defines `register(group)`.
FEATURES = (
    "activities",
    "demo",
    "imports",
    "load",
    "pain",
    "routine",
    "shoes",
    "triage",
    "web",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for _feature in FEATURES:
    importlib.import_module(f"strideguard.cli.{_feature}").register(main)
