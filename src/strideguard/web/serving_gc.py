"""The cyclic garbage collector's settings in a server process (issue 13).

With Python's default thresholds (700, 10, 10) a busy club server ran a young collection about 45 times a
second. A request lives a few hundred milliseconds under load, so the rows, dataclasses and template
objects of the requests in flight survived two young collections and were promoted to the oldest
generation, which then filled by a quarter every two seconds and was walked whole: 170,000 objects, about
100 ms with Python's lock held, every request in the process stopped (12 times in 25 s, the club with every
view after an edit). Almost all of those objects are freed by reference counting a moment later; the
collector only exists for reference cycles, which a request rarely makes.

So a server process collects the young generation every YOUNG_THRESHOLD new objects instead of 700: most
of a request's objects are gone before a collection sees them, and the old generation is hardly ever
walked (not once in a 20 s phase). The objects alive once the app is built (routes, templates,
SQLAlchemy's tables) live until the process ends and are frozen out of the collector's sight.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # Python's default is 700
MIDDLE_THRESHOLD = 50  # young collections per middle one (default 10)
OLD_THRESHOLD = 100  # middle collections per full one (default 10; Python also waits for 25 % growth)


def tune_for_serving() -> None:
    """Call once in each server process after its app is built."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
