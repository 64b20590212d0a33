"""The `strideguard` program: `python -m strideguard` and the installed console script both start here."""

import gc


def run() -> None:
    """Run the CLI as a program.

    Starting a command creates over 100,000 objects that live until the process ends (SQLAlchemy, click,
    rich, the command's modules). The cyclic garbage collector would walk them again and again while they
    are imported, and once more at exit, for nothing: about a sixth of a short command's CPU time. So it is
    off while they are imported, then they are frozen out of its sight (`gc.freeze`), and it is on again
    while the command runs."""
    gc.disable()
    from strideguard.cli import main

    main.freeze_imports = True
    try:
        main(prog_name="strideguard")
    finally:
        gc.enable()


if __name__ == "__main__":
    run()
