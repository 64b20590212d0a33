"""What an import did: one `SourceSummary` per source (the loose files of a command, or one archive), over all
runs of a resumed import, and the `ImportSummary` of a whole `import` command. Shared by the service and the
saving of import records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SourceSummary:
    """What one import (the loose files of a command, or one archive) did, over all its runs."""

    source: str
    kind: str
    import_id: int | None = None
    status: str = "finished"  # finished | refused
    refused: str | None = None
    imported: int = 0
    manual: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_by_sport: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)
    resumed_items: int = 0  # items finished by an earlier, interrupted run and not redone
    items_total: int = 0
    n_duplicates: int = 0
    n_skipped: int = 0
    n_failed: int = 0
    shoes_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    earlier: dict[str, int] = field(default_factory=dict)  # counts of earlier runs of a resumed import

    def counts(self) -> dict[str, int]:
        """imported, duplicates, skipped and failed over all runs of this import."""
        return {
            "imported": self.imported,
            "duplicates": self.n_duplicates,
            "skipped": self.n_skipped,
            "failed": self.n_failed + (1 if self.refused else 0),
        }

    def this_run(self) -> dict[str, int]:
        """What this run did: the counts minus those of earlier runs (a resumed import)."""
        return {k: max(0, v - self.earlier.get(k, 0)) for k, v in self.counts().items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "refused": self.refused,
            "imported": self.imported,
            "manual": self.manual,
            "duplicates": self.n_duplicates,
            "skipped": self.n_skipped,
            "skipped_by_sport": dict(sorted(self.skipped_by_sport.items())),
            "failed": self.n_failed,
            "items": self.items_total,
            "resumed_items": self.resumed_items,
            "duplicate_list": [{"file": f, "duplicate_of": d} for f, d in self.duplicates],
            "skipped_list": [{"file": f, "reason": r} for f, r in self.skipped],
            "failed_list": [{"file": f, "reason": r} for f, r in self.failed],
            "damaged_list": [{"file": f, "reason": r} for f, r in self.damaged],
            "shoes_created": self.shoes_created,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 3),
            "this_run": self.this_run(),  # the counts above are over all runs of a resumed import
        }


@dataclass(slots=True)
class ImportSummary:
    """All sources of one `import` command."""

    sources: list[SourceSummary] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(s.imported for s in self.sources)

    @property
    def n_failed(self) -> int:
        return sum(s.n_failed + (1 if s.refused else 0) for s in self.sources)

    @property
    def ok(self) -> bool:
        return self.n_failed == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": sum(s.n_duplicates for s in self.sources),
            "skipped": sum(s.n_skipped for s in self.sources),
            "failed": self.n_failed,
            "this_run": {
                key: sum(s.this_run()[key] for s in self.sources)
                for key in ("imported", "duplicates", "skipped", "failed")
            },
            "sources": [s.to_json() for s in self.sources],
        }
