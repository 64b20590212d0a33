"""The triage knowledge loaders: `load_knowledge()`, `check_knowledge()`, `default_knowledge()` over the
YAML in `triage/knowledge/` (shared findings, citations and routines at the top; one folder per body
region). The dataclasses they return: knowledge_model.py.

Knowledge is data: adding a condition is a YAML change plus a test case. `load_knowledge()` returns a frozen
`KnowledgeBase` or raises `KnowledgeError` listing *all* problems (unknown finding ids, missing or unknown
citations, bad values, missing `date_reviewed`/`next_review`, duplicate citation ids across the merged
`citations*.yaml` files). The per-file checks live in `knowledge_validate.py`. Pure: reads files, touches no
database.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from strideguard.triage.knowledge_model import REGION, REGIONS, KnowledgeBase, KnowledgeError
from strideguard.triage.knowledge_validate import build_knowledge

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"


__all__ = ["REGION", "REGIONS", "check_knowledge", "default_knowledge", "load_knowledge"]


def check_knowledge(
    directory: Path | None = None, today: date | None = None, region: str = REGION
) -> tuple[KnowledgeBase | None, list[str]]:
    """Load `region` from `directory` (default: the packaged knowledge): (kb or None, every error found)."""
    today = today or date.today()  # noqa: DTZ011 - review dates are calendar dates
    return build_knowledge(Path(directory or KNOWLEDGE_DIR), today, region)


def load_knowledge(directory: Path | None = None, region: str = REGION) -> KnowledgeBase:
    """The validated knowledge base of `region`; raises `KnowledgeError` listing every problem."""
    kb, errors = check_knowledge(directory, region=region)
    if kb is None:
        raise KnowledgeError(errors)
    return kb


@functools.cache
def default_knowledge(region: str = REGION) -> KnowledgeBase:
    """The packaged knowledge of `region` (hip by default), loaded once per process."""
    return load_knowledge(KNOWLEDGE_DIR, region)
