"""`python -m strideguard` runs the CLI."""

from strideguard.cli import main

main(prog_name="strideguard")
