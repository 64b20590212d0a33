"""`strideguard settings`: how numbers are shown (kilometres or miles), stored per athlete."""

from __future__ import annotations

import json
import os

import click

from strideguard import units
from strideguard.cli.common import AppContext, console, pass_app


def _locale_name() -> str:
    for key in ("LC_ALL", "LC_MEASUREMENT", "LANG"):
        if os.environ.get(key):
            return os.environ[key]
    return "none set"


@click.command("settings")
@click.option(
    "--units",
    "unit",
    type=click.Choice(["km", "mi", "auto"], case_sensitive=False),
    help="Show distances in kilometres (km) or miles (mi); auto: as the locale measures.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def settings_command(app: AppContext, unit: str | None, as_json: bool) -> None:
    """Show or change your settings: kilometres or miles on every screen, chart and report.

    Stored values stay in metres; only what you read changes. Without a choice the locale decides
    (miles for en_US, kilometres for most others).

    \b
    Example:
      strideguard settings
      strideguard settings --units mi
      strideguard settings --units auto
    """
    from strideguard.storage import settings as store

    with app.session() as (session, athlete_id):
        if unit is not None:
            store.set_distance_unit(session, athlete_id, None if unit.lower() == "auto" else unit)
        chosen = store.stored_unit(session, athlete_id)
    locale_unit = units.default_unit()
    shown = chosen or locale_unit
    if as_json:
        click.echo(json.dumps({"distance_unit": shown, "chosen": chosen, "locale_default": locale_unit}))
        return
    source = "your choice" if chosen else f"from the locale, {_locale_name()}"
    other = "mi" if shown == "km" else "km"
    verb = "Now showing" if unit is not None else "Distances in"
    console.print(
        f"{verb} {units.UNIT_NAMES[shown]} ({source}). Change with: strideguard settings --units {other}"
    )


def register(group: click.Group) -> None:
    group.add_command(settings_command)
